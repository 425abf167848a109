//! The client side of the transport: an HTTP/2 connection (pool) to one server, or calls
//! balanced over several replicas of it.

mod balance;
pub(crate) mod call_policy;
mod http1;
pub(crate) mod protocol;
pub(crate) mod retry;

pub use protocol::Protocol;
pub use retry::{ChannelStats, DEFAULT_RETRY_BUFFER_LIMIT};

/// How a channel over several addresses chooses one for each call: gRPC's policies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadBalancing {
    /// The first address that connects takes every call, until it fails (gRPC's default).
    #[default]
    PickFirst,
    /// Each call goes to the next ready address in turn.
    RoundRobin,
}

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::TryFutureExt as _;
use futures_util::future::Either;
use tonic::body::Body;
use tonic::transport::Endpoint;

/// How long establishing a TCP connection may take, unless set: gRPC's own default, well
/// below the minutes the OS would wait for an unreachable host.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long an HTTP/2 keep-alive ping may go unanswered, unless set (gRPC's default).
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How many streams this client cancelled (reset) it remembers, for h2's 1 s, so that
/// frames the server sent before it saw the reset are dropped quietly. h2 remembers 50:
/// past 50 cancellations a second, it answers late frames with resets of its own, counts
/// them as the server's misbehaviour, and after 1024 closes the connection
/// (ENHANCE_YOUR_CALM, "too_many_internal_resets"), failing every call on it. Each
/// remembered stream costs a few hundred bytes, for a second.
pub(crate) const RESET_STREAMS_REMEMBERED: usize = 4096;

/// A connection to a gRPC server, shared by every client built on it.
///
/// Cloning is cheap (a handle to the same connection), so build one `Channel` per server
/// and give a clone to each generated client. It is tonic's channel underneath: connection
/// management, HTTP/2 and TLS are tonic's. [`Channel::balance`] makes one channel over
/// several replicas of a server.
#[derive(Clone, Debug)]
pub struct Channel {
    inner: Transport,
    protocol: Protocol,
    /// The service config, retry throttling and attempt counters, shared by clones.
    retries: retry::Retries,
}

/// What a [`Channel`] sends its calls over.
#[derive(Clone, Debug)]
enum Transport {
    /// One server.
    Single(tonic::transport::Channel),
    /// Several replicas, round robin over the reachable ones.
    Balanced(balance::Balanced),
    /// One server, over HTTP/1.1 (boxed: hyper's pool handle is large, and rarely used).
    Http1(Box<http1::Http1>),
}

impl Transport {
    /// Sends one request; for the protocols that adapt requests (gRPC's go straight to
    /// [`Channel::call`]).
    fn send(&self, request: http::Request<Body>) -> protocol::Exchange {
        match self {
            Transport::Single(channel) => {
                let channel = channel.clone();
                Box::pin(async move {
                    use tower::ServiceExt as _;
                    Ok(channel.oneshot(request).await?)
                })
            }
            Transport::Balanced(replicas) => replicas.call(request),
            Transport::Http1(http1) => http1.send(request),
        }
    }
}

impl retry::SendAttempt for Transport {
    fn send_attempt(&self, request: http::Request<Body>) -> retry::Exchange {
        self.send(request)
    }
}

impl Channel {
    /// Counts of the attempts this channel (and its clones) sent: first attempts,
    /// retries, hedges and transparent retries.
    pub fn stats(&self) -> ChannelStats {
        self.retries.stats()
    }

    /// The service config the channel was built with, if any.
    pub(crate) fn service_config(&self) -> Option<&std::sync::Arc<crate::ServiceConfig>> {
        self.retries.config()
    }

    /// Connects to `uri` (e.g. `"http://127.0.0.1:50051"`) with the default settings,
    /// failing if the server cannot be reached now. With the `tls` feature an `https://` URI
    /// connects over TLS, trusting the platform's root certificates.
    pub async fn connect(uri: impl Into<String>) -> Result<Self, ConnectError> {
        Self::builder(uri).connect().await
    }

    /// A channel that connects on its first call (and reconnects after failures), for
    /// programs that start before their servers do.
    pub fn lazy(uri: impl Into<String>) -> Result<Self, ConnectError> {
        Self::builder(uri).connect_lazy()
    }

