//! The server's HTTP/2 limits and keep-alive, and the client's keep-alive: each setting is
//! what the server advertises, and does what it says — calls past the stream limit wait
//! instead of failing, oversized metadata is refused before a handler runs, and a peer
//! that stops answering pings is disconnected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::{Channel, Context, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{LIMIT, Running, bounded, greeting, reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Barrier;

/// Counts calls in its handler, and how many were there at once.
#[derive(Clone, Default)]
struct Counter {
    entered: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    /// When set, each call waits here until all its parties have arrived.
    barrier: Option<Arc<Barrier>>,
}

impl HelloService for Counter {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        match &self.barrier {
            Some(barrier) => {
                tokio::time::timeout(LIMIT, barrier.wait())
                    .await
                    .map_err(|_| Status::deadline_exceeded("the other calls never came"))?;
            }
            // Long enough for the queued calls to pile up behind this one.
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(reply(request.greeting))
    }
}

async fn serve(server: rgrpc::Server, counter: &Counter) -> Running {
    Running::serve(server.add_service(HelloServiceServer::new(counter.clone()))).await
}

/// `calls` unary calls at once on one client (one connection); their replies in order.
async fn side_by_side(client: &HelloServiceClient, calls: usize) -> Vec<Result<String, Status>> {
    let calls = (0..calls).map(|i| {
        let client = client.clone();
        tokio::spawn(async move {
            let response = client.say_hello(greeting(i.to_string())).await?;
            Ok(response.into_inner().reply)
        })
    });
    let mut replies = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        replies.push(bounded("a concurrent call", call).await.unwrap());
    }
    replies
}

#[tokio::test]
async fn the_server_advertises_its_limits() {
    let defaults = serve(rgrpc::Server::builder(), &Counter::default()).await;
    let (_, settings) = raw_http2(defaults.addr).await;
    assert_eq!(setting(&settings, MAX_CONCURRENT_STREAMS), Some(200));
    assert_eq!(setting(&settings, MAX_HEADER_LIST_SIZE), Some(16 * 1024));

    let configured = rgrpc::Server::builder()
        .max_concurrent_streams(7)
        .max_header_list_size(4096);
    let configured = serve(configured, &Counter::default()).await;
    let (_, settings) = raw_http2(configured.addr).await;
    assert_eq!(setting(&settings, MAX_CONCURRENT_STREAMS), Some(7));
    assert_eq!(setting(&settings, MAX_HEADER_LIST_SIZE), Some(4096));
}

#[tokio::test]
async fn calls_past_the_stream_limit_wait_their_turn_and_all_succeed() {
    let counter = Counter::default();
    let server = serve(rgrpc::Server::builder().max_concurrent_streams(2), &counter).await;
    let client = server.client().await;
    // One call first, so the client has the server's SETTINGS (see the README's note on
    // limits below 100: a burst on a brand-new connection can be refused).
    bounded("a first call", client.say_hello(greeting("first")))
        .await
        .unwrap();

    let replies = side_by_side(&client, 10).await;
    let expected: Vec<Result<String, Status>> = (0..10).map(|i| Ok(i.to_string())).collect();
    assert_eq!(format!("{replies:?}"), format!("{expected:?}"));
    assert_eq!(counter.entered.load(Ordering::SeqCst), 11);
    let most = counter.most_in_flight.load(Ordering::SeqCst);
    assert!(
        most <= 2,
        "{most} calls ran at once on a connection limited to 2"
    );
}

#[tokio::test]
async fn a_burst_on_a_brand_new_connection_queues_at_a_limit_of_100() {
    // No call first: the burst races the server's SETTINGS, and still nothing fails,
    // because the client assumes 100 streams until it learns the limit.
    let counter = Counter::default();
    let server = serve(
        rgrpc::Server::builder().max_concurrent_streams(100),
        &counter,
    )
    .await;
    let client = server.client().await;

    let replies = side_by_side(&client, 150).await;
    let failed: Vec<_> = replies.iter().filter(|reply| reply.is_err()).collect();
    assert!(
        failed.is_empty(),
        "{} calls failed: {failed:?}",
        failed.len()
    );
    assert_eq!(counter.entered.load(Ordering::SeqCst), 150);
    let most = counter.most_in_flight.load(Ordering::SeqCst);
    assert!(
        most <= 100,
        "{most} calls ran at once on a connection limited to 100"
    );
}

