//! The final status of a committed call, for retry throttling: a call commits at its
//! response headers, but succeeds or fails only with the status in its trailers.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tonic::body::Body;
use tonic::{Code, Status};

use super::Shared;
use crate::call::status;

/// Reports the status in `body`'s trailers to the channel's throttle: OK is a success, a
/// status among `failures` (the retryable or non-fatal codes) a failure.
pub(super) fn report_to(shared: Arc<Shared>, failures: Vec<Code>, body: Body) -> Body {
    Body::new(Observed {
        inner: body,
        shared: Some(shared),
        failures,
    })
}

struct Observed {
    inner: Body,
    /// Until the status is seen.
    shared: Option<Arc<Shared>>,
    failures: Vec<Code>,
}

impl http_body::Body for Observed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(trailers) = frame.trailers_ref()
            && let Some(shared) = self.shared.take()
            && let Some(throttle) = &shared.throttle
        {
            let code = status::code_in(trailers).unwrap_or(Code::Unknown);
            if code == Code::Ok {
                throttle.succeeded();
            } else if self.failures.contains(&code) {
                throttle.failed();
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