    /// A channel to `uri` with settings: TLS, timeouts, keep-alive.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    ///
    /// let channel = rgrpc::Channel::builder("http://localhost:50051")
    ///     .connect_timeout(Duration::from_secs(5))
    ///     .keepalive_interval(Duration::from_secs(60))
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// With the `tls` feature, `.tls(rgrpc::tls::ClientTls::new().ca(ca_pem))` and an
    /// `https://` URI make it a TLS channel.
    pub fn builder(uri: impl Into<String>) -> ChannelBuilder {
        ChannelBuilder {
            uri: uri.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keepalive_interval: None,
            keepalive_timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            keepalive_while_idle: false,
            tcp_keepalive: None,
            protocol: Protocol::Grpc,
            http1: false,
            #[cfg(feature = "tls")]
            tls: None,
            service_config: None,
            retry_buffer_limit: DEFAULT_RETRY_BUFFER_LIMIT,
        }
    }
}

/// Settings for a [`Channel`], from [`Channel::builder`]; `connect` or `connect_lazy` ends it.
///
/// Defaults: 20 s to connect, no HTTP/2 or TCP keep-alive (as gRPC's clients), no TLS
/// unless the URI is `https://`.
#[derive(Clone, Debug)]
pub struct ChannelBuilder {
    uri: String,
    connect_timeout: Duration,
    keepalive_interval: Option<Duration>,
    keepalive_timeout: Duration,
    keepalive_while_idle: bool,
    tcp_keepalive: Option<Duration>,
    protocol: Protocol,
    http1: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ClientTls>,
    service_config: Option<crate::ServiceConfig>,
    retry_buffer_limit: usize,
}

