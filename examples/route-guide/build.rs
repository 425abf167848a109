//! Generates the route guide's messages, client and server from `proto/route_guide.proto`
//! into `OUT_DIR` at build time: no protoc, nothing generated checked in.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    rgrpc_build::configure()
        .include("proto")
        .compile(&["proto/route_guide.proto"])?;
    Ok(())
}
