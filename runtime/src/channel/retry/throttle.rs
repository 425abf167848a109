//! gRFC A6's retry throttling: a channel's token bucket. Each failure with a retryable
//! (or non-fatal) status takes a token, each success gives back `tokenRatio`; retries and
//! hedges go only while more than half the tokens are left, so a failing server is not
//! hit with a multiple of its load.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::service_config::RetryThrottling;

/// Tokens are kept in thousandths, the precision A6 gives `tokenRatio`.
const SCALE: f64 = 1000.0;

#[derive(Debug)]
pub(super) struct Throttle {
    tokens: AtomicU64,
    max: u64,
    ratio: u64,
}

impl Throttle {
    pub(super) fn new(settings: RetryThrottling) -> Self {
        // Both fit: the config checked 0 < maxTokens <= 1000 and a finite ratio > 0.
        let max = (settings.max_tokens * SCALE).round() as u64;
        let ratio = ((settings.token_ratio * SCALE).round() as u64).max(1);
        Self {
            tokens: AtomicU64::new(max),
            max,
            ratio,
        }
    }

    /// Whether a retry or hedge may go now.
    pub(super) fn allows(&self) -> bool {
        self.tokens.load(Ordering::Relaxed) * 2 > self.max
    }

    /// An attempt failed with a retryable or non-fatal status.
    pub(super) fn failed(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some(tokens.saturating_sub(SCALE as u64))
            });
    }

    /// An attempt succeeded.
    pub(super) fn succeeded(&self) {
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |tokens| {
                Some((tokens + self.ratio).min(self.max))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_stop_at_half_the_tokens_and_resume_with_successes() {
        let throttle = Throttle::new(RetryThrottling {
            max_tokens: 4.0,
            token_ratio: 0.5,
        });
        assert!(throttle.allows());
        throttle.failed();
        assert!(throttle.allows(), "3 of 4 left");
        throttle.failed();
        assert!(!throttle.allows(), "2 of 4 is not more than half");
        throttle.succeeded();
        assert!(throttle.allows(), "2.5 of 4");
        for _ in 0..20 {
            throttle.succeeded();
        }
        throttle.failed();
        throttle.failed();
        assert!(!throttle.allows(), "capped at 4 before the failures");
    }
}
