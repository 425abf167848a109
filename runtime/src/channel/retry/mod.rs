//! Retries, hedging and transparent retries (gRFC A6), at the HTTP level, around whatever
//! transport a channel sends its calls over.
//!
//! Every call's request body is made replayable ([`replay`]) up to the channel's buffer
//! limit, so another attempt can send it again. An attempt's answer is classified
//! ([`outcome`]): response headers that are not Trailers-Only commit the call to it;
//! anything else is a failure that may be retried:
//!
//! * transparently, with or without a policy, when the server application never saw it
//!   (`Reach::NotProcessed`: once in a row) or it never left the client
//!   (`Reach::NotSent`: a few times, or until the deadline with `wait_for_ready`);
//! * by the method's retry policy (after a random backoff, or the server's pushback) or
//!   hedging policy (further attempts while the first runs), within `maxAttempts`, the
//!   channel's throttling and the call's deadline.
//!
//! A call without a policy takes [`transparent_only`], a plain loop; a call with one takes
//! [`Engine`], which can run several attempts at once.

mod backoff;
mod observe;
mod outcome;
mod replay;
mod throttle;

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::{HeaderMap, HeaderValue, Method, Uri, Version};
use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;

use self::outcome::{Answer, Failure, Outcome, Pushback, Reach};
use self::replay::Recorder;
use self::throttle::Throttle;
use super::call_policy::CallPolicy;
use crate::call::deadline::GRPC_TIMEOUT;
use crate::service_config::{AttemptPolicy, MethodConfig, ServiceConfig};

pub(crate) type Exchange = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// How much of a call's request body is kept for another attempt, unless set: gRPC's
/// default per-call limit (256 KiB).
pub const DEFAULT_RETRY_BUFFER_LIMIT: usize = 256 * 1024;

/// With no `wait_for_ready`, how many times in a row an attempt that never left the
/// client (its connection closed before it was written) is sent again.
const NOT_SENT_RETRIES: u32 = 3;

/// The pause before the `n`-th retry in a row of an attempt that never left the client
/// (the first goes at once): short, so a reconnection is caught early, and growing, so a
/// server that stays away is not polled in a loop.
fn not_sent_pause(n: u32) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(20)
        .saturating_mul(1 << n.min(6))
        .min(Duration::from_secs(1))
}

/// Sends one attempt of a call: the channel's transport, whichever it is.
pub(crate) trait SendAttempt: Send + Sync + 'static {
    fn send_attempt(&self, request: http::Request<Body>) -> Exchange;
}

/// Counters of a channel's attempts, shared by its clones ([`Channel::stats`](crate::Channel::stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStats {
    /// Attempts sent, each call's first included.
    pub attempts: u64,
    /// Attempts sent by a retry policy after a failed one.
    pub retries: u64,
    /// Attempts sent by a hedging policy while earlier ones ran.
    pub hedges: u64,
    /// Attempts sent again, with no policy, because the server never processed them.
    pub transparent_retries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    attempts: AtomicU64,
    retries: AtomicU64,
    hedges: AtomicU64,
    transparent_retries: AtomicU64,
}

impl Counters {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What every call on a channel shares: the service config, the throttle, the counters.
#[derive(Clone, Debug)]
pub(crate) struct Retries {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Option<Arc<ServiceConfig>>,
    throttle: Option<Throttle>,
    buffer_limit: usize,
    counters: Counters,
}

impl Default for Retries {
    fn default() -> Self {
        Self::new(None, DEFAULT_RETRY_BUFFER_LIMIT)
    }
}

impl Retries {
    pub(crate) fn new(config: Option<ServiceConfig>, buffer_limit: usize) -> Self {
        let throttle = config
            .as_ref()
            .and_then(ServiceConfig::retry_throttling)
            .map(Throttle::new);
        Self {
            shared: Arc::new(Shared {
                config: config.map(Arc::new),
                throttle,
                buffer_limit,
                counters: Counters::default(),
            }),
        }
    }

    pub(crate) fn config(&self) -> Option<&Arc<ServiceConfig>> {
        self.shared.config.as_ref()
    }

