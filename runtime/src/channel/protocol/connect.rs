//! The client side of the Connect protocol (connectrpc.com/docs/protocol), binary codec.
//!
//! A call with one message each way is a plain HTTP request: the bare message as an
//! `application/proto` POST, answered by HTTP 200 with the bare message (trailers as
//! `trailer-` headers) or by the Connect status's HTTP code with a JSON error. Every other
//! call is an `application/connect+proto` stream of gRPC's envelopes, ended by an
//! end-of-stream envelope (flag `0x02`) holding the error, if any, and the trailers.

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body::Frame;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tonic::Status;

use super::envelopes::{Ended, Ending};
use super::{CallShape, Exchange, status_only};
use crate::Compression;
use crate::call::deadline::{CONNECT_TIMEOUT, GRPC_TIMEOUT, Parsed};
use crate::call::status::{
    code_of_http_status, status_of_connect_error, write_grpc, write_grpc_ok,
};
use crate::codec::{envelope, read_whole};
use crate::compression::{
    self, CONNECT_ACCEPT_ENCODING, CONNECT_CONTENT_ENCODING, GRPC_ACCEPT_ENCODING, GRPC_ENCODING,
};

const CONNECT_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("connect-protocol-version");

/// The most of an error body read: a JSON error is small; an HTML page need not be whole.
const MAX_ERROR_BODY: usize = 64 * 1024;

static END_OF_STREAM: Ending = Ending {
    flag: 0x02,
    read: read_end_of_stream,
    missing: "the Connect stream ended without its end-of-stream message (no status)",
};

/// Sends a gRPC request as Connect, and answers with the gRPC response.
pub(super) fn exchange<F>(
    mut request: http::Request<tonic::body::Body>,
    shape: CallShape,
    send: F,
) -> Exchange
where
    F: FnOnce(http::Request<tonic::body::Body>) -> Exchange + Send + 'static,
{
    let headers = request.headers_mut();
    if let Parsed::Timeout(timeout) = GRPC_TIMEOUT.read(headers) {
        CONNECT_TIMEOUT.write(headers, timeout);
    }
    headers.remove(&GRPC_TIMEOUT.name);
    if shape.is_unary() {
        return Box::pin(unary(request, shape.max_response, send));
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/connect+proto"),
    );
    rename(headers, &GRPC_ENCODING, CONNECT_CONTENT_ENCODING);
    rename(headers, &GRPC_ACCEPT_ENCODING, CONNECT_ACCEPT_ENCODING);
    Box::pin(async move { stream_response(send(request).await?).await })
}

/// Moves a header to another name.
fn rename(headers: &mut HeaderMap, from: &HeaderName, to: HeaderName) {
    if let Some(value) = headers.remove(from) {
        headers.insert(to, value);
    }
}

/// A unary call: the one request envelope sent bare, the bare answer enveloped again.
async fn unary<F>(
    request: http::Request<tonic::body::Body>,
    max_response: usize,
    send: F,
) -> Result<http::Response<tonic::body::Body>, super::BoxError>
where
    F: FnOnce(http::Request<tonic::body::Body>) -> Exchange,
{
    let (mut parts, body) = request.into_parts();
    let envelope = body.collect().await?.to_bytes();
    let (flag, message) = split_envelope(&envelope)?;
    let headers = &mut parts.headers;
    let encoding = headers.remove(GRPC_ENCODING);
    if flag & 0x01 != 0
        && let Some(encoding) = encoding
    {
        headers.insert(CONTENT_ENCODING, encoding);
    }
    rename(headers, &GRPC_ACCEPT_ENCODING, ACCEPT_ENCODING);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/proto"));
    headers.insert(CONNECT_PROTOCOL_VERSION, HeaderValue::from_static("1"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(message.len()));
    let body =
        tonic::body::Body::new(http_body_util::Full::new(message).map_err(|never| match never {}));
    let response = send(http::Request::from_parts(parts, body)).await?;
    Ok(unary_response(response, max_response).await)
}

/// The one message of a request body: its flag and its bytes.
fn split_envelope(envelope: &Bytes) -> Result<(u8, Bytes), Status> {
    let length = envelope
        .get(1..5)
        .and_then(|length| <[u8; 4]>::try_from(length).ok())
        .map(u32::from_be_bytes)
        .and_then(|length| usize::try_from(length).ok());
    match length {
        Some(length) if envelope.len() == 5 + length => Ok((envelope[0], envelope.slice(5..))),
        _ => Err(Status::internal(
            "a unary Connect call must send exactly one request message",
        )),
    }
}

/// The gRPC response a Connect unary answer stands for.
async fn unary_response(
    response: http::Response<tonic::body::Body>,
    max_response: usize,
) -> http::Response<tonic::body::Body> {
    let (parts, body) = response.into_parts();
    if parts.status != StatusCode::OK {
        return error_response(parts, body).await;
    }
    if let Err(status) = expect_content_type(&parts.headers, b"application/proto") {
        return status_only(&status);
    }
    let encoding = match encoding_of(parts.headers.get(CONTENT_ENCODING)) {
        Ok(encoding) => encoding,
        Err(status) => return status_only(&status),
    };
    let message = match collect_within(body, max_response).await {
        Ok(message) => message,
        Err(status) => return status_only(&status),
    };
    let mut headers = HeaderMap::new();
    let mut trailers = HeaderMap::new();
    split_trailers(parts.headers, &mut headers, &mut trailers);
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    let mut flag = 0;
    if let Some(name) = encoding.and_then(compression::name) {
        headers.insert(GRPC_ENCODING, HeaderValue::from_static(name));
        flag = 0x01;
    }
    write_grpc_ok(&mut trailers);
    let frames = [
        Frame::data(envelope(flag, &message)),
        Frame::trailers(trailers),
    ];
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(
        frames.into_iter().map(Ok::<_, Status>),
    ));
    let mut response = http::Response::new(tonic::body::Body::new(body));
    *response.headers_mut() = headers;
    response
}

