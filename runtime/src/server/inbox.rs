//! Where a call's request bytes wait to become messages: the body is read ahead into one
//! buffer as DATA arrives, and gRPC frames are split off it there.
//!
//! Why read ahead: h2 keeps every DATA frame it received until the application reads it,
//! and charges each small one against a per-connection budget (see `builder`'s "Why the
//! connection window is 8 MiB"). A handler reads one message at a time, so a call whose
//! client sends many small messages faster than the handler takes them would hold them in
//! h2 as frames, spend the budget, and get the whole connection closed. Copying each
//! frame's payload here as it arrives frees h2's frame at once, at the cost of one copy
//! (the one tonic's decoder made too), and many small messages wait as one buffer.
//!
//! The buffer is bounded: past [`READ_AHEAD`] bytes (or the message being read, if larger)
//! reading stops, so flow control holds the client back, and a peer that floods tiny
//! frames at a call that does not read them still meets h2's budget and is cut off.
//!
//! The body is read only once h2 has woken it (see `wake_flag`): reading it on every poll
//! of the driver, only to hear "nothing yet", was a tenth of a bidi ping-pong's server
//! instructions.
//!
//! The decoding is ours rather than tonic's so that a compressed message is never inflated
//! past the size limit, and so that a handler can tell whether a message came compressed.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context as TaskContext, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body;
use tonic::{Code, Status};

use super::wake_flag::WakeFlag;
use crate::call::status;

/// How many request bytes a call reads ahead of its handler. Small messages of a busy
/// call wait here, coalesced, rather than as frames in h2; at 200 calls a connection, this
/// bounds read-ahead at 3.2 MiB beyond the connection window.
pub(crate) const READ_AHEAD: usize = 16 * 1024;

/// The five-byte prefix of every gRPC message: a compressed flag and a big-endian length.
const PREFIX_LEN: usize = 5;

/// One message as it arrived: its flag byte (0: as is, 1: compressed, anything else is a
/// protocol error the reader reports) and its bytes.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) flag: u8,
    pub(crate) payload: Bytes,
}

/// The request bytes of one call, shared by its driver (which reads ahead) and its request
/// stream (which takes messages).
pub(crate) struct Inbox {
    state: Mutex<State>,
    /// The waker the body is polled with. Waking it wakes the driver and the reader. It is
    /// apart from the inbox, since h2 keeps it until it wakes it: an inbox that was its own
    /// waker would keep itself, and the body it owns, alive after the call, and h2 would
    /// never reset the stream of a call that ended before its client stopped sending.
    arrivals: WakeFlag<2>,
}

/// Which task of the arrival flag's is which.
const DRIVER: usize = 0;
const READER: usize = 1;

struct State {
    body: tonic::body::Body,
    buf: BytesMut,
    /// The bytes the reader needs in `buf` to complete its next message (0: no reader).
    need: usize,
    end: Option<End>,
}

/// How the request body ended.
enum End {
    /// The client half-closed.
    Complete,
    /// The stream broke: reset by the client, or a transport error.
    Broken(Status),
}

impl Inbox {
    pub(crate) fn new(body: tonic::body::Body) -> Self {
        Self {
            state: Mutex::new(State {
                body,
                buf: BytesMut::new(),
                need: 0,
                end: None,
            }),
            arrivals: WakeFlag::new(),
        }
    }

    /// Reads what has arrived, up to the read-ahead bound. A reader waiting for it was
    /// woken by the same arrival, and finds it here.
    pub(crate) fn read_ahead(&self, cx: &mut TaskContext<'_>) {
        self.arrivals.register(DRIVER, cx.waker());
        if self.arrivals.is_set() {
            self.lock().fill(&self.arrivals);
        }
    }

