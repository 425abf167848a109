//! A response body whose last envelope stands for gRPC's trailers (gRPC-Web's trailers
//! frame, Connect's end-of-stream message), turned back into a gRPC body: the message
//! envelopes pass through untouched, and the last one becomes a trailers frame.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame};
use tonic::Status;

use crate::Compression;
use crate::compression::{DecompressError, decompress};

/// The most an ending envelope may hold: trailers and an error, never a message.
const MAX_ENDING: usize = 1 << 20;

/// How a protocol ends its response body.
pub(super) struct Ending {
    /// The flag bit marking the ending envelope.
    pub(super) flag: u8,
    /// The trailers an ending envelope's (decompressed) payload stands for.
    pub(super) read: fn(&[u8]) -> Result<HeaderMap, Status>,
    /// What is wrong when the body ends without it.
    pub(super) missing: &'static str,
}

/// The gRPC body of a response whose trailers travel as the body's last envelope.
pub(super) struct Ended {
    inner: tonic::body::Body,
    ending: &'static Ending,
    /// The encoding of compressed envelopes, from the response headers.
    encoding: Option<Compression>,
    /// Where the body is in its envelopes.
    at: At,
    /// Frames ready to hand on.
    ready: VecDeque<Frame<Bytes>>,
    done: bool,
}

/// Where the body is in its sequence of envelopes.
enum At {
    /// Reading an envelope's 5-byte header, of which these bytes have come.
    Header(BytesMut),
    /// Passing on this many more bytes of a message.
    Message(usize),
    /// Reading the ending envelope: its flag, its length and the bytes so far.
    Ending(u8, usize, BytesMut),
}

impl Ended {
    pub(super) fn new(
        inner: tonic::body::Body,
        ending: &'static Ending,
        encoding: Option<Compression>,
    ) -> Self {
        Self {
            inner,
            ending,
            encoding,
            at: At::Header(BytesMut::with_capacity(5)),
            ready: VecDeque::new(),
            done: false,
        }
    }

    /// Splits a chunk of the body at its envelopes' boundaries; the trailers once the
    /// ending envelope is whole.
    fn split(&mut self, mut chunk: Bytes) -> Result<Option<HeaderMap>, Status> {
        while !chunk.is_empty() {
            match &mut self.at {
                At::Message(remaining) => {
                    let take = (*remaining).min(chunk.len());
                    self.ready.push_back(Frame::data(chunk.split_to(take)));
                    *remaining -= take;
                    if *remaining == 0 {
                        self.at = At::Header(BytesMut::with_capacity(5));
                    }
                }
                At::Header(header) => {
                    let take = (5 - header.len()).min(chunk.len());
                    header.extend_from_slice(&chunk.split_to(take));
                    if header.len() < 5 {
                        continue;
                    }
                    let mut header = std::mem::take(header).freeze();
                    let flag = header[0];
                    let length = usize::try_from((&header[1..]).get_u32()).unwrap_or(usize::MAX);
                    if flag & self.ending.flag != 0 {
                        if length > MAX_ENDING {
                            return Err(Status::internal(format!(
                                "protocol error: the response's ending message is {length} \
                                 bytes, more than the {MAX_ENDING} allowed"
                            )));
                        }
                        self.at = At::Ending(flag, length, BytesMut::with_capacity(length));
                    } else {
                        self.ready.push_back(Frame::data(header.split_to(5)));
                        self.at = if length == 0 {
                            At::Header(BytesMut::with_capacity(5))
                        } else {
                            At::Message(length)
                        };
                    }
                }
                At::Ending(_, length, payload) => {
                    let take = (*length - payload.len()).min(chunk.len());
                    payload.extend_from_slice(&chunk.split_to(take));
                }
            }
            if let At::Ending(flag, length, payload) = &self.at
                && payload.len() == *length
            {
                return self.read_ending(*flag, payload).map(Some);
            }
        }
        Ok(None)
    }

    fn read_ending(&self, flag: u8, payload: &[u8]) -> Result<HeaderMap, Status> {
        if flag & 0x01 == 0 {
            return (self.ending.read)(payload);
        }
        let Some(encoding) = self.encoding else {
            return Err(Status::internal(
                "protocol error: the response's ending message is compressed, but the \
                 response names no encoding",
            ));
        };
        match decompress(encoding, payload, MAX_ENDING) {
            Ok(inflated) => (self.ending.read)(&inflated),
            Err(DecompressError::TooLarge) => Err(Status::internal(format!(
                "protocol error: the response's ending message inflates past {MAX_ENDING} bytes"
            ))),
            Err(DecompressError::Corrupt(error)) => Err(Status::internal(format!(
                "protocol error: the response's ending message does not decompress: {error}"
            ))),
        }
    }

    /// The error for a body that ended before its ending envelope.
    fn ended_early(&self) -> Status {
        match &self.at {
            At::Header(header) if header.is_empty() => {
                Status::internal(format!("protocol error: {}", self.ending.missing))
            }
            _ => Status::internal(
                "protocol error: the response ended in the middle of a message (a truncated \
                 envelope)",
            ),
        }
    }
}

impl Body for Ended {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(frame)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(self.ended_early())));
                }
                Poll::Ready(Some(Err(status))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            let data = match frame.into_data() {
                Ok(data) => data,
                // Real trailers (gRPC-Web over HTTP/2 may use them) end the body as gRPC's.
                Err(frame) => {
                    self.done = true;
                    if let Ok(trailers) = frame.into_trailers() {
                        self.ready.push_back(Frame::trailers(trailers));
                    }
                    continue;
                }
            };
            match self.split(data) {
                Ok(None) => {}
                Ok(Some(trailers)) => {
                    self.done = true;
                    self.ready.push_back(Frame::trailers(trailers));
                    // Reading the body's end, when it is already here, lets HTTP/1.1 reuse
                    // the connection; waiting for it could hang on a server that never ends.
                    let _ = Pin::new(&mut self.inner).poll_frame(cx);
                }
                Err(status) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(status)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.ready.is_empty()
    }
}