impl ChannelBuilder {
    /// How long establishing a TCP connection may take ([`DEFAULT_CONNECT_TIMEOUT`] unless
    /// set). The TLS handshake has its own timeout, `ClientTls::handshake_timeout`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Pings the server (HTTP/2 PING) after this long without hearing from it, so a server
    /// that vanished without closing the connection fails the calls on it instead of
    /// leaving them waiting. Off by default. Servers may close connections that ping more
    /// often than they allow (gRPC's: every 5 minutes at most, by default).
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = Some(interval);
        self
    }

    /// How long a keep-alive ping may go unanswered before the connection is closed
    /// ([`DEFAULT_KEEPALIVE_TIMEOUT`] unless set).
    pub fn keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.keepalive_timeout = timeout;
        self
    }

    /// Whether to ping also while no call is open (default: only during calls).
    pub fn keepalive_while_idle(mut self, enabled: bool) -> Self {
        self.keepalive_while_idle = enabled;
        self
    }

    /// TCP keep-alive: the idle time before the OS starts probing; `None` (the default)
    /// leaves it off.
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.tcp_keepalive = idle;
        self
    }

    /// Connects over TLS with `tls`; the URI must then be `https://`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Speaks `protocol` to the server instead of gRPC: [`Protocol::GrpcWeb`] or
    /// [`Protocol::Connect`], for proxies and paths that only pass HTTP/1.1 or drop
    /// trailers. Calls, deadlines, cancellation, metadata and statuses behave as with gRPC.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let channel = rgrpc::Channel::builder("http://localhost:8080")
    ///     .protocol(rgrpc::Protocol::Connect)
    ///     .http1()
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Speaks HTTP/1.1 instead of HTTP/2, with a pool of connections (one call at a time
    /// on each), over TLS for `https://` (offering no ALPN protocol, which means HTTP/1.1
    /// to servers and proxies). Only gRPC-Web and Connect work over HTTP/1.1, and not bidi
    /// calls: those end at once with `UNIMPLEMENTED`.
    pub fn http1(mut self) -> Self {
        self.http1 = true;
        self
    }

    /// Applies `config` to every call: per-method timeouts, `waitForReady`, message size
    /// limits, retry or hedging policies and retry throttling (gRFC A6). A call's own
    /// options win over the config's.
    ///
    /// Without a config, calls are still retried transparently when the server never
    /// processed them (a refused stream, a GOAWAY below the call's stream, a connection
    /// that closed before the request was written).
    pub fn service_config(mut self, config: crate::ServiceConfig) -> Self {
        self.service_config = Some(config);
        self
    }

    /// How many bytes of a call's request messages are kept so another attempt can send
    /// them again ([`DEFAULT_RETRY_BUFFER_LIMIT`], 256 KiB, unless set). A call whose
    /// requests go past it commits to the attempt that sent them: it is not retried.
    pub fn retry_buffer_limit(mut self, bytes: usize) -> Self {
        self.retry_buffer_limit = bytes;
        self
    }

    /// The retry state of the channels this builder makes.
    fn retries(&self) -> retry::Retries {
        retry::Retries::new(self.service_config.clone(), self.retry_buffer_limit)
    }

    /// The server's URI, as given.
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// Connects now, failing if the settings are wrong or the server cannot be reached.
    /// Over HTTP/1.1 connections are made per call, so only the settings are checked.
    pub async fn connect(self) -> Result<Channel, ConnectError> {
        if self.http1 {
            return self.connect_lazy();
        }
        let endpoint = self.endpoint()?;
        let inner = endpoint
            .connect()
            .await
            .map_err(|err| ConnectError::new(&self.uri, err))?;
        Ok(Channel {
            inner: Transport::Single(inner),
            protocol: self.protocol,
            retries: self.retries(),
        })
    }

    /// A channel that connects on its first call (see [`Channel::lazy`]); fails only if the
    /// settings are wrong.
    pub fn connect_lazy(self) -> Result<Channel, ConnectError> {
        let endpoint = self.endpoint()?;
        let inner = if self.http1 {
            let connecting = http1::Connecting {
                connect_timeout: self.connect_timeout,
                tcp_keepalive: self.tcp_keepalive,
                #[cfg(feature = "tls")]
                tls: self.http1_tls(&endpoint)?,
            };
            Transport::Http1(Box::new(http1::Http1::new(
                endpoint.uri().clone(),
                connecting,
            )))
        } else {
            Transport::Single(endpoint.connect_lazy())
        };
        Ok(Channel {
            inner,
            protocol: self.protocol,
            retries: self.retries(),
        })
    }

    fn endpoint(&self) -> Result<Endpoint, ConnectError> {
        let uri = self.uri.as_str();
        if self.http1 && self.protocol == Protocol::Grpc {
            return Err(ConnectError::not_attempted(
                uri,
                "gRPC needs HTTP/2; over HTTP/1.1 choose Protocol::GrpcWeb or Protocol::Connect",
            ));
        }
        let mut endpoint = Endpoint::from_shared(uri.to_owned())
            .map_err(|err| ConnectError::new(uri, err))?
            .connect_timeout(self.connect_timeout)
            .keep_alive_timeout(self.keepalive_timeout)
            .keep_alive_while_idle(self.keepalive_while_idle)
            .tcp_keepalive(self.tcp_keepalive)
            .http2_max_concurrent_reset_streams(RESET_STREAMS_REMEMBERED);
        if let Some(interval) = self.keepalive_interval {
            endpoint = endpoint.http2_keep_alive_interval(interval);
        }
        self.secure(endpoint)
    }

    /// Adds TLS to `endpoint` for an `https://` URI, and refuses the combinations that would
    /// silently send plaintext or could never connect.
    #[cfg(feature = "tls")]
    fn secure(&self, endpoint: Endpoint) -> Result<Endpoint, ConnectError> {
        let uri = self.uri.as_str();
        let https = endpoint.uri().scheme_str() == Some("https");
        let tls = match (&self.tls, https) {
            (Some(tls), true) => tls.clone(),
            // tonic would connect in plaintext, ignoring the TLS settings.
            (Some(_), false) => {
                return Err(ConnectError::new(
                    uri,
                    crate::tls::TlsError::new(
                        "TLS is configured but the URI is not https://; use https://",
                    ),
                ));
            }
            (None, true) => crate::tls::ClientTls::new().system_roots(),
            (None, false) => return Ok(endpoint),
        };
        let config = tls
            .into_tonic()
            .map_err(|err| ConnectError::new(uri, err))?;
        endpoint.tls_config(config).map_err(|err| {
            ConnectError::new(
                uri,
                crate::tls::TlsError::with_source("the client's TLS settings", err),
            )
        })
    }

    /// The TLS configuration of an HTTP/1.1 channel to an `https://` URI (whose settings
    /// [`ChannelBuilder::secure`] checked already).
    #[cfg(feature = "tls")]
    fn http1_tls(
        &self,
        endpoint: &Endpoint,
    ) -> Result<
        Option<(
            rustls::ClientConfig,
            Option<rustls::pki_types::ServerName<'static>>,
        )>,
        ConnectError,
    > {
        if endpoint.uri().scheme_str() != Some("https") {
            return Ok(None);
        }
        let tls = self
            .tls
            .clone()
            .unwrap_or_else(|| crate::tls::ClientTls::new().system_roots());
        tls.into_rustls_http1()
            .map(Some)
            .map_err(|err| ConnectError::new(&self.uri, err))
    }

    /// Without the `tls` feature, an `https://` URI could only fail later, at every call.
    #[cfg(not(feature = "tls"))]
    fn secure(&self, endpoint: Endpoint) -> Result<Endpoint, ConnectError> {
        if endpoint.uri().scheme_str() == Some("https") {
            return Err(ConnectError::new(
                &self.uri,
                "https:// needs rgrpc's `tls` feature",
            ));
        }
        Ok(endpoint)
    }
}

