//! The interop matrix: every standard case in three pairings, over HTTP/2 on 127.0.0.1:
//!
//! * rgrpc client → rgrpc server;
//! * rgrpc client → grpcio server (Python, the C core);
//! * grpcio client → rgrpc server.
//!
//! The grpcio server also records how each call ended *on its side*, so the matrix checks
//! that it saw our client's cancellations and deadlines, not only that our client reported
//! them. Prints the case × direction table (`make interop` shows it).
//!
//! The Python side lives in a virtualenv made by `interop/python/setup_venv.sh`
//! (`make interop-venv`; `make test` and `make interop` do it). Its path comes from
//! `INTEROP_VENV`. Without it the grpcio pairings are skipped with a loud message, unless
//! `RGRPC_REQUIRE_INTEROP=1` (set by `make test`), which makes a missing venv a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rgrpc_interop::cases::CASES;

/// How long a server may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long one client run of every case may take.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// What the grpcio server must have seen of our client: (method, how it ended, case).
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

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A server process we started: stopped (by its own handle) when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(mut command: Command, what: &str) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start the {what} server: {err}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_LIMIT;
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match received.recv_timeout(left) {
                Ok(line) => {
                    if let Some(port) = line
                        .strip_prefix("listening on 127.0.0.1:")
                        .and_then(|port| port.trim().parse().ok())
                    {
                        break port;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the {what} server did not start listening within {START_LIMIT:?}");
                }
            }
        };
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a client process to the end (within the limit) and collects its PASS/FAIL lines.
fn run_client(mut command: Command, what: &str) -> BTreeMap<String, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start the {what} client: {err}"));
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        if child.try_wait().expect("client status").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the {what} client did not finish within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("client output");
    let mut results = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(case) = line.strip_prefix("PASS ") {
            results.insert(case.trim().to_owned(), "PASS".to_owned());
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (case, reason) = rest.split_once(": ").unwrap_or((rest, ""));
            results.insert(case.to_owned(), format!("FAIL: {reason}"));
        }
    }
    results
}

fn rgrpc_server() -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    command.args(["--port", "0"]);
    Server::start(command, "rgrpc")
}

fn rgrpc_client(port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop-client"));
    command.args([
        "--server_host",
        "127.0.0.1",
        "--server_port",
        &port.to_string(),
        "--test_case",
        "all",
    ]);
    command
}

/// The Python virtualenv with grpcio, if there is one.
fn venv() -> Option<PathBuf> {
    let path = std::env::var_os("INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/interop-venv"));
    let python = path.join("bin/python");
    if python.exists() {
        return Some(path);
    }
    let required = std::env::var("RGRPC_REQUIRE_INTEROP").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "RGRPC_REQUIRE_INTEROP=1 but there is no Python venv at {}; run `make interop-venv`",
        path.display()
    );
    None
}

fn python(venv: &Path, script: &str) -> Command {
    let mut command = Command::new(venv.join("bin/python"));
    command
        .arg(repo().join("interop/python").join(script))
        .env("INTEROP_STUBS", venv.join("gen"))
        .env("PYTHONUNBUFFERED", "1");
    command
}

/// How the grpcio server saw each call end: (method, outcome) pairs, in order.
fn observations(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let field = |name: &str| {
                let key = format!("\"{name}\": \"");
                let start = line.find(&key)? + key.len();
                let end = line[start..].find('"')? + start;
                Some(line[start..end].to_owned())
            };
            Some((field("method")?, field("outcome")?))
        })
        .collect()
}

fn print_table(columns: &[(&str, &BTreeMap<String, String>)]) {
    let width = CASES.iter().map(|c| c.len()).max().unwrap_or(0);
    let mut header = format!("{:width$}", "case");
    for (name, _) in columns {
        header.push_str(&format!(" | {name:16}"));
    }
    println!("{header}");
    println!("{}", "-".repeat(header.len()));
    for case in CASES {
        let mut row = format!("{case:width$}");
        for (_, results) in columns {
            let cell = results
                .get(*case)
                .map_or("MISSING", |r| if r == "PASS" { "PASS" } else { "FAIL" });
            row.push_str(&format!(" | {cell:16}"));
        }
        println!("{row}");
    }
}

fn failures(direction: &str, results: &BTreeMap<String, String>) -> Vec<String> {
    CASES
        .iter()
        .filter_map(|case| match results.get(*case).map(String::as_str) {
            Some("PASS") => None,
            Some(failure) => Some(format!("{direction} {case}: {failure}")),
            None => Some(format!("{direction} {case}: not run")),
        })
        .collect()
}

#[test]
fn interop_matrix() {
    let ours = rgrpc_server();
    let rgrpc_to_rgrpc = run_client(rgrpc_client(ours.port), "rgrpc");

    let mut problems = failures("rgrpc → rgrpc", &rgrpc_to_rgrpc);
    let Some(venv) = venv() else {
        eprintln!(
            "\n*** SKIPPED: the grpcio pairings (no Python venv; run `make interop-venv` or `make test`) ***\n"
        );
        print_table(&[("rgrpc → rgrpc", &rgrpc_to_rgrpc)]);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        return;
    };

    let observed_path = std::env::temp_dir().join(format!(
        "rgrpc-interop-observed-{}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&observed_path);
    let mut command = python(&venv, "interop_server.py");
    command
        .args(["--port", "0", "--observations"])
        .arg(&observed_path);
    let theirs = Server::start(command, "grpcio");
    let rgrpc_to_grpcio = run_client(rgrpc_client(theirs.port), "rgrpc");
    // grpcio writes a call's line when the call ends on its side: wait (bounded) for the
    // lines the checks below need, then stop it.
    let deadline = Instant::now() + START_LIMIT;
    let mut observed = observations(&observed_path);
    while !EXPECTED_OBSERVATIONS
        .iter()
        .all(|(method, outcome, _)| observed.iter().any(|(m, o)| m == method && o == outcome))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
        observed = observations(&observed_path);
    }
    drop(theirs);
    let _ = std::fs::remove_file(&observed_path);

    let mut command = python(&venv, "interop_client.py");
    command.args([
        "--server_host",
        "127.0.0.1",
        "--server_port",
        &ours.port.to_string(),
        "--test_case",
        "all",
    ]);
    let grpcio_to_rgrpc = run_client(command, "grpcio");

    print_table(&[
        ("rgrpc → rgrpc", &rgrpc_to_rgrpc),
        ("rgrpc → grpcio", &rgrpc_to_grpcio),
        ("grpcio → rgrpc", &grpcio_to_rgrpc),
    ]);
    problems.extend(failures("rgrpc → grpcio", &rgrpc_to_grpcio));
    problems.extend(failures("grpcio → rgrpc", &grpcio_to_rgrpc));

    // What grpcio saw of our client's cancellations and deadlines.
    println!("\ngrpcio server observed: {observed:?}");
    for (method, outcome, case) in EXPECTED_OBSERVATIONS {
        let seen = observed.iter().any(|(m, o)| m == method && o == outcome);
        if !seen {
            problems.push(format!(
                "rgrpc → grpcio {case}: the grpcio server never saw a {method} end {outcome}"
            ));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}