    pub(crate) fn stats(&self) -> ChannelStats {
        let counters = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ChannelStats {
            attempts: read(&counters.attempts),
            retries: read(&counters.retries),
            hedges: read(&counters.hedges),
            transparent_retries: read(&counters.transparent_retries),
        }
    }

    /// Runs a call: its first attempt through `first` (the transport, already ready), any
    /// further one through `sender`.
    pub(crate) fn call<S, F>(
        &self,
        request: http::Request<Body>,
        first: impl FnOnce(http::Request<Body>) -> F,
        sender: S,
    ) -> Exchange
    where
        S: SendAttempt,
        F: Future<Output = Answer> + Send + 'static,
    {
        let call_policy = request.extensions().get::<CallPolicy>();
        let deadline = call_policy.and_then(|policy| policy.deadline);
        let wait_for_ready = call_policy.is_some_and(|policy| policy.wait_for_ready);
        let method = match call_policy {
            Some(policy) => policy.method.clone(),
            // A request that did not come through rgrpc's client: look its path up.
            None => self
                .config()
                .and_then(|config| config.method_shared(request.uri().path())),
        };
        let method = method.filter(|method| method.policy.is_some());
        let (head, body) = request.into_parts();
        let recorder = Recorder::new(body, self.shared.buffer_limit);
        if matches!(
            method.as_ref().and_then(|m| m.policy.as_ref()),
            Some(AttemptPolicy::Hedging(_))
        ) {
            recorder.share_frontier();
        }
        let head = Head {
            method: head.method,
            uri: head.uri,
            version: head.version,
            headers: head.headers,
            extensions: head.extensions,
        };
        let first_request = head.first(recorder.body(0));
        Counters::count(&self.shared.counters.attempts);
        let first = first(first_request);
        let call = Call {
            shared: self.shared.clone(),
            sender,
            head,
            recorder,
            deadline,
            transparent: Transparent::new(wait_for_ready),
        };
        match method {
            None => Box::pin(call.transparent_only(first)),
            Some(method) => Box::pin(Engine::new(call, method).run(Box::pin(first))),
        }
    }
}

/// A request's parts, kept to build each attempt's request.
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: http::Extensions,
}

const PREVIOUS_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

impl Head {
    fn first(&self, body: Body) -> http::Request<Body> {
        self.build(body, self.headers.clone())
    }

    /// The request of an attempt after `previous` policy attempts, with the time left
    /// until `deadline` as its `grpc-timeout`; `None` once the deadline has passed.
    fn attempt(
        &self,
        body: Body,
        previous: u32,
        deadline: Option<Instant>,
    ) -> Option<http::Request<Body>> {
        let mut headers = self.headers.clone();
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            GRPC_TIMEOUT.write(&mut headers, left);
        }
        if previous > 0 {
            headers.insert(PREVIOUS_ATTEMPTS, HeaderValue::from(previous));
        }
        Some(self.build(body, headers))
    }

    fn build(&self, body: Body, headers: HeaderMap) -> http::Request<Body> {
        let mut request = http::Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = headers;
        *request.extensions_mut() = self.extensions.clone();
        request
    }
}

/// The rule for retrying attempts the server never processed, with or without a policy.
struct Transparent {
    wait_for_ready: bool,
    /// Attempts in a row that never left the client.
    not_sent: u32,
    /// The last attempt was itself a retry of an attempt the server refused: one such
    /// retry in a row, as A6 allows, since these do reach the server.
    retried_refusal: bool,
}

impl Transparent {
    fn new(wait_for_ready: bool) -> Self {
        Self {
            wait_for_ready,
            not_sent: 0,
            retried_refusal: false,
        }
    }

    /// The pause before retrying an attempt that got this far, or `None` for no
    /// transparent retry.
    fn next(&mut self, reach: Reach) -> Option<Duration> {
        match reach {
            Reach::NotProcessed if !self.retried_refusal => {
                self.retried_refusal = true;
                self.not_sent = 0;
                Some(Duration::ZERO)
            }
            Reach::NotSent if self.wait_for_ready || self.not_sent < NOT_SENT_RETRIES => {
                let pause = not_sent_pause(self.not_sent);
                self.not_sent += 1;
                Some(pause)
            }
            // A failed connection: only a call that waits for ready tries again.
            Reach::NoConnection if self.wait_for_ready => {
                self.not_sent += 1;
                Some(not_sent_pause(self.not_sent))
            }
            _ => {
                self.retried_refusal = false;
                self.not_sent = 0;
                None
            }
        }
    }
}

