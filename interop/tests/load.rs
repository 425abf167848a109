//! Load from an independent client: `interop/node/load.js` (grpc-js) against rgrpc's
//! `interop-server`, twice on one server:
//!
//! * the default load on one connection: 2,000 concurrent unary calls and 200 concurrent
//!   duplex streams of 50 small messages each;
//! * ten times that over four connections: 20,000 unary calls and 2,000 streams of 50.
//!
//! Each run must exit 0: every call OK and every message answered. Its JSON line is printed
//! (`--nocapture` shows it). The grpc-js peer is found as for the matrix (`peers/mod.rs`);
//! without it the test is skipped loudly, unless `RGRPC_REQUIRE_INTEROP=1`.
//!
//! Bounds: on a 2-core machine with two CPU hogs running, the slowest runs measured were
//! about 4 s (default) and 34 s (ten times) with the debug server; each run may take about
//! five times that and more. load.js bounds every call by `--deadline_s` and itself by that
//! plus 30 s, inside the test's limit, so it always gets to print what happened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::time::Duration;

use peers::{node_peer, rgrpc_server, run_bounded};

struct Load {
    what: &'static str,
    unary: u32,
    bidi: u32,
    messages: u32,
    connections: u32,
    /// load.js's deadline for each call, in seconds (it stops itself 30 s after that).
    deadline_s: u32,
    /// How long the whole load.js run may take.
    limit: Duration,
}

const LOADS: [Load; 2] = [
    Load {
        what: "default load, 1 connection",
        unary: 2_000,
        bidi: 200,
        messages: 50,
        connections: 1,
        deadline_s: 25,
        limit: Duration::from_secs(60),
    },
    Load {
        what: "10x load, 4 connections",
        unary: 20_000,
        bidi: 2_000,
        messages: 50,
        connections: 4,
        deadline_s: 120,
        limit: Duration::from_secs(180),
    },
];

#[test]
fn grpc_js_load_against_rgrpc_server() {
    let Some(node) = node_peer() else {
        eprintln!(
            "\n*** SKIPPED: the grpc-js load test (no Node.js peer; run `make interop-node` or `make test`) ***\n"
        );
        return;
    };
    let server = rgrpc_server();
    let mut problems = Vec::new();
    for load in &LOADS {
        let mut command = node.script("load.js");
        command.args([
            "--server_host".to_owned(),
            "127.0.0.1".to_owned(),
            "--server_port".to_owned(),
            server.port.to_string(),
            "--unary".to_owned(),
            load.unary.to_string(),
            "--bidi".to_owned(),
            load.bidi.to_string(),
            "--messages".to_owned(),
            load.messages.to_string(),
            "--connections".to_owned(),
            load.connections.to_string(),
            "--deadline_s".to_owned(),
            load.deadline_s.to_string(),
        ]);
        let (status, stdout, took) = run_bounded(command, "grpc-js load generator", load.limit);
        let line = stdout.lines().last().unwrap_or("(no output)");
        println!(
            "{} (unary {}, bidi {} x {}, connections {}) in {:.1} s: {line}",
            load.what,
            load.unary,
            load.bidi,
            load.messages,
            load.connections,
            took.as_secs_f64()
        );
        match status {
            None => problems.push(format!(
                "{}: load.js did not finish within {:?}",
                load.what, load.limit
            )),
            Some(status) if !status.success() => {
                problems.push(format!(
                    "{}: load.js exited with {status}: {line}",
                    load.what
                ));
            }
            Some(_) => {}
        }
    }
    drop(server);
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
