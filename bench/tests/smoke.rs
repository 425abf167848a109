//! The benchmark binaries still run: tiny durations, no timing asserted (machines are
//! noisy; figures belong in `make bench`), only that every scenario produced a row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::time::Duration;

/// How long a benchmark binary may run here: only a hang trips it, far above the few
/// seconds these tiny runs take in a debug build on a busy machine.
const LIMIT: Duration = Duration::from_secs(300);

/// Runs `command` to its end, waiting at most [`LIMIT`]: past that the child (and only it,
/// by its handle) is killed and the test fails.
fn run_bounded(command: &mut Command) -> Output {
    rgrpc_dev::run_bounded(command, b"", LIMIT)
}

#[test]
fn rpc_bench_compares_every_scenario() {
    let output = run_bounded(Command::new(env!("CARGO_BIN_EXE_rpc-bench")).args([
        "compare",
        "--reps",
        "1",
        "--seconds",
        "0.05",
    ]));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{table}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for scenario in [
        "unary_c1",
        "unary_c64",
        "server_streaming",
        "client_streaming",
        "bidi_ping_pong",
        "large_unary_1mib",
    ] {
        assert!(
            table.contains(&format!("| {scenario} |")),
            "no row for {scenario}:\n{table}"
        );
    }
}

#[test]
fn lifecycle_latency_reports_both_measures() {
    let output = run_bounded(Command::new(env!("CARGO_BIN_EXE_lifecycle-latency")).arg("5"));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("DEADLINE_EXCEEDED"), "{text}");
    assert!(text.contains("server handler observes it"), "{text}");
}
