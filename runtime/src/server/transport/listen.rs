//! The accept loops: take connections until the server is told to stop, then drain:
//!
//! 1. The listener closes: new clients are refused at once.
//! 2. The health service reports `NOT_SERVING` for the server (`""`) and every service, and
//!    its `Watch` calls send that and end; the drain waits (briefly) for them to end, so
//!    that a watching client or balancer reads `NOT_SERVING` before the GOAWAY.
//! 3. Every connection gets a graceful GOAWAY (h2's two-phase one, see `lifetime`) and
//!    finishes its calls in flight; connections still in their TLS handshake are dropped.
//! 4. Once the drain timeout (if set) has passed since the start of the drain, the
//!    connections left are cut: their calls are cancelled, their sockets closed.
//!
//! Serving returns once every connection has ended.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connection::Connections;
use super::lifetime::ServerSignals;

/// How long the accept loop pauses after an error that is not about one connection (out of
/// file descriptors, say): retrying at once would spin while nothing can change.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The longest the GOAWAY waits for health `Watch` calls to send their `NOT_SERVING` and
/// end: a watcher that does not read must not hold the drain back.
const HEALTH_WATCH_WAIT: Duration = Duration::from_secs(5);

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
/// then drains (see the module documentation) and returns once every connection ended.
pub(crate) async fn serve<A: Accept>(
    mut accept: A,
    connections: Connections,
    shutdown: impl Future<Output = ()>,
) {
    let tasks = TaskTracker::new();
    let signals = ServerSignals::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept.accept() => accepted,
        };
        match accepted {
            Ok(Some((io, addr))) => connections.spawn(&tasks, io, addr, &signals),
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
    drain(&connections, &signals, &tasks).await;
}

/// Steps 2 to 4 of the module documentation; returns once every connection has ended.
async fn drain(connections: &Connections, signals: &ServerSignals, tasks: &TaskTracker) {
    let deadline = connections
        .drain_timeout()
        .map(|timeout| Instant::now() + timeout);
    // 2. Health says NOT_SERVING, and its watchers read it before any GOAWAY.
    let watches = connections.draining();
    let health_deadline = Instant::now() + HEALTH_WATCH_WAIT;
    let health_deadline = deadline.map_or(health_deadline, |d| d.min(health_deadline));
    let _ = tokio::time::timeout_at(health_deadline, all_ended(watches)).await;
    // 3. GOAWAY on every connection.
    signals.drain.cancel();
    tasks.close();
    // 4. At the deadline, the connections left are cut.
    if let Some(deadline) = deadline
        && tokio::time::timeout_at(deadline, tasks.wait())
            .await
            .is_err()
    {
        tracing::debug!("the drain deadline passed: cutting the connections left");
        signals.cut.cancel();
    }
    tasks.wait().await;
}

/// Waits until every call of `calls` has ended.
async fn all_ended(calls: Vec<CancellationToken>) {
    for call in calls {
        call.cancelled().await;
    }
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
