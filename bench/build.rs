//! Generates the peers' code for `proto/hello.proto`, each with its own generator, so the
//! benchmark compares generated code to generated code:
//!
//! * tonic: tonic-prost-build, into `$OUT_DIR/hello.rs`;
//! * connectrpc: connectrpc-build (buffa messages), into `$OUT_DIR/connect/`.
//!
//! Both need protoc, which this machine lacks: the vendored one runs here, and
//! connectrpc-build reads the descriptor set it wrote (setting `PROTOC` for it would need
//! `unsafe`, which the workspace forbids).

use std::error::Error;
use std::path::PathBuf;
use std::process::Command;

fn main() -> Result<(), Box<dyn Error>> {
    let proto = "../proto/hello.proto";
    println!("cargo:rerun-if-changed={proto}");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut config = prost_build::Config::new();
    config.protoc_executable(&protoc);
    tonic_prost_build::configure().compile_with_config(config, &[proto], &["../proto"])?;

    let descriptors = out_dir.join("hello.connect.binpb");
    let status = Command::new(&protoc)
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", descriptors.display()))
        .args(["--proto_path=../proto", proto])
        .status()?;
    if !status.success() {
        return Err(format!("protoc failed on {proto}: {status}").into());
    }
    connectrpc_build::Config::new()
        .descriptor_set(&descriptors)
        .files(&["hello.proto"])
        .out_dir(out_dir.join("connect"))
        .include_file("_connectrpc.rs")
        // With the JSON codec's code, as connectrpc is built (its `json` feature).
        .generate_json(true)
        .compile()?;
    Ok(())
}
