//! The only surface generated code uses. Not for hand-written code: its shape follows the
//! generator, and it changes with it.
//!
//! Generated files assert [`RGRPC_CODEGEN_V1`]: code from a plugin newer than this runtime
//! fails to compile with that name in the error, instead of with a puzzling type mismatch.
//!
//! Generated code also names a few items outside this module, through the crate root
//! (`::rgrpc::Status`, `::rgrpc::Context`, …: the types a user's handler and caller see).
//! The `contract` section at the end lists every one of them, so that they are part of
//! the same versioned contract: see [`GENERATED_CODE_NAMES`].

pub use std::sync::Arc;

pub use futures_core::Stream;
pub use futures_util::stream::BoxStream;
pub use http;
pub use tonic::server::NamedService;
pub use tower_service::Service;

pub use crate::blocking::BlockingClient;
pub use crate::client::{Client, ClientStreamingCall, StreamingCall, UnaryCall};
pub use crate::server::DescribedService;

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
pub fn unimplemented_method(method: &'static str) -> tonic::Status {
    tonic::Status::unimplemented(format!("{method} is not implemented by this server"))
}

/// Turns any stream of requests into the boxed stream the client runtime takes, so that
/// the generic part of a streaming call stays in one place.
pub fn box_requests<S>(requests: S) -> BoxStream<'static, S::Item>
where
    S: futures_core::Stream + Send + 'static,
{
    Box::pin(requests)
}

// ---- contract: the items outside `codegen` that generated code names ----
//
// Part of the RGRPC_CODEGEN_V1 contract as much as the items above. The macro makes the
// list and the check one: each entry is imported below through the crate root, as
// generated code writes it, so renaming or moving one breaks the runtime's own build here,
// at this list, instead of breaking users' generated code. If that happens, the item must
// stay at its old path, or the generator and RGRPC_CODEGEN_V1 move to a new version.
//
// `tests/tests/codegen_surface.rs` scans every golden and generated file for `::rgrpc::…`
// paths and fails on one that neither starts with `codegen::` nor is covered by this list
// (and on an entry no generated file uses). These imports are the one place internal code
// names the crate-root re-exports: checking them is the point.

macro_rules! contract {
    ($($first:ident $(:: $rest:ident)*),* $(,)?) => {
        /// Every path outside `codegen` that generated code names under the runtime's root
        /// (`::rgrpc::` by default), as written after the root; an entry also covers the paths
        /// under it (`prost` covers `prost::Message`). Checked at compile time (each is
        /// imported) and against the goldens by `tests/tests/codegen_surface.rs`.
        #[doc(hidden)]
        pub const GENERATED_CODE_NAMES: &[&str] =
            &[$(concat!(stringify!($first) $(, "::", stringify!($rest))*)),*];

        #[allow(unused_imports)]
        mod contract {
            $(use crate::$first $(:: $rest)* as _;)*
        }
    };
}

contract![
    Status,
    Response,
    Context,
    ResponseStream,
    ResponseSink,
    RequestStream,
    Channel,
    blocking::Channel,
    prost,
    prost_types,
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_contract_list_reads_as_generated_code_writes_it() {
        assert!(super::GENERATED_CODE_NAMES.contains(&"blocking::Channel"));
        assert!(super::GENERATED_CODE_NAMES.contains(&"Status"));
    }
}
