//! A real browser calls rgrpc: headless Chromium loads a page (interop/browser/page/) that
//! uses @connectrpc/connect-web's Connect and gRPC-Web transports to call rgrpc's interop
//! server on another origin, allowed by the server's CORS policy: unary and server-streaming
//! calls, metadata both ways, deadlines that expire against slow calls, errors with codes
//! and messages. The same page from an origin the policy does not name gets nothing.
//!
//! Needs Debian's chromium and the npm modules of interop/browser (`make browser-setup`);
//! without them the test is skipped, unless `RGRPC_REQUIRE_INTEROP=1` (set by `make test`).
//! The page's screenshot is kept at `target/artifacts/browser-protocols.png`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod peers;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use peers::{RUN_LIMIT, Server, repo, run_bounded};
use rgrpc::prost::Message as _;
use rgrpc::prost_types::{FileDescriptorProto, FileDescriptorSet};
use rgrpc_interop::testing::test_service_server::FILE_DESCRIPTORS;
use serde_json::{Value, json};

/// What the page must report for every call, the same for both transports: the interop
/// cases' sizes, the echoed metadata, and the codes and messages of the calls that fail.
/// The deadline cases' messages are left out: they depend on whether the browser's timer or
/// the server's fired first (see [`without_deadline_messages`]).
fn expected_calls() -> Value {
    json!({
        "unary": { "code": "OK", "payloadSize": 314159 },
        "serverStream": { "code": "OK", "sizes": [31415, 9, 2653, 58979] },
        "metadata": {
            "code": "OK",
            "initial": "test_initial_metadata_value",
            "trailing": [0xab, 0xab, 0xab],
        },
        "unaryDeadline": { "code": "DeadlineExceeded" },
        "streamDeadline": { "code": "DeadlineExceeded", "sizes": [] },
        "unaryError": {
            "code": "Unknown",
            "message": "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n",
        },
        "streamError": {
            "code": "FailedPrecondition",
            "message": "failed after one message",
            "sizes": [5],
        },
        "unimplemented": {
            "code": "Unimplemented",
            "message": "/grpc.testing.TestService/UnimplementedCall is not implemented by this server",
        },
    })
}

/// One transport's results with the deadline cases' messages taken out, each checked to be
/// there: the browser's own ("the operation timed out") if its timer fired first, the
/// server's if the server's did.
fn without_deadline_messages(calls: &Value) -> Value {
    let mut calls = calls.clone();
    for case in ["unaryDeadline", "streamDeadline"] {
        let message = calls[case]
            .as_object_mut()
            .and_then(|outcome| outcome.remove("message"));
        assert!(
            message
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|m| !m.is_empty()),
            "{case} has no message: {calls}"
        );
    }
    calls
}

#[test]
fn connect_web_in_chromium_calls_rgrpc_across_origins_with_both_transports() {
    let Some(browser) = Browser::installed() else {
        return;
    };
    let work = repo()
        .join("target/tmp")
        .join(format!("browser-{}", std::process::id()));
    let page_dir = work.join("page");
    std::fs::create_dir_all(&page_dir).unwrap();
    let descriptors = work.join("grpc.testing.binpb");
    std::fs::write(&descriptors, descriptor_set()).unwrap();
    browser.build_page(&descriptors, &page_dir);

    let artifacts = repo().join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("browser-protocols.png");
    let _ = std::fs::remove_file(&screenshot);

    let mut runner = Runner::start(&browser, &page_dir, &screenshot);
    let origin = runner.line("origin ");
    let server = rgrpc_server(&origin);
    runner.send(&format!("server http://127.0.0.1:{}", server.port));
    let results = runner.line("results ");
    runner.finish();
    let results: Value = serde_json::from_str(&results).expect("the runner's results are JSON");
    println!("{}", serde_json::to_string_pretty(&results).unwrap());
    let shown = std::fs::canonicalize(&screenshot).unwrap_or_else(|_| screenshot.clone());
    println!("screenshot: {}", shown.display());
    let _ = std::fs::remove_dir_all(&work);

    let allowed = &results["allowed"];
    assert_eq!(allowed["origin"], json!(origin), "{allowed}");
    for transport in ["connect", "grpc-web"] {
        assert_eq!(
            without_deadline_messages(&allowed["transports"][transport]),
            expected_calls(),
            "{transport} from the allowed origin"
        );
    }
    // From an origin the policy does not name, the browser lets the page read nothing.
    let other = &results["other"];
    assert_ne!(other["origin"], json!(origin), "{other}");
    for transport in ["connect", "grpc-web"] {
        assert_eq!(
            other["transports"][transport],
            json!({ "unary": { "code": "Unknown", "message": "Failed to fetch" } }),
            "{transport} from another origin"
        );
    }
    assert_requests(&results["requests"], &origin);
    assert!(
        screenshot.is_file(),
        "no screenshot at {}",
        screenshot.display()
    );
}

