//! The message streams a handler works with: requests in, responses out.

use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_core::Stream;
use prost::Message;
use tonic::{Status, Streaming};

use super::Context;
use super::driver::Event;
use crate::codec::encode_frame;

/// The request messages of a client- or bidi-streaming call, in the order sent.
///
/// Yields each message, then ends when the client half-closes; yields `Err` if the stream
/// breaks (a malformed message, or the client resetting the call).
pub struct RequestStream<T> {
    inner: Streaming<T>,
}

impl<T> RequestStream<T> {
    pub(crate) fn new(inner: Streaming<T>) -> Self {
        Self { inner }
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

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
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
    _message: PhantomData<fn(T)>,
}

impl<T: Message> ResponseSink<T> {
    pub(crate) fn new(call: Context) -> Self {
        Self {
            call,
            _message: PhantomData,
        }
    }

    /// Sends one response message.
    pub async fn send(&self, message: T) -> Result<(), Status> {
        let frame = encode_frame(&message)?;
        self.call.mark_headers_sent();
        self.call
            .events()
            .send(Event::Message(frame))
            .await
            .map_err(|_| self.call.ended())
    }
}

impl<T> Clone for ResponseSink<T> {
    fn clone(&self) -> Self {
        Self {
            call: self.call.clone(),
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
