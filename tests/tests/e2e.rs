//! End-to-end: the generated client against the generated server, over real HTTP/2 on
//! 127.0.0.1, through all four method kinds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::IntoFuture;

use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::stream::StreamExt;
use rgrpc::{Code, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{LIMIT, Running, bounded, greeting, next_reply, reply};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// How many messages the "many messages" tests push each way.
const MANY: usize = 1500;

/// The server under test. Its behaviour is chosen by the request text:
/// * unary `fail` answers NOT_FOUND with a non-ASCII message and details;
/// * server streaming `N` sends `N` numbered replies; `N!` sends them and then fails;
/// * client streaming checks that greetings arrive numbered in order;
/// * bidi echoes each greeting as it arrives, after sending its headers at once.
struct TestService;

impl HelloService for TestService {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        if request.greeting == "fail" {
            return Err(Status::with_details(
                Code::NotFound,
                FAILURE_MESSAGE,
                FAILURE_DETAILS.into(),
            ));
        }
        let mut headers = MetadataMap::new();
        headers.insert("x-header", MetadataValue::from_static("h"));
        ctx.set_headers(headers)?;
        let mut trailers = MetadataMap::new();
        trailers.insert("x-trailer", MetadataValue::from_static("t"));
        ctx.set_trailers(trailers);
        let echoed = ctx
            .metadata()
            .get("x-request")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("none")
            .to_owned();
        Ok(reply(format!("hello {} ({echoed})", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let (count, then_fail) = match request.greeting.strip_suffix('!') {
            Some(count) => (count, true),
            None => (request.greeting.as_str(), false),
        };
        let count: usize = count
            .parse()
            .map_err(|_| Status::invalid_argument("greeting must be a count"))?;
        for i in 0..count {
            responses.send(reply(i.to_string())).await?;
        }
        if then_fail {
            return Err(Status::aborted(format!("stopped after {count}")));
        }
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let mut received = 0usize;
        while let Some(request) = requests.message().await? {
            if request.greeting != received.to_string() {
                return Err(Status::failed_precondition(format!(
                    "message {received} arrived as {:?}",
                    request.greeting
                )));
            }
            received += 1;
        }
        Ok(reply(format!("{received} in order")))
    }

    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let mut headers = MetadataMap::new();
        headers.insert("x-bidi", MetadataValue::from_static("ready"));
        ctx.set_headers(headers)?;
        ctx.send_headers()?;
        while let Some(request) = requests.message().await? {
            responses.send(reply(request.greeting)).await?;
        }
        Ok(())
    }
}

/// A server whose handlers never finish by themselves, and report when they start and when
/// they are dropped.
struct Endless {
    started: mpsc::UnboundedSender<&'static str>,
    dropped: mpsc::UnboundedSender<&'static str>,
}

impl Endless {
    /// The server, and the receivers of its starts and drops.
    fn new() -> (
        Self,
        mpsc::UnboundedReceiver<&'static str>,
        mpsc::UnboundedReceiver<&'static str>,
    ) {
        let (started, starts) = mpsc::unbounded_channel();
        let (dropped, drops) = mpsc::unbounded_channel();
        (Self { started, dropped }, starts, drops)
    }
}

/// Sends its name when dropped: the handler's future holding it was cancelled.
struct DropSignal(&'static str, mpsc::UnboundedSender<&'static str>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

impl HelloService for Endless {
    async fn say_hello(
        &self,
        _ctx: Context,
        _request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let _signal = DropSignal("unary", self.dropped.clone());
        let _ = self.started.send("unary");
        tokio::time::sleep(LIMIT).await;
        Err(Status::internal("the client should have gone"))
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        _request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let _signal = DropSignal("server streaming", self.dropped.clone());
        let _ = self.started.send("server streaming");
        let started = tokio::time::Instant::now();
        while started.elapsed() < LIMIT {
            responses.send(reply("more")).await?;
        }
        Err(Status::internal("the client should have gone"))
    }
}

/// A server that implements nothing: every rpc must answer UNIMPLEMENTED.
struct NothingImplemented;
impl HelloService for NothingImplemented {}

const FAILURE_MESSAGE: &str = "no greeting for «ünïcödé» at 100% — sorry\nsecond line";
const FAILURE_DETAILS: &[u8] = &[0, 1, 2, 255];

#[tokio::test]
async fn unary_answers_with_message_headers_and_trailers() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let mut call = client.say_hello(greeting("world"));
    call.metadata_mut()
        .insert("x-request", MetadataValue::from_static("meta"));
    let response = bounded("unary call", call).await.unwrap();
    assert_eq!(response.get_ref().reply, "hello world (meta)");
    assert_eq!(response.headers().get("x-header").unwrap(), "h");
    assert_eq!(response.trailers().get("x-trailer").unwrap(), "t");
    // Protocol headers are not application metadata.
    assert!(response.headers().get("content-type").is_none());
    assert!(response.trailers().get("grpc-status").is_none());
}

#[tokio::test]
async fn unary_error_reaches_the_client_intact() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let status = bounded("failing call", client.say_hello(greeting("fail")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), FAILURE_MESSAGE);
    assert_eq!(status.details(), FAILURE_DETAILS);
}

#[tokio::test]
async fn server_streaming_delivers_many_messages_in_order_then_ok() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let mut replies = bounded("call", client.lots_of_replies(greeting(MANY.to_string())))
        .await
        .unwrap();
    let mut received = Vec::new();
    while let Some(reply) = bounded("next reply", replies.message()).await.unwrap() {
        received.push(reply.reply);
    }
    let expected: Vec<String> = (0..MANY).map(|i| i.to_string()).collect();
    assert_eq!(received, expected);
    assert!(
        replies.trailers().is_some(),
        "trailers arrive with the OK status"
    );
}