impl From<tonic::transport::Channel> for Channel {
    /// Wraps a channel configured through tonic's `Endpoint` (TLS, timeouts, keep-alive…).
    fn from(inner: tonic::transport::Channel) -> Self {
        Self {
            inner: Transport::Single(inner),
            protocol: Protocol::Grpc,
            retries: retry::Retries::default(),
        }
    }
}

impl Channel {
    /// One channel over several replicas of a server (e.g. `"http://10.0.0.1:50051"`,
    /// `"http://10.0.0.2:50051"`), each connecting on its first call, with the default
    /// settings ([`Channel::balance_with`] takes settings).
    ///
    /// Calls go round robin to the replicas that are reachable. A replica whose connection
    /// fails is taken out at once, so only the calls already sent to it fail (with
    /// `UNAVAILABLE`); it is reconnected in the background, with pauses growing from
    /// 100 ms to 5 s, and takes calls again once connected. While no replica is reachable,
    /// calls fail at once with `UNAVAILABLE`. Fails only for a bad URI or an empty list.
    pub fn balance<I>(uris: I) -> Result<Self, ConnectError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::balance_with(uris.into_iter().map(Channel::builder))
    }

    /// [`Channel::balance`] over replicas with settings, one builder each (TLS, timeouts,
    /// protocol: the same for all, over HTTP/2).
    pub fn balance_with(
        replicas: impl IntoIterator<Item = ChannelBuilder>,
    ) -> Result<Self, ConnectError> {
        let replicas: Vec<ChannelBuilder> = replicas.into_iter().collect();
        let Some(first) = replicas.first() else {
            return Err(ConnectError::new("", "no replica to balance over"));
        };
        let protocol = first.protocol;
        if let Some(other) = replicas
            .iter()
            .find(|replica| replica.http1 || replica.protocol != protocol)
        {
            return Err(ConnectError::not_attempted(
                &other.uri,
                "the replicas of a balanced channel speak one protocol, over HTTP/2",
            ));
        }
        let endpoints = replicas
            .iter()
            .map(ChannelBuilder::endpoint)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            inner: Transport::Balanced(balance::Balanced::new(endpoints)),
            protocol,
            retries: first.retries(),
        })
    }
}

impl tower_service::Service<http::Request<Body>> for Channel {
    type Response = http::Response<Body>;
    type Error = Box<dyn std::error::Error + Send + Sync>;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.protocol != Protocol::Grpc {
            // Each adapted call waits for the transport's readiness itself.
            return Poll::Ready(Ok(()));
        }
        match &mut self.inner {
            Transport::Single(channel) => channel.poll_ready(cx).map_err(Into::into),
            // Each call waits for its replica's own readiness; the HTTP/1.1 pool's calls
            // wait for a connection of their own.
            Transport::Balanced(_) | Transport::Http1(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if self.protocol != Protocol::Grpc {
            let transport = self.inner.clone();
            let http1 = matches!(transport, Transport::Http1(_));
            return ResponseFuture(protocol::exchange(
                self.protocol,
                http1,
                request,
                move |request| transport.send(request),
            ));
        }
        // The first attempt goes on the transport made ready by `poll_ready`; any other
        // attempt through a clone of it.
        let sender = self.inner.clone();
        let inner = &mut self.inner;
        ResponseFuture(self.retries.call(
            request,
            |request| match inner {
                // Not boxed: the call's future holds it.
                Transport::Single(channel) => Either::Left(channel.call(request).err_into()),
                Transport::Balanced(replicas) => Either::Right(replicas.call(request)),
                Transport::Http1(http1) => Either::Right(http1.send(request)),
            },
            sender,
        ))
    }
}

/// The response to one call sent on a [`Channel`]: its attempts, until one commits.
pub struct ResponseFuture(protocol::Exchange);

impl Future for ResponseFuture {
    type Output = Result<http::Response<Body>, Box<dyn std::error::Error + Send + Sync>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

/// A channel could not be created: the address is not a valid URI, the server could not
/// be reached, or (for a blocking channel) it was created where it cannot block.
#[derive(Debug)]
pub struct ConnectError {
    uri: String,
    source: Box<dyn std::error::Error + Send + Sync>,
    /// No connection was attempted: the channel cannot be made here at all.
    not_attempted: bool,
}

impl ConnectError {
    pub(crate) fn new(
        uri: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            uri: uri.to_owned(),
            source: source.into(),
            not_attempted: false,
        }
    }

    /// A channel refused before any connection attempt, so its message does not say
    /// "cannot connect" about a server that was never tried.
    pub(crate) fn not_attempted(
        uri: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            not_attempted: true,
            ..Self::new(uri, source)
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.not_attempted {
            return write!(f, "no channel to {:?} was made: {}", self.uri, self.source);
        }
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
