//! The answer to a call that streams its responses.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_util::FutureExt;
use futures_util::stream::BoxStream;
use tokio::task::JoinHandle;
use tokio_util::task::AbortOnDropHandle;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status, Streaming};

use super::watch::Watch;
use crate::call::cancel::ResetOnDrop;
use crate::log::CallLog;
use crate::reserved;

/// The stream of response messages of a server-streaming or bidi call.
///
/// It yields each message in order, then ends (`None`) on an OK status or yields one
/// `Err(status)` for any other status. The call's deadline and cancellation apply to every
/// wait: once either fires, the next poll yields `DEADLINE_EXCEEDED` or `CANCELLED`.
/// Dropping the stream cancels the call and resets its HTTP/2 stream, so the server sees
/// the cancellation.
pub struct ResponseStream<T> {
    state: State<T>,
    headers: Option<MetadataMap>,
    trailers: Option<MetadataMap>,
    watch: Watch,
    reset: Option<ResetOnDrop>,
    log: CallLog,
}

type Opened<T> = Result<tonic::Response<Streaming<T>>, Status>;

// The large variant is the one a call spends its life in; boxing it would only add an
// allocation per call.
#[allow(clippy::large_enum_variant)]
enum State<T> {
    /// Sent; the server's headers have not arrived. The task aborts if we are dropped.
    Starting(AbortOnDropHandle<Opened<T>>),
    Open(Streaming<T>),
    /// Made by hand, from any stream (mocks, tests).
    Local(BoxStream<'static, Result<T, Status>>),
    Finished,
}

impl<T> ResponseStream<T> {
    pub(crate) fn starting(
        opened: JoinHandle<Opened<T>>,
        watch: Watch,
        reset: Option<ResetOnDrop>,
        log: CallLog,
    ) -> Self {
        Self {
            state: State::Starting(AbortOnDropHandle::new(opened)),
            headers: None,
            trailers: None,
            watch,
            reset,
            log,
        }
    }

    /// A stream of `messages` that never touched the network, for mocks of a client trait:
    /// it yields them in order, ends with OK (empty trailers) or at the first `Err`.
    pub fn from_stream<S>(messages: S) -> Self
    where
        S: Stream<Item = Result<T, Status>> + Send + 'static,
    {
        Self {
            state: State::Local(Box::pin(messages)),
            headers: Some(MetadataMap::new()),
            trailers: None,
            watch: Watch::new(None, Vec::new()),
            reset: None,
            log: CallLog::silent(),
        }
    }

    /// The next message: `Ok(Some(message))`, `Ok(None)` once the call ended with OK, or
    /// the call's non-OK status.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }

    /// Waits for the server's initial metadata, its HTTP/2 response headers with protocol
    /// headers removed (they may come before any message).
    pub async fn headers(&mut self) -> Result<&MetadataMap, Status> {
        poll_fn(|cx| self.poll_open(cx)).await?;
        Ok(self.headers.get_or_insert_with(MetadataMap::new))
    }

    /// The trailing metadata of an OK status, once the stream has ended; `None` before.
    /// (For a non-OK status it is in the status: [`Status::metadata`].)
    pub fn trailers(&self) -> Option<&MetadataMap> {
        self.trailers.as_ref()
    }

    /// Drives the call up to the server's headers; ready at once if past them. The
    /// deadline and cancellation are checked first, on every poll, so a fast stream cannot
    /// outlive them.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        if matches!(self.state, State::Finished) {
            return Poll::Ready(Ok(()));
        }
        if let Poll::Ready(status) = self.watch.poll_ended(cx) {
            return Poll::Ready(Err(self.fail(status)));
        }
        let State::Starting(opening) = &mut self.state else {
            return Poll::Ready(Ok(()));
        };
        let opened = match ready!(Pin::new(opening).poll(cx)) {
            Ok(opened) => opened,
            Err(join_error) => Err(Status::internal(format!(
                "the task sending the call failed: {join_error}"
            ))),
        };
        match opened {
            Ok(response) => {
                let (headers, body, _) = response.into_parts();
                self.headers = Some(reserved::metadata(headers.into_headers()));
                self.state = State::Open(body);
                Poll::Ready(Ok(()))
            }
            Err(status) => Poll::Ready(Err(self.fail(status))),
        }
    }

    /// Ends the call with `status`, seen through the deadline (see `Watch::classify`).
    fn fail(&mut self, status: Status) -> Status {
        let status = self.watch.classify(status);
        self.finish(status.code(), status.message());
        status
    }

    /// Drops whatever is left of the call (resetting its stream if still open) and records
    /// how it ended.
    fn finish(&mut self, code: Code, message: &str) {
        self.state = State::Finished;
        self.watch.clear();
        self.reset = None;
        self.log.end(code, message);
    }
}

impl<T> Stream for ResponseStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if matches!(this.state, State::Finished) {
            return Poll::Ready(None);
        }
        if let Err(status) = ready!(this.poll_open(cx)) {
            return Poll::Ready(Some(Err(status)));
        }
        if let State::Local(messages) = &mut this.state {
            return match ready!(messages.as_mut().poll_next(cx)) {
                Some(Ok(message)) => Poll::Ready(Some(Ok(message))),
                Some(Err(status)) => Poll::Ready(Some(Err(this.fail(status)))),
                None => {
                    this.trailers = Some(MetadataMap::new());
                    this.finish(Code::Ok, "");
                    Poll::Ready(None)
                }
            };
        }
        let State::Open(body) = &mut this.state else {
            return Poll::Ready(None);
        };
        let _entered = this.log.span().clone().entered();
        match ready!(Pin::new(&mut *body).poll_next(cx)) {
            Some(Ok(message)) => Poll::Ready(Some(Ok(message))),
            Some(Err(status)) => Poll::Ready(Some(Err(this.fail(status)))),
            None => {
                // The body is fully read, so the trailers are already buffered.
                let trailers = body
                    .trailers()
                    .now_or_never()
                    .and_then(Result::ok)
                    .flatten();
                this.trailers = Some(
                    trailers
                        .map_or_else(MetadataMap::new, |t| reserved::metadata(t.into_headers())),
                );
                this.finish(Code::Ok, "");
                Poll::Ready(None)
            }
        }
    }
}

impl<T> Drop for ResponseStream<T> {
    fn drop(&mut self) {
        if !matches!(self.state, State::Finished) {
            self.log.end(
                Code::Cancelled,
                "the response stream was dropped before the call ended",
            );
        }
    }
}

impl<T> fmt::Debug for ResponseStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Starting(_) => "starting",
            State::Open(_) => "open",
            State::Local(_) => "local",
            State::Finished => "finished",
        };
        f.debug_struct("ResponseStream")
            .field("state", &state)
            .field("headers", &self.headers)
            .field("trailers", &self.trailers)
            .finish_non_exhaustive()
    }
}
