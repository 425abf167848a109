//! When a call arrived, stamped before tonic's server arms its own deadline timer.
//!
//! tonic's server wraps every service in a layer that also enforces the client's
//! `grpc-timeout`, and answers `CANCELLED` ("Timeout expired") when its timer fires first.
//! It arms that timer as soon as hyper hands it the request, while rgrpc's driver is first
//! polled later, from the call's own task: under load, milliseconds later. A deadline
//! measured from then lost the race in about 2 expired calls in 1,000 (100 at a time, two
//! CPU hogs running), and those clients saw `CANCELLED` where gRPC says `DEADLINE_EXCEEDED`.
//!
//! So [`Server`](super::Server) puts this layer inside tonic's: tonic calls it just before
//! it arms its timer, and the deadline is measured from the same instant. The driver's
//! timer then fires no later than tonic's, and it checks the clock as well, since tokio may
//! wake the task for tonic's timer before it marks rgrpc's as fired. A service mounted in a
//! plain tonic server has no stamp: its deadline counts from its first poll.

use std::task::{Context, Poll};
use std::time::Instant;

use tower::Layer;
use tower_service::Service;

/// The instant a request reached the server's services.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arrived(pub(crate) Instant);

/// Stamps each request with [`Arrived`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StampArrival;

impl<S> Layer<S> for StampArrival {
    type Service = Stamped<S>;

    fn layer(&self, inner: S) -> Stamped<S> {
        Stamped { inner }
    }
}

/// A service whose requests carry [`Arrived`].
#[derive(Clone, Debug)]
pub(crate) struct Stamped<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Stamped<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        request.extensions_mut().insert(Arrived(Instant::now()));
        self.inner.call(request)
    }
}
