//! Soak: for `RGRPC_SOAK_SECS` seconds (default [`DEFAULT_SECS`]; `make soak` runs 45),
//! [`TASKS`] client tasks keep calls of all four kinds in flight over real TCP on
//! 127.0.0.1, each call planned to end one way: OK (its data checked), DEADLINE_EXCEEDED,
//! CANCELLED by a token, or dropped by the client mid-call. Any other ending, a wrong
//! message or a call over [`CALL_LIMIT`] fails the test. At the end no handler may still
//! be running, no task may be left, and memory must have stayed bounded.
//!
//! The mix is random but reproducible: the seed is printed, and `RGRPC_SOAK_SEED` replays it.
//!
//! The file's other test cancels thousands of streams on one connection
//! ([`DROPPED_STREAMS`], or `RGRPC_SOAK_STREAMS`; `make soak` cancels 3000). The two run one
//! at a time: each loads both cores by itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rgrpc::metadata::MetadataMap;
use rgrpc::{CancellationToken, Code, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::HelloService;
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{LIMIT, Running, bounded, greeting, reply};
use tokio::sync::{Mutex, MutexGuard, mpsc};
use tokio_stream::wrappers::ReceiverStream;

/// The soak's length without `RGRPC_SOAK_SECS`: short enough for every `make test`.
const DEFAULT_SECS: f64 = 6.0;
/// How many client tasks keep a call in flight, spread over [`CONNECTIONS`].
const TASKS: usize = 64;
/// How many HTTP/2 connections (channels) the tasks share.
const CONNECTIONS: usize = 4;
/// The longest any call may take before it counts as hung: far above the slowest honest
/// call (3.4 s seen, a bidi call of 8 round trips in a debug build on two cores shared with
/// a load average of 8; the summary prints the slowest).
const CALL_LIMIT: Duration = Duration::from_secs(60);
/// How long a handler works when its call must end another way than OK: far beyond any
/// deadline or cancellation of the mix, so those endings are certain.
const STALL: Duration = Duration::from_secs(60);
/// The peak RSS the whole test process may reach.
const MAX_PEAK_RSS_KIB: u64 = 256 * 1024;
/// How much the RSS may grow from halfway through the soak to its end.
const MAX_RSS_GROWTH_KIB: u64 = 64 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_all_four_kinds_with_deadlines_and_cancellations() {
    let _alone = alone().await;
    let secs = soak_secs();
    let seed = std::env::var("RGRPC_SOAK_SEED")
        .ok()
        .map(|seed| seed.parse().expect("RGRPC_SOAK_SEED is a number"))
        .unwrap_or_else(|| fastrand::u64(..));
    let metrics = tokio::runtime::Handle::current().metrics();
    let live = Arc::new(LiveCalls::default());
    let server = Running::start(SoakService { live: live.clone() }).await;
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(server.client().await);
    }
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let client = clients[task % CONNECTIONS].clone();
            let tally = tally.clone();
            let mut rng = fastrand::Rng::with_seed(seed.wrapping_add(task as u64));
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < end {
                    let plan = Plan::random(&mut rng, format!("{task}.{n}"));
                    let started = Instant::now();
                    let outcome = run(&client, &plan).await;
                    tally.record(&plan, outcome, started.elapsed());
                    n += 1;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(secs / 2.0)).await;
    let halfway_rss = memory().map(|m| m.rss_kib);
    tokio::time::sleep_until(end.into()).await;
    for task in tasks {
        // Its last call may have started just before the end.
        tokio::time::timeout(CALL_LIMIT + LIMIT, task)
            .await
            .expect("a client task outlived its last call")
            .unwrap();
    }
    let elapsed = started.elapsed();

    // The handlers notice the last cancellations, and the tasks end, within moments; the
    // bound only turns a leak into a failure.
    let settled = tokio::time::timeout(LIMIT, async {
        while live.now.load(Ordering::SeqCst) != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let live_at_end = live.now.load(Ordering::SeqCst);
    let end_memory = memory();
    drop(clients);
    server.shut_down().await;
    let tasks_left = tokio::time::timeout(LIMIT, async {
        while metrics.num_alive_tasks() != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .map_or_else(|_| metrics.num_alive_tasks(), |()| 0);

    let summary = tally.summary(elapsed, live_at_end, tasks_left, &live, end_memory);
    println!("{summary} (seed {seed})");
    let wrong = tally.wrong.lock().unwrap();
    assert!(
        wrong.is_empty(),
        "{} calls ended wrongly, e.g. {:#?}",
        tally.wrong_count.load(Ordering::SeqCst),
        &wrong[..wrong.len().min(10)]
    );
    assert!(
        settled.is_ok(),
        "{live_at_end} handlers still running: {summary}"
    );
    assert_eq!(tasks_left, 0, "tasks left behind: {summary}");
    for (ending, count) in Ending::ALL.iter().zip(tally.by_ending()) {
        assert!(count > 0, "no call ended {ending:?}: {summary}");
    }
    for (kind, count) in Kind::ALL.iter().zip(tally.by_kind()) {
        assert!(count > 0, "no {kind:?} call: {summary}");
    }
    if let Some(memory) = end_memory {
        assert!(
            memory.peak_rss_kib < MAX_PEAK_RSS_KIB,
            "peak RSS over {} MiB: {summary}",
            MAX_PEAK_RSS_KIB / 1024
        );
        if let Some(halfway) = halfway_rss {
            assert!(
                memory.rss_kib < halfway + MAX_RSS_GROWTH_KIB,
                "RSS grew from {halfway} KiB halfway to {} KiB at the end: {summary}",
                memory.rss_kib
            );
        }
    }
}

/// How many streams the mass-cancellation test drops, all on one connection, unless
/// `RGRPC_SOAK_STREAMS` says otherwise (`make soak` drops 3000). Without the fix (h2
/// remembering only 50 resets) the connection failed after 800 to 900 of them, in debug and
/// release builds, on idle and busy machines alike.
const DROPPED_STREAMS: usize = 2000;
/// The size of each reply of the cancelled streams. Small replies cost the most for the
/// same bytes in flight: with 10-byte ones, 3000 streams took 27 s in a debug build (each
/// stream's window is thousands of messages to encode and decode); with 1 KiB ones, 3 s.
const REPLY_BYTES: usize = 1024;
/// The bound on the whole mass cancellation. Each step of each stream has its own bound
/// (`support::LIMIT`), so a hang shows there first; this one backs them up, far above the
/// slowest honest run (in a debug build, 3000 streams took 3 s on two cores shared with two
/// CPU hogs, and 48 s at nice 10 on two cores with a load average of 8).
const ALL_STREAMS_LIMIT: Duration = Duration::from_secs(300);

/// Thousands of calls cancelled while the server is still sending, on one connection: the
/// frames in flight when each reset goes out must not make the client give up on the
/// connection. (h2 forgets all but 50 recent resets; the late frames of the others once
/// made it close the connection after 1024, with ENHANCE_YOUR_CALM, failing every call.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_cancelled_streams_leave_the_connection_working() {
    let _alone = alone().await;
    let streams = dropped_streams();
    let started = Instant::now();
    let live = Arc::new(LiveCalls::default());
    let server = Running::start(SoakService { live: live.clone() }).await;
    let client = server.client().await;
    let dropped = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let (client, dropped) = (client.clone(), dropped.clone());
            let padding = "x".repeat(REPLY_BYTES);
            tokio::spawn(async move {
                for n in 0.. {
                    if dropped.fetch_add(1, Ordering::SeqCst) >= streams {
                        break;
                    }
                    let id = format!("{task}.{n}");
                    let mut metadata = MetadataMap::new();
                    metadata.insert("x-call-id", id.parse().unwrap());
                    metadata.insert("x-work-ms", "0".parse().unwrap());
                    metadata.insert("x-messages", "1000000".parse().unwrap());
                    // Each reply repeats the greeting: about 1 KiB.
                    let text = format!("{id} {padding}");
                    let call = client.lots_of_replies(greeting(&*text)).metadata(metadata);
                    let mut replies = bounded("a call to start", call).await.unwrap();
                    let first = bounded("a first reply", replies.message())
                        .await
                        .unwrap_or_else(|status| {
                            panic!("call {id}, on a connection that cancelled many: {status:?}")
                        });
                    assert_eq!(first.map(|r| r.reply), Some(format!("{text} 0")));
                    // Dropped while the server is still sending.
                }
            })
        })
        .collect();
    let all_done = tokio::time::timeout(ALL_STREAMS_LIMIT, async {
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
    assert!(
        all_done.is_ok(),
        "{streams} cancelled streams did not finish within {ALL_STREAMS_LIMIT:?}"
    );
    let reply = bounded(
        "a call after them",
        client.say_hello(greeting("after")).metadata({
            let mut metadata = MetadataMap::new();
            metadata.insert("x-call-id", "after".parse().unwrap());
            metadata.insert("x-work-ms", "0".parse().unwrap());
            metadata.insert("x-messages", "0".parse().unwrap());
            metadata
        }),
    )
    .await
    .unwrap();
    assert_eq!(reply.into_inner().reply, "hello after");
    bounded("the handlers to stop", async {
        while live.now.load(Ordering::SeqCst) != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    server.shut_down().await;
    println!(
        "{streams} streams cancelled on one connection in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// How many streams the mass-cancellation test drops: `RGRPC_SOAK_STREAMS` or
/// [`DROPPED_STREAMS`].
fn dropped_streams() -> usize {
    match std::env::var("RGRPC_SOAK_STREAMS") {
        Ok(streams) => streams
            .parse()
            .ok()
            .filter(|streams| (1..=100_000).contains(streams))
            .unwrap_or_else(|| panic!("RGRPC_SOAK_STREAMS must be a count, got {streams:?}")),
        Err(_) => DROPPED_STREAMS,
    }
}

/// Runs this file's tests one at a time: each loads both cores by itself, and the soak's
/// memory figures are the whole process's, which the other test's must not blur.
async fn alone() -> MutexGuard<'static, ()> {
    static ALONE: Mutex<()> = Mutex::const_new(());
    ALONE.lock().await
}

/// The soak's length in seconds, from `RGRPC_SOAK_SECS` or [`DEFAULT_SECS`].
fn soak_secs() -> f64 {
    match std::env::var("RGRPC_SOAK_SECS") {
        Ok(secs) => secs
            .parse()
            .ok()
            .filter(|secs: &f64| *secs > 0.0 && *secs < 3600.0)
            .unwrap_or_else(|| panic!("RGRPC_SOAK_SECS must be seconds, got {secs:?}")),
        Err(_) => DEFAULT_SECS,
    }
}

// ---- the plan of a call ----------------------------------------------------------------

/// The four kinds of call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Unary,
        Kind::ServerStreaming,
        Kind::ClientStreaming,
        Kind::Bidi,
    ];
}

/// How a call is planned to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// OK, with every message checked; sometimes under a deadline it never reaches.
    Ok,
    /// A deadline of a few milliseconds, while the server stalls.
    DeadlineExceeded,
    /// A cancellation token fired after a few milliseconds, while the server stalls.
    Cancelled,
    /// The client drops the call after a few milliseconds, while the server stalls; no
    /// status is seen.
    Dropped,
}

impl Ending {
    const ALL: [Ending; 4] = [
        Ending::Ok,
        Ending::DeadlineExceeded,
        Ending::Cancelled,
        Ending::Dropped,
    ];
}

/// One call: its kind, how it must end, and what it asks of the server.
#[derive(Debug)]
struct Plan {
    id: String,
    kind: Kind,
    ending: Ending,
    /// How long the handler works before it ends the call.
    work: Duration,
    /// How many messages each streaming side sends before the end (or the stall).
    messages: usize,
    /// The call's deadline, if any.
    timeout: Option<Duration>,
    /// When the client cancels (by token) or drops the call.
    abandon_after: Duration,
}

impl Plan {
    fn random(rng: &mut fastrand::Rng, id: String) -> Self {
        let kind = Kind::ALL[rng.usize(..Kind::ALL.len())];
        let ending = match rng.u8(..100) {
            0..55 => Ending::Ok,
            55..70 => Ending::DeadlineExceeded,
            70..85 => Ending::Cancelled,
            _ => Ending::Dropped,
        };
        let (work, timeout) = match ending {
            Ending::Ok => (
                Duration::from_millis(rng.u64(0..=20)),
                rng.bool().then_some(CALL_LIMIT),
            ),
            Ending::DeadlineExceeded => (STALL, Some(Duration::from_millis(rng.u64(5..=50)))),
            Ending::Cancelled | Ending::Dropped => (STALL, None),
        };
        Self {
            id,
            kind,
            ending,
            work,
            messages: rng.usize(0..=8),
            timeout,
            abandon_after: Duration::from_millis(rng.u64(0..=30)),
        }
    }

    /// The request metadata telling the server how to behave.
    fn metadata(&self) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("x-call-id", self.id.parse().unwrap());
        let work = self.work.as_millis().to_string();
        metadata.insert("x-work-ms", work.parse().unwrap());
        let messages = self.messages.to_string();
        metadata.insert("x-messages", messages.parse().unwrap());
        metadata
    }
}

// ---- the client side -----------------------------------------------------------------

/// How a call ended, as the client saw it.
#[derive(Debug)]
enum Outcome {
    Ended(Result<(), Status>),
    Dropped,
    Hung,
}

/// Runs `plan`'s call to its end, checking every message received.
async fn run(client: &HelloServiceClient, plan: &Plan) -> Outcome {
    let token = CancellationToken::new();
    let call = exchange(client, plan, token.clone());
    let ended = async {
        match plan.ending {
            Ending::Ok | Ending::DeadlineExceeded => Some(call.await),
            Ending::Cancelled => {
                let mut call = std::pin::pin!(call);
                tokio::select! {
                    ended = &mut call => Some(ended),
                    () = tokio::time::sleep(plan.abandon_after) => {
                        token.cancel();
                        Some(call.await)
                    }
                }
            }
            Ending::Dropped => tokio::time::timeout(plan.abandon_after, call).await.ok(),
        }
    };
    match tokio::time::timeout(CALL_LIMIT, ended).await {
        Ok(Some(result)) => Outcome::Ended(result),
        Ok(None) => Outcome::Dropped,
        Err(_) => Outcome::Hung,
    }
}

/// The call itself: sends what the plan says, reads and checks every answer.
async fn exchange(
    client: &HelloServiceClient,
    plan: &Plan,
    token: CancellationToken,
) -> Result<(), Status> {
    let id = &plan.id;
    let options = Options { plan, token };
    match plan.kind {
        Kind::Unary => {
            let response = options.apply(client.say_hello(greeting(id))).await?;
            assert_eq!(response.into_inner().reply, format!("hello {id}"));
        }
        Kind::ServerStreaming => {
            let mut replies = options.apply(client.lots_of_replies(greeting(id))).await?;
            for i in 0..plan.messages {
                let reply = replies.message().await?;
                assert_eq!(reply.map(|r| r.reply), Some(format!("{id} {i}")));
            }
            assert_eq!(replies.message().await?, None, "{id}: no more replies");
        }
        Kind::ClientStreaming => {
            let (sender, requests) = mpsc::channel(plan.messages + 1);
            for i in 0..plan.messages {
                sender.try_send(greeting(format!("{id} {i}"))).unwrap();
            }
            // A call that must not end OK keeps its request stream open: the server waits.
            let _open = (plan.ending != Ending::Ok).then_some(sender);
            let call = client.lots_of_greetings(ReceiverStream::new(requests));
            let response = options.apply(call).await?;
            let expected = format!("{id}: {} greetings", plan.messages);
            assert_eq!(response.into_inner().reply, expected);
        }
        Kind::Bidi => {
            let (sender, requests) = mpsc::channel(1);
            let call = client.bidi_hello(ReceiverStream::new(requests));
            let mut replies = options.apply(call).await?;
            for i in 0..plan.messages {
                let text = format!("{id} {i}");
                if sender.send(greeting(&*text)).await.is_err() {
                    // The call ended; its status says how.
                    break;
                }
                let reply = replies.message().await?;
                assert_eq!(reply.map(|r| r.reply), Some(format!("{text} back")));
            }
            // As for client streaming: only a call that must end OK half-closes.
            let _open = (plan.ending != Ending::Ok).then_some(sender);
            assert_eq!(replies.message().await?, None, "{id}: no more replies");
        }
    }
    Ok(())
}

/// The per-call options a plan asks for.
struct Options<'a> {
    plan: &'a Plan,
    token: CancellationToken,
}

impl Options<'_> {
    fn apply<Req, Resp, Answer>(
        &self,
        call: rgrpc::client::Call<Req, Resp, Answer>,
    ) -> rgrpc::client::Call<Req, Resp, Answer> {
        let call = call
            .metadata(self.plan.metadata())
            .cancellation(self.token.clone());
        match self.plan.timeout {
            Some(timeout) => call.timeout(timeout),
            None => call,
        }
    }
}

