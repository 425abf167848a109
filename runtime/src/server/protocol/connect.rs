//! The Connect protocol (connectrpc.com/docs/protocol), served as gRPC: unary calls as
//! `application/proto` or `application/json` POSTs (or GETs, see `get`), streams as
//! `application/connect+proto` or `application/connect+json`. JSON messages are transcoded
//! to protobuf on the way in and back on the way out (`json`), so the handler is the same.
//!
//! A unary request is one bare message: it is given gRPC's 5-byte envelope and served as a
//! gRPC call. Its answer waits for the call's end, because the HTTP status says how the call
//! ended: 200 with the bare message and its trailers as `trailer-` headers, or the Connect
//! status (404, 503, …) with the JSON error. A stream's envelopes are gRPC's; only the end
//! differs: instead of trailers, an end-of-stream envelope (flag `0x02`) holding the error,
//! if any, and the trailers as JSON metadata.
//!
//! Errors are JSON whatever the codec, and the answer's content-type mirrors the request's.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use tonic::codec::CompressionEncoding as Compression;

use super::descriptors::Missing;
use super::envelopes::{Rewrite, Rewritten};
use super::json::{self, Transcoder};
use crate::Status;
use crate::call::deadline::{CONNECT_TIMEOUT, GRPC_TIMEOUT, Parsed};
use crate::call::status::{connect_error_json, connect_http_status};
use crate::codec::{envelope, envelope_prefix, read_whole};
use crate::compression::{
    CONNECT_ACCEPT_ENCODING, CONNECT_CONTENT_ENCODING, GRPC_ACCEPT_ENCODING, GRPC_ENCODING,
};
use crate::server::dispatch::ServerFuture;
use crate::server::transport::routes::Routes;

/// The flag of a compressed envelope, the same in gRPC and Connect.
const COMPRESSED: u8 = 0x01;
/// The flag of Connect's end-of-stream envelope.
const END_STREAM: u8 = 0x02;

/// A Connect request: unary (one bare message) or streaming (envelopes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shape {
    Unary,
    Stream,
}

/// The codec a Connect request names in its content-type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Codec {
    Proto,
    Json,
}

impl Shape {
    /// The shape and codec a content-type names; `None` when it is not Connect's.
    pub(super) fn of(content_type: &[u8]) -> Option<(Shape, Codec)> {
        let essence = content_type
            .split(|byte| *byte == b';')
            .next()
            .unwrap_or_default();
        match essence {
            b"application/proto" => Some((Shape::Unary, Codec::Proto)),
            b"application/json" => Some((Shape::Unary, Codec::Json)),
            b"application/connect+proto" => Some((Shape::Stream, Codec::Proto)),
            b"application/connect+json" => Some((Shape::Stream, Codec::Json)),
            _ => None,
        }
    }

    /// The headers naming the request's compression and the encodings the client accepts.
    fn encoding_headers(self) -> (HeaderName, HeaderName) {
        match self {
            Shape::Unary => (CONTENT_ENCODING, ACCEPT_ENCODING),
            Shape::Stream => (CONNECT_CONTENT_ENCODING, CONNECT_ACCEPT_ENCODING),
        }
    }

    fn content_type(self, messages: &Messages) -> HeaderValue {
        HeaderValue::from_static(match (self, messages) {
            (Shape::Unary, Messages::Proto) => "application/proto",
            (Shape::Unary, Messages::Json(_)) => "application/json",
            (Shape::Stream, Messages::Proto) => "application/connect+proto",
            (Shape::Stream, Messages::Json(_)) => "application/connect+json",
        })
    }
}

/// How a call's messages travel: protobuf passed through, or JSON transcoded.
enum Messages {
    Proto,
    Json(Transcoder),
}

