//! The benchmark binaries still run: tiny durations, no timing asserted (machines are
//! noisy; figures belong in `make bench`), only that every scenario produced a row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn rpc_bench_compares_every_scenario() {
    let output = Command::new(env!("CARGO_BIN_EXE_rpc-bench"))
        .args(["compare", "--reps", "1", "--seconds", "0.05"])
        .output()
        .expect("rpc-bench runs");
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
    let output = Command::new(env!("CARGO_BIN_EXE_lifecycle-latency"))
        .arg("5")
        .output()
        .expect("lifecycle-latency runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("DEADLINE_EXCEEDED"), "{text}");
    assert!(text.contains("server handler observes it"), "{text}");
}
