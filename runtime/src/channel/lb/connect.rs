//! Making one subchannel's HTTP/2 connection: TCP (or a unix socket), TLS when the target
//! is, then hyper's HTTP/2 client handshake with the channel's settings.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tonic::body::Body;

use super::backoff::ConnectionBackoff;
use crate::channel::RESET_STREAMS_REMEMBERED;
use crate::channel::resolve::Address;

/// Sends requests on one connection (clones share it).
pub(crate) type Sender = http2::SendRequest<Body>;
/// Drives one connection: it ends when the connection takes no more requests (closed, or
/// the server sent GOAWAY), with the error that ended it.
pub(crate) type Driver = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Once TCP keep-alive starts probing, how often and how many times (as the server's).
#[cfg(target_os = "linux")]
const KEEPALIVE_PROBE_INTERVAL: Duration = Duration::from_secs(20);
#[cfg(target_os = "linux")]
const KEEPALIVE_PROBES: u32 = 3;

/// How a channel's subchannels connect: the [`ChannelBuilder`](crate::ChannelBuilder)'s
/// settings, shared by all of them.
#[derive(Debug)]
pub(crate) struct Connector {
    pub(crate) connect_timeout: Duration,
    /// Doubled each time a server closes a connection for pinging too often.
    pub(crate) keepalive_interval: Mutex<Option<Duration>>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) keepalive_while_idle: bool,
    pub(crate) tcp_keepalive: Option<Duration>,
    pub(crate) backoff: ConnectionBackoff,
    /// `https` over TLS, else `http`: the requests' `:scheme`.
    pub(crate) scheme: http::uri::Scheme,
    /// The requests' `:authority` (the target's `host:port`); `None`: each address's own.
    pub(crate) authority: Option<String>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Tls>,
}

/// A TLS target's client configuration (offering `h2`) and the server's name.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) connector: tokio_rustls::TlsConnector,
    /// The name the server's certificate must be for; `None`: the address's host.
    pub(crate) server_name: Option<rustls::pki_types::ServerName<'static>>,
    pub(crate) handshake_timeout: Duration,
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Connects to `address` within `timeout` (and the channel's connect timeout).
    pub(crate) async fn connect(
        &self,
        address: &Address,
        timeout: Duration,
    ) -> Result<(Sender, Driver), ConnectFailure> {
        let timeout = timeout.min(self.connect_timeout);
        let io = tokio::time::timeout(timeout, self.open(address))
            .await
            .map_err(|_| ConnectFailure(format!("connecting timed out after {timeout:?}")))??;
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .keep_alive_interval(self.keepalive_interval())
            .keep_alive_timeout(self.keepalive_timeout)
            .keep_alive_while_idle(self.keepalive_while_idle)
            .max_concurrent_reset_streams(RESET_STREAMS_REMEMBERED);
        let (sender, connection) = builder
            .handshake::<_, Body>(TokioIo::new(io))
            .await
            .map_err(|err| ConnectFailure(format!("the HTTP/2 handshake failed: {err}")))?;
        Ok((sender, Box::pin(connection)))
    }

    /// The scheme and authority of requests sent to `address`.
    pub(crate) fn origin_for(&self, address: &Address) -> http::Uri {
        let authority = match (&self.authority, address) {
            (Some(authority), _) => authority.clone(),
            (None, Address::Named(authority)) => authority.clone(),
            (None, Address::Tcp(addr)) => addr.to_string(),
            (None, Address::Unix(_)) => "localhost".to_owned(),
        };
        http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(authority)
            .path_and_query("/")
            .build()
            .unwrap_or_else(|_| http::Uri::from_static("http://localhost/"))
    }

    fn keepalive_interval(&self) -> Option<Duration> {
        *self
            .keepalive_interval
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// After a server closed a connection with ENHANCE_YOUR_CALM "too_many_pings": ping
    /// half as often on the next connections, as gRPC's clients do.
    pub(crate) fn calm_down(&self) {
        let mut interval = self
            .keepalive_interval
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(interval) = interval.as_mut() {
            *interval = interval.saturating_mul(2);
            tracing::warn!(
                keepalive_interval = ?*interval,
                "the server said we ping too often (too_many_pings); pinging half as often"
            );
        }
    }

    async fn open(&self, address: &Address) -> Result<Box<dyn Io>, ConnectFailure> {
        let stream: Box<dyn Io> = match address {
            Address::Tcp(addr) => {
                let stream = TcpStream::connect(addr).await.map_err(ConnectFailure::io)?;
                self.tune(&stream);
                Box::new(stream)
            }
            Address::Named(authority) => {
                let stream = TcpStream::connect(authority.as_str())
                    .await
                    .map_err(ConnectFailure::io)?;
                self.tune(&stream);
                Box::new(stream)
            }
            Address::Unix(path) => Box::new(
                UnixStream::connect(path)
                    .await
                    .map_err(ConnectFailure::io)?,
            ),
        };
        self.secure(stream, address).await
    }

    #[cfg(feature = "tls")]
    async fn secure(
        &self,
        stream: Box<dyn Io>,
        address: &Address,
    ) -> Result<Box<dyn Io>, ConnectFailure> {
        let Some(tls) = &self.tls else {
            return Ok(stream);
        };
        let server_name = match &tls.server_name {
            Some(name) => name.clone(),
            None => {
                let origin = self.origin_for(address);
                let host = origin.host().unwrap_or_default();
                let host = host.trim_start_matches('[').trim_end_matches(']');
                rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|err| {
                    ConnectFailure(format!("{host:?} is not a name TLS can verify: {err}"))
                })?
            }
        };
        let handshake = tls.connector.connect(server_name, stream);
        match tokio::time::timeout(tls.handshake_timeout, handshake).await {
            Ok(Ok(stream)) => Ok(Box::new(stream)),
            Ok(Err(err)) => Err(ConnectFailure(format!("the TLS handshake failed: {err}"))),
            Err(_) => Err(ConnectFailure(format!(
                "the TLS handshake timed out after {:?}",
                tls.handshake_timeout
            ))),
        }
    }

    #[cfg(not(feature = "tls"))]
    async fn secure(
        &self,
        stream: Box<dyn Io>,
        _address: &Address,
    ) -> Result<Box<dyn Io>, ConnectFailure> {
        Ok(stream)
    }

    /// Nagle off (small gRPC messages must not wait), TCP keep-alive as set. A failure only
    /// makes the connection work less well, so it is logged, not fatal.
    fn tune(&self, stream: &TcpStream) {
        let tuned = stream.set_nodelay(true).and_then(|()| {
            let Some(idle) = self.tcp_keepalive else {
                return Ok(());
            };
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            #[cfg(target_os = "linux")]
            let keepalive = keepalive
                .with_interval(KEEPALIVE_PROBE_INTERVAL)
                .with_retries(KEEPALIVE_PROBES);
            socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)
        });
        if let Err(err) = tuned {
            tracing::debug!("cannot set up the TCP connection: {err}");
        }
    }
}