// ---- the tally -----------------------------------------------------------------------

/// What the calls did, for the summary and the assertions.
#[derive(Default)]
struct Tally {
    by_ending: [AtomicUsize; 4],
    by_kind: [AtomicUsize; 4],
    wrong_count: AtomicUsize,
    /// How long the slowest call took, in microseconds: reported, never asserted (a call
    /// over [`CALL_LIMIT`] is a hang, and ends wrongly).
    slowest_micros: AtomicU64,
    /// The first calls that ended other than planned.
    wrong: std::sync::Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, plan: &Plan, outcome: Outcome, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.slowest_micros.fetch_max(micros, Ordering::SeqCst);
        let as_planned = match (&outcome, plan.ending) {
            (Outcome::Ended(Ok(())), Ending::Ok) => true,
            (Outcome::Ended(Err(status)), Ending::DeadlineExceeded) => {
                status.code() == Code::DeadlineExceeded
            }
            (Outcome::Ended(Err(status)), Ending::Cancelled) => status.code() == Code::Cancelled,
            (Outcome::Dropped, Ending::Dropped) => true,
            _ => false,
        };
        if as_planned {
            let ending = Ending::ALL.iter().position(|e| *e == plan.ending).unwrap();
            self.by_ending[ending].fetch_add(1, Ordering::SeqCst);
        } else {
            self.wrong_count.fetch_add(1, Ordering::SeqCst);
            let mut wrong = self.wrong.lock().unwrap();
            if wrong.len() < 20 {
                wrong.push(format!("{plan:?} ended {outcome:?}"));
            }
        }
        let kind = Kind::ALL.iter().position(|k| *k == plan.kind).unwrap();
        self.by_kind[kind].fetch_add(1, Ordering::SeqCst);
    }

    fn by_ending(&self) -> [usize; 4] {
        self.by_ending.each_ref().map(|n| n.load(Ordering::SeqCst))
    }

    fn by_kind(&self) -> [usize; 4] {
        self.by_kind.each_ref().map(|n| n.load(Ordering::SeqCst))
    }

    /// The one line the soak prints.
    fn summary(
        &self,
        elapsed: Duration,
        live_at_end: usize,
        tasks_left: usize,
        live: &LiveCalls,
        memory: Option<Memory>,
    ) -> String {
        let [ok, deadline, cancelled, dropped] = self.by_ending();
        let [unary, server, client, bidi] = self.by_kind();
        let calls: usize = self.by_kind().iter().sum();
        let memory = memory.map_or_else(
            || "peak RSS unknown".to_owned(),
            |m| {
                format!(
                    "peak RSS {:.1} MiB (at the end {:.1} MiB)",
                    m.peak_rss_kib as f64 / 1024.0,
                    m.rss_kib as f64 / 1024.0
                )
            },
        );
        format!(
            "soak: {calls} calls in {:.1} s (ok {ok}, deadline {deadline}, cancelled {cancelled}, \
             dropped {dropped}, wrong {}; unary {unary}, server-streaming {server}, \
             client-streaming {client}, bidi {bidi}), at most {} handlers at once, \
             slowest call {:.0} ms, live calls at end {live_at_end}, tasks left {tasks_left}, \
             {memory}",
            elapsed.as_secs_f64(),
            self.wrong_count.load(Ordering::SeqCst),
            live.peak.load(Ordering::SeqCst),
            self.slowest_micros.load(Ordering::SeqCst) as f64 / 1000.0,
        )
    }
}

