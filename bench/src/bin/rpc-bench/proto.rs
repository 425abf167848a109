//! The peers' generated code for `proto/hello.proto`, each from its own generator (see
//! `build.rs`); rgrpc's is `rgrpc_tests::hello`, from protoc-gen-rgrpc.

/// tonic-prost-build's messages, client and server.
pub mod tonic_hello {
    tonic::include_proto!("hello");
}

/// connectrpc-build's: buffa messages and views, the service trait and its dispatcher.
// The generated code is theirs: its lints are not ours to fix.
#[allow(missing_debug_implementations, clippy::all)]
pub mod connect_hello {
    include!(concat!(env!("OUT_DIR"), "/connect/_connectrpc.rs"));
}
