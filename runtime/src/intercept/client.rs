//! Client interceptors: the trait, what it sees of a call before it is sent, of each
//! attempt and of the call's end, and the chain that runs them.
//!
//! The call-level hooks run in the call layer (`client::call`), which knows the call's
//! metadata, deadline and final status; the attempt-level hooks run where attempts are
//! made, in the channel's retry layer, so that each retry, hedge and transparent retry is
//! seen on its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tonic::body::Body;
use tonic::metadata::MetadataMap;
use tonic::{Code, Status};

use super::meter::{Metered, OnEnd, Reported, Tally};
use super::{Ending, Messages};
use crate::call::status;

/// An attempt's answer, as the channel's transports give it.
pub(crate) type Answer = Result<http::Response<Body>, Box<dyn std::error::Error + Send + Sync>>;

/// Middleware for a client: runs before each call is sent, and is told how each attempt
/// and each call ended.
///
/// Every hook has a default that does nothing. `before` may take its time (fetch or
/// refresh an access token, say): the call's deadline and cancellation apply to it.
///
/// ```
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use hello::hello_service_client::HelloServiceClient;
/// use hello::hello_service_server::HelloServiceServer;
/// use hello::HelloRequest;
/// use rgrpc::intercept::{ClientCall, ClientCallEnd, ClientInterceptor};
/// use rgrpc::Status;
///
/// struct RequestId;
///
/// impl ClientInterceptor for RequestId {
///     async fn before(&self, call: &mut ClientCall) -> Result<(), Status> {
///         call.metadata_mut().insert("x-request-id", "42".parse().unwrap());
///         Ok(())
///     }
///
///     fn after(&self, end: &ClientCallEnd<'_>) {
///         println!("{} ended {} in {:?}", end.method(), end.code(), end.duration());
///     }
/// }
///
/// # block_on(async {
/// # let server = rgrpc::Server::builder()
/// #     .add_service(HelloServiceServer::new(MyHello))
/// #     .serve_in_process();
/// let client = HelloServiceClient::from_client(
///     rgrpc::client::Client::new(server.channel()).interceptor(RequestId),
/// );
/// client.say_hello(HelloRequest::default()).await?;
/// # Ok(()) }).unwrap();
/// ```
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Runs before the call is sent. `Err(status)` ends the call with that status, unsent,
    /// and the interceptors after this one do not run.
    fn before(&self, call: &mut ClientCall) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = call;
        async { Ok(()) }
    }

    /// Told when an attempt of the call is sent: the first, and each retry or hedge.
    fn attempt_started(&self, attempt: &AttemptStart<'_>) {
        let _ = attempt;
    }

    /// Told when an attempt has ended: with its status, or cut short (the call was
    /// cancelled, or another attempt won: `CANCELLED`; its deadline passed:
    /// `DEADLINE_EXCEEDED`).
    fn attempt_ended(&self, attempt: &AttemptEnd<'_>) {
        let _ = attempt;
    }

    /// Told once the call has ended, however it ended.
    fn after(&self, end: &ClientCallEnd<'_>) {
        let _ = end;
    }
}

/// A call as interceptors see it before it is sent.
#[derive(Debug)]
pub struct ClientCall {
    method: &'static str,
    target: Arc<str>,
    metadata: MetadataMap,
    deadline: Option<Instant>,
}

impl ClientCall {
    /// The full method name, `"/package.Service/Method"`.
    pub fn method(&self) -> &str {
        self.method
    }

    /// The channel's target, as it was given (`"http://host:port"`, `"dns:///host:port"`…).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The request metadata the call will send.
    pub fn metadata(&self) -> &MetadataMap {
        &self.metadata
    }

    /// The request metadata, to add or change entries.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// When the call's deadline passes, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// An attempt being sent.
#[derive(Debug)]
pub struct AttemptStart<'a> {
    call: &'a CallRecord,
    number: u32,
}

impl AttemptStart<'_> {
    /// The method, as `'static` as the generated client's (no copy for the metrics).
    #[cfg(feature = "otel")]
    pub(crate) fn static_method(&self) -> &'static str {
        self.call.method
    }

    /// The channel's target, shared (no copy for the metrics).
    #[cfg(feature = "otel")]
    pub(crate) fn shared_target(&self) -> &Arc<str> {
        &self.call.chain.target
    }

    /// The full method name, `"/package.Service/Method"`.
    pub fn method(&self) -> &str {
        self.call.method
    }

    /// The channel's target.
    pub fn target(&self) -> &str {
        &self.call.chain.target
    }

    /// Which attempt of the call this is: 0 for the first.
    pub fn number(&self) -> u32 {
        self.number
    }
}

/// How one attempt ended.
#[derive(Debug)]
pub struct AttemptEnd<'a> {
    attempt: &'a AttemptRecord,
    code: Code,
    message: &'a str,
}

