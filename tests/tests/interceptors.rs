//! Async interceptors (`rgrpc::intercept`) on both sides of real calls over HTTP/2: a
//! server's reject calls before their handlers run, hand the handler what they learned,
//! set response metadata and hear how every call ended (status, how, messages counted);
//! a client's change the metadata asynchronously (a token refreshed once for many calls)
//! and hear of each attempt and each call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use rgrpc::intercept::{
    AttemptEnd, ClientCall, ClientCallEnd, ClientInterceptor, Ending, Messages, ServerCall,
    ServerCallEnd, ServerInterceptor,
};
use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::server::InterceptedService;
use rgrpc::{CancellationToken, Code, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::raw::{Raw, frame, request_to};
use support::scripted::{Scripted, Step, client_with, config};
use support::{Running, assert_fails, bounded, greeting, next_reply, reply};
use tokio::sync::{RwLock, mpsc};

/// Who the authenticating interceptor found the caller to be.
#[derive(Clone, Debug, PartialEq)]
struct Caller(String);

/// How a call ended, as a server interceptor heard it.
#[derive(Debug)]
struct Heard {
    method: String,
    registered: bool,
    code: Code,
    ending: Ending,
    sent: Messages,
    received: Messages,
    caller: Option<Caller>,
}

/// Records the order of its hooks in `trace`, sends each end it hears to `ends`, and
/// with `authenticate` rejects calls without a bearer token (naming the reason in the
/// response metadata).
struct Recorder {
    name: &'static str,
    authenticate: bool,
    trace: Arc<Mutex<Vec<String>>>,
    ends: mpsc::UnboundedSender<Heard>,
}

impl ServerInterceptor for Recorder {
    async fn before(&self, call: &mut ServerCall) -> Result<(), Status> {
        self.trace
            .lock()
            .unwrap()
            .push(format!("before {}", self.name));
        if !self.authenticate {
            return Ok(());
        }
        // Asynchronous, as a key lookup would be.
        tokio::task::yield_now().await;
        let token = (call.metadata().get("authorization"))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::to_owned);
        match token {
            Some(user) => {
                call.insert_extension(Caller(user));
                call.response_headers_mut()
                    .insert("x-checked-by", MetadataValue::from_static("recorder"));
                call.response_trailers_mut()
                    .insert("x-audit", MetadataValue::from_static("logged"));
                Ok(())
            }
            None => {
                call.response_trailers_mut()
                    .insert("x-reason", MetadataValue::from_static("no token"));
                Err(Status::unauthenticated("a bearer token is required"))
            }
        }
    }

    fn after(&self, end: &ServerCallEnd<'_>) {
        self.trace
            .lock()
            .unwrap()
            .push(format!("after {}", self.name));
        let _ = self.ends.send(Heard {
            method: end.method().to_owned(),
            registered: end.is_registered(),
            code: end.code(),
            ending: end.ending(),
            sent: end.sent(),
            received: end.received(),
            caller: end.extensions().get::<Caller>().cloned(),
        });
    }
}

/// A recorder, the trace its hooks write and the ends it hears.
fn recorder(
    name: &'static str,
    authenticate: bool,
    trace: &Arc<Mutex<Vec<String>>>,
) -> (Recorder, mpsc::UnboundedReceiver<Heard>) {
    let (ends, heard) = mpsc::unbounded_channel();
    let recorder = Recorder {
        name,
        authenticate,
        trace: trace.clone(),
        ends,
    };
    (recorder, heard)
}

async fn next_end(heard: &mut mpsc::UnboundedReceiver<Heard>) -> Heard {
    bounded("the end of a call", heard.recv()).await.unwrap()
}

/// Counts the calls its handlers enter; knows the caller from the context's extensions.
/// `sleep…` greetings wait until the call is cancelled, after saying they started.
#[derive(Clone, Default)]
struct Probe {
    entered: Arc<AtomicUsize>,
    started: Option<mpsc::UnboundedSender<String>>,
}