/// One call's attempts, whatever the policy.
struct Call<S> {
    shared: Arc<Shared>,
    sender: S,
    head: Head,
    recorder: Arc<Recorder>,
    deadline: Option<Instant>,
    transparent: Transparent,
}

/// The status of a call whose deadline passed while it waited to send another attempt.
fn deadline_passed() -> Answer {
    Err(Box::new(Status::deadline_exceeded(
        "the deadline passed while waiting to retry the call",
    )))
}

impl<S: SendAttempt> Call<S> {
    /// A call with no policy: any answer is final, except a failure the server never
    /// processed, which is retried transparently.
    async fn transparent_only(mut self, first: impl Future<Output = Answer>) -> Answer {
        let mut answer = first.await;
        let mut id = 0;
        loop {
            let error = match &answer {
                Ok(_) => {
                    self.recorder.commit(id);
                    return answer;
                }
                Err(error) => error,
            };
            let Some(pause) = self.transparent.next(outcome::reach_of(error.as_ref())) else {
                return answer;
            };
            if !self.recorder.replayable() {
                return answer;
            }
            if !self.pause(pause).await {
                return deadline_passed();
            }
            self.recorder.abandon(id);
            id += 1;
            let Some(request) = self.head.attempt(self.recorder.body(id), 0, self.deadline) else {
                return deadline_passed();
            };
            self.count_transparent();
            answer = self.sender.send_attempt(request).await;
        }
    }

    /// Waits `pause`, or until the deadline; false if the deadline came first.
    async fn pause(&self, pause: Duration) -> bool {
        let until = Instant::now() + pause;
        match self.deadline {
            Some(deadline) if deadline <= until => {
                tokio::time::sleep_until(deadline).await;
                false
            }
            _ => {
                if !pause.is_zero() {
                    tokio::time::sleep_until(until).await;
                }
                true
            }
        }
    }

    fn count_transparent(&self) {
        let counters = &self.shared.counters;
        Counters::count(&counters.attempts);
        Counters::count(&counters.transparent_retries);
    }
}

type Running = FuturesUnordered<Pin<Box<dyn Future<Output = (usize, Outcome)> + Send>>>;

/// What a scheduled start is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Start {
    /// The next attempt of the policy (a retry or a hedge).
    Policy,
    /// Again, an attempt the server never processed, with its number of previous attempts.
    Transparent(u32),
}

/// A call with a retry or hedging policy: attempts scheduled, run (several at once when
/// hedging) and judged until one commits or none may follow.
struct Engine<S> {
    call: Call<S>,
    method: Arc<MethodConfig>,
    running: Running,
    /// The policy attempt each running attempt stands for (its previous-attempts number).
    numbers: Vec<u32>,
    /// Attempts started, transparent ones included: the next attempt's id.
    started: usize,
    /// Attempts counted against `maxAttempts`.
    policy_attempts: u32,
    /// Retries so far, for the backoff's growth (reset by a server pushback).
    backoffs: u32,
    scheduled: Vec<(Instant, Start)>,
    /// No further policy attempt: throttled, pushed back for good, or committed.
    stopped: bool,
    /// The call committed to this attempt when its buffer filled.
    committed: Option<usize>,
    /// What the caller gets if no attempt succeeds.
    last: Option<Answer>,
}

impl<S: SendAttempt> Engine<S> {
    fn new(call: Call<S>, method: Arc<MethodConfig>) -> Self {
        Self {
            call,
            method,
            running: FuturesUnordered::new(),
            numbers: Vec::new(),
            started: 0,
            policy_attempts: 0,
            backoffs: 0,
            scheduled: Vec::new(),
            stopped: false,
            committed: None,
            last: None,
        }
    }

    fn policy(&self) -> Option<&AttemptPolicy> {
        self.method.policy.as_ref()
    }

