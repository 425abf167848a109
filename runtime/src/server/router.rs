//! Serving services over HTTP/2: the [`Router`] a [`Server`](super::Server) builder becomes
//! once it has services, a thin layer over tonic's router.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tower::layer::util::{Identity, Stack};
use tower_service::Service;

use super::arrival::StampArrival;
use super::builder::Listening;
use super::settings::{CallSettings, Limited};

/// A service a [`Server`](super::Server) can serve: what every generated `…Server<T>` is
/// (and what tonic's router takes), named once so the bounds are not repeated at each use.
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

/// A server with its services, ready to serve.
#[derive(Debug)]
pub struct Router {
    pub(super) inner: tonic::transport::server::Router<Stack<StampArrival, Identity>>,
    pub(super) settings: CallSettings,
    pub(super) listening: Listening,
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

    /// Serves on `addr` until the process ends or an error stops the server: HTTP/2
    /// without TLS (h2c, prior knowledge), or TLS with `Server::tls` (the `tls` feature).
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
