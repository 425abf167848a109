//! The load `fleet-load` runs: `concurrency` callers calling the fleet service back to back
//! until a deadline, a number of calls, or a stop signal, counting every outcome, which
//! replica answered, and the latency of each call (all its attempts together).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rgrpc::{Channel, Code, Status};
use serde_json::{Value, json};

use crate::proto::WhoRequest;
use crate::proto::fleet_client::FleetClient;

/// Which methods the callers call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Who` only.
    Unary,
    /// The four kinds in turn.
    Mix,
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "unary" => Ok(Self::Unary),
            "mix" => Ok(Self::Mix),
            other => Err(format!("unknown kind {other:?} (unary or mix)")),
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The load's name: its callers are `<name>/<n>`.
    pub name: String,
    /// Concurrent callers.
    pub concurrency: usize,
    /// Stop starting calls after this long.
    pub duration: Duration,
    /// Stop after this many calls in all (if set).
    pub calls: Option<u64>,
    /// Which methods.
    pub kind: Kind,
    /// Each call's deadline.
    pub timeout: Duration,
}

/// The counts of one run.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Calls made.
    pub calls: u64,
    /// Failed calls by status code name.
    pub failed: BTreeMap<String, u64>,
    /// The first message of each failing code (to tell why).
    pub first_errors: BTreeMap<String, String>,
    /// Answers per replica.
    pub replicas: BTreeMap<String, u64>,
    /// Each call's latency in microseconds.
    latencies: Vec<u64>,
}

impl Tally {
    fn record(&mut self, started: Instant, outcome: Result<String, Status>) {
        self.calls += 1;
        self.latencies
            .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
        match outcome {
            Ok(replica) => *self.replicas.entry(replica).or_default() += 1,
            Err(status) => {
                let code = code_name(status.code());
                self.first_errors
                    .entry(code.clone())
                    .or_insert_with(|| status.message().to_owned());
                *self.failed.entry(code).or_default() += 1;
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.calls += other.calls;
        for (code, count) in other.failed {
            *self.failed.entry(code).or_default() += count;
        }
        for (code, message) in other.first_errors {
            self.first_errors.entry(code).or_insert(message);
        }
        for (replica, count) in other.replicas {
            *self.replicas.entry(replica).or_default() += count;
        }
        self.latencies.extend(other.latencies);
    }

    /// Failed calls in all.
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }

    /// The latency below which `fraction` of the calls completed, in milliseconds.
    pub fn percentile_ms(&self, fraction: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let Some(last) = sorted.len().checked_sub(1) else {
            return 0.0;
        };
        let index = ((last as f64) * fraction).round() as usize;
        sorted[index.min(last)] as f64 / 1000.0
    }
}

/// The retry counters read off the channel after the run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Retries {
    /// Retry attempts (retryPolicy).
    pub retried: u64,
    /// Hedged attempts (hedgingPolicy).
    pub hedged: u64,
    /// Transparent retries (calls the server never processed).
    pub transparent: u64,
}

/// The one JSON line `fleet-load` prints.
pub fn report(tally: &Tally, retries: Retries) -> Value {
    json!({
        "calls": tally.calls,
        "failed": tally.failed_total(),
        "failed_by_code": tally.failed,
        "first_errors": tally.first_errors,
        "retried": retries.retried,
        "hedged": retries.hedged,
        "transparent_retries": retries.transparent,
        "replicas_seen": tally.replicas.len(),
        "replicas": tally.replicas,
        "p50_ms": tally.percentile_ms(0.50),
        "p99_ms": tally.percentile_ms(0.99),
        "max_ms": tally.percentile_ms(1.0),
    })
}

/// Shared between the callers: how many calls were started, whether to stop, and the
/// progress the run prints.
#[derive(Debug, Default)]
pub struct Progress {
    started: AtomicU64,
    done: AtomicU64,
    stop: AtomicBool,
}

impl Progress {
    /// Asks every caller to stop after its current call.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Calls completed so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }
}

/// Runs `plan` over `channel`, stopping early when `progress` is told to.
pub async fn run(channel: Channel, plan: &Plan, progress: Arc<Progress>) -> Tally {
    let until = Instant::now() + plan.duration;
    let mut callers = tokio::task::JoinSet::new();
    for caller in 0..plan.concurrency {
        let client = FleetClient::new(channel.clone());
        let plan = plan.clone();
        let progress = Arc::clone(&progress);
        callers.spawn(async move {
            let mut tally = Tally::default();
            let name = format!("{}/{caller}", plan.name);
            let mut turn = caller;
            while Instant::now() < until && !progress.stop.load(Ordering::SeqCst) {
                let number = progress.started.fetch_add(1, Ordering::SeqCst);
                if plan.calls.is_some_and(|calls| number >= calls) {
                    break;
                }
                let started = Instant::now();
                let outcome = call(&client, &name, plan.kind, turn, plan.timeout).await;
                tally.record(started, outcome);
                progress.done.fetch_add(1, Ordering::SeqCst);
                turn += 1;
                // A call that fails at once (no replica reachable) never waits: yield, so
                // the other callers and the progress ticker still run.
                tokio::task::yield_now().await;
            }
            tally
        });
    }
    let mut tally = Tally::default();
    while let Some(done) = callers.join_next().await {
        if let Ok(part) = done {
            tally.merge(part);
        }
    }
    tally
}

/// One call of the kind `turn` selects; the replica that answered, or the status.
async fn call(
    client: &FleetClient,
    caller: &str,
    kind: Kind,
    turn: usize,
    timeout: Duration,
) -> Result<String, Status> {
    let request = WhoRequest {
        caller: caller.to_owned(),
        count: 3,
        hold_ms: 0,
    };
    let which = if kind == Kind::Unary { 0 } else { turn % 4 };
    match which {
        0 => Ok(client
            .who(request)
            .timeout(timeout)
            .await?
            .into_inner()
            .replica),
        1 => {
            let mut replies = client.who_stream(request).timeout(timeout).await?;
            last_replica(replies.message().await?, &mut replies).await
        }
        2 => {
            let requests = [request.clone(), request];
            let reply = client
                .who_collect(rgrpc::stream::iter(requests))
                .timeout(timeout)
                .await?;
            Ok(reply.into_inner().replica)
        }
        _ => {
            let requests = [request.clone(), request];
            let mut replies = client
                .who_chat(rgrpc::stream::iter(requests))
                .timeout(timeout)
                .await?;
            last_replica(replies.message().await?, &mut replies).await
        }
    }
}

/// Reads a response stream to its end; the replica of its answers.
async fn last_replica(
    first: Option<crate::proto::WhoReply>,
    replies: &mut rgrpc::ResponseStream<crate::proto::WhoReply>,
) -> Result<String, Status> {
    let mut replica = first.map(|reply| reply.replica);
    while let Some(reply) = replies.message().await? {
        replica = Some(reply.replica);
    }
    replica.ok_or_else(|| Status::internal("the stream ended with no answer"))
}

/// gRPC's name of `code` (`UNAVAILABLE`).
pub fn code_name(code: Code) -> String {
    let name = format!("{code:?}");
    let mut out = String::new();
    for (index, ch) in name.chars().enumerate() {
        if ch.is_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}
