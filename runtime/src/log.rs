//! One tracing span per call, client and server side, and one event when it ends.
//!
//! The end event carries the method, the final status and the duration, at DEBUG for OK
//! and INFO otherwise, so timeouts and cancellations show up in an application's logs
//! with no code of its own.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Status};
use tracing::Span;

/// Which end of the call this process is.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// The record of one call: its span, and what is reported when it ends.
#[derive(Debug)]
pub(crate) struct CallLog {
    span: Span,
    started: Instant,
    ended: bool,
}

impl CallLog {
    pub(crate) fn start(
        side: Side,
        method: &str,
        peer: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Self {
        let span = tracing::info_span!(
            "grpc",
            side = side.name(),
            method,
            peer = peer.map(tracing::field::display),
            timeout = timeout.map(tracing::field::debug),
        );
        Self {
            span,
            started: Instant::now(),
            ended: false,
        }
    }

    /// A record that reports nothing: for streams that are not calls (made by hand).
    pub(crate) fn silent() -> Self {
        Self {
            span: Span::none(),
            started: Instant::now(),
            ended: true,
        }
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Reports the end of the call with `code` (and the status message, if not OK).
    pub(crate) fn end(&mut self, code: Code, message: &str) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let duration = self.started.elapsed();
        let _entered = self.span.enter();
        if code == Code::Ok {
            tracing::debug!(code = ?code, ?duration, "call ended");
        } else {
            tracing::info!(code = ?code, grpc_message = message, ?duration, "call ended");
        }
    }

    /// Reports the end of the call with `result`.
    pub(crate) fn end_with<T>(&mut self, result: &Result<T, Status>) {
        match result {
            Ok(_) => self.end(Code::Ok, ""),
            Err(status) => self.end(status.code(), status.message()),
        }
    }
}
