//! TLS and mutual TLS (rustls, `ring` provider): what a server presents and requires, and
//! what a client trusts and presents. Needs the `tls` feature.
//!
//! ```no_run
//! # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
//! # use doctest::{block_on, hello, MyHello};
//! # use hello::hello_service_server::HelloServiceServer;
//! use rgrpc::tls::{ClientTls, ServerTls};
//!
//! # block_on(async {
//! # let (cert_pem, key_pem, client_ca_pem) = (b"", b"", b"");
//! # let (server_ca_pem, client_cert_pem, client_key_pem) = (b"", b"", b"");
//! // Server: its certificate chain and key; with `client_ca`, clients must present a
//! // certificate signed by that CA (mutual TLS).
//! let server = rgrpc::Server::builder()
//!     .tls(ServerTls::new(cert_pem, key_pem).client_ca(client_ca_pem))?
//!     .add_service(HelloServiceServer::new(MyHello));
//!
//! // Client: the CA it trusts, and (for mutual TLS) its own certificate and key.
//! let channel = rgrpc::Channel::builder("https://localhost:50051")
//!     .tls(ClientTls::new().ca(server_ca_pem).identity(client_cert_pem, client_key_pem))
//!     .connect()
//!     .await?;
//! # Ok(()) }).unwrap();
//! ```
//!
//! Every input is checked when the configuration is built — `Server::tls` for a server,
//! `connect` for a client — so a missing or malformed certificate or key is a [`TlsError`]
//! naming it, never a panic and never a silently weaker connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::server::transport::tls::TlsAcceptor;

/// How long either side waits for a TLS handshake to finish before dropping the connection:
/// a peer that opens a connection and goes silent holds no resources longer than this.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A server's TLS configuration: its certificate chain and key, and optionally the CA its
/// clients' certificates must be signed by (mutual TLS).
#[derive(Clone)]
pub struct ServerTls {
    cert_chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    client_ca_pem: Option<Vec<u8>>,
    client_certificate_optional: bool,
    handshake_timeout: Duration,
}

