//! rgrpc servers called by tonic's own generated client (tonic-prost-build, `build.rs`),
//! on every streaming kind, with plain handlers.
//!
//! tonic's client does not hand over a streaming call until the response headers arrive.
//! A handler that sends its headers only with its first reply would deadlock a tonic user
//! doing ping-pong (open the call, then send the first request): the server waits for the
//! request, the client for the headers. rgrpc sends pending headers when a handler first
//! reads its request stream; these tests show the deadlock cannot happen, and that a
//! handler can still set initial metadata after reading (`Context::defer_headers`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::stream::StreamExt;
use rgrpc::{Code, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_server::HelloService;
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{Running, bounded, reply};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// tonic-prost-build's code for `proto/hello.proto` (client only).
mod tonic_hello {
    tonic::include_proto!("hello");
}

use tonic_hello::hello_service_client::HelloServiceClient as TonicClient;

/// Plain handlers: none sends headers by hand. What `set_headers` answered after the
/// handler's first read is recorded for the tests that look.
#[derive(Clone, Default)]
struct Plain {
    late_headers: Arc<Mutex<Vec<Result<(), Code>>>>,
}

impl HelloService for Plain {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        Ok(reply(format!("hello {}", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        for i in 0..3 {
            responses
                .send(reply(format!("{} {i}", request.greeting)))
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
            seen.push(request.greeting);
        }
        // Too late: the first read sent the headers.
        let outcome = ctx.set_headers(MetadataMap::new()).map_err(|s| s.code());
        self.late_headers.lock().unwrap().push(outcome);
        Ok(reply(seen.join(",")))
    }

    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        if ctx.metadata().contains_key("x-defer") {
            // Initial metadata that depends on the first request.
            ctx.defer_headers();
            let first = requests
                .message()
                .await?
                .ok_or_else(|| Status::invalid_argument("no first request"))?;
            let mut headers = MetadataMap::new();
            headers.insert("x-first", first.greeting.parse().unwrap());
            ctx.set_headers(headers)?;
            responses
                .send(reply(format!("pong {}", first.greeting)))
                .await?;
        }
        while let Some(request) = requests.message().await? {
            responses
                .send(reply(format!("pong {}", request.greeting)))
                .await?;
        }
        Ok(())
    }
}

async fn tonic_client(server: &Running) -> TonicClient<tonic::transport::Channel> {
    TonicClient::connect(format!("http://{}", server.addr))
        .await
        .unwrap()
}

fn request(text: &str) -> tonic_hello::HelloRequest {
    tonic_hello::HelloRequest {
        greeting: text.into(),
    }
}

#[tokio::test]
async fn tonic_bidi_ping_pong_opens_before_the_first_request() {
    let server = Running::start(Plain::default()).await;
    let mut client = tonic_client(&server).await;
    let (send, requests) = mpsc::channel(4);
    // Nothing is sent yet: tonic returns the call only once the response headers arrive.
    let response = bounded(
        "opening the bidi call before any request",
        client.bidi_hello(ReceiverStream::new(requests)),
    )
    .await
    .unwrap();
    let mut replies = response.into_inner();
    for ping in ["a", "b", "c"] {
        send.send(request(ping)).await.unwrap();
        let pong = bounded("a pong", replies.message()).await.unwrap().unwrap();
        assert_eq!(pong.reply, format!("pong {ping}"));
    }
    drop(send);
    assert!(
        bounded("the end", replies.message())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn tonic_client_streaming_completes_with_requests_sent_late() {
    let handlers = Plain::default();
    let server = Running::start(handlers.clone()).await;
    let mut client = tonic_client(&server).await;
    let (send, requests) = mpsc::channel(4);
    let call = tokio::spawn(async move {
        client
            .lots_of_greetings(ReceiverStream::new(requests))
            .await
            .map(|response| response.into_inner().reply)
    });
    for greeting in ["x", "y"] {
        send.send(request(greeting)).await.unwrap();
    }
    drop(send);
    let answer = bounded("the client-streaming call", call)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, "x,y");
    // The first read sent the (empty) headers: later metadata is refused, every time.
    assert_eq!(
        *handlers.late_headers.lock().unwrap(),
        [Err(Code::Internal)]
    );
}

#[tokio::test]
async fn tonic_server_streaming_and_unary_complete() {
    let server = Running::start(Plain::default()).await;
    let mut client = tonic_client(&server).await;
    let answer = bounded("unary", client.say_hello(request("u")))
        .await
        .unwrap();
    assert_eq!(answer.into_inner().reply, "hello u");
    let replies = bounded("server streaming", client.lots_of_replies(request("s")))
        .await
        .unwrap()
        .into_inner();
    let replies: Vec<String> =
        bounded("the replies", replies.map(|r| r.unwrap().reply).collect()).await;
    assert_eq!(replies, ["s 0", "s 1", "s 2"]);
}

#[tokio::test]
async fn a_deferring_handler_sets_headers_from_the_first_request() {
    let server = Running::start(Plain::default()).await;
    // rgrpc's client sends its first request without waiting for headers.
    let client = server.client().await;
    let (send, requests) = mpsc::channel(4);
    send.send(support::greeting("first")).await.unwrap();
    let mut metadata = MetadataMap::new();
    metadata.insert("x-defer", MetadataValue::from_static("1"));
    let mut replies = bounded(
        "opening the call",
        client
            .bidi_hello(ReceiverStream::new(requests))
            .metadata(metadata),
    )
    .await
    .unwrap();
    assert_eq!(
        support::next_reply("the first pong", &mut replies).await,
        "pong first"
    );
    let headers = bounded("the headers", replies.headers()).await.unwrap();
    assert_eq!(headers.get("x-first").unwrap(), "first");
    send.send(support::greeting("second")).await.unwrap();
    assert_eq!(
        support::next_reply("the second pong", &mut replies).await,
        "pong second"
    );
}
