//! A child process that is ours: killed by its PID when dropped, its stdout collected line
//! by line so a test can wait for what it announces.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// What went wrong with a child process, naming it.
#[derive(Debug)]
pub struct ProcessError(pub String);

impl std::fmt::Display for ProcessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProcessError {}

/// The lines a child printed so far, and a condition signalled at each new one.
#[derive(Debug, Default)]
struct Lines {
    lines: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

/// A running child process; dropping it kills it (SIGKILL, by PID) and reaps it.
#[derive(Debug)]
pub struct Spawned {
    name: String,
    child: Child,
    lines: Arc<Lines>,
    status: Option<ExitStatus>,
}

impl Spawned {
    /// Starts `command` with its stdout piped (collected); stderr is as `command` says
    /// (inherited unless set).
    pub fn start(name: impl Into<String>, mut command: Command) -> Result<Self, ProcessError> {
        let name = name.into();
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| ProcessError(format!("cannot start {name} ({command:?}): {err}")))?;
        let lines = Arc::new(Lines::default());
        if let Some(stdout) = child.stdout.take() {
            let sink = Arc::clone(&lines);
            thread::spawn(move || collect_lines(stdout, &sink));
        }
        Ok(Self {
            name,
            child,
            lines,
            status: None,
        })
    }

    /// The process's name, as given to [`Spawned::start`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process's id (with `ip netns exec`, that of the program it execs).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (a name kill(1) knows: `TERM`, `HUP`, `KILL`) to the process.
    pub fn signal(&self, signal: &str) -> Result<(), ProcessError> {
        send_signal(self.pid(), signal)
            .map_err(|err| ProcessError(format!("cannot signal {}: {err}", self.name)))
    }

    /// Waits (at most `limit`) for a line that `matches`, and returns it.
    pub fn wait_for_line(
        &self,
        limit: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Result<String, ProcessError> {
        let deadline = Instant::now() + limit;
        let mut guard = self.lock_lines();
        loop {
            if let Some(line) = guard.0.iter().find(|line| matches(line)) {
                return Ok(line.clone());
            }
            let now = Instant::now();
            if guard.1 || now >= deadline {
                let ended = if guard.1 {
                    "ended its output"
                } else {
                    "timed out"
                };
                return Err(ProcessError(format!(
                    "{} {ended} before the line awaited; it printed: {:?}",
                    self.name, guard.0
                )));
            }
            guard = match self.lines.changed.wait_timeout(guard, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lock_lines().0.clone()
    }

    /// Waits (at most `limit`) for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Result<ExitStatus, ProcessError> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_status()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(ProcessError(format!(
                    "{} did not exit within {limit:?}",
                    self.name
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most `limit`) for the process's output to end, then for its exit; returns
    /// every line it printed.
    pub fn finish(&mut self, limit: Duration) -> Result<Vec<String>, ProcessError> {
        let status = self.wait_exit(limit)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut guard = self.lock_lines();
        while !guard.1 && Instant::now() < deadline {
            guard = match self
                .lines
                .changed
                .wait_timeout(guard, Duration::from_millis(50))
            {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let lines = guard.0.clone();
        drop(guard);
        if !status.success() {
            return Err(ProcessError(format!(
                "{} exited with {status}; it printed: {lines:?}",
                self.name
            )));
        }
        Ok(lines)
    }

    /// Kills the process (SIGKILL) and reaps it; a process already gone is fine.
    pub fn kill(&mut self) {
        if self.try_status().ok().flatten().is_none() {
            let _ = self.child.kill();
            if let Ok(status) = self.child.wait() {
                self.status = Some(status);
            }
        }
    }

    fn try_status(&mut self) -> Result<Option<ExitStatus>, ProcessError> {
        if self.status.is_none() {
            self.status = self
                .child
                .try_wait()
                .map_err(|err| ProcessError(format!("cannot wait for {}: {err}", self.name)))?;
        }
        Ok(self.status)
    }

    fn lock_lines(&self) -> std::sync::MutexGuard<'_, (Vec<String>, bool)> {
        match self.lines.lines.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

fn collect_lines(stdout: std::process::ChildStdout, lines: &Lines) {
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Ok(mut guard) = lines.lines.lock() {
            guard.0.push(line);
        }
        lines.changed.notify_all();
    }
    if let Ok(mut guard) = lines.lines.lock() {
        guard.1 = true;
    }
    lines.changed.notify_all();
}

/// Sends `signal` to `pid` with kill(1) (no `unsafe` libc call needed).
pub fn send_signal(pid: u32, signal: &str) -> Result<(), String> {
    let status = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|err| format!("cannot run kill: {err}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("kill -s {signal} {pid} failed ({status})"))
    }
}

/// Runs `command` to completion (the `ip` commands it is for never wait on anything),
/// failing with its stderr.
pub fn run(command: &mut Command) -> Result<String, ProcessError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|err| ProcessError(format!("cannot run {command:?}: {err}")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(ProcessError(format!(
            "{command:?} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
