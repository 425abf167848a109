//! A request body sent as base64 (gRPC-Web's text form), decoded as it arrives.
//!
//! Clients may send the body in separately encoded chunks, each with its own padding
//! (`AAA=` then `BBBB`): every four characters decode on their own, so padding may end any
//! quantum, not only the last. A character outside the alphabet, or a body ending inside a
//! quantum, ends the call with `INVALID_ARGUMENT` saying where.

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};

use crate::Status;

/// `inner`, base64-decoded.
pub(super) struct Base64Decoded {
    inner: tonic::body::Body,
    /// Characters of a quantum not yet complete (fewer than 4).
    pending: BytesMut,
    /// How many characters were decoded before `pending`, for error messages.
    consumed: u64,
}

impl Base64Decoded {
    pub(super) fn new(inner: tonic::body::Body) -> Self {
        Self {
            inner,
            pending: BytesMut::new(),
            consumed: 0,
        }
    }

    /// Decodes every whole quantum of `pending`, keeping the rest.
    fn decode_whole_quanta(&mut self) -> Result<Bytes, Status> {
        let whole = self.pending.len() / 4 * 4;
        let text = self.pending.split_to(whole);
        let mut decoded = Vec::with_capacity(whole / 4 * 3);
        // Runs of quanta without padding decode in one call; a padded quantum ends a run.
        let mut start = 0;
        while start < text.len() {
            let end = text[start..]
                .chunks(4)
                .position(|quantum| quantum.contains(&b'='))
                .map_or(text.len(), |index| start + (index + 1) * 4);
            let at = self.consumed + start as u64;
            STANDARD
                .decode_vec(&text[start..end], &mut decoded)
                .map_err(|err| not_base64(at, &err))?;
            start = end;
        }
        self.consumed += whole as u64;
        Ok(Bytes::from(decoded))
    }
}

/// What is wrong with base64 that failed to decode, `at` the position of its first
/// character in the body.
fn not_base64(at: u64, err: &base64::DecodeError) -> Status {
    let problem = match *err {
        base64::DecodeError::InvalidByte(offset, byte) => format!(
            "{:?} at character {} is not base64",
            char::from(byte),
            at + offset as u64
        ),
        base64::DecodeError::InvalidLastSymbol(offset, byte) => format!(
            "{:?} at character {} cannot end a quantum",
            char::from(byte),
            at + offset as u64
        ),
        _ => format!("the quantum at character {at} is malformed ({err})"),
    };
    Status::invalid_argument(format!("grpc-web-text: the request body: {problem}"))
}

impl Body for Base64Decoded {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(status))) => return Poll::Ready(Some(Err(status))),
                Poll::Ready(Some(Ok(frame))) => {
                    // Request trailers carry nothing gRPC reads.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    self.pending.extend_from_slice(&data);
                    match self.decode_whole_quanta() {
                        Ok(decoded) if decoded.is_empty() => continue,
                        Ok(decoded) => return Poll::Ready(Some(Ok(Frame::data(decoded)))),
                        Err(status) => return Poll::Ready(Some(Err(status))),
                    }
                }
                Poll::Ready(None) if self.pending.is_empty() => return Poll::Ready(None),
                Poll::Ready(None) => {
                    let status = Status::invalid_argument(format!(
                        "grpc-web-text: the request body: it ends inside a base64 quantum \
                         ({} characters after character {})",
                        self.pending.len(),
                        self.consumed
                    ));
                    self.pending.clear();
                    return Poll::Ready(Some(Err(status)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::task::Waker;

    use super::*;

    /// A body of ready chunks.
    struct Chunks(VecDeque<Bytes>);

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Status;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
            Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }
    }

    /// Decodes `chunks`, sent as separate frames.
    fn decode(chunks: &[&str]) -> Result<Vec<u8>, Status> {
        let chunks = chunks
            .iter()
            .map(|chunk| Bytes::copy_from_slice(chunk.as_bytes()));
        let mut decoded = Base64Decoded::new(tonic::body::Body::new(Chunks(chunks.collect())));
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        while let Poll::Ready(Some(frame)) = Pin::new(&mut decoded).poll_frame(&mut cx) {
            if let Ok(data) = frame?.into_data() {
                out.extend_from_slice(&data);
            }
        }
        Ok(out)
    }

    #[test]
    fn chunks_split_anywhere_and_padded_separately_decode() {
        assert_eq!(decode(&["aGVsbG8="]).unwrap(), b"hello");
        assert_eq!(decode(&["aG", "VsbG", "8="]).unwrap(), b"hello");
        // Two messages encoded separately, each padded: "hi" then "there".
        assert_eq!(decode(&["aGk=", "dGhlcmU="]).unwrap(), b"hithere");
        assert_eq!(decode(&["aGk=dGhl", "cmU="]).unwrap(), b"hithere");
        assert_eq!(decode(&[]).unwrap(), b"");
    }

    #[test]
    fn bad_base64_and_a_cut_quantum_say_where() {
        let status = decode(&["aGVs", "b*8="]).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "grpc-web-text: the request body: '*' at character 5 is not base64"
        );
        let status = decode(&["aGVsbG8=", "aG"]).unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            status.message(),
            "grpc-web-text: the request body: it ends inside a base64 quantum (2 characters \
             after character 8)"
        );
    }
}
