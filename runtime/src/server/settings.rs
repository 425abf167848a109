//! The settings a service is served with, per call: message size limits (how large a
//! request the server reads, how large a response it sends) and the response compression.
//! ("Limits" means message sizes everywhere in the runtime; the connection's HTTP/2 limits
//! are the [`Server`](super::Server) builder's.)
//!
//! A generated `FooServer<T>` carries no settings, so they travel with each request:
//! [`Limited`] puts them in the request's extensions, where dispatch finds them (and uses
//! the defaults when they are absent, e.g. in a plain tonic server).

use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::server::NamedService;
use tower_service::Service;

use super::response_compression::ResponseCompression;
use super::router::DescribedService;
use crate::codec::{DEFAULT_MAX_RECEIVE_MESSAGE_SIZE, DEFAULT_MAX_SEND_MESSAGE_SIZE};

/// The message size limits of a server.
///
/// The defaults are those of gRPC's other implementations: request messages up to 4 MiB,
/// response messages unlimited (up to the gRPC frame's own limit of 4 GiB).
///
/// * A request message over `max_request_message_size` is refused from its length prefix,
///   before any of it is buffered, and the call ends with `RESOURCE_EXHAUSTED`. The limit
///   also bounds a compressed message once decompressed.
/// * A response message over `max_response_message_size` is not sent: the handler's
///   `send` (or its return, for a single response) fails with `RESOURCE_EXHAUSTED`, and the
///   call ends with that status whatever the handler does next, so the client never takes
///   a missing message for a complete answer.
///
/// Set them on the [`Server`](super::Server) builder. To mount a generated server in
/// `tonic::transport::Server` with other limits than the defaults, wrap it in [`Limited`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageLimits {
    max_request: usize,
    max_response: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        Self {
            max_request: DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
            max_response: DEFAULT_MAX_SEND_MESSAGE_SIZE,
        }
    }
}

impl MessageLimits {
    /// The defaults: 4 MiB requests, unlimited responses.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses request messages larger than `bytes` (default 4 MiB).
    pub fn max_request_message_size(mut self, bytes: usize) -> Self {
        self.max_request = bytes;
        self
    }

    /// Refuses to send response messages larger than `bytes` (default: no limit).
    pub fn max_response_message_size(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// The largest request message the server reads, in bytes.
    pub fn max_request(&self) -> usize {
        self.max_request
    }

    /// The largest response message the server sends, in bytes.
    pub fn max_response(&self) -> usize {
        self.max_response
    }
}

/// What a service is served with, as dispatch finds it in a request's extensions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallSettings {
    pub(crate) limits: MessageLimits,
    pub(crate) compression: ResponseCompression,
}

/// A service served with message size `limits` and a response compression: what
/// [`Server`](super::Server) mounts services as.
///
/// Wrap a generated server in it to give it other settings than the defaults inside
/// `tonic::transport::Server`:
///
/// ```no_run
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use hello::hello_service_server::HelloServiceServer;
///
/// # block_on(async {
/// let limits = rgrpc::server::MessageLimits::new().max_request_message_size(16 << 20);
/// rgrpc::tonic::transport::Server::builder()
///     .add_service(rgrpc::server::Limited::new(HelloServiceServer::new(MyHello), limits))
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(()) }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct Limited<S> {
    service: S,
    /// `None` for the defaults, which cost a request nothing.
    settings: Option<Arc<CallSettings>>,
}

impl<S> Limited<S> {
    /// Serves `service` with `limits`, compressing no responses.
    pub fn new(service: S, limits: MessageLimits) -> Self {
        Self::with_settings(
            service,
            CallSettings {
                limits,
                compression: ResponseCompression::new(),
            },
        )
    }

    /// Compresses the responses as `compression` says (default: none).
    pub fn response_compression(self, compression: ResponseCompression) -> Self {
        let limits = self.settings.as_ref().map(|s| s.limits).unwrap_or_default();
        Self::with_settings(
            self.service,
            CallSettings {
                limits,
                compression,
            },
        )
    }

    pub(crate) fn with_settings(service: S, settings: CallSettings) -> Self {
        let settings = (settings != CallSettings::default()).then(|| Arc::new(settings));
        Self { service, settings }
    }
}

impl<S: NamedService> NamedService for Limited<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: DescribedService> DescribedService for Limited<S> {
    const FILE_DESCRIPTORS: &'static [&'static [u8]] = S::FILE_DESCRIPTORS;
}

impl<S, B> Service<http::Request<B>> for Limited<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // Dispatch uses the defaults when it finds nothing: a server with default settings
        // pays nothing per request.
        if let Some(settings) = &self.settings {
            request.extensions_mut().insert(settings.clone());
        }
        self.service.call(request)
    }
}
