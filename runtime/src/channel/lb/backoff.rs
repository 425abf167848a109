//! gRPC's connection backoff (doc/connection-backoff.md): how long a subchannel waits
//! between two connection attempts, and how long one attempt may take.

use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use tokio::time::Instant;

/// The pauses between a subchannel's connection attempts: the first failure waits
/// `initial`, each next one `multiplier` times longer up to `max`, each spread by ±`jitter`
/// so that clients that lost the same server do not all come back at once. An attempt may
/// take `min_connect_timeout` even when the pause before the next is shorter.
///
/// The defaults are gRPC's: 1 s, ×1.6, ±20 %, at most 120 s, attempts of at least 20 s.
///
/// ```
/// use std::time::Duration;
/// let quick = rgrpc::channel::ConnectionBackoff::default()
///     .initial(Duration::from_millis(50))
///     .max(Duration::from_millis(500));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConnectionBackoff {
    initial: Duration,
    multiplier: f64,
    jitter: f64,
    max: Duration,
    min_connect_timeout: Duration,
}

impl Default for ConnectionBackoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            multiplier: 1.6,
            jitter: 0.2,
            max: Duration::from_secs(120),
            min_connect_timeout: Duration::from_secs(20),
        }
    }
}

impl ConnectionBackoff {
    /// The pause after the first failed attempt (gRPC's INITIAL_BACKOFF, 1 s).
    pub fn initial(mut self, pause: Duration) -> Self {
        self.initial = pause;
        self
    }

    /// How much longer each next pause is (MULTIPLIER, 1.6); below 1 counts as 1.
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// The random spread of each pause, as a fraction of it (JITTER, 0.2), within 0..=1.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// The longest pause (MAX_BACKOFF, 120 s).
    pub fn max(mut self, pause: Duration) -> Self {
        self.max = pause;
        self
    }

    /// How long one attempt may take at least (MIN_CONNECT_TIMEOUT, 20 s); the channel's
    /// `connect_timeout` still bounds it.
    pub fn min_connect_timeout(mut self, timeout: Duration) -> Self {
        self.min_connect_timeout = timeout;
        self
    }
}

/// One subchannel's run of attempts: where it is in the sequence of pauses.
#[derive(Debug)]
pub(crate) struct Backoff {
    config: ConnectionBackoff,
    /// The current pause, before jitter.
    pause: Duration,
    /// When the next attempt may start.
    next_attempt: Instant,
    /// Tells one jitter draw from the next.
    draws: u64,
}

impl Backoff {
    /// A run whose first attempt starts now.
    pub(crate) fn new(config: ConnectionBackoff) -> Self {
        Self {
            config,
            pause: config.initial,
            next_attempt: Instant::now() + config.initial,
            draws: 0,
        }
    }

    /// How long the attempt starting now may take: until the next attempt is due, but at
    /// least the minimum connect timeout.
    pub(crate) fn attempt_timeout(&self) -> Duration {
        self.next_attempt
            .saturating_duration_since(Instant::now())
            .max(self.config.min_connect_timeout)
    }

    /// After a failed attempt: when the next may start (the pause so far is served first),
    /// and the pause after it grows.
    pub(crate) fn after_failure(&mut self) -> Instant {
        let due = self.next_attempt;
        self.pause = self
            .pause
            .mul_f64(self.config.multiplier)
            .min(self.config.max);
        let spread = self.config.jitter * (2.0 * self.random_unit() - 1.0);
        let jittered = self.pause.mul_f64((1.0 + spread).max(0.0));
        self.next_attempt = due.max(Instant::now()) + jittered;
        due
    }

    /// A number in [0, 1), different at each call (no cryptographic quality needed).
    fn random_unit(&mut self) -> f64 {
        self.draws += 1;
        let bits = RandomState::new().hash_one(self.draws);
        (bits >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_by_the_multiplier_up_to_the_max() {
        let config = ConnectionBackoff::default()
            .initial(Duration::from_secs(1))
            .jitter(0.0)
            .max(Duration::from_secs(3));
        let mut backoff = Backoff::new(config);
        let due: Vec<Instant> = (0..4).map(|_| backoff.after_failure()).collect();
        // 1 s (the first pause), then 1.6 s, then 2.56 s, then capped at 3 s, each after
        // the previous (all in the future, so no clock reading changes them).
        assert_eq!(due[1] - due[0], Duration::from_millis(1600));
        assert_eq!(due[2] - due[1], Duration::from_millis(2560));
        assert_eq!(due[3] - due[2], Duration::from_secs(3));
        assert_eq!(backoff.attempt_timeout(), Duration::from_secs(20));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let config = ConnectionBackoff::default()
            .jitter(0.2)
            .max(Duration::from_secs(1000));
        for _ in 0..100 {
            let mut backoff = Backoff::new(config);
            let first = backoff.after_failure();
            let second = backoff.after_failure();
            let pause = (second - first).as_secs_f64();
            assert!(
                (1.6 * 0.8 - 1e-3..=1.6 * 1.2 + 1e-3).contains(&pause),
                "{pause}"
            );
        }
    }
}
