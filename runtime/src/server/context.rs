//! What a handler knows about its call, and how it shapes the response metadata.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::metadata::MetadataMap;
#[cfg(feature = "tls")]
use tonic::transport::CertificateDer;
#[cfg(feature = "tls")]
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use crate::compression::{self, Accepted};
use crate::{Compression, reserved};

/// The call a handler is serving: who called which method with what metadata, by when it
/// must be answered, whether it was cancelled, and the metadata the handler answers with.
///
/// Cheap to clone (clones share the call), so it can be handed to tasks the handler spawns.
/// The call is *cancelled* — [`cancelled`](Self::cancelled) resolves — when the client
/// cancels or goes away, when the deadline passes, and when the call has ended; work
/// spawned for the call should stop then.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    method: &'static str,
    metadata: MetadataMap,
    peer: Option<SocketAddr>,
    /// The client's certificate chain, when it presented one over TLS.
    #[cfg(feature = "tls")]
    peer_certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
    extensions: http::Extensions,
    deadline: Option<Instant>,
    cancellation: CancellationToken,
    answer: Mutex<Answer>,
    /// Asks the driver to send the initial metadata now (see [`Context::send_headers`]).
    headers_requested: AtomicBool,
    /// Wakes the driver for that request or a failure, even from a task the handler
    /// spawned.
    driver: AtomicWaker,
    /// A status that ends the call whatever the handler returns (see `driver::Failure`).
    failure: OnceLock<Status>,
    /// The initial metadata waits for the handler (see [`Context::defer_headers`]).
    headers_deferred: AtomicBool,
    /// Whether the last request message arrived compressed.
    request_compressed: AtomicBool,
    /// The encodings the client decodes (`grpc-accept-encoding`).
    accepted: Accepted,
    /// The response messages' encoding ([`encoding_code`]); fixed once headers are sent.
    response_encoding: AtomicU8,
    /// Whether the next response messages are compressed (when the call compresses).
    message_compression: AtomicBool,
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

/// The response metadata, until it goes on the wire.
#[derive(Default)]
struct Answer {
    headers: MetadataMap,
    trailers: MetadataMap,
    headers_sent: bool,
}

impl Context {
    /// The context of a call to `method`; its responses are compressed with `compression`
    /// if the client decodes it.
    pub(crate) fn new(
        method: &'static str,
        parts: http::request::Parts,
        peer: Option<SocketAddr>,
        deadline: Option<Instant>,
        compression: Option<Compression>,
    ) -> Self {
        let accepted = Accepted::from_header(parts.headers.get(&compression::GRPC_ACCEPT_ENCODING));
        // `Accepted` holds only the encodings rgrpc speaks.
        let encoding = compression.filter(|&encoding| accepted.contains(encoding));
        Self {
            inner: Arc::new(Inner {
                method,
                metadata: reserved::metadata(parts.headers),
                peer,
                #[cfg(feature = "tls")]
                peer_certificates: parts
                    .extensions
                    .get::<TlsConnectInfo<TcpConnectInfo>>()
                    .and_then(TlsConnectInfo::peer_certs),
                extensions: parts.extensions,
                deadline,
                cancellation: CancellationToken::new(),
                answer: Mutex::default(),
                headers_requested: AtomicBool::new(false),
                driver: AtomicWaker::new(),
                failure: OnceLock::new(),
                headers_deferred: AtomicBool::new(false),
                request_compressed: AtomicBool::new(false),
                accepted,
                response_encoding: AtomicU8::new(encoding_code(encoding)),
                message_compression: AtomicBool::new(true),
            }),
        }
    }

    /// The full method name, as on the wire: `"/package.Service/Method"`.
    pub fn method(&self) -> &str {
        self.inner.method
    }

    /// The request metadata the client sent (protocol headers removed).
    pub fn metadata(&self) -> &MetadataMap {
        &self.inner.metadata
    }