/// Why a connection attempt failed, as a sentence for logs and `UNAVAILABLE` statuses.
#[derive(Debug)]
pub(crate) struct ConnectFailure(pub(crate) String);

impl ConnectFailure {
    fn io(err: io::Error) -> Self {
        Self(err.to_string())
    }
}

/// Whether a connection ended because the server found it pinged too often: GOAWAY
/// ENHANCE_YOUR_CALM with the debug data "too_many_pings" (gRPC's servers send it).
pub(crate) fn pinged_too_often(error: &hyper::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            return h2.is_go_away()
                && h2.is_remote()
                && h2.reason() == Some(h2::Reason::ENHANCE_YOUR_CALM)
                && h2.to_string().contains("too_many_pings");
        }
        cause = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// An HTTP/2 frame: its 9-byte header, then `payload`.
    fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut frame = vec![len[1], len[2], len[3], kind, 0, 0, 0, 0, 0];
        frame.extend_from_slice(payload);
        frame
    }

    /// A server that answers the client's preface with its SETTINGS, then GOAWAY with
    /// `code` and `debug` data.
    async fn goaway_server(code: u32, debug: &'static [u8]) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut preface = [0u8; 24];
            stream.read_exact(&mut preface).await.unwrap();
            let mut goaway = 0u32.to_be_bytes().to_vec(); // last stream id
            goaway.extend_from_slice(&code.to_be_bytes());
            goaway.extend_from_slice(debug);
            let mut frames = frame(0x4, &[]); // SETTINGS
            frames.extend(frame(0x7, &goaway)); // GOAWAY
            stream.write_all(&frames).await.unwrap();
            // Keep the connection open until the client closes it.
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
        });
        addr
    }

    fn connector(keepalive: Duration) -> Connector {
        Connector {
            connect_timeout: Duration::from_secs(20),
            keepalive_interval: Mutex::new(Some(keepalive)),
            keepalive_timeout: Duration::from_secs(20),
            keepalive_while_idle: false,
            tcp_keepalive: None,
            backoff: ConnectionBackoff::default(),
            scheme: http::uri::Scheme::HTTP,
            authority: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// How a connection to a server sending GOAWAY `code` with `debug` ends.
    fn connection_end(code: u32, debug: &'static [u8]) -> hyper::Error {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let addr = goaway_server(code, debug).await;
            let connector = connector(Duration::from_secs(1));
            let (_sender, driver) = connector
                .connect(&Address::Tcp(addr), Duration::from_secs(20))
                .await
                .unwrap();
            tokio::time::timeout(Duration::from_secs(20), driver)
                .await
                .unwrap()
                .unwrap_err()
        })
    }

    #[test]
    fn goaway_too_many_pings_is_recognized_and_halves_the_ping_rate() {
        const ENHANCE_YOUR_CALM: u32 = 0xb;
        let error = connection_end(ENHANCE_YOUR_CALM, b"too_many_pings");
        assert!(pinged_too_often(&error), "{error:?}");
        let connector = connector(Duration::from_secs(1));
        connector.calm_down();
        assert_eq!(connector.keepalive_interval(), Some(Duration::from_secs(2)));
        connector.calm_down();
        assert_eq!(connector.keepalive_interval(), Some(Duration::from_secs(4)));
    }

    #[test]
    fn other_goaways_do_not_change_the_ping_rate() {
        const PROTOCOL_ERROR: u32 = 0x1;
        let error = connection_end(PROTOCOL_ERROR, b"too_many_pings");
        assert!(!pinged_too_often(&error), "{error:?}");
        let error = connection_end(0xb, b"something else");
        assert!(!pinged_too_often(&error), "{error:?}");
    }
}
