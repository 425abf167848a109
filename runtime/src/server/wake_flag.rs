//! A waker that remembers it was woken, so that a future need not be polled again until it
//! has been.
//!
//! A call's driver is polled for many reasons (a message sent, the body ready for more, a
//! request arrived), and polling everything it drives each time, only to hear "not yet",
//! was the bulk of its cost in streaming calls (callgrind: in a bidi ping-pong, four
//! handler polls and five request-stream polls per round trip). What the driver polls with
//! a [`WakeFlag`]'s waker it polls again only once that waker was woken.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Wake, Waker};

use futures_util::task::AtomicWaker;

/// Set when its waker is woken (and at first); the wake goes on to the `TASKS` tasks
/// registered with it. It never takes a lock: h2 wakes while holding its own.
pub(crate) struct WakeFlag<const TASKS: usize> {
    shared: Arc<Shared<TASKS>>,
    /// Made once: each poll lends it, rather than cloning an `Arc` into a new waker (an
    /// atomic increment and decrement per poll).
    waker: Waker,
}

struct Shared<const TASKS: usize> {
    woken: AtomicBool,
    tasks: [AtomicWaker; TASKS],
}

impl<const TASKS: usize> WakeFlag<TASKS> {
    /// A flag that is set: the first poll always happens.
    pub(crate) fn new() -> Self {
        let shared = Arc::new(Shared {
            woken: AtomicBool::new(true),
            tasks: std::array::from_fn(|_| AtomicWaker::new()),
        });
        let waker = Waker::from(shared.clone());
        Self { shared, waker }
    }

    /// Passes this flag's wakes on to `waker`, as task `task` of the `TASKS`.
    pub(crate) fn register(&self, task: usize, waker: &Waker) {
        if let Some(slot) = self.shared.tasks.get(task) {
            slot.register(waker);
        }
    }

    /// Whether the flag was woken since the last `take`; clears it. Clear it before polling
    /// what it wakes, so that a wake during that poll is not lost.
    pub(crate) fn take(&self) -> bool {
        self.shared.woken.swap(false, Ordering::AcqRel)
    }

    /// Whether the flag is set, leaving it so.
    pub(crate) fn is_set(&self) -> bool {
        self.shared.woken.load(Ordering::Acquire)
    }

    /// Sets the flag without waking anyone: what it guards must be polled again, though
    /// nothing woke it (it stopped for another reason than being pending).
    pub(crate) fn set(&self) {
        self.shared.woken.store(true, Ordering::Release);
    }

    /// The waker to poll with.
    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }
}

impl<const TASKS: usize> Wake for Shared<TASKS> {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        for task in &self.tasks {
            task.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the wakes it gets.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_wake_sets_the_flag_and_reaches_every_registered_task() {
        let flag = WakeFlag::<2>::new();
        assert!(flag.take(), "set at first");
        assert!(!flag.take(), "cleared by take");
        let (a, b) = (Arc::new(Count::default()), Arc::new(Count::default()));
        flag.register(0, &Waker::from(a.clone()));
        flag.register(1, &Waker::from(b.clone()));
        flag.waker().wake_by_ref();
        assert!(flag.is_set());
        assert!(flag.take());
        assert_eq!(a.0.load(Ordering::SeqCst), 1);
        assert_eq!(b.0.load(Ordering::SeqCst), 1);
    }
}
