//! Who is calling: the client's address and, over mutual TLS, its certificate chain.
//!
//! rgrpc's server puts a [`Peer`] in every request's extensions. A generated service
//! mounted in `tonic::transport::Server` finds tonic's connection info there instead, and
//! reads the same facts from it.

use std::net::SocketAddr;
#[cfg(feature = "tls")]
use std::sync::Arc;

#[cfg(feature = "tls")]
use rustls::pki_types::CertificateDer;
use tonic::transport::server::TcpConnectInfo;
#[cfg(feature = "tls")]
use tonic::transport::server::TlsConnectInfo;

/// The other end of a call's connection.
#[derive(Clone, Debug, Default)]
pub(crate) struct Peer {
    pub(crate) addr: Option<SocketAddr>,
    /// The chain the client presented over TLS, already verified; `None` without TLS or
    /// when the client presented none.
    #[cfg(feature = "tls")]
    pub(crate) certificates: Option<Arc<Vec<CertificateDer<'static>>>>,
}

impl Peer {
    /// A client at `addr` that presented no certificate (a connection without TLS).
    pub(crate) fn plain(addr: Option<SocketAddr>) -> Peer {
        Peer {
            addr,
            #[cfg(feature = "tls")]
            certificates: None,
        }
    }

    /// The peer of a request, whichever server accepted its connection.
    pub(crate) fn of(extensions: &http::Extensions) -> Peer {
        if let Some(peer) = extensions.get::<Peer>() {
            return peer.clone();
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = extensions.get::<TlsConnectInfo<TcpConnectInfo>>() {
            return Peer {
                addr: tls.get_ref().remote_addr(),
                certificates: tls.peer_certs(),
            };
        }
        Peer {
            addr: extensions
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr),
            #[cfg(feature = "tls")]
            certificates: None,
        }
    }
}
