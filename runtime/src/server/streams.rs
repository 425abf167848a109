//! The message streams a handler works with: requests in, responses out.

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http_body::{Body, Frame};
use prost::Message;
use tonic::{Code, Status, Streaming};

use super::Context;
use super::driver::Failure;
use super::outbox::{Outbox, PushError};
use crate::codec::{ReceivedBy, encode_frame_into, received_too_large};

/// The request messages of a client- or bidi-streaming call, in the order sent.
///
/// Yields each message, then ends when the client half-closes; yields `Err` if the stream
/// breaks: `CANCELLED` when the client cancels the call, `INTERNAL` for a malformed
/// message, `RESOURCE_EXHAUSTED` for one over the server's `max_request_message_size`.
/// A cancelled call never looks like a completed request stream.
///
/// An `Err` is the stream's last item, and the call ends with that status whatever the
/// handler returns: the client must not take a call whose requests were not all read for
/// a success.
pub struct RequestStream<T> {
    inner: Streaming<T>,
    broken: Arc<OnceLock<Status>>,
    /// Ends the call when the stream breaks.
    failure: Failure,
    /// The server's `max_request_message_size`, for the status of a message over it.
    max_size: usize,
    ended: bool,
}

impl<T> RequestStream<T> {
    pub(crate) fn new(
        inner: Streaming<T>,
        broken: Arc<OnceLock<Status>>,
        failure: Failure,
        max_size: usize,
    ) -> Self {
        Self {
            inner,
            broken,
            failure,
            max_size,
            ended: false,
        }
    }

    /// Ends the stream with `status`, which also ends the call.
    fn break_with(&mut self, status: Status) -> Poll<Option<Result<T, Status>>> {
        self.ended = true;
        self.failure.set(status.clone());
        Poll::Ready(Some(Err(status)))
    }

    /// The next request: `Ok(Some(message))`, or `Ok(None)` once the client is done sending.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }
}

impl<T> Stream for RequestStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        match ready!(Pin::new(&mut this.inner).poll_next(cx)) {
            Some(Ok(message)) => Poll::Ready(Some(Ok(message))),
            // tonic's decoder must not be polled past an error: it would read the rest of a
            // refused message as the next one.
            Some(Err(status)) => this.break_with(received_too_large(
                status,
                ReceivedBy::Server,
                this.max_size,
            )),
            None => {
                // tonic's decoder reports a reset request body as a clean end; the body
                // watcher knows better.
                if let Some(status) = this.broken.get() {
                    return this.break_with(status.clone());
                }
                this.ended = true;
                Poll::Ready(None)
            }
        }
    }
}

/// A request body that remembers how it broke.
///
/// tonic's decoder turns a request body ending in RST_STREAM(CANCEL) into a clean end of
/// stream, which would let a client-streaming handler answer a call its client cancelled
/// as if it had completed. This records the failure where the [`RequestStream`] finds it.
pub(crate) struct WatchedBody {
    inner: tonic::body::Body,
    broken: Arc<OnceLock<Status>>,
}

impl WatchedBody {
    pub(crate) fn new(inner: tonic::body::Body) -> (Self, Arc<OnceLock<Status>>) {
        let broken = Arc::new(OnceLock::new());
        let body = Self {
            inner,
            broken: broken.clone(),
        };
        (body, broken)
    }
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Err(error)) = &frame {
            let status = if error.code() == Code::Cancelled {
                Status::cancelled("the client cancelled the call")
            } else {
                error.clone()
            };
            let _ = self.broken.set(status);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl fmt::Debug for WatchedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchedBody").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for RequestStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestStream").finish_non_exhaustive()
    }
}

/// Where a server- or bidi-streaming handler sends its responses.
///
/// `send` waits while the client is not reading (HTTP/2 flow control reaches back to
/// here), so a handler can never buffer unboundedly. Clones send into the same call. The
/// call ends when the handler returns: later sends fail with `CANCELLED`, as do sends after
/// the client went away.
pub struct ResponseSink<T> {
    call: Context,
    outbox: Arc<Outbox>,
    /// Ends the call when a message cannot be sent.
    failure: Failure,
    /// The server's `max_response_message_size`.
    max_size: usize,
    _message: PhantomData<fn(T)>,
}

impl<T: Message> ResponseSink<T> {
    pub(crate) fn new(
        call: Context,
        outbox: Arc<Outbox>,
        failure: Failure,
        max_size: usize,
    ) -> Self {
        Self {
            call,
            outbox,
            failure,
            max_size,
            _message: PhantomData,
        }
    }

    /// Sends one response message.
    ///
    /// A message over the server's `max_response_message_size` is not sent: this fails
    /// with `RESOURCE_EXHAUSTED`, and the call ends with that status (after the messages
    /// sent before it) whatever the handler returns.
    pub async fn send(&self, message: T) -> Result<(), Status> {
        // A call ending with a failure takes no more messages, even before the driver
        // closes the outbox.
        if let Some(status) = self.failure.get() {
            return Err(status);
        }
        let mut encode = |buf: &mut BytesMut| encode_frame_into(&message, self.max_size, buf);
        match poll_fn(|cx| self.outbox.poll_push(cx, &mut encode)).await {
            Ok(()) => {
                self.call.mark_headers_sent();
                Ok(())
            }
            Err(PushError::Encode(status)) => {
                self.failure.set(status.clone());
                Err(status)
            }
            Err(PushError::Closed) => Err(self.call.ended()),
        }
    }
}

impl<T> Clone for ResponseSink<T> {
    fn clone(&self) -> Self {
        Self {
            call: self.call.clone(),
            outbox: self.outbox.clone(),
            failure: self.failure.clone(),
            max_size: self.max_size,
            _message: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ResponseSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseSink")
            .field("method", &self.call.method())
            .finish()
    }
}
