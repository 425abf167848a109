//! The [`Server`] builder, every method of it: the connection's settings (HTTP/2 limits
//! and keep-alive, TCP keep-alive, TLS), the settings every call is served with (message
//! size limits and response compression, whose types live in `settings` and
//! `response_compression`), and adding the first service.
//!
//! [`Server::builder`] starts from the defaults below, each chosen so that one client cannot
//! hold unbounded resources and dead peers are eventually noticed:
//!
//! | setting | default | why |
//! |---|---|---|
//! | [`max_concurrent_streams`](Server::max_concurrent_streams) | 200 per connection | bounds the handlers one connection can start (tonic's is unlimited); a client past it queues, it does not fail (for limits of 100 and up) |
//! | [`max_header_list_size`](Server::max_header_list_size) | 16 KiB | bounds the metadata a call can make the server decode and hold (hyper's default, gRPC C-core's hard limit) |
//! | [`tcp_keepalive`](Server::tcp_keepalive) | 2 hours idle, then a probe every 20 s, 3 unanswered close it | finds peers that vanished without closing, as gRPC's 2-hour pings do, at no cost per call (below) |
//! | [`http2_keepalive_interval`](Server::http2_keepalive_interval) | off | HTTP/2 pings, for when TCP keep-alive cannot reach the peer; they cost every call (below) |
//! | [`http2_keepalive_timeout`](Server::http2_keepalive_timeout) | 20 s | gRPC's default: how long a ping may go unanswered before the connection is closed |
//! | TLS handshake timeout | 10 s | `ServerTls::handshake_timeout`: a client that connects and stays silent is dropped |
//! | [`initial_connection_window_size`](Server::initial_connection_window_size) | 8 MiB | how much request data a connection may have unread; h2 also sizes its budget for small DATA frames from it (below) |
//! | [`initial_stream_window_size`](Server::initial_stream_window_size) | 1 MiB | how much request data one call may have unread (hyper's default) |
//! | small-DATA-frame budget | half the connection window: 4 MiB | h2's guard against floods of tiny frames; not settable through hyper, so set through the connection window |
//! | empty DATA frames | 100 per connection | h2's fixed guard: an empty frame that does not end a stream carries nothing |
//! | [`http2_max_pending_accept_reset_streams`](Server::http2_max_pending_accept_reset_streams) | 20 | the Rapid Reset guard (CVE-2023-44487): streams a client resets before the server took them up |
//! | [`http2_max_local_error_reset_streams`](Server::http2_max_local_error_reset_streams) | 1,024 per connection | streams the server itself had to reset for the client's protocol errors before it gives up on the connection |
//! | [`keepalive_min_ping_interval`](Server::keepalive_min_ping_interval) | 5 min | gRPC's policy: a client pinging more often is told `ENHANCE_YOUR_CALM` ("too_many_pings") and disconnected |
//! | [`keepalive_permit_without_calls`](Server::keepalive_permit_without_calls) | no | gRPC's policy: with no call open, a client should not ping (more often than every 2 hours) |
//! | [`max_connection_age`](Server::max_connection_age) | unlimited | set it behind DNS or a balancer, so clients reconnect and find new replicas |
//! | [`max_connection_age_grace`](Server::max_connection_age_grace) | unlimited | calls open at the maximum age finish, however long they take |
//! | [`max_connection_idle`](Server::max_connection_idle) | unlimited | gRPC's default; an idle connection costs a socket and a little memory |
//! | [`drain_timeout`](Server::drain_timeout) | unlimited | a graceful shutdown waits for every call in flight |
//!
//! # Why dead peers are found by TCP keep-alive
//!
//! gRPC's servers ping an idle connection every 2 hours. hyper implements those pings by
//! noting the time, under a lock, on every frame it reads, whether or not a ping is ever
//! due: 2.5% of a unary call's server instructions (callgrind, 53.5k against 54.9k). The
//! kernel's TCP keep-alive finds the same vanished peers, for TLS and plaintext alike, with
//! no work per call: after 2 hours without traffic it probes every 20 s and closes the
//! connection after 3 unanswered probes. HTTP/2 pings remain available for paths where TCP
//! keep-alive does not reach the peer.
//!
//! # Connection management
//!
//! A connection ends gracefully (HTTP/2 GOAWAY, new calls go to a new connection, calls in
//! flight finish) when the server drains, when it reaches its
//! [maximum age](Server::max_connection_age), or after it had no call open for its
//! [maximum idle time](Server::max_connection_idle). It is cut, its calls cancelled, when
//! the age's [grace](Server::max_connection_age_grace) or the server's
//! [drain timeout](Server::drain_timeout) passes, or when the client pings too often.
//!
//! The GOAWAY is two-phase, as gRPC's servers send it: first one that refuses nothing
//! (last stream 2^31-1) with a PING, then, once the PING's answer shows the client has read
//! it, the final one; so a call the client started just before it read the first is
//! served, not refused.
//!
//! A graceful shutdown ([`serve_with_shutdown`](super::Router::serve_with_shutdown), an
//! in-process server's `shutdown`) stops accepting connections; turns every health status
//! `NOT_SERVING` and waits (up to 5 s) for the health `Watch` calls to send it and end, so
//! that probes and client-side health checks read it before the GOAWAY; sends the GOAWAY on
//! every connection; and returns once their calls are done, or cuts what is left at the
//! drain timeout.
//!
//! # Why the connection window is 8 MiB
//!
//! h2 keeps each DATA frame it received until the application reads it, and charges a
//! small one (under 256 bytes) 256 − its length against a budget of half the connection
//! window; once it is spent, the whole connection is closed with GOAWAY `ENHANCE_YOUR_CALM`
//! ("too_many_data_frames"). A client may open 200 calls and send their first messages in
//! one burst, and h2 reads the whole burst before the server takes up a single call. A
//! grpc-js client doing just that (200 bidi calls of 50 messages of 20 bytes: 10,000 frames,
//! 2.4 MB of budget) got its connection closed half the time under hyper's 1 MiB window
//! (512 KiB of budget). 8 MiB gives 4 MiB of budget: about 17,000 such frames, 85 per call
//! at the stream limit. Once a call runs, its request bytes are read ahead of the handler
//! (16 KiB) into one buffer, so its frames leave h2 as they arrive. A flood still meets the
//! budget: tiny frames at a call that does not read them are cut off after about 33,000
//! (16 KiB read ahead, then the budget), empty ones after 100. The cost is memory: a client
//! may leave up to 8 MiB unread per connection, as with grpc-go's windows once its BDP
//! estimate grows them.

