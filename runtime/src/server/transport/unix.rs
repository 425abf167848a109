//! Connections over a unix domain socket, for clients on the same machine (`unix:` targets).

use std::io;
use std::net::SocketAddr;

use tokio::net::{UnixListener, UnixStream};

use super::listen::Accept;

/// Unix socket connections; they have no IP address to report as the peer.
pub(crate) struct UnixAccept(pub(crate) UnixListener);

impl Accept for UnixAccept {
    type Io = UnixStream;

    async fn accept(&mut self) -> io::Result<Option<(UnixStream, Option<SocketAddr>)>> {
        let (stream, _) = self.0.accept().await?;
        Ok(Some((stream, None)))
    }
}
