//! Cancellation: the tokens that stop a call from either side, and the guards that make
//! sure the other side hears of it when a call ends early.
//!
//! The client side waits on the caller's tokens ([`any`]) and resets the HTTP/2 stream when
//! the call is dropped ([`ResetOnDrop`]); the server side cancels the handler's token when
//! the call's driver goes ([`cancel_on_drop`]). The statuses these end calls with are in
//! [`status`](super::status).

use std::future::Future;
use std::pin::Pin;

use futures_util::future::select_all;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::CancellationHandle;

/// Resolves once the call is cancelled.
pub(crate) type Cancelled = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Resolves when any of `tokens` is cancelled; `None` without tokens, so a call without
/// any waits on nothing (and allocates nothing).
pub(crate) fn any(tokens: Vec<CancellationToken>) -> Option<Cancelled> {
    match tokens.len() {
        0 => None,
        1 => tokens
            .into_iter()
            .next()
            .map(|token| Box::pin(token.cancelled_owned()) as Cancelled),
        _ => Some(Box::pin(async move {
            let waits = tokens.into_iter().map(|t| Box::pin(t.cancelled_owned()));
            select_all(waits).await;
        })),
    }
}

/// Cancels `token` when the returned guard is dropped: the server's driver holds it, so the
/// handler's token is cancelled however the call ended (completed, failed, past its
/// deadline, or reset by the client, when hyper drops the body).
pub(crate) fn cancel_on_drop(token: &CancellationToken) -> DropGuard {
    token.clone().drop_guard()
}

/// Resets the call's HTTP/2 stream when dropped, so the server learns the call is over even
/// while the request stream is still being sent (tonic's encoder sends RST_STREAM CANCEL).
/// After a call completed normally the reset is a no-op: the stream is already closed.
pub(crate) struct ResetOnDrop(Option<CancellationHandle>);

impl ResetOnDrop {
    pub(crate) fn new(handle: CancellationHandle) -> Self {
        Self(Some(handle))
    }
}

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        if let Some(handle) = self.0.take() {
            handle.cancel();
        }
    }
}