#[tokio::test]
async fn under_the_default_stream_limit_ten_calls_run_at_once() {
    // Each call waits for all ten to be in the handler at the same time: this only
    // finishes if the default limit lets ten streams open on one connection.
    let counter = Counter {
        barrier: Some(Arc::new(Barrier::new(10))),
        ..Counter::default()
    };
    let server = serve(rgrpc::Server::builder(), &counter).await;
    let client = server.client().await;
    let replies = side_by_side(&client, 10).await;
    assert!(replies.iter().all(Result::is_ok), "{replies:?}");
    assert_eq!(counter.most_in_flight.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn metadata_over_the_header_limit_is_refused_before_the_handler() {
    let counter = Counter::default();
    let limited = serve(
        rgrpc::Server::builder().max_header_list_size(2048),
        &counter,
    )
    .await;
    let mut big = MetadataMap::new();
    big.insert("x-big", MetadataValue::try_from("b".repeat(4096)).unwrap());

    let client = limited.client().await;
    let status = bounded(
        "an oversized call",
        client.say_hello(greeting("big")).metadata(big.clone()),
    )
    .await
    .expect_err("metadata over the limit was accepted");
    // h2 answers an over-limit header block with HTTP 431, which gRPC reads as UNKNOWN.
    assert_eq!(status.code(), rgrpc::Code::Unknown, "{status:?}");
    assert!(status.message().contains("431"), "{status:?}");
    assert_eq!(counter.entered.load(Ordering::SeqCst), 0, "a handler ran");

    // Metadata within the limit is served, on a new connection and on the same one.
    let small = bounded("a new connection", limited.client()).await;
    let response = bounded("a small call", small.say_hello(greeting("small"))).await;
    assert_eq!(response.unwrap().into_inner().reply, "small");
    let response = bounded("the same connection", client.say_hello(greeting("again"))).await;
    assert_eq!(response.unwrap().into_inner().reply, "again");

    // The same metadata passes the default limit: the refusal was the setting's doing.
    let default_limit = serve(rgrpc::Server::builder(), &counter).await;
    let client = default_limit.client().await;
    let response = bounded(
        "a 4 KiB header",
        client.say_hello(greeting("big")).metadata(big),
    )
    .await;
    assert_eq!(response.unwrap().into_inner().reply, "big");
}

#[tokio::test]
async fn the_server_drops_a_client_that_stops_answering_pings() {
    let pinging = rgrpc::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_millis(200)))
        .http2_keepalive_timeout(Duration::from_millis(200));
    let pinging = serve(pinging, &Counter::default()).await;
    // A client that opens HTTP/2, then never writes again: pings go unanswered.
    let (mut silent, _) = raw_http2(pinging.addr).await;
    let closed = bounded("the server closing the connection", drain(&mut silent)).await;
    assert!(closed, "the connection should end");

    // With the defaults (a ping after 2 hours), the same client stays connected.
    let patient = serve(rgrpc::Server::builder(), &Counter::default()).await;
    let (mut silent, _) = raw_http2(patient.addr).await;
    let waited = tokio::time::timeout(Duration::from_secs(1), drain(&mut silent)).await;
    assert!(
        waited.is_err(),
        "the default server closed a quiet connection"
    );
}