// ---- the server side -----------------------------------------------------------------

/// How many handlers are running now, and the most at once.
#[derive(Default)]
struct LiveCalls {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl LiveCalls {
    /// Counts a handler in until the guard is dropped: when it returns, or when its future
    /// is dropped because the call was cancelled, reset or past its deadline.
    fn enter(self: &Arc<Self>) -> LiveGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        LiveGuard(self.clone())
    }
}

struct LiveGuard(Arc<LiveCalls>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Does what each call's metadata asks (see [`Plan::metadata`]), counting live handlers.
struct SoakService {
    live: Arc<LiveCalls>,
}

/// What a request's metadata asks of the handler.
struct Asked {
    id: String,
    work: Duration,
    messages: usize,
}

impl Asked {
    fn of(ctx: &Context) -> Result<Self, Status> {
        let number = |key: &str| -> Result<u64, Status> {
            ctx.metadata()
                .get(key)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse().ok())
                .ok_or_else(|| Status::invalid_argument(format!("{key} is missing or bad")))
        };
        let id = ctx
            .metadata()
            .get("x-call-id")
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| Status::invalid_argument("x-call-id is missing"))?;
        Ok(Self {
            id: id.to_owned(),
            work: Duration::from_millis(number("x-work-ms")?),
            messages: usize::try_from(number("x-messages")?)
                .map_err(|_| Status::invalid_argument("x-messages is too large"))?,
        })
    }
}

