//! Generates the peer's code: tonic-prost-build on `proto/hello.proto`, with the vendored
//! protoc (this machine has none), so the benchmark compares generated code to generated code.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let proto = "../proto/hello.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(config, &[proto], &["../proto"])?;
    Ok(())
}
