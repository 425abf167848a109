//! Retries, hedging and transparent retries (gRFC A6), at the HTTP level, around whatever
//! transport a channel sends its calls over.
//!
//! Every call's request body is kept for another attempt ([`kept`]) up to the channel's
//! buffer limit: read whole before the first attempt when it is ready at once (a unary
//! call's), else recorded as the attempts pull it ([`replay`]). An attempt's answer is
//! classified ([`outcome`]): response headers that are not Trailers-Only commit the call to it;
//! anything else is a failure that may be retried:
//!
//! * transparently, with or without a policy, when the server application never saw it
//!   (`Reach::NotProcessed`: once in a row) or it never left the client
//!   (`Reach::NotSent`: a few times, or until the deadline with `wait_for_ready`);
//! * by the method's retry policy (after a random backoff, or the server's pushback) or
//!   hedging policy (further attempts while the first runs), within `maxAttempts`, the
//!   channel's throttling and the call's deadline.
//!
//! A call without a policy takes the plain loop of [`transparent`]; a call with one takes
//! the [`engine`], which can run several attempts at once. [`head`] builds each attempt's
//! request; [`throttle`] and [`observe`] keep the channel's retry throttling, which
//! counts each call's final status (from its trailers once it committed).
//!
//! Without a policy a call keeps only what a transparent retry needs: a copy of its
//! request's headers, the typed extensions the channel reads, and its body's `Bytes`.
//! Further attempts go through one clone of the channel's transport, made by the first
//! call. That costs a unary call about 1,200 instructions of its 77,000 on the client
//! (callgrind, `rpc-bench load --scenario unary_c1`).

mod backoff;
mod engine;
mod head;
mod kept;
mod observe;
mod outcome;
mod replay;
mod throttle;
mod transparent;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tokio::time::Instant;
use tonic::Status;
use tonic::body::Body;

use self::engine::Engine;
use self::head::Head;
use self::kept::KeptBody;
use self::outcome::Answer;
use self::throttle::Throttle;
use self::transparent::Transparent;
use super::call_policy::CallPolicy;
use crate::intercept::client::{CallRecord, ClientChain};
use crate::service_config::{AttemptPolicy, ServiceConfig};

pub(crate) type Exchange = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// How much of a call's request body is kept for another attempt, unless set: gRPC's
/// default per-call limit (256 KiB).
pub const DEFAULT_RETRY_BUFFER_LIMIT: usize = 256 * 1024;

/// Sends one attempt of a call: the channel's transport, whichever it is.
pub(crate) trait SendAttempt: Send + Sync + 'static {
    fn send_attempt(&self, request: http::Request<Body>) -> Exchange;
}

/// Counters of a channel's attempts, shared by its clones ([`Channel::stats`](crate::Channel::stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelStats {
    /// Attempts sent, each call's first included.
    pub attempts: u64,
    /// Attempts sent by a retry policy after a failed one.
    pub retries: u64,
    /// Attempts sent by a hedging policy while earlier ones ran.
    pub hedges: u64,
    /// Attempts sent again, with no policy, because the server never processed them.
    pub transparent_retries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    attempts: AtomicU64,
    retries: AtomicU64,
    hedges: AtomicU64,
    transparent_retries: AtomicU64,
}

impl Counters {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What every call on a channel shares: the service config, the throttle, the counters.
#[derive(Clone, Debug)]
pub(crate) struct Retries {
    shared: Arc<Shared>,
}

struct Shared {
    config: Option<Arc<ServiceConfig>>,
    throttle: Option<Throttle>,
    buffer_limit: usize,
    counters: Counters,
    /// The channel's transport, for the attempts after a call's first: set by the first
    /// call, so that no call pays for a clone of it.
    sender: OnceLock<Arc<dyn SendAttempt>>,
    /// The channel's target, as given, and its interceptors (kept here, shared by the
    /// channel's clones, so that a clone costs nothing more).
    target: Arc<str>,
    interceptors: Option<Arc<ClientChain>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("throttle", &self.throttle)
            .field("buffer_limit", &self.buffer_limit)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Default for Retries {
    fn default() -> Self {
        Self::new(None, DEFAULT_RETRY_BUFFER_LIMIT, "", None)
    }
}

impl Retries {
    pub(crate) fn new(
        config: Option<ServiceConfig>,
        buffer_limit: usize,
        target: &str,
        interceptors: Option<ClientChain>,
    ) -> Self {
        let throttle = config
            .as_ref()
            .and_then(ServiceConfig::retry_throttling)
            .map(Throttle::new);
        Self {
            shared: Arc::new(Shared {
                config: config.map(Arc::new),
                throttle,
                buffer_limit,
                counters: Counters::default(),
                sender: OnceLock::new(),
                target: target.into(),
                interceptors: interceptors.map(Arc::new),
            }),
        }
    }

    pub(crate) fn config(&self) -> Option<&Arc<ServiceConfig>> {
        self.shared.config.as_ref()
    }

    /// The channel's target, as it was given.
    pub(crate) fn target(&self) -> &str {
        &self.shared.target
    }

