//! The runtime's side of a served call, behind the handler's [`Context`]: the failure slot
//! that ends the call whatever the handler returns, the driver's waker, the response
//! metadata until it goes on the wire (and whether the headers did), and the call's
//! compression state. The handler reaches it only through `Context`'s methods; the driver,
//! the request stream and the sinks use it directly.
//!
//! It lives inline in the context's one allocation: a call costs no second `Arc`.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::Waker;

use futures_util::task::AtomicWaker;
use tonic::Status;
use tonic::codec::CompressionEncoding as Compression;
use tonic::metadata::MetadataMap;

use super::context::Context;
use crate::compression::{self, Accepted};

/// The state the driver shares with the handler's context.
pub(crate) struct CallState {
    answer: Mutex<Answer>,
    /// Asks the driver to send the initial metadata now (see [`Context::send_headers`]).
    headers_requested: AtomicBool,
    /// Wakes the driver for that request or a failure, even from a task the handler
    /// spawned.
    driver: AtomicWaker,
    /// A status that ends the call whatever the handler returns (see [`Failure`]).
    failure: OnceLock<Status>,
    /// The initial metadata waits for the handler (see [`Context::defer_headers`]).
    headers_deferred: AtomicBool,
    /// Whether the last request message arrived compressed.
    request_compressed: AtomicBool,
    /// The response messages' encoding ([`encoding_code`]); fixed once headers are sent.
    response_encoding: AtomicU8,
    /// Whether the next response messages are compressed (when the call compresses).
    message_compression: AtomicBool,
}

/// The response metadata, until it goes on the wire.
#[derive(Default)]
struct Answer {
    headers: MetadataMap,
    trailers: MetadataMap,
    headers_sent: bool,
}

/// An encoding as stored in an atomic: 0 for none.
fn encoding_code(encoding: Option<Compression>) -> u8 {
    match encoding {
        Some(Compression::Gzip) => 1,
        Some(Compression::Zstd) => 2,
        _ => 0,
    }
}

fn encoding_of(code: u8) -> Option<Compression> {
    match code {
        1 => Some(Compression::Gzip),
        2 => Some(Compression::Zstd),
        _ => None,
    }
}

impl CallState {
    /// The state of a call whose responses are compressed with `encoding`, which the
    /// client decodes (see `Context::new`).
    pub(crate) fn new(encoding: Option<Compression>) -> Self {
        Self {
            answer: Mutex::default(),
            headers_requested: AtomicBool::new(false),
            driver: AtomicWaker::new(),
            failure: OnceLock::new(),
            headers_deferred: AtomicBool::new(false),
            request_compressed: AtomicBool::new(false),
            response_encoding: AtomicU8::new(encoding_code(encoding)),
            message_compression: AtomicBool::new(true),
        }
    }

    // ---- response metadata ----

    /// Adds `headers` to the initial metadata; fails once it was sent.
    pub(crate) fn set_headers(&self, method: &str, headers: MetadataMap) -> Result<(), Status> {
        let mut answer = self.answer();
        if answer.headers_sent {
            return Err(Status::internal(format!(
                "{method}: initial metadata was already sent"
            )));
        }
        merge(&mut answer.headers, headers);
        Ok(())
    }

    /// Adds `trailers` to the trailing metadata.
    pub(crate) fn set_trailers(&self, trailers: MetadataMap) {
        merge(&mut self.answer().trailers, trailers);
    }

    /// Records that the initial metadata is (about to be) sent; true if it already was.
    pub(crate) fn mark_headers_sent(&self) -> bool {
        std::mem::replace(&mut self.answer().headers_sent, true)
    }

    /// Takes the initial metadata to put on the wire.
    pub(crate) fn take_headers(&self) -> MetadataMap {
        let mut answer = self.answer();
        answer.headers_sent = true;
        std::mem::take(&mut answer.headers)
    }

    /// Takes the trailing metadata to put on the wire.
    pub(crate) fn take_trailers(&self) -> MetadataMap {
        std::mem::take(&mut self.answer().trailers)
    }

    fn answer(&self) -> MutexGuard<'_, Answer> {
        // The lock guards plain data and is never held across a panic-prone call; a poisoned
        // lock still holds consistent metadata, so keep using it.
        self.answer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    // ---- the driver's wake-ups: headers requests and failures ----

    /// Asks the driver to send the initial metadata now.
    pub(crate) fn request_headers(&self) {
        self.headers_requested.store(true, Ordering::Release);
        self.driver.wake();
    }