use std::time::Duration;

use super::response_compression::ResponseCompression;
use super::router::{GrpcService, Router};
use super::settings::{CallSettings, Limited};
use super::transport::connection::ConnectionSettings;
use super::transport::lifetime::LifetimeSettings;
use super::transport::ping_policy::PingPolicy;
use super::transport::routes::RoutesBuilder;
use crate::intercept::server::ServerChain;
use crate::server::protocol::Protocols;
use crate::standard::Standard;

const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 200;
const DEFAULT_MAX_HEADER_LIST_SIZE: u32 = 16 * 1024;
const DEFAULT_TCP_KEEPALIVE: Duration = Duration::from_secs(2 * 60 * 60);
const DEFAULT_HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
const DEFAULT_CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;
const DEFAULT_STREAM_WINDOW: u32 = 1024 * 1024;
const DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
const DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// gRPC's `GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS` and grpc-go's
/// `EnforcementPolicy.MinTime` default.
const DEFAULT_KEEPALIVE_MIN_PING_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Builds a server for one or more generated services.
///
/// ```no_run
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use hello::hello_service_server::HelloServiceServer;
///
/// # block_on(async {
/// rgrpc::Server::builder()
///     .max_concurrent_streams(256)
///     .add_service(HelloServiceServer::new(MyHello))
///     .serve("127.0.0.1:50051".parse()?)
///     .await?;
/// # Ok(()) }).unwrap();
/// ```
///
/// The server serves on hyper's HTTP/2 directly, with its own route table. A generated
/// server is also a plain tower service with a [`NamedService`](tonic::server::NamedService)
/// name, so it can be added to `tonic::transport::Server` instead, next to tonic services
/// and under tower layers; and a tonic service can be added here.
#[derive(Debug)]
pub struct Server {
    connection: ConnectionSettings,
    /// Message size limits and response compression, for every service.
    settings: CallSettings,
    /// Reflection and health, added after the user's services.
    standard: Standard,
    /// Around every call, in the order added.
    interceptors: ServerChain,
}

