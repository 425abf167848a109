//! The interop matrix: every standard case in six pairings, over HTTP/2 on 127.0.0.1:
//!
//! * rgrpc client → rgrpc server;
//! * rgrpc client → grpcio server (Python, the C core), and grpcio client → rgrpc server;
//! * rgrpc client → grpc-js server (Node.js, `@grpc/grpc-js`), and grpc-js client → rgrpc
//!   server;
//! * grpc-js client → grpc-js server, as a control: what the peer itself passes.
//!
//! The grpcio and grpc-js servers also record how each call ended *on their side*, so the
//! matrix checks that they saw our client's cancellations and deadlines, not only that our
//! client reported them. Prints the case × pairing table (`make interop` shows it).
//!
//! Some cells cannot pass because of what a peer implementation can do, not because of
//! rgrpc: those are listed in [`PEER_LIMITATIONS`], shown as XFAIL when they fail, and
//! their reasons printed below the table.
//!
//! The peers are installed by `make interop-venv` and `make interop-node` (`make test` and
//! `make interop` do both); see `peers/mod.rs` for how they are found. A missing peer skips
//! its pairings with a loud message, unless `RGRPC_REQUIRE_INTEROP=1` (set by `make test`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use peers::{Server, client_args, node_peer, python, rgrpc_client, rgrpc_server, run_client, venv};
use rgrpc_interop::cases::CASES;

/// What a peer server must have seen of our client: (method, how it ended, case).
const EXPECTED_OBSERVATIONS: [(&str, &str, &str); 4] = [
    ("StreamingInputCall", "cancelled", "cancel_after_begin"),
    ("FullDuplexCall", "cancelled", "cancel_after_first_response"),
    (
        "FullDuplexCall",
        "deadline_exceeded",
        "timeout_on_sleeping_server",
    ),
    (
        "UnaryCall",
        "deadline_exceeded",
        "timeout_on_sleeping_server (unary)",
    ),
];

const RGRPC_TO_RGRPC: &str = "rgrpc → rgrpc";
const RGRPC_TO_GRPCIO: &str = "rgrpc → grpcio";
const GRPCIO_TO_RGRPC: &str = "grpcio → rgrpc";
const RGRPC_TO_GRPC_JS: &str = "rgrpc → grpc-js";
const GRPC_JS_TO_RGRPC: &str = "grpc-js → rgrpc";
const GRPC_JS_TO_GRPC_JS: &str = "grpc-js → grpc-js";

/// A cell that fails because of a peer implementation, not rgrpc.
struct Limitation {
    column: &'static str,
    case: &'static str,
    /// A client that follows the standard cannot pass this cell: a pass is a problem
    /// (the client skipped a check the standard asks for). Otherwise either is fine.
    must_fail: bool,
    why: &'static str,
}

const GRPCIO_CANNOT_SEE_REQUEST_COMPRESSION: &str = "the grpcio server cannot tell whether a \
     request arrived compressed (grpcio strips grpc-encoding and hides message flags), so it \
     cannot fail the expect_compressed probe with INVALID_ARGUMENT";
const GRPC_JS_CANNOT_COMPRESS: &str = "the grpc-js server never compresses a response \
     (grpc-js 1.14 always sends grpc-encoding identity and the compressed flag 0)";

const PEER_LIMITATIONS: &[Limitation] = &[
    Limitation {
        column: RGRPC_TO_GRPCIO,
        case: "client_compressed_unary",
        must_fail: true,
        why: GRPCIO_CANNOT_SEE_REQUEST_COMPRESSION,
    },
    Limitation {
        column: RGRPC_TO_GRPCIO,
        case: "client_compressed_streaming",
        must_fail: true,
        why: GRPCIO_CANNOT_SEE_REQUEST_COMPRESSION,
    },
    // The standard lets a client that cannot see message flags skip that check, so an rgrpc
    // client may pass these; one that checks fails them.
    Limitation {
        column: RGRPC_TO_GRPC_JS,
        case: "server_compressed_unary",
        must_fail: false,
        why: GRPC_JS_CANNOT_COMPRESS,
    },
    Limitation {
        column: RGRPC_TO_GRPC_JS,
        case: "server_compressed_streaming",
        must_fail: false,
        why: GRPC_JS_CANNOT_COMPRESS,
    },
    // The grpc-js client checks the flags (interop/node/internals.js), so the control fails.
    Limitation {
        column: GRPC_JS_TO_GRPC_JS,
        case: "server_compressed_unary",
        must_fail: true,
        why: GRPC_JS_CANNOT_COMPRESS,
    },
    Limitation {
        column: GRPC_JS_TO_GRPC_JS,
        case: "server_compressed_streaming",
        must_fail: true,
        why: GRPC_JS_CANNOT_COMPRESS,
    },
];

fn limitation(column: &str, case: &str) -> Option<&'static Limitation> {
    PEER_LIMITATIONS
        .iter()
        .find(|l| l.column == column && l.case == case)
}

/// One pairing's results: case → "PASS" or "FAIL: reason".
struct Column {
    name: &'static str,
    results: BTreeMap<String, String>,
}

/// What a cell shows: PASS, FAIL, XFAIL (a known peer limitation), XPASS (a pass where a
/// standard client must fail) or MISSING (not run).
fn cell(column: &Column, case: &str) -> &'static str {
    let known = limitation(column.name, case);
    match (column.results.get(case).map(String::as_str), known) {
        (None, _) => "MISSING",
        (Some("PASS"), Some(l)) if l.must_fail => "XPASS",
        (Some("PASS"), _) => "PASS",
        (Some(_), Some(_)) => "XFAIL",
        (Some(_), None) => "FAIL",
    }
}