impl Probe {
    /// A probe that says which `sleep…` greetings started.
    fn telling() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (started, receiver) = mpsc::unbounded_channel();
        let probe = Self {
            started: Some(started),
            ..Self::default()
        };
        (probe, receiver)
    }

    fn enter(&self, ctx: &Context) -> String {
        self.entered.fetch_add(1, Ordering::SeqCst);
        (ctx.extensions().get::<Caller>()).map_or_else(|| "nobody".to_owned(), |c| c.0.clone())
    }

    fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }
}

impl HelloService for Probe {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let caller = self.enter(&ctx);
        if request.greeting.starts_with("sleep") {
            if let Some(started) = &self.started {
                let _ = started.send(request.greeting.clone());
            }
            ctx.cancelled().await;
        }
        Ok(reply(format!("{} from {caller}", request.greeting)))
    }

    /// Three replies.
    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        self.enter(&ctx);
        for n in 0..3 {
            responses
                .send(reply(format!("{} {n}", request.greeting)))
                .await?;
        }
        Ok(())
    }

    /// One reply counting the greetings.
    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        self.enter(&ctx);
        let mut count = 0;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Ok(reply(format!("{count} greetings")))
    }

    /// Echoes each greeting.
    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        self.enter(&ctx);
        while let Some(request) = requests.message().await? {
            responses.send(reply(request.greeting)).await?;
        }
        Ok(())
    }
}

/// Waits until the handler of the `sleep…` call `greeting` has started.
async fn wait_for_start(started: &mut mpsc::UnboundedReceiver<String>, greeting: &str) {
    bounded("the handler's start", async {
        while started.recv().await.unwrap() != greeting {}
    })
    .await;
}

fn authorized(mut metadata: MetadataMap) -> MetadataMap {
    metadata.insert("authorization", MetadataValue::from_static("Bearer ada"));
    metadata
}

#[tokio::test]
async fn a_rejected_call_never_reaches_its_handler_and_is_heard_ending() {
    let trace = Arc::default();
    let (auth, mut heard) = recorder("auth", true, &trace);
    let probe = Probe::default();
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(auth)
            .add_service(HelloServiceServer::new(probe.clone())),
    )
    .await;
    let client = server.client().await;

    let status = bounded("the refused call", client.say_hello(greeting("hi")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(status.metadata().get("x-reason").unwrap(), "no token");
    assert_eq!(probe.entered(), 0, "the handler of a rejected call ran");
    let end = next_end(&mut heard).await;
    assert_eq!(end.code, Code::Unauthenticated);
    assert_eq!(end.ending, Ending::Error);
    assert_eq!(end.received, Messages::default(), "{end:?}");

    let call = client
        .say_hello(greeting("hi"))
        .metadata(authorized(MetadataMap::new()));
    let response = bounded("the authorized call", call).await.unwrap();
    assert_eq!(response.get_ref().reply, "hi from ada");
    assert_eq!(response.headers().get("x-checked-by").unwrap(), "recorder");
    assert_eq!(response.trailers().get("x-audit").unwrap(), "logged");
    assert_eq!(probe.entered(), 1);
    let end = next_end(&mut heard).await;
    assert_eq!(end.code, Code::Ok);
    assert_eq!(end.ending, Ending::Ok);
    assert_eq!(end.caller, Some(Caller("ada".to_owned())));
    assert_eq!(end.method, "/hello.HelloService/SayHello");
    assert!(end.registered);
}

#[tokio::test]
async fn interceptors_run_in_order_and_hear_the_end_in_reverse() {
    let trace: Arc<Mutex<Vec<String>>> = Arc::default();
    let (first, mut first_heard) = recorder("server 1", false, &trace);
    let (second, _second_heard) = recorder("server 2", false, &trace);
    let (own, mut own_heard) = recorder("service", false, &trace);
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(first)
            .interceptor(second)
            .add_service(InterceptedService::new(
                HelloServiceServer::new(Probe::default()),
                own,
            )),
    )
    .await;
    let client = server.client().await;
    bounded("a call", client.say_hello(greeting("hi")))
        .await
        .unwrap();
    next_end(&mut own_heard).await;
    // The outermost interceptor hears the end last.
    next_end(&mut first_heard).await;
    assert_eq!(
        *trace.lock().unwrap(),
        [
            "before server 1",
            "before server 2",
            "before service",
            "after service",
            "after server 2",
            "after server 1",
        ]
    );
}