impl Default for Server {
    /// The same as [`Server::builder`]: rgrpc's defaults.
    fn default() -> Self {
        Self {
            connection: ConnectionSettings {
                max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
                max_header_list_size: DEFAULT_MAX_HEADER_LIST_SIZE,
                keepalive_interval: None,
                keepalive_timeout: DEFAULT_HTTP2_KEEPALIVE_TIMEOUT,
                connection_window: DEFAULT_CONNECTION_WINDOW,
                stream_window: DEFAULT_STREAM_WINDOW,
                max_pending_accept_reset_streams: DEFAULT_MAX_PENDING_ACCEPT_RESET_STREAMS,
                max_local_error_reset_streams: Some(DEFAULT_MAX_LOCAL_ERROR_RESET_STREAMS),
                tcp_keepalive: Some(DEFAULT_TCP_KEEPALIVE),
                lifetime: LifetimeSettings::default(),
                ping_policy: PingPolicy {
                    min_interval: DEFAULT_KEEPALIVE_MIN_PING_INTERVAL,
                    permit_without_calls: false,
                },
                drain_timeout: None,
                cors: None,
                protocols: Protocols::default(),
                #[cfg(feature = "tls")]
                tls: None,
            },
            settings: CallSettings::default(),
            standard: Standard::default(),
            interceptors: ServerChain::default(),
        }
    }
}

impl Server {
    /// A server with rgrpc's default limits: see
    /// [`max_concurrent_streams`](Self::max_concurrent_streams) and the methods after it.
    pub fn builder() -> Self {
        Self::default()
    }

    /// Adds the first service.
    pub fn add_service(self, service: impl GrpcService) -> Router {
        let mut routes = RoutesBuilder::default();
        routes.interceptors = self.interceptors;
        routes.add(Limited::with_settings(service, self.settings.clone()));
        Router {
            routes,
            settings: self.settings,
            connection: self.connection,
            standard: self.standard,
        }
    }

    /// Runs `interceptor` around every call the server receives: every service (the
    /// standard ones included), every wire protocol, and calls to methods the server does
    /// not serve (see [`ServerCall::is_registered`](crate::intercept::ServerCall::is_registered)).
    /// Interceptors run in the order added, before those of a service's own
    /// ([`InterceptedService`](super::InterceptedService)); see [`crate::intercept`].
    pub fn interceptor(mut self, interceptor: impl crate::intercept::ServerInterceptor) -> Self {
        self.interceptors.push(interceptor);
        self
    }

    /// Lets web pages of other origins call the server (gRPC-Web and Connect from a
    /// browser), as `cors` says; without it browsers only let pages of the server's own
    /// origin call. See [`Cors`](super::Cors).
    pub fn cors(mut self, cors: super::Cors) -> Self {
        self.connection.cors = Some(cors);
        self
    }

    /// Whether to serve gRPC-Web (default: on). Off, its requests are answered HTTP 415.
    pub fn grpc_web(mut self, enable: bool) -> Self {
        self.connection.protocols.grpc_web = enable;
        self
    }

    /// Whether to serve the Connect protocol (default: on): binary and JSON, POST, and GET
    /// for methods marked `NO_SIDE_EFFECTS`. Off, its requests are answered HTTP 415.
    pub fn connect(mut self, enable: bool) -> Self {
        self.connection.protocols.connect = enable;
        self
    }

    /// Whether to serve server reflection, `grpc.reflection.v1` and `v1alpha`, for every
    /// service served (default: on). It describes each generated service from the
    /// descriptors embedded in its code, so grpcurl and `buf curl` need no `.proto` files.
    #[cfg(feature = "reflection")]
    pub fn reflection(mut self, enable: bool) -> Self {
        self.standard.reflection = enable;
        self
    }

    /// Whether to serve health checking, `grpc.health.v1.Health` (default: on). Every
    /// service served, and the server as a whole (`""`), starts `SERVING`; see
    /// [`health_reporter`](Self::health_reporter).
    #[cfg(feature = "health")]
    pub fn health(mut self, enable: bool) -> Self {
        self.standard.health = enable.then(|| self.health_reporter());
        self
    }

