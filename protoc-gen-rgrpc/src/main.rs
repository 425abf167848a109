//! The plugin executable: protoc writes a `CodeGeneratorRequest` to our stdin and reads the
//! `CodeGeneratorResponse` from our stdout. Everything else lives in the library.
//! `protoc-gen-rgrpc compile ...` is the mode without protoc ([`cli`]).

mod cli;

use std::io::{Read, Write};
use std::process::ExitCode;

use prost::Message;
use prost_types::compiler::CodeGeneratorRequest;

/// The help text; `{PARAMETERS}` stands for the parameter list (`usage`).
const USAGE: &str = "\
protoc-gen-rgrpc: generates gRPC clients, servers and messages for the rgrpc runtime

This program is run by protoc, not directly:

    protoc --plugin=protoc-gen-rgrpc=PATH --rgrpc_out=OUT_DIR [--rgrpc_opt=k=v,...] FILE.proto

Options (--rgrpc_opt): {PARAMETERS}

Without protoc, the same binary parses the .proto files itself (same output):

    protoc-gen-rgrpc compile [-I DIR]... [--opt k=v,...] --out DIR FILE.proto...

    --help       print this help (compile --help: the compile mode's)
    --version    print the version, and the rgrpc runtime the output is for";

/// The help text, with every parameter the plugin accepts.
fn usage() -> String {
    USAGE.replace("{PARAMETERS}", &protoc_gen_rgrpc::parameter_usage())
}

fn main() -> ExitCode {
    // This process is ours: prost-build's panics become errors in the response, not noise.
    protoc_gen_rgrpc::quiet_prost_panics();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("--version" | "-V") => {
            println!(
                "protoc-gen-rgrpc {} (generates code for the rgrpc runtime {}, codegen contract v{})",
                env!("CARGO_PKG_VERSION"),
                protoc_gen_rgrpc::RUNTIME_VERSION,
                protoc_gen_rgrpc::CODEGEN_CONTRACT
            );
            return ExitCode::SUCCESS;
        }
        Some("compile") => return cli::main(&args[1..]),
        Some("--help" | "-h") => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!(
                "protoc-gen-rgrpc: unknown argument {other:?}\n\n{}",
                usage()
            );
            return ExitCode::FAILURE;
        }
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("protoc-gen-rgrpc: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|err| format!("cannot read the request from stdin: {err}"))?;
    let request = CodeGeneratorRequest::decode(input.as_slice()).map_err(|err| {
        format!(
            "stdin is not a CodeGeneratorRequest ({} bytes): {err}; this program is run by protoc",
            input.len()
        )
    })?;
    let response = protoc_gen_rgrpc::generate_for_driver(&request);
    std::io::stdout()
        .lock()
        .write_all(&response.encode_to_vec())
        .map_err(|err| format!("cannot write the response to stdout: {err}"))
}