#[tokio::test]
async fn the_end_counts_the_messages_of_every_kind_of_call() {
    let trace = Arc::default();
    let (counter, mut heard) = recorder("counter", false, &trace);
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(counter)
            .add_service(HelloServiceServer::new(Probe::default())),
    )
    .await;
    let client = server.client().await;

    let request = greeting("hello");
    let response = bounded("unary", client.say_hello(request.clone()))
        .await
        .unwrap();
    let end = next_end(&mut heard).await;
    assert_eq!(
        (end.received.count, end.received.bytes),
        (1, request.encoded_len() as u64)
    );
    assert_eq!(
        (end.sent.count, end.sent.bytes),
        (1, response.get_ref().encoded_len() as u64)
    );

    let mut replies = bounded("server streaming", client.lots_of_replies(greeting("r")))
        .await
        .unwrap();
    let mut reply_bytes = 0;
    for _ in 0..3 {
        let text = next_reply("a reply", &mut replies).await;
        reply_bytes += reply(text).encoded_len() as u64;
    }
    assert!(
        bounded("the end", replies.message())
            .await
            .unwrap()
            .is_none()
    );
    let end = next_end(&mut heard).await;
    assert_eq!((end.sent.count, end.sent.bytes), (3, reply_bytes));
    assert_eq!(end.received.count, 1);

    let greetings: Vec<_> = (0..4).map(|n| greeting(format!("g{n}"))).collect();
    let greeting_bytes: u64 = greetings.iter().map(|g| g.encoded_len() as u64).sum();
    let response = bounded(
        "client streaming",
        client.lots_of_greetings(tokio_stream::iter(greetings)),
    )
    .await
    .unwrap();
    assert_eq!(response.get_ref().reply, "4 greetings");
    let end = next_end(&mut heard).await;
    assert_eq!(
        (end.received.count, end.received.bytes),
        (4, greeting_bytes)
    );
    assert_eq!(end.sent.count, 1);

    let mut echoes = bounded(
        "bidi",
        client.bidi_hello(tokio_stream::iter(
            (0..5).map(|n| greeting(format!("b{n}"))),
        )),
    )
    .await
    .unwrap();
    for n in 0..5 {
        assert_eq!(next_reply("an echo", &mut echoes).await, format!("b{n}"));
    }
    assert!(
        bounded("the end", echoes.message())
            .await
            .unwrap()
            .is_none()
    );
    let end = next_end(&mut heard).await;
    assert_eq!((end.sent.count, end.received.count), (5, 5));
    assert_eq!(end.ending, Ending::Ok);
}

#[tokio::test]
async fn the_end_is_heard_when_the_deadline_passes_or_the_client_cancels() {
    let trace = Arc::default();
    let (listener, mut heard) = recorder("listener", false, &trace);
    let (probe, mut started) = Probe::telling();
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(listener)
            .add_service(HelloServiceServer::new(probe.clone())),
    )
    .await;

    // The server's deadline, with a client that keeps waiting (no deadline of its own):
    // the server ends the call.
    let mut raw = Raw::connect(server.addr).await;
    let answer = raw
        .exchange(
            request_to("/hello.HelloService/SayHello", &[("grpc-timeout", "100m")]),
            &frame(&greeting("sleep")),
        )
        .await;
    answer.assert_status(Code::DeadlineExceeded, "deadline");
    let end = next_end(&mut heard).await;
    assert_eq!(end.code, Code::DeadlineExceeded);
    assert_eq!(end.ending, Ending::DeadlineExceeded);

    // The client cancels once the handler is running.
    let client = server.client().await;
    let token = CancellationToken::new();
    let call = tokio::spawn(
        client
            .say_hello(greeting("sleep again"))
            .cancellation(token.clone())
            .into_future(),
    );
    wait_for_start(&mut started, "sleep again").await;
    token.cancel();
    let status = bounded("the cancelled call", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled);
    let end = next_end(&mut heard).await;
    assert_eq!(end.ending, Ending::Cancelled, "{end:?}");
    assert_eq!(end.code, Code::Cancelled);
}

