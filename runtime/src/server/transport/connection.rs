//! One connection: its TLS handshake, HTTP/2 as the server's settings say, each request
//! handed to the route table with who sent it, and its end: graceful when the server
//! drains or the connection is too old or idle (see `lifetime`), cut when a grace or the
//! drain deadline passes, or for too many pings (see `ping_policy`).

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::lifetime::{Event, Lifetime, LifetimeSettings, ServerSignals};
use super::linger::Unread;
use super::open_calls::{CallTally, Counted, CountedBody};
use super::peer::Peer;
use super::ping_policy::{PingPolicy, Policed};
use super::routes::Routes;
use crate::server::dispatch::ServerFuture;
use crate::server::protocol::{self, Protocols};
use crate::server::wake_flag::WakeFlag;
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
    /// Maximum age (and its grace) and idle time.
    pub(crate) lifetime: LifetimeSettings,
    /// How often clients may ping.
    pub(crate) ping_policy: PingPolicy,
    /// How long a graceful shutdown waits for calls in flight; `None`: as long as they take.
    pub(crate) drain_timeout: Option<Duration>,
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
    lifetime: LifetimeSettings,
    ping_policy: PingPolicy,
    /// Whether calls are counted per connection: only the idle timer and the ping policy
    /// need to know.
    count_calls: bool,
    drain_timeout: Option<Duration>,
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
            lifetime: settings.lifetime,
            ping_policy: settings.ping_policy,
            count_calls: settings.lifetime.max_idle.is_some()
                || settings.ping_policy.needs_open_calls(),
            drain_timeout: settings.drain_timeout,
            #[cfg(feature = "tls")]
            tls: settings.tls.clone().filter(|_| with_tls),
        }
    }

    /// The server takes no new calls from now on (see [`Routes::draining`]); returns the
    /// calls whose end the GOAWAY waits for.
    pub(crate) fn draining(&self) -> Vec<CancellationToken> {
        self.routes.draining()
    }

    /// How long a graceful shutdown waits for calls in flight.
    pub(crate) fn drain_timeout(&self) -> Option<Duration> {
        self.drain_timeout
    }

    /// Serves `io`, from `addr`, on a task of `tasks`, until the client ends the
    /// connection or the server does (as `signals` and the connection's lifetime say).
    pub(crate) fn spawn<IO>(
        &self,
        tasks: &TaskTracker,
        io: IO,
        addr: Option<SocketAddr>,
        signals: &ServerSignals,
    ) where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let this = self.clone();
        let signals = signals.clone();
        tasks.spawn(async move {
            #[cfg(feature = "tls")]
            if let Some(tls) = &this.tls {
                // A handshake has no call to finish: a draining server drops it.
                let handshake = tokio::select! {
                    biased;
                    () = signals.drain.cancelled() => return,
                    handshake = tls.handshake(io) => handshake,
                };
                match handshake {
                    Ok((io, certificates)) => {
                        let peer = Peer { addr, certificates };
                        this.serve(io, peer, &signals).await;
                    }
                    Err(problem) => {
                        tracing::debug!(peer = ?addr, "TLS handshake failed: {problem}");
                    }
                }
                return;
            }
            this.serve(io, Peer::plain(addr), &signals).await;
        });
    }

    async fn serve<IO>(&self, io: IO, peer: Peer, signals: &ServerSignals)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let tally = self.count_calls.then(CallTally::new);
        let calls = tally.as_ref().map(CallTally::observer);
        let policy_calls = calls
            .clone()
            .filter(|_| self.ping_policy.needs_open_calls());
        let io = Policed::new(io, self.ping_policy, policy_calls);
        let service = RequestService {
            routes: self.routes.clone(),
            protocols: self.protocols,
            cors: self.cors.clone(),
            peer,
            tally: tally.map(Arc::new),
        };
        let connection = self.http.serve_connection(TokioIo::new(io), service);
        let lifetime = Lifetime::new(&self.lifetime, signals, calls);
        match supervise(connection, lifetime).await {
            Some(Err(err)) => {
                // A client that goes away mid-connection is routine, not the server's error.
                tracing::debug!("connection ended with an error: {err}");
            }
            Some(Ok(())) => {}
            None => tracing::debug!("connection cut: its grace or the drain deadline passed"),
        }
    }
}

/// Serves `connection` until it ends (`Some`), ending it gracefully when `lifetime` says
/// so, or until `lifetime` cuts it (`None`: dropping it cancels its calls and closes it).
///
/// The connection is polled first on every wake, and the lifetime only when its own timers
/// or signals woke it (a [`WakeFlag`]): the wakes of a busy connection cost it nothing.
/// The connection is polled once more between a signal and its GOAWAY, so that what its
/// calls queued before the signal (the health service's last `NOT_SERVING`, when the server
/// drains) is written ahead of the GOAWAY.
async fn supervise<IO>(
    connection: auto::Connection<'_, TokioIo<IO>, RequestService, TokioExecutor>,
    mut lifetime: Lifetime,
) -> Option<Result<(), Box<dyn std::error::Error + Send + Sync>>>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut connection = pin!(connection);
    let woken = WakeFlag::<1>::new();
    // The task's waker, as last registered with the flag. A wake takes it out of the
    // flag, so it is registered again after each wake (before the lifetime is polled, so
    // that no wake is lost), and whenever the task's waker changes; not on every poll.
    let mut registered: Option<std::task::Waker> = None;
    poll_fn(|cx| {
        loop {
            if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
                return Poll::Ready(Some(ended));
            }
            let took = woken.take();
            if took
                || !registered
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(cx.waker()))
            {
                woken.register(0, cx.waker());
                registered = Some(cx.waker().clone());
            }
            if !took {
                return Poll::Pending;
            }
            match lifetime.poll_event(&mut Context::from_waker(woken.waker())) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Event::Cut) => return Poll::Ready(None),
                Poll::Ready(Event::Close) => {
                    // Polled again first: the poll above may have come before what the
                    // calls queued ahead of the signal (on another thread), and that must
                    // go out before the GOAWAY.
                    if let Poll::Ready(ended) = connection.as_mut().poll(cx) {
                        return Poll::Ready(Some(ended));
                    }
                    connection.as_mut().graceful_shutdown();
                    // Polled again: a grace timer just started must be registered.
                    woken.set();
                }
            }
        }
    })
    .await
}

/// hyper's view of the route table, for one connection: each request is routed with the
/// connection's [`Peer`] attached.
#[derive(Clone)]
struct RequestService {
    routes: Arc<Routes>,
    protocols: Protocols,
    cors: Option<Arc<CorsLayer>>,
    peer: Peer,
    /// Counts the connection's open calls, when something needs to know.
    tally: Option<Arc<CallTally>>,
}

impl hyper::service::Service<http::Request<Incoming>> for RequestService {
    type Response = http::Response<CountedBody>;
    type Error = Infallible;
    type Future = Counted;

    fn call(&self, request: http::Request<Incoming>) -> Counted {
        Counted {
            guard: self.tally.as_deref().map(CallTally::open),
            future: self.respond(request),
        }
    }
}

impl RequestService {
    fn respond(&self, request: http::Request<Incoming>) -> ServerFuture {
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
