//! Connect's GET (connectrpc.com/docs/protocol, "Unary-Get-Request"): a unary call to a
//! method declared `idempotency_level = NO_SIDE_EFFECTS`, its message in the query, so that
//! browsers and caches can treat it as any other GET. It is served as the POST it stands
//! for; the method's declaration is read from the descriptors the service embeds.
//!
//! The query: `message` (required), `encoding` (`proto` or `json`, required), `base64=1`
//! (`message` is URL-safe base64, padded or not), `compression` (of the message, as
//! `content-encoding` would say), `connect=v1` (optional). Metadata and
//! `connect-timeout-ms` travel in headers, as with POST.

use base64::Engine as _;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

use super::connect::{self, Codec, Shape};
use super::descriptors::{Missing, has_no_side_effects};
use crate::Status;
use crate::server::dispatch::ServerFuture;
use crate::server::transport::routes::Routes;

/// URL-safe base64, with or without padding, as connect-go reads it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Serves a Connect GET as the unary POST it stands for.
pub(super) fn serve(routes: &Routes, request: http::Request<tonic::body::Body>) -> ServerFuture {
    let path = request.uri().path();
    match routes.descriptors().method(path) {
        Ok(method)
            if !method.is_client_streaming()
                && !method.is_server_streaming()
                && has_no_side_effects(&method) => {}
        // connect-go's answer: 405, and the method that is allowed.
        Ok(method) => {
            return not_allowed(format!(
                "GET is only for unary methods declared idempotency_level = NO_SIDE_EFFECTS, \
                 and {} is not; use POST",
                method.full_name()
            ));
        }
        Err(Missing::Unknown) => return connect::refuse(&routes.unknown(path), None),
        Err(missing) => return not_allowed(missing.explain(path, "GET")),
    }
    let has_body = request
        .headers()
        .get(CONTENT_LENGTH)
        .is_some_and(|length| length.as_bytes() != b"0");
    if has_body {
        return connect::refuse(
            &Status::invalid_argument("a Connect GET has no body: its message is in the query"),
            Some(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        );
    }
    let query = match Query::parse(request.uri().query().unwrap_or_default()) {
        Ok(query) => query,
        Err(status) => return connect::refuse(&status, None),
    };
    let (mut parts, _) = request.into_parts();
    parts.method = http::Method::POST;
    let headers = &mut parts.headers;
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(match query.codec {
            Codec::Proto => "application/proto",
            Codec::Json => "application/json",
        }),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(query.message.len()));
    match query.compression {
        Some(compression) => headers.insert(CONTENT_ENCODING, compression),
        None => headers.remove(CONTENT_ENCODING),
    };
    let body = connect::whole_body(Bytes::from(query.message));
    connect::serve(
        routes,
        http::Request::from_parts(parts, body),
        Shape::Unary,
        query.codec,
    )
}

/// 405 with `Allow: POST`, as connect-go answers a GET it does not allow; the JSON error
/// says why.
fn not_allowed(why: String) -> ServerFuture {
    let mut response = connect::error_response(
        &Status::unimplemented(why),
        Some(StatusCode::METHOD_NOT_ALLOWED),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("POST"));
    Box::pin(std::future::ready(Ok(response)))
}

/// What a GET's query says.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    message: Vec<u8>,
    codec: Codec,
    compression: Option<HeaderValue>,
}

impl Query {
    /// Reads the query; INVALID_ARGUMENT naming the parameter that is missing or wrong.
    /// Parameters Connect does not define are ignored (a cache buster, say).
    fn parse(query: &str) -> Result<Self, Status> {
        let (mut message, mut encoding, mut base64, mut compression, mut connect) =
            (None, None, false, None, None);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match decode(key).as_slice() {
                b"message" => message = Some(value),
                b"encoding" => encoding = Some(value),
                b"base64" => base64 = value == b"1",
                b"compression" => compression = Some(value),
                b"connect" => connect = Some(value),
                _ => {}
            }
        }
        if let Some(version) = connect.filter(|version| version != b"v1") {
            return Err(Status::invalid_argument(format!(
                "the connect parameter must be \"v1\", not {:?}",
                String::from_utf8_lossy(&version)
            )));
        }
        let codec = match encoding.as_deref() {
            Some(b"proto") => Codec::Proto,
            Some(b"json") => Codec::Json,
            Some(other) => {
                return Err(Status::invalid_argument(format!(
                    "the encoding parameter must be \"proto\" or \"json\", not {:?}",
                    String::from_utf8_lossy(other)
                )));
            }
            None => {
                return Err(Status::invalid_argument(
                    "the encoding parameter is missing (\"proto\" or \"json\")",
                ));
            }
        };
        let Some(message) = message else {
            return Err(Status::invalid_argument("the message parameter is missing"));
        };
        let message = if base64 {
            BASE64.decode(&message).map_err(|err| {
                Status::invalid_argument(format!(
                    "the message parameter is not URL-safe base64 (base64=1): {err}"
                ))
            })?
        } else {
            message
        };
        let compression = match compression {
            None => None,
            Some(name) if name == b"identity" => None,
            Some(name) => Some(HeaderValue::from_bytes(&name).map_err(|_| {
                Status::invalid_argument(format!(
                    "the compression parameter {:?} is not a compression's name",
                    String::from_utf8_lossy(&name)
                ))
            })?),
        };
        Ok(Self {
            message,
            codec,
            compression,
        })
    }
}

/// A query component as bytes: `+` is a space, `%XX` a byte.
fn decode(component: &str) -> Vec<u8> {
    let spaced = component.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_decoded_to_bytes_and_checked() {
        let query =
            Query::parse("connect=v1&encoding=json&message=%7B%22a%22%3A+1%7D&x=y").unwrap();
        assert_eq!(query.codec, Codec::Json);
        assert_eq!(query.message, br#"{"a": 1}"#);
        assert_eq!(query.compression, None);

        // Unpadded and padded URL-safe base64 of the bytes fb ff.
        for encoded in ["-_8", "-_8="] {
            let query = Query::parse(&format!(
                "encoding=proto&base64=1&message={encoded}&compression=gzip"
            ))
            .unwrap();
            assert_eq!(query.message, [0xfb, 0xff]);
            assert_eq!(query.compression, Some(HeaderValue::from_static("gzip")));
        }
        // A binary message percent-encoded, not base64.
        let query = Query::parse("encoding=proto&message=%0A%02hi%FF").unwrap();
        assert_eq!(query.message, b"\n\x02hi\xff");
    }

    #[test]
    fn a_bad_query_names_its_parameter() {
        let message = |query: &str| Query::parse(query).unwrap_err().message().to_owned();
        assert_eq!(
            message("message=e30"),
            "the encoding parameter is missing (\"proto\" or \"json\")"
        );
        assert_eq!(message("encoding=json"), "the message parameter is missing");
        assert_eq!(
            message("encoding=xml&message=x"),
            "the encoding parameter must be \"proto\" or \"json\", not \"xml\""
        );
        assert_eq!(
            message("connect=v2&encoding=json&message=e30"),
            "the connect parameter must be \"v1\", not \"v2\""
        );
        assert!(
            message("encoding=json&base64=1&message=e30*")
                .starts_with("the message parameter is not URL-safe base64 (base64=1): ")
        );
    }
}