/// Never lets a call through: its `before` waits forever.
struct Stuck;

impl ServerInterceptor for Stuck {
    async fn before(&self, _call: &mut ServerCall) -> Result<(), Status> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn an_interceptor_that_hangs_is_cut_off_by_the_deadline() {
    let trace = Arc::default();
    let (listener, mut heard) = recorder("listener", false, &trace);
    let probe = Probe::default();
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(listener)
            .interceptor(Stuck)
            .add_service(HelloServiceServer::new(probe.clone())),
    )
    .await;
    let mut raw = Raw::connect(server.addr).await;
    let answer = raw
        .exchange(
            request_to("/hello.HelloService/SayHello", &[("grpc-timeout", "100m")]),
            &frame(&greeting("hi")),
        )
        .await;
    answer.assert_status(Code::DeadlineExceeded, "deadline");
    let end = next_end(&mut heard).await;
    assert_eq!(end.ending, Ending::DeadlineExceeded);
    assert_eq!(probe.entered(), 0);
}

#[tokio::test]
async fn calls_to_unknown_methods_and_other_protocols_are_intercepted() {
    let trace = Arc::default();
    let (auth, mut heard) = recorder("auth", true, &trace);
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(auth)
            .add_service(HelloServiceServer::new(Probe::default())),
    )
    .await;

    // A method nobody serves: rejected first, unregistered.
    let mut raw = Raw::connect(server.addr).await;
    let answer = raw
        .exchange(
            request_to("/hello.HelloService/Nope", &[]),
            &frame(&greeting("hi")),
        )
        .await;
    answer.assert_status(Code::Unauthenticated, "bearer");
    let end = next_end(&mut heard).await;
    assert!(!end.registered, "{end:?}");
    // Let through, it is answered UNIMPLEMENTED.
    let answer = raw
        .exchange(
            request_to("/nobody.Serves/This", &[("authorization", "Bearer ada")]),
            &frame(&greeting("hi")),
        )
        .await;
    answer.assert_status(Code::Unimplemented, "nobody.Serves");
    let end = next_end(&mut heard).await;
    assert_eq!((end.registered, end.code), (false, Code::Unimplemented));

    // Connect over HTTP/1.1 meets the same interceptor.
    let channel = rgrpc::Channel::builder(format!("http://{}", server.addr))
        .protocol(rgrpc::Protocol::Connect)
        .http1()
        .connect()
        .await
        .unwrap();
    let client = HelloServiceClient::new(channel);
    assert_fails(
        "a Connect call without a token",
        client.say_hello(greeting("hi")),
        Code::Unauthenticated,
        "bearer",
    )
    .await;
    let call = client
        .say_hello(greeting("hi"))
        .metadata(authorized(MetadataMap::new()));
    let response = bounded("a Connect call", call).await.unwrap();
    assert_eq!(response.get_ref().reply, "hi from ada");
    next_end(&mut heard).await;
    let end = next_end(&mut heard).await;
    assert_eq!(
        (end.code, end.received.count, end.sent.count),
        (Code::Ok, 1, 1)
    );
}

/// A token cache: the first call to find it empty fetches a token (slowly, and counted);
/// the calls that arrive meanwhile wait for that fetch instead of starting their own.
#[derive(Default)]
struct TokenCache {
    token: RwLock<Option<String>>,
    fetches: AtomicUsize,
}

impl TokenCache {
    async fn token(&self) -> String {
        if let Some(token) = self.token.read().await.as_ref() {
            return token.clone();
        }
        let mut slot = self.token.write().await;
        if let Some(token) = slot.as_ref() {
            return token.clone();
        }
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let token = format!("token-{n}");
        *slot = Some(token.clone());
        token
    }
}

