//! The message streams a handler works with: requests in, responses out.

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Body, Frame};
use prost::Message;
use tokio::sync::mpsc;
use tonic::{Code, Status, Streaming};

use super::Context;
use crate::codec::encode_frame;

/// The request messages of a client- or bidi-streaming call, in the order sent.
///
/// Yields each message, then ends when the client half-closes; yields `Err` if the stream
/// breaks: `CANCELLED` when the client cancels the call, `INTERNAL` for a malformed
/// message. A cancelled call never looks like a completed request stream.
pub struct RequestStream<T> {
    inner: Streaming<T>,
    broken: Arc<OnceLock<Status>>,
    ended: bool,
}

impl<T> RequestStream<T> {
    pub(crate) fn new(inner: Streaming<T>, broken: Arc<OnceLock<Status>>) -> Self {
        Self {
            inner,
            broken,
            ended: false,
        }
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
        let next = ready!(Pin::new(&mut this.inner).poll_next(cx));
        if next.is_none() {
            this.ended = true;
            // tonic's decoder reports a reset request body as a clean end; the body
            // watcher knows better.
            if let Some(status) = this.broken.get() {
                return Poll::Ready(Some(Err(status.clone())));
            }
        }
        Poll::Ready(next)
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
    messages: mpsc::Sender<Bytes>,
    _message: PhantomData<fn(T)>,
}

impl<T: Message> ResponseSink<T> {
    pub(crate) fn new(call: Context, messages: mpsc::Sender<Bytes>) -> Self {
        Self {
            call,
            messages,
            _message: PhantomData,
        }
    }

    /// Sends one response message.
    pub async fn send(&self, message: T) -> Result<(), Status> {
        let frame = encode_frame(&message)?;
        self.call.mark_headers_sent();
        self.messages
            .send(frame)
            .await
            .map_err(|_| self.call.ended())
    }
}

impl<T> Clone for ResponseSink<T> {
    fn clone(&self) -> Self {
        Self {
            call: self.call.clone(),
            messages: self.messages.clone(),
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
