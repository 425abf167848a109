//! `@connectrpc/connect-node`, a client we did not write, against rgrpc's interop server on
//! one port started with no flag: each of its transports (Connect over HTTP/1.1 and over
//! HTTP/2, gRPC-Web over both, gRPC), binary and, for Connect, JSON.
//!
//! The JS client (`interop/node/connect_client.js`) runs the cases it is given and prints
//! what it saw as one JSON line per case; each test here compares every line with the
//! exact answer: the status code and message, the `EchoStatus` detail the interop server
//! attaches to a status a request asks for, payload sizes, the echoed metadata and the
//! headers that say how a response was compressed. Its schema is a `FileDescriptorSet`
//! written from the descriptors the plugin embedded in the generated interop server, so
//! JS runs on exactly what rgrpc serves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use peers::{NodePeer, RUN_LIMIT, connect_node_peer, rgrpc_server, run_bounded};
use rgrpc::prost::Message as _;
use rgrpc::prost_types::{FileDescriptorProto, FileDescriptorSet};
use serde_json::{Value, json};

/// The grpc.testing schema as a `FileDescriptorSet` file, written once per test binary
/// from the descriptors embedded in the generated interop server.
fn descriptor_set() -> &'static Path {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let set = FileDescriptorSet {
            file: rgrpc_interop::testing::test_service_server::FILE_DESCRIPTORS
                .iter()
                .map(|bytes| FileDescriptorProto::decode(*bytes).unwrap())
                .collect(),
        };
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("connect-node-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("grpc-testing.binpb");
        std::fs::write(&file, set.encode_to_vec()).unwrap();
        file
    })
}

/// Runs connect_client.js with `transport` over `cases` against `port`: its report per case.
fn run_client(
    peer: &NodePeer,
    port: u16,
    transport: &str,
    json: bool,
    cases: &[&str],
) -> BTreeMap<String, Value> {
    let mut command: Command = peer.script("connect_client.js");
    command.args([
        "--port",
        &port.to_string(),
        "--transport",
        transport,
        "--descriptors",
        descriptor_set().to_str().unwrap(),
        "--json",
        if json { "true" } else { "false" },
        "--cases",
        &cases.join(","),
    ]);
    let what = format!("connect-node client ({transport})");
    let (status, stdout, _) = run_bounded(command, &what, RUN_LIMIT);
    assert!(
        status.is_some_and(|status| status.success()),
        "the {what} ended with {status:?}:\n{stdout}"
    );
    let mut reports = BTreeMap::new();
    for line in stdout.lines() {
        let mut report: Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("{what}: {err}: {line}"));
        let case = report["case"].as_str().unwrap().to_owned();
        report.as_object_mut().unwrap().remove("case");
        reports.insert(case, report);
    }
    let missing: Vec<&&str> = cases
        .iter()
        .filter(|case| !reports.contains_key(**case))
        .collect();
    assert!(
        missing.is_empty(),
        "{what} did not report {missing:?}:\n{stdout}"
    );
    reports
}

const SPECIAL_MESSAGE: &str = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n";

/// A status the request asked for: its code, its message and its one detail.
fn asked_for(code: &str, number: i32, message: &str) -> Value {
    json!({
        "code": code,
        "message": message,
        "details": [{"code": number, "message": message}],
    })
}

/// What every transport must answer, by case (unary and server streaming).
fn unary_and_server_streaming() -> Vec<(&'static str, Value)> {
    vec![
        ("empty_unary", json!({"code": "OK"})),
        (
            "large_unary",
            json!({"code": "OK", "response_size": 314159}),
        ),
        (
            "server_streaming",
            json!({"code": "OK", "response_sizes": [31415, 9, 2653, 58979]}),
        ),
        (
            "custom_metadata_unary",
            json!({
                "code": "OK",
                "response_size": 314159,
                "initial": "test_initial_metadata_value",
                "trailing_bin_hex": "ababab",
            }),
        ),
        (
            "custom_metadata_server_streaming",
            json!({
                "code": "OK",
                "response_sizes": [314159],
                "initial": "test_initial_metadata_value",
                "trailing_bin_hex": "ababab",
            }),
        ),
        (
            "error_unary",
            asked_for("UNKNOWN", 2, "test status message"),
        ),
        (
            "special_status_message",
            asked_for("UNKNOWN", 2, SPECIAL_MESSAGE),
        ),
        ("error_server_streaming", {
            let mut expected = asked_for("FAILED_PRECONDITION", 9, "after two messages");
            expected["response_sizes"] = json!([3, 5]);
            expected
        }),
        (
            "unimplemented_method",
            json!({
                "code": "UNIMPLEMENTED",
                "message": "/grpc.testing.TestService/UnimplementedCall is not implemented by this server",
                "details": [],
            }),
        ),
        (
            "client_streaming",
            json!({"code": "OK", "aggregated_payload_size": 74922}),
        ),
        // The compressed cases' check is real: an uncompressed request that claims to be
        // compressed is refused.
        (
            "compressed_unary_probe",
            json!({
                "code": "INVALID_ARGUMENT",
                "message": "expect_compressed is true but the request message arrived uncompressed",
                "details": [],
            }),
        ),
    ]
}

/// The compressed cases: what each transport must answer, `unary_header` and
/// `stream_header` being the response headers that name the compression in that protocol.
fn compressed(unary_header: &str, stream_header: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "compressed_unary",
            json!({
                "code": "OK",
                "response_size": 314159,
                "response_encodings": {unary_header: "gzip"},
            }),
        ),
        (
            "compressed_server_streaming",
            json!({
                "code": "OK",
                "response_sizes": [31415, 92653],
                "response_encodings": {stream_header: "gzip"},
            }),
        ),
        (
            "compressed_client_streaming",
            json!({"code": "OK", "aggregated_payload_size": 73086}),
        ),
    ]
}