#[tokio::test]
async fn server_streaming_error_after_messages_keeps_the_messages() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let mut replies = bounded("call", client.lots_of_replies(greeting("3!")))
        .await
        .unwrap();
    let mut received = Vec::new();
    let status = loop {
        match bounded("next reply", replies.message()).await {
            Ok(Some(reply)) => received.push(reply.reply),
            Ok(None) => panic!("the stream ended OK, expected ABORTED"),
            Err(status) => break status,
        }
    };
    assert_eq!(received, ["0", "1", "2"]);
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), "stopped after 3");
    assert!(bounded("after error", replies.next()).await.is_none());
}

#[tokio::test]
async fn client_streaming_reads_many_messages_in_order() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let requests = rgrpc::stream::iter((0..MANY).map(|i| greeting(i.to_string())));
    let response = bounded("client streaming", client.lots_of_greetings(requests))
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, format!("{MANY} in order"));
}

#[tokio::test]
async fn bidi_ping_pong_gets_its_stream_before_sending_anything() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let (sender, receiver) = mpsc::channel(1);
    // The call must hand over its response stream before any request is sent: otherwise
    // a ping-pong (send only after receiving) could never start.
    let mut replies = bounded(
        "bidi start",
        client.bidi_hello(ReceiverStream::new(receiver)),
    )
    .await
    .unwrap();
    let headers = bounded("headers before any request", replies.headers())
        .await
        .unwrap();
    assert_eq!(headers.get("x-bidi").unwrap(), "ready");
    for i in 0..50 {
        sender.send(greeting(format!("ping {i}"))).await.unwrap();
        assert_eq!(next_reply("pong", &mut replies).await, format!("ping {i}"));
    }
    drop(sender);
    assert!(bounded("end", replies.message()).await.unwrap().is_none());
}

#[tokio::test]
async fn bidi_streams_many_messages_both_ways_concurrently() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let requests = rgrpc::stream::iter((0..MANY).map(|i| greeting(i.to_string())));
    let replies = bounded("bidi start", client.bidi_hello(requests))
        .await
        .unwrap();
    let received: Vec<String> = bounded(
        "all replies",
        replies.map(|reply| reply.unwrap().reply).collect(),
    )
    .await;
    let expected: Vec<String> = (0..MANY).map(|i| i.to_string()).collect();
    assert_eq!(received, expected);
}

