//! The message streams a handler works with: requests in, responses out.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use prost::Message;
use tonic::Status;
use tonic::codec::CompressionEncoding as Compression;

use super::call_state::{CallState, Failure};
use super::context::Context;
use super::inbox::{Frame, Inbox};
use super::outbox::{Outbox, PushError};
use crate::call::status;
use crate::codec::encode_frame_into;
use crate::compression::{self, DecompressError};

/// The request messages of a call, in the order sent: what a client- or bidi-streaming
/// handler reads.
///
/// Yields each message, then ends when the client half-closes; yields `Err` if the stream
/// breaks: `CANCELLED` when the client cancels the call, `INTERNAL` for a malformed
/// message, `RESOURCE_EXHAUSTED` for one over the server's `max_request_message_size`
/// (compressed or once decompressed). A cancelled call never looks like a completed
/// request stream.
///
/// An `Err` is the stream's last item, and the call ends with that status whatever the
/// handler returns: the client must not take a call whose requests were not all read for
/// a success.
///
/// The first read sends the call's initial metadata, unless the handler called
/// [`Context::defer_headers`]: see there why.
pub struct RequestStream<T> {
    inbox: Arc<Inbox>,
    /// Messages taken from the inbox with the last one, not yet read.
    taken: VecDeque<Frame>,
    /// The call's `grpc-encoding`: how messages flagged as compressed are decompressed.
    encoding: Option<Compression>,
    /// Ends the call when the stream breaks; also the call itself.
    failure: Failure,
    /// The server's `max_request_message_size`.
    max_size: usize,
    /// Whether the first read sends the initial metadata (client- and bidi-streaming
    /// handlers; not the runtime's own read of a single request).
    announce_headers: bool,
    ended: bool,
    _message: PhantomData<fn() -> T>,
}

impl<T> RequestStream<T> {
    pub(crate) fn new(
        inbox: Arc<Inbox>,
        encoding: Option<Compression>,
        failure: Failure,
        max_size: usize,
        announce_headers: bool,
    ) -> Self {
        Self {
            inbox,
            taken: VecDeque::new(),
            encoding,
            failure,
            max_size,
            announce_headers,
            ended: false,
            _message: PhantomData,
        }
    }

    /// Ends the stream with `status`, which also ends the call.
    fn break_with(&mut self, status: Status) -> Poll<Option<Result<T, Status>>> {
        self.ended = true;
        self.failure.set(status.clone());
        Poll::Ready(Some(Err(status)))
    }
}

impl<T: Message + Default> RequestStream<T> {
    /// The next request: `Ok(Some(message))`, or `Ok(None)` once the client is done sending
    /// (it half-closed the HTTP/2 stream: `END_STREAM`).
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }
}

impl<T: Message + Default> Stream for RequestStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        if std::mem::take(&mut this.announce_headers) {
            this.failure.call().state().announce_headers();
        }
        let next = match this.taken.pop_front() {
            Some(frame) => Ok(Some(frame)),
            None => ready!(this.inbox.poll_frame(cx, this.max_size, &mut this.taken)),
        };
        let frame = match next {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                this.ended = true;
                return Poll::Ready(None);
            }
            Err(status) => return this.break_with(status),
        };
        let decoded = unpack(
            frame,
            this.encoding,
            this.max_size,
            this.failure.call().state(),
        )
        .and_then(|payload| {
            let decoded = match payload {
                Payload::Plain(bytes) => T::decode(bytes),
                Payload::Inflated(bytes) => T::decode(bytes.as_slice()),
            };
            // prost's own words, as tonic reported them: "failed to decode Protobuf
            // message: …".
            decoded.map_err(|err| Status::internal(err.to_string()))
        });
        match decoded {
            Ok(message) => Poll::Ready(Some(Ok(message))),
            Err(status) => this.break_with(status),
        }
    }
}

/// A message's protobuf bytes.
enum Payload {
    /// As it arrived.
    Plain(Bytes),
    /// Decompressed.
    Inflated(Vec<u8>),
}

/// The protobuf bytes of a received frame: checks its flag, decompresses it within
/// `max_size`, and records on the call whether it was compressed. Not generic, so it is
/// compiled once.
fn unpack(
    frame: Frame,
    encoding: Option<Compression>,
    max_size: usize,
    call: &CallState,
) -> Result<Payload, Status> {
    let compressed = match frame.flag {
        0 => false,
        1 => true,
        other => {
            return Err(Status::internal(format!(
                "protocol error: received message with invalid compression flag {other} \
                 (valid flags are 0 and 1)"
            )));
        }
    };
    call.record_request_compressed(compressed);
    if !compressed {
        return Ok(Payload::Plain(frame.payload));
    }
    // The gRPC spec: a compressed flag without a grpc-encoding is INTERNAL.
    let Some(encoding) = encoding else {
        return Err(Status::internal(
            "protocol error: received message with compressed-flag but no grpc-encoding was \
             specified",
        ));
    };
    match compression::decompress(encoding, &frame.payload, max_size) {
        Ok(inflated) => Ok(Payload::Inflated(inflated)),
        Err(DecompressError::TooLarge) => Err(status::request_too_large_inflated(
            frame.payload.len(),
            max_size,
        )),
        Err(DecompressError::Corrupt(err)) => Err(Status::internal(format!(
            "failed to decompress a request message with {}: {err}",
            compression::name(encoding).unwrap_or("its grpc-encoding")
        ))),
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
        // Before encoding: the headers name the encoding, which may not change after this.
        self.call.state().mark_headers_sent();
        let compression = self.call.state().message_encoding();
        let mut encode =
            |buf: &mut BytesMut| encode_frame_into(&message, self.max_size, compression, buf);
        match poll_fn(|cx| self.outbox.poll_push(cx, &mut encode)).await {
            Ok(()) => Ok(()),
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