/// Serves a Connect request as the gRPC call it stands for.
pub(super) fn serve(
    routes: &Routes,
    request: http::Request<tonic::body::Body>,
    shape: Shape,
    codec: Codec,
) -> ServerFuture {
    if request.method() != http::Method::POST {
        return refuse(
            &Status::unimplemented(format!(
                "Connect calls are POSTs here, not {}",
                request.method()
            )),
            Some(http::StatusCode::METHOD_NOT_ALLOWED),
        );
    }
    let (mut parts, body) = request.into_parts();
    let headers = &mut parts.headers;
    match CONNECT_TIMEOUT.read(headers) {
        Parsed::Absent => {}
        Parsed::Timeout(timeout) => GRPC_TIMEOUT.write(headers, timeout),
        Parsed::Malformed(problem) => return refuse(&Status::invalid_argument(problem), None),
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    let (encoding, accepted) = shape.encoding_headers();
    move_header(headers, &accepted, GRPC_ACCEPT_ENCODING);
    let (body, messages) = match codec {
        Codec::Proto => {
            let compressed = move_header(headers, &encoding, GRPC_ENCODING)
                .is_some_and(|value| value.as_bytes() != b"identity");
            let body = match shape {
                Shape::Unary => {
                    let length = headers
                        .remove(CONTENT_LENGTH)
                        .and_then(|value| value.to_str().ok()?.parse::<u32>().ok());
                    enveloped(body, compressed, length)
                }
                Shape::Stream => body,
            };
            (body, Messages::Proto)
        }
        Codec::Json => match json_request(routes, &mut parts, body, shape, &encoding) {
            Ok((body, transcoder)) => (body, Messages::Json(transcoder)),
            Err(refusal) => return refusal,
        },
    };
    let response = routes.call(http::Request::from_parts(parts, body));
    Box::pin(async move {
        let response = response.await?;
        Ok(match shape {
            Shape::Unary => unary_response(response, &messages).await,
            Shape::Stream => stream_response(response, messages),
        })
    })
}

/// A JSON request as the protobuf request the handler reads, and the transcoder for its
/// answer; or the refusal of a method without a schema or of an unknown compression.
fn json_request(
    routes: &Routes,
    parts: &mut http::request::Parts,
    body: tonic::body::Body,
    shape: Shape,
    encoding: &HeaderName,
) -> Result<(tonic::body::Body, Transcoder), ServerFuture> {
    let path = parts.uri.path();
    let transcoder = match routes.descriptors().method(path) {
        Ok(method) => Transcoder::new(&method),
        Err(Missing::Unknown) => return Err(refuse(&routes.unknown(path), None)),
        Err(missing) => {
            let status = Status::invalid_argument(missing.explain(path, "JSON"));
            return Err(refuse(
                &status,
                Some(http::StatusCode::UNSUPPORTED_MEDIA_TYPE),
            ));
        }
    };
    let headers = &mut parts.headers;
    let compression = json::encoding_named(headers.remove(encoding).as_ref())
        .map_err(|status| refuse(&status, None))?;
    if let Some(name) = compression.and_then(crate::compression::name) {
        headers.insert(GRPC_ENCODING, HeaderValue::from_static(name));
    }
    // The body is rewritten: its length changes.
    let length = headers.remove(CONTENT_LENGTH);
    let limit = routes.max_request_message_size();
    let body = match shape {
        Shape::Unary => {
            let length = length.and_then(|value| value.to_str().ok()?.parse().ok());
            json_unary_request(body, transcoder.clone(), compression, length, limit)
        }
        Shape::Stream => tonic::body::Body::new(Rewritten::new(
            body,
            limit,
            json_stream_request(transcoder.clone(), compression, limit),
        )),
    };
    Ok((body, transcoder))
}

/// A Connect error answered at once, before any call.
pub(super) fn refuse(status: &Status, http: Option<http::StatusCode>) -> ServerFuture {
    Box::pin(std::future::ready(Ok(error_response(status, http))))
}

/// Moves a header to another name; its value.
fn move_header(headers: &mut HeaderMap, from: &HeaderName, to: HeaderName) -> Option<HeaderValue> {
    let value = headers.remove(from)?;
    headers.insert(to, value.clone());
    Some(value)
}

/// A unary request's bare message as one gRPC envelope. With its length known from
/// `content-length`, the body streams through and the service's size limit applies from
/// the envelope, as for gRPC; without it, the body is read first, up to 4 MiB.
fn enveloped(body: tonic::body::Body, compressed: bool, length: Option<u32>) -> tonic::body::Body {
    let flag = if compressed { COMPRESSED } else { 0 };
    match length {
        Some(length) => tonic::body::Body::new(Prefixed {
            prefix: Some(envelope_prefix(flag, length)),
            inner: body,
        }),
        None => tonic::body::Body::new(http_body_util::StreamBody::new(
            futures_util::stream::once(async move {
                let whole = read_whole(body, UNSIZED_LIMIT, unsized_too_large).await?;
                Ok::<_, Status>(Frame::data(envelope(flag, &whole)))
            }),
        )),
    }
}

/// The most a unary request without `content-length` may send.
const UNSIZED_LIMIT: usize = 4 * 1024 * 1024;

fn unsized_too_large(limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "a Connect request without content-length may send at most {limit} bytes"
    ))
}