impl AttemptEnd<'_> {
    /// The method, as `'static` as the generated client's (no copy for the metrics).
    #[cfg(feature = "otel")]
    pub(crate) fn static_method(&self) -> &'static str {
        self.attempt.call.method
    }

    /// The channel's target, shared (no copy for the metrics).
    #[cfg(feature = "otel")]
    pub(crate) fn shared_target(&self) -> &Arc<str> {
        &self.attempt.call.chain.target
    }

    /// The full method name, `"/package.Service/Method"`.
    pub fn method(&self) -> &str {
        self.attempt.call.method
    }

    /// The channel's target.
    pub fn target(&self) -> &str {
        &self.attempt.call.chain.target
    }

    /// Which attempt of the call this was: 0 for the first.
    pub fn number(&self) -> u32 {
        self.attempt.number
    }

    /// The attempt's status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The attempt's status message.
    pub fn message(&self) -> &str {
        self.message
    }

    /// How the attempt ended.
    pub fn ending(&self) -> Ending {
        Ending::of(self.code)
    }

    /// From the attempt's start to its end.
    pub fn duration(&self) -> Duration {
        self.attempt.started.elapsed()
    }

    /// The request messages the attempt sent.
    pub fn sent(&self) -> Messages {
        self.attempt.tally.sent.read()
    }

    /// The response messages the attempt received.
    pub fn received(&self) -> Messages {
        self.attempt.tally.received.read()
    }
}

/// How a call ended, as its interceptors are told.
#[derive(Debug)]
pub struct ClientCallEnd<'a> {
    call: &'a CallRecord,
    code: Code,
    message: &'a str,
}

impl ClientCallEnd<'_> {
    /// The method, as `'static` as the generated client's (no copy for the metrics).
    #[cfg(feature = "otel")]
    pub(crate) fn static_method(&self) -> &'static str {
        self.call.method
    }

    /// The channel's target, shared (no copy for the metrics).
    #[cfg(feature = "otel")]
    pub(crate) fn shared_target(&self) -> &Arc<str> {
        &self.call.chain.target
    }

    /// The full method name, `"/package.Service/Method"`.
    pub fn method(&self) -> &str {
        self.call.method
    }

    /// The channel's target.
    pub fn target(&self) -> &str {
        &self.call.chain.target
    }

    /// The call's final status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The final status's message (empty for `OK`).
    pub fn message(&self) -> &str {
        self.message
    }

    /// How the call ended.
    pub fn ending(&self) -> Ending {
        Ending::of(self.code)
    }

    /// From the start of the call (before the interceptors ran) to its end.
    pub fn duration(&self) -> Duration {
        self.call.started.elapsed()
    }

    /// How many attempts were sent: 0 when the call ended before any (rejected by an
    /// interceptor, say), more than 1 with retries or hedging.
    pub fn attempts(&self) -> u32 {
        self.call.attempts.load(Ordering::Relaxed)
    }
}

/// An interceptor behind a pointer, its `before` boxed: what a chain holds.
trait Erased: Send + Sync {
    fn before<'a>(
        &'a self,
        call: &'a mut ClientCall,
    ) -> Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>>;
    fn attempt_started(&self, attempt: &AttemptStart<'_>);
    fn attempt_ended(&self, attempt: &AttemptEnd<'_>);
    fn after(&self, end: &ClientCallEnd<'_>);
}

impl<T: ClientInterceptor> Erased for T {
    fn before<'a>(
        &'a self,
        call: &'a mut ClientCall,
    ) -> Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>> {
        Box::pin(ClientInterceptor::before(self, call))
    }

    fn attempt_started(&self, attempt: &AttemptStart<'_>) {
        ClientInterceptor::attempt_started(self, attempt);
    }

    fn attempt_ended(&self, attempt: &AttemptEnd<'_>) {
        ClientInterceptor::attempt_ended(self, attempt);
    }

    fn after(&self, end: &ClientCallEnd<'_>) {
        ClientInterceptor::after(self, end);
    }
}

/// A channel's or client's interceptors, in the order they run, with the target they
/// report.
#[derive(Clone)]
pub(crate) struct ClientChain {
    interceptors: Vec<Arc<dyn Erased>>,
    target: Arc<str>,
}

impl std::fmt::Debug for ClientChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientChain")
            .field("interceptors", &self.interceptors.len())
            .field("target", &self.target)
            .finish()
    }
}

impl ClientChain {
    pub(crate) fn new(target: &str) -> Self {
        Self {
            interceptors: Vec::new(),
            target: target.into(),
        }
    }

    pub(crate) fn push(&mut self, interceptor: impl ClientInterceptor) {
        self.interceptors.push(Arc::new(interceptor));
    }

    /// The record of a call to `method` due by `deadline`, before its `before` hooks ran.
    pub(crate) fn record(
        self: Arc<Self>,
        method: &'static str,
        deadline: Option<tokio::time::Instant>,
    ) -> CallRecord {
        CallRecord {
            chain: self,
            method,
            deadline,
            ran: 0,
            started: Instant::now(),
            attempts: AtomicU32::new(0),
            ended: AtomicBool::new(false),
        }
    }
}