impl ServerTls {
    /// The server presents `cert_chain_pem` (its certificate first, then any intermediates)
    /// and proves it with `key_pem` (PKCS#8, PKCS#1 or SEC1).
    pub fn new(cert_chain_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Self {
        Self {
            cert_chain_pem: cert_chain_pem.as_ref().to_vec(),
            key_pem: key_pem.as_ref().to_vec(),
            client_ca_pem: None,
            client_certificate_optional: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Requires every client to present a certificate signed by a CA in `ca_pem` (mutual
    /// TLS); handshakes without one fail. Handlers read it with
    /// [`Context::peer_certificates`](crate::server::Context::peer_certificates).
    pub fn client_ca(mut self, ca_pem: impl AsRef<[u8]>) -> Self {
        self.client_ca_pem = Some(ca_pem.as_ref().to_vec());
        self
    }

    /// With [`client_ca`](Self::client_ca): also accept clients that present no certificate
    /// (a certificate that is presented must still be signed by the CA). Handlers then
    /// decide, by whether `peer_certificates` is `Some`.
    pub fn client_certificate_optional(mut self) -> Self {
        self.client_certificate_optional = true;
        self
    }

    /// How long a handshake may take ([`DEFAULT_HANDSHAKE_TIMEOUT`] unless set).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Checks every input and builds the server's TLS acceptor. HTTP/2 is the protocol it
    /// offers in ALPN, as gRPC clients ask.
    pub(crate) fn into_acceptor(self) -> Result<TlsAcceptor, TlsError> {
        ensure_crypto_provider();
        let chain = certificates("the server certificate chain", &self.cert_chain_pem)?;
        let key = private_key("the server private key", &self.key_pem)?;
        let builder = rustls::ServerConfig::builder();
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca_pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for ca in certificates("the client CA", ca_pem)? {
                    roots.add(ca).map_err(|err| {
                        TlsError::with_source("the client CA holds an unusable certificate", err)
                    })?;
                }
                let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
                let verifier = if self.client_certificate_optional {
                    verifier.allow_unauthenticated()
                } else {
                    verifier
                };
                let verifier = verifier.build().map_err(|err| {
                    TlsError::with_source("the client CA cannot verify certificates", err)
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|err| {
            TlsError::with_source("the server's certificate and key do not go together", err)
        })?;
        // h2 first: gRPC clients ask for it; browsers and HTTP/1.1-only paths (gRPC-Web) get
        // http/1.1 on the same port.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::new(Arc::new(config), self.handshake_timeout))
    }
}

impl fmt::Debug for ServerTls {
    // Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("client_ca", &self.client_ca_pem.is_some())
            .field(
                "client_certificate_optional",
                &self.client_certificate_optional,
            )
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// A client's TLS configuration: the CAs it trusts to sign the server's certificate, the
/// name it expects the certificate to be for, and optionally its own certificate and key
/// (mutual TLS).
///
/// It trusts nothing until told: [`ca`](Self::ca) adds a CA,
/// [`system_roots`](Self::system_roots) adds the platform's; a configuration with neither
/// is an error rather than one no server can pass.
#[derive(Clone)]
pub struct ClientTls {
    ca_pems: Vec<Vec<u8>>,
    system_roots: bool,
    domain: Option<String>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    handshake_timeout: Duration,
}

impl Default for ClientTls {
    fn default() -> Self {
        Self {
            ca_pems: Vec::new(),
            system_roots: false,
            domain: None,
            identity: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl ClientTls {
    /// A configuration that trusts no CA yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the CA certificates in `ca_pem` to sign the server's certificate.
    pub fn ca(mut self, ca_pem: impl AsRef<[u8]>) -> Self {
        self.ca_pems.push(ca_pem.as_ref().to_vec());
        self
    }

    /// Trusts the platform's root certificates (read when the channel is built).
    pub fn system_roots(mut self) -> Self {
        self.system_roots = true;
        self
    }

    /// The name the server's certificate must be for; by default the host of the URI.
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Presents `cert_chain_pem`, proven by `key_pem`, to servers that ask for a client
    /// certificate (mutual TLS).
    pub fn identity(mut self, cert_chain_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Self {
        self.identity = Some((cert_chain_pem.as_ref().to_vec(), key_pem.as_ref().to_vec()));
        self
    }

    /// How long a handshake may take ([`DEFAULT_HANDSHAKE_TIMEOUT`] unless set).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The handshake timeout set, for connectors that run the handshake themselves.
    pub(crate) fn handshake_timeout_setting(&self) -> Duration {
        self.handshake_timeout
    }

    /// Checks every input and builds tonic's configuration.
    pub(crate) fn into_tonic(self) -> Result<ClientTlsConfig, TlsError> {
        ensure_crypto_provider();
        if self.ca_pems.is_empty() && !self.system_roots {
            return Err(TlsError::new(
                "the client trusts no certificate authority: add ClientTls::ca or \
                 ClientTls::system_roots",
            ));
        }
        let mut config = ClientTlsConfig::new().timeout(self.handshake_timeout);
        for ca_pem in &self.ca_pems {
            certificates("a trusted CA", ca_pem)?;
            config = config.ca_certificate(Certificate::from_pem(ca_pem));
        }
        if self.system_roots {
            config = config.with_native_roots();
        }
        if let Some(domain) = self.domain {
            config = config.domain_name(domain);
        }
        if let Some((cert_chain_pem, key_pem)) = &self.identity {
            certificates("the client certificate chain", cert_chain_pem)?;
            private_key("the client private key", key_pem)?;
            config = config.identity(Identity::from_pem(cert_chain_pem, key_pem));
        }
        Ok(config)
    }
}

impl ClientTls {
    /// The rustls configuration of a client speaking HTTP/1.1, checking
    /// every input as [`ClientTls::into_tonic`] does; and the name to verify the server by,
    /// when [`ClientTls::domain`] set one.
    pub(crate) fn into_rustls_http1(
        self,
    ) -> Result<(rustls::ClientConfig, Option<ServerName<'static>>), TlsError> {
        ensure_crypto_provider();
        if self.ca_pems.is_empty() && !self.system_roots {
            return Err(TlsError::new(
                "the client trusts no certificate authority: add ClientTls::ca or \
                 ClientTls::system_roots",
            ));
        }
        let mut roots = rustls::RootCertStore::empty();
        for ca_pem in &self.ca_pems {
            for ca in certificates("a trusted CA", ca_pem)? {
                roots
                    .add(ca)
                    .map_err(|err| TlsError::with_source("a trusted CA is not usable", err))?;
            }
        }
        if self.system_roots {
            // Certificates the platform lists but that do not parse are skipped, as tonic does.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
        let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
        // hyper-rustls offers `http/1.1` by ALPN itself.
        let config = match &self.identity {
            Some((cert_chain_pem, key_pem)) => {
                let chain = certificates("the client certificate chain", cert_chain_pem)?;
                let key = private_key("the client private key", key_pem)?;
                builder.with_client_auth_cert(chain, key).map_err(|err| {
                    TlsError::with_source("the client certificate and key do not match", err)
                })?
            }
            None => builder.with_no_client_auth(),
        };
        let domain = self
            .domain
            .map(|domain| {
                ServerName::try_from(domain.clone()).map_err(|err| {
                    TlsError::with_source(format!("{domain:?} is not a valid server name"), err)
                })
            })
            .transpose()?;
        Ok((config, domain))
    }
}

impl fmt::Debug for ClientTls {
    // Never prints the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("cas", &self.ca_pems.len())
            .field("system_roots", &self.system_roots)
            .field("domain", &self.domain)
            .field("identity", &self.identity.is_some())
            .field("handshake_timeout", &self.handshake_timeout)
            .finish()
    }
}

/// A TLS configuration that cannot work: a certificate or key that is missing or does not
/// parse, a key that does not match its certificate, or a client that trusts no CA.
#[derive(Debug)]
pub struct TlsError {
    problem: String,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl TlsError {
    pub(crate) fn new(problem: impl Into<String>) -> Self {
        Self {
            problem: problem.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        problem: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            problem: problem.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS configuration: {}", self.problem)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
            // tonic's errors keep the useful part one level down.
            if let Some(cause) = source.source() {
                write!(f, ": {cause}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

/// The certificates in `pem`: at least one, all of them well-formed PEM.
fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| TlsError::with_source(format!("{what} is not valid PEM"), err))?;
    if chain.is_empty() {
        return Err(TlsError::new(format!(
            "{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(chain)
}

/// The private key in `pem`, in a format rustls reads.
fn private_key(what: &str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|err| TlsError::with_source(format!("{what} holds no usable PEM key"), err))
}

/// Installs `ring` as the process's rustls provider unless one is installed already.
///
/// rustls's builders ask for the process default, which rustls cannot pick on
/// its own (and panics) when the program's dependencies enable more than one provider;
/// this makes that case work instead. A program that installs its own provider keeps it.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
