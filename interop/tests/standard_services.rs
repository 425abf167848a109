//! The standard services (reflection, health) as clients we did not write use them:
//!
//! * grpcio-reflection's client (v1alpha) and a grpcio v1 client list the interop server's
//!   services and resolve a symbol and its dependencies into a descriptor pool that builds
//!   a message;
//! * grpcio-health-checking checks, lists and watches health, the watch seeing a change
//!   made through [`HealthReporter`];
//! * `buf curl` lists the services and methods with no `--schema` (its calls, in every
//!   protocol, are in `protocols.rs`).
//!
//! The interop server runs with no flag: both services are on by default. The grpcio
//! control server (`interop/python/standard_services_server.py`, grpcio's own reflection
//! and health) shows that the Python client passes against the reference implementation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use peers::{Server, buf, buf_curl, python, rgrpc_server, run_bounded, venv};
use rgrpc::health::{HealthReporter, ServingStatus};
use rgrpc_interop::service::Interop;
use rgrpc_interop::testing::test_service_server::TestServiceServer;
use serde_json::Value;

/// How long one run of the Python client or of buf may take: far above an honest run
/// (about a second), there to catch a hang.
const LIMIT: Duration = Duration::from_secs(120);

const TEST_SERVICE: &str = "grpc.testing.TestService";

/// buf curl's flags for gRPC over HTTP/2 without TLS.
const GRPC_H2C: &str = "--http2-prior-knowledge --protocol grpc";

/// Every service the interop server serves, as reflection must list them.
const SERVED: [&str; 4] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    TEST_SERVICE,
];

/// Runs the Python client's `cases` against `port`: its JSON lines by case.
fn python_cases(port: u16, cases: &[&str]) -> Option<serde_json::Map<String, Value>> {
    let venv = venv()?;
    let mut command = python(&venv, "standard_services_client.py");
    command.arg("--addr").arg(format!("127.0.0.1:{port}"));
    command.args(cases);
    let (status, stdout, _) = run_bounded(command, "Python standard services client", LIMIT);
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "the Python client failed:\n{stdout}"
    );
    let mut by_case = serde_json::Map::new();
    for line in stdout.lines() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}"));
        let case = value["case"].as_str().expect("every line names its case");
        by_case.insert(case.to_owned(), value);
    }
    for case in cases {
        let result = &by_case[*case];
        assert_eq!(result["ok"], true, "{case} failed: {result:#}");
    }
    Some(by_case)
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {value}"))
        .iter()
        .map(|item| item.as_str().expect("a string"))
        .collect()
}

#[test]
fn grpcio_reflection_clients_list_and_resolve_the_interop_server_schema() {
    let server = rgrpc_server();
    let Some(results) = python_cases(
        server.port,
        &[
            "reflection_v1alpha_list",
            "reflection_v1alpha_pool",
            "reflection_v1_list",
            "reflection_v1_symbol",
        ],
    ) else {
        eprintln!("SKIPPED: no Python venv (make interop-venv)");
        return;
    };

    assert_eq!(
        strings(&results["reflection_v1alpha_list"]["services"]),
        SERVED
    );
    assert_eq!(strings(&results["reflection_v1_list"]["services"]), SERVED);

    // grpcio-reflection's descriptor pool: the service, its methods' types, a message
    // built from descriptors only, and the comments we embed.
    let pool = &results["reflection_v1alpha_pool"];
    assert_eq!(pool["service_file"], "grpc/testing/test.proto");
    assert_eq!(
        strings(&pool["files"]),
        [
            "grpc/testing/empty.proto",
            "grpc/testing/messages.proto",
            "grpc/testing/test.proto"
        ]
    );
    assert_eq!(pool["simple_request_hex"], "10071a03120178");
    let methods: Vec<&str> = pool["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "EmptyCall",
            "UnaryCall",
            "CacheableUnaryCall",
            "StreamingOutputCall",
            "StreamingInputCall",
            "FullDuplexCall",
            "HalfDuplexCall",
            "UnimplementedCall"
        ]
    );
    assert_eq!(pool["has_source_info"], true);
    assert_eq!(
        pool["unary_call_comment"],
        " Answers with a payload of the requested size, or with the requested status.\n"
    );

    // Five requests on one v1 stream: each file goes once, with the dependencies the
    // stream has not had yet; a method is a symbol; an unknown name is NOT_FOUND and the
    // stream goes on.
    let symbol = &results["reflection_v1_symbol"];
    assert_eq!(
        strings(&symbol["symbol_files"]),
        ["grpc/testing/messages.proto"]
    );
    assert_eq!(
        strings(&symbol["by_filename_files"]),
        ["grpc/testing/messages.proto"]
    );
    assert_eq!(
        strings(&symbol["method_symbol"]["files"]),
        ["grpc/testing/test.proto", "grpc/testing/empty.proto"],
        "test.proto, then only the import not sent yet: {symbol:#}"
    );
    assert_eq!(symbol["unknown_symbol"]["error_code_name"], "NOT_FOUND");
    assert_eq!(
        symbol["unknown_symbol"]["error_message"],
        "symbol \"no.such.Symbol\" is not known to this server's reflection"
    );
    assert_eq!(strings(&symbol["services_after_error"]), SERVED);
}

