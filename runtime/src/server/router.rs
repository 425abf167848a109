//! Serving services over HTTP/2: a thin layer over tonic's server.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tower::layer::util::{Identity, Stack};
use tower_service::Service;

use super::arrival::StampArrival;
use super::config::Listening;
use super::limits::{CallSettings, Limited};

/// A service a [`Server`] can serve: what every generated `…Server<T>` is (and what
/// tonic's router takes), named once so the bounds are not repeated at each use.
pub trait GrpcService:
    Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
        Future: Send + 'static,
    > + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcService for S where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Builds a server for one or more generated services.
///
/// ```ignore
/// rgrpc::Server::builder()
///     .add_service(HelloServiceServer::new(MyHello))
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// ```
///
/// A generated server is also a plain tower service with a [`NamedService`] name, so it can
/// be added to `tonic::transport::Server` directly, next to tonic services.
#[derive(Debug)]
pub struct Server {
    pub(super) inner: tonic::transport::Server,
    /// Message size limits and response compression, for every service.
    pub(super) settings: CallSettings,
    pub(super) listening: Listening,
}

impl Default for Server {
    /// The same as [`Server::builder`]: rgrpc's defaults, never tonic's unbounded ones.
    fn default() -> Self {
        Self::from_tonic(tonic::transport::Server::default()).with_default_limits()
    }
}

/// A server with its services, ready to serve.
#[derive(Debug)]
pub struct Router {
    pub(super) inner: tonic::transport::server::Router<Stack<StampArrival, Identity>>,
    settings: CallSettings,
    listening: Listening,
}

impl Server {
    /// A server with rgrpc's default limits: see
    /// [`max_concurrent_streams`](Self::max_concurrent_streams) and the methods after it.
    pub fn builder() -> Self {
        Self::default()
    }

    /// Starts from a tonic server builder configured by hand (limits, keep-alive, TLS…).
    pub fn from_tonic(inner: tonic::transport::Server) -> Self {
        Self {
            inner,
            settings: CallSettings::default(),
            listening: Listening::default(),
        }
    }

    /// Adds the first service.
    pub fn add_service(self, service: impl GrpcService) -> Router {
        Router {
            inner: self
                .inner
                .layer(StampArrival)
                .add_service(Limited::with_settings(service, self.settings.clone())),
            settings: self.settings,
            listening: self.listening,
        }
    }
}

impl Router {
    /// Adds another service.
    pub fn add_service(self, service: impl GrpcService) -> Self {
        Self {
            inner: self
                .inner
                .add_service(Limited::with_settings(service, self.settings.clone())),
            settings: self.settings,
            listening: self.listening,
        }
    }

    /// Serves on `addr` until the process ends or an error stops the server.
    pub async fn serve(self, addr: SocketAddr) -> Result<(), tonic::transport::Error> {
        self.inner.serve(addr).await
    }

    /// Serves on `listener` (bind port 0 to let the OS pick one) until `shutdown`
    /// completes, then lets calls in flight finish.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        let incoming = self.listening.incoming(listener);
        self.inner
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
    }
}
