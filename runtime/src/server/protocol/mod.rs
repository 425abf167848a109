//! The protocols one server speaks on one port, told apart by each request's content-type:
//! gRPC (HTTP/2), and gRPC-Web and Connect (HTTP/1.1 or HTTP/2), which are adapted to gRPC
//! here so the same generated handler, deadlines, cancellation and status rules serve them.

mod base64_body;
mod connect;
mod descriptors;
mod envelopes;
mod get;
mod grpc_web;
mod json;

pub(crate) use descriptors::Descriptors;

use http::header::CONTENT_TYPE;

use super::dispatch::{ServerFuture, answer_with_http_status};
use super::transport::routes::Routes;
use crate::Status;

/// Which protocols besides gRPC a server speaks (both by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Protocols {
    pub(crate) grpc_web: bool,
    pub(crate) connect: bool,
}

impl Default for Protocols {
    fn default() -> Self {
        Self {
            grpc_web: true,
            connect: true,
        }
    }
}

/// Serves `request` in the protocol its content-type names.
pub(crate) fn serve(
    routes: &Routes,
    protocols: Protocols,
    request: http::Request<tonic::body::Body>,
) -> ServerFuture {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .map_or(&b""[..], |value| value.as_bytes());
    // gRPC first: the common case pays for one comparison.
    if is_grpc(content_type) {
        if request.version() < http::Version::HTTP_2 {
            return answer_with_http_status(
                http::StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                &Status::internal(
                    "gRPC needs HTTP/2; over HTTP/1.1 use gRPC-Web (application/grpc-web) or \
                     Connect (application/proto), where the server speaks them",
                ),
            );
        }
        return routes.call(request);
    }
    if let Some(form) = grpc_web::Form::of(content_type) {
        return match form {
            Some(form) if protocols.grpc_web => grpc_web::serve(routes, request, form),
            _ => refuse_content_type(content_type, protocols),
        };
    }
    if let Some((shape, codec)) = connect::Shape::of(content_type) {
        return if protocols.connect {
            connect::serve(routes, request, shape, codec)
        } else {
            refuse_content_type(content_type, protocols)
        };
    }
    // Connect's GET carries no body, so no content-type: its query says what it holds.
    if request.method() == http::Method::GET && protocols.connect {
        return get::serve(routes, request);
    }
    refuse_content_type(content_type, protocols)
}

/// HTTP 415 for a content-type no protocol here speaks, saying which ones they do.
fn refuse_content_type(content_type: &[u8], protocols: Protocols) -> ServerFuture {
    let mut accepted = String::from("application/grpc, application/grpc+proto (HTTP/2)");
    if protocols.grpc_web {
        accepted.push_str(
            "; application/grpc-web, application/grpc-web+proto, application/grpc-web-text, \
             application/grpc-web-text+proto",
        );
    }
    if protocols.connect {
        accepted.push_str(
            "; application/proto, application/json, application/connect+proto, \
             application/connect+json (Connect; and GET for methods without side effects)",
        );
    }
    answer_with_http_status(
        http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        &Status::invalid_argument(format!(
            "content-type {:?} is not served (accepted: {accepted})",
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
