//! The client side of the transport: an HTTP/2 connection (pool) to one server.

use std::fmt;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::transport::Endpoint;

/// A connection to a gRPC server, shared by every client built on it.
///
/// Cloning is cheap (a handle to the same connection), so build one `Channel` per server
/// and give a clone to each generated client. It is tonic's channel underneath: connection
/// management, HTTP/2 and TLS are tonic's.
#[derive(Clone, Debug)]
pub struct Channel {
    inner: tonic::transport::Channel,
}

impl Channel {
    /// Connects to `uri` (e.g. `"http://127.0.0.1:50051"`), failing if the server cannot be
    /// reached now.
    pub async fn connect(uri: impl Into<String>) -> Result<Self, ConnectError> {
        let uri = uri.into();
        let endpoint = endpoint(&uri)?;
        let inner = endpoint
            .connect()
            .await
            .map_err(|err| ConnectError::new(&uri, err))?;
        Ok(Self { inner })
    }

    /// A channel that connects on its first call (and reconnects after failures), for
    /// programs that start before their servers do.
    pub fn lazy(uri: impl Into<String>) -> Result<Self, ConnectError> {
        let uri = uri.into();
        Ok(Self {
            inner: endpoint(&uri)?.connect_lazy(),
        })
    }
}

fn endpoint(uri: &str) -> Result<Endpoint, ConnectError> {
    Endpoint::from_shared(uri.to_owned()).map_err(|err| ConnectError::new(uri, err))
}

impl From<tonic::transport::Channel> for Channel {
    /// Wraps a channel configured through tonic's `Endpoint` (TLS, timeouts, keep-alive…).
    fn from(inner: tonic::transport::Channel) -> Self {
        Self { inner }
    }
}

impl tower_service::Service<http::Request<Body>> for Channel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = tonic::transport::channel::ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        self.inner.call(request)
    }
}

/// A channel could not be created: the address is not a valid URI, or the server could not
/// be reached.
#[derive(Debug)]
pub struct ConnectError {
    uri: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl ConnectError {
    pub(crate) fn new(
        uri: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            uri: uri.to_owned(),
            source: source.into(),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot connect to {:?}: {}", self.uri, self.source)?;
        // tonic's transport errors keep the useful part ("Connection refused") one level down.
        if let Some(cause) = self.source.source() {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}
