//! The client side of a call: a shared [`Client`], per-call builders and what they return.
//!
//! A generated client method only names the route and the message types; it returns a
//! [`Call`] from this module. Awaiting the call runs it:
//!
//! | kind | request | awaiting gives |
//! |---|---|---|
//! | unary | one message | `Result<Response<Resp>, Status>` |
//! | server streaming | one message | `Result<ResponseStream<Resp>, Status>` |
//! | client streaming | a stream of messages | `Result<Response<Resp>, Status>` |
//! | bidi streaming | a stream of messages | `Result<ResponseStream<Resp>, Status>` |
//!
//! Calls that answer with a stream hand it over as soon as the call is sent, without
//! waiting for the server's headers or first message, so a bidi ping-pong cannot deadlock.

mod call;
mod limits;
mod response;
mod stream;

pub(crate) use call::Requests;
pub use call::{Call, ClientStreamingCall, StreamingCall, UnaryCall, UnaryResponse};
pub use response::Response;
pub use stream::ResponseStream;

use futures_util::stream::BoxStream;
use tonic::client::Grpc;

use crate::Channel;

/// What every generated client wraps: a channel plus the gRPC protocol on top of it.
///
/// Cloning is cheap and clones share the channel, so clients can be stored in structs and
/// moved into tasks freely; every call takes `&self`.
#[derive(Clone, Debug)]
pub struct Client {
    grpc: Grpc<Channel>,
}

impl Client {
    /// A client sending its calls over `channel`.
    pub fn new(channel: Channel) -> Self {
        // Servers may compress their answers with gzip; we say we can read that.
        Self {
            grpc: Grpc::new(channel).accept_compressed(tonic::codec::CompressionEncoding::Gzip),
        }
    }

    /// Starts building a unary call to `path` (`"/package.Service/Method"`).
    pub fn unary<Req, Resp>(&self, path: &'static str, request: Req) -> UnaryCall<Req, Resp> {
        self.call(path, Requests::One(request))
    }

    /// Starts building a server-streaming call to `path`.
    pub fn server_streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: Req,
    ) -> StreamingCall<Req, Resp> {
        self.call(path, Requests::One(request))
    }

    /// Starts building a client-streaming call to `path`.
    pub fn client_streaming<Req, Resp>(
        &self,
        path: &'static str,
        requests: BoxStream<'static, Req>,
    ) -> ClientStreamingCall<Req, Resp> {
        self.call(path, Requests::Many(requests))
    }

    /// Starts building a call of any shape to `path`.
    pub(crate) fn call<Req, Resp, Answer>(
        &self,
        path: &'static str,
        requests: Requests<Req>,
    ) -> Call<Req, Resp, Answer> {
        Call::new(self.grpc.clone(), path, requests)
    }

    /// Starts building a bidirectional-streaming call to `path`.
    pub fn bidi_streaming<Req, Resp>(
        &self,
        path: &'static str,
        requests: BoxStream<'static, Req>,
    ) -> StreamingCall<Req, Resp> {
        self.call(path, Requests::Many(requests))
    }
}
