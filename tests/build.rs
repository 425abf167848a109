//! Generates tonic's own client for `proto/hello.proto` (tonic-prost-build, with the
//! vendored protoc), so `peer_tonic.rs` calls rgrpc servers exactly as a tonic user would;
//! and rgrpc's code for `tests/proto/jsonlab.proto` (rgrpc-build), the service of
//! `connect_json.rs`.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let proto = "../proto/hello.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_server(false)
        .compile_with_config(config, &[proto], &["../proto"])?;
    rgrpc_build::configure()
        .include("proto")
        .compile(&["proto/jsonlab.proto"])?;
    Ok(())
}
