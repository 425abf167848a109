//! The accept loops: take connections until the server is told to stop, then stop taking
//! them and let every open connection finish its calls (HTTP/2 GOAWAY, then wait).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::connection::Connections;

/// How long the accept loop pauses after an error that is not about one connection (out of
/// file descriptors, say): retrying at once would spin while nothing can change.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Where connections come from.
pub(crate) trait Accept {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection and the client's address, if it has one; `Ok(None)` once no
    /// more can come.
    fn accept(
        &mut self,
    ) -> impl Future<Output = io::Result<Option<(Self::Io, Option<SocketAddr>)>>>;
}

/// Once TCP keep-alive starts probing an idle connection, how often it probes, and how many
/// unanswered probes close it: a vanished peer is noticed a minute after probing starts, as
/// gRPC's unanswered ping (20 s) would be, give or take.
#[cfg(target_os = "linux")]
const KEEPALIVE_PROBE_INTERVAL: Duration = Duration::from_secs(20);
#[cfg(target_os = "linux")]
const KEEPALIVE_PROBES: u32 = 3;

/// TCP connections, with Nagle's algorithm off (gRPC's small messages must not wait for
/// more bytes) and TCP keep-alive as the server's settings say.
pub(crate) struct TcpAccept {
    pub(crate) listener: TcpListener,
    pub(crate) keepalive: Option<Duration>,
}

impl TcpAccept {
    fn tune(&self, stream: &TcpStream) -> io::Result<()> {
        stream.set_nodelay(true)?;
        if let Some(idle) = self.keepalive {
            let keepalive = socket2::TcpKeepalive::new().with_time(idle);
            #[cfg(target_os = "linux")]
            let keepalive = keepalive
                .with_interval(KEEPALIVE_PROBE_INTERVAL)
                .with_retries(KEEPALIVE_PROBES);
            socket2::SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
        }
        Ok(())
    }
}

impl Accept for TcpAccept {
    type Io = TcpStream;

    async fn accept(&mut self) -> io::Result<Option<(TcpStream, Option<SocketAddr>)>> {
        let (stream, addr) = self.listener.accept().await?;
        if let Err(err) = self.tune(&stream) {
            // The connection still works, only less well: serve it anyway.
            tracing::debug!(peer = %addr, "cannot set up the TCP connection: {err}");
        }
        Ok(Some((stream, Some(addr))))
    }
}

/// In-memory connections handed over by an in-process channel.
pub(crate) struct PipeAccept(pub(crate) mpsc::Receiver<DuplexStream>);

impl Accept for PipeAccept {
    type Io = DuplexStream;

    async fn accept(&mut self) -> io::Result<Option<(DuplexStream, Option<SocketAddr>)>> {
        Ok(self.0.recv().await.map(|pipe| (pipe, None)))
    }
}

/// Serves what `accept` yields until `shutdown` completes (or nothing more can come),
/// then closes the listener and waits for the open connections to finish their calls.
pub(crate) async fn serve<A: Accept>(
    mut accept: A,
    connections: Connections,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept.accept() => accepted,
        };
        match accepted {
            Ok(Some((io, addr))) => connections.spawn(io, addr, graceful.watcher()),
            Ok(None) => break,
            Err(err) if is_about_one_connection(&err) => {}
            Err(err) => {
                tracing::warn!("cannot accept connections: {err}");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                }
            }
        }
    }
    // Closed now, not after the drain: new clients are refused at once instead of
    // connecting to a server that will never answer them.
    drop(accept);
    connections.draining();
    graceful.shutdown().await;
}

/// Errors that end one connection attempt (the client gave up before it was accepted),
/// not the listener's ability to accept the next.
fn is_about_one_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
    )
}