/// A JSON request body is bounded as a message is: by the server's
/// `max_request_message_size`, compressed and decompressed (as connect-go bounds it).
fn json_too_large(limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the JSON request exceeds the server's max_request_message_size of {limit} bytes"
    ))
}

/// A unary JSON request as the one protobuf envelope the handler reads: read whole (within
/// the limit), decompressed, transcoded. A failure is the call's status.
fn json_unary_request(
    body: tonic::body::Body,
    transcoder: Transcoder,
    compression: Option<Compression>,
    length: Option<usize>,
    limit: usize,
) -> tonic::body::Body {
    tonic::body::Body::new(http_body_util::StreamBody::new(futures_util::stream::once(
        async move {
            if length.is_some_and(|length| length > limit) {
                return Err(json_too_large(limit));
            }
            let whole = read_whole(body, limit, json_too_large).await?;
            let json = json::inflate(&whole, compression, limit)?;
            let proto = transcoder.request(&json)?;
            Ok::<_, Status>(Frame::data(for_handler(proto, compression)))
        },
    )))
}

/// A JSON request stream's envelopes as protobuf ones, decompressed as they go.
fn json_stream_request(
    transcoder: Transcoder,
    compression: Option<Compression>,
    limit: usize,
) -> Rewrite {
    Box::new(move |flag, payload| {
        let (json, compressed) = match (flag, compression) {
            (0, _) => (payload, None),
            (COMPRESSED, Some(_)) => (json::inflate(&payload, compression, limit)?, compression),
            (COMPRESSED, None) => {
                return Err(Status::internal(
                    "a compressed message, but connect-content-encoding names no encoding",
                ));
            }
            // Not a message: the call refuses it as it refuses any unknown flag.
            _ => return Ok(envelope(flag, &payload)),
        };
        Ok(for_handler(transcoder.request(&json)?, compressed))
    })
}

/// A transcoded request message as the handler's envelope, compressed again if it came
/// compressed, so the handler sees how it came (`Context::request_compressed`).
fn for_handler(proto: Vec<u8>, compressed: Option<Compression>) -> Bytes {
    match compressed {
        Some(encoding) => {
            let (compressed, bytes) = json::deflate(proto, encoding);
            envelope(if compressed { COMPRESSED } else { 0 }, &bytes)
        }
        None => envelope(0, &proto),
    }
}

/// A JSON response stream's envelopes from protobuf ones, compressed as they came.
fn json_stream_response(transcoder: Transcoder, compression: Option<Compression>) -> Rewrite {
    Box::new(move |flag, payload| {
        if flag & !COMPRESSED != 0 {
            return Ok(envelope(flag, &payload));
        }
        let (compressed, json) = json_answer(&transcoder, flag, compression, &payload)?;
        Ok(envelope(if compressed { COMPRESSED } else { 0 }, &json))
    })
}

