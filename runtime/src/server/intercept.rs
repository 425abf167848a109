//! Interceptors of one service: [`InterceptedService`] (async, see [`crate::intercept`])
//! and [`intercept`], its synchronous form for tonic's interceptors.
//!
//! tonic's own `InterceptedService` answers with a different body type than generated
//! servers do, so it does not mount in [`Server`](super::Server); these answer with the
//! service's own body type.

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tonic::Status;
use tonic::server::NamedService;
use tower_service::Service;

use super::dispatch::ServerFuture;
use super::protocol::Descriptors;
use super::router::{DescribedService, GrpcService};
use crate::intercept::server::ServerChain;
use crate::intercept::{ServerCall, ServerInterceptor};

/// What [`intercept`] runs on each call: tonic's interceptor, which any
/// `FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, Status>` closure is.
pub use tonic::service::Interceptor;

/// Wraps `service` so that `interceptor` sees every call's metadata first.
///
/// The interceptor gets the request metadata and extensions (no message). Returning
/// `Err(status)` answers the call with that status, and the service's handler never runs;
/// returning the request (metadata or extensions changed, if it likes) lets the call
/// through. An extension it inserts — who the caller is, say — reaches the handler as
/// [`Context::extensions`](super::Context::extensions).
///
/// ```
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use hello::hello_service_client::HelloServiceClient;
/// use hello::hello_service_server::HelloServiceServer;
/// use hello::HelloRequest;
/// use rgrpc::{Code, Status};
///
/// fn authenticate(request: rgrpc::tonic::Request<()>) -> Result<rgrpc::tonic::Request<()>, Status> {
///     match request.metadata().get("authorization") {
///         Some(token) if token == "Bearer s3cret" => Ok(request),
///         _ => Err(Status::unauthenticated("a valid bearer token is required")),
///     }
/// }
///
/// # block_on(async {
/// let server = rgrpc::Server::builder()
///     .add_service(rgrpc::server::intercept(HelloServiceServer::new(MyHello), authenticate))
///     .serve_in_process();
/// let client = HelloServiceClient::new(server.channel());
///
/// let refused = client.say_hello(HelloRequest::default()).await.unwrap_err();
/// assert_eq!(refused.code(), Code::Unauthenticated);
///
/// let mut call = client.say_hello(HelloRequest::default());
/// call.metadata_mut().insert("authorization", "Bearer s3cret".parse()?);
/// assert!(call.await.is_ok());
/// # Ok(()) }).unwrap();
/// ```
pub fn intercept<S, I>(service: S, interceptor: I) -> Intercepted<S, I>
where
    S: GrpcService,
    I: Interceptor + Send + 'static,
{
    Intercepted {
        service: InterceptedService::new(service, Synchronous(Mutex::new(interceptor))),
        _interceptor: PhantomData,
    }
}

/// A service behind a synchronous interceptor: see [`intercept`]. It is an
/// [`InterceptedService`] underneath, the interceptor adapted to the async trait.
pub struct Intercepted<S, I> {
    service: InterceptedService<S>,
    _interceptor: PhantomData<fn() -> I>,
}

impl<S: Clone, I> Clone for Intercepted<S, I> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            _interceptor: PhantomData,
        }
    }
}

impl<S: std::fmt::Debug, I> std::fmt::Debug for Intercepted<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intercepted")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<S: GrpcService, I: 'static> Service<http::Request<tonic::body::Body>> for Intercepted<S, I> {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = ServerFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        self.service.call(request)
    }
}

impl<S: NamedService, I> NamedService for Intercepted<S, I> {
    const NAME: &'static str = S::NAME;
}

impl<S: DescribedService, I> DescribedService for Intercepted<S, I> {
    const FILE_DESCRIPTORS: &'static [&'static [u8]] = S::FILE_DESCRIPTORS;
}

/// A tonic interceptor as an async one whose `before` is ready at once.
struct Synchronous<I>(Mutex<I>);

impl<I: Interceptor + Send + 'static> ServerInterceptor for Synchronous<I> {
    async fn before(&self, call: &mut ServerCall) -> Result<(), Status> {
        let mut interceptor = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        call.through_tonic(|request| interceptor.call(request))
    }
}

/// A service with interceptors of its own, which run around each of its calls after the
/// whole server's ([`Server::interceptor`](super::Server::interceptor)). Works with any
/// service a [`Server`](super::Server) serves, generated by rgrpc or by tonic.
///
/// ```
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use hello::hello_service_server::HelloServiceServer;
/// use rgrpc::intercept::{ServerCall, ServerInterceptor};
/// use rgrpc::server::InterceptedService;
/// use rgrpc::Status;
///
/// struct Admission;
///
/// impl ServerInterceptor for Admission {
///     async fn before(&self, call: &mut ServerCall) -> Result<(), Status> {
///         match call.metadata().get("x-tenant") {
///             Some(_) => Ok(()),
///             None => Err(Status::permission_denied("which tenant?")),
///         }
///     }
/// }
///
/// # block_on(async {
/// let server = rgrpc::Server::builder()
///     .add_service(InterceptedService::new(HelloServiceServer::new(MyHello), Admission))
///     .serve_in_process();
/// # Ok(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct InterceptedService<S> {
    service: S,
    chain: ServerChain,
    /// The service's schema: which methods it declares.
    descriptors: Arc<Descriptors>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for InterceptedService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterceptedService")
            .field("service", &self.service)
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

impl<S: GrpcService> InterceptedService<S> {
    /// `service`, with `interceptor` around each of its calls.
    pub fn new(service: S, interceptor: impl ServerInterceptor) -> Self {
        let mut chain = ServerChain::default();
        chain.push(interceptor);
        Self {
            service,
            chain,
            descriptors: Arc::new(Descriptors::new(vec![(S::NAME, S::FILE_DESCRIPTORS)])),
        }
    }

    /// Adds another interceptor, which runs after those added before.
    pub fn interceptor(mut self, interceptor: impl ServerInterceptor) -> Self {
        self.chain.push(interceptor);
        self
    }
}

impl<S: GrpcService> Service<http::Request<tonic::body::Body>> for InterceptedService<S> {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = ServerFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let registered = self.descriptors.declares(request.uri().path());
        // The service made ready goes with the call; this one waits to be made ready again.
        let clone = self.service.clone();
        let mut ready = std::mem::replace(&mut self.service, clone);
        self.chain.serve(request, registered, move |request| {
            Box::pin(ready.call(request))
        })
    }
}

impl<S: NamedService> NamedService for InterceptedService<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: DescribedService> DescribedService for InterceptedService<S> {
    const FILE_DESCRIPTORS: &'static [&'static [u8]] = S::FILE_DESCRIPTORS;
}
