//! Cancellation: the tokens that stop a call from either side, and the guards that make
//! sure the other side hears of it when a call ends early.
//!
//! The client side waits on the caller's tokens ([`any`]) and resets the HTTP/2 stream when
//! the call is dropped ([`ResetOnDrop`]); the server side cancels the handler's token when
//! the call's driver goes ([`CallCancellation`]). The statuses these end calls with are in
//! [`status`](super::status).

use std::future::Future;
use std::pin::Pin;

use futures_util::future::select_all;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering, fence};

use tokio_util::sync::CancellationToken;
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

/// A served call's cancellation, whose token is made only when a handler asks for one.
///
/// Most handlers never wait on cancellation, and a token made and cancelled for every call
/// cost a unary call about 1% of the server's instructions (callgrind). So the call keeps a
/// flag, and a token made after the call ended is born cancelled. The driver ends the call
/// (see `server::driver`) however it ended: completed, failed, past its deadline, or reset by
/// the client (hyper drops the body).
#[derive(Debug, Default)]
pub(crate) struct CallCancellation {
    ended: AtomicBool,
    token: OnceLock<CancellationToken>,
}

impl CallCancellation {
    /// The call's token, made now if no one asked before.
    pub(crate) fn token(&self) -> &CancellationToken {
        let token = self.token.get_or_init(CancellationToken::new);
        // Paired with the fence in `cancel`: of a token made while the call ends, either
        // this sees the end or `cancel` sees the token, so it is cancelled either way.
        fence(Ordering::SeqCst);
        if self.ended.load(Ordering::Relaxed) {
            token.cancel();
        }
        token
    }

    /// Ends the call: its token, now or whenever it is made, is cancelled.
    pub(crate) fn cancel(&self) {
        self.ended.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if let Some(token) = self.token.get() {
            token.cancel();
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }
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
