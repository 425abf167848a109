//! The benchmark's child processes: started pinned to cores (`taskset`), optionally under
//! callgrind, read line by line with a bound on every wait, and stopped through their own
//! handles — never by name.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to say where it listens (valgrind starts slowly).
const START_LIMIT: Duration = Duration::from_secs(120);
/// How long a server may take to stop once told to (callgrind then writes its profile).
const STOP_LIMIT: Duration = Duration::from_secs(120);

/// How a child runs: on which cores, and whether under callgrind (writing where).
#[derive(Clone, Debug, Default)]
pub struct Launch {
    pub cores: Option<String>,
    pub callgrind_out: Option<PathBuf>,
}

impl Launch {
    pub fn on(cores: Option<&str>) -> Launch {
        Launch {
            cores: cores.map(str::to_owned),
            callgrind_out: None,
        }
    }

    /// `program args…`, behind `taskset -c CORES` and `valgrind --tool=callgrind` as asked.
    pub fn command(&self, program: impl AsRef<OsStr>, args: &[String]) -> Command {
        let mut argv: Vec<OsString> = Vec::new();
        if let Some(cores) = &self.cores {
            argv.extend(["taskset".into(), "-c".into(), cores.into()]);
        }
        if let Some(out) = &self.callgrind_out {
            let mut file = OsString::from("--callgrind-out-file=");
            file.push(out);
            argv.extend([
                "valgrind".into(),
                "--tool=callgrind".into(),
                "-q".into(),
                file,
            ]);
        }
        argv.push(program.as_ref().to_owned());
        argv.extend(args.iter().map(OsString::from));
        let mut command = Command::new(&argv[0]);
        command.args(&argv[1..]);
        command
    }

    /// This benchmark binary itself with `args`.
    pub fn this(&self, args: &[String]) -> Result<Command, String> {
        let exe = std::env::current_exe().map_err(|err| format!("no path to myself: {err}"))?;
        Ok(self.command(exe, args))
    }
}

/// The lines a child writes to stdout, read on a thread of their own so that every wait
/// for one is bounded.
pub struct Lines {
    receiver: mpsc::Receiver<String>,
}

impl Lines {
    pub fn new(stdout: impl Read + Send + 'static) -> Lines {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { receiver }
    }

    /// The next line, which must start with `prefix`: what follows it.
    pub fn expect(&self, prefix: &str, limit: Duration) -> Result<String, String> {
        match self.receiver.recv_timeout(limit) {
            Ok(line) => line
                .strip_prefix(prefix)
                .map(str::to_owned)
                .ok_or_else(|| format!("expected {prefix:?}, got {line:?}")),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("no {prefix:?} line within {limit:?}"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(format!("the process ended before {prefix:?}"))
            }
        }
    }
}

/// Waits at most `limit` for `child` to exit; `None` if it is still running.
fn wait_bounded(child: &mut Child, limit: Duration) -> Result<Option<ExitStatus>, String> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait().map_err(|err| err.to_string())? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Kills `child` (ours, by its handle) and reaps it.
fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A child that runs until its stdin closes, speaking lines on stdout: a server (`rpc-bench
/// serve`) or the idle-stream holder (`rpc-bench hold`).
pub struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines,
    what: String,
}

impl Process {
    pub fn start(mut command: Command, what: &str) -> Result<Process, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start the {what}: {err}"))?;
        let stdin = child.stdin.take();
        let Some(stdout) = child.stdout.take() else {
            kill(&mut child);
            return Err(format!("the {what} has no stdout"));
        };
        Ok(Process {
            child,
            stdin,
            lines: Lines::new(stdout),
            what: what.to_owned(),
        })
    }

    /// A server: started, and where it listens.
    pub fn server(command: Command, what: &str) -> Result<(Process, String), String> {
        let process = Process::start(command, what)?;
        let addr = process.expect("listening on ", START_LIMIT)?;
        Ok((process, addr))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn expect(&self, prefix: &str, limit: Duration) -> Result<String, String> {
        self.lines
            .expect(prefix, limit)
            .map_err(|problem| format!("{}: {problem}", self.what))
    }

    /// Writes one line to the child's stdin.
    pub fn say(&mut self, line: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("stdin already closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|err| format!("cannot write to the {}: {err}", self.what))
    }

    /// Closes its stdin (its signal to stop), and waits for it to exit; past the bound it
    /// is killed and this is an error.
    pub fn stop(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        match wait_bounded(&mut self.child, STOP_LIMIT)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => Err(format!("the {} exited with {status}", self.what)),
            None => {
                kill(&mut self.child);
                Err(format!(
                    "the {} did not stop within {STOP_LIMIT:?}",
                    self.what
                ))
            }
        }
    }
}

impl Drop for Process {
    /// On an early return: the same stop, quicker to give up.
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Ok(None) = wait_bounded(&mut self.child, Duration::from_secs(5)) {
            kill(&mut self.child);
        }
    }
}

/// Runs `command` to its end, at most `limit` (killed past it): its stdout. Its stderr
/// passes through.
pub fn run_bounded(mut command: Command, limit: Duration, what: &str) -> Result<String, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start {what}: {err}"))?;
    let Some(mut stdout) = child.stdout.take() else {
        kill(&mut child);
        return Err(format!("{what} has no stdout"));
    };
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let status = wait_bounded(&mut child, limit)?;
    if status.is_none() {
        kill(&mut child);
    }
    let text = reader.join().unwrap_or_default();
    match status {
        Some(status) if status.success() => Ok(text),
        Some(status) => Err(format!("{what} exited with {status}; it said:\n{text}")),
        None => Err(format!("{what} did not finish within {limit:?}")),
    }
}
