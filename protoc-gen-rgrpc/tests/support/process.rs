//! Running a child process with a bound on the wait, so that a hang fails the test
//! instead of stalling it: `rgrpc_dev::run_bounded` with these tests' bound.

#![allow(dead_code)] // each test file uses its own subset

use std::process::{Command, Output};
use std::time::Duration;

pub use rgrpc_dev::run_bounded as run_bounded_for;

/// No child of these tests may take longer than this.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `command` with `stdin` as its input and waits at most [`LIMIT`] for it to exit:
/// past that it is killed and the test fails.
pub fn run_bounded(command: &mut Command, stdin: &[u8]) -> Output {
    run_bounded_for(command, stdin, LIMIT)
}