/// One answer message as JSON, compressed again if it came compressed: whether it is, and
/// its bytes.
fn json_answer(
    transcoder: &Transcoder,
    flag: u8,
    compression: Option<Compression>,
    payload: &[u8],
) -> Result<(bool, Bytes), Status> {
    let compression = if flag & COMPRESSED != 0 {
        Some(compression.ok_or_else(|| {
            Status::internal("the handler compressed a message with no encoding named")
        })?)
    } else {
        None
    };
    let proto = json::inflate(payload, compression, usize::MAX)?;
    let json = transcoder.response(&proto)?;
    Ok(match compression {
        Some(encoding) => json::deflate(json, encoding),
        None => (false, Bytes::from(json)),
    })
}

/// A body with `prefix` sent before it.
struct Prefixed {
    prefix: Option<Bytes>,
    inner: tonic::body::Body,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }
}

/// The headers gRPC uses for itself, which a Connect response does not repeat as metadata.
fn is_grpc_protocol_header(name: &HeaderName) -> bool {
    name.as_str().starts_with("grpc-") || *name == CONTENT_TYPE
}

/// The Connect unary answer to a finished gRPC call.
async fn unary_response(
    response: http::Response<tonic::body::Body>,
    messages: &Messages,
) -> http::Response<tonic::body::Body> {
    let (parts, body) = response.into_parts();
    let collected = match body.collect().await {
        Ok(collected) => collected,
        Err(status) => return error_response(&status, None),
    };
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let data = collected.to_bytes();
    // A call that ended before any message has its status in the headers.
    let status = Status::from_header_map(&trailers)
        .or_else(|| Status::from_header_map(&parts.headers))
        .unwrap_or_else(|| Status::internal("the call ended without a status"));
    let mut metadata = HeaderMap::new();
    for (name, value) in &parts.headers {
        if !is_grpc_protocol_header(name) {
            metadata.append(name.clone(), value.clone());
        }
    }
    for (name, value) in &trailers {
        if !is_grpc_protocol_header(name)
            && let Ok(prefixed) = HeaderName::try_from(format!("trailer-{name}"))
        {
            metadata.append(prefixed, value.clone());
        }
    }
    if status.code() != tonic::Code::Ok {
        let mut response = error_response(&status, None);
        response.headers_mut().extend(metadata);
        return response;
    }
    if data.len() < 5 {
        return error_response(
            &Status::internal("the call succeeded without a response message"),
            None,
        );
    }
    let encoding = parts.headers.get(GRPC_ENCODING);
    let (compressed, message) = match messages {
        Messages::Proto => (data[0] & COMPRESSED != 0, data.slice(5..)),
        Messages::Json(transcoder) => {
            let compression = json::encoding_named(encoding).ok().flatten();
            match json_answer(transcoder, data[0], compression, &data[5..]) {
                Ok(answer) => answer,
                Err(status) => return error_response(&status, None),
            }
        }
    };
    let mut response = http::Response::new(whole_body(message));
    *response.headers_mut() = metadata;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, Shape::Unary.content_type(messages));
    if compressed && let Some(encoding) = encoding {
        headers.insert(CONTENT_ENCODING, encoding.clone());
    }
    if let Some(accepted) = parts.headers.get(GRPC_ACCEPT_ENCODING) {
        headers.insert(ACCEPT_ENCODING, accepted.clone());
    }
    response
}

