//! How much load one run applies: a time window, or an exact number of operations (for
//! callgrind, where two runs are subtracted and the difference in calls must be exact).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shared by every task of a run: each takes one operation (a call; for bidi ping-pong, a
/// round trip) before doing it.
#[derive(Clone, Debug)]
pub enum Budget {
    Until(Instant),
    Operations(Arc<AtomicU64>),
}

impl Budget {
    pub fn for_time(duration: Duration) -> Budget {
        Budget::Until(Instant::now() + duration)
    }

    pub fn for_operations(count: u64) -> Budget {
        Budget::Operations(Arc::new(AtomicU64::new(count)))
    }

    /// Takes one operation from the budget; false once it is spent.
    pub fn take(&self) -> bool {
        match self {
            Budget::Until(until) => Instant::now() < *until,
            Budget::Operations(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}