#[test]
fn grpcio_health_client_checks_and_lists_the_interop_server() {
    let server = rgrpc_server();
    let Some(results) = python_cases(server.port, &["health_check", "health_list"]) else {
        eprintln!("SKIPPED: no Python venv (make interop-venv)");
        return;
    };
    let check = &results["health_check"];
    assert_eq!(check["statuses"][""], "SERVING");
    assert_eq!(check["statuses"][TEST_SERVICE], "SERVING");
    assert_eq!(check["unknown"]["code"], "NOT_FOUND");
    assert_eq!(
        check["unknown"]["details"],
        "unknown service \"no.such.Service\""
    );
    let list = &results["health_list"]["statuses"];
    for service in ["", TEST_SERVICE, "grpc.health.v1.Health"] {
        assert_eq!(list[service], "SERVING", "{service}: {list}");
    }
}

/// An rgrpc server with the interop service in this process, on 127.0.0.1, so that the
/// test holds its [`HealthReporter`].
struct InProcess {
    port: u16,
    health: HealthReporter,
    _runtime: tokio::runtime::Runtime,
}

fn serve_here() -> InProcess {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let builder = rgrpc::Server::builder();
    let health = builder.health_reporter();
    let router = builder.add_service(TestServiceServer::new(Interop));
    runtime.spawn(router.serve_with_shutdown(listener, std::future::pending()));
    InProcess {
        port,
        health,
        _runtime: runtime,
    }
}

#[test]
fn grpcio_health_watch_sees_a_change_made_through_the_reporter() {
    let Some(venv) = venv() else {
        eprintln!("SKIPPED: no Python venv (make interop-venv)");
        return;
    };
    let server = serve_here();
    let mut client = python(&venv, "standard_services_client.py")
        .arg("--addr")
        .arg(format!("127.0.0.1:{}", server.port))
        .arg("health_watch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python client");
    let stdout = client.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let next = |what: &str| -> Value {
        let line = received
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("no {what} from the Python client within {LIMIT:?}"));
        serde_json::from_str(&line).unwrap_or_else(|err| panic!("{err}: {line}"))
    };
    let first = next("first Watch message");
    assert_eq!(first["event"], "first", "{first}");
    assert_eq!(first["status"], "SERVING");

    // The client notes the time it reads "changing", says "armed", and times the next
    // message from that note: an upper bound on the delay from the change to the message.
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"changing\n").unwrap();
    stdin.flush().unwrap();
    let armed = next("the client's readiness");
    assert_eq!(armed["event"], "armed", "{armed}");
    server.health.set_not_serving(TEST_SERVICE);
    drop(stdin);

    let result = next("Watch result");
    let _ = client.kill();
    let _ = client.wait();
    assert_eq!(result["ok"], true, "{result:#}");
    assert_eq!(result["second"], "NOT_SERVING");
    // Reported, not asserted: a timing is for benchmarks, and this machine is shared.
    println!(
        "Watch saw the change within {} ms (the delay plus one pipe round trip)",
        result["ms_after_change"]
    );
    assert_eq!(
        server.health.status(TEST_SERVICE),
        Some(ServingStatus::NotServing)
    );
}

#[test]
fn the_grpcio_control_server_passes_the_same_client() {
    let Some(venv) = venv() else {
        eprintln!("SKIPPED: no Python venv (make interop-venv)");
        return;
    };
    // It runs until its stdin closes: a pipe this test holds until the server is dropped.
    let mut command = python(&venv, "standard_services_server.py");
    command.stdin(Stdio::piped());
    let server = Server::start(command, "grpcio");
    // The cases whose answers are the same for both servers' schemas.
    python_cases(
        server.port,
        &[
            "reflection_v1alpha_list",
            "reflection_v1alpha_pool",
            "reflection_v1_list",
            "health_check",
        ],
    );
}

#[test]
fn buf_curl_lists_the_interop_server_services_and_methods_with_no_schema() {
    let Some(buf) = buf() else {
        eprintln!("SKIPPED: buf is not installed (make buf-setup)");
        return;
    };
    let server = rgrpc_server();
    let url = format!("http://127.0.0.1:{}", server.port);

    let listed = buf_curl(&buf, &[GRPC_H2C, "--list-services", &url]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), SERVED);

    let methods = buf_curl(&buf, &[GRPC_H2C, "--list-methods", &url]);
    assert!(
        methods
            .lines()
            .any(|line| line == "grpc.testing.TestService/StreamingOutputCall"),
        "{methods}"
    );
    // Calls with the schema learnt this way, in every protocol: interop/tests/protocols.rs.
}