/// The calls went out in each protocol's own content type, binary codec only: Connect
/// unary as `application/proto`, Connect streams as `application/connect+proto`, gRPC-Web
/// as `application/grpc-web+proto`, to the interop service's paths.
fn assert_requests(requests: &Value, origin: &str) {
    let requests = requests.as_array().expect("requests is a list");
    let count = |content_type: &str, from_allowed: bool| {
        requests
            .iter()
            .filter(|r| r["contentType"] == content_type && (r["origin"] == origin) == from_allowed)
            .count()
    };
    // From the allowed origin: 5 unary and 3 streaming calls per transport; then one
    // probe per transport from the other origin.
    assert_eq!(count("application/proto", true), 5, "{requests:?}");
    assert_eq!(count("application/connect+proto", true), 3, "{requests:?}");
    assert_eq!(count("application/grpc-web+proto", true), 8, "{requests:?}");
    assert_eq!(count("application/proto", false), 1, "{requests:?}");
    assert_eq!(
        count("application/grpc-web+proto", false),
        1,
        "{requests:?}"
    );
    assert_eq!(requests.len(), 18, "{requests:?}");
    for request in requests {
        assert_eq!(request["method"], "POST", "{request}");
        let path = request["path"].as_str().unwrap_or_default();
        assert!(path.starts_with("/grpc.testing.TestService/"), "{request}");
    }
}

/// The interop service's descriptors as the plugin embedded them in the generated code
/// (what the server answers reflection with), as one `FileDescriptorSet` for the page.
fn descriptor_set() -> Vec<u8> {
    let file = FILE_DESCRIPTORS
        .iter()
        .map(|bytes| FileDescriptorProto::decode(*bytes).expect("an embedded descriptor"))
        .collect();
    FileDescriptorSet { file }.encode_to_vec()
}

/// rgrpc's interop server, letting pages of `origin` call it.
fn rgrpc_server(origin: &str) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_interop-server"));
    command.args(["--port", "0", "--cors-origin", origin]);
    Server::start(command, "rgrpc")
}

fn required() -> bool {
    std::env::var("RGRPC_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Node.js, Chromium and interop/browser's modules, as `make browser-setup` installs them.
struct Browser {
    node: PathBuf,
    chromium: PathBuf,
    dir: PathBuf,
}

impl Browser {
    /// `None` (after saying why) when something is missing and not required.
    fn installed() -> Option<Browser> {
        let dir = repo().join("interop/browser");
        let chromium = std::env::var_os("RGRPC_CHROMIUM")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
        let node = std::env::var_os("INTEROP_NODE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("node"));
        let mut version = Command::new(&node);
        version.arg("--version");
        let node_runs = peers::try_run_bounded(version, Duration::from_secs(30))
            .is_ok_and(|(status, _, _)| status.is_some_and(|s| s.success()));
        let modules = dir.join("node_modules");
        let missing: Vec<String> = [
            (!node_runs).then(|| format!("node ({})", node.display())),
            (!chromium.is_file()).then(|| format!("chromium ({})", chromium.display())),
            (!modules.join(".browser-stamp").is_file())
                .then(|| format!("the npm modules ({})", modules.display())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if missing.is_empty() {
            return Some(Browser {
                node,
                chromium,
                dir,
            });
        }
        let why = format!("missing {}; run `make browser-setup`", missing.join(", "));
        assert!(!required(), "RGRPC_REQUIRE_INTEROP=1 but {why}");
        println!("SKIPPED: the browser test: {why}");
        None
    }

    fn script(&self, name: &str) -> Command {
        let mut command = Command::new(&self.node);
        command.arg(self.dir.join(name));
        command
    }

    /// Bundles the page with the schema in `descriptors` into `out`.
    fn build_page(&self, descriptors: &Path, out: &Path) {
        let mut command = self.script("build.mjs");
        command
            .arg("--descriptors")
            .arg(descriptors)
            .arg("--out")
            .arg(out);
        let (status, stdout, _) = run_bounded(command, "page build", RUN_LIMIT);
        assert!(
            status.is_some_and(|s| s.success()),
            "building the page failed ({status:?}): {stdout}"
        );
        print!("{stdout}");
    }
}

/// The playwright-core runner (run.mjs), talked to over its stdin and stdout; killed, by
/// its own handle, if it is still running when dropped.
struct Runner {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    deadline: Instant,
}

impl Runner {
    fn start(browser: &Browser, page: &Path, screenshot: &Path) -> Runner {
        let mut command = browser.script("run.mjs");
        command
            .arg("--page")
            .arg(page)
            .arg("--screenshot")
            .arg(screenshot)
            .arg("--chromium")
            .arg(&browser.chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("start the browser runner");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Runner {
            child,
            stdin,
            lines,
            deadline: Instant::now() + RUN_LIMIT,
        }
    }

    /// The rest of the next line starting with `prefix` (other lines are echoed).
    fn line(&mut self, prefix: &str) -> String {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => match line.strip_prefix(prefix) {
                    Some(rest) => return rest.to_owned(),
                    None => println!("runner: {line}"),
                },
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the browser runner printed no {prefix:?} line within {RUN_LIMIT:?}")
                }
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the browser runner ended without a {prefix:?} line: {:?}",
                    self.child.wait()
                ),
            }
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        writeln!(stdin, "{line}").expect("write to the browser runner");
    }

    /// Waits (bounded) for the runner to exit, which it must do with success.
    fn finish(mut self) {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.child.try_wait().expect("runner status") {
                assert!(status.success(), "the browser runner failed: {status}");
                return;
            }
            assert!(
                Instant::now() < self.deadline,
                "the browser runner did not exit within {RUN_LIMIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
