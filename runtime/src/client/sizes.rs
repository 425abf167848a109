//! Message size limits on the client: how large a request it sends, how large a response
//! it reads.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::stream::BoxStream;
use prost::Message;
use tokio::sync::oneshot;
use tonic::Status;

use super::call::Requests;
use crate::call::status::request_too_large_to_send;
use crate::codec::{DEFAULT_MAX_RECEIVE_MESSAGE_SIZE, DEFAULT_MAX_SEND_MESSAGE_SIZE};

/// The size limits of a client or of one call. The defaults are those of gRPC's other
/// implementations: responses up to 4 MiB, requests unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MessageSizes {
    pub(crate) max_request: usize,
    pub(crate) max_response: usize,
}

impl Default for MessageSizes {
    fn default() -> Self {
        Self {
            max_request: DEFAULT_MAX_SEND_MESSAGE_SIZE,
            max_response: DEFAULT_MAX_RECEIVE_MESSAGE_SIZE,
        }
    }
}

/// Resolves with the status that ends the call when a streamed request message is over
/// the limit; fails (the sender dropped) once the request stream is over without one.
pub(crate) type Oversized = oneshot::Receiver<Status>;

/// `requests`, checked against `limit` before they go on the wire.
///
/// A single request over the limit fails the call before it starts. A stream is checked
/// message by message: at the first one over the limit it stops sending (without
/// half-closing, which would tell the server the requests are complete) and reports the
/// status through the returned receiver, which ends the call.
pub(crate) fn check<Req>(
    requests: Requests<Req>,
    limit: usize,
) -> Result<(Requests<Req>, Option<Oversized>), Status>
where
    Req: Message + Send + 'static,
{
    match requests {
        Requests::One(message) => {
            let len = message.encoded_len();
            if len > limit {
                return Err(request_too_large_to_send(len, limit));
            }
            Ok((Requests::One(message), None))
        }
        // Unlimited, the default: nothing to check, no stream wrapped.
        Requests::Many(messages) if limit == usize::MAX => Ok((Requests::Many(messages), None)),
        Requests::Many(messages) => {
            let (report, oversized) = oneshot::channel();
            let checked = Checked {
                messages,
                limit,
                report: Some(report),
            };
            Ok((Requests::Many(Box::pin(checked)), Some(oversized)))
        }
    }
}

/// A request stream that stops at the first message over `limit`.
struct Checked<Req> {
    messages: BoxStream<'static, Req>,
    limit: usize,
    /// `None` once a message was over the limit: the stream then stays pending until the
    /// call, ended by the report, resets it. Also `None` after the last message.
    report: Option<oneshot::Sender<Status>>,
}

impl<Req: Message> Stream for Checked<Req> {
    type Item = Req;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Req>> {
        let this = self.get_mut();
        let Some(report) = this.report.take() else {
            return Poll::Pending;
        };
        let next = this.messages.as_mut().poll_next(cx);
        if let Poll::Ready(Some(message)) = &next {
            let len = message.encoded_len();
            if len > this.limit {
                let _ = report.send(request_too_large_to_send(len, this.limit));
                return Poll::Pending;
            }
        }
        // At the end the report goes, so the call stops watching for it.
        if !matches!(next, Poll::Ready(None)) {
            this.report = Some(report);
        }
        next
    }
}
