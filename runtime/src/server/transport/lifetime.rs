//! When a connection is asked to end: the server drains, the connection reached its
//! maximum age, or it had no call open for its maximum idle time. Each of those ends it
//! gracefully; two things cut it: the grace after its maximum age passes, or the server's
//! drain deadline does.
//!
//! Ending gracefully is hyper's `graceful_shutdown`, which for HTTP/2 is h2's
//! `go_away_gracefully`: already gRPC's two-phase GOAWAY. h2 sends GOAWAY with the last
//! stream id 2^31-1 and a PING, and only once the PING's ACK is back (a round trip later,
//! so every call the client started before it read the first GOAWAY has arrived) the
//! final GOAWAY naming the last stream it took; it closes the connection once those calls
//! are done (h2 0.4, `proto/connection.rs`). Calls started just before the GOAWAY are
//! served, not refused. Cutting a connection drops it: its calls are cancelled (their
//! handlers see it) and the socket closes.

use std::future::Future;
use std::hash::BuildHasher;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::open_calls::OpenCalls;

/// How long connections live (the `Server` builder's settings, documented there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LifetimeSettings {
    pub(crate) max_age: Option<Duration>,
    /// `None`: calls open at the maximum age may run for as long as they like.
    pub(crate) max_age_grace: Option<Duration>,
    pub(crate) max_idle: Option<Duration>,
}

/// The server's word to its connections: drain (end gracefully), then cut (when the drain
/// deadline passed).
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerSignals {
    pub(crate) drain: CancellationToken,
    pub(crate) cut: CancellationToken,
}

/// What a connection must do now.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// End gracefully: GOAWAY, then finish the calls in flight.
    Close,
    /// Drop the connection, cancelling its calls.
    Cut,
}

/// The timers and signals of one connection.
pub(crate) struct Lifetime {
    drain: Pin<Box<WaitForCancellationFutureOwned>>,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
    age: Option<Pin<Box<Sleep>>>,
    grace: Option<Duration>,
    /// Running once the connection closes for its age, with a grace.
    grace_timer: Option<Pin<Box<Sleep>>>,
    idle: Option<IdleTimer>,
    closing: bool,
}

impl Lifetime {
    /// The lifetime of a connection accepted now; `calls` is needed for an idle limit.
    pub(crate) fn new(
        settings: &LifetimeSettings,
        signals: &ServerSignals,
        calls: Option<OpenCalls>,
    ) -> Self {
        let idle = settings
            .max_idle
            .zip(calls)
            .map(|(max, calls)| IdleTimer::new(max, calls));
        Self {
            drain: Box::pin(signals.drain.clone().cancelled_owned()),
            cut: Box::pin(signals.cut.clone().cancelled_owned()),
            age: settings
                .max_age
                .map(|age| Box::pin(tokio::time::sleep(jittered(age)))),
            grace: settings.max_age_grace,
            grace_timer: None,
            idle,
            closing: false,
        }
    }

    /// The next thing the connection must do, once there is one.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        if self.cut.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Event::Cut);
        }
        if let Some(grace) = &mut self.grace_timer
            && grace.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Event::Cut);
        }
        if self.closing {
            return Poll::Pending;
        }
        if self.drain.as_mut().poll(cx).is_ready() {
            return self.close();
        }
        if let Some(age) = &mut self.age
            && age.as_mut().poll(cx).is_ready()
        {
            if let Some(grace) = self.grace {
                let mut timer = Box::pin(tokio::time::sleep(grace));
                // Polled once, so that it wakes this task when it fires.
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Cut);
                }
                self.grace_timer = Some(timer);
            }
            return self.close();
        }
        if let Some(idle) = &mut self.idle
            && idle.poll_idle(cx).is_ready()
        {
            return self.close();
        }
        Poll::Pending
    }

    fn close(&mut self) -> Poll<Event> {
        self.closing = true;
        Poll::Ready(Event::Close)
    }
}

/// Watches for a connection with no call open for `max`.
///
/// It looks every quarter of `max` rather than being reset by every call (which would cost
/// each call a timer update): a look that finds no call open and none ended since the last
/// look knows the connection was idle since that last look. So the GOAWAY comes between
/// `max` and 1.25 × `max` after the last call ended.
struct IdleTimer {
    max: Duration,
    calls: OpenCalls,
    timer: Pin<Box<Sleep>>,
    last_look: Instant,
    idle_since: Option<Instant>,
}

impl IdleTimer {
    fn new(max: Duration, calls: OpenCalls) -> Self {
        Self {
            max,
            calls,
            timer: Box::pin(tokio::time::sleep(Self::period(max))),
            last_look: Instant::now(),
            idle_since: None,
        }
    }

    fn period(max: Duration) -> Duration {
        (max / 4).max(Duration::from_millis(1))
    }

    /// Ready once the connection has been idle for `max`.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            if self.calls.active_since_last_asked() {
                self.idle_since = None;
            } else {
                let since = *self.idle_since.get_or_insert(self.last_look);
                if now.duration_since(since) >= self.max {
                    return Poll::Ready(());
                }
            }
            self.last_look = now;
            let next = tokio::time::Instant::now() + Self::period(self.max);
            self.timer.as_mut().reset(next);
        }
        Poll::Pending
    }
}

/// `age` give or take up to 10%, at random, as grpc-go does: connections accepted together
/// (a fleet's, after a deploy) do not all reconnect at once.
pub(crate) fn jittered(age: Duration) -> Duration {
    let spread = u64::try_from((age / 10).as_nanos()).unwrap_or(u64::MAX / 4);
    if spread == 0 {
        return age;
    }
    // A fresh random key per call: std's hasher seeds are the randomness at hand.
    let random = std::hash::RandomState::new().hash_one(spread);
    let offset = random % (2 * spread + 1);
    (age + Duration::from_nanos(offset)).saturating_sub(Duration::from_nanos(spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_age_is_jittered_within_ten_percent() {
        let age = Duration::from_secs(100);
        let ages: Vec<Duration> = (0..200).map(|_| jittered(age)).collect();
        assert!(
            ages.iter()
                .all(|a| *a >= Duration::from_secs(90) && *a <= Duration::from_secs(110))
        );
        assert!(ages.iter().any(|a| *a != ages[0]), "not jittered at all");
        assert_eq!(jittered(Duration::from_nanos(5)), Duration::from_nanos(5));
    }
}
