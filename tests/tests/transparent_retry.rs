//! Transparent retries, with no service config: calls the server never processed are sent
//! again. The servers are written with h2 directly, to refuse a stream (RST_STREAM
//! REFUSED_STREAM) or to answer a call's stream with a GOAWAY below it, which no gRPC
//! server does on demand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::HeaderMap;
use rgrpc_tests::hello::HelloResponse;
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use support::raw::frame;
use support::{bounded, greeting};

/// Serves each connection with h2: the streams for which `refuse` (given the stream's
/// number over all connections, from 0) says so are refused with REFUSED_STREAM, the
/// others get a gRPC answer "stream N". Counts the streams in `streams`.
async fn serve_h2(tcp: TcpStream, streams: Arc<AtomicUsize>, refuse: fn(usize) -> bool) {
    let Ok(mut connection) = h2::server::handshake(tcp).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = connection.accept().await {
        let n = streams.fetch_add(1, Ordering::SeqCst);
        if refuse(n) {
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            continue;
        }
        tokio::spawn(async move {
            let mut body = request.into_body();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
            }
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .unwrap();
            let mut send = respond.send_response(response, false).unwrap();
            let message = HelloResponse {
                reply: format!("stream {n}"),
            };
            send.send_data(Bytes::from(frame(&message)), false).unwrap();
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", "0".parse().unwrap());
            send.send_trailers(trailers).unwrap();
        });
    }
}

async fn client_of(listener: &TcpListener) -> (HelloServiceClient, rgrpc::Channel) {
    let addr = listener.local_addr().unwrap();
    let channel = rgrpc::Channel::lazy(format!("http://{addr}")).unwrap();
    (HelloServiceClient::new(channel.clone()), channel)
}

#[tokio::test]
async fn a_refused_stream_is_sent_again_without_any_policy() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (client, channel) = client_of(&listener).await;
    let streams = Arc::new(AtomicUsize::new(0));
    let counted = streams.clone();
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(serve_h2(tcp, counted.clone(), |n| n == 0));
        }
    });
    let response = bounded("call", client.say_hello(greeting("a")))
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, "stream 1");
    assert_eq!(streams.load(Ordering::SeqCst), 2);
    let stats = channel.stats();
    assert_eq!(
        (stats.attempts, stats.transparent_retries),
        (2, 1),
        "{stats:?}"
    );
    server.abort();
}

#[tokio::test]
async fn a_stream_refused_twice_in_a_row_fails_with_unavailable() {
    // A6: a call that reached the server's HTTP/2 layer is retried transparently once.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (client, channel) = client_of(&listener).await;
    let streams = Arc::new(AtomicUsize::new(0));
    let counted = streams.clone();
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(serve_h2(tcp, counted.clone(), |_| true));
        }
    });
    let status = bounded("call", client.say_hello(greeting("a")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), rgrpc::Code::Unavailable, "{status:?}");
    assert_eq!(streams.load(Ordering::SeqCst), 2);
    assert_eq!(channel.stats().transparent_retries, 1);
    server.abort();
}

/// Speaks just enough HTTP/2 on `tcp` to read the first request's HEADERS, answers with
/// a GOAWAY whose last-stream-id is below that stream (NO_ERROR), and reads until the
/// client closes. Returns the refused stream's id.
async fn go_away_below_the_first_stream(mut tcp: TcpStream) -> u32 {
    let mut preface = [0; 24];
    tcp.read_exact(&mut preface).await.unwrap();
    // An empty SETTINGS frame.
    tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let stream = loop {
        let mut header = [0; 9];
        tcp.read_exact(&mut header).await.unwrap();
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0; length];
        tcp.read_exact(&mut payload).await.unwrap();
        let (kind, flags) = (header[3], header[4]);
        let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & !(1 << 31);
        match kind {
            // The client's SETTINGS: acknowledged.
            4 if flags & 1 == 0 => tcp.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).await.unwrap(),
            1 => break stream,
            _ => {}
        }
    };
    let last = stream.saturating_sub(2).to_be_bytes();
    let mut go_away = vec![0, 0, 8, 7, 0, 0, 0, 0, 0];
    go_away.extend_from_slice(&last);
    go_away.extend_from_slice(&[0, 0, 0, 0]);
    tcp.write_all(&go_away).await.unwrap();
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest).await;
    stream
}

#[tokio::test]
async fn a_goaway_below_the_calls_stream_sends_it_again_on_a_new_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (client, channel) = client_of(&listener).await;
    let streams = Arc::new(AtomicUsize::new(0));
    let counted = streams.clone();
    let (refused_tx, refused) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(async move {
        let (first, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let _ = refused_tx.send(go_away_below_the_first_stream(first).await);
        });
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(serve_h2(tcp, counted.clone(), |_| false));
        }
    });
    let response = bounded("call", client.say_hello(greeting("a")))
        .await
        .unwrap();
    assert_eq!(
        response.into_inner().reply,
        "stream 0",
        "answered on the second connection"
    );
    assert_eq!(bounded("the GOAWAY", refused).await.unwrap(), 1);
    assert_eq!(streams.load(Ordering::SeqCst), 1);
    assert!(
        channel.stats().transparent_retries >= 1,
        "{:?}",
        channel.stats()
    );
    server.abort();
}

#[tokio::test]
async fn a_call_waiting_for_ready_retries_until_the_server_comes_up() {
    // The port is taken now and served later: until then connections are refused.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let channel = rgrpc::Channel::lazy(format!("http://{addr}")).unwrap();
    let client = HelloServiceClient::new(channel.clone());
    let without = bounded("a call that does not wait", client.say_hello(greeting("a")))
        .await
        .unwrap_err();
    assert_eq!(without.code(), rgrpc::Code::Unavailable, "{without:?}");
    let waiting = tokio::spawn(
        client
            .say_hello(greeting("b"))
            .wait_for_ready(true)
            .timeout(support::LIMIT)
            .into_future(),
    );
    // Let the waiting call meet a refused connection at least once.
    bounded("a refused attempt", async {
        while channel.stats().transparent_retries == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    let listener = TcpListener::bind(addr).await.unwrap();
    let streams = Arc::new(AtomicUsize::new(0));
    let counted = streams.clone();
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tokio::spawn(serve_h2(tcp, counted.clone(), |_| false));
        }
    });
    let response = bounded("the waiting call", waiting).await.unwrap().unwrap();
    assert_eq!(response.into_inner().reply, "stream 0");
    server.abort();
}
