//! Generates the fleet service from proto/fleet.proto into OUT_DIR with rgrpc-build (no
//! protoc).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rgrpc_build::configure()
        .include("proto")
        .compile(&["proto/fleet.proto"])?;
    Ok(())
}
