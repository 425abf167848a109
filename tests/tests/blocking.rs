//! The blocking client, from plain `#[test]` functions with no async runtime of their own:
//! all four kinds, deadlines, cancellation, a server that is gone, a client dropped
//! mid-stream and a call from inside an async runtime. Each body runs over TCP and over the
//! in-process transport.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use rgrpc::{CancellationToken, Code, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceBlockingClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};

/// Every wait on the server's reports is bounded by this, and handlers that hang sleep
/// this long.
const LIMIT: Duration = Duration::from_secs(20);
/// A deadline for calls whose outcome does not depend on getting anywhere before it.
const SHORT: Duration = Duration::from_millis(300);
/// The deadlines a test tries, shortest first, when its call must get somewhere before the
/// deadline passes (its handler, its first replies): when the deadline passes first, on a
/// machine too busy, the test starts again on a new server with the next one. The longest
/// is far above any honest call start (300 ms seen at worst, under heavy load).
const DEADLINES: [Duration; 3] = [
    Duration::from_millis(300),
    Duration::from_millis(1500),
    Duration::from_millis(7500),
];
/// How soon after its deadline a call must end: a hang detector, far above the honest
/// moments, and below the handlers' hang ([`LIMIT`]) even after the longest deadline.
const PROMPTLY: Duration = Duration::from_secs(10);

fn greeting(text: impl Into<String>) -> HelloRequest {
    HelloRequest {
        greeting: text.into(),
    }
}

fn reply(text: impl Into<String>) -> HelloResponse {
    HelloResponse { reply: text.into() }
}

/// Reports that a handler was stopped (its future dropped) before it returned.
struct Stopped(&'static str, mpsc::Sender<&'static str>);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.1.send(self.0);
    }
}

/// `hang` (unary) and `N hang` (server streaming) never finish by themselves; the
/// `started` channel hears when their handler starts, the `stopped` one when the runtime
/// stops them.
struct Echo {
    started: mpsc::Sender<&'static str>,
    stopped: mpsc::Sender<&'static str>,
}

