//! The protocols one server speaks on one port, told apart by each request's content-type:
//! gRPC (HTTP/2), and gRPC-Web and Connect (HTTP/1.1 or HTTP/2), which are adapted to gRPC
//! here so the same generated handler, deadlines, cancellation and status rules serve them.

mod base64_body;
mod connect;
mod grpc_web;

use http::header::CONTENT_TYPE;

use super::dispatch::{ServerFuture, answer_with_http_status};
use super::transport::routes::Routes;
use crate::Status;

/// Serves `request` in the protocol its content-type names.
pub(crate) fn serve(routes: &Routes, request: http::Request<tonic::body::Body>) -> ServerFuture {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .map_or(&b""[..], |value| value.as_bytes());
    if let Some(form) = grpc_web::Form::of(content_type) {
        return match form {
            Some(form) => grpc_web::serve(routes, request, form),
            None => refuse_content_type(content_type),
        };
    }
    if let Some(shape) = connect::Shape::of(content_type) {
        return match shape {
            Some(shape) => connect::serve(routes, request, shape),
            None => refuse_content_type(content_type),
        };
    }
    if !is_grpc(content_type) {
        return refuse_content_type(content_type);
    }
    if request.version() < http::Version::HTTP_2 {
        return answer_with_http_status(
            http::StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            &Status::internal(
                "gRPC needs HTTP/2; over HTTP/1.1 this server speaks gRPC-Web \
                 (application/grpc-web) and Connect (application/proto)",
            ),
        );
    }
    routes.call(request)
}

/// The content-types this server serves, as a refusal lists them.
const ACCEPTED: &str = "application/grpc, application/grpc+proto (HTTP/2); \
                        application/grpc-web, application/grpc-web+proto, \
                        application/grpc-web-text, application/grpc-web-text+proto; \
                        application/proto, application/connect+proto (Connect)";

/// HTTP 415 for a content-type no protocol here speaks, saying which ones they do.
fn refuse_content_type(content_type: &[u8]) -> ServerFuture {
    answer_with_http_status(
        http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &Status::invalid_argument(format!(
            "content-type {:?} is not served (accepted: {ACCEPTED})",
            String::from_utf8_lossy(content_type)
        )),
    )
}

/// Whether a content-type is gRPC's: `application/grpc`, alone or followed by a `+subtype`
/// or `;parameters` (so `application/grpc-web` is not).
pub(crate) fn is_grpc(content_type: &[u8]) -> bool {
    content_type
        .strip_prefix(b"application/grpc")
        .is_some_and(|rest| matches!(rest.first(), None | Some(b'+' | b';')))
}
