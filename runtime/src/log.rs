//! One tracing span per call, client and server side, and one event when it ends.
//!
//! The end event carries the method, the final status and the duration, at DEBUG for OK
//! and INFO otherwise, so timeouts and cancellations show up in an application's logs
//! with no code of its own. On the client, the same end goes to the call's interceptors:
//! this is where a client call ends, once, however it ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tonic::{Code, Status};
use tracing::Span;

use crate::intercept::client::CallRecord;

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

/// A server call's span, as the parent of the calls its handler makes with
/// `Call::propagate`. Kept only with the `otel` feature, where the trace needs it; without,
/// it is empty and costs nothing.
#[derive(Clone, Debug, Default)]
pub(crate) struct Parent {
    #[cfg(feature = "otel")]
    span: Option<Span>,
}

impl Parent {
    /// `log`'s span as a parent: none if it is disabled, so that a call made for it is
    /// the child of the current span instead of a root.
    pub(crate) fn of(log: &CallLog) -> Self {
        #[cfg(not(feature = "otel"))]
        let _ = log;
        Self {
            #[cfg(feature = "otel")]
            span: (!log.span.is_disabled()).then(|| log.span.clone()),
        }
    }

    #[cfg(feature = "otel")]
    fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }

    #[cfg(not(feature = "otel"))]
    fn span(&self) -> Option<&Span> {
        None
    }
}

/// The record of one call: its span, and what is reported when it ends.
#[derive(Debug)]
pub(crate) struct CallLog {
    span: Span,
    started: Instant,
    ended: bool,
    /// The client call's interceptors, told of its end.
    record: Option<Arc<CallRecord>>,
}

impl CallLog {
    /// The record of a call starting now; its span is a child of `parent`'s if it has one,
    /// else of the current span.
    pub(crate) fn start(
        side: Side,
        method: &str,
        peer: Option<SocketAddr>,
        timeout: Option<Duration>,
        parent: &Parent,
    ) -> Self {
        macro_rules! span {
            ($($parent:tt)*) => {
                tracing::info_span!(
                    $($parent)*
                    "grpc",
                    side = side.name(),
                    method,
                    peer = peer.map(tracing::field::display),
                    timeout = timeout.map(tracing::field::debug),
                )
            };
        }
        let span = match parent.span() {
            Some(parent) => span!(parent: parent,),
            None => span!(),
        };
        Self {
            span,
            started: Instant::now(),
            ended: false,
            record: None,
        }
    }

    /// A record that reports nothing: for streams that are not calls (made by hand).
    pub(crate) fn silent() -> Self {
        Self {
            span: Span::none(),
            started: Instant::now(),
            ended: true,
            record: None,
        }
    }

    /// Tells the call's interceptors of its end too.
    pub(crate) fn observed_by(&mut self, record: Option<Arc<CallRecord>>) {
        self.record = record;
    }

    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Reports the end of the call with `code` (and the status message, if not OK).
    pub(crate) fn end(&mut self, code: Code, message: &str) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if let Some(record) = &self.record {
            record.end(code, message);
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

impl Drop for CallLog {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // A client call whose future or stream was dropped before its end: its caller
        // gave up on it.
        let status = crate::call::status::cancelled_by_caller();
        self.end(status.code(), status.message());
    }
}