impl HelloService for Echo {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        if request.greeting == "hang" {
            let signal = Stopped("unary", self.stopped.clone());
            let _ = self.started.send("unary");
            tokio::time::sleep(LIMIT).await;
            std::mem::forget(signal);
        }
        Ok(reply(format!("hello {}", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let (count, hang) = match request.greeting.split_once(' ') {
            Some((count, _)) => (count, true),
            None => (request.greeting.as_str(), false),
        };
        let signal = hang.then(|| {
            let _ = self.started.send("server streaming");
            Stopped("server streaming", self.stopped.clone())
        });
        for i in 0..count.parse().unwrap_or(0) {
            responses.send(reply(i.to_string())).await?;
        }
        if hang {
            tokio::time::sleep(LIMIT).await;
        }
        std::mem::forget(signal);
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let mut received = Vec::new();
        while let Some(request) = requests.message().await? {
            received.push(request.greeting);
        }
        Ok(reply(received.join(",")))
    }

    async fn bidi_hello(
        &self,
        _ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        while let Some(request) = requests.message().await? {
            responses.send(reply(request.greeting)).await?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    Tcp,
    InProcess,
}

/// A running server and a blocking client of it; the server stops when this is dropped.
struct Setup {
    client: HelloServiceBlockingClient,
    /// In a mutex so that a thread of the test's can wait on it.
    started: Mutex<mpsc::Receiver<&'static str>>,
    stopped: mpsc::Receiver<&'static str>,
    _server: Box<dyn std::any::Any>,
}

impl Setup {
    fn new(transport: Transport) -> Self {
        let (started_tx, started) = mpsc::channel();
        let started = Mutex::new(started);
        let (stopped_tx, stopped) = mpsc::channel();
        let router = rgrpc::Server::builder().add_service(HelloServiceServer::new(Echo {
            started: started_tx,
            stopped: stopped_tx,
        }));
        match transport {
            Transport::Tcp => {
                // The server runs on a runtime of the test's; the client needs none.
                let runtime = tokio::runtime::Runtime::new().unwrap();
                let listener = runtime
                    .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                    .unwrap();
                let addr = listener.local_addr().unwrap();
                runtime.spawn(router.serve_with_shutdown(listener, std::future::pending()));
                let channel = rgrpc::blocking::Channel::connect(format!("http://{addr}")).unwrap();
                Self {
                    client: HelloServiceBlockingClient::new(channel),
                    started,
                    stopped,
                    _server: Box::new(runtime),
                }
            }
            Transport::InProcess => {
                let (channel, server) = rgrpc::blocking::Channel::in_process(router).unwrap();
                Self {
                    client: HelloServiceBlockingClient::new(channel),
                    started,
                    stopped,
                    _server: Box::new(server),
                }
            }
        }
    }

    /// Whether the `kind` handler has started by now, without waiting.
    fn started_already(&self, kind: &str) -> bool {
        let started = self.started.lock().unwrap();
        std::iter::from_fn(|| started.try_recv().ok()).any(|started| started == kind)
    }

    fn expect_stopped(&self, kind: &str) {
        let stopped = self
            .stopped
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("the {kind} handler was never stopped"));
        assert_eq!(stopped, kind);
    }
}

fn all_four_kinds(transport: Transport) {
    let setup = Setup::new(transport);
    let client = &setup.client;

    let response = client.say_hello(greeting("world")).call().unwrap();
    assert_eq!(response.into_inner().reply, "hello world");

    let replies: Vec<String> = client
        .lots_of_replies(greeting("5"))
        .call()
        .unwrap()
        .map(|reply| reply.unwrap().reply)
        .collect();
    assert_eq!(replies, ["0", "1", "2", "3", "4"]);

    let names = vec![greeting("a"), greeting("b"), greeting("c")];
    let response = client.lots_of_greetings(names).call().unwrap();
    assert_eq!(response.into_inner().reply, "a,b,c");

    // A request iterator may block: it is drained on a thread of its own.
    let slow = (0..3).map(|i| {
        std::thread::sleep(Duration::from_millis(20));
        greeting(i.to_string())
    });
    let response = client.lots_of_greetings(slow).call().unwrap();
    assert_eq!(response.into_inner().reply, "0,1,2");
}

fn bidi_ping_pong_and_send_all_then_read(transport: Transport) {
    let setup = Setup::new(transport);
    let client = &setup.client;

    let (sender, mut replies) = client.bidi_hello().call().unwrap();
    for i in 0..20 {
        sender.send(greeting(format!("ping {i}"))).unwrap();
        assert_eq!(replies.next().unwrap().unwrap().reply, format!("ping {i}"));
    }
    sender.close();
    assert!(replies.next().is_none());
    assert!(replies.trailers().is_some());

    // Another thread sends everything and closes; this one reads.
    let (sender, replies) = client.bidi_hello().call().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..200 {
            sender.send(greeting(i.to_string())).unwrap();
        }
    });
    let received: Vec<String> = replies.map(|r| r.unwrap().reply).collect();
    writer.join().unwrap();
    let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
    assert_eq!(received, expected);
}

/// The call that started at `started` ended `after` it or later (never sooner), and not
/// long after that.
#[track_caller]
fn assert_prompt(started: Instant, after: Duration) {
    let elapsed = started.elapsed();
    assert!(
        elapsed >= after && elapsed < after + PROMPTLY,
        "took {elapsed:?}, expected about {after:?}"
    );
}

/// How an attempt of a test under one of [`DEADLINES`] went.
enum Attempt {
    /// The call got where it had to before the deadline, and the test checked everything.
    Done,
    /// The deadline passed before the call got there: try a longer one.
    TooSlow,
}

/// Runs `attempt` with each of [`DEADLINES`] in turn until one is [`Attempt::Done`].
fn with_deadlines(what: &str, mut attempt: impl FnMut(Duration) -> Attempt) {
    for deadline in DEADLINES {
        if let Attempt::Done = attempt(deadline) {
            return;
        }
    }
    panic!(
        "{what}: the call never got far enough before its deadline, even {:?}",
        DEADLINES[DEADLINES.len() - 1]
    );
}

/// A call ended with `status` before getting where it had to: it must be the deadline's
/// doing, and the deadline must really have passed.
#[track_caller]
fn too_slow(status: &Status, started: Instant, deadline: Duration) -> Attempt {
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_prompt(started, deadline);
    Attempt::TooSlow
}

fn deadlines(transport: Transport) {
    with_deadlines("unary", |deadline| {
        let setup = Setup::new(transport);
        let started = Instant::now();
        let status = setup
            .client
            .say_hello(greeting("hang"))
            .timeout(deadline)
            .call()
            .unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert_prompt(started, deadline);
        if !setup.started_already("unary") {
            return Attempt::TooSlow;
        }
        setup.expect_stopped("unary");
        Attempt::Done
    });

    with_deadlines("server streaming", |deadline| {
        let setup = Setup::new(transport);
        let started = Instant::now();
        let call = setup
            .client
            .lots_of_replies(greeting("2 hang"))
            .deadline(Instant::now() + deadline)
            .call();
        let mut replies = match call {
            Ok(replies) => replies,
            Err(status) => return too_slow(&status, started, deadline),
        };
        for expected in ["0", "1"] {
            match replies.next() {
                Some(Ok(reply)) => assert_eq!(reply.reply, expected),
                Some(Err(status)) => return too_slow(&status, started, deadline),
                None => panic!("the stream ended before reply {expected}"),
            }
        }
        let status = replies.next().unwrap().unwrap_err();
        assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
        assert_prompt(started, deadline);
        assert!(replies.next().is_none());
        setup.expect_stopped("server streaming");
        Attempt::Done
    });

    // An endless blocking iterator is cut off by the deadline too.
    let setup = Setup::new(transport);
    let client = &setup.client;
    let started = Instant::now();
    let endless = std::iter::repeat_with(|| {
        std::thread::sleep(Duration::from_millis(10));
        greeting("more")
    });
    let status = client
        .lots_of_greetings(endless)
        .timeout(SHORT)
        .call()
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert_prompt(started, SHORT);
}

fn cancellation_from_another_thread(transport: Transport) {
    let setup = Setup::new(transport);
    let token = CancellationToken::new();
    let status = std::thread::scope(|scope| {
        // Cancels once the handler runs, so the server has a call to stop.
        let (started, token) = (&setup.started, &token);
        let canceller = scope.spawn(move || {
            let handler = started.lock().unwrap().recv_timeout(LIMIT);
            assert_eq!(handler, Ok("unary"), "the handler never started");
            token.cancel();
        });
        let status = setup
            .client
            .say_hello(greeting("hang"))
            .cancellation(token.clone())
            .call()
            .unwrap_err();
        canceller.join().unwrap();
        status
    });
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    setup.expect_stopped("unary");
}

fn dropping_the_responses_mid_stream_cancels_the_call(transport: Transport) {
    let setup = Setup::new(transport);
    let mut replies = setup
        .client
        .lots_of_replies(greeting("1 hang"))
        .call()
        .unwrap();
    assert_eq!(replies.next().unwrap().unwrap().reply, "0");
    drop(replies);
    setup.expect_stopped("server streaming");
}

fn inside_an_async_runtime_it_refuses_instead_of_blocking(transport: Transport) {
    let setup = Setup::new(transport);
    let client = setup.client.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime
        .block_on(async { client.say_hello(greeting("x")).call() })
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("use the async client"),
        "{status:?}"
    );
    let refused =
        runtime.block_on(async { rgrpc::blocking::Channel::connect("http://127.0.0.1:1") });
    let message = refused.unwrap_err().to_string();
    assert!(
        message.starts_with("no channel to \"http://127.0.0.1:1\" was made: a blocking channel was created inside an async runtime"),
        "{message}"
    );
    assert!(!message.contains("cannot connect"), "{message}");
    // The same client still works from outside the runtime.
    assert!(client.say_hello(greeting("x")).call().is_ok());
}

