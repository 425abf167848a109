//! `@connectrpc/connect-node`, a client we did not write, against rgrpc's interop server on
//! one port started with no flag: each of its transports (Connect over HTTP/1.1 and over
//! HTTP/2, gRPC-Web over both, gRPC), binary and, for Connect, JSON. And the other
//! direction: rgrpc's interop client, speaking Connect, gRPC-Web and gRPC, over HTTP/2 and
//! (the first two) HTTP/1.1, against connect-node's server (`connect_server.js`).
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

use peers::{
    NodePeer, RUN_LIMIT, connect_node_peer, connect_node_server, rgrpc_server, run_bounded,
    run_client as run_rgrpc_client,
};
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
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("connect-node");
        std::fs::create_dir_all(&dir).unwrap();
        // Always the same bytes; written whole, so a concurrent run reads one or the other.
        let file = dir.join("grpc-testing.binpb");
        let partial = dir.join(format!("grpc-testing.binpb.{}", std::process::id()));
        std::fs::write(&partial, set.encode_to_vec()).unwrap();
        std::fs::rename(&partial, &file).unwrap();
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
/// or not; a bidi call gets UNIMPLEMENTED naming the method, never a hang, and so does a
/// call to an unknown service. Those two are answered before their request is read: the
/// server reads the rest first, so the client, still writing, gets the status rather than a
/// broken pipe.
fn over_http1(unary_header: &str, stream_header: &str) -> Vec<(&'static str, Value)> {
    let mut cases = unary_and_server_streaming();
    cases.extend(compressed(unary_header, stream_header));
    for bidi in ["empty_stream", "error_bidi"] {
        cases.push((
            bidi,
            json!({
                "code": "UNIMPLEMENTED",
                "message": "/grpc.testing.TestService/FullDuplexCall is a bidi stream, which \
                            needs HTTP/2; this request came over HTTP/1.1",
                "response_sizes": [],
                "details": [],
            }),
        ));
    }
    cases.push((
        "unimplemented_service",
        json!({
            "code": "UNIMPLEMENTED",
            "message": "unknown service grpc.testing.UnimplementedService",
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
fn connect_json_over_http2() {
    check(
        "connect-h2",
        true,
        &over_http2("content-encoding", "connect-content-encoding"),
        true,
    );
}

#[test]
fn connect_json_over_http1() {
    check(
        "connect-h1",
        true,
        &over_http1("content-encoding", "connect-content-encoding"),
        false,
    );
}

// The other direction: rgrpc's clients against connect-node's server.

/// Every case of the standard set that uses no bidi stream.
const NO_BIDI: [&str; 12] = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "cancel_after_begin",
    "client_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_unary",
    "server_compressed_streaming",
];

/// The cases that use a bidi stream (FullDuplexCall).
const BIDI: [&str; 6] = [
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "timeout_on_sleeping_server",
    "cancel_after_first_response",
];

/// The bidi cases that, over HTTP/1.1, report the status the call ended with. (The other
/// two send a message before reading, and then report that the call ended while sending.)
const BIDI_REFUSED_OVER_HTTP1: [&str; 4] = [
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "timeout_on_sleeping_server",
];

/// Runs rgrpc's interop client with `protocol` (over HTTP/1.1 if `http1`) and `cases`
/// against connect-node's server: the PASS / FAIL line of each case. Also checks that every
/// call that reached connect-node's handlers came in `protocol` (as connect-node names it).
fn rgrpc_against_connect_node(
    protocol: &str,
    http1: bool,
    cases: &[&str],
) -> Option<BTreeMap<String, String>> {
    let Some(peer) = connect_node_peer() else {
        eprintln!("SKIPPED: connect-node is not installed (make interop-node)");
        return None;
    };
    let http = if http1 { "1.1" } else { "2" };
    let observations = descriptor_set().with_file_name(format!(
        "calls-{protocol}-http{http}-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&observations);
    let server = connect_node_server(&peer, http, descriptor_set(), &observations);
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop-client"));
    command.args([
        "--server_port",
        &server.port.to_string(),
        "--protocol",
        protocol,
        "--test_case",
        &cases.join(","),
    ]);
    if http1 {
        command.arg("--http1");
    }
    let results = run_rgrpc_client(command, &format!("rgrpc ({protocol}, HTTP/{http})"));
    drop(server);
    let calls: Vec<Value> = std::fs::read_to_string(&observations)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let _ = std::fs::remove_file(&observations);
    assert!(
        calls.len() >= cases.len(),
        "connect-node saw {} calls for {} cases: {calls:?}",
        calls.len(),
        cases.len()
    );
    // The client's --protocol names are the ones connect-node reports.
    let wrong: Vec<&Value> = calls
        .iter()
        .filter(|call| call["protocol"] != protocol)
        .collect();
    assert!(
        wrong.is_empty(),
        "calls that did not come in {protocol}: {wrong:?}"
    );
    Some(results)
}

/// Every case of `cases` passed.
fn assert_passed(results: &BTreeMap<String, String>, cases: &[&str], how: &str) {
    let wrong: Vec<String> = cases
        .iter()
        .filter(|case| results.get(**case).map(String::as_str) != Some("PASS"))
        .map(|case| format!("{case}: {:?}", results.get(*case)))
        .collect();
    assert!(wrong.is_empty(), "{how}:\n{}", wrong.join("\n"));
}

/// Over HTTP/2, every case passes.
fn rgrpc_over_http2(protocol: &str) {
    let cases: Vec<&str> = NO_BIDI.iter().chain(&BIDI).copied().collect();
    if let Some(results) = rgrpc_against_connect_node(protocol, false, &cases) {
        assert_passed(
            &results,
            &cases,
            &format!("rgrpc's {protocol} client over HTTP/2"),
        );
    }
}

/// Over HTTP/1.1, every case without a bidi stream passes; a bidi call ends at once with
/// the client's own UNIMPLEMENTED, naming the method.
fn rgrpc_over_http1(protocol: &str) {
    let cases: Vec<&str> = NO_BIDI
        .iter()
        .chain(&BIDI_REFUSED_OVER_HTTP1)
        .copied()
        .collect();
    let Some(results) = rgrpc_against_connect_node(protocol, true, &cases) else {
        return;
    };
    assert_passed(
        &results,
        &NO_BIDI,
        &format!("rgrpc's {protocol} client over HTTP/1.1"),
    );
    let refusal = "Unimplemented \"/grpc.testing.TestService/FullDuplexCall is a bidi stream, \
                   which needs HTTP/2; this channel speaks HTTP/1.1\"";
    for case in BIDI_REFUSED_OVER_HTTP1 {
        let result = &results[case];
        let refused = result.starts_with("FAIL: ") && result.contains(refusal);
        // This case's deadline is 1 ms: on a loaded machine it may pass before the call's
        // task runs, and the case then passes with DEADLINE_EXCEEDED. Either way no bidi
        // call went out over HTTP/1.1.
        let expired_first = case == "timeout_on_sleeping_server" && result == "PASS";
        assert!(refused || expired_first, "{case} over HTTP/1.1: {result}");
    }
}

#[test]
fn rgrpc_connect_client_over_http2() {
    rgrpc_over_http2("connect");
}

#[test]
fn rgrpc_grpc_web_client_over_http2() {
    rgrpc_over_http2("grpc-web");
}

#[test]
fn rgrpc_grpc_client() {
    rgrpc_over_http2("grpc");
}

#[test]
fn rgrpc_connect_client_over_http1() {
    rgrpc_over_http1("connect");
}

#[test]
fn rgrpc_grpc_web_client_over_http1() {
    rgrpc_over_http1("grpc-web");
}