    /// The next message, refused from its prefix if it is larger than `max_size`;
    /// `Ok(None)` once the client half-closed after a whole message.
    ///
    /// Further messages that have arrived whole go into `more`, up to [`READ_AHEAD`] bytes of
    /// them, so that a reader taking many small messages takes the lock once for a batch (a
    /// lock is atomic operations, which callgrind counts as single instructions but the CPU
    /// does not: client streaming cost 1.2× tonic's CPU per message with fewer instructions).
    pub(crate) fn poll_frame(
        &self,
        cx: &mut TaskContext<'_>,
        max_size: usize,
        more: &mut VecDeque<Frame>,
    ) -> Poll<Result<Option<Frame>, Status>> {
        let mut state = self.lock();
        let mut registered = false;
        loop {
            let need = match state.frame_len(max_size)? {
                Some(len) if state.buf.len() >= len => {
                    state.need = 0;
                    let first = state.take_frame(len);
                    state.take_whole_frames(max_size, more);
                    return Poll::Ready(Ok(Some(first)));
                }
                Some(len) => len,
                None => PREFIX_LEN,
            };
            state.need = need;
            if state.fill(&self.arrivals) {
                continue;
            }
            if state.end.is_some() || registered {
                break;
            }
            // Nothing more for now: ask to hear of the next arrival, then look once more,
            // since one may have come in between. (Only here, not for every message: a
            // waker registration is atomic operations, which callgrind counts as single
            // instructions but the CPU does not.)
            self.arrivals.register(READER, cx.waker());
            registered = true;
        }
        match &state.end {
            None => Poll::Pending,
            Some(End::Broken(status)) => Poll::Ready(Err(status.clone())),
            Some(End::Complete) if state.buf.is_empty() => {
                // The buffer may still share a large message's allocation: free it now, not
                // when the call ends (see `dispatch::single_request`).
                state.buf = BytesMut::new();
                Poll::Ready(Ok(None))
            }
            Some(End::Complete) => Poll::Ready(Err(Status::internal(format!(
                "the request stream ended inside a message: {} bytes of it arrived \
                 (Unexpected EOF decoding stream)",
                state.buf.len()
            )))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The lock guards a buffer and a body, never held across a call that can panic
        // halfway through a change; a poisoned lock still holds consistent data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// The length of the next message with its prefix, once its prefix has arrived.
    fn frame_len(&self, max_size: usize) -> Result<Option<usize>, Status> {
        let Some(prefix) = self.buf.get(..PREFIX_LEN) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > max_size {
            return Err(status::request_too_large(len, max_size));
        }
        Ok(Some(PREFIX_LEN + len))
    }

    /// Moves the messages that have arrived whole into `out`, up to [`READ_AHEAD`] bytes;
    /// one that is too large stays, for the next read to refuse.
    fn take_whole_frames(&mut self, max_size: usize, out: &mut VecDeque<Frame>) {
        let mut taken = 0;
        while let Ok(Some(len)) = self.frame_len(max_size) {
            if self.buf.len() < len || taken + len > READ_AHEAD {
                break;
            }
            taken += len;
            out.push_back(self.take_frame(len));
        }
    }

    fn take_frame(&mut self, len: usize) -> Frame {
        let mut frame = self.buf.split_to(len);
        let flag = frame.get_u8();
        frame.advance(PREFIX_LEN - 1);
        Frame {
            flag,
            payload: frame.freeze(),
        }
    }

    /// Reads the body while there is room, if h2 said there may be something; true if
    /// anything arrived or the body ended.
    fn fill(&mut self, arrivals: &WakeFlag<2>) -> bool {
        if !arrivals.take() {
            return false;
        }
        let mut cx = TaskContext::from_waker(arrivals.waker());
        let mut progressed = false;
        loop {
            if self.end.is_some() {
                break;
            }
            if self.buf.len() >= self.need.max(READ_AHEAD) {
                // Stopped for room, not for data: the next read must try again.
                arrivals.set();
                break;
            }
            match std::pin::Pin::new(&mut self.body).poll_frame(&mut cx) {
                Poll::Pending => break,
                Poll::Ready(Some(Ok(frame))) => {
                    // Request trailers carry nothing gRPC reads.
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                        progressed = true;
                    }
                }
                Poll::Ready(None) => {
                    self.end = Some(End::Complete);
                    progressed = true;
                }
                Poll::Ready(Some(Err(error))) => {
                    let status = if error.code() == Code::Cancelled {
                        status::cancelled_by_client()
                    } else {
                        error
                    };
                    self.end = Some(End::Broken(status));
                    progressed = true;
                }
            }
        }
        progressed
    }
}
