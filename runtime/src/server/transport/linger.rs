//! Reading what is left of an HTTP/1.1 request before answering it early.
//!
//! An HTTP/1.1 client sends its whole request before it reads the answer. A server that
//! answers early (an unknown method, a bidi call, a handler that fails before reading its
//! stream) and closes the connection with the request unread makes the client's kernel see
//! a reset: the client fails with "broken pipe" instead of reading the status. So a request
//! body the service dropped unread is drained first, within bounds, as nginx's lingering
//! close does; past them the answer goes out anyway.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt as _;
use tonic::Status;

/// The most of an unread request drained before an early answer.
const LINGER_BYTES: usize = 1 << 20;
/// The longest an early answer waits for the rest of its request.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Where a request body dropped unread is left for draining.
#[derive(Clone, Default)]
pub(super) struct Unread(Arc<Mutex<Option<tonic::body::Body>>>);

impl Unread {
    /// `body`, which hands itself back here if dropped before its end.
    pub(super) fn watch(&self, body: tonic::body::Body) -> tonic::body::Body {
        tonic::body::Body::new(Returning {
            inner: Some(body),
            unread: self.clone(),
        })
    }

    /// Reads and discards what is left of a body dropped unread, within the bounds.
    pub(super) async fn drain(&self) {
        let left = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        let Some(mut body) = left else { return };
        let drained = async {
            let mut read = 0;
            while read <= LINGER_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                    Some(Err(_)) | None => return,
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, drained).await;
    }
}

/// A request body that returns itself to [`Unread`] when dropped before its end.
struct Returning {
    inner: Option<tonic::body::Body>,
    unread: Unread,
}

impl Body for Returning {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match &mut self.inner {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or(SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && !inner.is_end_stream()
        {
            *self.unread.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(inner);
        }
    }
}
