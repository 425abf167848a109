//! Transparent retries: attempts the server application never saw are sent again, with
//! or without a policy (gRFC A6), and the loop of a call that has no policy.

use std::time::Duration;

use tokio::time::Instant;

use super::outcome::{self, Answer, Reach};
use super::{Call, Counters, deadline_passed};

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

/// The rule for retrying attempts the server never processed, with or without a policy.
pub(super) struct Transparent {
    wait_for_ready: bool,
    /// Attempts in a row that never left the client.
    not_sent: u32,
    /// The last attempt was itself a retry of an attempt the server refused: one such
    /// retry in a row, as A6 allows, since these do reach the server.
    retried_refusal: bool,
}

impl Transparent {
    pub(super) fn new(wait_for_ready: bool) -> Self {
        Self {
            wait_for_ready,
            not_sent: 0,
            retried_refusal: false,
        }
    }

    /// The pause before retrying an attempt that got this far, or `None` for no
    /// transparent retry.
    pub(super) fn next(&mut self, reach: Reach) -> Option<Duration> {
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

impl Call {
    /// A call with no policy, after its first attempt's `answer`: any answer is final,
    /// except a failure the server never processed, which is retried transparently.
    pub(super) async fn transparent_after(mut self, mut answer: Answer) -> Answer {
        let mut id = 0;
        loop {
            let error = match &answer {
                Ok(_) => {
                    self.kept.commit(id);
                    return answer;
                }
                Err(error) => error,
            };
            let Some(pause) = self.transparent.next(outcome::reach_of(error.as_ref())) else {
                return answer;
            };
            if !self.kept.replayable() {
                return answer;
            }
            if !self.pause(pause).await {
                return deadline_passed();
            }
            self.kept.abandon(id);
            id += 1;
            let Some(request) = self.head.attempt(self.kept.body(id), 0, self.deadline) else {
                return deadline_passed();
            };
            self.count_transparent();
            answer = self.send_attempt(request).await;
        }
    }

    /// Waits `pause`, or until the deadline; false if the deadline came first.
    pub(super) async fn pause(&self, pause: Duration) -> bool {
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
