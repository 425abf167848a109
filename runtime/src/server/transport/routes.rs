//! The route table: which service serves `/package.Service/Method`.
//!
//! A gRPC path names its service before the second `/`, so one lookup by service name
//! finds the service; the generated service then matches the method itself. (tonic routes
//! through an axum router instead, whose path matching and URL-parameter bookkeeping cost
//! a unary call about 3% of the server's instructions, as callgrind counts them.)

use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use tokio_util::sync::CancellationToken;
use tonic::Status;

use super::error::ServeError;
use crate::call::status::{unknown_method, unknown_service};
use crate::intercept::server::ServerChain;
use crate::server::MessageLimits;
use crate::server::dispatch::{ServerFuture, answer_with};
use crate::server::protocol::Descriptors;
use crate::server::router::GrpcService;

/// One service, type-erased: takes a request, returns its response future. Shared, so
/// that a call the server's interceptors hold up can still reach it.
type Route = Arc<dyn Fn(http::Request<tonic::body::Body>) -> ServerFuture + Send + Sync + 'static>;

/// The services of a server, by name, as they are added.
pub(crate) struct RoutesBuilder {
    routes: HashMap<&'static str, Route>,
    /// What each service says of its schema, in the order added (for reflection).
    described: Vec<(&'static str, &'static [&'static [u8]])>,
    /// The first service added twice: serving then fails, naming it.
    duplicate: Option<&'static str>,
    /// What to tell once the server stops taking calls.
    on_drain: Vec<DrainHook>,
    /// The largest request message, which bounds a JSON request's text too.
    max_request_message_size: usize,
    /// The whole server's interceptors, around every call.
    pub(crate) interceptors: ServerChain,
}

/// Told that the server is draining: it takes no new calls and waits for those in flight.
/// Returns the calls whose end the connections' GOAWAY waits for (the health service's
/// `Watch` calls, so that their `NOT_SERVING` goes out first).
type DrainHook = Box<dyn Fn() -> Vec<CancellationToken> + Send + Sync>;

impl Default for RoutesBuilder {
    fn default() -> Self {
        Self {
            routes: HashMap::new(),
            described: Vec::new(),
            duplicate: None,
            on_drain: Vec::new(),
            max_request_message_size: MessageLimits::default().max_request(),
            interceptors: ServerChain::default(),
        }
    }
}

impl std::fmt::Debug for RoutesBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.routes.keys().collect();
        names.sort();
        f.debug_struct("Routes").field("services", &names).finish()
    }
}

impl RoutesBuilder {
    pub(crate) fn add<S: GrpcService>(&mut self, service: S) {
        match self.routes.entry(S::NAME) {
            Entry::Occupied(_) => {
                self.duplicate.get_or_insert(S::NAME);
            }
            Entry::Vacant(slot) => {
                slot.insert(route(service));
                self.described.push((S::NAME, S::FILE_DESCRIPTORS));
            }
        }
    }

    pub(crate) fn build(self) -> Result<Routes, ServeError> {
        if let Some(name) = self.duplicate {
            return Err(ServeError::duplicate_service(name));
        }
        let mut routes: Vec<_> = self.routes.into_iter().collect();
        routes.sort_unstable_by_key(|(name, _)| *name);
        Ok(Routes {
            routes,
            on_drain: self.on_drain,
            descriptors: Descriptors::new(self.described),
            max_request_message_size: self.max_request_message_size,
            interceptors: (!self.interceptors.is_empty()).then_some(self.interceptors),
        })
    }

    /// The server's message size limits (the defaults until set).
    pub(crate) fn limits(&mut self, limits: MessageLimits) {
        self.max_request_message_size = limits.max_request();
    }
}

