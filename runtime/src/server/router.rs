//! Serving services over HTTP/2: the [`Router`] a [`Server`](super::Server) builder becomes
//! once it has services, and what a service must be to be one of them.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tonic::server::NamedService;
use tower_service::Service;

use super::settings::{CallSettings, Limited};
use super::transport::ServeError;
use super::transport::connection::{ConnectionSettings, Connections};
use super::transport::listen::{self, TcpAccept};
use super::transport::routes::RoutesBuilder;

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
    pub(super) routes: RoutesBuilder,
    pub(super) settings: CallSettings,
    pub(super) connection: ConnectionSettings,
}

impl Router {
    /// Adds another service. Adding a service already added makes serving fail, naming it.
    pub fn add_service(mut self, service: impl GrpcService) -> Self {
        self.routes
            .add(Limited::with_settings(service, self.settings.clone()));
        self
    }

    /// Serves on `addr` until the process ends or an error stops the server: HTTP/2
    /// without TLS (h2c, prior knowledge), or TLS with `Server::tls` (the `tls` feature).
    pub async fn serve(self, addr: SocketAddr) -> Result<(), ServeError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|err| ServeError::listen(addr, err))?;
        self.serve_with_shutdown(listener, std::future::pending())
            .await
    }

    /// Serves on `listener` (bind port 0 to let the OS pick one) until `shutdown`
    /// completes, then stops accepting connections, asks the open ones to close (HTTP/2
    /// GOAWAY) and returns once their calls in flight have finished.
    pub async fn serve_with_shutdown(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let accept = TcpAccept {
            listener,
            keepalive: self.connection.tcp_keepalive,
        };
        let connections = self.into_connections(true)?;
        listen::serve(accept, connections, shutdown).await;
        Ok(())
    }

    /// How connections are served: with TLS (when set) only if `with_tls`.
    pub(super) fn into_connections(self, with_tls: bool) -> Result<Connections, ServeError> {
        Ok(Connections::new(
            &self.connection,
            self.routes.build()?,
            with_tls,
        ))
    }
}
