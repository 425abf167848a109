//! The answer to a call that streams its responses.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use futures_util::FutureExt;
use tokio::task::JoinHandle;
use tokio::time::Sleep;
use tokio_util::task::AbortOnDropHandle;
use tonic::metadata::MetadataMap;
use tonic::{Status, Streaming};

use super::call::Deadline;
use crate::reserved;

/// The stream of response messages of a server-streaming or bidi call.
///
/// It yields each message in order, then ends (`None`) on an OK status or yields one
/// `Err(status)` for any other status. Dropping it cancels the call and resets its HTTP/2
/// stream, so the server sees the cancellation.
pub struct ResponseStream<T> {
    state: State<T>,
    headers: Option<MetadataMap>,
    trailers: Option<MetadataMap>,
    deadline: Option<(Pin<Box<Sleep>>, Deadline)>,
}

type Opened<T> = Result<tonic::Response<Streaming<T>>, Status>;

// The large variant is the one a call spends its life in; boxing it would only add an
// allocation per call.
#[allow(clippy::large_enum_variant)]
enum State<T> {
    /// Sent; the server's headers have not arrived. The task aborts if we are dropped.
    Starting(AbortOnDropHandle<Opened<T>>),
    Open(Streaming<T>),
    Finished,
}

impl<T> ResponseStream<T> {
    pub(crate) fn starting(opened: JoinHandle<Opened<T>>, deadline: Option<Deadline>) -> Self {
        Self {
            state: State::Starting(AbortOnDropHandle::new(opened)),
            headers: None,
            trailers: None,
            deadline: deadline
                .map(|deadline| (Box::pin(tokio::time::sleep_until(deadline.at)), deadline)),
        }
    }

    /// The next message: `Ok(Some(message))`, `Ok(None)` once the call ended with OK, or
    /// the call's non-OK status.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }

    /// Waits for the server's initial metadata (it may come before any message).
    pub async fn headers(&mut self) -> Result<&MetadataMap, Status> {
        poll_fn(|cx| self.poll_open(cx)).await?;
        Ok(self.headers.get_or_insert_with(MetadataMap::new))
    }

    /// The trailing metadata of an OK status, once the stream has ended; `None` before.
    /// (For a non-OK status it is in the status: [`Status::metadata`].)
    pub fn trailers(&self) -> Option<&MetadataMap> {
        self.trailers.as_ref()
    }

    /// Drives the call up to the server's headers; ready at once if past them.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Status>> {
        if let Some((sleep, deadline)) = &mut self.deadline
            && sleep.as_mut().poll(cx).is_ready()
        {
            let status = deadline.exceeded();
            self.finish();
            return Poll::Ready(Err(status));
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

    /// Ends the stream with `status`, seen through the deadline (see `Deadline::classify`).
    fn fail(&mut self, status: Status) -> Status {
        let status = match &self.deadline {
            Some((_, deadline)) => deadline.classify(status),
            None => status,
        };
        self.finish();
        status
    }

    /// Drops whatever is left of the call (resetting its stream) and stops the deadline.
    fn finish(&mut self) {
        self.state = State::Finished;
        self.deadline = None;
    }
}

impl<T> Stream for ResponseStream<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if matches!(this.state, State::Finished) {
            return Poll::Ready(None);
        }
        // Checked on every poll, before the message: a fast stream must not outlive its deadline.
        if let Err(status) = ready!(this.poll_open(cx)) {
            return Poll::Ready(Some(Err(status)));
        }
        let State::Open(body) = &mut this.state else {
            return Poll::Ready(None);
        };
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
                this.finish();
                Poll::Ready(None)
            }
        }
    }
}

impl<T> fmt::Debug for ResponseStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Starting(_) => "starting",
            State::Open(_) => "open",
            State::Finished => "finished",
        };
        f.debug_struct("ResponseStream")
            .field("state", &state)
            .field("headers", &self.headers)
            .field("trailers", &self.trailers)
            .finish_non_exhaustive()
    }
}
