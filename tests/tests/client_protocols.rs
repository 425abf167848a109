//! rgrpc's client speaking gRPC-Web and Connect (`ChannelBuilder::protocol`), over HTTP/2
//! and HTTP/1.1 (`ChannelBuilder::http1`), against rgrpc's server: every kind each way
//! allows, metadata both ways, errors with their trailers, deadlines, cancellation,
//! compression and the blocking client; and against hand-written servers, the answers a
//! client must refuse (a truncated envelope, a stream without its end, a proxy's error page).
//! (connect-node's server is the independent peer, in `interop/`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use rgrpc::stream::StreamExt as _;
use rgrpc::{Code, Protocol};
use rgrpc_tests::hello::hello_service_client::{HelloServiceBlockingClient, HelloServiceClient};
use support::greeter::server;
use support::http1::envelope;
use support::{assert_fails, bounded, greeting, next_reply};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Every way the client can reach the server besides gRPC: (label, protocol, HTTP/1.1).
const WAYS: [(&str, Protocol, bool); 4] = [
    ("gRPC-Web over HTTP/2", Protocol::GrpcWeb, false),
    ("gRPC-Web over HTTP/1.1", Protocol::GrpcWeb, true),
    ("Connect over HTTP/2", Protocol::Connect, false),
    ("Connect over HTTP/1.1", Protocol::Connect, true),
];

fn builder(uri: String, protocol: Protocol, http1: bool) -> rgrpc::ChannelBuilder {
    let builder = rgrpc::Channel::builder(uri).protocol(protocol);
    if http1 { builder.http1() } else { builder }
}

async fn client(addr: std::net::SocketAddr, protocol: Protocol, http1: bool) -> HelloServiceClient {
    let channel = builder(format!("http://{addr}"), protocol, http1)
        .connect()
        .await
        .unwrap();
    HelloServiceClient::new(channel)
}

#[tokio::test]
async fn unary_with_metadata_both_ways() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        let client = client(server.addr, protocol, http1).await;
        let mut call = client.say_hello(greeting("web"));
        call.metadata_mut()
            .insert("x-echo", "round trip".parse().unwrap());
        let response = bounded(how, call).await.unwrap();
        assert_eq!(response.get_ref().reply, "Hello, web!", "{how}");
        assert_eq!(
            response.headers().get("x-echo-header").unwrap(),
            "round trip",
            "{how}"
        );
        assert_eq!(
            response.trailers().get("x-echo-trailer").unwrap(),
            "round trip",
            "{how}"
        );
    }
}

#[tokio::test]
async fn server_streaming_then_ok() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        let client = client(server.addr, protocol, http1).await;
        let mut replies = bounded(how, client.lots_of_replies(greeting("web")))
            .await
            .unwrap();
        for n in 1..=3 {
            assert_eq!(next_reply(how, &mut replies).await, format!("{n} web"));
        }
        assert!(
            bounded(how, replies.message()).await.unwrap().is_none(),
            "{how}"
        );
    }
}

#[tokio::test]
async fn client_streaming() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        let client = client(server.addr, protocol, http1).await;
        let names = rgrpc::stream::iter(["a", "b", "c"].map(greeting));
        let response = bounded(how, client.lots_of_greetings(names)).await;
        assert_eq!(
            response.unwrap().into_inner().reply,
            "Hello, a, b, c!",
            "{how}"
        );
    }
}

#[tokio::test]
async fn bidi_over_http2_ping_pong() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        if http1 {
            continue;
        }
        let client = client(server.addr, protocol, http1).await;
        let (sender, requests) = tokio::sync::mpsc::channel(1);
        let requests = tokio_stream::wrappers::ReceiverStream::new(requests);
        let mut replies = bounded(how, client.bidi_hello(requests)).await.unwrap();
        for n in 0..5 {
            sender.send(greeting(format!("ping {n}"))).await.unwrap();
            assert_eq!(
                next_reply(how, &mut replies).await,
                format!("Hello, ping {n}!")
            );
        }
        drop(sender);
        assert!(
            bounded(how, replies.message()).await.unwrap().is_none(),
            "{how}"
        );
    }
}

#[tokio::test]
async fn bidi_over_http1_is_refused_at_once() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        if !http1 {
            continue;
        }
        let client = client(server.addr, protocol, http1).await;
        // A request stream that never ends: the refusal must not wait for it.
        let requests = rgrpc::stream::iter([greeting("x")]).chain(tokio_stream::pending());
        let mut replies = bounded(how, client.bidi_hello(requests)).await.unwrap();
        let status = bounded(how, replies.message()).await.unwrap_err();
        support::assert_status(&status, Code::Unimplemented, "needs HTTP/2");
    }
}

