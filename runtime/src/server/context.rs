//! What a handler knows about its call, and how it shapes the response metadata: the
//! handler's public view of a served call. The runtime's side of the call (the failure
//! slot, the driver's waker, whether headers went out) is [`CallState`], kept apart so that
//! nothing here is the driver's business.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::codec::CompressionEncoding as Compression;
use tonic::metadata::MetadataMap;
#[cfg(feature = "tls")]
use tonic::transport::CertificateDer;

use super::call_state::CallState;
use super::transport::peer::Peer;
use crate::call::cancel::CallCancellation;
use crate::call::status;
use crate::compression::{self, Accepted};
use crate::log::Parent;
use crate::reserved;

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
    /// The request's headers as they arrived; [`Context::metadata`] strips the protocol's
    /// own from a copy when first asked, since most handlers never ask (stripping them on
    /// every call cost about 2.5% of a unary call's server instructions).
    request_headers: http::HeaderMap,
    metadata: OnceLock<MetadataMap>,
    peer: Option<SocketAddr>,
    /// The client's certificate chain, when it presented one over TLS.
    #[cfg(feature = "tls")]
    peer_certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
    extensions: http::Extensions,
    deadline: Option<Instant>,
    cancellation: CallCancellation,
    /// The runtime's side of the call, in the same allocation.
    state: CallState,
    /// The call's span, for the calls made on its behalf (`Call::propagate`).
    parent: Parent,
}

impl Context {
    /// The context of a call to `method`; its responses are compressed with `compression`
    /// if the client decodes it.
    pub(crate) fn new(
        method: &'static str,
        parts: http::request::Parts,
        peer: Peer,
        deadline: Option<Instant>,
        compression: Option<Compression>,
        parent: Parent,
    ) -> Self {
        // The client's `grpc-accept-encoding` is read only when something may compress.
        let compression =
            compression.filter(|&encoding| accepted(&parts.headers).contains(encoding));
        Self {
            inner: Arc::new(Inner {
                method,
                request_headers: parts.headers,
                metadata: OnceLock::new(),
                peer: peer.addr,
                #[cfg(feature = "tls")]
                peer_certificates: peer.certificates,
                extensions: parts.extensions,
                deadline,
                cancellation: CallCancellation::default(),
                state: CallState::new(compression),
                parent,
            }),
        }
    }

    /// The call's span, as the parent of the calls made on its behalf.
    pub(crate) fn span_parent(&self) -> Parent {
        self.inner.parent.clone()
    }

    /// The runtime's side of the call: for the driver, the request stream and the sinks.
    pub(crate) fn state(&self) -> &CallState {
        &self.inner.state
    }

    /// The full method name, as on the wire: `"/package.Service/Method"`.
    pub fn method(&self) -> &str {
        self.inner.method
    }

    /// The request metadata the client sent: its HTTP/2 request headers, protocol headers
    /// (`content-type`, `te`, `grpc-timeout`, `grpc-encoding`…) removed.
    pub fn metadata(&self) -> &MetadataMap {
        self.inner
            .metadata
            .get_or_init(|| reserved::metadata(self.inner.request_headers.clone()))
    }

    /// The client's address, when the transport knows it (TCP does, with or without TLS;
    /// an in-process channel has none).
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
        self.inner.cancellation.token().cancelled()
    }

    /// Whether the call is cancelled already: the pollable form of [`cancelled`](Self::cancelled).
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancellation.is_cancelled()
    }

    /// A token cancelled with the call, to hand to code that takes a `CancellationToken`.
    /// It is a child: cancelling it does not cancel the call.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.inner.cancellation.token().child_token()
    }

    /// Ends the call for the handler and whatever it handed its context to; for the driver
    /// alone.
    pub(crate) fn end(&self) {
        self.inner.cancellation.cancel();
    }

    /// Adds `headers` to the initial metadata (replacing entries with the same keys).
    ///
    /// Initial metadata goes out with [`send_headers`](Self::send_headers), the first
    /// response message, or the end of the call, whichever comes first; in a client- or
    /// bidi-streaming call also when the handler first reads the request stream, unless it
    /// called [`defer_headers`](Self::defer_headers). After that this fails, since the
    /// headers are already on the wire.
    pub fn set_headers(&self, headers: MetadataMap) -> Result<(), Status> {
        self.state().set_headers(self.inner.method, headers)
    }

    /// Sends the initial metadata now, before any message — even before the handler reads
    /// a request of a streaming call. Does nothing if it was sent already.
    pub fn send_headers(&self) -> Result<(), Status> {
        if self.state().mark_headers_sent() {
            return Ok(());
        }
        if self.is_cancelled() {
            return Err(self.ended());
        }
        self.state().request_headers();
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
        self.state().defer_headers();
    }

    /// Whether the request message the handler received last arrived compressed (as the
    /// gRPC interop tests' `expect_compressed` checks). `false` before any message.
    pub fn request_compressed(&self) -> bool {
        self.state().request_compressed()
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
        let accepted = accepted(&self.inner.request_headers);
        self.state()
            .set_response_compression(self.inner.method, encoding, accepted)
    }

    /// The encoding of this call's response messages: `None` when they go uncompressed.
    pub fn response_compression(&self) -> Option<Compression> {
        self.state().response_compression()
    }

    /// Whether the response messages sent from now on are compressed, when the call
    /// compresses at all (default `true`): a message that is already compressed, or
    /// secret data next to attacker-chosen data (compression leaks it, as in CRIME), is
    /// better sent as it is.
    pub fn set_message_compression(&self, compress: bool) {
        self.state().set_message_compression(compress);
    }

    /// Adds `trailers` to the trailing metadata sent with the final status, OK or not: the
    /// HTTP/2 trailers, next to `grpc-status` and `grpc-message`.
    pub fn set_trailers(&self, trailers: MetadataMap) {
        self.state().set_trailers(trailers);
    }

    /// The status for an attempt to answer a call that is already over.
    pub(crate) fn ended(&self) -> Status {
        status::call_ended(self.inner.method)
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("method", &self.inner.method)
            .field("peer", &self.inner.peer)
            .field("deadline", &self.inner.deadline)
            .field("cancelled", &self.is_cancelled())
            .field("metadata", self.metadata())
            .finish_non_exhaustive()
    }
}

/// The encodings a client decodes, from its request headers (`grpc-accept-encoding`).
fn accepted(headers: &http::HeaderMap) -> Accepted {
    Accepted::from_header(headers.get(&compression::GRPC_ACCEPT_ENCODING))
}
