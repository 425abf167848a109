//! Child processes for tests, bounded: a hang fails the test instead of stalling it.
//!
//! One runner for every test crate that starts a program (the plugin's CLI and buf tests,
//! the starter copy's cargo build, the benchmark smoke test), so the bound, the pipes and
//! the kill are the same everywhere.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `command` with `stdin` as its input and waits at most `limit` for it to exit.
///
/// stdout and stderr are read on threads while it runs, so a chatty child never blocks on
/// a full pipe. Past `limit` the child (ours, by its handle; nothing else) is killed and
/// this panics with the command and what it had written to stderr.
///
/// # Panics
///
/// When the child cannot start, cannot be waited on, or outlives `limit`.
pub fn run_bounded(command: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{command:?} cannot start: {err}"));
    let input = child.stdin.take().map(|mut input| {
        let stdin = stdin.to_vec();
        // The child may exit before reading everything; a broken pipe is then expected.
        thread::spawn(move || {
            let _ = input.write_all(&stdin);
        })
    });
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let deadline = Instant::now() + limit;
    // Quick children (most) are seen at once; a long build is not polled 500 times a second.
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(err) => panic!("{command:?} cannot be waited on: {err}"),
        }
    };
    if let Some(input) = input {
        let _ = input.join();
    }
    let stdout = stdout.map(join).unwrap_or_default();
    let stderr = stderr.map(join).unwrap_or_default();
    let Some(status) = status else {
        panic!(
            "{command:?} did not exit within {limit:?}; its stderr:\n{}",
            String::from_utf8_lossy(&stderr)
        );
    };
    Output {
        status,
        stdout,
        stderr,
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

fn join(reader: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    reader.join().unwrap_or_default()
}
