//! Failures of the connection rather than of the call, which gRPC reports as `UNAVAILABLE`.
//!
//! tonic turns transport errors into statuses by guessing: a server that crashed under a
//! call gives `UNKNOWN` ("transport error"), a call refused because the server was shutting
//! down gives `CANCELLED` ("operation was canceled"), although nobody cancelled it. gRPC
//! says both are `UNAVAILABLE` (doc/statuscodes.md: the connection broke, or the server is
//! going away), the code clients retry on. The error behind the status tells which it was.

use std::error::Error;
use std::io;
use std::sync::Arc;

use tonic::{Code, Status};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
