//! The head of a call's request, kept to build each later attempt's request: the time
//! left until the deadline as its `grpc-timeout`, and the number of attempts before it as
//! `grpc-previous-rpc-attempts`.

use http::{HeaderMap, HeaderValue, Method, Uri, Version};
use tokio::time::Instant;
use tonic::body::Body;

use crate::call::deadline::GRPC_TIMEOUT;
use crate::channel::call_policy::CallPolicy;
use crate::channel::protocol::CallShape;

/// What later attempts need of a call's request. Of its extensions, only those the
/// channel's layers read are kept (copying them all costs every call an allocation).
pub(super) struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    shape: Option<CallShape>,
    policy: Option<CallPolicy>,
}

const PREVIOUS_ATTEMPTS: &str = "grpc-previous-rpc-attempts";

impl Head {
    /// A copy of the head of a call's first request.
    pub(super) fn keep(parts: &http::request::Parts) -> Self {
        Self {
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers: parts.headers.clone(),
            shape: parts.extensions.get::<CallShape>().copied(),
            policy: parts.extensions.get::<CallPolicy>().cloned(),
        }
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
        let mut request = http::Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.version_mut() = self.version;
        *request.headers_mut() = headers;
        if let Some(shape) = self.shape {
            request.extensions_mut().insert(shape);
        }
        if let Some(policy) = &self.policy {
            request.extensions_mut().insert(policy.clone());
        }
        Some(request)
    }
}