#[tokio::test]
async fn errors_keep_code_message_and_trailers() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        let client = client(server.addr, protocol, http1).await;
        let status = assert_fails(
            how,
            client.say_hello(greeting("fail")),
            Code::FailedPrecondition,
            "failing as asked",
        )
        .await;
        assert_eq!(status.metadata().get("x-why").unwrap(), "asked to", "{how}");

        let mut replies = bounded(how, client.lots_of_replies(greeting("fail")))
            .await
            .unwrap();
        for n in 1..=3 {
            assert_eq!(next_reply(how, &mut replies).await, format!("{n} fail"));
        }
        let status = bounded(how, replies.message()).await.unwrap_err();
        support::assert_status(&status, Code::Aborted, "stopped after 3");
        assert_eq!(status.metadata().get("x-why").unwrap(), "asked to", "{how}");
    }
}

#[tokio::test]
async fn deadlines_and_cancellation_end_the_call() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        let client = client(server.addr, protocol, http1).await;
        // The handler sees the deadline (grpc-timeout or connect-timeout-ms on the wire).
        let seen = bounded(how, client.say_hello(greeting("deadline?")))
            .await
            .unwrap()
            .into_inner()
            .reply;
        assert_eq!(seen, "no deadline", "{how}");
        let seen = bounded(
            how,
            client
                .say_hello(greeting("deadline?"))
                .timeout(Duration::from_secs(50)),
        )
        .await;
        assert_eq!(
            seen.unwrap().into_inner().reply,
            "deadline within a minute",
            "{how}"
        );
        assert_fails(
            how,
            client
                .say_hello(greeting("sleep"))
                .timeout(Duration::from_millis(200)),
            Code::DeadlineExceeded,
            "",
        )
        .await;

        let token = rgrpc::CancellationToken::new();
        let call = client
            .say_hello(greeting("sleep"))
            .cancellation(token.clone());
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            token.cancel();
        };
        let (result, ()) = tokio::join!(bounded(how, call), cancel);
        assert_eq!(result.unwrap_err().code(), Code::Cancelled, "{how}");
    }
}

#[tokio::test]
async fn compressed_requests() {
    let server = server().await;
    for (how, protocol, http1) in WAYS {
        for encoding in [rgrpc::Compression::Gzip, rgrpc::Compression::Zstd] {
            let client = client(server.addr, protocol, http1).await;
            let response = bounded(
                how,
                client
                    .say_hello(greeting("z".repeat(1000)))
                    .compression(encoding),
            )
            .await
            .unwrap();
            assert_eq!(response.into_inner().reply.len(), "Hello, !".len() + 1000);
            let names = rgrpc::stream::iter(["a", "b"].map(greeting));
            let response = bounded(how, client.lots_of_greetings(names).compression(encoding))
                .await
                .unwrap();
            assert_eq!(response.into_inner().reply, "Hello, a, b!", "{how}");
        }
    }
}

#[test]
fn the_blocking_client_speaks_connect_and_grpc_web_over_http1() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(server());
    for (how, protocol, http1) in WAYS {
        let channel = rgrpc::blocking::Channel::connect_with(builder(
            format!("http://{}", server.addr),
            protocol,
            http1,
        ))
        .unwrap();
        let client = HelloServiceBlockingClient::new(channel);
        let response = client.say_hello(greeting("blocking")).call().unwrap();
        assert_eq!(response.into_inner().reply, "Hello, blocking!", "{how}");
        let replies: Vec<String> = client
            .lots_of_replies(greeting("b"))
            .call()
            .unwrap()
            .map(|reply| reply.unwrap().reply)
            .collect();
        assert_eq!(replies, ["1 b", "2 b", "3 b"], "{how}");
    }
}

#[tokio::test]
async fn settings_that_cannot_work_are_refused_up_front() {
    let error = rgrpc::Channel::builder("http://127.0.0.1:1")
        .http1()
        .connect_lazy()
        .unwrap_err();
    assert!(error.to_string().contains("gRPC needs HTTP/2"), "{error}");
    let error = rgrpc::Channel::balance_with([
        rgrpc::Channel::builder("http://127.0.0.1:1").protocol(Protocol::Connect),
        rgrpc::Channel::builder("http://127.0.0.1:2"),
    ])
    .unwrap_err();
    assert!(error.to_string().contains("speak one protocol"), "{error}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // A port that was just free: nothing listens there.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    for (how, protocol, http1) in WAYS {
        let channel = builder(format!("http://{addr}"), protocol, http1)
            .connect_lazy()
            .unwrap();
        let client = HelloServiceClient::new(channel);
        assert_fails(how, client.say_hello(greeting("x")), Code::Unavailable, "").await;
    }
}

