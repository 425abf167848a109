//! How one attempt ended, as the retry engine needs to know it: committed (response
//! headers that are not Trailers-Only), or failed with a status, maybe before the server
//! application saw it, maybe with the server's pushback.

use std::error::Error;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use tonic::Code;
use tonic::body::Body;

use crate::call::status;

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(super) type Answer = Result<http::Response<Body>, BoxError>;

/// What the server asked through `grpc-retry-pushback-ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pushback {
    /// Nothing: the policy's own backoff applies.
    None,
    /// Retry after exactly this long.
    After(Duration),
    /// Do not retry (a negative or unreadable value).
    Stop,
}

/// How far a failed attempt got: whether it may be retried transparently, with no policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reach {
    /// No connection could be made for it.
    NoConnection,
    /// It never left the client: the connection closed before the request was written.
    NotSent,
    /// The server's HTTP/2 layer refused it (REFUSED_STREAM, or a GOAWAY whose last
    /// stream is below it): the server application never saw it.
    NotProcessed,
    /// The server may have processed it.
    Server,
}

/// An attempt that ended without committing the call.
pub(super) struct Failure {
    pub(super) code: Code,
    pub(super) pushback: Pushback,
    pub(super) reach: Reach,
    /// What the caller gets if this attempt is the last.
    pub(super) answer: Answer,
}

pub(super) enum Outcome {
    /// The call commits to this attempt: its response goes to the caller.
    Committed(http::Response<Body>),
    Failed(Failure),
}

const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// Classifies what one attempt's exchange gave.
pub(super) fn classify(answer: Answer) -> Outcome {
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            return Outcome::Failed(Failure {
                code: status::code_of_failed_exchange(error.as_ref()),
                pushback: Pushback::None,
                reach: reach_of(error.as_ref()),
                answer: Err(error),
            });
        }
    };
    let headers = response.headers();
    let code = match status::code_in(headers) {
        // Trailers-Only: the status came with the headers, the call has ended.
        Some(code) => code,
        // Not a gRPC answer (a proxy's error page, say): gRPC's HTTP-to-status mapping.
        None if response.status() != StatusCode::OK => code_of_http(response.status()),
        None => return Outcome::Committed(response),
    };
    if code == Code::Ok {
        return Outcome::Committed(response);
    }
    let pushback = pushback(headers);
    Outcome::Failed(Failure {
        code,
        pushback,
        reach: Reach::Server,
        answer: Ok(response),
    })
}

/// `grpc-retry-pushback-ms`: a non-negative integer is a delay; anything else says stop.
fn pushback(headers: &HeaderMap) -> Pushback {
    let Some(value) = headers.get(PUSHBACK) else {
        return Pushback::None;
    };
    std::str::from_utf8(value.as_bytes())
        .ok()
        .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse::<u64>().ok())
        .map_or(Pushback::Stop, |ms| {
            Pushback::After(Duration::from_millis(ms))
        })
}

/// gRPC's mapping of an HTTP status with no `grpc-status` (doc/http-grpc-status-mapping.md).
fn code_of_http(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// How far a failed exchange got, from the errors under it. Conservative: only errors that
/// prove the server application never saw the request count as not processed.
///
/// * tonic's `ConnectError`: no connection was made (`NoConnection`).
/// * hyper's canceled error: the connection closed before the request was dispatched on
///   it (hyper hands such requests back as "not sent").
/// * h2's errors received from the server: a RST_STREAM with REFUSED_STREAM (the server
///   refused the stream before processing it, RFC 9113 §8.7: `NotProcessed`), or the
///   GOAWAY error h2 gives only to the streams above the GOAWAY's last-stream-id and to
///   new streams on a connection that received one (streams at or below it go on, and if
///   the connection then drops they fail with a broken pipe, which is `Server`). The
///   GOAWAY case counts as `NotSent`: the server discards such streams unseen by
///   definition, and a retry sent before the channel replaced the connection meets the
///   same GOAWAY without reaching the server, so it may take a few tries.
/// * hyper's "dispatch task is gone": the request was still queued for a connection task
///   that ended (`NotSent`).
pub(super) fn reach_of(error: &(dyn Error + 'static)) -> Reach {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<tonic::ConnectError>() {
            return Reach::NoConnection;
        }
        if let Some(error) = error.downcast_ref::<hyper::Error>()
            && (error.is_canceled() || was_queued_when_the_connection_ended(error))
        {
            return Reach::NotSent;
        }
        if let Some(error) = error.downcast_ref::<h2::Error>() {
            if !error.is_remote() {
                return Reach::Server;
            }
            if error.is_go_away() {
                return Reach::NotSent;
            }
            if error.is_reset() && error.reason() == Some(h2::Reason::REFUSED_STREAM) {
                return Reach::NotProcessed;
            }
            return Reach::Server;
        }
        cause = error.source();
    }
    Reach::Server
}

/// hyper's HTTP/2 client answers the requests still queued for its connection task, never
/// written to the wire, with "dispatch task is gone" when that task ends (a connection closed
/// after GOAWAY, say). hyper names that error kind only in its message: `is_user()` alone
/// would also match a request body's own failure mid-stream.
fn was_queued_when_the_connection_ended(error: &hyper::Error) -> bool {
    error.is_user() && error.to_string().starts_with("dispatch task is gone")
}
