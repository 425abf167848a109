//! What can end a client call before the server does, watched alongside its progress: its
//! deadline, its cancellation, and a request message over its size limit. The rules
//! themselves (the deadline, the tokens, the statuses) are the shared `call` layer's; this
//! only polls them for one call.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::sizes::Oversized;
use crate::call::cancel::{self, Cancelled};
use crate::call::deadline::Deadline;
use crate::call::status;
use crate::codec::DEFAULT_MAX_RECEIVE_MESSAGE_SIZE;

/// The deadline, cancellation and size limits of one call, pollable alongside its
/// progress.
pub(crate) struct Watch {
    deadline: Option<(Pin<Box<Sleep>>, Deadline)>,
    cancelled: Option<Cancelled>,
    /// Reports a streamed request message over the call's `max_request_message_size`.
    oversized: Option<Oversized>,
    /// The call's `max_response_message_size`, for the status of a message over it.
    max_response: usize,
}

impl Watch {
    pub(crate) fn new(deadline: Option<Deadline>, cancellations: Vec<CancellationToken>) -> Self {
        Self {
            deadline: deadline.map(|d| (Box::pin(tokio::time::sleep_until(d.at)), d)),
            cancelled: cancel::any(cancellations),
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
            return Poll::Ready(status::cancelled_by_caller());
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

    /// The status to report for a call that failed with `status`: see
    /// [`status::seen_by_client`].
    pub(crate) fn classify(&self, status: Status) -> Status {
        let deadline = self.deadline.as_ref().map(|(_, deadline)| deadline);
        status::seen_by_client(status, self.max_response, deadline)
    }

    /// Stops watching: the call is over.
    pub(crate) fn clear(&mut self) {
        self.deadline = None;
        self.cancelled = None;
        self.oversized = None;
    }
}