struct BearerToken(Arc<TokenCache>);

impl ClientInterceptor for BearerToken {
    async fn before(&self, call: &mut ClientCall) -> Result<(), Status> {
        let token = self.0.token().await;
        call.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        Ok(())
    }
}

#[tokio::test]
async fn a_token_is_fetched_once_for_a_hundred_concurrent_calls() {
    let trace = Arc::default();
    let (auth, _heard) = recorder("auth", true, &trace);
    let probe = Probe::default();
    let server = Running::serve(
        rgrpc::Server::builder()
            .interceptor(auth)
            .add_service(HelloServiceServer::new(probe.clone())),
    )
    .await;
    let cache = Arc::new(TokenCache::default());
    let channel = rgrpc::Channel::builder(format!("http://{}", server.addr))
        .interceptor(BearerToken(cache.clone()))
        .connect()
        .await
        .unwrap();
    let client = HelloServiceClient::new(channel);
    let calls: Vec<_> = (0..100)
        .map(|n| {
            tokio::spawn(
                client
                    .say_hello(greeting(format!("call {n}")))
                    .into_future(),
            )
        })
        .collect();
    for (n, call) in calls.into_iter().enumerate() {
        let response = bounded("a call", call).await.unwrap().unwrap();
        assert_eq!(response.get_ref().reply, format!("call {n} from token-1"));
    }
    assert_eq!(cache.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(probe.entered(), 100);
}

/// What a client interceptor heard, in order.
#[derive(Clone, Default)]
struct Listener(Arc<Mutex<Vec<String>>>);

impl Listener {
    fn heard(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl ClientInterceptor for Listener {
    fn attempt_started(&self, attempt: &rgrpc::intercept::AttemptStart<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("attempt {} started", attempt.number()));
    }

    fn attempt_ended(&self, attempt: &AttemptEnd<'_>) {
        self.0.lock().unwrap().push(format!(
            "attempt {} ended {:?} sent {}",
            attempt.number(),
            attempt.code(),
            attempt.sent().count
        ));
    }

    fn after(&self, end: &ClientCallEnd<'_>) {
        self.0.lock().unwrap().push(format!(
            "call ended {:?} {:?} after {} attempts",
            end.code(),
            end.ending(),
            end.attempts()
        ));
    }
}

#[tokio::test]
async fn a_client_interceptor_hears_each_attempt_of_a_retried_call() {
    let service = Scripted::new(|n| match n {
        0 => Step::Fail(Code::Unavailable, None),
        _ => Step::Succeed,
    });
    let server = Running::start(service.clone()).await;
    let (_, channel) = client_with(
        &server,
        config(
            r#"{"methodConfig": [{"name": [{}], "retryPolicy": {
                "maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.01s",
                "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#,
        ),
        None,
    )
    .await;
    let listener = Listener::default();
    let client = HelloServiceClient::from_client(
        rgrpc::client::Client::new(channel).interceptor(listener.clone()),
    );
    bounded("a retried call", client.say_hello(greeting("hi")))
        .await
        .unwrap();
    assert_eq!(
        listener.heard(),
        [
            "attempt 0 started",
            "attempt 0 ended Unavailable sent 1",
            "attempt 1 started",
            "attempt 1 ended Ok sent 1",
            "call ended Ok Ok after 2 attempts",
        ]
    );
}

/// Rejects every call before it is sent.
struct Offline;

impl ClientInterceptor for Offline {
    async fn before(&self, _call: &mut ClientCall) -> Result<(), Status> {
        Err(Status::failed_precondition("offline mode"))
    }
}

#[tokio::test]
async fn a_client_interceptor_can_refuse_a_call_and_hears_deadlines_and_cancellations() {
    let (probe, mut started) = Probe::telling();
    let server = Running::start(probe.clone()).await;
    let channel = rgrpc::Channel::connect(format!("http://{}", server.addr))
        .await
        .unwrap();

    let listener = Listener::default();
    let refusing = HelloServiceClient::from_client(
        rgrpc::client::Client::new(channel.clone())
            .interceptor(listener.clone())
            .interceptor(Offline),
    );
    assert_fails(
        "a refused call",
        refusing.say_hello(greeting("hi")),
        Code::FailedPrecondition,
        "offline",
    )
    .await;
    assert_eq!(probe.entered(), 0, "a refused call reached the server");
    assert_eq!(
        listener.heard(),
        ["call ended FailedPrecondition Error after 0 attempts"]
    );

    let listener = Listener::default();
    let client = HelloServiceClient::from_client(
        rgrpc::client::Client::new(channel).interceptor(listener.clone()),
    );
    assert_fails(
        "a call past its deadline",
        client
            .say_hello(greeting("sleep"))
            .timeout(Duration::from_millis(100)),
        Code::DeadlineExceeded,
        "",
    )
    .await;
    let token = CancellationToken::new();
    let call = tokio::spawn(
        client
            .say_hello(greeting("sleep 2"))
            .cancellation(token.clone())
            .into_future(),
    );
    wait_for_start(&mut started, "sleep 2").await;
    token.cancel();
    let status = bounded("the cancelled call", call)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(status.code(), Code::Cancelled);
    let heard = listener.heard();
    assert_eq!(
        heard,
        [
            "attempt 0 started",
            "attempt 0 ended DeadlineExceeded sent 1",
            "call ended DeadlineExceeded DeadlineExceeded after 1 attempts",
            "attempt 0 started",
            "attempt 0 ended Cancelled sent 1",
            "call ended Cancelled Cancelled after 1 attempts",
        ],
        "{heard:#?}"
    );
}

#[test]
fn the_blocking_client_runs_the_same_chain() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(Running::start(Probe::default()));
    let channel = rgrpc::blocking::Channel::connect(format!("http://{}", server.addr)).unwrap();
    let cache = Arc::new(TokenCache::default());
    let listener = Listener::default();
    let client = rgrpc_tests::hello::hello_service_client::HelloServiceBlockingClient::from_client(
        rgrpc::blocking::BlockingClient::new(channel)
            .interceptor(BearerToken(cache.clone()))
            .interceptor(listener.clone()),
    );
    let response = client.say_hello(greeting("hi")).call().unwrap();
    assert_eq!(response.get_ref().reply, "hi from nobody");
    assert_eq!(cache.fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        listener.heard(),
        [
            "attempt 0 started",
            "attempt 0 ended Ok sent 1",
            "call ended Ok Ok after 1 attempts",
        ]
    );
    drop(server);
}

/// Says that its `before` started, then never finishes it.
struct Hanging {
    started: mpsc::UnboundedSender<()>,
    heard: Listener,
}

impl ClientInterceptor for Hanging {
    async fn before(&self, _call: &mut ClientCall) -> Result<(), Status> {
        let _ = self.started.send(());
        std::future::pending().await
    }

    fn after(&self, end: &ClientCallEnd<'_>) {
        self.heard.after(end);
    }
}

#[tokio::test]
async fn a_call_dropped_while_its_interceptor_runs_is_heard_cancelled() {
    let probe = Probe::default();
    let server = Running::start(probe.clone()).await;
    let channel = rgrpc::Channel::connect(format!("http://{}", server.addr))
        .await
        .unwrap();
    let (started, mut before_started) = mpsc::unbounded_channel();
    let heard = Listener::default();
    let client =
        HelloServiceClient::from_client(rgrpc::client::Client::new(channel).interceptor(Hanging {
            started,
            heard: heard.clone(),
        }));
    let call = tokio::spawn(client.say_hello(greeting("hi")).into_future());
    bounded("the interceptor's start", before_started.recv())
        .await
        .unwrap();
    call.abort();
    assert!(bounded("the dropped call", call).await.is_err());
    assert_eq!(
        heard.heard(),
        ["call ended Cancelled Cancelled after 0 attempts"]
    );
    assert_eq!(probe.entered(), 0);
}