fn message_size_limits(transport: Transport) {
    let setup = Setup::new(transport);
    let client = &setup.client;
    let long = "x".repeat(4096);

    // Per call, both directions: refused with RESOURCE_EXHAUSTED, the call never OK.
    let status = client
        .say_hello(greeting(long.clone()))
        .max_response_message_size(1024)
        .call()
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let status = client
        .say_hello(greeting(long.clone()))
        .max_request_message_size(1024)
        .call()
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    // Within the limits, the same call succeeds.
    let response = client
        .say_hello(greeting(long.clone()))
        .max_response_message_size(8192)
        .max_request_message_size(8192)
        .call()
        .unwrap();
    assert_eq!(
        response.into_inner().reply.len(),
        "hello ".len() + long.len()
    );
}

#[test]
fn a_blocking_client_level_size_limit_applies_to_every_call() {
    let router = rgrpc::Server::builder().add_service(HelloServiceServer::new(Echo {
        started: mpsc::channel().0,
        stopped: mpsc::channel().0,
    }));
    let (channel, _server) = rgrpc::blocking::Channel::in_process(router).unwrap();
    let client = HelloServiceBlockingClient::from_client(
        rgrpc::blocking::BlockingClient::new(channel).max_response_message_size(1024),
    );
    let status = client
        .say_hello(greeting("x".repeat(4096)))
        .call()
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(client.say_hello(greeting("small")).call().is_ok());
}

macro_rules! on_both_transports {
    ($($test:ident),* $(,)?) => {
        mod tcp {
            $( #[test] fn $test() { super::$test(super::Transport::Tcp) } )*
        }
        mod in_process {
            $( #[test] fn $test() { super::$test(super::Transport::InProcess) } )*
        }
    };
}

on_both_transports!(
    all_four_kinds,
    bidi_ping_pong_and_send_all_then_read,
    deadlines,
    cancellation_from_another_thread,
    dropping_the_responses_mid_stream_cancels_the_call,
    inside_an_async_runtime_it_refuses_instead_of_blocking,
    message_size_limits,
);

/// A port of 127.0.0.1 that refuses connections: bound, never listening, for as long as
/// this lives. (A port bound and released could be taken by anyone meanwhile, and then
/// accept the test's connections.)
struct ClosedPort {
    port: u16,
    _socket: tokio::net::TcpSocket,
}

impl ClosedPort {
    fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        Self {
            port,
            _socket: socket,
        }
    }
}

#[test]
fn a_server_that_is_gone_gives_unavailable() {
    let closed = ClosedPort::new();
    let uri = format!("http://127.0.0.1:{}", closed.port);
    let refused = rgrpc::blocking::Channel::connect(uri.clone()).unwrap_err();
    assert!(refused.to_string().contains("cannot connect"), "{refused}");

    let client = HelloServiceBlockingClient::new(rgrpc::blocking::Channel::lazy(uri).unwrap());
    let status = client
        .say_hello(greeting("x"))
        .timeout(LIMIT)
        .call()
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}
