//! The benchmark's messages: `tests/proto/jsonlab.proto` as prost structs, with pbjson's
//! serde impls beside them, and the descriptor set prost-reflect reads.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let set = out.join("jsonlab.bin");
    let proto = "../../tests/proto/jsonlab.proto";
    println!("cargo:rerun-if-changed={proto}");
    let mut config = prost_build::Config::new();
    config
        .protoc_executable(protoc_bin_vendored::protoc_bin_path()?)
        .file_descriptor_set_path(&set)
        .compile_well_known_types()
        .extern_path(".google.protobuf", "::pbjson_types");
    config.compile_protos(&[proto], &["../../tests/proto"])?;
    pbjson_build::Builder::new()
        .register_descriptors(&std::fs::read(&set)?)?
        .build(&[".jsonlab"])?;
    Ok(())
}