fn print_table(columns: &[Column]) {
    let width = CASES.iter().map(|c| c.len()).max().unwrap_or(0);
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| c.name.chars().count().max(7))
        .collect();
    let mut header = format!("{:width$}", "case");
    for (column, w) in columns.iter().zip(&widths) {
        header.push_str(&format!(" | {:w$}", column.name));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.chars().count()));
    for case in CASES {
        let mut row = format!("{case:width$}");
        for (column, w) in columns.iter().zip(&widths) {
            row.push_str(&format!(" | {:w$}", cell(column, case)));
        }
        println!("{row}");
    }
}

/// The problems of one column, and the notes on its tolerated failures.
fn evaluate(column: &Column, problems: &mut Vec<String>, notes: &mut Vec<String>) {
    for case in CASES {
        let result = column.results.get(*case).map(String::as_str);
        let known = limitation(column.name, case);
        match (result, known) {
            (None, _) => problems.push(format!("{} {case}: not run", column.name)),
            (Some("PASS"), Some(l)) if l.must_fail => problems.push(format!(
                "{} {case}: passed although {}; the client skipped a check the standard asks for",
                column.name, l.why
            )),
            (Some("PASS"), _) => {}
            (Some(failure), Some(l)) => notes.push(format!(
                "{} {case}: {failure}\n    (known peer limitation: {})",
                column.name, l.why
            )),
            (Some(failure), None) => problems.push(format!("{} {case}: {failure}", column.name)),
        }
    }
}

fn observation_file(peer: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "rgrpc-interop-observed-{peer}-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// Waits (bounded) for the lines a peer server must have written about our client's calls,
/// prints what it saw, and records what is missing.
fn check_observations(peer: &str, path: &Path, problems: &mut Vec<String>) {
    let wanted: Vec<(&str, &str)> = EXPECTED_OBSERVATIONS
        .iter()
        .map(|(method, outcome, _)| (*method, *outcome))
        .collect();
    let observed = peers::wait_for_observations(path, &wanted);
    println!("{peer} server observed: {observed:?}");
    for (method, outcome, case) in EXPECTED_OBSERVATIONS {
        if !observed.iter().any(|(m, o)| m == method && o == outcome) {
            problems.push(format!(
                "rgrpc → {peer} {case}: the {peer} server never saw a {method} end {outcome}"
            ));
        }
    }
}

#[test]
fn interop_matrix() {
    let ours = rgrpc_server();
    let mut columns = vec![Column {
        name: RGRPC_TO_RGRPC,
        results: run_client(rgrpc_client(ours.port), "rgrpc"),
    }];
    let mut problems = Vec::new();
    let mut skipped = Vec::new();

    if let Some(venv) = venv() {
        let observed = observation_file("grpcio");
        let mut command = python(&venv, "interop_server.py");
        command
            .args(["--port", "0", "--observations"])
            .arg(&observed);
        let theirs = Server::start(command, "grpcio");
        let results = run_client(rgrpc_client(theirs.port), "rgrpc");
        // grpcio writes a call's line when the call ends on its side.
        check_observations("grpcio", &observed, &mut problems);
        drop(theirs);
        let _ = std::fs::remove_file(&observed);
        columns.push(Column {
            name: RGRPC_TO_GRPCIO,
            results,
        });

        let mut command = python(&venv, "interop_client.py");
        client_args(&mut command, ours.port);
        columns.push(Column {
            name: GRPCIO_TO_RGRPC,
            results: run_client(command, "grpcio"),
        });
    } else {
        skipped
            .push("the grpcio pairings (no Python venv; run `make interop-venv` or `make test`)");
    }

    if let Some(node) = node_peer() {
        println!("grpc-js peer: node {}", node.version());
        let observed = observation_file("grpc-js");
        let mut command = node.script("interop_server.js");
        command
            .args(["--port", "0", "--observations"])
            .arg(&observed);
        let theirs = Server::start(command, "grpc-js");
        let results = run_client(rgrpc_client(theirs.port), "rgrpc");
        check_observations("grpc-js", &observed, &mut problems);
        columns.push(Column {
            name: RGRPC_TO_GRPC_JS,
            results,
        });

        let grpc_js_client = |port: u16| -> Command {
            let mut command = node.script("interop_client.js");
            client_args(&mut command, port);
            command
        };
        columns.push(Column {
            name: GRPC_JS_TO_RGRPC,
            results: run_client(grpc_js_client(ours.port), "grpc-js"),
        });
        // The control, against the same grpc-js server (its observations are read already).
        columns.push(Column {
            name: GRPC_JS_TO_GRPC_JS,
            results: run_client(grpc_js_client(theirs.port), "grpc-js"),
        });
        drop(theirs);
        let _ = std::fs::remove_file(&observed);
    } else {
        skipped
            .push("the grpc-js pairings (no Node.js peer; run `make interop-node` or `make test`)");
    }

    for what in &skipped {
        eprintln!("\n*** SKIPPED: {what} ***\n");
    }
    println!();
    print_table(&columns);

    let mut notes = Vec::new();
    for column in &columns {
        evaluate(column, &mut problems, &mut notes);
    }
    if !notes.is_empty() {
        println!("\nXFAIL (tolerated: what a peer implementation cannot do):");
        for note in &notes {
            println!("  {note}");
        }
    }
    if !problems.is_empty() {
        println!("\nFAILED:");
        for problem in &problems {
            println!("  {problem}");
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
