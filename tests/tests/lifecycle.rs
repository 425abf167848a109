//! The RPC lifecycle contract (deadlines, cancellation, metadata, status, propagation),
//! row by row, through the generated client and server over HTTP/2 — on both transports:
//! every test body below takes a [`Transport`], and `on_both_transports!` runs it once
//! over TCP on 127.0.0.1 (`tcp::…`) and once in process, over in-memory pipes
//! (`in_process::…`). The two must behave identically.
//!
//! Handlers report what happens to them through a [`Probe`]: that they started, whether
//! they returned or were stopped (their future dropped), whether a task they handed the
//! cancellation signal to saw it fire, and how many are alive. Time bounds only catch hangs
//! (a deadline must end the call within 10 s of passing, where a handler ignoring it would
//! hold the call 20 s); precise latencies are benchmarks.
//!
//! A test whose call must get somewhere before its deadline (to its handler, or through a
//! few messages) retries with a longer deadline when the machine was too slow for that:
//! see [`DEADLINES`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::stream::StreamExt;
use rgrpc::{
    CancellationToken, Code, Compression, Context, RequestStream, ResponseSink, ResponseStream,
    Status,
};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::HelloService;
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{
    LIMIT, Running, Transport, assert_fails, assert_status, bounded, greeting, next_reply, reply,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// A deadline for calls whose outcome does not depend on getting anywhere before it.
const SHORT: Duration = Duration::from_millis(300);
/// The deadlines a test tries, shortest first, when its call must get somewhere before the
/// deadline passes: reach its handler, or exchange a few messages. When the deadline passes
/// first (a machine too busy: calls took up to 300 ms to reach their handler at nice 10
/// under a load average of 8), the call ends as it should but proves nothing, and the test
/// starts again on a new server with the next deadline. The shortest keeps the suite fast;
/// the longest is far above any honest call start, and far below the handlers' hang.
const DEADLINES: [Duration; 3] = [
    Duration::from_millis(300),
    Duration::from_millis(1500),
    Duration::from_millis(7500),
];
/// What `grpc-timeout` may lose of a timeout: it has at most 8 digits, so a timeout of a few
/// seconds travels in microseconds.
const ROUNDING: Duration = Duration::from_millis(1);
/// How soon after a deadline or cancellation the caller must have its status: a hang
/// detector, far above the honest moments and well below the handlers' hang ([`LIMIT`]), so
/// a call whose deadline is not enforced fails here even after the longest of [`DEADLINES`].
const PROMPTLY: Duration = Duration::from_secs(10);

/// Runs each named test body once per transport, as `tcp::<name>` and `in_process::<name>`.
macro_rules! on_both_transports {
    ($($test:ident),* $(,)?) => {
        mod tcp {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::Transport::Tcp).await
                }
            )*
        }
        mod in_process {
            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(super::Transport::InProcess).await
                }
            )*
        }
    };
}

on_both_transports!(
    the_deadline_travels_to_the_handler,
    deadline_while_waiting_for_the_unary_response,
    deadline_mid_server_stream,
    deadline_mid_client_stream,
    deadline_mid_bidi,
    independent_termination_server_ok_client_deadline_exceeded,
    cancel_after_begin_in_every_kind_stops_the_handler,
    cancel_after_the_first_response_stops_the_handler,
    a_call_cancelled_or_expired_before_it_starts_sends_nothing,
    the_server_may_end_a_stream_with_any_status,
    trailing_metadata_arrives_on_ok_in_every_kind,
    binary_metadata_round_trips_as_headers_and_trailers,
    all_seventeen_status_codes_round_trip_with_message_and_details,
    gzip_compressed_requests_are_served,
    cancelling_the_first_caller_stops_the_last_handler_of_a_chain,
    a_deadline_propagates_down_a_chain,
    no_task_or_stream_is_left_behind,
);