    /// The client's address, when the transport knows it (TCP does, with or without TLS:
    /// tonic records the TCP connection's info under TLS too).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.inner.peer
    }

    /// The certificate chain the client presented over mutual TLS (its own certificate
    /// first, DER-encoded), already verified against the server's client CA; `None` without
    /// TLS or when the client presented none.
    #[cfg(feature = "tls")]
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.inner.peer_certificates.as_deref().map(Vec::as_slice)
    }

    /// The HTTP request extensions: what tower layers in front of the service attached.
    pub fn extensions(&self) -> &http::Extensions {
        &self.inner.extensions
    }

    /// The instant by which the client needs an answer, from its `grpc-timeout`; `None`
    /// if it set none. When it passes, the call ends with `DEADLINE_EXCEEDED` and the
    /// handler is stopped.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }

    /// How long until the deadline (zero once it has passed); `None` without a deadline.
    pub fn time_remaining(&self) -> Option<Duration> {
        self.inner
            .deadline
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Resolves once the call is cancelled (see the type's documentation).
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + '_ {
        self.inner.cancellation.cancelled()
    }

    /// Whether the call is cancelled already: the pollable form of [`cancelled`](Self::cancelled).
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancellation.is_cancelled()
    }

    /// A token cancelled with the call, to hand to code that takes a `CancellationToken`.
    /// It is a child: cancelling it does not cancel the call.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.inner.cancellation.child_token()
    }

    /// The token that is cancelled when the call is over; for the runtime alone.
    pub(crate) fn call_token(&self) -> &CancellationToken {
        &self.inner.cancellation
    }

    /// Adds `headers` to the initial metadata (replacing entries with the same keys).
    ///
    /// Initial metadata goes out with [`send_headers`](Self::send_headers), the first
    /// response message, or the end of the call, whichever comes first; in a client- or
    /// bidi-streaming call also when the handler first reads the request stream, unless it
    /// called [`defer_headers`](Self::defer_headers). After that this fails, since the
    /// headers are already on the wire.
    pub fn set_headers(&self, headers: MetadataMap) -> Result<(), Status> {
        let mut answer = self.answer();
        if answer.headers_sent {
            return Err(Status::internal(format!(
                "{}: initial metadata was already sent",
                self.inner.method
            )));
        }
        merge(&mut answer.headers, headers);
        Ok(())
    }

    /// Sends the initial metadata now, before any message — even before the handler reads
    /// a request of a streaming call. Does nothing if it was sent already.
    pub fn send_headers(&self) -> Result<(), Status> {
        if self.mark_headers_sent() {
            return Ok(());
        }
        if self.is_cancelled() {
            return Err(self.ended());
        }
        self.inner.headers_requested.store(true, Ordering::Release);
        self.inner.driver.wake();
        Ok(())
    }

    /// Keeps the initial metadata back when the handler reads the request stream of a
    /// client- or bidi-streaming call, so that it can set metadata that depends on the
    /// requests. It then goes out with [`send_headers`](Self::send_headers), the first
    /// response message or the end of the call.
    ///
    /// By default the headers go out when the handler first reads the request stream,
    /// because from then on the client may be waiting for them: tonic's client does not
    /// hand over a streaming call, and so cannot send its first request, until the response
    /// headers arrive. A handler that defers must send something before it waits for a
    /// request such a client sends only after the headers, or both sides wait forever.
    pub fn defer_headers(&self) {
        self.inner.headers_deferred.store(true, Ordering::Relaxed);
    }

    /// For the request stream, on the handler's first read: sends the pending initial
    /// metadata unless the handler deferred it (see [`defer_headers`](Self::defer_headers)).
    pub(crate) fn announce_headers(&self) {
        if !self.inner.headers_deferred.load(Ordering::Relaxed) && !self.mark_headers_sent() {
            self.inner.headers_requested.store(true, Ordering::Release);
            self.inner.driver.wake();
        }
    }

    /// Whether the request message the handler received last arrived compressed (as the
    /// gRPC interop tests' `expect_compressed` checks). `false` before any message.
    pub fn request_compressed(&self) -> bool {
        self.inner.request_compressed.load(Ordering::Relaxed)
    }

    /// For the request stream: how the message it is handing over arrived.
    pub(crate) fn record_request_compressed(&self, compressed: bool) {
        self.inner
            .request_compressed
            .store(compressed, Ordering::Relaxed);
    }

    /// Compresses this call's response messages with `encoding` (`None`: not at all),
    /// instead of the server's or the method's setting. The client must decode it: if its
    /// `grpc-accept-encoding` does not list `encoding`, the messages go uncompressed, the
    /// only form it can read. [`response_compression`](Self::response_compression) tells
    /// which applies.
    ///
    /// Fails once the initial metadata is sent, since it names the encoding, and for an
    /// encoding rgrpc does not speak (only gzip and zstd).
    pub fn set_response_compression(&self, encoding: Option<Compression>) -> Result<(), Status> {
        if let Some(unsupported) = encoding.filter(|&e| compression::name(e).is_none()) {
            return Err(Status::internal(format!(
                "{}: rgrpc cannot compress with {unsupported:?} (only gzip and zstd)",
                self.inner.method
            )));
        }
        let answer = self.answer();
        if answer.headers_sent {
            return Err(Status::internal(format!(
                "{}: the response compression cannot change after the initial metadata was                  sent",
                self.inner.method
            )));
        }
        let encoding = encoding.filter(|&e| self.inner.accepted.contains(e));
        self.inner
            .response_encoding
            .store(encoding_code(encoding), Ordering::Relaxed);
        drop(answer);
        Ok(())
    }

    /// The encoding of this call's response messages: `None` when they go uncompressed.
    pub fn response_compression(&self) -> Option<Compression> {
        encoding_of(self.inner.response_encoding.load(Ordering::Relaxed))
    }

    /// Whether the response messages sent from now on are compressed, when the call
    /// compresses at all (default `true`): a message that is already compressed, or
    /// secret data next to attacker-chosen data (compression leaks it, as in CRIME), is
    /// better sent as it is.
    pub fn set_message_compression(&self, compress: bool) {
        self.inner
            .message_compression
            .store(compress, Ordering::Relaxed);
    }

    /// How the next response message is compressed, if at all.
    pub(crate) fn message_encoding(&self) -> Option<Compression> {
        if self.inner.message_compression.load(Ordering::Relaxed) {
            self.response_compression()
        } else {
            None
        }
    }

    /// Adds `trailers` to the trailing metadata sent with the final status, OK or not.
    pub fn set_trailers(&self, trailers: MetadataMap) {
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

    /// For the driver: whether the handler asked for the headers to go out now (the
    /// request is consumed). Register first ([`register_driver`](Self::register_driver))
    /// to hear of the next request.
    pub(crate) fn take_headers_request(&self) -> bool {
        self.inner.headers_requested.swap(false, Ordering::AcqRel)
    }

    /// Ends the call with `status` (the first one set wins) and wakes the driver.
    pub(crate) fn fail(&self, status: Status) {
        if self.inner.failure.set(status).is_ok() {
            self.inner.driver.wake();
        }
    }

    /// The status the call is failing with, if any.
    pub(crate) fn failure(&self) -> Option<Status> {
        self.inner.failure.get().cloned()
    }

    /// For the driver: hear of a failure or a headers request set from now on.
    pub(crate) fn register_driver(&self, waker: &std::task::Waker) {
        self.inner.driver.register(waker);
    }

    /// The status for an attempt to answer a call that is already over.
    pub(crate) fn ended(&self) -> Status {
        Status::cancelled(format!("{}: the call has already ended", self.inner.method))
    }

    fn answer(&self) -> MutexGuard<'_, Answer> {
        // The lock guards plain data and is never held across a panic-prone call; a poisoned
        // lock still holds consistent metadata, so keep using it.
        self.inner
            .answer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Inserts every entry of `from` into `into`, replacing entries with the same key.
fn merge(into: &mut MetadataMap, from: MetadataMap) {
    let mut headers = std::mem::take(into).into_headers();
    headers.extend(from.into_headers());
    *into = MetadataMap::from_headers(headers);
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("method", &self.inner.method)
            .field("peer", &self.inner.peer)
            .field("deadline", &self.inner.deadline)
            .field("cancelled", &self.is_cancelled())
            .field("metadata", &self.inner.metadata)
            .finish_non_exhaustive()
    }
}
