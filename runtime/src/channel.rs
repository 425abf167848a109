//! The client side of the transport: an HTTP/2 connection (pool) to one server, or calls
//! balanced over several replicas of it (a resolved `dns:`/`unix:` target, or a list).

pub(crate) mod call_policy;
mod http1;
mod lb;
pub(crate) mod protocol;
mod resolve;
pub(crate) mod retry;
mod target;

pub use lb::backoff::ConnectionBackoff;
pub use protocol::Protocol;
pub use resolve::{DEFAULT_DNS_MIN_RESOLUTION_INTERVAL, DEFAULT_DNS_REFRESH_INTERVAL};

pub use retry::{ChannelStats, DEFAULT_RETRY_BUFFER_LIMIT};
use target::Target;

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

use crate::intercept::client::ClientChain;

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
    /// A resolved target (`dns:`, `unix:`) or a list of replicas: a connection per
    /// address, balanced by a policy.
    Balanced(lb::LoadBalancer),
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

    /// The channel's target, as it was given (empty for a channel made from tonic's).
    pub(crate) fn target(&self) -> &str {
        self.retries.target()
    }

    /// The interceptors of every call on the channel.
    pub(crate) fn interceptors(&self) -> Option<&std::sync::Arc<ClientChain>> {
        self.retries.interceptors()
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
    ///
    /// Besides URIs, `uri` may be a target in gRPC's naming syntax, which the channel
    /// resolves and balances itself, one HTTP/2 connection per address:
    ///
    /// * `dns:///host:port` (port 443 when omitted): the host's A and AAAA records, from
    ///   the system's DNS servers, looked up again every
    ///   [`dns_refresh_interval`](ChannelBuilder::dns_refresh_interval) and soon after a
    ///   connection fails;
    /// * `dns://10.0.0.2:53/host:port`: the same, asking that DNS server;
    /// * `unix:/path/to/socket` or `unix:///path/to/socket`: a unix domain socket (served
    ///   by [`Router::serve_unix`](crate::server::Router::serve_unix)).
    ///
    /// Calls go to the first address that connects
    /// ([`LoadBalancing::PickFirst`], gRPC's default) or round robin over the connected
    /// ones ([`ChannelBuilder::load_balancing`]). While connections are being made, calls
    /// wait; once every address has failed, they fail at once with `UNAVAILABLE`, except
    /// calls made with `wait_for_ready`, which wait for a connection (up to their deadline).
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
            load_balancing: LoadBalancing::default(),
            dns_refresh_interval: DEFAULT_DNS_REFRESH_INTERVAL,
            dns_min_resolution_interval: DEFAULT_DNS_MIN_RESOLUTION_INTERVAL,
            connection_backoff: ConnectionBackoff::default(),
            health_check: None,
            service_config: None,
            retry_buffer_limit: DEFAULT_RETRY_BUFFER_LIMIT,
            interceptors: None,
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
    load_balancing: LoadBalancing,
    dns_refresh_interval: Duration,
    dns_min_resolution_interval: Duration,
    connection_backoff: ConnectionBackoff,
    health_check: Option<String>,
    service_config: Option<crate::ServiceConfig>,
    retry_buffer_limit: usize,
    interceptors: Option<ClientChain>,
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
    /// leaving them waiting. Off by default. Servers close connections that ping more often
    /// than they allow (gRPC's and rgrpc's: every 5 minutes at most, by default) with GOAWAY
    /// `ENHANCE_YOUR_CALM` "too_many_pings"; a `dns:`/`unix:` channel then doubles its
    /// interval for its next connections, as gRPC's clients do (an `http://` channel does
    /// not: choose an interval the server allows).
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

    /// Connects over TLS with `tls`; the URI must then be `https://`, or the target
    /// `dns:`/`unix:` (whose connections then all use TLS, verifying the server by the
    /// target's host unless `ClientTls::domain` says otherwise).
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

    /// How a `dns:` or `unix:` target's addresses share the calls (pick_first unless set;
    /// a [service config](Self::service_config)'s `loadBalancingConfig` wins over it).
    pub fn load_balancing(mut self, policy: LoadBalancing) -> Self {
        self.load_balancing = policy;
        self
    }

    /// How often a `dns:` target is resolved again ([`DEFAULT_DNS_REFRESH_INTERVAL`]
    /// unless set). It is also resolved again soon after a connection fails or a server
    /// sends GOAWAY.
    pub fn dns_refresh_interval(mut self, interval: Duration) -> Self {
        self.dns_refresh_interval = interval;
        self
    }

    /// The shortest time between two resolutions of a `dns:` target, however many
    /// connections fail ([`DEFAULT_DNS_MIN_RESOLUTION_INTERVAL`] unless set), so a fleet
    /// of clients cannot flood its DNS servers.
    pub fn dns_min_resolution_interval(mut self, interval: Duration) -> Self {
        self.dns_min_resolution_interval = interval;
        self
    }

    /// The pauses between attempts to connect to an address of a `dns:` or `unix:` target
    /// (gRPC's connection backoff unless set).
    pub fn connection_backoff(mut self, backoff: ConnectionBackoff) -> Self {
        self.connection_backoff = backoff;
        self
    }

    /// Client-side health checking (gRFC A17) of `service` (`""`: the whole server): each
    /// connection watches `grpc.health.v1.Health/Watch` and takes calls only while the
    /// server says SERVING; a server without the health service is taken as healthy.
    /// Applies to `dns:`/`unix:` targets under [`LoadBalancing::RoundRobin`] (pick_first
    /// does not health-check, as in gRPC), with the `health` feature (on by default). A
    /// service config's `healthCheckConfig` names the service when this is not set.
    pub fn health_check(mut self, service: impl Into<String>) -> Self {
        self.health_check = Some(service.into());
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

    /// Runs `interceptor` around every call made on the channel: before it is sent, and
    /// at the end of each of its attempts and of the call. The channel's interceptors run
    /// in the order added, before those of a client
    /// ([`Client::interceptor`](crate::client::Client::interceptor)); see
    /// [`crate::intercept`].
    pub fn interceptor(mut self, interceptor: impl crate::intercept::ClientInterceptor) -> Self {
        self.interceptors
            .get_or_insert_with(|| ClientChain::new(&self.uri))
            .push(interceptor);
        self
    }

    /// The retry state of the channels this builder makes (with their target and
    /// interceptors).
    fn retries(&self) -> retry::Retries {
        retry::Retries::new(
            self.service_config.clone(),
            self.retry_buffer_limit,
            &self.uri,
            self.interceptors.clone(),
        )
    }

    /// The server's URI, as given.
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// Connects now, failing if the settings are wrong or the server cannot be reached.
    /// Over HTTP/1.1 connections are made per call, so only the settings are checked.
    /// A `dns:` or `unix:` target is ready once one of its addresses has connected; it
    /// fails once all have failed.
    pub async fn connect(self) -> Result<Channel, ConnectError> {
        if self.http1 {
            return self.connect_lazy();
        }
        if let Some(balanced) = self.resolved()? {
            balanced
                .connected()
                .await
                .map_err(|status| ConnectError::new(&self.uri, status.message().to_owned()))?;
            return Ok(Channel {
                inner: Transport::Balanced(balanced),
                protocol: self.protocol,
                retries: self.retries(),
            });
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
        if let Some(balanced) = self.resolved()? {
            return Ok(Channel {
                inner: Transport::Balanced(balanced),
                protocol: self.protocol,
                retries: self.retries(),
            });
        }
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

    /// The balancer of a `dns:` or `unix:` target; `None` for a URI.
    fn resolved(&self) -> Result<Option<lb::LoadBalancer>, ConnectError> {
        let uri = self.uri.as_str();
        let target = Target::parse(uri).map_err(|err| ConnectError::not_attempted(uri, err))?;
        let (resolver, authority) = match target {
            Target::Uri => return Ok(None),
            Target::Dns(dns) => (
                resolve::Resolver::Dns(Box::new(
                    resolve::dns::Dns::new(&dns)
                        .map_err(|err| ConnectError::not_attempted(uri, err))?,
                )),
                dns.authority(),
            ),
            Target::Unix(path) => (resolve::Resolver::unix(path), "localhost".to_owned()),
        };
        if self.http1 {
            return Err(ConnectError::not_attempted(
                uri,
                "dns: and unix: targets are served over HTTP/2 only",
            ));
        }
        let connector = self.connector(Some(authority), true)?;
        // A service config's choice wins over the builder's, as in gRPC.
        let policy = (self.service_config.as_ref())
            .and_then(crate::ServiceConfig::load_balancing)
            .unwrap_or(self.load_balancing);
        self.balancer(resolver, policy, connector).map(Some)
    }

    /// Starts a balancer over `resolver`'s addresses, in the current Tokio runtime.
    fn balancer(
        &self,
        resolver: resolve::Resolver,
        policy: LoadBalancing,
        connector: lb::connect::Connector,
    ) -> Result<lb::LoadBalancer, ConnectError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConnectError::not_attempted(
                &self.uri,
                "a channel must be made inside a Tokio runtime",
            ));
        }
        Ok(lb::LoadBalancer::new(lb::Settings {
            target: self.uri.clone(),
            policy,
            connector,
            resolver,
            refresh: resolve::Refresh {
                interval: self.dns_refresh_interval,
                min_interval: self.dns_min_resolution_interval,
            },
            health_service: self.health_check.clone().or_else(|| {
                let config = self.service_config.as_ref()?;
                config.health_check_service().map(str::to_owned)
            }),
        }))
    }

    /// How the subchannels of a balanced channel connect: this builder's settings;
    /// `authority` for every request (`None`: each address's own); TLS when `tls` says
    /// (a `dns:`/`unix:` target with TLS settings, an `https://` replica).
    fn connector(
        &self,
        authority: Option<String>,
        tls: bool,
    ) -> Result<lb::connect::Connector, ConnectError> {
        #[cfg(feature = "tls")]
        let (scheme, tls) = match (&self.tls, tls) {
            (Some(settings), true) => (
                http::uri::Scheme::HTTPS,
                Some(self.h2_tls(settings.clone(), authority.as_deref())?),
            ),
            _ => (http::uri::Scheme::HTTP, None),
        };
        #[cfg(not(feature = "tls"))]
        let scheme = {
            let _ = tls;
            http::uri::Scheme::HTTP
        };
        Ok(lb::connect::Connector {
            connect_timeout: self.connect_timeout,
            keepalive_interval: std::sync::Mutex::new(self.keepalive_interval),
            keepalive_timeout: self.keepalive_timeout,
            keepalive_while_idle: self.keepalive_while_idle,
            tcp_keepalive: self.tcp_keepalive,
            backoff: self.connection_backoff,
            scheme,
            authority,
            #[cfg(feature = "tls")]
            tls,
        })
    }

    /// TLS for a balanced channel's connections: `settings`, offering HTTP/2 (ALPN `h2`),
    /// verifying the server as `ClientTls::domain` says, else as the host of `authority`
    /// (or of each address).
    #[cfg(feature = "tls")]
    fn h2_tls(
        &self,
        settings: crate::tls::ClientTls,
        authority: Option<&str>,
    ) -> Result<lb::connect::Tls, ConnectError> {
        let handshake_timeout = settings.handshake_timeout_setting();
        let (mut config, domain) = settings
            .into_rustls_http1()
            .map_err(|err| ConnectError::new(&self.uri, err))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        let server_name = match (domain, authority) {
            (Some(domain), _) => Some(domain),
            (None, Some(authority)) => {
                let host = authority
                    .rsplit_once(':')
                    .map_or(authority, |(host, _)| host)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                Some(
                    rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|err| {
                        ConnectError::not_attempted(
                            &self.uri,
                            format!("{host:?} is not a name TLS can verify: {err}"),
                        )
                    })?,
                )
            }
            (None, None) => None,
        };
        Ok(lb::connect::Tls {
            connector: tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)),
            server_name,
            handshake_timeout,
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

/// The pause before a balanced list's replica is reconnected after a failure; it doubles
/// after each failure, up to [`LONGEST_REPLICA_RETRY_PAUSE`].
const FIRST_REPLICA_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between two attempts to reconnect a balanced list's replica.
const LONGEST_REPLICA_RETRY_PAUSE: Duration = Duration::from_secs(5);

impl Channel {
    /// One channel over several replicas of a server (e.g. `"http://10.0.0.1:50051"`,
    /// `"http://10.0.0.2:50051"`), each connecting on its first call, with the default
    /// settings ([`Channel::balance_with`] takes settings).
    ///
    /// Calls go round robin to the replicas that are reachable (gRPC's `round_robin`). A replica whose connection
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
        let https = endpoints
            .first()
            .is_some_and(|endpoint| endpoint.uri().scheme_str() == Some("https"));
        let addresses = resolve::from_uris(endpoints.iter().map(Endpoint::uri));
        let mut settings = first.clone();
        settings.connection_backoff = ConnectionBackoff::default()
            .initial(FIRST_REPLICA_RETRY_PAUSE)
            .multiplier(2.0)
            .jitter(0.0)
            .max(LONGEST_REPLICA_RETRY_PAUSE);
        #[cfg(feature = "tls")]
        if https && settings.tls.is_none() {
            settings.tls = Some(crate::tls::ClientTls::new().system_roots());
        }
        let connector = settings.connector(None, https)?;
        let balanced = settings.balancer(
            resolve::Resolver::Fixed(addresses),
            LoadBalancing::RoundRobin,
            connector,
        )?;
        Ok(Self {
            inner: Transport::Balanced(balanced),
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
            let protocol = self.protocol;
            let exchange = move |request| {
                protocol::exchange(protocol, http1, request, move |request| {
                    transport.send(request)
                })
            };
            let record = (request.extensions().get::<call_policy::CallPolicy>())
                .and_then(|policy| policy.record.clone());
            return ResponseFuture(Answer::Adapted(match record {
                // One attempt, observed.
                Some(record) => Box::pin(record.observe_attempt(request, exchange)),
                None => exchange(request),
            }));
        }
        // The first attempt goes on the transport made ready by `poll_ready`; any other
        // attempt through a clone of it.
        ResponseFuture(Answer::Grpc(self.retries.call(
            request,
            &mut self.inner,
            |inner, request| match inner {
                // Not boxed: the call's future holds it.
                Transport::Single(channel) => Either::Left(channel.call(request).err_into()),
                Transport::Balanced(replicas) => Either::Right(replicas.call(request)),
                Transport::Http1(http1) => Either::Right(http1.send(request)),
            },
        )))
    }
}

/// The response to one call sent on a [`Channel`]: its attempts, until one commits.
pub struct ResponseFuture(Answer);

/// A gRPC call's first attempt, on whichever transport.
type FirstAttempt = Either<
    futures_util::future::ErrInto<
        tonic::transport::channel::ResponseFuture,
        Box<dyn std::error::Error + Send + Sync>,
    >,
    protocol::Exchange,
>;

#[expect(
    clippy::large_enum_variant,
    reason = "a gRPC call, the common case, is held in place: boxing it costs every call"
)]
enum Answer {
    Grpc(retry::CallFuture<FirstAttempt>),
    /// In another protocol than gRPC.
    Adapted(protocol::Exchange),
}

impl Future for ResponseFuture {
    type Output = Result<http::Response<Body>, Box<dyn std::error::Error + Send + Sync>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.0 {
            Answer::Grpc(call) => Pin::new(call).poll(cx),
            Answer::Adapted(exchange) => exchange.as_mut().poll(cx),
        }
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