impl HelloService for SoakService {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let _live = self.live.enter();
        let asked = Asked::of(&ctx)?;
        tokio::time::sleep(asked.work).await;
        Ok(reply(format!("hello {}", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let _live = self.live.enter();
        let asked = Asked::of(&ctx)?;
        for i in 0..asked.messages {
            responses
                .send(reply(format!("{} {i}", request.greeting)))
                .await?;
        }
        tokio::time::sleep(asked.work).await;
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let _live = self.live.enter();
        let asked = Asked::of(&ctx)?;
        let mut count = 0;
        while let Some(request) = requests.message().await? {
            if request.greeting != format!("{} {count}", asked.id) {
                return Err(Status::data_loss(format!(
                    "greeting {count} is {:?}",
                    request.greeting
                )));
            }
            count += 1;
        }
        tokio::time::sleep(asked.work).await;
        Ok(reply(format!("{}: {count} greetings", asked.id)))
    }

    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let _live = self.live.enter();
        let asked = Asked::of(&ctx)?;
        while let Some(request) = requests.message().await? {
            responses
                .send(reply(format!("{} back", request.greeting)))
                .await?;
        }
        tokio::time::sleep(asked.work).await;
        Ok(())
    }
}

// ---- memory ----------------------------------------------------------------------------

/// The process's resident memory, from /proc/self/status (Linux).
#[derive(Clone, Copy, Debug)]
struct Memory {
    rss_kib: u64,
    /// VmHWM: the most the RSS has been since the process started.
    peak_rss_kib: u64,
}

fn memory() -> Option<Memory> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        line[name.len()..]
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        peak_rss_kib: field("VmHWM:")?,
    })
}