// ---- answers a client must refuse, from a hand-written HTTP/1.1 server ----

/// Serves one canned HTTP/1.1 answer to each connection, after reading its request head;
/// its address.
async fn canned(answer: Vec<u8>) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0; 4096];
                while !seen.windows(4).any(|window| window == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => seen.extend_from_slice(&buffer[..read]),
                    }
                }
                let _ = socket.write_all(&answer).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    addr
}

/// An HTTP/1.1 200 answer of `content_type` whose body is `body`, closed after it.
fn answer(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

fn reply_bytes(text: &str) -> Vec<u8> {
    prost::Message::encode_to_vec(&support::reply(text))
}

async fn http1_client(addr: std::net::SocketAddr, protocol: Protocol) -> HelloServiceClient {
    client(addr, protocol, true).await
}

#[tokio::test]
async fn a_connect_stream_without_its_end_is_an_error() {
    let body = envelope(0, &reply_bytes("one"));
    let addr = canned(answer("application/connect+proto", &body)).await;
    let client = http1_client(addr, Protocol::Connect).await;
    let mut replies = bounded("call", client.lots_of_replies(greeting("x")))
        .await
        .unwrap();
    assert_eq!(next_reply("first", &mut replies).await, "one");
    let status = bounded("end", replies.message()).await.unwrap_err();
    support::assert_status(&status, Code::Internal, "without its end-of-stream message");
}

#[tokio::test]
async fn a_grpc_web_answer_without_trailers_is_an_error() {
    let body = envelope(0, &reply_bytes("one"));
    let addr = canned(answer("application/grpc-web+proto", &body)).await;
    let client = http1_client(addr, Protocol::GrpcWeb).await;
    assert_fails(
        "unary",
        client.say_hello(greeting("x")),
        Code::Internal,
        "without its trailers frame",
    )
    .await;
}

#[tokio::test]
async fn a_truncated_envelope_is_an_error() {
    let mut body = envelope(0, &reply_bytes("one"));
    body.truncate(body.len() - 2);
    for (protocol, content_type) in [
        (Protocol::Connect, "application/connect+proto"),
        (Protocol::GrpcWeb, "application/grpc-web+proto"),
    ] {
        let addr = canned(answer(content_type, &body)).await;
        let client = http1_client(addr, protocol).await;
        let mut replies = bounded("call", client.lots_of_replies(greeting("x")))
            .await
            .unwrap();
        let status = bounded("end", replies.message()).await.unwrap_err();
        support::assert_status(&status, Code::Internal, "truncated envelope");
    }
}

#[tokio::test]
async fn a_proxy_error_page_maps_its_http_status() {
    let page = b"<html>bad gateway</html>";
    let mut answer = format!(
        "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        page.len()
    )
    .into_bytes();
    answer.extend_from_slice(page);
    let addr = canned(answer).await;
    for protocol in [Protocol::Connect, Protocol::GrpcWeb] {
        let client = http1_client(addr, protocol).await;
        assert_fails(
            "unary",
            client.say_hello(greeting("x")),
            Code::Unavailable,
            "",
        )
        .await;
    }
}

#[tokio::test]
async fn a_connect_error_keeps_its_details() {
    let json = br#"{"code":"invalid_argument","message":"no","details":[{"type":"google.rpc.ErrorInfo","value":"CgNiYWQ"}]}"#;
    let mut answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-meta: m\r\nx-meta: n\r\ntrailer-x-end: e\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        json.len()
    )
    .into_bytes();
    answer.extend_from_slice(json);
    let addr = canned(answer).await;
    let client = http1_client(addr, Protocol::Connect).await;
    let status = assert_fails(
        "unary",
        client.say_hello(greeting("x")),
        Code::InvalidArgument,
        "no",
    )
    .await;
    let values: Vec<_> = status.metadata().get_all("x-meta").iter().collect();
    assert_eq!(values, ["m", "n"]);
    assert_eq!(status.metadata().get("x-end").unwrap(), "e");
    // google.rpc.Status { code: 3, message: "no", details: [Any { ErrorInfo, "\n\x03bad" }] }
    let details = prost_types_any(status.details());
    assert_eq!(
        details,
        [(
            "type.googleapis.com/google.rpc.ErrorInfo".to_owned(),
            b"\n\x03bad".to_vec()
        )]
    );
}

