//! Status classification: which status a call ends with, for both sides and every wire
//! protocol. Each rule is a function here, so a call ends the same way whoever noticed:
//!
//! * a failed connection is `UNAVAILABLE` ([`connection_failure_as_unavailable`]);
//! * a message over a size limit is `RESOURCE_EXHAUSTED`, naming the setting (the `*_large`
//!   functions);
//! * once the deadline passed, the caller sees `DEADLINE_EXCEEDED`, even where a peer said
//!   `CANCELLED` ([`after_deadline`]);
//! * a call the caller cancelled, or that is over, is `CANCELLED`.
//!
//! [`seen_by_client`] applies the client's rules in order; a new rule goes there (and as a
//! function here) so that every call shape picks it up. How a status goes on the wire is
//! per protocol: [`write_grpc`] for gRPC's trailers, [`connect_http_status`] and
//! [`connect_error_json`] for Connect's HTTP status and error body.
//!
//! tonic turns transport errors into statuses by guessing: a server that crashed under a
//! call gives `UNKNOWN` ("transport error"), a call refused because the server was shutting
//! down gives `CANCELLED` ("operation was canceled"), although nobody cancelled it. gRPC
//! says both are `UNAVAILABLE` (doc/statuscodes.md: the connection broke, or the server is
//! going away), the code clients retry on. The error behind the status tells which it was.

use std::borrow::Cow;
use std::error::Error;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;
use tonic::{Code, Status};

use super::deadline::Deadline;

/// A call failed with `status` on the client: the status its caller sees.
///
/// A response message over the limit is `RESOURCE_EXHAUSTED`, a failed connection
/// `UNAVAILABLE`, and anything `CANCELLED` after the deadline `DEADLINE_EXCEEDED`.
pub(crate) fn seen_by_client(
    status: Status,
    max_response: usize,
    deadline: Option<&Deadline>,
) -> Status {
    let status = response_too_large(status, max_response);
    let status = connection_failure_as_unavailable(status);
    match deadline {
        Some(deadline) => after_deadline(status, deadline),
        None => status,
    }
}

// ---- deadline and cancellation ----

/// The status of a client call still running when its `timeout` passed.
pub(crate) fn deadline_exceeded(timeout: Duration) -> Status {
    Status::deadline_exceeded(format!("deadline of {timeout:?} exceeded"))
}

/// The status of a bidi call over HTTP/1.1, where no answer can start before the request
/// ended.
pub(crate) fn bidi_needs_http2(method: &str) -> Status {
    Status::unimplemented(format!(
        "{method} is a bidi stream, which needs HTTP/2; this request came over HTTP/1.1"
    ))
}

/// The status of a call to a service the server does not have.
pub(crate) fn unknown_service(service: &str) -> Status {
    Status::unimplemented(format!("unknown service {service}"))
}

/// The status of a call to a method its service does not have.
pub(crate) fn unknown_method(path: &str) -> Status {
    Status::unimplemented(format!("unknown method {path}"))
}

/// The status of a bidi call a client refuses to send over HTTP/1.1.
pub(crate) fn bidi_over_http1(method: &str) -> Status {
    Status::unimplemented(format!(
        "{method} is a bidi stream, which needs HTTP/2; this channel speaks HTTP/1.1"
    ))
}

/// The status of a served call whose client's deadline passed before it completed.
pub(crate) fn deadline_passed(method: &str) -> Status {
    Status::deadline_exceeded(format!(
        "{method}: the deadline passed before the call completed"
    ))
}

/// `status` as the caller should see it once `deadline` may have passed.
///
/// A server whose own view of the deadline expired first may answer `CANCELLED` (tonic's
/// server does, "Timeout expired"); once our deadline has passed, the caller must see
/// `DEADLINE_EXCEEDED` regardless, as grpc-java's client also ensures.
pub(crate) fn after_deadline(status: Status, deadline: &Deadline) -> Status {
    if status.code() == Code::Cancelled && Instant::now() >= deadline.at {
        deadline.exceeded()
    } else {
        status
    }
}

/// The status of a call its caller cancelled (through a token, or by dropping it).
pub(crate) fn cancelled_by_caller() -> Status {
    Status::cancelled("the call was cancelled by the caller")
}

/// The status a handler's request stream breaks with when the client reset the call.
pub(crate) fn cancelled_by_client() -> Status {
    Status::cancelled("the client cancelled the call")
}

/// The status for an attempt to answer a served call that is already over.
pub(crate) fn call_ended(method: &str) -> Status {
    Status::cancelled(format!("{method}: the call has already ended"))
}