/// The cases that need HTTP/2: bidi streams, and an unknown service (see [`over_http1`]).
fn http2_only() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ping_pong",
            json!({"code": "OK", "response_sizes": [31415, 9, 2653, 58979]}),
        ),
        ("empty_stream", json!({"code": "OK", "response_sizes": []})),
        (
            "custom_metadata_bidi",
            json!({
                "code": "OK",
                "response_sizes": [314159],
                "initial": "test_initial_metadata_value",
                "trailing_bin_hex": "ababab",
            }),
        ),
        ("error_bidi", {
            let mut expected = asked_for("ABORTED", 10, "second request aborts");
            expected["response_sizes"] = json!([7]);
            expected
        }),
        (
            "unimplemented_service",
            json!({
                "code": "UNIMPLEMENTED",
                "message": "unknown service grpc.testing.UnimplementedService",
                "details": [],
            }),
        ),
    ]
}

/// The deadline cases: the server would answer after 20 s; the client's 500 ms deadline
/// ends each call with DEADLINE_EXCEEDED. Only the code is compared: whether the client's
/// own timer or the server's answer ended it is the client's business, and how many
/// messages arrived first (none or the first) depends on the machine's speed.
const DEADLINE_CASES: [&str; 2] = ["deadline_unary", "deadline_server_streaming"];

/// Runs `expected`'s cases and the deadline cases (plus `deadline_bidi` if `bidi`) over
/// `transport` and compares every report.
fn check(transport: &str, json: bool, expected: &[(&str, Value)], bidi: bool) {
    let Some(peer) = connect_node_peer() else {
        eprintln!("SKIPPED: connect-node is not installed (make interop-node)");
        return;
    };
    let server = rgrpc_server();
    let mut deadlines = DEADLINE_CASES.to_vec();
    if bidi {
        deadlines.push("deadline_bidi");
    }
    let cases: Vec<&str> = expected
        .iter()
        .map(|(case, _)| *case)
        .chain(deadlines.iter().copied())
        .collect();
    let reports = run_client(&peer, server.port, transport, json, &cases);
    let mut wrong = Vec::new();
    for (case, want) in expected {
        if &reports[*case] != want {
            wrong.push(format!(
                "{case}:\n  expected {want}\n  got      {}",
                reports[*case]
            ));
        }
    }
    for case in deadlines {
        let report = &reports[case];
        let sizes = report["response_sizes"].as_array().map_or(0, Vec::len);
        if report["code"] != "DEADLINE_EXCEEDED" || sizes > 1 {
            wrong.push(format!("{case}: expected DEADLINE_EXCEEDED, got {report}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "connect-node {transport}{}:\n{}",
        if json { " (JSON)" } else { "" },
        wrong.join("\n")
    );
}

/// The cases of an HTTP/2 transport: everything.
fn over_http2(unary_header: &str, stream_header: &str) -> Vec<(&'static str, Value)> {
    let mut cases = unary_and_server_streaming();
    cases.extend(compressed(unary_header, stream_header));
    cases.extend(http2_only());
    cases
}

/// The cases of an HTTP/1.1 transport: unary, server and client streaming (connect-node
/// sends the whole request stream, and rgrpc reads it all before answering), compressed
/// or not; a bidi call gets UNIMPLEMENTED naming the method, never a hang.
///
/// Left out: calls that the server refuses before reading their body (an unknown service)
/// while connect-node is still writing it. rgrpc then closes the connection without
/// reading the body, and connect-node's gRPC-Web transport usually reports its own write
/// error (`INTERNAL: write EPIPE`) instead of the UNIMPLEMENTED it was sent. Only a bidi
/// call with no request message is here: its whole request is written at once.
fn over_http1(unary_header: &str, stream_header: &str) -> Vec<(&'static str, Value)> {
    let mut cases = unary_and_server_streaming();
    cases.extend(compressed(unary_header, stream_header));
    cases.push((
        "empty_stream",
        json!({
            "code": "UNIMPLEMENTED",
            "message": "/grpc.testing.TestService/FullDuplexCall is a bidi stream, which needs \
                        HTTP/2; this request came over HTTP/1.1",
            "response_sizes": [],
            "details": [],
        }),
    ));
    cases
}

#[test]
fn connect_over_http2() {
    check(
        "connect-h2",
        false,
        &over_http2("content-encoding", "connect-content-encoding"),
        true,
    );
}

#[test]
fn connect_over_http1() {
    check(
        "connect-h1",
        false,
        &over_http1("content-encoding", "connect-content-encoding"),
        false,
    );
}

#[test]
fn grpc_web_over_http2() {
    check(
        "grpc-web-h2",
        false,
        &over_http2("grpc-encoding", "grpc-encoding"),
        true,
    );
}

#[test]
fn grpc_web_over_http1() {
    check(
        "grpc-web-h1",
        false,
        &over_http1("grpc-encoding", "grpc-encoding"),
        false,
    );
}

#[test]
fn grpc() {
    check(
        "grpc",
        false,
        &over_http2("grpc-encoding", "grpc-encoding"),
        true,
    );
}

#[test]
#[ignore = "the server answers Connect JSON with 415 until its JSON codec lands (issue 18)"]
fn connect_json_over_http2() {
    check(
        "connect-h2",
        true,
        &over_http2("content-encoding", "connect-content-encoding"),
        true,
    );
}

#[test]
#[ignore = "the server answers Connect JSON with 415 until its JSON codec lands (issue 18)"]
fn connect_json_over_http1() {
    check(
        "connect-h1",
        true,
        &over_http1("content-encoding", "connect-content-encoding"),
        false,
    );
}
