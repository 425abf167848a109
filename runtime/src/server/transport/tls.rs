//! The server's side of TLS on each connection: the handshake, bounded in time, and the
//! certificate chain the client presented.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

/// Accepts TLS connections with one configuration (built by
/// [`ServerTls`](crate::tls::ServerTls), which checked every input).
#[derive(Clone)]
pub(crate) struct TlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    handshake_timeout: Duration,
}

impl fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// The chain a client presented, verified; `None` when it presented none.
pub(crate) type ClientCertificates = Option<Arc<Vec<CertificateDer<'static>>>>;

impl TlsAcceptor {
    pub(crate) fn new(config: Arc<rustls::ServerConfig>, handshake_timeout: Duration) -> Self {
        Self {
            acceptor: tokio_rustls::TlsAcceptor::from(config),
            handshake_timeout,
        }
    }

    /// The TLS session over `io`, or why there is none: a client that stays silent is
    /// dropped after the handshake timeout.
    pub(crate) async fn handshake<IO>(
        &self,
        io: IO,
    ) -> Result<(TlsStream<IO>, ClientCertificates), String>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let stream = tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(io))
            .await
            .map_err(|_| format!("no handshake within {:?}", self.handshake_timeout))?
            .map_err(|err| err.to_string())?;
        let certificates = stream
            .get_ref()
            .1
            .peer_certificates()
            .map(|chain| Arc::new(chain.iter().map(|c| c.clone().into_owned()).collect()));
        Ok((stream, certificates))
    }
}
