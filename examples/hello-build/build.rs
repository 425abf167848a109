//! Generates the hello service from the repository's proto/hello.proto into OUT_DIR, with
//! no protoc: rgrpc-build parses the .proto in Rust.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rgrpc_build::configure()
        .include("../../proto")
        .compile(&["../../proto/hello.proto"])?;
    Ok(())
}
