//! The head of a call's request (method, URI, headers, extensions), kept to build each
//! attempt's request: the time left until the deadline as its `grpc-timeout`, and the
//! number of attempts before it as `grpc-previous-rpc-attempts`.

use http::{HeaderMap, HeaderValue, Method, Uri, Version};
use tokio::time::Instant;
use tonic::body::Body;

use crate::call::deadline::GRPC_TIMEOUT;

/// A request's parts, kept to build each attempt's request.
pub(super) struct Head {
    pub(super) method: Method,
    pub(super) uri: Uri,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
    pub(super) extensions: http::Extensions,
}

const PREVIOUS_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

impl Head {
    pub(super) fn first(&self, body: Body) -> http::Request<Body> {
        self.build(body, self.headers.clone())
    }

    /// The request of an attempt after `previous` policy attempts, with the time left
    /// until `deadline` as its `grpc-timeout`; `None` once the deadline has passed.
    pub(super) fn attempt(
        &self,
        body: Body,
        previous: u32,
        deadline: Option<Instant>,
    ) -> Option<http::Request<Body>> {
        let mut headers = self.headers.clone();
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            GRPC_TIMEOUT.write(&mut headers, left);
        }
        if previous > 0 {
            headers.insert(PREVIOUS_ATTEMPTS, HeaderValue::from(previous));
        }
        Some(self.build(body, headers))
    }

    fn build(&self, body: Body, headers: HeaderMap) -> http::Request<Body> {
        let mut request = http::Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = headers;
        *request.extensions_mut() = self.extensions.clone();
        request
    }
}
