//! Counting a call's messages as its bytes go by: the gRPC framing (a flag byte and a
//! 4-byte big-endian length before each message) is read from a body's DATA, whatever
//! the chunks are cut like, without touching the messages themselves.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tonic::{Code, Status};

use super::Messages;
use crate::call::status;

const PREFIX: usize = 5;

/// Reads message prefixes out of a stream of bytes.
#[derive(Debug, Default)]
pub(crate) struct FrameMeter {
    prefix: [u8; PREFIX],
    prefix_len: usize,
    /// Bytes of the current message still to go by.
    payload_left: u64,
}

impl FrameMeter {
    /// Reads `bytes`, the next chunk of a body, and adds each message whose prefix
    /// completes in it to `tally`.
    pub(crate) fn feed(&mut self, mut bytes: &[u8], tally: &Direction) {
        while !bytes.is_empty() {
            if self.payload_left > 0 {
                let skipped = usize::try_from(self.payload_left)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                bytes = &bytes[skipped..];
                self.payload_left -= skipped as u64;
                continue;
            }
            let taken = (PREFIX - self.prefix_len).min(bytes.len());
            self.prefix[self.prefix_len..self.prefix_len + taken].copy_from_slice(&bytes[..taken]);
            self.prefix_len += taken;
            bytes = &bytes[taken..];
            if self.prefix_len == PREFIX {
                let [_, a, b, c, d] = self.prefix;
                let length = u64::from(u32::from_be_bytes([a, b, c, d]));
                tally.add(length);
                self.payload_left = length;
                self.prefix_len = 0;
            }
        }
    }
}

/// The messages one direction of a call carried so far, shared between the body that
/// counts them and whoever reports the call's end.
#[derive(Debug, Default)]
pub(crate) struct Direction {
    count: AtomicU64,
    bytes: AtomicU64,
}

impl Direction {
    fn add(&self, length: u64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(length, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> Messages {
        Messages {
            count: self.count.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}

/// Both directions of a call (or an attempt).
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) sent: Direction,
    pub(crate) received: Direction,
}

/// A body whose messages are counted into `direction` as they are read.
pub(crate) struct Metered<B> {
    inner: B,
    meter: FrameMeter,
    tally: Arc<Tally>,
    sent: bool,
}

impl<B> Metered<B> {
    /// Counts `inner`'s messages as `tally`'s sent ones.
    pub(crate) fn sent(inner: B, tally: Arc<Tally>) -> Self {
        Self {
            inner,
            meter: FrameMeter::default(),
            tally,
            sent: true,
        }
    }

    /// Counts `inner`'s messages as `tally`'s received ones.
    pub(crate) fn received(inner: B, tally: Arc<Tally>) -> Self {
        Self {
            sent: false,
            ..Self::sent(inner, tally)
        }
    }

    pub(crate) fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// Counts the bytes of `frame`, if it is data.
    pub(crate) fn count(&mut self, frame: &Frame<Bytes>) {
        if let Some(data) = frame.data_ref() {
            let direction = if self.sent {
                &self.tally.sent
            } else {
                &self.tally.received
            };
            self.meter.feed(data, direction);
        }
    }
}

impl<B> Body for Metered<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame {
            self.count(frame);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What a [`Reported`] body tells at its end.
pub(crate) trait OnEnd: Send + Unpin + 'static {
    /// The trailers, before they go on: may add to them.
    fn trailers(&mut self, trailers: &mut http::HeaderMap) {
        let _ = trailers;
    }

    /// The status the body ended with (told once, from the first of these to come: the
    /// trailers, an error, or the end of the body without trailers).
    fn end(&mut self, code: Code, message: &str);
}

/// A response body whose messages are counted, and whose status (from its trailers) is
/// told to `on_end`.
pub(crate) struct Reported<E> {
    body: Metered<tonic::body::Body>,
    on_end: E,
}

impl<E: OnEnd> Reported<E> {
    pub(crate) fn new(body: Metered<tonic::body::Body>, on_end: E) -> Self {
        Self { body, on_end }
    }
}

impl<E: OnEnd> Body for Reported<E> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let frame = match ready!(Pin::new(this.body.inner_mut()).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(status)) => {
                this.on_end.end(status.code(), status.message());
                return Poll::Ready(Some(Err(status)));
            }
            None => {
                this.on_end
                    .end(Code::Unknown, "the response ended without a status");
                return Poll::Ready(None);
            }
        };
        this.body.count(&frame);
        let frame = match frame.into_trailers() {
            Ok(mut trailers) => {
                this.on_end.trailers(&mut trailers);
                match status::read_grpc(&trailers) {
                    Some((code, message)) => this.on_end.end(code, &message),
                    None => this
                        .on_end
                        .end(Code::Unknown, "no grpc-status in the trailers"),
                }
                Frame::trailers(trailers)
            }
            Err(frame) => frame,
        };
        Poll::Ready(Some(Ok(frame)))
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

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0];
        frame.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn messages_are_counted_however_the_bytes_are_cut() {
        let mut stream = frame(b"hello");
        stream.extend(frame(b""));
        stream.extend(frame(&[7; 300]));
        for cut in 1..stream.len() {
            let direction = Direction::default();
            let mut meter = FrameMeter::default();
            for chunk in stream.chunks(cut) {
                meter.feed(chunk, &direction);
            }
            assert_eq!(
                direction.read(),
                Messages {
                    count: 3,
                    bytes: 305
                },
                "chunks of {cut}"
            );
        }
    }
}
