//! `rgrpc-protoc`: runs `protoc` for Makefiles and scripts on machines without
//! one installed.
//!
//! Usage: `cargo run -q -p rgrpc-dev --bin rgrpc-protoc -- <protoc args>`.
//! The compiler is `$PROTOC` if set and non-empty, else the vendored binary;
//! `-I <vendored include dir>` is appended after the given arguments so the
//! well-known types resolve while user `-I` directories still take precedence.
//! stdin/stdout/stderr are inherited and protoc's exit code is returned.
//! `rgrpc-protoc --print-path` prints the chosen protoc path and exits 0.
//! Failures of this wrapper itself print `rgrpc-protoc: <reason>` and exit 2.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// Exit code for failures of the wrapper itself (not of protoc).
const WRAPPER_FAILURE: u8 = 2;

fn main() -> ExitCode {
    match run(std::env::args_os().skip(1).collect()) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("rgrpc-protoc: {message}");
            ExitCode::from(WRAPPER_FAILURE)
        }
    }
}

/// Handles `--print-path` or runs protoc with `args`, returning its exit code.
fn run(args: Vec<OsString>) -> Result<ExitCode, String> {
    if args.len() == 1 && args[0] == "--print-path" {
        let path = rgrpc_dev::protoc_path()?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", path.display())
            .and_then(|()| stdout.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let include = rgrpc_dev::well_known_include()?;
    let mut command = rgrpc_dev::protoc_command()?;
    command.args(&args).arg("-I").arg(&include);
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", command.get_program().display()))?;
    Ok(exit_code_of(status))
}

/// Maps protoc's exit status to ours; death by signal counts as failure.
fn exit_code_of(status: std::process::ExitStatus) -> ExitCode {
    match status.code() {
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::FAILURE,
    }
}
