//! Message compression both ways: what goes on the wire (read with a raw HTTP/2 client),
//! what each side chooses and honours, and bad or hostile input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use prost::Message;
use rgrpc::server::ResponseCompression;
use rgrpc::{Code, Compression, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceBlockingClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::raw::{Answer, Raw, frame, frame_with, request_to};
use support::{Running, bounded, greeting, reply};

const SAY_HELLO: &str = "/hello.HelloService/SayHello";
const LOTS_OF_REPLIES: &str = "/hello.HelloService/LotsOfReplies";

/// A reply long and repetitive enough that compressing it is worth it.
fn long_reply(greeting: &str) -> HelloResponse {
    reply(format!("{greeting} ").repeat(200))
}

/// Answers as the request's greeting asks, and records whether each request arrived
/// compressed.
#[derive(Clone, Default)]
struct Compressing {
    arrived_compressed: Arc<Mutex<Vec<bool>>>,
}

impl HelloService for Compressing {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        self.arrived_compressed
            .lock()
            .unwrap()
            .push(ctx.request_compressed());
        match request.greeting.as_str() {
            "zstd" => ctx.set_response_compression(Some(Compression::Zstd))?,
            "plain" => ctx.set_response_compression(None)?,
            _ => {}
        }
        if request.greeting == "huge" {
            // 8 MiB of one letter: a few KiB once compressed.
            return Ok(reply("a".repeat(8 << 20)));
        }
        Ok(long_reply(&request.greeting))
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        // Compressed, plain, compressed: each message chooses.
        for (i, compress) in [true, false, true].into_iter().enumerate() {
            ctx.set_message_compression(compress);
            responses
                .send(long_reply(&format!("{} {i}", request.greeting)))
                .await?;
        }
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let mut seen = Vec::new();
        while let Some(request) = requests.message().await? {
            self.arrived_compressed
                .lock()
                .unwrap()
                .push(ctx.request_compressed());
            seen.push(request.greeting);
        }
        Ok(reply(seen.join(",")))
    }
}

async fn serve(compression: ResponseCompression) -> (Running, Compressing) {
    let service = Compressing::default();
    let router = rgrpc::Server::builder()
        .response_compression(compression)
        .add_service(HelloServiceServer::new(service.clone()));
    (Running::serve(router).await, service)
}