/// What the standard services (`crate::standard`) ask of the table before it is built.
#[cfg_attr(not(all(feature = "health", feature = "reflection")), allow(dead_code))]
impl RoutesBuilder {
    /// Whether a service named `name` was added.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.routes.contains_key(name)
    }

    /// The names of the services added.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.described.iter().map(|(name, _)| *name)
    }

    /// Each service added, with its file descriptors.
    pub(crate) fn described(
        &self,
    ) -> impl Iterator<Item = (&'static str, &'static [&'static [u8]])> + '_ {
        self.described.iter().copied()
    }

    /// Runs `hook` when the server starts draining, before its connections are asked to
    /// close.
    pub(crate) fn on_drain(&mut self, hook: DrainHook) {
        self.on_drain.push(hook);
    }
}

/// The finished table a server routes with, sorted by service name: a binary search
/// compares a few names, where hashing the name with the standard hasher cost more (a
/// server has a handful of services, rarely hundreds).
pub(crate) struct Routes {
    routes: Vec<(&'static str, Route)>,
    on_drain: Vec<DrainHook>,
    /// The services' schemas, for Connect's JSON and GET.
    descriptors: Descriptors,
    max_request_message_size: usize,
    /// `None` when the server has none, so that a call pays nothing for them.
    interceptors: Option<ServerChain>,
}

impl Routes {
    /// The server takes no new calls from now on: health reports NOT_SERVING before the
    /// connections are asked to close, so balancers stop sending first. Returns the calls
    /// the GOAWAY waits for.
    pub(crate) fn draining(&self) -> Vec<CancellationToken> {
        self.on_drain.iter().flat_map(|hook| hook()).collect()
    }

    /// The services' schemas, built on first use.
    pub(crate) fn descriptors(&self) -> &Descriptors {
        &self.descriptors
    }

    /// The largest request message the server reads.
    pub(crate) fn max_request_message_size(&self) -> usize {
        self.max_request_message_size
    }

    /// The response to `request`, from the service its path names.
    pub(crate) fn call(&self, request: http::Request<tonic::body::Body>) -> ServerFuture {
        let path = request.uri().path();
        let service = service_name(path);
        let route = self.route(service);
        if let Some(chain) = &self.interceptors {
            let registered = route.is_some() && self.descriptors.declares(path);
            let route = route.cloned();
            return chain.serve(request, registered, move |request| match route {
                Some(route) => route(request),
                None => answer_with(&unknown_service(service_name(request.uri().path()))),
            });
        }
        match route {
            Some(route) => route(request),
            None => answer_with(&unknown_service(service)),
        }
    }

    /// The status a call to `path` gets when no schema describes it: its service is
    /// unknown, or only its method (as the service's own route would answer).
    pub(crate) fn unknown(&self, path: &str) -> Status {
        let service = service_name(path);
        match self.route(service) {
            Some(_) => unknown_method(path),
            None => unknown_service(service),
        }
    }

    fn route(&self, service: &str) -> Option<&Route> {
        self.routes
            .binary_search_by(|(name, _)| (*name).cmp(service))
            .ok()
            .and_then(|index| self.routes.get(index))
            .map(|(_, route)| route)
    }
}

/// `package.Service` in `/package.Service/Method`.
fn service_name(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').map_or(path, |(service, _)| service)
}

/// `service` behind the route table's one signature. Each request gets its own clone, made
/// ready as tower requires. A generated service always is ready, and its future is already
/// a [`ServerFuture`]: that case goes straight through, without a second box around the
/// future and a readiness wait around that.
fn route<S: GrpcService>(service: S) -> Route {
    Arc::new(move |request| {
        let mut service = service.clone();
        let mut cx = TaskContext::from_waker(Waker::noop());
        match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => as_server_future(service.call(request)),
            Poll::Ready(Err(never)) => match never {},
            // Polled again with a real waker, which the service then wakes.
            Poll::Pending => Box::pin(async move {
                poll_fn(|cx| service.poll_ready(cx)).await?;
                service.call(request).await
            }),
        }
    })
}

/// `future` as a [`ServerFuture`]: itself when it is one (a generated service's), else boxed.
fn as_server_future<F>(future: F) -> ServerFuture
where
    F: Future<Output = Result<http::Response<tonic::body::Body>, Infallible>> + Send + 'static,
{
    let mut slot = Some(future);
    if let Some(future) = (&mut slot as &mut dyn Any)
        .downcast_mut::<Option<ServerFuture>>()
        .and_then(Option::take)
    {
        return future;
    }
    match slot {
        Some(future) => Box::pin(future),
        // Only the downcast above takes the future out, and then it has returned.
        None => answer_with(&Status::internal(
            "rgrpc bug: a route lost its response future",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_future_goes_through_unboxed() {
        let future = answer_with(&Status::ok(""));
        let before = std::ptr::addr_of!(*future).cast::<()>();
        let after = as_server_future(future);
        assert_eq!(before, std::ptr::addr_of!(*after).cast::<()>());
    }

    #[test]
    fn the_service_is_the_first_path_segment() {
        assert_eq!(
            service_name("/hello.HelloService/SayHello"),
            "hello.HelloService"
        );
        assert_eq!(service_name("/hello.HelloService"), "hello.HelloService");
        assert_eq!(service_name("/"), "");
        assert_eq!(service_name("no-slash"), "no-slash");
    }
}