/// The (type URL, value) of each detail in an encoded `google.rpc.Status`.
fn prost_types_any(encoded: &[u8]) -> Vec<(String, Vec<u8>)> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<rgrpc::prost_types::Any>,
    }
    let status: RpcStatus = prost::Message::decode(encoded).unwrap();
    assert_eq!((status.code, status.message.as_str()), (3, "no"));
    status
        .details
        .into_iter()
        .map(|any| (any.type_url, any.value))
        .collect()
}

/// Reports when its unary handler starts, and when it sees its call cancelled.
struct CancelWatcher {
    events: tokio::sync::mpsc::UnboundedSender<&'static str>,
}

impl rgrpc_tests::hello::hello_service_server::HelloService for CancelWatcher {
    async fn say_hello(
        &self,
        ctx: rgrpc::Context,
        _request: rgrpc_tests::hello::HelloRequest,
    ) -> Result<rgrpc_tests::hello::HelloResponse, rgrpc::Status> {
        // A cancelled call's handler is dropped: a task of its own reports the token.
        let token = ctx.cancellation_token();
        let events = self.events.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            let _ = events.send("cancelled");
        });
        let _ = self.events.send("started");
        std::future::pending().await
    }
}

#[tokio::test]
async fn cancelling_a_call_cancels_the_handler_over_every_way() {
    let (events, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let server = support::Running::start(CancelWatcher { events }).await;
    for (how, protocol, http1) in WAYS {
        let client = client(server.addr, protocol, http1).await;
        let token = rgrpc::CancellationToken::new();
        let call = tokio::spawn(
            client
                .say_hello(greeting("x"))
                .cancellation(token.clone())
                .into_future(),
        );
        assert_eq!(
            bounded("start", seen.recv()).await,
            Some("started"),
            "{how}"
        );
        token.cancel();
        let status = bounded("the call's end", call).await.unwrap().unwrap_err();
        assert_eq!(status.code(), Code::Cancelled, "{how}");
        assert_eq!(
            bounded(&format!("{how}: the handler cancellation"), seen.recv()).await,
            Some("cancelled"),
            "{how}"
        );
    }
}

/// Reads one HTTP/1.1 response with a `content-length` from `stream`, keeping what follows
/// in `buffer`: its head (lowercase) and body.
async fn read_response(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    buffer: &mut Vec<u8>,
) -> (String, Vec<u8>) {
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .unwrap_or_else(|| panic!("no content-length: {head}"))
                .parse()
                .unwrap();
            if buffer.len() >= end + 4 + length {
                let body = buffer[end + 4..end + 4 + length].to_vec();
                buffer.drain(..end + 4 + length);
                return (head, body);
            }
        }
        let mut chunk = [0; 4096];
        let read = bounded("a response", stream.read(&mut chunk))
            .await
            .unwrap();
        assert!(read > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// An HTTP/1.1 client still sending a request the server answered early gets the answer,
/// and its connection stays open for the next request: the server read the rest first.
#[tokio::test]
async fn an_early_answer_over_http1_reads_the_request_first_and_keeps_the_connection() {
    let server = server().await;
    let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // 256 KiB the server never needs: it refuses the call from its path alone.
    let body = vec![0u8; 256 << 10];
    let head = format!(
        "POST /hello.Nowhere/Say HTTP/1.1\r\nhost: x\r\ncontent-type: application/proto\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await.unwrap();
        writer.write_all(&body).await.unwrap();
        writer
    });
    let mut buffer = Vec::new();
    let (head, error) = read_response(&mut reader, &mut buffer).await;
    assert!(head.starts_with("http/1.1 501"), "{head}");
    assert!(!head.contains("connection: close"), "{head}");
    let error = String::from_utf8_lossy(&error).into_owned();
    assert!(error.contains("unknown service hello.Nowhere"), "{error}");

    let mut writer = bounded("sending", sending).await.unwrap();
    let message = prost::Message::encode_to_vec(&greeting("again"));
    let head = format!(
        "POST /hello.HelloService/SayHello HTTP/1.1\r\nhost: x\r\ncontent-type: application/proto\r\ncontent-length: {}\r\n\r\n",
        message.len()
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    writer.write_all(&message).await.unwrap();
    let (head, body) = read_response(&mut reader, &mut buffer).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let reply: rgrpc_tests::hello::HelloResponse = prost::Message::decode(&body[..]).unwrap();
    assert_eq!(reply.reply, "Hello, again!");
}