/// A request frame for `greeting`, uncompressed.
fn plain_frame(text: &str) -> Vec<u8> {
    frame(&greeting(text))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The reply in a frame of `answer`, decompressed as its flag and `grpc-encoding` say.
fn replies(answer: &Answer) -> Vec<(bool, String)> {
    let encoding = answer
        .headers
        .get("grpc-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    answer
        .frames()
        .into_iter()
        .map(|(flag, payload)| {
            let bytes = match (flag, encoding.as_deref()) {
                (0, _) => payload,
                (1, Some("gzip")) => {
                    let mut out = Vec::new();
                    flate2::read::GzDecoder::new(&payload[..])
                        .read_to_end(&mut out)
                        .unwrap();
                    out
                }
                (1, Some("zstd")) => zstd::decode_all(&payload[..]).unwrap(),
                other => panic!("a frame flagged {other:?}: {answer:?}"),
            };
            (flag == 1, HelloResponse::decode(&bytes[..]).unwrap().reply)
        })
        .collect()
}

#[tokio::test]
async fn the_server_compresses_only_for_clients_that_accept_it() {
    let (server, _) = serve(ResponseCompression::new().all(Some(Compression::Gzip))).await;
    let mut raw = Raw::connect(server.addr).await;

    let accepting = raw
        .exchange(
            request_to(SAY_HELLO, &[("grpc-accept-encoding", "gzip")]),
            &plain_frame("hi"),
        )
        .await;
    accepting.assert_status(Code::Ok, "");
    assert_eq!(accepting.headers.get("grpc-encoding").unwrap(), "gzip");
    let got = replies(&accepting);
    assert_eq!(got, [(true, long_reply("hi").reply)]);
    assert!(accepting.data.len() < 200, "{} bytes", accepting.data.len());

    // No grpc-accept-encoding: only identity can be read.
    let silent = raw
        .exchange(request_to(SAY_HELLO, &[]), &plain_frame("hi"))
        .await;
    silent.assert_status(Code::Ok, "");
    assert!(silent.headers.get("grpc-encoding").is_none(), "{silent:?}");
    assert_eq!(replies(&silent), [(false, long_reply("hi").reply)]);
    // Every answer says what the server decodes.
    assert_eq!(
        silent.headers.get("grpc-accept-encoding").unwrap(),
        "gzip,zstd,identity"
    );
}

#[tokio::test]
async fn a_method_setting_and_the_handler_override_the_servers() {
    let compression = ResponseCompression::new()
        .all(Some(Compression::Gzip))
        .method(SAY_HELLO, None);
    let (server, _) = serve(compression).await;
    let mut raw = Raw::connect(server.addr).await;
    let accept = [("grpc-accept-encoding", "gzip,zstd")];

    let by_method = raw
        .exchange(request_to(SAY_HELLO, &accept), &plain_frame("hi"))
        .await;
    assert_eq!(replies(&by_method), [(false, long_reply("hi").reply)]);

    let by_handler = raw
        .exchange(request_to(SAY_HELLO, &accept), &plain_frame("zstd"))
        .await;
    assert_eq!(by_handler.headers.get("grpc-encoding").unwrap(), "zstd");
    assert_eq!(replies(&by_handler), [(true, long_reply("zstd").reply)]);

    // The server's gzip for the other methods, and each message may opt out.
    let streamed = raw
        .exchange(request_to(LOTS_OF_REPLIES, &accept), &plain_frame("s"))
        .await;
    streamed.assert_status(Code::Ok, "");
    assert_eq!(streamed.headers.get("grpc-encoding").unwrap(), "gzip");
    let flags: Vec<bool> = replies(&streamed).into_iter().map(|(c, _)| c).collect();
    assert_eq!(flags, [true, false, true]);
}

#[tokio::test]
async fn the_rgrpc_client_sends_and_reads_gzip_and_zstd() {
    let (server, service) = serve(ResponseCompression::new().all(Some(Compression::Zstd))).await;
    let client = server.client().await;
    for encoding in [Compression::Gzip, Compression::Zstd] {
        let answer = bounded(
            "a compressed call",
            client.say_hello(greeting("hi")).compression(encoding),
        )
        .await
        .unwrap();
        assert_eq!(answer.into_inner(), long_reply("hi"));
    }
    // The handler's choice reaches the client too.
    let answer = bounded("a call answered plain", client.say_hello(greeting("plain")))
        .await
        .unwrap();
    assert_eq!(answer.into_inner(), long_reply("plain"));
    // A client-wide setting, and a call that opts out of it.
    let gzip_client = rgrpc_tests::hello::hello_service_client::HelloServiceClient::from_client(
        rgrpc::client::Client::new(
            rgrpc::Channel::connect(format!("http://{}", server.addr))
                .await
                .unwrap(),
        )
        .compression(Compression::Gzip),
    );
    let stream = rgrpc::stream::iter([greeting("a"), greeting("b")]);
    let joined = bounded("a compressed stream", gzip_client.lots_of_greetings(stream))
        .await
        .unwrap();
    assert_eq!(joined.into_inner().reply, "a,b");
    bounded(
        "an uncompressed call",
        gzip_client.say_hello(greeting("x")).uncompressed(),
    )
    .await
    .unwrap();
    assert_eq!(
        *service.arrived_compressed.lock().unwrap(),
        [true, true, false, true, true, false]
    );
}

#[tokio::test]
async fn a_request_that_inflates_past_the_limit_is_refused_without_inflating_it() {
    let service = Compressing::default();
    let router = rgrpc::Server::builder()
        .max_request_message_size(1 << 20)
        .add_service(HelloServiceServer::new(service.clone()));
    let server = Running::serve(router).await;
    let mut raw = Raw::connect(server.addr).await;
    // 64 MiB of one letter: about 64 KiB of gzip. Inflated in full, it would take 64 MiB.
    let bomb = gzip(&greeting("a".repeat(64 << 20)).encode_to_vec());
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[("grpc-encoding", "gzip")]),
            &frame_with(1, bomb.len() as u32, &bomb),
        )
        .await;
    answer.assert_status(
        Code::ResourceExhausted,
        "max_request_message_size of 1048576 bytes once decompressed",
    );
    assert!(service.arrived_compressed.lock().unwrap().is_empty());
    // Corrupt data in a known encoding is INTERNAL, naming it.
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[("grpc-encoding", "zstd")]),
            &frame_with(1, 5, b"hello"),
        )
        .await;
    answer.assert_status(
        Code::Internal,
        "failed to decompress a request message with zstd",
    );
}

#[tokio::test]
async fn a_response_that_inflates_past_the_clients_limit_is_refused() {
    let (server, _) = serve(ResponseCompression::new().all(Some(Compression::Zstd))).await;
    let client = server.client().await;
    let status = bounded(
        "a call answered with 8 MiB",
        client.say_hello(greeting("huge")),
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("4194304 bytes"),
        "{}",
        status.message()
    );
}

#[tokio::test]
async fn an_unknown_encoding_is_unimplemented_and_lists_the_known_ones() {
    let (server, service) = serve(ResponseCompression::new()).await;
    let mut raw = Raw::connect(server.addr).await;
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[("grpc-encoding", "br")]),
            &plain_frame("hi"),
        )
        .await;
    answer.assert_status(Code::Unimplemented, "grpc-encoding \"br\" is not supported");
    assert_eq!(
        answer.headers.get("grpc-accept-encoding").unwrap(),
        "gzip,zstd,identity"
    );
    assert!(service.arrived_compressed.lock().unwrap().is_empty());
}

#[test]
fn the_blocking_client_compresses_and_reads_compressed_answers() {
    let service = Compressing::default();
    let router = rgrpc::Server::builder()
        .response_compression(ResponseCompression::new().all(Some(Compression::Gzip)))
        .add_service(HelloServiceServer::new(service.clone()));
    let (channel, _server) = rgrpc::blocking::Channel::in_process(router).unwrap();
    let client = HelloServiceBlockingClient::from_client(
        rgrpc::blocking::BlockingClient::new(channel).compression(Compression::Zstd),
    );
    let answer = client.say_hello(greeting("b")).call().unwrap();
    assert_eq!(answer.into_inner(), long_reply("b"));
    client
        .say_hello(greeting("c"))
        .uncompressed()
        .call()
        .unwrap();
    assert_eq!(*service.arrived_compressed.lock().unwrap(), [true, false]);
}
