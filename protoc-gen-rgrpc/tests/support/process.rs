//! Running a child process with a bound on the wait, so that a hang fails the test
//! instead of stalling it.

#![allow(dead_code)] // each test file uses its own subset

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// No child of these tests may take longer than this.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `command` with `stdin` as its input and waits at most [`LIMIT`] for it to exit:
/// past that it is killed and the test fails.
pub fn run_bounded(command: &mut Command, stdin: &[u8]) -> Output {
    run_bounded_for(command, stdin, LIMIT)
}

/// [`run_bounded`] with another bound, for children that start children of their own.
pub fn run_bounded_for(command: &mut Command, stdin: &[u8], limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    let stdin = stdin.to_vec();
    // The child may exit before reading everything; a broken pipe is then expected.
    let writer = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err_reader = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            break status;
        }
        if Instant::now() >= deadline {
            // Our own child, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command:?} did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(2));
    };
    writer.join().expect("the writer thread ends");
    Output {
        status,
        stdout: out_reader.join().expect("the stdout reader ends"),
        stderr: err_reader.join().expect("the stderr reader ends"),
    }
}