/// What a handler reports.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Entered(&'static str),
    /// The handler's future was dropped before it returned: the runtime stopped it.
    Stopped(&'static str),
    Returned(&'static str),
    /// A task holding the call's cancellation token saw it fire.
    CancelObserved(&'static str),
    /// The time remaining before the deadline when the handler started.
    Deadline(&'static str, Option<Duration>),
}

#[derive(Clone)]
struct Probe {
    live: Arc<AtomicUsize>,
    seen: mpsc::UnboundedSender<Seen>,
}

/// The test's side of a probe.
struct Observer {
    live: Arc<AtomicUsize>,
    seen: mpsc::UnboundedReceiver<Seen>,
    history: Vec<Seen>,
}

fn probe() -> (Probe, Observer) {
    let (seen, events) = mpsc::unbounded_channel();
    let live = Arc::new(AtomicUsize::new(0));
    (
        Probe {
            live: live.clone(),
            seen,
        },
        Observer {
            live,
            seen: events,
            history: Vec::new(),
        },
    )
}

/// Alive while a handler runs; reports how it ended.
struct Handling {
    probe: Probe,
    name: &'static str,
    returned: bool,
}

impl Probe {
    fn enter(&self, name: &'static str, ctx: &Context) -> Handling {
        self.live.fetch_add(1, Ordering::SeqCst);
        let _ = self.seen.send(Seen::Entered(name));
        let _ = self.seen.send(Seen::Deadline(name, ctx.time_remaining()));
        // Work the handler hands its cancellation signal to, as real handlers would.
        let token = ctx.cancellation_token();
        let seen = self.seen.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            let _ = seen.send(Seen::CancelObserved(name));
        });
        Handling {
            probe: self.clone(),
            name,
            returned: false,
        }
    }
}

impl Handling {
    fn returned(mut self) {
        self.returned = true;
    }
}

impl Drop for Handling {
    fn drop(&mut self) {
        self.probe.live.fetch_sub(1, Ordering::SeqCst);
        let seen = if self.returned {
            Seen::Returned(self.name)
        } else {
            Seen::Stopped(self.name)
        };
        let _ = self.probe.seen.send(seen);
    }
}

impl Observer {
    /// Waits until `wanted` has been reported (now or earlier).
    async fn expect(&mut self, wanted: Seen) {
        if self.history.contains(&wanted) {
            return;
        }
        let found = tokio::time::timeout(LIMIT, async {
            while let Some(seen) = self.seen.recv().await {
                self.history.push(seen.clone());
                if seen == wanted {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            found,
            Ok(true),
            "never saw {wanted:?}; saw {:?}",
            self.history
        );
    }

    /// Waits until the runtime has stopped `kind`'s handler (dropped it before it returned)
    /// and fired its cancellation token.
    async fn expect_stopped(&mut self, kind: &'static str) {
        self.expect(Seen::Stopped(kind)).await;
        self.expect(Seen::CancelObserved(kind)).await;
    }

    /// Whether `wanted` has been reported by now, without waiting.
    fn reported(&mut self, wanted: &Seen) -> bool {
        while let Ok(seen) = self.seen.try_recv() {
            self.history.push(seen);
        }
        self.history.contains(wanted)
    }

    /// The deadline handler `name` saw.
    async fn deadline_of(&mut self, name: &'static str) -> Option<Duration> {
        loop {
            if let Some(deadline) = self.history.iter().find_map(|seen| match seen {
                Seen::Deadline(n, d) if *n == name => Some(*d),
                _ => None,
            }) {
                return deadline;
            }
            let seen = bounded("a deadline report", self.seen.recv()).await;
            self.history.push(seen.expect("probe open"));
        }
    }

    /// Waits until no handler is running any more.
    async fn all_done(&self) {
        bounded("all handlers to end", async {
            while self.live.load(Ordering::SeqCst) != 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    }
}

/// The service under test; behaviour is chosen by the request text:
/// * unary: `hang` never answers; `code N` fails with status code N; `echo-bin` echoes the
///   `x-blob-bin` request metadata into headers and trailers; anything else answers OK;
/// * server streaming `N MODE`: sends N replies, then `hang`s, returns `ok`, or `cancel`s;
/// * client streaming: counts requests until the client half-closes;
/// * bidi: sends headers at once, echoes each request; `fail` ends the call with ABORTED.
///
/// Every OK answer carries the trailer `x-outcome: ok`.
struct Scripted {
    probe: Probe,
}

impl Scripted {
    fn ok_trailer(ctx: &Context) {
        let mut trailers = MetadataMap::new();
        trailers.insert("x-outcome", MetadataValue::from_static("ok"));
        ctx.set_trailers(trailers);
    }
}

const UNARY: &str = "unary";
const SERVER_STREAMING: &str = "server streaming";
const CLIENT_STREAMING: &str = "client streaming";
const BIDI: &str = "bidi";

impl HelloService for Scripted {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let handling = self.probe.enter(UNARY, &ctx);
        let text = request.greeting;
        if text == "hang" {
            tokio::time::sleep(LIMIT).await;
        }
        if let Some(code) = text.strip_prefix("code ") {
            let code: i32 = code.parse().unwrap();
            let mut trailers = MetadataMap::new();
            trailers.insert("x-code", code.to_string().parse().unwrap());
            ctx.set_trailers(trailers);
            handling.returned();
            return Err(Status::with_details(
                Code::from_i32(code),
                status_message(code),
                status_details(code).into(),
            ));
        }
        if text == "echo-bin" {
            let blob = ctx.metadata().get_bin("x-blob-bin").unwrap().clone();
            let mut headers = MetadataMap::new();
            headers.insert_bin("x-blob-bin", blob.clone());
            ctx.set_headers(headers)?;
            let mut trailers = MetadataMap::new();
            trailers.insert_bin("x-blob-bin", blob);
            ctx.set_trailers(trailers);
        }
        Self::ok_trailer(&ctx);
        handling.returned();
        Ok(reply(text))
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let handling = self.probe.enter(SERVER_STREAMING, &ctx);
        let (count, mode) = request.greeting.split_once(' ').unwrap();
        for i in 0..count.parse().unwrap() {
            responses.send(reply(format!("{i}"))).await?;
        }
        match mode {
            "hang" => tokio::time::sleep(LIMIT).await,
            "cancel" => {
                handling.returned();
                return Err(Status::cancelled("the server gave up"));
            }
            _ => {}
        }
        Self::ok_trailer(&ctx);
        handling.returned();
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let handling = self.probe.enter(CLIENT_STREAMING, &ctx);
        let mut count = 0;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Self::ok_trailer(&ctx);
        handling.returned();
        Ok(reply(count.to_string()))
    }

    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let handling = self.probe.enter(BIDI, &ctx);
        ctx.send_headers()?;
        while let Some(request) = requests.message().await? {
            if request.greeting == "fail" {
                let mut trailers = MetadataMap::new();
                trailers.insert("x-why", MetadataValue::from_static("asked to"));
                ctx.set_trailers(trailers);
                handling.returned();
                return Err(Status::aborted("failing mid-stream, as asked"));
            }
            responses.send(reply(request.greeting)).await?;
        }
        Self::ok_trailer(&ctx);
        handling.returned();
        Ok(())
    }
}

fn status_message(code: i32) -> String {
    format!("código {code}: ünïcødé ✓ 100% <&> \"quoted\"\nline two")
}

fn status_details(code: i32) -> Vec<u8> {
    vec![u8::try_from(code).unwrap(), 0, 255, b'\n']
}

async fn scripted(
    transport: Transport,
) -> (Running<Option<SocketAddr>>, HelloServiceClient, Observer) {
    let (probe, observer) = probe();
    let server = Running::start_on(transport, Scripted { probe }).await;
    let client = server.client().await;
    (server, client, observer)
}

/// A request stream the test controls: messages go out as they are sent, and it stays open
/// until the sender is dropped.
fn open_requests() -> (mpsc::Sender<HelloRequest>, ReceiverStream<HelloRequest>) {
    let (sender, receiver) = mpsc::channel(16);
    (sender, ReceiverStream::new(receiver))
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

/// An attempt of a test under one of [`DEADLINES`] whose deadline passed before the call got
/// where it had to: the call ended as it should but proves nothing; try a longer deadline.
struct TooSlow;

/// Runs `attempt` with each of [`DEADLINES`] in turn until one gets where it had to.
async fn with_deadlines<F, Fut>(what: &str, mut attempt: F)
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<(), TooSlow>>,
{
    for deadline in DEADLINES {
        if attempt(deadline).await.is_ok() {
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
fn too_slow(status: &Status, started: Instant, deadline: Duration) -> TooSlow {
    assert_status(status, Code::DeadlineExceeded, "");
    assert_prompt(started, deadline);
    TooSlow
}

/// Awaits `call`, which the deadline must end: DEADLINE_EXCEEDED, no sooner than `deadline`
/// after `started`, and promptly.
async fn assert_expired<T: std::fmt::Debug>(
    what: &str,
    call: impl IntoFuture<Output = Result<T, Status>>,
    started: Instant,
    deadline: Duration,
) {
    assert_fails(what, call, Code::DeadlineExceeded, "").await;
    assert_prompt(started, deadline);
}

/// The next reply, which must say `expected`, unless the deadline ended the call first.
async fn reply_before_deadline(
    what: &str,
    replies: &mut ResponseStream<HelloResponse>,
    expected: &str,
    started: Instant,
    deadline: Duration,
) -> Result<(), TooSlow> {
    match bounded(what, replies.message()).await {
        Ok(Some(reply)) => {
            assert_eq!(reply.reply, expected, "{what}");
            Ok(())
        }
        Ok(None) => panic!("{what}: the stream ended before reply {expected:?}"),
        Err(status) => Err(too_slow(&status, started, deadline)),
    }
}

// ---- deadlines ------------------------------------------------------------------------

/// The unary handler saw the deadline of the call that started at `started` and has just
/// ended: `deadline` less the time the call took to reach it, which is at most the time the
/// whole call took (give or take the header's microsecond rounding).
async fn assert_deadline_seen(observer: &mut Observer, started: Instant, deadline: Duration) {
    let took = started.elapsed();
    let remaining = observer.deadline_of(UNARY).await.unwrap();
    assert!(
        remaining + took + ROUNDING >= deadline && remaining <= deadline,
        "the handler saw {remaining:?} of {deadline:?}; the call took {took:?}"
    );
}

async fn the_deadline_travels_to_the_handler(transport: Transport) {
    let (_server, client, mut observer) = scripted(transport).await;
    let started = Instant::now();
    client
        .say_hello(greeting("a"))
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    assert_deadline_seen(&mut observer, started, Duration::from_secs(5)).await;

    let (_server, client, mut observer) = scripted(transport).await;
    let started = Instant::now();
    client
        .say_hello(greeting("a"))
        .deadline(Instant::now() + Duration::from_secs(3))
        .timeout(Duration::from_secs(60))
        .await
        .unwrap();
    // The earlier of timeout and deadline applies.
    assert_deadline_seen(&mut observer, started, Duration::from_secs(3)).await;

    let (_server, client, mut observer) = scripted(transport).await;
    client.say_hello(greeting("a")).await.unwrap();
    assert_eq!(observer.deadline_of(UNARY).await, None);
}

async fn deadline_while_waiting_for_the_unary_response(transport: Transport) {
    with_deadlines("unary", |deadline| async move {
        let (_server, client, mut observer) = scripted(transport).await;
        let started = Instant::now();
        assert_expired(
            "call",
            client.say_hello(greeting("hang")).timeout(deadline),
            started,
            deadline,
        )
        .await;
        if !observer.reported(&Seen::Entered(UNARY)) {
            return Err(TooSlow);
        }
        observer.expect_stopped(UNARY).await;
        observer.all_done().await;
        Ok(())
    })
    .await;
}

async fn deadline_mid_server_stream(transport: Transport) {
    with_deadlines("server streaming", |deadline| async move {
        let (_server, client, mut observer) = scripted(transport).await;
        let started = Instant::now();
        let call = client.lots_of_replies(greeting("2 hang")).timeout(deadline);
        let mut replies = match bounded("call", call).await {
            Ok(replies) => replies,
            Err(status) => return Err(too_slow(&status, started, deadline)),
        };
        for expected in ["0", "1"] {
            reply_before_deadline("a reply", &mut replies, expected, started, deadline).await?;
        }
        assert_expired("deadline", replies.message(), started, deadline).await;
        assert!(bounded("after", replies.next()).await.is_none());
        observer.expect_stopped(SERVER_STREAMING).await;
        observer.all_done().await;
        Ok(())
    })
    .await;
}

async fn deadline_mid_client_stream(transport: Transport) {
    with_deadlines("client streaming", |deadline| async move {
        let (_server, client, mut observer) = scripted(transport).await;
        let (sender, requests) = open_requests();
        for i in 0..3 {
            sender.send(greeting(i.to_string())).await.unwrap();
        }
        let started = Instant::now();
        // The sender stays alive: the client is still "sending" when the deadline passes.
        assert_expired(
            "call",
            client.lots_of_greetings(requests).timeout(deadline),
            started,
            deadline,
        )
        .await;
        if !observer.reported(&Seen::Entered(CLIENT_STREAMING)) {
            return Err(TooSlow);
        }
        observer.expect_stopped(CLIENT_STREAMING).await;
        observer.all_done().await;
        drop(sender);
        Ok(())
    })
    .await;
}

async fn deadline_mid_bidi(transport: Transport) {
    with_deadlines("bidi", |deadline| async move {
        let (_server, client, mut observer) = scripted(transport).await;
        let (sender, requests) = open_requests();
        let started = Instant::now();
        let mut replies = match bounded("call", client.bidi_hello(requests).timeout(deadline)).await
        {
            Ok(replies) => replies,
            Err(status) => return Err(too_slow(&status, started, deadline)),
        };
        sender.send(greeting("ping")).await.unwrap();
        reply_before_deadline("pong", &mut replies, "ping", started, deadline).await?;
        assert_expired("deadline", replies.message(), started, deadline).await;
        observer.expect_stopped(BIDI).await;
        observer.all_done().await;
        Ok(())
    })
    .await;
}

async fn independent_termination_server_ok_client_deadline_exceeded(transport: Transport) {
    with_deadlines(
        "server OK, client past its deadline",
        |deadline| async move {
            let (_server, client, mut observer) = scripted(transport).await;
            let started = Instant::now();
            let call = client.lots_of_replies(greeting("1 ok")).timeout(deadline);
            let mut replies = match bounded("call", call).await {
                Ok(replies) => replies,
                Err(status) => return Err(too_slow(&status, started, deadline)),
            };
            reply_before_deadline("a reply", &mut replies, "0", started, deadline).await?;
            // The server finishes with OK (unless its own deadline passed first: too slow) …
            bounded("the handler to end", async {
                while !observer.reported(&Seen::Returned(SERVER_STREAMING)) {
                    if observer.reported(&Seen::Stopped(SERVER_STREAMING)) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
            .await;
            if !observer.reported(&Seen::Returned(SERVER_STREAMING)) {
                return Err(TooSlow);
            }
            // … but the client looks again only after its deadline: for it, the call timed out.
            tokio::time::sleep(deadline + Duration::from_millis(100)).await;
            assert_fails("late read", replies.message(), Code::DeadlineExceeded, "").await;
            observer.all_done().await;
            Ok(())
        },
    )
    .await;
}

// ---- cancellation ---------------------------------------------------------------------

/// Cancels `token`, then `ending` (the call, or its next read) must fail CANCELLED promptly
/// and the runtime must stop `kind`'s handler and fire its cancellation.
async fn cancel_and_expect_stopped<T: std::fmt::Debug>(
    observer: &mut Observer,
    kind: &'static str,
    token: CancellationToken,
    ending: impl IntoFuture<Output = Result<T, Status>>,
) {
    let started = Instant::now();
    token.cancel();
    assert_fails(kind, ending, Code::Cancelled, "").await;
    assert_prompt(started, Duration::ZERO);
    observer.expect_stopped(kind).await;
}

async fn cancel_after_begin_in_every_kind_stops_the_handler(transport: Transport) {
    let (_server, client, mut observer) = scripted(transport).await;

    // unary
    let token = CancellationToken::new();
    let call = tokio::spawn(
        client
            .say_hello(greeting("hang"))
            .cancellation(token.clone())
            .into_future(),
    );
    observer.expect(Seen::Entered(UNARY)).await;
    let call = async { call.await.unwrap() };
    cancel_and_expect_stopped(&mut observer, UNARY, token, call).await;

    // client streaming, while the client is still sending
    let token = CancellationToken::new();
    let (sender, requests) = open_requests();
    sender.send(greeting("x")).await.unwrap();
    let call = tokio::spawn(
        client
            .lots_of_greetings(requests)
            .cancellation(token.clone())
            .into_future(),
    );
    observer.expect(Seen::Entered(CLIENT_STREAMING)).await;
    let call = async { call.await.unwrap() };
    cancel_and_expect_stopped(&mut observer, CLIENT_STREAMING, token, call).await;
    drop(sender);

    // server streaming, before the first response
    let token = CancellationToken::new();
    let mut replies = client
        .lots_of_replies(greeting("0 hang"))
        .cancellation(token.clone())
        .await
        .unwrap();
    observer.expect(Seen::Entered(SERVER_STREAMING)).await;
    cancel_and_expect_stopped(&mut observer, SERVER_STREAMING, token, replies.message()).await;

    // bidi, before any message either way
    let token = CancellationToken::new();
    let (sender, requests) = open_requests();
    let mut replies = client
        .bidi_hello(requests)
        .cancellation(token.clone())
        .await
        .unwrap();
    observer.expect(Seen::Entered(BIDI)).await;
    cancel_and_expect_stopped(&mut observer, BIDI, token, replies.message()).await;
    drop(sender);

    observer.all_done().await;
}

async fn cancel_after_the_first_response_stops_the_handler(transport: Transport) {
    let (_server, client, mut observer) = scripted(transport).await;

    let token = CancellationToken::new();
    let mut replies = client
        .lots_of_replies(greeting("1 hang"))
        .cancellation(token.clone())
        .await
        .unwrap();
    assert_eq!(next_reply("0", &mut replies).await, "0");
    cancel_and_expect_stopped(&mut observer, SERVER_STREAMING, token, replies.message()).await;

    let token = CancellationToken::new();
    let (sender, requests) = open_requests();
    let mut replies = client
        .bidi_hello(requests)
        .cancellation(token.clone())
        .await
        .unwrap();
    sender.send(greeting("ping")).await.unwrap();
    assert_eq!(next_reply("pong", &mut replies).await, "ping");
    cancel_and_expect_stopped(&mut observer, BIDI, token, replies.message()).await;
    observer.all_done().await;
}

async fn a_call_cancelled_or_expired_before_it_starts_sends_nothing(transport: Transport) {
    let (_server, client, mut observer) = scripted(transport).await;
    let token = CancellationToken::new();
    token.cancel();
    assert_fails(
        "a call that never starts",
        client.say_hello(greeting("a")).cancellation(token.clone()),
        Code::Cancelled,
        "",
    )
    .await;
    assert_fails(
        "a call that never starts",
        client.lots_of_replies(greeting("1 ok")).cancellation(token),
        Code::Cancelled,
        "",
    )
    .await;
    let past = Instant::now() - Duration::from_millis(1);
    assert_fails(
        "a call that never starts",
        client.say_hello(greeting("a")).deadline(past),
        Code::DeadlineExceeded,
        "",
    )
    .await;
    assert_fails(
        "a call that never starts",
        client
            .lots_of_replies(greeting("1 ok"))
            .timeout(Duration::ZERO),
        Code::DeadlineExceeded,
        "",
    )
    .await;
    // A later call goes through, and it is the first the server ever saw.
    client.say_hello(greeting("b")).await.unwrap();
    observer.expect(Seen::Returned(UNARY)).await;
    assert_eq!(observer.history.first(), Some(&Seen::Entered(UNARY)));
    assert_eq!(
        observer
            .history
            .iter()
            .filter(|s| matches!(s, Seen::Entered(_)))
            .count(),
        1
    );
}

async fn the_server_may_end_a_stream_with_any_status(transport: Transport) {
    let (_server, client, observer) = scripted(transport).await;
    let requests = rgrpc::stream::iter(["a", "b", "fail", "never"].map(greeting));
    let mut replies = client.bidi_hello(requests).await.unwrap();
    assert_eq!(next_reply("a", &mut replies).await, "a");
    assert_eq!(next_reply("b", &mut replies).await, "b");
    let status = assert_fails("failure", replies.message(), Code::Aborted, "").await;
    assert_eq!(status.message(), "failing mid-stream, as asked");
    assert_eq!(status.metadata().get("x-why").unwrap(), "asked to");

    let mut replies = client.lots_of_replies(greeting("2 cancel")).await.unwrap();
    assert_eq!(next_reply("0", &mut replies).await, "0");
    assert_eq!(next_reply("1", &mut replies).await, "1");
    let status = assert_fails("server cancel", replies.message(), Code::Cancelled, "").await;
    assert_eq!(status.message(), "the server gave up");
    observer.all_done().await;
}

// ---- metadata and status --------------------------------------------------------------

async fn trailing_metadata_arrives_on_ok_in_every_kind(transport: Transport) {
    let (_server, client, _observer) = scripted(transport).await;
    let response = client.say_hello(greeting("a")).await.unwrap();
    assert_eq!(response.trailers().get("x-outcome").unwrap(), "ok");

    let response = client
        .lots_of_greetings(rgrpc::stream::iter([greeting("a")]))
        .await
        .unwrap();
    assert_eq!(response.get_ref().reply, "1");
    assert_eq!(response.trailers().get("x-outcome").unwrap(), "ok");

    let mut replies = client.lots_of_replies(greeting("1 ok")).await.unwrap();
    assert!(replies.trailers().is_none(), "no trailers before the end");
    while bounded("drain", replies.message()).await.unwrap().is_some() {}
    assert_eq!(replies.trailers().unwrap().get("x-outcome").unwrap(), "ok");

    let mut replies = client
        .bidi_hello(rgrpc::stream::iter([greeting("a")]))
        .await
        .unwrap();
    while bounded("drain", replies.message()).await.unwrap().is_some() {}
    assert_eq!(replies.trailers().unwrap().get("x-outcome").unwrap(), "ok");
}

async fn binary_metadata_round_trips_as_headers_and_trailers(transport: Transport) {
    let (_server, client, _observer) = scripted(transport).await;
    let blob: &[u8] = &[0, 1, 2, 0xfe, 0xff, b'\n'];
    let mut call = client.say_hello(greeting("echo-bin"));
    call.metadata_mut().insert_bin(
        "x-blob-bin",
        rgrpc::metadata::MetadataValue::from_bytes(blob),
    );
    let response = call.await.unwrap();
    assert_eq!(
        response
            .headers()
            .get_bin("x-blob-bin")
            .unwrap()
            .to_bytes()
            .unwrap(),
        blob
    );
    assert_eq!(
        response
            .trailers()
            .get_bin("x-blob-bin")
            .unwrap()
            .to_bytes()
            .unwrap(),
        blob
    );
}

async fn all_seventeen_status_codes_round_trip_with_message_and_details(transport: Transport) {
    let (_server, client, _observer) = scripted(transport).await;
    // OK is a successful call.
    let response = client.say_hello(greeting("fine")).await.unwrap();
    assert_eq!(response.get_ref().reply, "fine");
    for code in 1..=16 {
        let status = assert_fails(
            "call",
            client.say_hello(greeting(format!("code {code}"))),
            Code::from_i32(code),
            &status_message(code),
        )
        .await;
        assert_eq!(status.message(), status_message(code));
        assert_eq!(status.details(), status_details(code));
        assert_eq!(
            status.metadata().get("x-code").unwrap(),
            code.to_string().as_str()
        );
    }
}

async fn gzip_compressed_requests_are_served(transport: Transport) {
    let (_server, client, _observer) = scripted(transport).await;
    let big = "compressible ".repeat(1000);
    let response = client
        .say_hello(greeting(big.clone()))
        .compression(Compression::Gzip)
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, big);
}

// ---- propagation ----------------------------------------------------------------------

/// One hop of a chain: calls the next hop on behalf of its own caller, or, being the last,
/// waits forever.
struct Relay {
    name: &'static str,
    next: Option<HelloServiceClient>,
    probe: Probe,
}

impl HelloService for Relay {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let handling = self.probe.enter(self.name, &ctx);
        let Some(next) = &self.next else {
            tokio::time::sleep(LIMIT).await;
            handling.returned();
            return Ok(reply("the end"));
        };
        let response = next.say_hello(request).propagate(&ctx).await;
        handling.returned();
        Ok(response?.into_inner())
    }
}

/// Servers A → B → C on `transport`, all reporting to one probe; returns a client of A.
async fn chain(
    transport: Transport,
) -> (
    Vec<Running<Option<SocketAddr>>>,
    HelloServiceClient,
    Observer,
) {
    let (probe, observer) = probe();
    let c = Running::start_on(
        transport,
        Relay {
            name: "C",
            next: None,
            probe: probe.clone(),
        },
    )
    .await;
    let b = Running::start_on(
        transport,
        Relay {
            name: "B",
            next: Some(c.client().await),
            probe: probe.clone(),
        },
    )
    .await;
    let a = Running::start_on(
        transport,
        Relay {
            name: "A",
            next: Some(b.client().await),
            probe,
        },
    )
    .await;
    let client = a.client().await;
    (vec![a, b, c], client, observer)
}

async fn cancelling_the_first_caller_stops_the_last_handler_of_a_chain(transport: Transport) {
    let (_servers, client, mut observer) = chain(transport).await;
    let token = CancellationToken::new();
    let call = tokio::spawn(
        client
            .say_hello(greeting("x"))
            .cancellation(token.clone())
            .into_future(),
    );
    observer.expect(Seen::Entered("C")).await;
    token.cancel();
    assert_fails("call", async { call.await.unwrap() }, Code::Cancelled, "").await;
    for hop in ["A", "B", "C"] {
        observer.expect(Seen::CancelObserved(hop)).await;
    }
    observer.expect(Seen::Stopped("C")).await;
    observer.all_done().await;
}

async fn a_deadline_propagates_down_a_chain(transport: Transport) {
    with_deadlines("a chain of three", |deadline| async move {
        let (_servers, client, mut observer) = chain(transport).await;
        let started = Instant::now();
        assert_expired(
            "call",
            client.say_hello(greeting("x")).timeout(deadline),
            started,
            deadline,
        )
        .await;
        if !observer.reported(&Seen::Entered("C")) {
            return Err(TooSlow);
        }
        let at_c = observer.deadline_of("C").await.expect("C has a deadline");
        assert!(
            at_c <= deadline,
            "C's deadline is the caller's, not later: {at_c:?}"
        );
        observer.expect(Seen::Stopped("C")).await;
        observer.all_done().await;
        Ok(())
    })
    .await;
}

// ---- nothing left behind --------------------------------------------------------------

/// Runs calls of every kind that end every way (OK, error, deadline, cancellation, drop),
/// then shuts everything down: no task of the runtime's may survive.
async fn no_task_or_stream_is_left_behind(transport: Transport) {
    let metrics = tokio::runtime::Handle::current().metrics();
    let (server, client, observer) = scripted(transport).await;
    let token = CancellationToken::new();
    let mut calls = Vec::new();
    for i in 0..20 {
        let client = client.clone();
        let token = token.clone();
        calls.push(tokio::spawn(async move {
            let _ = client.say_hello(greeting("hang")).timeout(SHORT).await;
            let _ = client.say_hello(greeting("code 5")).await;
            let _ = client.say_hello(greeting("ok")).await;
            let (sender, requests) = open_requests();
            let _ = client
                .lots_of_greetings(requests)
                .cancellation(token.clone())
                .timeout(SHORT)
                .await;
            drop(sender);
            if let Ok(mut replies) = client.lots_of_replies(greeting("3 hang")).await {
                let _ = replies.message().await;
                // dropped mid-stream
            }
            let (sender, requests) = open_requests();
            if let Ok(mut replies) = client.bidi_hello(requests).timeout(SHORT).await {
                let _ = sender.send(greeting(i.to_string())).await;
                while replies.message().await.is_ok_and(|m| m.is_some()) {}
            }
        }));
    }
    for call in calls {
        bounded("calls", call).await.unwrap();
    }
    observer.all_done().await;
    drop(client);
    server.shut_down().await;
    bounded("every task to end", async {
        while metrics.num_alive_tasks() != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
