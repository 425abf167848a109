//! rgrpc's side of the standard gRPC interop tests (grpc/grpc
//! `doc/interop-test-descriptions.md`): the generated code for `proto/grpc/testing/`, the
//! server's `TestService` ([`service`]) and the client's cases ([`cases`]). The binaries
//! `interop-server` and `interop-client` speak the standard flags, so any gRPC
//! implementation's interop peer can be pointed at them, and they at it.

pub mod cases;
pub mod service;

/// The interop schema, generated with protoc-gen-rgrpc (`fixtures/interop`, checked by the
/// golden test).
pub mod proto {
    include!("../../fixtures/interop/expected/mod.rs");
}

pub use proto::grpc::testing;

/// A payload of `size` zero bytes, as every interop message carries.
pub fn zeros(size: usize) -> testing::Payload {
    testing::Payload {
        r#type: testing::PayloadType::Compressable.into(),
        body: vec![0; size],
    }
}
