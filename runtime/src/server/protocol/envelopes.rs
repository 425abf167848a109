//! A body of envelopes (a flag byte, a 4-byte length, the payload), each rewritten as it
//! arrives whole: how a Connect stream in JSON becomes the protobuf stream the handler
//! reads, and its answer JSON again. Envelopes may arrive split across frames or several
//! in one; the rewritten ones leave together, one frame per arrival.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame};

use crate::Status;

/// Rewrites one whole envelope, given its flag and payload: the envelope(s) to send on.
pub(super) type Rewrite = Box<dyn FnMut(u8, Bytes) -> Result<Bytes, Status> + Send>;

/// `inner` with each envelope rewritten. One longer than `limit` is refused from its
/// prefix, before it is buffered. Bytes left over at the end (a truncated envelope) go on
/// as they are, so whatever reads them next reports the truncation as it always does;
/// trailers go on after them.
pub(super) struct Rewritten {
    inner: tonic::body::Body,
    rewrite: Rewrite,
    limit: usize,
    buf: BytesMut,
    /// The inner body's trailers, held back until the bytes before them have gone.
    trailers: Option<http::HeaderMap>,
    /// The inner body has ended (or failed): nothing more is read from it.
    done: bool,
}

impl Rewritten {
    pub(super) fn new(inner: tonic::body::Body, limit: usize, rewrite: Rewrite) -> Self {
        Self {
            inner,
            rewrite,
            limit,
            buf: BytesMut::new(),
            trailers: None,
            done: false,
        }
    }

    /// Every whole envelope in the buffer, rewritten; `None` if there is none.
    fn take_whole(&mut self) -> Result<Option<Bytes>, Status> {
        let mut out = BytesMut::new();
        while let Some(prefix) = self.buf.get(..5) {
            let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            if len > self.limit {
                return Err(crate::call::status::request_too_large(len, self.limit));
            }
            if self.buf.len() < 5 + len {
                break;
            }
            let flag = self.buf.get_u8();
            self.buf.advance(4);
            let payload = self.buf.split_to(len).freeze();
            out.extend_from_slice(&(self.rewrite)(flag, payload)?);
        }
        Ok((!out.is_empty()).then(|| out.freeze()))
    }

    /// What is left once the inner body has ended: leftover bytes, then the trailers.
    fn drain(&mut self) -> Option<Frame<Bytes>> {
        if !self.buf.is_empty() {
            return Some(Frame::data(self.buf.split().freeze()));
        }
        self.trailers.take().map(Frame::trailers)
    }
}

impl Body for Rewritten {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(this.drain().map(Ok));
            }
            match this.take_whole() {
                Ok(Some(rewritten)) => return Poll::Ready(Some(Ok(Frame::data(rewritten)))),
                Ok(None) => {}
                Err(status) => {
                    this.done = true;
                    this.buf.clear();
                    return Poll::Ready(Some(Err(status)));
                }
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => this.done = true,
                Poll::Ready(Some(Err(status))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => this.buf.extend_from_slice(&data),
                    Err(frame) => {
                        this.trailers = frame.into_trailers().ok();
                        this.done = true;
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.buf.is_empty() && self.trailers.is_none()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;
    use crate::codec::envelope;

    fn chunks(parts: Vec<Bytes>) -> tonic::body::Body {
        let frames = parts
            .into_iter()
            .map(|part| Ok::<_, Status>(Frame::data(part)));
        tonic::body::Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(
            frames,
        )))
    }

    fn upper() -> Rewrite {
        Box::new(|flag, payload| Ok(envelope(flag, &payload.to_ascii_uppercase())))
    }

    fn collect(body: Rewritten) -> Result<Vec<u8>, Status> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let collected = runtime.block_on(body.collect())?;
        Ok(collected.to_bytes().to_vec())
    }

    #[test]
    fn envelopes_split_across_frames_or_sharing_one_are_each_rewritten() {
        let mut wire = envelope(0, b"one").to_vec();
        wire.extend_from_slice(&envelope(1, b"two"));
        wire.extend_from_slice(&envelope(0, b"three"));
        let parts = vec![
            Bytes::copy_from_slice(&wire[..2]),
            Bytes::copy_from_slice(&wire[2..10]),
            Bytes::copy_from_slice(&wire[10..]),
        ];
        let out = collect(Rewritten::new(chunks(parts), 100, upper())).unwrap();
        let mut expected = envelope(0, b"ONE").to_vec();
        expected.extend_from_slice(&envelope(1, b"TWO"));
        expected.extend_from_slice(&envelope(0, b"THREE"));
        assert_eq!(out, expected);
    }

    #[test]
    fn a_truncated_envelope_goes_on_as_it_came() {
        let mut wire = envelope(0, b"whole").to_vec();
        wire.extend_from_slice(&envelope(0, b"cut short")[..7]);
        let out = collect(Rewritten::new(
            chunks(vec![wire.clone().into()]),
            100,
            upper(),
        ));
        let mut expected = envelope(0, b"WHOLE").to_vec();
        expected.extend_from_slice(&wire[10..]);
        assert_eq!(out.unwrap(), expected);
    }

    #[test]
    fn an_envelope_over_the_limit_is_refused_from_its_prefix() {
        let wire = envelope(0, &[b'x'; 11])[..5].to_vec();
        let err = collect(Rewritten::new(chunks(vec![wire.into()]), 10, upper())).unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    }
}
