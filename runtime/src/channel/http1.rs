//! A channel's HTTP/1.1 transport, for gRPC-Web and Connect over paths that carry nothing
//! else: hyper's pooled client, one call per connection at a time.

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
    client: Client<HttpConnector, Body>,
    /// The server's scheme and authority, which each request's path is joined to.
    origin: Uri,
}

impl Http1 {
    pub(super) fn new(
        origin: Uri,
        connect_timeout: Duration,
        tcp_keepalive: Option<Duration>,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        connector.set_keepalive(tcp_keepalive);
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Self { client, origin }
    }

    /// Sends `request` to the server, at its path.
    pub(super) fn send(&self, mut request: http::Request<Body>) -> Exchange {
        let mut uri = self.origin.clone().into_parts();
        uri.path_and_query = request.uri().path_and_query().cloned();
        let client = self.client.clone();
        Box::pin(async move {
            *request.uri_mut() = Uri::from_parts(uri)?;
            *request.version_mut() = http::Version::HTTP_11;
            let response = client.request(request).await?;
            Ok(response.map(Body::new))
        })
    }
}
