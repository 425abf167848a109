//! The benchmark binaries still run: tiny durations, no timing asserted (machines are
//! noisy; figures belong in `make bench`), only that every table has its rows and that a
//! counted run does exactly its calls.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a benchmark binary may run here: only a hang trips it, far above the few
/// seconds these tiny runs take in a debug build on a busy machine.
const LIMIT: Duration = Duration::from_secs(300);

/// Runs `command` to its end, waiting at most [`LIMIT`]: past that the child (and only it,
/// by its handle) is killed and the test fails.
fn run_bounded(command: &mut Command) -> Output {
    rgrpc_dev::run_bounded(command, b"", LIMIT)
}

/// `rpc-bench ARGS`, which must succeed: its stdout.
fn rpc_bench(args: &[&str]) -> String {
    let output = run_bounded(Command::new(env!("CARGO_BIN_EXE_rpc-bench")).args(args));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "rpc-bench {args:?}:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn assert_rows(table: &str, scenarios: &[&str]) {
    for scenario in scenarios {
        assert!(
            table.contains(&format!("| {scenario} |")),
            "no row for {scenario}:\n{table}"
        );
    }
}

/// The scenarios of the Rust load generator (h2load's rows depend on h2load installed).
const OURS: [&str; 8] = [
    "unary_c1",
    "unary_c64",
    "server_stream_c64x10",
    "server_stream_1000",
    "client_stream_1000",
    "bidi_c1",
    "bidi_c64",
    "large_unary_1mib",
];

fn h2load_installed() -> bool {
    Command::new("h2load")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn servers_table_has_every_scenario_for_three_servers() {
    let table = rpc_bench(&["servers", "--reps", "1", "--seconds", "0.05"]);
    assert!(table.contains("| rgrpc | tonic | connectrpc |"), "{table}");
    assert!(table.contains("server CPU per call (µs)"), "{table}");
    assert_rows(&table, &OURS);
    if h2load_installed() {
        assert_rows(&table, &["h2load_unary_c1", "h2load_unary_c64"]);
        assert!(
            table.contains(
                "gRPC over HTTP/2 (rgrpc, tonic, connectrpc): 200, the echo, grpc-status 0"
            ),
            "{table}"
        );
    } else {
        eprintln!("h2load is not installed (bench/setup.sh): its rows are not checked");
    }
}

/// Every protocol's rows, each protocol's answer checked once per server, or said to be not
/// served.
#[test]
fn protocols_table_has_every_protocol_for_rgrpc_and_connectrpc() {
    if !h2load_installed() {
        eprintln!("SKIPPED: h2load is not installed (bench/setup.sh)");
        return;
    }
    let table = rpc_bench(&["protocols", "--reps", "1", "--seconds", "0.05"]);
    assert!(table.contains("| rgrpc | connectrpc |"), "{table}");
    assert!(!table.contains("| tonic |"), "{table}");
    assert_rows(
        &table,
        &[
            "h2load_unary_c64",
            "grpc_web_c64",
            "grpc_web_h1_c64",
            "connect_proto_c64",
            "connect_proto_h1_c64",
        ],
    );
    for checked in [
        "gRPC-Web over HTTP/1.1 (rgrpc, connectrpc): 200, the echo, grpc-status 0 in the trailers envelope",
        "Connect proto over HTTP/2 (rgrpc, connectrpc): 200, the echo as a bare message",
    ] {
        assert!(table.contains(checked), "{checked}:\n{table}");
    }
    assert!(
        table.contains("| grpc_web_h1_c64 | calls/s / h2load_unary_c64 |"),
        "{table}"
    );
    // Connect JSON: measured, or a server said it does not serve it (HTTP 415).
    assert!(
        table.contains("| connect_json_c64 |")
            || table.contains("Connect JSON over HTTP/2 with HTTP 415: not served"),
        "{table}"
    );
}

/// Two builds compared: here this binary against itself, which must work the same.
#[test]
fn builds_table_compares_two_binaries() {
    let exe = env!("CARGO_BIN_EXE_rpc-bench");
    let table = rpc_bench(&[
        "builds",
        "--after",
        exe,
        "--before",
        exe,
        "--reps",
        "2",
        "--seconds",
        "0.05",
        "--scenarios",
        "unary_c64",
        "--short",
        "0",
    ]);
    assert!(
        table.contains(
            "| after | before | before again | after/before (min–max) | before again/before (min–max) |"
        ),
        "{table}"
    );
    assert_rows(&table, &["unary_c64"]);
    assert!(table.contains("callgrind: not run"), "{table}");
}

#[test]
fn clients_table_has_every_scenario_for_two_clients() {
    let table = rpc_bench(&["clients", "--reps", "1", "--seconds", "0.05"]);
    assert!(table.contains("| rgrpc | tonic |"), "{table}");
    assert!(table.contains("client CPU per call (µs)"), "{table}");
    assert_rows(&table, &OURS);
    assert!(!table.contains("h2load_unary"), "{table}");
}

#[test]
fn scaling_and_idle_tables_have_their_rows() {
    let table = rpc_bench(&[
        "scaling",
        "--reps",
        "1",
        "--seconds",
        "0.05",
        "--scenarios",
        "unary_c64",
    ]);
    assert_rows(&table, &["unary_c64"]);
    assert!(table.contains("2 threads / 1 thread"), "{table}");

    let table = rpc_bench(&["idle", "--reps", "1", "--connections", "10"]);
    for server in ["rgrpc", "tonic", "connectrpc"] {
        assert!(table.contains(&format!("| {server} |")), "{table}");
    }
}

/// `--calls N` does exactly N measured calls: callgrind's per-call figure depends on it.
#[test]
fn a_counted_run_makes_exactly_its_calls() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_rpc-bench"))
        .args(["serve", "--server", "rgrpc"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = server.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(LIMIT).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    for (scenario, calls, operations) in
        [("unary_c64", "7", "7"), ("server_stream_c64x10", "3", "30")]
    {
        let figures = rpc_bench(&[
            "load",
            "--client",
            "rgrpc",
            "--addr",
            &addr,
            "--scenario",
            scenario,
            "--calls",
            calls,
        ]);
        assert!(
            figures.contains(&format!("operations={operations} ")),
            "{scenario}: {figures}"
        );
    }
    // Closing stdin stops the server (a bounded wait; killed by its handle past it).
    drop(server.stdin.take());
    let deadline = std::time::Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = server.kill();
            let _ = server.wait();
            panic!("the server did not stop when its stdin closed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
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
