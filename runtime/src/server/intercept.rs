//! Checks that run before a service sees a call: authentication, admission.
//!
//! tonic's own `InterceptedService` answers with a different body type than generated
//! servers do, so it does not mount in [`Server`](super::Server); [`intercept`] is the same
//! idea, answering with the service's own body type.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use futures_util::future::Either;
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;
use tower_service::Service;

use super::driver::status_response;
use super::router::{DescribedService, GrpcService};

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
    I: Interceptor + Clone + Send + Sync + 'static,
{
    Intercepted {
        service,
        interceptor,
    }
}

/// A service behind an interceptor: see [`intercept`].
#[derive(Clone, Debug)]
pub struct Intercepted<S, I> {
    service: S,
    interceptor: I,
}

impl<S, I> Service<http::Request<tonic::body::Body>> for Intercepted<S, I>
where
    S: GrpcService,
    I: Interceptor + Clone + Send + Sync + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Either<S::Future, Ready<Result<Self::Response, Infallible>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        let metadata = MetadataMap::from_headers(std::mem::take(&mut parts.headers));
        let extensions = std::mem::take(&mut parts.extensions);
        let checked = self
            .interceptor
            .call(tonic::Request::from_parts(metadata, extensions, ()));
        match checked {
            Ok(checked) => {
                let (metadata, extensions, ()) = checked.into_parts();
                parts.headers = metadata.into_headers();
                parts.extensions = extensions;
                Either::Left(self.service.call(http::Request::from_parts(parts, body)))
            }
            Err(status) => Either::Right(ready(Ok(status_response(&status)))),
        }
    }
}

impl<S: NamedService, I> NamedService for Intercepted<S, I> {
    const NAME: &'static str = S::NAME;
}

impl<S: DescribedService, I> DescribedService for Intercepted<S, I> {
    const FILE_DESCRIPTORS: &'static [&'static [u8]] = S::FILE_DESCRIPTORS;
}