/// Splits a unary answer's headers into headers and trailers (the `trailer-` ones, without
/// the prefix), leaving out those that described the HTTP body.
fn split_trailers(from: HeaderMap, headers: &mut HeaderMap, trailers: &mut HeaderMap) {
    let mut name = None;
    for (next, value) in from {
        // `into_iter` names a header only at its first value.
        if let Some(next) = next {
            name = Some(next);
        }
        let Some(name) = &name else { continue };
        if let Some(trailer) = name.as_str().strip_prefix("trailer-") {
            if let Ok(trailer) = HeaderName::from_bytes(trailer.as_bytes()) {
                trailers.append(trailer, value);
            }
        } else if ![CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING].contains(name) {
            headers.append(name.clone(), value);
        }
    }
}

/// The status of a Connect error answer (any HTTP status but 200), as a trailers-only
/// gRPC response with the answer's metadata.
async fn error_response(
    parts: http::response::Parts,
    body: tonic::body::Body,
) -> http::Response<tonic::body::Body> {
    let status = read_error(&parts, body).await;
    let mut metadata = HeaderMap::new();
    let mut trailers = HeaderMap::new();
    split_trailers(parts.headers, &mut metadata, &mut trailers);
    metadata.extend(trailers);
    let mut response = status_only(&status);
    for (name, value) in &metadata {
        if !name.as_str().starts_with("grpc-") {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

/// The status an error answer carries: its JSON error, or else its HTTP status.
async fn read_error(parts: &http::response::Parts, body: tonic::body::Body) -> Status {
    let from_http = || {
        Status::new(
            code_of_http_status(parts.status),
            format!("the server answered HTTP {}", parts.status),
        )
    };
    let is_json = parts
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !is_json {
        return from_http();
    }
    let Ok(encoding) = encoding_of(parts.headers.get(CONTENT_ENCODING)) else {
        return from_http();
    };
    let Ok(bytes) = collect_within(body, MAX_ERROR_BODY).await else {
        return from_http();
    };
    let json = match encoding {
        None => bytes.to_vec(),
        Some(encoding) => match compression::decompress(encoding, &bytes, MAX_ERROR_BODY) {
            Ok(json) => json,
            Err(_) => return from_http(),
        },
    };
    match serde_json::from_slice::<Value>(&json) {
        Ok(error) if error.get("code").is_some() => status_of_connect_error(&error),
        _ => from_http(),
    }
}

/// The gRPC response a Connect stream answer stands for.
async fn stream_response(
    response: http::Response<tonic::body::Body>,
) -> Result<http::Response<tonic::body::Body>, super::BoxError> {
    let (mut parts, body) = response.into_parts();
    if parts.status != StatusCode::OK {
        return Ok(error_response(parts, body).await);
    }
    if let Err(status) = expect_content_type(&parts.headers, b"application/connect+proto") {
        return Ok(status_only(&status));
    }
    let encoding = match encoding_of(parts.headers.get(CONNECT_CONTENT_ENCODING)) {
        Ok(encoding) => encoding,
        Err(status) => return Ok(status_only(&status)),
    };
    rename(&mut parts.headers, &CONNECT_CONTENT_ENCODING, GRPC_ENCODING);
    rename(
        &mut parts.headers,
        &CONNECT_ACCEPT_ENCODING,
        GRPC_ACCEPT_ENCODING,
    );
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    let body = Ended::new(body, &END_OF_STREAM, encoding);
    Ok(http::Response::from_parts(
        parts,
        tonic::body::Body::new(body),
    ))
}

/// Refuses an answer of another content-type than `expected` (parameters aside).
fn expect_content_type(headers: &HeaderMap, expected: &[u8]) -> Result<(), Status> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .map_or(&b""[..], HeaderValue::as_bytes);
    let essence = content_type
        .split(|byte| *byte == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    if essence.eq_ignore_ascii_case(expected) {
        return Ok(());
    }
    Err(Status::internal(format!(
        "the server answered with content-type {:?}, not {:?}",
        String::from_utf8_lossy(content_type),
        String::from_utf8_lossy(expected)
    )))
}

/// The encoding a `content-encoding` (or `connect-content-encoding`) header names.
fn encoding_of(value: Option<&HeaderValue>) -> Result<Option<Compression>, Status> {
    let Some(value) = value else { return Ok(None) };
    compression::parse(value.as_bytes()).map_err(|()| {
        Status::internal(format!(
            "the server answered in encoding {:?}, which rgrpc does not decode",
            String::from_utf8_lossy(value.as_bytes())
        ))
    })
}

/// The whole of an answer's `body`, or `RESOURCE_EXHAUSTED` once it passes `limit` bytes; a
/// body that breaks off is `UNAVAILABLE`.
async fn collect_within(body: tonic::body::Body, limit: usize) -> Result<Bytes, Status> {
    let body = body.map_err(|status| Status::unavailable(status.to_string()));
    read_whole(body, limit, |limit| {
        Status::resource_exhausted(format!(
            "the response message is larger than the limit of {limit} bytes"
        ))
    })
    .await
}

/// The trailers of an end-of-stream message: its metadata, and its error or OK.
fn read_end_of_stream(json: &[u8]) -> Result<HeaderMap, Status> {
    let malformed = |why: &str| {
        Status::internal(format!(
            "protocol error: malformed Connect end-of-stream message ({why}): {}",
            String::from_utf8_lossy(json)
        ))
    };
    let end: Value = serde_json::from_slice(json).map_err(|error| malformed(&error.to_string()))?;
    let Value::Object(end) = end else {
        return Err(malformed("not a JSON object"));
    };
    let mut trailers = HeaderMap::new();
    if let Some(metadata) = end.get("metadata") {
        let Value::Object(metadata) = metadata else {
            return Err(malformed("metadata is not an object"));
        };
        for (name, values) in metadata {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| malformed("a metadata key is not a header name"))?;
            let Value::Array(values) = values else {
                return Err(malformed("a metadata value is not a list"));
            };
            for value in values {
                let value = value
                    .as_str()
                    .and_then(|value| HeaderValue::from_str(value).ok())
                    .ok_or_else(|| malformed("a metadata value is not a header value"))?;
                trailers.append(name.clone(), value);
            }
        }
    }
    match end.get("error") {
        Some(error) => write_grpc(&status_of_connect_error(error), &mut trailers),
        None => write_grpc_ok(&mut trailers),
    }
    Ok(trailers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_of_stream_message_becomes_trailers() {
        let trailers = read_end_of_stream(
            br#"{"error":{"code":"not_found","message":"gone"},"metadata":{"x-a":["1","2"]}}"#,
        )
        .unwrap();
        assert_eq!(trailers["grpc-status"], "5");
        assert_eq!(trailers["grpc-message"], "gone");
        let values: Vec<_> = trailers.get_all("x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        let ok = read_end_of_stream(b"{}").unwrap();
        assert_eq!(ok["grpc-status"], "0");
    }

    #[test]
    fn a_malformed_end_of_stream_message_is_named() {
        let error = read_end_of_stream(br#"{"metadata":{"x":"1"}}"#).unwrap_err();
        assert!(error.message().contains("not a list"), "{error:?}");
        let error = read_end_of_stream(b"[1]").unwrap_err();
        assert!(error.message().contains("not a JSON object"), "{error:?}");
    }

    #[test]
    fn a_unary_request_is_one_envelope() {
        let envelope = Bytes::from_static(b"\x01\x00\x00\x00\x02hi");
        assert_eq!(
            split_envelope(&envelope).unwrap(),
            (1, Bytes::from_static(b"hi"))
        );
        assert!(split_envelope(&Bytes::from_static(b"\x00\x00\x00\x00\x03hi")).is_err());
        assert!(split_envelope(&Bytes::new()).is_err());
    }
}