    /// The handle that sets the statuses this server's health service reports. Statuses
    /// set before serving are kept; the services left unset start `SERVING`.
    #[cfg(feature = "health")]
    pub fn health_reporter(&self) -> crate::health::HealthReporter {
        self.standard.health.clone().unwrap_or_default()
    }

    /// How many bytes of request data a connection may have sent and the server not yet
    /// read (HTTP/2 flow control); default 8 MiB. h2 allows half of it as its budget for
    /// small DATA frames, so this also bounds how many small messages a burst of calls can
    /// carry before the server takes them up (see the module documentation).
    pub fn initial_connection_window_size(mut self, bytes: u32) -> Self {
        self.connection.connection_window = bytes;
        self
    }

    /// How many bytes of request data one call may have sent and its handler not yet read;
    /// default 1 MiB.
    pub fn initial_stream_window_size(mut self, bytes: u32) -> Self {
        self.connection.stream_window = bytes;
        self
    }

    /// How many streams a client may reset before the server took them up, before the
    /// connection is closed with `ENHANCE_YOUR_CALM`; default 20. This is the guard against
    /// the HTTP/2 Rapid Reset attack (CVE-2023-44487), in which a client opens and cancels
    /// streams in a loop, making the server start work it never gets to finish.
    pub fn http2_max_pending_accept_reset_streams(mut self, max: usize) -> Self {
        self.connection.max_pending_accept_reset_streams = max;
        self
    }

    /// How many streams the server may reset because of the client's protocol errors
    /// before it closes the connection; default 1,024, `None` for no limit.
    pub fn http2_max_local_error_reset_streams(mut self, max: Option<usize>) -> Self {
        self.connection.max_local_error_reset_streams = max;
        self
    }

    /// How many calls one connection may have open at once (HTTP/2
    /// `SETTINGS_MAX_CONCURRENT_STREAMS`); default 200. Clients that know the limit keep
    /// further calls queued until one ends, so it bounds concurrency without failing calls.
    ///
    /// Below 100, the first calls of a burst on a brand-new connection can be refused
    /// (`UNAVAILABLE`, HTTP/2 `REFUSED_STREAM`): a client may open streams before the
    /// server's SETTINGS reach it, and h2 (tonic's and rgrpc's client) assumes 100 until
    /// then, without retrying refused streams.
    pub fn max_concurrent_streams(mut self, max: u32) -> Self {
        self.connection.max_concurrent_streams = max;
        self
    }

