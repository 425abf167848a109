//! The pause before a retry: random in [0, min(initialBackoff·multiplier^(n−1),
//! maxBackoff)), as gRFC A6 says, so that clients failing together do not retry together.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use crate::service_config::RetryPolicy;

/// The bound of the `n`-th retry's pause (`n` from 1).
pub(super) fn bound(policy: &RetryPolicy, n: u32) -> Duration {
    let exponent = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
    let grown = policy.initial_backoff.as_secs_f64() * policy.backoff_multiplier.powi(exponent);
    let max = policy.max_backoff.as_secs_f64();
    Duration::from_secs_f64(if grown.is_finite() {
        grown.min(max)
    } else {
        max
    })
}

/// A random pause in [0, `bound`).
pub(super) fn jittered(bound: Duration) -> Duration {
    bound.mul_f64(random_fraction())
}

/// A random number in [0, 1), from the standard library's randomly keyed hasher (no
/// random number crate needed for a jitter).
fn random_fraction() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_grows_by_the_multiplier_up_to_the_max() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            backoff_multiplier: 2.0,
            retryable_status_codes: vec![tonic::Code::Unavailable],
        };
        assert_eq!(bound(&policy, 1), Duration::from_millis(100));
        assert_eq!(bound(&policy, 2), Duration::from_millis(200));
        assert_eq!(bound(&policy, 3), Duration::from_millis(350));
        for _ in 0..100 {
            assert!(jittered(Duration::from_millis(100)) < Duration::from_millis(100));
        }
    }
}
