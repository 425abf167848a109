//! The client side of gRPC-Web (binary): a gRPC request under another content-type, whose
//! answer carries the trailers as the body's last frame (flag `0x80`, HTTP/1 header lines).

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tonic::Status;

use super::envelopes::{Ended, Ending};
use super::{Exchange, status_only};
use crate::call::status::{GRPC_STATUS, code_of_http_status};
use crate::compression::{self, GRPC_ENCODING};

/// Says the request is gRPC-Web to proxies that route on it, as gRPC-Web's clients do.
const X_GRPC_WEB: HeaderName = HeaderName::from_static("x-grpc-web");

static TRAILERS_FRAME: Ending = Ending {
    flag: 0x80,
    read: read_trailers,
    missing: "the gRPC-Web response ended without its trailers frame (no status)",
};

/// Sends a gRPC request as gRPC-Web, and answers with the gRPC response.
pub(super) fn exchange<F>(mut request: http::Request<tonic::body::Body>, send: F) -> Exchange
where
    F: FnOnce(http::Request<tonic::body::Body>) -> Exchange + Send + 'static,
{
    let headers = request.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc-web+proto"),
    );
    headers.insert(X_GRPC_WEB, HeaderValue::from_static("1"));
    Box::pin(async move { Ok(grpc_response(send(request).await?)) })
}

/// The gRPC response a gRPC-Web response stands for.
fn grpc_response(response: http::Response<tonic::body::Body>) -> http::Response<tonic::body::Body> {
    let (mut parts, body) = response.into_parts();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .map_or(&b""[..], HeaderValue::as_bytes);
    let is_grpc_web = content_type.starts_with(b"application/grpc-web");
    // A trailers-only answer reads as in gRPC: the status is in the headers.
    if parts.headers.contains_key(GRPC_STATUS) {
        return http::Response::from_parts(parts, body);
    }
    // An HTTP error without a status (a proxy's page, say): its body is not gRPC-Web.
    if parts.status != StatusCode::OK {
        return status_only(&Status::new(
            code_of_http_status(parts.status),
            format!("the server answered HTTP {}", parts.status),
        ));
    }
    if !is_grpc_web {
        return status_only(&Status::internal(format!(
            "the server answered with content-type {:?}, not gRPC-Web",
            String::from_utf8_lossy(content_type)
        )));
    }
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    let encoding = parts
        .headers
        .get(GRPC_ENCODING)
        .and_then(|name| compression::parse(name.as_bytes()).ok().flatten());
    let body = Ended::new(body, &TRAILERS_FRAME, encoding);
    http::Response::from_parts(parts, tonic::body::Body::new(body))
}

/// The trailers of a trailers frame: `name: value` lines, each ended by CRLF.
fn read_trailers(block: &[u8]) -> Result<HeaderMap, Status> {
    let mut trailers = HeaderMap::new();
    for line in block.split(|byte| *byte == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let malformed = || {
            Status::internal(format!(
                "protocol error: malformed gRPC-Web trailer line {:?}",
                String::from_utf8_lossy(line)
            ))
        };
        let colon = line
            .iter()
            .position(|byte| *byte == b':')
            .ok_or_else(malformed)?;
        let name = HeaderName::from_bytes(line[..colon].trim_ascii()).map_err(|_| malformed())?;
        let value =
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()).map_err(|_| malformed())?;
        trailers.append(name, value);
    }
    Ok(trailers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_lines_are_read_with_any_case_and_spacing() {
        let trailers =
            read_trailers(b"grpc-status: 0\r\nGrpc-Message:done\r\nx-meta: a\r\nx-meta: b\r\n")
                .unwrap();
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(trailers["grpc-message"], "done");
        let values: Vec<_> = trailers.get_all("x-meta").iter().collect();
        assert_eq!(values, ["a", "b"]);
    }

    #[test]
    fn a_line_without_a_colon_is_named() {
        let error = read_trailers(b"grpc-status 0\r\n").unwrap_err();
        assert!(error.message().contains("\"grpc-status 0\""), "{error:?}");
    }
}