    /// The largest header block, in bytes, a call may send (HTTP/2
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`: metadata plus the protocol's own headers, as HPACK
    /// decodes them); default 16 KiB. A call over it is refused before any handler runs.
    pub fn max_header_list_size(mut self, bytes: u32) -> Self {
        self.connection.max_header_list_size = bytes;
        self
    }

    /// How often an idle connection is pinged (HTTP/2 PING) to check the client is still
    /// there; `None` (the default) never pings. TCP keep-alive already finds vanished
    /// clients (see the module documentation); pings cost every call a little.
    pub fn http2_keepalive_interval(mut self, interval: Option<Duration>) -> Self {
        self.connection.keepalive_interval = interval;
        self
    }

    /// How long a keep-alive ping may go unanswered before the connection is closed, ending
    /// its calls; default 20 s.
    pub fn http2_keepalive_timeout(mut self, timeout: Duration) -> Self {
        self.connection.keepalive_timeout = timeout;
        self
    }

    /// TCP keep-alive on accepted connections: the idle time before the OS starts probing
    /// (then every 20 s, closing after 3 unanswered probes); default 2 hours, `None` turns
    /// it off.
    pub fn tcp_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.connection.tcp_keepalive = idle;
        self
    }

    /// Ends each connection gracefully once it is `age` old, give or take 10% at random (so
    /// connections made together do not all reconnect at once); default: never. Its calls in
    /// flight finish (see [`max_connection_age_grace`](Self::max_connection_age_grace)) and
    /// the client's next calls go over a new connection: behind DNS or a load balancer,
    /// clients find new replicas this way.
    pub fn max_connection_age(mut self, age: Duration) -> Self {
        self.connection.lifetime.max_age = Some(age);
        self
    }

    /// How long the calls of a connection past its
    /// [`max_connection_age`](Self::max_connection_age) may still run; once it has passed,
    /// those still open are cancelled (their handlers see it, the clients get an error) and
    /// the connection is closed. Default: as long as they take.
    pub fn max_connection_age_grace(mut self, grace: Duration) -> Self {
        self.connection.lifetime.max_age_grace = Some(grace);
        self
    }

    /// Ends a connection gracefully once it has had no call open for `idle` (default:
    /// never). It is checked every quarter of `idle`, so the GOAWAY comes between `idle` and
    /// 1.25 × `idle` after the last call ended. Counting open calls costs each call an
    /// atomic increment and decrement, as the keepalive policy's does.
    pub fn max_connection_idle(mut self, idle: Duration) -> Self {
        self.connection.lifetime.max_idle = Some(idle);
        self
    }

    /// The least time a client must leave between two pings (HTTP/2 PING); default 5 min,
    /// gRPC's. A ping sooner than that after the previous one is a strike (and with no call
    /// open and [`keepalive_permit_without_calls`](Self::keepalive_permit_without_calls)
    /// off, a ping within 2 hours of the previous one is); the third strike closes the
    /// connection with GOAWAY `ENHANCE_YOUR_CALM` and debug data `too_many_pings`, which
    /// gRPC clients answer by pinging less often. Strikes are forgiven once the server has
    /// sent a response's headers or data. These are grpc-go's rules; a client keepalive
    /// interval below this one gets its connections closed, so lower this one to allow it.
    /// `Duration::ZERO` with pings permitted without calls turns the policy off.
    pub fn keepalive_min_ping_interval(mut self, interval: Duration) -> Self {
        self.connection.ping_policy.min_interval = interval;
        self
    }

    /// Whether a client may ping while it has no call open (at the
    /// [`keepalive_min_ping_interval`](Self::keepalive_min_ping_interval)); default: no, as
    /// in gRPC. Turn it on for clients that keep idle connections alive with pings (gRPC's
    /// `keepalive_permit_without_calls` on the client side).
    pub fn keepalive_permit_without_calls(mut self, permit: bool) -> Self {
        self.connection.ping_policy.permit_without_calls = permit;
        self
    }

    /// How long a graceful shutdown waits for the calls in flight; once it has passed, the
    /// calls still open are cancelled (their handlers see it), their connections closed,
    /// and serving returns. Default: as long as they take.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.connection.drain_timeout = Some(timeout);
        self
    }

    /// Refuses request messages larger than `bytes` with `RESOURCE_EXHAUSTED` (default
    /// 4 MiB), for every service of this server; see
    /// [`MessageLimits`](super::MessageLimits).
    pub fn max_request_message_size(mut self, bytes: usize) -> Self {
        self.settings.limits = self.settings.limits.max_request_message_size(bytes);
        self
    }

    /// Ends a call with `RESOURCE_EXHAUSTED` instead of sending a response message larger
    /// than `bytes` (default: no limit), for every service of this server; see
    /// [`MessageLimits`](super::MessageLimits).
    pub fn max_response_message_size(mut self, bytes: usize) -> Self {
        self.settings.limits = self.settings.limits.max_response_message_size(bytes);
        self
    }

    /// Compresses the responses of every service of this server as `compression` says
    /// (default: none); see [`ResponseCompression`]. Only clients that list the encoding
    /// in `grpc-accept-encoding` get compressed messages.
    pub fn response_compression(mut self, compression: ResponseCompression) -> Self {
        self.settings.compression = compression;
        self
    }

    /// Serves over TLS (mutual TLS if `tls` has a client CA). Fails, naming the input, when
    /// a certificate or key is missing, malformed or mismatched.
    ///
    /// TLS is for servers on a socket: the channel of
    /// [`serve_in_process`](super::Router::serve_in_process) speaks plaintext, so serve
    /// in process without it.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::ServerTls) -> Result<Self, crate::tls::TlsError> {
        self.connection.tls = Some(tls.into_acceptor()?);
        Ok(self)
    }
}