    fn max_attempts(&self) -> u32 {
        match self.policy() {
            Some(AttemptPolicy::Retry(policy)) => policy.max_attempts,
            Some(AttemptPolicy::Hedging(policy)) => policy.max_attempts,
            None => 1,
        }
    }

    /// Whether a failure with `code` is worth another attempt.
    fn retryable(&self, code: tonic::Code) -> bool {
        match self.policy() {
            Some(AttemptPolicy::Retry(policy)) => policy.retryable_status_codes.contains(&code),
            Some(AttemptPolicy::Hedging(policy)) => policy.non_fatal_status_codes.contains(&code),
            None => false,
        }
    }

    fn hedging_delay(&self) -> Option<Duration> {
        match self.policy() {
            Some(AttemptPolicy::Hedging(policy)) => Some(policy.hedging_delay),
            _ => None,
        }
    }

    async fn run(mut self, first: Exchange) -> Answer {
        self.launch(first, 0);
        self.policy_attempts = 1;
        if let Some(delay) = self.hedging_delay() {
            self.schedule(Instant::now() + delay, Start::Policy);
        }
        let recorder = self.call.recorder.clone();
        let mut overflow = std::pin::pin!(recorder.overflowed());
        let mut overflowed = false;
        let mut timer = Box::pin(tokio::time::sleep_until(Instant::now()));
        loop {
            if self.running.is_empty() && self.scheduled.is_empty() {
                return self.last.take().unwrap_or_else(deadline_passed);
            }
            let due = self.scheduled.iter().map(|(at, _)| *at).min();
            if let Some(due) = due {
                timer.as_mut().reset(due);
            }
            enum Event {
                Done(usize, Outcome),
                Due,
                Overflow,
            }
            let event = poll_fn(|cx| {
                if let Poll::Ready(Some((id, outcome))) = self.running.poll_next_unpin(cx) {
                    return Poll::Ready(Event::Done(id, outcome));
                }
                if due.is_some() && timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Due);
                }
                if !overflowed && overflow.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Overflow);
                }
                Poll::Pending
            })
            .await;
            match event {
                Event::Done(id, outcome) => {
                    if let Some(answer) = self.judge(id, outcome) {
                        return answer;
                    }
                }
                Event::Due => self.start_due(),
                Event::Overflow => {
                    overflowed = true;
                    if let Some(owner) = recorder.owner() {
                        self.commit_to(owner);
                    }
                }
            }
        }
    }

    fn schedule(&mut self, at: Instant, start: Start) {
        let at = match self.call.deadline {
            // Nothing starts after the deadline; waking then ends the call.
            Some(deadline) => at.min(deadline),
            None => at,
        };
        self.scheduled.push((at, start));
    }

    /// Runs `exchange` as attempt `id` (its request already sent).
    fn launch(&mut self, exchange: Exchange, number: u32) {
        let id = self.started;
        self.started += 1;
        self.numbers.push(number);
        self.running.push(Box::pin(async move {
            let answer = exchange.await;
            (id, outcome::classify(answer))
        }));
    }

    /// Sends the next attempt, numbered `number`; false if the deadline has passed.
    fn send(&mut self, number: u32) -> bool {
        let body = self.call.recorder.body(self.started);
        let Some(request) = self.call.head.attempt(body, number, self.call.deadline) else {
            return false;
        };
        Counters::count(&self.call.shared.counters.attempts);
        let exchange = self.call.sender.send_attempt(request);
        self.launch(exchange, number);
        true
    }

    /// Starts whatever is due.
    fn start_due(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) =
            self.scheduled.drain(..).partition(|(at, _)| *at <= now);
        self.scheduled = later;
        for (_, start) in due {
            if self.committed.is_some() {
                break;
            }
            if self.call.deadline.is_some_and(|deadline| deadline <= now) {
                self.scheduled.clear();
                self.stopped = true;
                if self.running.is_empty() {
                    self.last = Some(deadline_passed());
                }
                return;
            }
            match start {
                Start::Transparent(number) => {
                    if self.send(number) {
                        let counters = &self.call.shared.counters;
                        Counters::count(&counters.transparent_retries);
                    }
                }
                Start::Policy => self.start_policy_attempt(),
            }
        }
    }

    fn start_policy_attempt(&mut self) {
        if self.stopped || self.policy_attempts >= self.max_attempts() {
            return;
        }
        if let Some(throttle) = &self.call.shared.throttle
            && !throttle.allows()
        {
            self.stopped = true;
            return;
        }
        let number = self.policy_attempts;
        if !self.send(number) {
            return;
        }
        self.policy_attempts += 1;
        let counters = &self.call.shared.counters;
        match self.hedging_delay() {
            Some(delay) => {
                Counters::count(&counters.hedges);
                if self.policy_attempts < self.max_attempts() {
                    self.schedule(Instant::now() + delay, Start::Policy);
                }
            }
            None => Counters::count(&counters.retries),
        }
    }

    /// The call commits to attempt `owner` (its buffer filled): the others are dropped,
    /// nothing more starts.
    fn commit_to(&mut self, owner: usize) {
        self.committed = Some(owner);
        self.stopped = true;
        self.scheduled.clear();
        for id in (0..self.started).filter(|id| *id != owner) {
            self.call.recorder.abandon(id);
        }
    }

    /// `response`, committed: with throttling, its final status (in the trailers, or in
    /// the headers of a Trailers-Only OK) counts as the call's success or failure.
    fn throttled(&self, response: http::Response<Body>) -> http::Response<Body> {
        let Some(throttle) = &self.call.shared.throttle else {
            return response;
        };
        if response.headers().contains_key("grpc-status") {
            // Trailers-Only: committed only with OK.
            throttle.succeeded();
            return response;
        }
        let failures = match self.policy() {
            Some(AttemptPolicy::Retry(policy)) => policy.retryable_status_codes.clone(),
            Some(AttemptPolicy::Hedging(policy)) => policy.non_fatal_status_codes.clone(),
            None => Vec::new(),
        };
        let shared = self.call.shared.clone();
        response.map(|body| observe::report_to(shared, failures, body))
    }

    /// Takes in how attempt `id` ended; `Some` with the caller's answer once the call is
    /// over.
    fn judge(&mut self, id: usize, outcome: Outcome) -> Option<Answer> {
        if self.committed.is_some_and(|owner| owner != id) {
            return None;
        }
        let failure = match outcome {
            Outcome::Committed(response) => {
                self.commit_to(id);
                self.call.recorder.commit(id);
                return Some(Ok(self.throttled(response)));
            }
            Outcome::Failed(failure) => failure,
        };
        self.call.recorder.abandon(id);
        let Failure {
            code,
            pushback,
            reach,
            answer,
        } = failure;
        if self.committed.is_some() {
            return Some(answer);
        }
        if let Some(pause) = self.call.transparent.next(reach)
            && self.call.recorder.replayable()
        {
            let number = self.numbers.get(id).copied().unwrap_or_default();
            self.schedule(Instant::now() + pause, Start::Transparent(number));
            self.last = Some(answer);
            return None;
        }
        if !self.retryable(code) {
            // A fatal status ends the call, whatever else is running.
            return Some(answer);
        }
        if let Some(throttle) = &self.call.shared.throttle {
            throttle.failed();
        }
        self.last = Some(answer);
        if !self.call.recorder.replayable() {
            self.stopped = true;
        }
        let delay = match pushback {
            Pushback::Stop => {
                self.stopped = true;
                None
            }
            Pushback::After(delay) => {
                self.backoffs = 0;
                Some(delay)
            }
            Pushback::None => None,
        };
        if !self.stopped && self.policy_attempts < self.max_attempts() {
            let method = self.method.clone();
            let delay = match (delay, &method.policy) {
                (Some(delay), _) => delay,
                (None, Some(AttemptPolicy::Retry(policy))) => {
                    self.backoffs += 1;
                    backoff::jittered(backoff::bound(policy, self.backoffs))
                }
                // A non-fatal status starts the next hedge at once.
                (None, _) => Duration::ZERO,
            };
            // The pending hedge (if any) gives way to this one.
            self.scheduled.retain(|(_, start)| *start != Start::Policy);
            self.schedule(Instant::now() + delay, Start::Policy);
        }
        if self.running.is_empty() && self.scheduled.is_empty() {
            return self.last.take();
        }
        None
    }
}