#[tokio::test]
async fn dropping_a_unary_call_cancels_the_server_handler() {
    let (endless, mut starts, mut drops) = Endless::new();
    let server = Running::start(endless).await;
    let client = server.client().await;
    // Give up on the call once its handler runs: the future is dropped mid-flight.
    let call = client.say_hello(greeting("x")).into_future();
    tokio::select! {
        answer = call => panic!("the handler never answers, yet: {answer:?}"),
        started = bounded("the handler to start", starts.recv()) => {
            assert_eq!(started, Some("unary"));
        }
    }
    assert_eq!(
        bounded("handler dropped", drops.recv()).await,
        Some("unary")
    );
}

#[tokio::test]
async fn dropping_a_response_stream_cancels_the_server_handler() {
    let (endless, _starts, mut drops) = Endless::new();
    let server = Running::start(endless).await;
    let client = server.client().await;
    let mut replies = client.lots_of_replies(greeting("x")).await.unwrap();
    assert_eq!(next_reply("first reply", &mut replies).await, "more");
    drop(replies);
    assert_eq!(
        bounded("handler dropped", drops.recv()).await,
        Some("server streaming")
    );
}

#[tokio::test]
async fn methods_not_implemented_answer_unimplemented_in_every_kind() {
    let server = Running::start(NothingImplemented).await;
    let client = server.client().await;
    let unary = bounded("unary", client.say_hello(greeting("x")))
        .await
        .unwrap_err();
    assert_eq!(unary.code(), Code::Unimplemented);
    assert!(
        unary.message().contains("/hello.HelloService/SayHello"),
        "{unary:?}"
    );

    let mut stream = client.lots_of_replies(greeting("1")).await.unwrap();
    let status = bounded("server streaming", stream.message())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);

    let requests = rgrpc::stream::iter([greeting("a")]);
    let status = bounded("client streaming", client.lots_of_greetings(requests))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);

    let mut stream = client
        .bidi_hello(rgrpc::stream::iter([greeting("a")]))
        .await
        .unwrap();
    let status = bounded("bidi", stream.message()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

#[tokio::test]
async fn unknown_method_of_a_mounted_service_answers_unimplemented() {
    let server = Running::start(TestService).await;
    let channel = rgrpc::Channel::connect(format!("http://{}", server.addr))
        .await
        .unwrap();
    let raw = rgrpc::codegen::Client::new(channel);
    let call: rgrpc::codegen::UnaryCall<HelloRequest, HelloResponse> =
        raw.unary("/hello.HelloService/NoSuchMethod", greeting("x"));
    let status = bounded("unknown method", call).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().contains("NoSuchMethod"), "{status:?}");
}

#[tokio::test]
async fn generated_server_mounts_in_tonics_own_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(HelloServiceServer::new(TestService))
            .serve_with_incoming(incoming),
    );
    let channel = rgrpc::Channel::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let client = HelloServiceClient::new(channel);
    let response = bounded("unary via tonic", client.say_hello(greeting("tonic")))
        .await
        .unwrap();
    assert_eq!(response.get_ref().reply, "hello tonic (none)");
    server.abort();
}

#[tokio::test]
async fn client_is_cheap_to_clone_and_calls_run_concurrently() {
    let server = Running::start(TestService).await;
    let client = server.client().await;
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.say_hello(greeting(i.to_string())).await })
        })
        .collect();
    for (i, call) in calls.into_iter().enumerate() {
        let response = bounded("concurrent call", call).await.unwrap().unwrap();
        assert_eq!(response.get_ref().reply, format!("hello {i} (none)"));
    }
}

#[tokio::test]
async fn examples_generated_code_is_the_golden_file() {
    // `make gen` writes the example's copy; the golden test checks the fixture's copy.
    // Both come from the same proto and must never drift apart.
    assert_eq!(
        include_str!("../../examples/hello/src/generated/hello.rs"),
        include_str!("../../fixtures/hello/expected/hello.rs"),
        "run `make gen`"
    );
}

/// tonic's own client, ready, for calls the generated client would never make.
async fn raw_client(server: &Running) -> tonic::client::Grpc<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    grpc
}