    /// Keeps the initial metadata back on the handler's first read of the request stream.
    pub(crate) fn defer_headers(&self) {
        self.headers_deferred.store(true, Ordering::Relaxed);
    }

    /// For the request stream, on the handler's first read: sends the pending initial
    /// metadata unless the handler deferred it (see [`Context::defer_headers`]).
    pub(crate) fn announce_headers(&self) {
        if !self.headers_deferred.load(Ordering::Relaxed) && !self.mark_headers_sent() {
            self.request_headers();
        }
    }

    /// For the driver: whether the handler asked for the headers to go out now (the
    /// request is consumed). Register first ([`register_driver`](Self::register_driver))
    /// to hear of the next request.
    pub(crate) fn take_headers_request(&self) -> bool {
        self.headers_requested.swap(false, Ordering::AcqRel)
    }

    /// For the driver: hear of a failure or a headers request set from now on.
    pub(crate) fn register_driver(&self, waker: &Waker) {
        self.driver.register(waker);
    }

    /// Ends the call with `status` (the first one set wins) and wakes the driver.
    fn fail(&self, status: Status) {
        if self.failure.set(status).is_ok() {
            self.driver.wake();
        }
    }

    // ---- compression ----

    /// Whether the request message the handler received last arrived compressed.
    pub(crate) fn request_compressed(&self) -> bool {
        self.request_compressed.load(Ordering::Relaxed)
    }

    /// For the request stream: how the message it is handing over arrived.
    pub(crate) fn record_request_compressed(&self, compressed: bool) {
        self.request_compressed.store(compressed, Ordering::Relaxed);
    }

    /// Sets the response messages' encoding (`None`: uncompressed), if the client decodes
    /// it; fails once the initial metadata is sent, since it names the encoding, and for an
    /// encoding rgrpc does not speak.
    pub(crate) fn set_response_compression(
        &self,
        method: &str,
        encoding: Option<Compression>,
        accepted: Accepted,
    ) -> Result<(), Status> {
        if let Some(unsupported) = encoding.filter(|&e| compression::name(e).is_none()) {
            return Err(Status::internal(format!(
                "{method}: rgrpc cannot compress with {unsupported:?} (only gzip and zstd)"
            )));
        }
        let answer = self.answer();
        if answer.headers_sent {
            return Err(Status::internal(format!(
                "{method}: the response compression cannot change after the initial metadata was sent"
            )));
        }
        // `Accepted` holds only the encodings rgrpc speaks.
        let encoding = encoding.filter(|&e| accepted.contains(e));
        self.response_encoding
            .store(encoding_code(encoding), Ordering::Relaxed);
        drop(answer);
        Ok(())
    }

    /// The encoding of the call's response messages: `None` when they go uncompressed.
    pub(crate) fn response_compression(&self) -> Option<Compression> {
        encoding_of(self.response_encoding.load(Ordering::Relaxed))
    }

    /// Whether the response messages sent from now on are compressed.
    pub(crate) fn set_message_compression(&self, compress: bool) {
        self.message_compression.store(compress, Ordering::Relaxed);
    }

    /// How the next response message is compressed, if at all.
    pub(crate) fn message_encoding(&self) -> Option<Compression> {
        if self.message_compression.load(Ordering::Relaxed) {
            self.response_compression()
        } else {
            None
        }
    }
}

/// Inserts every entry of `from` into `into`, replacing entries with the same key.
fn merge(into: &mut MetadataMap, from: MetadataMap) {
    let mut headers = std::mem::take(into).into_headers();
    headers.extend(from.into_headers());
    *into = MetadataMap::from_headers(headers);
}

/// A status that ends the call whatever the handler returns: a request message the server
/// could not read, or a response message it would not send. The request stream and the
/// sinks set it (the first status wins, as the first one written wins in grpc-go); the
/// driver then stops the handler, writes what was sent before, and ends with that status.
///
/// It lives in the call's [`CallState`] (no allocation of its own) and wakes the driver
/// through the state's waker, even when set from a task the handler spawned.
#[derive(Clone)]
pub(crate) struct Failure(Context);

impl Failure {
    /// The failure slot of the call `ctx` serves.
    pub(crate) fn of(ctx: &Context) -> Self {
        Self(ctx.clone())
    }

    /// Ends the call with `status`, unless it is already ending with another.
    pub(crate) fn set(&self, status: Status) {
        self.0.state().fail(status);
    }

    /// The status set so far.
    pub(crate) fn get(&self) -> Option<Status> {
        self.0.state().failure.get().cloned()
    }

    /// The call this slot belongs to.
    pub(crate) fn call(&self) -> &Context {
        &self.0
    }
}