    /// The channel's interceptors, if it has any.
    pub(crate) fn interceptors(&self) -> Option<&Arc<ClientChain>> {
        self.shared.interceptors.as_ref()
    }

    pub(crate) fn stats(&self) -> ChannelStats {
        let counters = &self.shared.counters;
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        ChannelStats {
            attempts: read(&counters.attempts),
            retries: read(&counters.retries),
            hedges: read(&counters.hedges),
            transparent_retries: read(&counters.transparent_retries),
        }
    }

    /// Runs a call: its first attempt through `first` on `transport` (already ready), any
    /// further one through a clone of `transport` kept by the channel.
    pub(crate) fn call<T, F>(
        &self,
        request: http::Request<Body>,
        transport: &mut T,
        first: impl FnOnce(&mut T, http::Request<Body>) -> F,
    ) -> CallFuture<F>
    where
        T: SendAttempt + Clone,
        F: Future<Output = Answer> + Send + Unpin + 'static,
    {
        let sender = self
            .shared
            .sender
            .get_or_init(|| Arc::new(transport.clone()))
            .clone();
        let call_policy = request.extensions().get::<CallPolicy>();
        let record = call_policy.and_then(|policy| policy.record.clone());
        let deadline = call_policy.and_then(|policy| policy.deadline);
        let wait_for_ready = call_policy.is_some_and(|policy| policy.wait_for_ready);
        let method = match call_policy {
            Some(policy) => policy.method.clone(),
            // A request that did not come through rgrpc's client: look its path up.
            None => self
                .config()
                .and_then(|config| config.method_shared(request.uri().path())),
        };
        let method = method.filter(|method| method.policy.is_some());
        let hedging = matches!(
            method.as_ref().and_then(|m| m.policy.as_ref()),
            Some(AttemptPolicy::Hedging(_))
        );
        let (parts, body) = request.into_parts();
        let head = Head::keep(&parts);
        let kept = KeptBody::read_ahead(body, self.shared.buffer_limit, hedging);
        let first_request = http::Request::from_parts(parts, kept.body(0));
        Counters::count(&self.shared.counters.attempts);
        let call = Call {
            shared: self.shared.clone(),
            sender,
            head,
            kept,
            deadline,
            transparent: Transparent::new(wait_for_ready),
            record,
        };
        if let Some(record) = call.record.clone() {
            // Observed: every attempt, the first included, goes through the interceptors.
            let first: Exchange = Box::pin(
                record.observe_attempt(first_request, |request| first(transport, request)),
            );
            return CallFuture::Later(match method {
                None => Box::pin(async move {
                    match first.await {
                        Err(error) => call.transparent_after(Err(error)).await,
                        answer => answer,
                    }
                }),
                Some(method) => Box::pin(Engine::new(call, method).run(first)),
            });
        }
        let first = first(transport, first_request);
        match method {
            None => CallFuture::First {
                first,
                call: Some(call),
            },
            Some(method) => {
                CallFuture::Later(Box::pin(Engine::new(call, method).run(Box::pin(first))))
            }
        }
    }
}

/// A call's answer. A call with no policy polls its first attempt in place, and goes on
/// boxed only to retry it transparently; a call with a policy runs the boxed engine.
#[expect(
    clippy::large_enum_variant,
    reason = "the first attempt is held in place: boxing it is the cost this type avoids"
)]
pub(crate) enum CallFuture<F> {
    First { first: F, call: Option<Call> },
    Later(Exchange),
}

impl<F: Future<Output = Answer> + Unpin> Future for CallFuture<F> {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let this = self.get_mut();
        loop {
            let later = match this {
                CallFuture::Later(later) => return later.as_mut().poll(cx),
                CallFuture::First { first, call } => {
                    match (std::task::ready!(Pin::new(first).poll(cx)), call.take()) {
                        (Err(error), Some(call)) => Box::pin(call.transparent_after(Err(error))),
                        // Committed: nothing is sent again.
                        (answer, _) => return Poll::Ready(answer),
                    }
                }
            };
            *this = CallFuture::Later(later);
        }
    }
}

/// One call's attempts, whatever the policy.
pub(crate) struct Call {
    shared: Arc<Shared>,
    sender: Arc<dyn SendAttempt>,
    head: Head,
    kept: KeptBody,
    deadline: Option<Instant>,
    transparent: Transparent,
    /// The call's interceptors' record, when it has interceptors: they see each attempt.
    record: Option<Arc<CallRecord>>,
}

impl Call {
    /// Sends a later attempt (a retry, a hedge, a transparent retry).
    fn send_attempt(&self, request: http::Request<Body>) -> Exchange {
        match &self.record {
            None => self.sender.send_attempt(request),
            Some(record) => Box::pin(
                record.observe_attempt(request, |request| self.sender.send_attempt(request)),
            ),
        }
    }
}

/// The status of a call whose deadline passed while it waited to send another attempt.
fn deadline_passed() -> Answer {
    Err(Box::new(Status::deadline_exceeded(
        "the deadline passed while waiting to retry the call",
    )))
}