/// One call's record: which interceptors ran, for its attempts and its end.
pub(crate) struct CallRecord {
    chain: Arc<ClientChain>,
    method: &'static str,
    deadline: Option<tokio::time::Instant>,
    ran: usize,
    started: Instant,
    attempts: AtomicU32,
    ended: AtomicBool,
}

impl std::fmt::Debug for CallRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRecord")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl CallRecord {
    /// Runs the `before` hooks on the call's `metadata`, in order, until one rejects it.
    pub(crate) async fn before(&mut self, metadata: &mut MetadataMap) -> Result<(), Status> {
        let mut call = ClientCall {
            method: self.method,
            target: self.chain.target.clone(),
            metadata: std::mem::take(metadata),
            deadline: self.deadline.map(tokio::time::Instant::into_std),
        };
        let chain = self.chain.clone();
        let mut result = Ok(());
        for interceptor in &chain.interceptors {
            self.ran += 1;
            if let Err(status) = interceptor.before(&mut call).await {
                result = Err(status);
                break;
            }
        }
        *metadata = call.metadata;
        result
    }

    fn interceptors(&self) -> impl Iterator<Item = &Arc<dyn Erased>> {
        self.chain.interceptors[..self.ran].iter().rev()
    }

    /// Tells the interceptors the call ended with `code` (once).
    pub(crate) fn end(&self, code: Code, message: &str) {
        if self.ended.swap(true, Ordering::Relaxed) {
            return;
        }
        let end = ClientCallEnd {
            call: self,
            code,
            message,
        };
        for interceptor in self.interceptors() {
            interceptor.after(&end);
        }
    }

    /// Starts the call's next attempt: tells the interceptors, and returns its record.
    fn attempt(self: &Arc<Self>) -> AttemptRecord {
        let number = self.attempts.fetch_add(1, Ordering::Relaxed);
        let start = AttemptStart { call: self, number };
        for interceptor in self.interceptors() {
            interceptor.attempt_started(&start);
        }
        AttemptRecord {
            call: self.clone(),
            number,
            started: Instant::now(),
            tally: Arc::default(),
            ended: false,
        }
    }

    /// Sends an attempt of the call through `send`, observed: its request and response
    /// messages counted, its end reported from its status (the trailers', the
    /// Trailers-Only headers', or the error's), or as cancelled if it is dropped first.
    pub(crate) fn observe_attempt<F>(
        self: &Arc<Self>,
        request: http::Request<Body>,
        send: impl FnOnce(http::Request<Body>) -> F,
    ) -> impl Future<Output = Answer> + Send + 'static
    where
        F: Future<Output = Answer> + Send + 'static,
    {
        let mut attempt = self.attempt();
        let request = request.map(|body| Body::new(Metered::sent(body, attempt.tally.clone())));
        let answer = send(request);
        async move {
            let answer = answer.await;
            match &answer {
                Err(error) => {
                    let (code, message) = status_of(error.as_ref());
                    attempt.end(code, &message);
                }
                Ok(response) => {
                    if let Some((code, message)) = status::read_grpc(response.headers()) {
                        attempt.end(code, &message);
                    }
                }
            }
            answer.map(|response| {
                if attempt.ended {
                    return response;
                }
                response.map(|body| {
                    let body = Metered::received(body, attempt.tally.clone());
                    Body::new(Reported::new(body, attempt))
                })
            })
        }
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        // Dropped before its end was told: the caller dropped the call while its `before`
        // hooks ran.
        if !self.ended.load(Ordering::Relaxed) {
            let status = status::cancelled_by_caller();
            self.end(status.code(), status.message());
        }
    }
}

/// The status a failed exchange stands for: the code the caller will see, and the
/// error's own message.
fn status_of(error: &(dyn std::error::Error + Send + Sync + 'static)) -> (Code, String) {
    let code = status::code_of_failed_exchange(error);
    let message = match error.downcast_ref::<Status>() {
        Some(status) => status.message().to_owned(),
        None => error.to_string(),
    };
    (code, message)
}

/// One attempt's record.
struct AttemptRecord {
    call: Arc<CallRecord>,
    number: u32,
    started: Instant,
    tally: Arc<Tally>,
    ended: bool,
}

impl std::fmt::Debug for AttemptRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptRecord")
            .field("number", &self.number)
            .finish_non_exhaustive()
    }
}

impl AttemptRecord {
    fn end(&mut self, code: Code, message: &str) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let end = AttemptEnd {
            attempt: self,
            code,
            message,
        };
        for interceptor in self.call.interceptors() {
            interceptor.attempt_ended(&end);
        }
    }
}

impl Drop for AttemptRecord {
    fn drop(&mut self) {
        // Dropped before its status: the call's deadline passed, or it was cancelled, or
        // another attempt won.
        let deadline = self.call.deadline.map(tokio::time::Instant::into_std);
        let (code, message) = crate::call::status::cut_short(deadline);
        self.end(code, message);
    }
}

impl OnEnd for AttemptRecord {
    fn end(&mut self, code: Code, message: &str) {
        AttemptRecord::end(self, code, message);
    }
}
