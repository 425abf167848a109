//! Runs the hello-build binary: its server and client, both from build.rs-generated code,
//! must complete all four kinds within a bounded time and say so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Far above the second or so a run takes, so only a hang trips it.
const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn the_binary_serves_and_calls_all_four_kinds() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hello-build"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hello-build");
    // Read on threads so a chatty child can never block on a full pipe while we wait.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });

    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll hello-build") {
            break status;
        }
        if started.elapsed() > LIMIT {
            // `Child::kill` signals this child's PID only.
            child.kill().expect("kill hello-build");
            child.wait().expect("reap hello-build");
            panic!("hello-build did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().expect("stdout reader").expect("read stdout");
    let stderr = err.join().expect("stderr reader").expect("read stderr");
    assert!(
        status.success(),
        "hello-build failed ({status}):\n{stdout}\n{stderr}"
    );

    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or_default();
    assert!(
        first.starts_with("listening on 127.0.0.1:"),
        "first line: {first:?}"
    );
    let rest: Vec<&str> = lines.collect();
    assert_eq!(
        rest,
        [
            "== unary: SayHello",
            r#"  <- "Hello, world!""#,
            "== server streaming: LotsOfReplies",
            r#"  <- "Hello, streams!""#,
            r#"  <- "Bonjour, streams!""#,
            r#"  <- "Hola, streams!""#,
            "== client streaming: LotsOfGreetings",
            r#"  <- "Hello, Ada and Grace and Barbara!""#,
            "== bidi streaming: BidiHello",
            r#"  <- "Hello, Alice!""#,
            r#"  <- "Hello, Bob!""#,
            "== all four kinds done",
        ],
        "stderr:\n{stderr}"
    );
}