#[tokio::test]
async fn client_keepalive_fails_calls_to_a_server_that_stopped_answering() {
    let (addr, mute) = mute_server().await;
    let channel = Channel::builder(format!("http://{addr}"))
        .keepalive_interval(Duration::from_millis(200))
        .keepalive_timeout(Duration::from_millis(200))
        .connect();
    let client = HelloServiceClient::new(bounded("connect", channel).await.unwrap());
    // No deadline: only the keep-alive can end this call.
    let status = bounded(
        "a call to a mute server",
        client.say_hello(greeting("hello?")),
    )
    .await
    .expect_err("a mute server answered");
    assert_ne!(status.code(), rgrpc::Code::Ok);
    mute.abort();
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn tcp_keepalive_is_on_by_default_and_off_when_asked() {
    let with = serve(
        rgrpc::Server::builder().tcp_keepalive(Some(Duration::from_secs(60))),
        &Counter::default(),
    )
    .await;
    let by_default = serve(rgrpc::Server::builder(), &Counter::default()).await;
    let without = serve(
        rgrpc::Server::builder().tcp_keepalive(None),
        &Counter::default(),
    )
    .await;
    // Once the server's SETTINGS arrive, the server has accepted and set up the socket. Its
    // timer shows the keep-alive once nothing it sent awaits an acknowledgement (until
    // then the retransmission timer shows instead): wait for that, bounded.
    for server in [&with, &by_default] {
        let (client, _) = raw_http2(server.addr).await;
        bounded("the keep-alive timer on the server's socket", async {
            while server_socket_timer(server.addr, &client) != KEEPALIVE_TIMER {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
    }
    // Without the setting, once nothing awaits an acknowledgement, no timer runs.
    let (client, _) = raw_http2(without.addr).await;
    let timer = bounded("the server's socket to settle", async {
        loop {
            let timer = server_socket_timer(without.addr, &client);
            if timer != RETRANSMIT_TIMER {
                return timer;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_ne!(timer, KEEPALIVE_TIMER);
}

/// `/proc/net/tcp`'s code for a socket whose keep-alive timer is running.
#[cfg(target_os = "linux")]
const KEEPALIVE_TIMER: &str = "02";
/// `/proc/net/tcp`'s code for a socket with data sent and not yet acknowledged.
#[cfg(target_os = "linux")]
const RETRANSMIT_TIMER: &str = "01";

/// The active timer (`/proc/net/tcp`'s `tr` column) of the server's end of `client`'s
/// connection to `server`.
#[cfg(target_os = "linux")]
fn server_socket_timer(server: SocketAddr, client: &TcpStream) -> String {
    let client = client.local_addr().unwrap();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let hex = |addr: SocketAddr| format!(":{:04X}", addr.port());
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields[1].ends_with(&hex(server)) && fields[2].ends_with(&hex(client)))
        .map(|fields| fields[5].split(':').next().unwrap().to_owned())
        .expect("the server's socket is not in /proc/net/tcp")
}

const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const MAX_HEADER_LIST_SIZE: u16 = 0x6;

/// Opens HTTP/2 to `addr` by hand: the client preface and empty SETTINGS, then the
/// server's SETTINGS payload. The connection is left for the test to use or neglect.
async fn raw_http2(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    stream
        .write_all(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0])
        .await
        .unwrap();
    let mut header = [0u8; 9];
    bounded("the server's SETTINGS", stream.read_exact(&mut header))
        .await
        .unwrap();
    assert_eq!(header[3], 0x4, "the server's first frame is not SETTINGS");
    let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).await.unwrap();
    (stream, payload)
}

/// The value of `id` in a SETTINGS payload, if the server sent it.
fn setting(payload: &[u8], id: u16) -> Option<u32> {
    payload.chunks_exact(6).find_map(|entry| {
        (u16::from_be_bytes([entry[0], entry[1]]) == id)
            .then(|| u32::from_be_bytes([entry[2], entry[3], entry[4], entry[5]]))
    })
}

/// Reads and discards until the connection ends; true once it has.
async fn drain(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return true,
            Ok(_) => {}
        }
    }
}

/// A TCP server that accepts connections and reads them, but never writes a byte.
async fn mute_server() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                while let Ok(read) = stream.read(&mut buffer).await {
                    if read == 0 {
                        break;
                    }
                }
            });
        }
    });
    (addr, task)
}