/// A Connect unary error: its HTTP status (or `http`), and the JSON error body.
pub(super) fn error_response(
    status: &Status,
    http: Option<http::StatusCode>,
) -> http::Response<tonic::body::Body> {
    let body = Bytes::from(connect_error_json(status).to_string());
    let mut response = http::Response::new(whole_body(body));
    *response.status_mut() = http.unwrap_or_else(|| connect_http_status(status.code()));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A response body of `bytes`, all at once.
pub(super) fn whole_body(bytes: Bytes) -> tonic::body::Body {
    tonic::body::Body::new(http_body_util::Full::new(bytes).map_err(|never| match never {}))
}

/// The Connect streaming answer: the gRPC envelopes, then the end-of-stream envelope.
fn stream_response(
    response: http::Response<tonic::body::Body>,
    messages: Messages,
) -> http::Response<tonic::body::Body> {
    let (mut parts, body) = response.into_parts();
    // A call that ended before any message has its status in the headers: it moves to the
    // end-of-stream message.
    let early = Status::from_header_map(&parts.headers).map(|status| {
        let trailers = std::mem::take(&mut parts.headers);
        for (name, value) in &trailers {
            if !name.as_str().starts_with("grpc-") {
                parts.headers.append(name.clone(), value.clone());
            }
        }
        (status, trailers)
    });
    parts.status = http::StatusCode::OK;
    let mut compression = None;
    if let Some(encoding) = parts.headers.remove(GRPC_ENCODING) {
        compression = json::encoding_named(Some(&encoding)).ok().flatten();
        parts.headers.insert(CONNECT_CONTENT_ENCODING, encoding);
    }
    if let Some(accepted) = parts.headers.remove(GRPC_ACCEPT_ENCODING) {
        parts.headers.insert(CONNECT_ACCEPT_ENCODING, accepted);
    }
    parts
        .headers
        .insert(CONTENT_TYPE, Shape::Stream.content_type(&messages));
    let body = match messages {
        Messages::Proto => body,
        Messages::Json(transcoder) => tonic::body::Body::new(Rewritten::new(
            body,
            usize::MAX,
            json_stream_response(transcoder, compression),
        )),
    };
    let body = match early {
        Some((status, trailers)) => StreamBody {
            inner: None,
            end: Some(end_of_stream(&status, &trailers)),
        },
        None => StreamBody {
            inner: Some(body),
            end: None,
        },
    };
    http::Response::from_parts(parts, tonic::body::Body::new(body))
}

/// A gRPC response body as Connect's: the trailers become the end-of-stream envelope.
struct StreamBody {
    inner: Option<tonic::body::Body>,
    /// The end-of-stream envelope, once known.
    end: Option<Bytes>,
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let Some(inner) = &mut self.inner else {
            return Poll::Ready(self.end.take().map(|end| Ok(Frame::data(end))));
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                Err(frame) => {
                    let trailers = frame.into_trailers().unwrap_or_default();
                    let status = Status::from_header_map(&trailers)
                        .unwrap_or_else(|| Status::internal("the call ended without a status"));
                    self.inner = None;
                    Poll::Ready(Some(Ok(Frame::data(end_of_stream(&status, &trailers)))))
                }
            },
            Poll::Ready(Some(Err(status))) => {
                self.inner = None;
                Poll::Ready(Some(Ok(Frame::data(end_of_stream(
                    &status,
                    &HeaderMap::new(),
                )))))
            }
            Poll::Ready(None) => {
                self.inner = None;
                let status = Status::internal("the call ended without a status");
                Poll::Ready(Some(Ok(Frame::data(end_of_stream(
                    &status,
                    &HeaderMap::new(),
                )))))
            }
        }
    }
}

/// Connect's end-of-stream envelope: the error unless OK, and the trailers as metadata.
fn end_of_stream(status: &Status, trailers: &HeaderMap) -> Bytes {
    let mut metadata = serde_json::Map::new();
    for name in trailers.keys() {
        if is_grpc_protocol_header(name) {
            continue;
        }
        let values: Vec<serde_json::Value> = trailers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(|value| value.into())
            .collect();
        metadata.insert(name.as_str().to_owned(), values.into());
    }
    let mut end = serde_json::Map::new();
    if status.code() != tonic::Code::Ok {
        end.insert("error".into(), connect_error_json(status));
    }
    if !metadata.is_empty() {
        end.insert("metadata".into(), metadata.into());
    }
    let json = serde_json::Value::Object(end).to_string();
    envelope(END_STREAM, json.as_bytes())
}
