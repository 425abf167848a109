//! The only surface generated code uses. Not for hand-written code: its shape follows the
//! generator, and it changes with it.
//!
//! Generated files assert [`RGRPC_CODEGEN_V1`]: code from a plugin newer than this runtime
//! fails to compile with that name in the error, instead of with a puzzling type mismatch.

pub use std::sync::Arc;

pub use futures_core::Stream;
pub use futures_util::stream::BoxStream;
pub use http;
pub use tonic::server::NamedService;
pub use tower_service::Service;

pub use crate::blocking::BlockingClient;
pub use crate::client::{Client, ClientStreamingCall, StreamingCall, UnaryCall};

/// A blocking unary (or client-streaming) call.
pub type BlockingUnaryCall<Req, Resp> =
    crate::blocking::Call<Req, Resp, crate::client::UnaryResponse>;
/// A blocking server-streaming call.
pub type BlockingStreamingCall<Req, Resp> =
    crate::blocking::Call<Req, Resp, crate::client::ResponseStream<Resp>>;
/// A blocking bidi call.
pub type BlockingBidiCall<Req, Resp> = crate::blocking::BidiCall<Req, Resp>;
pub use crate::server::dispatch::{
    IncomingCall, ServerFuture, bidi_streaming, client_streaming, server_streaming, unary,
    unimplemented,
};

/// The version of the generated-code contract this runtime implements.
pub const RGRPC_CODEGEN_V1: () = ();

/// The response body of a generated server (tonic's, so it mounts in tonic's router).
pub type ResponseBody = tonic::body::Body;

/// Any HTTP request body a generated server accepts: whatever tower stack is in front.
pub trait RequestBody:
    http_body::Body<Data = bytes::Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + 'static
{
}

impl<B> RequestBody for B where
    B: http_body::Body<Data = bytes::Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + 'static
{
}

/// The status a handler the user did not implement answers with.
pub fn unimplemented_method(method: &'static str) -> crate::Status {
    crate::Status::unimplemented(format!("{method} is not implemented by this server"))
}

/// Turns any stream of requests into the boxed stream the client runtime takes, so that
/// the generic part of a streaming call stays in one place.
pub fn box_requests<S>(requests: S) -> BoxStream<'static, S::Item>
where
    S: futures_core::Stream + Send + 'static,
{
    Box::pin(requests)
}