/// How a served call that was cut short ended, for its log: the deadline passed (a layer in
/// front of us may have enforced it, as tonic's server does until the response headers), or
/// else the client cancelled or went away.
pub(crate) fn cut_short(deadline: Option<std::time::Instant>) -> (Code, &'static str) {
    if deadline.is_some_and(|deadline| deadline <= std::time::Instant::now()) {
        (Code::DeadlineExceeded, "the deadline passed")
    } else {
        (
            Code::Cancelled,
            "the client cancelled the call or went away",
        )
    }
}

// ---- message sizes ----

/// The status of a response message the server refuses to send: it is over the server's
/// `max_response_message_size`.
pub(crate) fn response_too_large_to_send(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the response message of {len} bytes exceeds the server's max_response_message_size \
         of {limit} bytes"
    ))
}

/// The status of a request message the client refuses to send: it is over the client's
/// `max_request_message_size`.
pub(crate) fn request_too_large_to_send(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the request message of {len} bytes exceeds the client's max_request_message_size \
         of {limit} bytes"
    ))
}

/// The status of a request message the server refuses from its length prefix: it is over
/// the server's `max_request_message_size`.
pub(crate) fn request_too_large(len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the request message of {len} bytes exceeds the server's max_request_message_size of \
         {limit} bytes"
    ))
}

/// The status of a compressed request message that inflates past the server's
/// `max_request_message_size`.
pub(crate) fn request_too_large_inflated(compressed_len: usize, limit: usize) -> Status {
    Status::resource_exhausted(format!(
        "the request message exceeds the server's max_request_message_size of {limit} bytes \
         once decompressed ({compressed_len} bytes compressed)"
    ))
}

/// The status of a message no gRPC frame can carry (over 4 GiB).
pub(crate) fn too_large_for_a_frame(len: usize) -> Status {
    Status::resource_exhausted(format!(
        "message of {len} bytes exceeds the gRPC frame limit of 4 GiB"
    ))
}

/// tonic's decoder refuses a response message over the client's limit before buffering it,
/// with `OUT_OF_RANGE`; the gRPC spec (and every other implementation) says
/// `RESOURCE_EXHAUSTED`. This turns tonic's refusal into that, naming the setting, and
/// passes every other status through unchanged — including an `OUT_OF_RANGE` a peer sent.
/// (The server reads requests with its own decoder, which says so itself.)
pub(crate) fn response_too_large(status: Status, limit: usize) -> Status {
    // tonic's own words (tonic 0.14, codec/decode.rs); hostile.rs pins them.
    const TONIC_REFUSAL: &str = "Error, decoded message length too large";
    if status.code() != Code::OutOfRange || !status.message().starts_with(TONIC_REFUSAL) {
        return status;
    }
    Status::resource_exhausted(format!(
        "the response message exceeds the client's max_response_message_size of {limit} bytes \
         ({})",
        status.message()
    ))
}

// ---- connection failures ----

