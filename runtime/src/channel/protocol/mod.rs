//! The wire protocols a channel can speak: gRPC, or gRPC-Web or Connect for paths that
//! only carry HTTP/1.1 or do not pass trailers.
//!
//! The client above a channel always speaks gRPC (tonic's codec, deadlines, status rules).
//! For gRPC-Web and Connect the channel adapts each request on its way out and each
//! response on its way back, so that what reaches the client is the gRPC response the call
//! stands for: the same messages, and the status and trailers where gRPC puts them.

mod connect;
mod envelopes;
mod grpc_web;

use std::future::Future;
use std::pin::Pin;

use http::HeaderValue;
use http::header::{CONTENT_TYPE, TE};
use tonic::Status;
use tonic::body::Body;

use crate::call::status::{bidi_over_http1, write_grpc};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type Exchange =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

/// The protocol a [`Channel`](crate::Channel) speaks to its server.
///
/// gRPC needs HTTP/2 end to end. gRPC-Web and Connect also work over HTTP/1.1
/// ([`ChannelBuilder::http1`](crate::ChannelBuilder::http1)) and through proxies that drop
/// HTTP trailers; over HTTP/1.1 a call cannot stream both ways at once, so bidi calls need
/// HTTP/2 there too. The server must speak the protocol (rgrpc's, connect-go's and
/// connect-node's speak all three; Envoy's gRPC-Web filter translates gRPC-Web).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// gRPC over HTTP/2 (the default).
    #[default]
    Grpc,
    /// gRPC-Web, binary (`application/grpc-web+proto`): gRPC's messages, with the trailers
    /// sent as the last message of the body.
    GrpcWeb,
    /// The Connect protocol with the binary codec: unary calls are plain HTTP requests
    /// (`application/proto`), streams are `application/connect+proto`.
    Connect,
}

/// What the channel must know of a call to adapt it, set by the client on each request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CallShape {
    /// The call sends a stream of requests (client streaming or bidi).
    pub(crate) streams_requests: bool,
    /// The call answers with a stream (server streaming or bidi).
    pub(crate) streams_responses: bool,
    /// The largest response message the call accepts, for bodies the channel must read
    /// whole (a Connect unary answer).
    pub(crate) max_response: usize,
}

impl CallShape {
    /// Connect sends a call with one message each way as a plain HTTP request.
    fn is_unary(self) -> bool {
        !self.streams_requests && !self.streams_responses
    }
}

/// Sends `request`, a gRPC request, in `protocol` through `send`, and answers with the gRPC
/// response the protocol's answer stands for. `http1` says the transport is HTTP/1.1.
pub(crate) fn exchange<F>(
    protocol: Protocol,
    http1: bool,
    mut request: http::Request<Body>,
    send: F,
) -> Exchange
where
    F: FnOnce(http::Request<Body>) -> Exchange + Send + 'static,
{
    let shape = request.extensions().get::<CallShape>().copied();
    if http1 && shape.is_some_and(|shape| shape.streams_requests && shape.streams_responses) {
        let status = bidi_over_http1(request.uri().path());
        return Box::pin(std::future::ready(Ok(status_only(&status))));
    }
    if protocol == Protocol::Grpc {
        return send(request);
    }
    // `te: trailers` is gRPC's: HTTP/1.1 proxies may refuse it, and neither protocol needs it.
    request.headers_mut().remove(TE);
    match protocol {
        Protocol::Grpc => send(request),
        Protocol::GrpcWeb => grpc_web::exchange(request, send),
        Protocol::Connect => {
            // A call the client did not shape (a foreign client on this channel) is sent
            // as a stream: that is right for every kind.
            let shape = shape.unwrap_or(CallShape {
                streams_requests: true,
                streams_responses: true,
                max_response: usize::MAX,
            });
            connect::exchange(request, shape, send)
        }
    }
}

/// A gRPC response that is only a status (a "trailers-only" response).
fn status_only(status: &Status) -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    write_grpc(status, headers);
    response
}
