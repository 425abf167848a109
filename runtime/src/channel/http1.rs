//! A channel's HTTP/1.1 transport, for gRPC-Web and Connect over paths that carry nothing
//! else: hyper's pooled client, one call per connection at a time, over TLS for `https://`.

use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tonic::body::Body;

use super::protocol::Exchange;

/// HTTP/1.1 connections to one server; clones share the pool.
#[derive(Clone, Debug)]
pub(super) struct Http1 {
    pool: Pool,
    /// The server's scheme and authority, which each request's path is joined to.
    origin: Uri,
}

#[derive(Clone, Debug)]
enum Pool {
    Plain(Client<HttpConnector, Body>),
    #[cfg(feature = "tls")]
    Tls(Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>),
}

/// How a connection is made: TCP settings, and TLS for `https://`.
pub(super) struct Connecting {
    pub(super) connect_timeout: Duration,
    pub(super) tcp_keepalive: Option<Duration>,
    /// The client's TLS configuration, and the name to verify the server by if not its host.
    #[cfg(feature = "tls")]
    pub(super) tls: Option<(
        rustls::ClientConfig,
        Option<rustls::pki_types::ServerName<'static>>,
    )>,
}

impl Http1 {
    pub(super) fn new(origin: Uri, connecting: Connecting) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connecting.connect_timeout));
        connector.set_keepalive(connecting.tcp_keepalive);
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new());
        #[cfg(feature = "tls")]
        if let Some((config, domain)) = connecting.tls {
            // The TLS layer takes `https://` URIs, which the TCP connector must let through.
            connector.enforce_http(false);
            let builder = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_only();
            let builder = match domain {
                Some(name) => builder
                    .with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name)),
                None => builder,
            };
            let builder = builder.enable_http1();
            return Self {
                pool: Pool::Tls(client.build(builder.wrap_connector(connector))),
                origin,
            };
        }
        Self::plain(client, connector, origin)
    }

    fn plain(
        client: hyper_util::client::legacy::Builder,
        connector: HttpConnector,
        origin: Uri,
    ) -> Self {
        Self {
            pool: Pool::Plain(client.build(connector)),
            origin,
        }
    }

    /// Sends `request` to the server, at its path.
    pub(super) fn send(&self, mut request: http::Request<Body>) -> Exchange {
        let mut uri = self.origin.clone().into_parts();
        uri.path_and_query = request.uri().path_and_query().cloned();
        let pool = self.pool.clone();
        Box::pin(async move {
            *request.uri_mut() = Uri::from_parts(uri)?;
            *request.version_mut() = http::Version::HTTP_11;
            let response = match pool {
                Pool::Plain(client) => client.request(request).await?,
                #[cfg(feature = "tls")]
                Pool::Tls(client) => client.request(request).await?,
            };
            Ok(response.map(Body::new))
        })
    }
}
