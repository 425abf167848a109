//! The calls open on one connection, counted only when something needs to know: the idle
//! timer (`max_connection_idle`) and the keepalive policy (pings with no call open).
//!
//! A call is open from its request until hyper is done with its response body (or drops
//! it, when the client resets the stream). Counting costs a call one atomic increment and
//! one decrement, nothing else: each open call holds a clone of one `Arc`, so the count is
//! that `Arc`'s strong count less the tally's own reference; the call's end also marks the
//! connection active with a plain store, for the idle timer to see.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tonic::Status;

use crate::server::dispatch::ServerFuture;

/// The one strong reference that is not a call's; owned by the connection's request
/// service, so it lives as long as the connection.
pub(crate) struct CallTally(Arc<Activity>);

/// Set when a call ends; cleared by the idle timer when it looks.
#[derive(Default)]
struct Activity(AtomicBool);

/// Held by an open call.
pub(crate) struct CallGuard(Arc<Activity>);

/// A view of a connection's open calls, for its idle timer and keepalive policy.
#[derive(Clone)]
pub(crate) struct OpenCalls(Weak<Activity>);

impl CallTally {
    pub(crate) fn new() -> Self {
        Self(Arc::default())
    }

    /// A call opens; it is open until the guard drops.
    pub(crate) fn open(&self) -> CallGuard {
        CallGuard(self.0.clone())
    }

    pub(crate) fn observer(&self) -> OpenCalls {
        OpenCalls(Arc::downgrade(&self.0))
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        self.0.0.store(true, Ordering::Relaxed);
    }
}

impl OpenCalls {
    /// How many calls are open now.
    pub(crate) fn open(&self) -> usize {
        self.0.strong_count().saturating_sub(1)
    }

    /// Whether a call was open at any moment since the last time this was asked: one is
    /// open now, or one ended since.
    pub(crate) fn active_since_last_asked(&self) -> bool {
        let ended = self
            .0
            .upgrade()
            .is_some_and(|activity| activity.0.swap(false, Ordering::Relaxed));
        ended || self.open() > 0
    }
}

/// A call's response future, holding the call open; its body takes the guard over.
pub(crate) struct Counted {
    pub(crate) future: ServerFuture,
    pub(crate) guard: Option<CallGuard>,
}

impl Future for Counted {
    type Output = Result<http::Response<CountedBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = ready!(self.future.as_mut().poll(cx));
        let guard = self.guard.take();
        Poll::Ready(response.map(|response| {
            response.map(|body| CountedBody {
                body,
                _guard: guard,
            })
        }))
    }
}

/// A response body that holds its call open until hyper is done with it.
pub(crate) struct CountedBody {
    body: tonic::body::Body,
    _guard: Option<CallGuard>,
}

impl Body for CountedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_while_open_and_seen_once_ended() {
        let tally = CallTally::new();
        let calls = tally.observer();
        assert_eq!(calls.open(), 0);
        assert!(!calls.active_since_last_asked());
        let first = tally.open();
        let second = tally.open();
        assert_eq!(calls.open(), 2);
        drop(first);
        assert_eq!(calls.open(), 1);
        drop(second);
        assert!(calls.active_since_last_asked(), "calls ended since");
        assert!(!calls.active_since_last_asked(), "and none since");
    }
}