/// A raw unary call with `header` set as given, bypassing the generated client (which
/// would never send a malformed header).
async fn raw_call_with_header(
    server: &Running,
    header: &'static str,
    value: &'static str,
) -> Status {
    let mut grpc = raw_client(server).await;
    let mut request = tonic::Request::new(greeting("x"));
    request
        .metadata_mut()
        .insert(header, MetadataValue::from_static(value));
    let path = rgrpc::codegen::http::uri::PathAndQuery::from_static("/hello.HelloService/SayHello");
    let codec = tonic_prost::ProstCodec::<HelloRequest, HelloResponse>::default();
    bounded("raw call", grpc.unary(request, path, codec))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_malformed_grpc_timeout_is_refused_with_internal() {
    let server = Running::start(TestService).await;
    let status = raw_call_with_header(&server, "grpc-timeout", "soon").await;
    assert_eq!(status.code(), Code::Internal, "{status:?}");
    assert!(
        status.message().contains("malformed grpc-timeout \"soon\""),
        "{status:?}"
    );
}

#[tokio::test]
async fn an_unsupported_message_encoding_is_refused_with_unimplemented() {
    let server = Running::start(TestService).await;
    let status = raw_call_with_header(&server, "grpc-encoding", "snappy").await;
    assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    assert!(status.message().contains("\"snappy\""), "{status:?}");
}

#[tokio::test]
async fn the_in_process_transport_serves_all_four_kinds_without_a_socket() {
    let server = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(TestService))
        .serve_in_process();
    let client = HelloServiceClient::new(server.channel());
    let response = bounded("unary", client.say_hello(greeting("local")))
        .await
        .unwrap();
    assert_eq!(response.get_ref().reply, "hello local (none)");
    let mut replies = client.lots_of_replies(greeting("3")).await.unwrap();
    for i in 0..3 {
        assert_eq!(next_reply("reply", &mut replies).await, i.to_string());
    }
    let requests = rgrpc::stream::iter((0..5).map(|i| greeting(i.to_string())));
    let counted = bounded("client streaming", client.lots_of_greetings(requests))
        .await
        .unwrap();
    assert_eq!(counted.get_ref().reply, "5 in order");
    let echoes = client
        .bidi_hello(rgrpc::stream::iter([greeting("a"), greeting("b")]))
        .await
        .unwrap();
    let echoes: Vec<String> = bounded("bidi", echoes.map(|m| m.unwrap().reply).collect()).await;
    assert_eq!(echoes, ["a", "b"]);
    bounded("shutdown", server.shutdown()).await.unwrap();
}

/// Sends its headers at once, then counts the requests: a call answered by one message that
/// still shows its initial metadata before reading anything.
struct EarlyHeaders;

impl HelloService for EarlyHeaders {
    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let mut headers = MetadataMap::new();
        headers.insert("x-early", MetadataValue::from_static("yes"));
        ctx.set_headers(headers)?;
        ctx.send_headers()?;
        let mut count = 0;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Ok(reply(count.to_string()))
    }
}

#[tokio::test]
async fn a_client_streaming_handler_can_send_headers_before_reading() {
    let server = Running::start(EarlyHeaders).await;
    let mut grpc = raw_client(&server).await;
    let (sender, requests) = mpsc::channel::<HelloRequest>(1);
    let path =
        rgrpc::codegen::http::uri::PathAndQuery::from_static("/hello.HelloService/LotsOfGreetings");
    let codec = tonic_prost::ProstCodec::<HelloRequest, HelloResponse>::default();
    // tonic's streaming call returns once the response headers are in: before any request.
    let response = bounded(
        "headers before any request",
        grpc.streaming(
            tonic::Request::new(ReceiverStream::new(requests)),
            path,
            codec,
        ),
    )
    .await
    .unwrap();
    assert_eq!(response.metadata().get("x-early").unwrap(), "yes");
    sender.send(greeting("a")).await.unwrap();
    sender.send(greeting("b")).await.unwrap();
    drop(sender);
    let mut body = response.into_inner();
    let answer = bounded("the answer", body.message())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.reply, "2");
}