/// Whether `error`, or an error it was caused by, says the connection failed: it could not
/// be made, it broke, or it closed before the call was sent.
pub(crate) fn is_connection_failure(error: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<io::Error>() {
            return true;
        }
        if let Some(error) = error.downcast_ref::<hyper::Error>()
            && (error.is_canceled() || error.is_closed())
        {
            return true;
        }
        if let Some(error) = error.downcast_ref::<h2::Error>()
            && (error.is_io() || error.is_go_away())
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// `status` as the caller should see it: `UNAVAILABLE` when the connection failed under
/// the call, whatever tonic guessed; otherwise unchanged. Statuses sent by the server carry
/// no transport error, so they are never changed.
pub(crate) fn connection_failure_as_unavailable(status: Status) -> Status {
    if status.code() == Code::Unavailable {
        return status;
    }
    let failed = (&status as &(dyn Error + 'static))
        .source()
        .is_some_and(is_connection_failure);
    if !failed {
        return status;
    }
    let mut unavailable = Status::unavailable(format!(
        "the connection failed: {}",
        with_causes(status.message(), &status)
    ));
    // Keep tonic's status, and the transport error under it, for whoever digs.
    unavailable.set_source(Arc::new(status));
    unavailable
}

/// `message` followed by each distinct cause under `error` ("transport error: tls handshake
/// eof: received fatal alert: UnknownCA"), so the reason a connection failed (refused, reset,
/// a TLS alert) reaches the caller's message and not only the source chain.
fn with_causes(message: &str, error: &(dyn Error + 'static)) -> String {
    let mut text = message.to_owned();
    let mut cause = error.source();
    while let Some(error) = cause {
        let part = error.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = error.source();
    }
    text
}

// ---- on the wire ----

/// Writes status OK into a gRPC header block: `grpc-status: 0` and nothing else, from a
/// constant (going through `Status::add_header` for the commonest status cost a unary call
/// about 1.5% of the server's instructions).
pub(crate) fn write_grpc_ok(headers: &mut HeaderMap) {
    headers.insert(GRPC_STATUS, HeaderValue::from_static("0"));
}

/// The header naming a call's status code.
pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// A gRPC header block's status code: `None` without `grpc-status`, `UNKNOWN` if its value
/// is unreadable.
pub(crate) fn code_in(headers: &HeaderMap) -> Option<Code> {
    let code = headers.get(GRPC_STATUS)?;
    Some(
        std::str::from_utf8(code.as_bytes())
            .ok()
            .and_then(|text| text.parse::<i32>().ok())
            .map_or(Code::Unknown, Code::from_i32),
    )
}

/// The status code the caller will see for a failed exchange (as tonic and the call
/// layer map it): a failed connection is `UNAVAILABLE`, an HTTP/2 reset by its reason.
pub(crate) fn code_of_failed_exchange(error: &(dyn Error + 'static)) -> Code {
    if is_connection_failure(error) {
        return Code::Unavailable;
    }
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(status) = error.downcast_ref::<Status>() {
            return status.code();
        }
        if let Some(error) = error.downcast_ref::<h2::Error>() {
            return match error.reason() {
                Some(h2::Reason::REFUSED_STREAM) => Code::Unavailable,
                Some(h2::Reason::CANCEL) => Code::Cancelled,
                Some(h2::Reason::ENHANCE_YOUR_CALM) => Code::ResourceExhausted,
                Some(h2::Reason::INADEQUATE_SECURITY) => Code::PermissionDenied,
                _ => Code::Internal,
            };
        }
        cause = error.source();
    }
    Code::Unknown
}

/// The header carrying a call's status message, percent-encoded.
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");

/// The status a gRPC header block ends a call with, read in place (`Status::from_header_map`
/// copies the block's metadata too): its code, `UNKNOWN` if unreadable, and its message,
/// percent-decoded; `None` without `grpc-status`.
pub(crate) fn read_grpc(headers: &HeaderMap) -> Option<(Code, Cow<'_, str>)> {
    let code = code_in(headers)?;
    let message = headers
        .get(GRPC_MESSAGE)
        .map_or(Cow::Borrowed(""), |message| {
            percent_encoding::percent_decode(message.as_bytes()).decode_utf8_lossy()
        });
    Some((code, message))
}

/// Writes `status` into a gRPC header block (`grpc-status`, `grpc-message`, details and
/// metadata); a status that cannot be written (its metadata is not valid header data) is
/// replaced by one that can, saying so.
pub(crate) fn write_grpc(status: &Status, headers: &mut HeaderMap) {
    if let Err(unwritable) = status.add_header(headers) {
        let fallback = Status::internal(format!(
            "the handler's status could not be encoded: {}",
            unwritable.message()
        ));
        // A plain INTERNAL with an ASCII message always encodes.
        let _ = fallback.add_header(headers);
    }
}

/// The status codes by their canonical names (`DEADLINE_EXCEEDED`), as service configs and
/// metrics spell them, in the order of their numbers.
pub(crate) const CANONICAL_NAMES: [(&str, Code); 17] = [
    ("OK", Code::Ok),
    ("CANCELLED", Code::Cancelled),
    ("UNKNOWN", Code::Unknown),
    ("INVALID_ARGUMENT", Code::InvalidArgument),
    ("DEADLINE_EXCEEDED", Code::DeadlineExceeded),
    ("NOT_FOUND", Code::NotFound),
    ("ALREADY_EXISTS", Code::AlreadyExists),
    ("PERMISSION_DENIED", Code::PermissionDenied),
    ("RESOURCE_EXHAUSTED", Code::ResourceExhausted),
    ("FAILED_PRECONDITION", Code::FailedPrecondition),
    ("ABORTED", Code::Aborted),
    ("OUT_OF_RANGE", Code::OutOfRange),
    ("UNIMPLEMENTED", Code::Unimplemented),
    ("INTERNAL", Code::Internal),
    ("UNAVAILABLE", Code::Unavailable),
    ("DATA_LOSS", Code::DataLoss),
    ("UNAUTHENTICATED", Code::Unauthenticated),
];

/// A status code's canonical name (`DEADLINE_EXCEEDED`).
#[cfg(feature = "otel")]
pub(crate) fn canonical_name(code: Code) -> &'static str {
    usize::try_from(i32::from(code))
        .ok()
        .and_then(|number| CANONICAL_NAMES.get(number))
        .map_or("UNKNOWN", |(name, _)| name)
}

/// Connect's name for a status code (`not_found`), as its error bodies spell it.
pub(crate) fn connect_code(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "canceled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The HTTP status of a Connect unary error with `code`, as the Connect protocol maps them.
pub(crate) fn connect_http_status(code: Code) -> http::StatusCode {
    use http::StatusCode as Http;
    match code {
        Code::Ok => Http::OK,
        Code::Cancelled => Http::from_u16(499).unwrap_or(Http::BAD_REQUEST),
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => Http::BAD_REQUEST,
        Code::DeadlineExceeded => Http::GATEWAY_TIMEOUT,
        Code::NotFound => Http::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => Http::CONFLICT,
        Code::PermissionDenied => Http::FORBIDDEN,
        Code::ResourceExhausted => Http::TOO_MANY_REQUESTS,
        Code::Unimplemented => Http::NOT_IMPLEMENTED,
        Code::Unavailable => Http::SERVICE_UNAVAILABLE,
        Code::Unauthenticated => Http::UNAUTHORIZED,
        Code::Unknown | Code::Internal | Code::DataLoss => Http::INTERNAL_SERVER_ERROR,
    }
}

/// The code a Connect error names (`not_found`); UNKNOWN for a name Connect does not have.
pub(crate) fn code_of_connect_name(name: &str) -> Code {
    const CODES: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];
    CODES
        .into_iter()
        .find(|code| connect_code(*code) == name)
        .unwrap_or(Code::Unknown)
}

/// The code of an answer that failed with HTTP `status` and no status of its own, as gRPC
/// and Connect both map them (not the reverse of [`connect_http_status`]: a proxy's 502 is
/// UNAVAILABLE, a 400 is INTERNAL).
pub(crate) fn code_of_http_status(status: http::StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// `google.rpc.Status`, as `grpc-status-details-bin` carries it.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<prost_types::Any>,
}

/// The status a Connect JSON error stands for: its code, message and details (which
/// become `grpc-status-details-bin`, as gRPC carries them). Details whose value is not
/// base64 are left out.
pub(crate) fn status_of_connect_error(error: &serde_json::Value) -> Status {
    use base64::Engine as _;
    let code = code_of_connect_name(
        error
            .get("code")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default(),
    );
    let message = error
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let details: Vec<prost_types::Any> = error
        .get("details")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|detail| {
            let kind = detail.get("type")?.as_str()?;
            let value = detail.get("value")?.as_str()?;
            let value = base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(value.trim_end_matches('='))
                .ok()?;
            Some(prost_types::Any {
                type_url: format!("type.googleapis.com/{kind}"),
                value,
            })
        })
        .collect();
    if details.is_empty() {
        return Status::new(code, message);
    }
    let encoded = prost::Message::encode_to_vec(&RpcStatus {
        code: code as i32,
        message: message.clone(),
        details,
    });
    Status::with_details(code, message, encoded.into())
}

/// A status as Connect's JSON error: `code`, `message`, and the details from
/// `grpc-status-details-bin` (type without its URL prefix, value base64 without padding).
pub(crate) fn connect_error_json(status: &Status) -> serde_json::Value {
    use base64::Engine as _;
    let mut error = serde_json::Map::new();
    error.insert("code".into(), connect_code(status.code()).into());
    if !status.message().is_empty() {
        error.insert("message".into(), status.message().into());
    }
    let details = <RpcStatus as prost::Message>::decode(status.details())
        .map(|decoded| decoded.details)
        .unwrap_or_default();
    if !details.is_empty() {
        let details: Vec<serde_json::Value> = details
            .iter()
            .map(|any| {
                let kind = any.type_url.rsplit('/').next().unwrap_or_default();
                serde_json::json!({
                    "type": kind,
                    "value": base64::engine::general_purpose::STANDARD_NO_PAD.encode(&any.value),
                })
            })
            .collect();
        error.insert("details".into(), details.into());
    }
    serde_json::Value::Object(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_are_in_the_order_of_the_codes() {
        for (number, (name, code)) in CANONICAL_NAMES.iter().enumerate() {
            assert_eq!(usize::try_from(i32::from(*code)), Ok(number), "{name}");
        }
    }

    #[test]
    fn connect_errors_name_the_code_and_map_to_http() {
        let status = Status::not_found("no such thing");
        assert_eq!(
            connect_error_json(&status),
            serde_json::json!({"code": "not_found", "message": "no such thing"})
        );
        assert_eq!(
            connect_http_status(Code::NotFound),
            http::StatusCode::NOT_FOUND
        );
        assert_eq!(connect_http_status(Code::Cancelled).as_u16(), 499);
        assert_eq!(connect_http_status(Code::ResourceExhausted).as_u16(), 429);
        let details = RpcStatus {
            code: Code::Unavailable as i32,
            message: "later".into(),
            details: vec![prost_types::Any {
                type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
                value: vec![1, 2, 3],
            }],
        };
        let status = Status::with_details(
            Code::Unavailable,
            "later",
            prost::Message::encode_to_vec(&details).into(),
        );
        assert_eq!(
            connect_error_json(&status)["details"],
            serde_json::json!([{"type": "google.rpc.RetryInfo", "value": "AQID"}])
        );
        // And back: the client reads the same status from the JSON.
        let back = status_of_connect_error(&connect_error_json(&status));
        assert_eq!(back.code(), Code::Unavailable);
        assert_eq!(back.message(), "later");
        assert_eq!(back.details(), status.details());
        assert_eq!(
            code_of_connect_name("deadline_exceeded"),
            Code::DeadlineExceeded
        );
        assert_eq!(code_of_connect_name("no_such_code"), Code::Unknown);
        assert_eq!(
            code_of_http_status(http::StatusCode::BAD_GATEWAY),
            Code::Unavailable
        );
    }

    #[test]
    fn ok_is_written_as_tonic_writes_it() {
        let mut ours = HeaderMap::new();
        write_grpc_ok(&mut ours);
        let mut tonics = HeaderMap::new();
        write_grpc(&Status::ok(""), &mut tonics);
        assert_eq!(ours, tonics);
    }

    #[test]
    fn an_io_error_under_a_status_is_unavailable() {
        let status = Status::from_error(Box::new(io::Error::from(io::ErrorKind::BrokenPipe)));
        assert_eq!(status.code(), Code::Unknown);
        let status = connection_failure_as_unavailable(status);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.message().starts_with("the connection failed"));
        assert!(
            status.message().contains("broken pipe"),
            "the cause is in the message: {}",
            status.message()
        );
    }

    #[test]
    fn a_status_from_the_server_is_kept() {
        for status in [Status::cancelled("by the server"), Status::unknown("app")] {
            let code = status.code();
            assert_eq!(connection_failure_as_unavailable(status).code(), code);
        }
    }

    #[test]
    fn a_stream_reset_is_not_a_connection_failure_a_broken_socket_is() {
        let reset = h2::Error::from(h2::Reason::CANCEL);
        assert!(!is_connection_failure(&reset));
        let io = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(is_connection_failure(&io));
    }

    #[test]
    fn only_tonics_refusal_becomes_resource_exhausted() {
        let refusal = Status::out_of_range(
            "Error, decoded message length too large: found 9 bytes, the limit is: 8 bytes",
        );
        let status = response_too_large(refusal, 8);
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(
            status
                .message()
                .contains("max_response_message_size of 8 bytes")
        );

        let from_peer = Status::out_of_range("page 3 of 2");
        let status = response_too_large(from_peer, 8);
        assert_eq!(status.code(), Code::OutOfRange);
    }

    #[test]
    fn cancelled_after_the_deadline_is_deadline_exceeded() {
        let passed = Deadline {
            at: Instant::now(),
            timeout: Duration::from_millis(5),
        };
        let status = after_deadline(Status::cancelled("Timeout expired"), &passed);
        assert_eq!(status.code(), Code::DeadlineExceeded);
        let status = seen_by_client(Status::cancelled("x"), usize::MAX, Some(&passed));
        assert_eq!(status.code(), Code::DeadlineExceeded);

        let ahead = Deadline {
            at: Instant::now() + Duration::from_secs(3600),
            timeout: Duration::from_secs(3600),
        };
        let status = after_deadline(Status::cancelled("by the server"), &ahead);
        assert_eq!(status.code(), Code::Cancelled);
        let status = after_deadline(Status::unknown("app"), &passed);
        assert_eq!(status.code(), Code::Unknown);
    }
}
