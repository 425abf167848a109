//! What the interop tests share: starting servers (rgrpc's, grpcio's, grpc-js's) and
//! clients as child processes with bounded waits, and finding the two foreign peers.
//!
//! * grpcio (Python, the C core): a virtualenv made by `interop/python/setup_venv.sh`
//!   (`make interop-venv`), found through `INTEROP_VENV` (default `target/interop-venv`).
//! * grpc-js (Node.js): `interop/node/setup.sh` (`make interop-node`) installs its pinned
//!   modules under `INTEROP_NODE_DIR` (default `interop/node`); Node itself is `INTEROP_NODE`
//!   (default `node` on PATH). The peer's scripts always come from this checkout's
//!   `interop/node`.
//!
//! A peer that is not installed is skipped (the caller says so loudly), unless
//! `RGRPC_REQUIRE_INTEROP=1` (set by `make test`), which makes it a failure.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to start listening.
pub const START_LIMIT: Duration = Duration::from_secs(30);

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn required() -> bool {
    std::env::var("RGRPC_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// A server process we started: stopped (by its own handle) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `command` and waits (bounded) for its `listening on 127.0.0.1:PORT` line.
    pub fn start(mut command: Command, what: &str) -> Server {
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

/// Runs `command` to its end within `limit` (killed, by its own handle, past it): its exit
/// status (None if it was killed) and its whole stdout. Stderr is inherited.
pub fn run_bounded(
    command: Command,
    what: &str,
    limit: Duration,
) -> (Option<ExitStatus>, String, Duration) {
    try_run_bounded(command, limit).unwrap_or_else(|err| panic!("cannot start the {what}: {err}"))
}

/// [`run_bounded`], with a failure to start returned instead of a panic.
pub fn try_run_bounded(
    command: Command,
    limit: Duration,
) -> std::io::Result<(Option<ExitStatus>, String, Duration)> {
    run_child(command, limit, false)
        .map(|finished| (finished.status, finished.stdout, finished.took))
}

/// How a child run by [`run_child`] ended.
pub struct Finished {
    /// `None` if it was killed at the limit.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    /// Empty unless captured.
    pub stderr: String,
    pub took: Duration,
}

/// Runs `command` to its end within `limit` (killed, by its own handle, past it), reading
/// its stdout, and its stderr if `capture_stderr` (else the child inherits ours).
pub fn run_child(
    mut command: Command,
    limit: Duration,
    capture_stderr: bool,
) -> std::io::Result<Finished> {
    let started = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(if capture_stderr {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .spawn()?;
    // Read on threads so a chatty child never blocks on a full pipe.
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = started + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        took: started.elapsed(),
    })
}

/// How long one client run of every case may take.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);

/// Runs an interop client to the end (within [`RUN_LIMIT`]) and collects its PASS/FAIL lines.
pub fn run_client(command: Command, what: &str) -> BTreeMap<String, String> {
    let (status, stdout, _) = run_bounded(command, &format!("{what} client"), RUN_LIMIT);
    assert!(
        status.is_some(),
        "the {what} client did not finish within {RUN_LIMIT:?}"
    );
    let mut results = BTreeMap::new();
    for line in stdout.lines() {
        if let Some(case) = line.strip_prefix("PASS ") {
            results.insert(case.trim().to_owned(), "PASS".to_owned());
        } else if let Some(rest) = line.strip_prefix("FAIL ") {
            let (case, reason) = rest.split_once(": ").unwrap_or((rest, ""));
            results.insert(case.to_owned(), format!("FAIL: {reason}"));
        }
    }
    results
}

/// rgrpc's interop server, on a free port.
pub fn rgrpc_server() -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    command.args(["--port", "0"]);
    Server::start(command, "rgrpc")
}

/// rgrpc's interop client running every case against `port`.
pub fn rgrpc_client(port: u16) -> Command {
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

/// Any peer's interop client arguments: every case against `port`.
pub fn client_args(command: &mut Command, port: u16) {
    command.args([
        "--server_host",
        "127.0.0.1",
        "--server_port",
        &port.to_string(),
        "--test_case",
        "all",
    ]);
}

/// The Python virtualenv with grpcio, if there is one.
pub fn venv() -> Option<PathBuf> {
    let path = std::env::var_os("INTEROP_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/interop-venv"));
    if path.join("bin/python").exists() {
        return Some(path);
    }
    assert!(
        !required(),
        "RGRPC_REQUIRE_INTEROP=1 but there is no Python venv at {}; run `make interop-venv`",
        path.display()
    );
    None
}

/// One of the grpcio peer's scripts, run by the venv's Python.
pub fn python(venv: &Path, script: &str) -> Command {
    let mut command = Command::new(venv.join("bin/python"));
    command
        .arg(repo().join("interop/python").join(script))
        .env("INTEROP_STUBS", venv.join("gen"))
        .env("PYTHONUNBUFFERED", "1");
    command
}

/// The installed grpc-js peer: Node.js and the directory holding its `node_modules`.
#[derive(Debug, Clone)]
pub struct NodePeer {
    node: PathBuf,
    dir: PathBuf,
    version: String,
}

impl NodePeer {
    /// `node --version`, e.g. `v20.20.2`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// One of the grpc-js peer's scripts (from this checkout), run by Node.
    pub fn script(&self, script: &str) -> Command {
        let mut command = Command::new(&self.node);
        command
            .arg(repo().join("interop/node").join(script))
            .env("INTEROP_NODE_DIR", &self.dir);
        command
    }
}

/// The grpc-js peer, if Node.js is there and `interop/node/setup.sh` installed its modules.
pub fn node_peer() -> Option<NodePeer> {
    let dir = std::env::var_os("INTEROP_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("interop/node"));
    let node = std::env::var_os("INTEROP_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("node"));
    let modules = dir.join("node_modules");
    let installed = modules.join(".interop-stamp").is_file()
        && modules.join("@grpc/grpc-js/package.json").is_file()
        && modules.join("@grpc/proto-loader/package.json").is_file();
    let mut version_command = Command::new(&node);
    version_command.arg("--version");
    let version = match try_run_bounded(version_command, Duration::from_secs(30)) {
        Ok((Some(status), text, _)) if status.success() => Some(text.trim().to_owned()),
        _ => None,
    };
    match version {
        Some(version) if installed => Some(NodePeer { node, dir, version }),
        _ => {
            assert!(
                !required(),
                "RGRPC_REQUIRE_INTEROP=1 but the grpc-js peer is not installed (node {}: {}, \
                 modules under {}: {}); run `make interop-node`",
                node.display(),
                version.as_deref().unwrap_or("not found"),
                modules.display(),
                if installed { "installed" } else { "missing" },
            );
            None
        }
    }
}

/// The connect-node peer: the grpc-js peer's Node.js and modules, with
/// `@connectrpc/connect-node` and `@bufbuild/protobuf` installed beside grpc-js (the same
/// `interop/node/setup.sh`), or `None` when they are not.
pub fn connect_node_peer() -> Option<NodePeer> {
    let peer = node_peer()?;
    let modules = peer.dir.join("node_modules");
    let missing: Vec<&str> = [
        "@connectrpc/connect",
        "@connectrpc/connect-node",
        "@bufbuild/protobuf",
    ]
    .into_iter()
    .filter(|module| !modules.join(module).join("package.json").is_file())
    .collect();
    if missing.is_empty() {
        return Some(peer);
    }
    assert!(
        !required(),
        "RGRPC_REQUIRE_INTEROP=1 but {missing:?} are not installed under {}; run `make \
         interop-node`",
        modules.display()
    );
    None
}

/// connect-node's server of grpc.testing.TestService (`interop/node/connect_server.js`)
/// over `http` ("1.1" or "2", without TLS), its schema from the `FileDescriptorSet` at
/// `descriptors`, appending a JSON line per call to `observations`.
pub fn connect_node_server(
    peer: &NodePeer,
    http: &str,
    descriptors: &Path,
    observations: &Path,
) -> Server {
    let mut command = peer.script("connect_server.js");
    command
        .args(["--port", "0", "--http", http, "--descriptors"])
        .arg(descriptors)
        .arg("--observations")
        .arg(observations);
    Server::start(command, &format!("connect-node (HTTP/{http})"))
}

/// How a peer server saw each call end: (method, outcome) pairs, in order, from the JSON
/// lines of its `--observations` file.
pub fn observations(path: &Path) -> Vec<(String, String)> {
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

/// Polls `path` (bounded by [`START_LIMIT`]) until every `(method, outcome)` in `wanted`
/// was observed; returns what was observed by then.
pub fn wait_for_observations(path: &Path, wanted: &[(&str, &str)]) -> Vec<(String, String)> {
    let deadline = Instant::now() + START_LIMIT;
    let mut observed = observations(path);
    while !wanted
        .iter()
        .all(|(method, outcome)| observed.iter().any(|(m, o)| m == method && o == outcome))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
        observed = observations(path);
    }
    observed
}

/// The pinned buf CLI (`make buf-setup`), or `None` when it is not installed.
pub fn buf() -> Option<PathBuf> {
    let path = repo().join("tools/buf/node_modules/.bin/buf");
    if path.exists() {
        return Some(path);
    }
    assert!(
        !std::env::var("RGRPC_REQUIRE_INTEROP").is_ok_and(|v| v == "1"),
        "RGRPC_REQUIRE_INTEROP=1 but buf is not installed at {}; run `make buf-setup`",
        path.display()
    );
    None
}

/// `buf curl` with `args` (the first may hold several flags separated by spaces, such as
/// `"--http2-prior-knowledge --protocol grpc"`), reflection on (its default): its stdout.
pub fn buf_curl(buf: &Path, args: &[&str]) -> String {
    let finished = run_buf_curl(buf, args);
    assert_eq!(
        finished.status.and_then(|s| s.code()),
        Some(0),
        "buf curl {args:?} failed:\n{}{}",
        finished.stdout,
        finished.stderr
    );
    finished.stdout
}

/// `buf curl` as [`buf_curl`] runs it, for a call that must fail: the error it printed.
pub fn buf_curl_error(buf: &Path, args: &[&str]) -> String {
    let finished = run_buf_curl(buf, args);
    assert_ne!(
        finished.status.and_then(|s| s.code()),
        Some(0),
        "buf curl {args:?} should have failed:\n{}",
        finished.stdout
    );
    finished.stderr
}

fn run_buf_curl(buf: &Path, args: &[&str]) -> Finished {
    let home = tempfile_dir();
    let mut command = Command::new(buf);
    command.arg("curl");
    if let Some((flags, rest)) = args.split_first() {
        command.args(flags.split_whitespace()).args(rest);
    }
    command
        .env("HOME", &home)
        .env("BUF_CACHE_DIR", home.join("cache"));
    let finished = run_child(command, RUN_LIMIT, true)
        .unwrap_or_else(|err| panic!("cannot start buf curl: {err}"));
    let _ = std::fs::remove_dir_all(&home);
    assert!(
        finished.status.is_some(),
        "buf curl {args:?} did not finish"
    );
    finished
}

/// A fresh directory for buf's cache and home, under the target directory.
fn tempfile_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = repo()
        .join("target/tmp")
        .join(format!("buf-curl-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
