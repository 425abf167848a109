//! A call with a retry or hedging policy: attempts scheduled, run (several at once when
//! hedging) and judged, until one commits or none may follow.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;
use tonic::body::Body;

use super::outcome::{self, Answer, Failure, Outcome, Pushback};
use super::{Call, Counters, Exchange, backoff, deadline_passed, observe};
use crate::service_config::{AttemptPolicy, MethodConfig};

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
pub(super) struct Engine {
    call: Call,
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

impl Engine {
    pub(super) fn new(call: Call, method: Arc<MethodConfig>) -> Self {
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

    pub(super) async fn run(mut self, first: Exchange) -> Answer {
        self.launch(first, 0);
        self.policy_attempts = 1;
        if let Some(delay) = self.hedging_delay() {
            self.schedule(Instant::now() + delay, Start::Policy);
        }
        let mut overflow = std::pin::pin!(self.call.kept.overflowed());
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
                    if let Some(owner) = self.call.kept.owner() {
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
        let body = self.call.kept.body(self.started);
        let Some(request) = self.call.head.attempt(body, number, self.call.deadline) else {
            return false;
        };
        Counters::count(&self.call.shared.counters.attempts);
        let exchange = self.call.send_attempt(request);
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
            self.call.kept.abandon(id);
        }
    }

    /// `response`, committed: with throttling, its final status (in the trailers, or in
    /// the headers of a Trailers-Only OK) counts as the call's success or failure.
    fn throttled(&self, response: http::Response<Body>) -> http::Response<Body> {
        let Some(throttle) = &self.call.shared.throttle else {
            return response;
        };
        if response
            .headers()
            .contains_key(crate::call::status::GRPC_STATUS)
        {
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
                self.call.kept.commit(id);
                return Some(Ok(self.throttled(response)));
            }
            Outcome::Failed(failure) => failure,
        };
        self.call.kept.abandon(id);
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
            && self.call.kept.replayable()
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
        if !self.call.kept.replayable() {
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
