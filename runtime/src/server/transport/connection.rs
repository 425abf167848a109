//! One connection: its TLS handshake, HTTP/2 as the server's settings say, each request
//! handed to the route table with who sent it, and a graceful end when the server stops.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};

use super::linger::Unread;
use super::peer::Peer;
use super::routes::Routes;
use crate::server::dispatch::ServerFuture;
use crate::server::protocol::{self, Protocols};
use tower::Layer as _;
use tower_http::cors::CorsLayer;

/// The HTTP/2 settings of every connection (the `Server` builder's, documented there).
#[derive(Clone, Debug)]
pub(crate) struct ConnectionSettings {
    pub(crate) max_concurrent_streams: u32,
    pub(crate) max_header_list_size: u32,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) connection_window: u32,
    pub(crate) stream_window: u32,
    pub(crate) max_pending_accept_reset_streams: usize,
    pub(crate) max_local_error_reset_streams: Option<usize>,
    pub(crate) tcp_keepalive: Option<Duration>,
    /// Cross-origin calls from browsers; `None`: same origin only.
    pub(crate) cors: Option<super::Cors>,
    /// The protocols served besides gRPC.
    pub(crate) protocols: Protocols,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<super::tls::TlsAcceptor>,
}

impl ConnectionSettings {
    /// hyper's connection builder with these settings: HTTP/2 (prior knowledge, or chosen
    /// by ALPN) and HTTP/1.1 on the same port, told apart by the connection's first bytes.
    fn http(&self) -> auto::Builder<TokioExecutor> {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(self.max_concurrent_streams)
            .max_header_list_size(self.max_header_list_size)
            .keep_alive_interval(self.keepalive_interval)
            .keep_alive_timeout(self.keepalive_timeout)
            .initial_connection_window_size(self.connection_window)
            .initial_stream_window_size(self.stream_window)
            .max_pending_accept_reset_streams(self.max_pending_accept_reset_streams)
            .max_local_error_reset_streams(self.max_local_error_reset_streams);
        builder
    }
}

/// Serves connections, each on its own task, with one set of settings and routes.
#[derive(Clone)]
pub(crate) struct Connections {
    http: Arc<auto::Builder<TokioExecutor>>,
    routes: Arc<Routes>,
    protocols: Protocols,
    cors: Option<Arc<CorsLayer>>,
    #[cfg(feature = "tls")]
    tls: Option<super::tls::TlsAcceptor>,
}

impl Connections {
    /// Connections served as `settings` say; over TLS when they have it and `with_tls`.
    pub(crate) fn new(settings: &ConnectionSettings, routes: Routes, with_tls: bool) -> Self {
        #[cfg(not(feature = "tls"))]
        let _ = with_tls;
        Self {
            http: Arc::new(settings.http()),
            routes: Arc::new(routes),
            protocols: settings.protocols,
            cors: settings.cors.as_ref().map(|cors| Arc::new(cors.layer())),
            #[cfg(feature = "tls")]
            tls: settings.tls.clone().filter(|_| with_tls),
        }
    }

    /// The server takes no new calls from now on (see [`Routes::draining`]).
    pub(crate) fn draining(&self) {
        self.routes.draining();
    }

    /// Serves `io`, from `addr`, until the client or the server ends the connection.
    /// `watcher` lets the server end it gracefully and wait for that.
    pub(crate) fn spawn<IO>(&self, io: IO, addr: Option<SocketAddr>, watcher: Watcher)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let this = self.clone();
        tokio::spawn(async move {
            #[cfg(feature = "tls")]
            if let Some(tls) = &this.tls {
                match tls.handshake(io).await {
                    Ok((io, certificates)) => {
                        let peer = Peer { addr, certificates };
                        this.serve(io, peer, watcher).await;
                    }
                    Err(problem) => {
                        tracing::debug!(peer = ?addr, "TLS handshake failed: {problem}");
                    }
                }
                return;
            }
            this.serve(io, Peer::plain(addr), watcher).await;
        });
    }

    async fn serve<IO>(&self, io: IO, peer: Peer, watcher: Watcher)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let service = RequestService {
            routes: self.routes.clone(),
            protocols: self.protocols,
            cors: self.cors.clone(),
            peer,
        };
        let connection = self.http.serve_connection(TokioIo::new(io), service);
        if let Err(err) = watcher.watch(connection).await {
            // A client that goes away mid-connection is routine, not the server's error.
            tracing::debug!("connection ended with an error: {err}");
        }
    }
}

/// hyper's view of the route table, for one connection: each request is routed with the
/// connection's [`Peer`] attached.
#[derive(Clone)]
struct RequestService {
    routes: Arc<Routes>,
    protocols: Protocols,
    cors: Option<Arc<CorsLayer>>,
    peer: Peer,
}

impl hyper::service::Service<http::Request<Incoming>> for RequestService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = ServerFuture;

    fn call(&self, request: http::Request<Incoming>) -> ServerFuture {
        let mut request = request.map(tonic::body::Body::new);
        request.extensions_mut().insert(self.peer.clone());
        if request.version() < http::Version::HTTP_2 {
            // An early answer over HTTP/1.1 waits for the rest of its request (`linger`).
            let unread = Unread::default();
            request = request.map(|body| unread.watch(body));
            let answer = self.serve(request);
            return Box::pin(async move {
                let answer = answer.await;
                unread.drain().await;
                answer
            });
        }
        self.serve(request)
    }
}

impl RequestService {
    /// Serves `request` in its protocol, under the CORS policy if there is one.
    fn serve(&self, request: http::Request<tonic::body::Body>) -> ServerFuture {
        let Some(cors) = &self.cors else {
            return protocol::serve(&self.routes, self.protocols, request);
        };
        // tower-http answers preflights and adds the CORS headers to every answer.
        let (routes, protocols) = (self.routes.clone(), self.protocols);
        let mut service = cors.layer(tower::service_fn(move |request| {
            protocol::serve(&routes, protocols, request)
        }));
        // Always ready: the route table is, and the policy was checked when it was built.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = tower_service::Service::poll_ready(&mut service, &mut cx);
        Box::pin(tower_service::Service::call(&mut service, request))
    }
}
