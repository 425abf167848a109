//! What can end a call before the server does: its deadline, its cancellation, and a
//! message over its size limits.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::future::select_all;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tonic::{CancellationHandle, Code, Status};

use super::sizes::Oversized;
use crate::codec::{DEFAULT_MAX_RECEIVE_MESSAGE_SIZE, response_too_large};

/// The instant a call's deadline passes, and the timeout it came from (for the message).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: Duration,
}

impl Deadline {
    pub(crate) fn exceeded(&self) -> Status {
        Status::deadline_exceeded(format!("deadline of {:?} exceeded", self.timeout))
    }
}

type Cancelled = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The deadline, cancellation and size limits of one call, pollable alongside its
/// progress.
pub(crate) struct Limits {
    deadline: Option<(Pin<Box<Sleep>>, Deadline)>,
    cancelled: Option<Cancelled>,
    /// Reports a streamed request message over the call's `max_request_message_size`.
    oversized: Option<Oversized>,
    /// The call's `max_response_message_size`, for the status of a message over it.
    max_response: usize,
}

impl Limits {
    pub(crate) fn new(deadline: Option<Deadline>, cancellations: Vec<CancellationToken>) -> Self {
        let cancelled: Option<Cancelled> = match cancellations.len() {
            0 => None,
            1 => cancellations
                .into_iter()
                .next()
                .map(|token| Box::pin(token.cancelled_owned()) as Cancelled),
            _ => Some(Box::pin(async move {
                let waits = cancellations
                    .into_iter()
                    .map(|t| Box::pin(t.cancelled_owned()));
                select_all(waits).await;
            })),
        };
        Self {
            deadline: deadline.map(|d| (Box::pin(tokio::time::sleep_until(d.at)), d)),
            cancelled,
            oversized: None,
            max_response: DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
        }
    }

    /// Also ends the call when `oversized` reports, and names `max_response` in the status
    /// of a response message over it.
    pub(crate) fn with_sizes(mut self, max_response: usize, oversized: Option<Oversized>) -> Self {
        self.max_response = max_response;
        self.oversized = oversized;
        self
    }

    /// Ready with the status that ends the call, once it is cancelled or past its deadline.
    /// Cancellation wins a tie: it is what the caller asked for.
    pub(crate) fn poll_ended(&mut self, cx: &mut Context<'_>) -> Poll<Status> {
        if let Some(cancelled) = &mut self.cancelled
            && cancelled.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(cancelled_by_caller());
        }
        if let Some(oversized) = &mut self.oversized
            && let Poll::Ready(report) = Pin::new(oversized).poll(cx)
        {
            match report {
                Ok(status) => return Poll::Ready(status),
                // The request stream ended with every message within the limit.
                Err(_) => self.oversized = None,
            }
        }
        if let Some((sleep, deadline)) = &mut self.deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(deadline.exceeded());
        }
        Poll::Pending
    }

    /// The status to report for a call that failed with `status`.
    ///
    /// A server whose own view of the deadline expired first may answer `CANCELLED`
    /// (tonic's server does, "Timeout expired"); once our deadline has passed, the caller
    /// must see `DEADLINE_EXCEEDED` regardless, as grpc-java's client also ensures.
    /// A response message over the limit is `RESOURCE_EXHAUSTED`, and a failed connection
    /// `UNAVAILABLE`.
    pub(crate) fn classify(&self, status: Status) -> Status {
        let status = response_too_large(status, self.max_response);
        let status = crate::unavailable::connection_failure_as_unavailable(status);
        match &self.deadline {
            Some((_, deadline))
                if status.code() == Code::Cancelled && Instant::now() >= deadline.at =>
            {
                deadline.exceeded()
            }
            _ => status,
        }
    }

    /// Stops watching: the call is over.
    pub(crate) fn clear(&mut self) {
        self.deadline = None;
        self.cancelled = None;
        self.oversized = None;
    }
}

pub(crate) fn cancelled_by_caller() -> Status {
    Status::cancelled("the call was cancelled by the caller")
}

/// Resets the call's HTTP/2 stream when dropped, so the server learns the call is over even
/// while the request stream is still being sent (tonic's encoder sends RST_STREAM CANCEL).
/// After a call completed normally the reset is a no-op: the stream is already closed.
pub(crate) struct ResetOnDrop(Option<CancellationHandle>);

impl ResetOnDrop {
    pub(crate) fn new(handle: CancellationHandle) -> Self {
        Self(Some(handle))
    }
}

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.cancel();
        }
    }
}
