//! `rgrpc-build`: generate rgrpc code from `.proto` files in a build script, with no protoc.
//!
//! This is the `build.rs` path to the same generator as the `protoc-gen-rgrpc` plugin: the
//! `.proto` files are parsed in Rust (the plugin's `compile` front end), so a build needs
//! no protoc installed, and the output is byte for byte what
//! `protoc --rgrpc_out` writes for the same files and parameters.
//!
//! # Use
//!
//! In `Cargo.toml`, `rgrpc` under `[dependencies]` and `rgrpc-build` under
//! `[build-dependencies]`. Then:
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     rgrpc_build::configure()
//!         .include("proto")
//!         .blocking(false) // typed setters for the common parameters,
//!         .parameter("btree_map=.") // or any `--rgrpc_opt` string
//!         .compile(&["proto/hello.proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! ```ignore
//! // src/lib.rs: one module per proto package, nested like the package.
//! pub mod hello {
//!     rgrpc::include_proto!("hello"); // = include!(concat!(env!("OUT_DIR"), "/hello.rs"))
//! }
//! ```
//!
//! (The macro is the runtime's, `rgrpc::include_proto!`: `rgrpc-build` is a build
//! dependency only, so it cannot export macros to the crate's own code.)
//!
//! [`Builder::compile`] writes one file per proto package to `$OUT_DIR` (or the directory
//! given to [`Builder::out_dir`]), named as the plugin names them: `hello.rs` for package
//! `hello`, `a.b.rs` for `a.b`, `_.rs` for no package. It prints
//! `cargo:rerun-if-changed` for every `.proto` file read (imports included; the well-known
//! types built into the front end have no file to watch) and for every include directory,
//! so cargo re-runs the build script exactly when an input changes.
//!
//! # Errors
//!
//! A build script that returns [`Error`] from `main` fails the build with the message as
//! the front end wrote it, located at the file, line and column of the offending token:
//!
//! ```text
//! Error: proto/bad.proto:6:1: expected ';' or '[', but found '}' (near `}`)
//! ```
//!
//! # Parameters
//!
//! [`Builder::parameter`] takes any parameter string the plugin accepts
//! (`--rgrpc_opt`, see the `protoc-gen-rgrpc` documentation); the typed setters
//! ([`Builder::client`], [`Builder::extern_path`], …) hand the plugin typed settings
//! (`protoc_gen_rgrpc::Parameters`), values as written, commas needing no escape. Both are
//! checked together, in the order given: unknown or repeated parameters are errors, exactly
//! as with the plugin.

mod builder;
mod error;
mod rerun;

pub use builder::{Builder, configure};
pub use error::Error;
