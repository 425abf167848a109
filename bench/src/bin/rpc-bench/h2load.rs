//! h2load (nghttp2's load generator, Debian's `nghttp2-client`): the load generator that is
//! none of the stacks. It sends unary `SayHello` calls as plain POSTs of one pre-encoded
//! body, in whichever protocol the scenario names (`wire.rs`), over HTTP/2 or HTTP/1.1;
//! `bench/setup.sh` installs it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::child::{Launch, run_bounded};
use crate::figures::Figures;
use crate::procfs::{self, Cpu};
use crate::scenarios::H2loadLoad;
use crate::wire::{PATH, Wire};

/// Requests of the warm-up run before each measurement.
const WARM_UP_REQUESTS: usize = 2000;

/// h2load, with the request bodies it sends.
#[derive(Debug)]
pub struct H2load {
    h2load: PathBuf,
    bodies: BTreeMap<Wire, PathBuf>,
    log: PathBuf,
}

/// `name` on `PATH`, if it is there.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

impl H2load {
    /// h2load from `PATH` with the request bodies of `wires` written out, or `None` if it
    /// is not installed.
    pub fn find(wires: &[Wire]) -> Result<Option<H2load>, String> {
        let Some(h2load) = which("h2load") else {
            return Ok(None);
        };
        let dir = std::env::temp_dir();
        let pid = std::process::id();
        let mut found = H2load {
            h2load,
            bodies: BTreeMap::new(),
            log: dir.join(format!("rpc-bench-{pid}-h2load.log")),
        };
        for &wire in wires {
            let body = dir.join(format!("rpc-bench-{pid}-{wire:?}.body"));
            std::fs::write(&body, wire.body())
                .map_err(|err| format!("cannot write {}: {err}", body.display()))?;
            // Dropping `found` removes the files written so far.
            found.bodies.insert(wire, body);
        }
        Ok(Some(found))
    }

    /// A warm-up run, then `seconds` of calls, measured: h2load's own CPU time comes from
    /// this process's waited-for children, the server's from `/proc`.
    pub fn measure(
        &self,
        addr: &str,
        load: H2loadLoad,
        seconds: f64,
        server_pid: u32,
        launch: &Launch,
    ) -> Result<Figures, String> {
        let url = format!("http://{addr}{PATH}");
        let warm_up = self.args(load, &["-n", &WARM_UP_REQUESTS.to_string()], &url)?;
        let limit = Duration::from_secs_f64(seconds + 60.0);
        let output = run_bounded(launch.command(&self.h2load, &warm_up), limit, "h2load")?;
        Summary::parse(&output)?;
        // h2load appends to its log file.
        let _ = std::fs::remove_file(&self.log);
        let log = format!("--log-file={}", self.log.display());
        let measured = self.args(
            load,
            &["-D", &format!("{}ms", (seconds * 1000.0).round()), &log],
            &url,
        )?;
        let server_before = Cpu::of(server_pid)?;
        let h2load_before = procfs::waited_children_ticks()?;
        let started = Instant::now();
        let output = run_bounded(launch.command(&self.h2load, &measured), limit, "h2load")?;
        let wall = started.elapsed();
        let h2load_ticks = procfs::waited_children_ticks()? - h2load_before;
        let server = Cpu::of(server_pid)?.since(server_before);
        let summary = Summary::parse(&output)?;
        let latencies = read_log(&self.log)?;
        // h2load's rate is over its measurement window; its process also connects.
        let elapsed = Duration::from_secs_f64(summary.succeeded as f64 / summary.rate).min(wall);
        Ok(Figures::new(
            summary.succeeded,
            elapsed,
            latencies,
            h2load_ticks,
            server,
        ))
    }

    /// One thread; HTTP/2: one connection with `concurrency` streams; HTTP/1.1:
    /// `concurrency` connections with one request at a time each.
    fn args(&self, load: H2loadLoad, extra: &[&str], url: &str) -> Result<Vec<String>, String> {
        let body = self
            .bodies
            .get(&load.wire)
            .ok_or_else(|| format!("no request body written for {}", load.wire.name()))?;
        let (connections, streams) = if load.http1 {
            (load.concurrency, 1)
        } else {
            (1, load.concurrency)
        };
        let mut args: Vec<String> = vec![
            "-c".into(),
            connections.to_string(),
            "-t".into(),
            "1".into(),
            "-m".into(),
            streams.to_string(),
        ];
        if load.http1 {
            args.push("--h1".into());
        }
        for (name, value) in load.wire.headers() {
            args.push("-H".into());
            args.push(format!("{name}: {value}"));
        }
        args.push("-d".into());
        args.push(body.display().to_string());
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args.push(url.to_owned());
        Ok(args)
    }
}

impl Drop for H2load {
    fn drop(&mut self) {
        for body in self.bodies.values() {
            let _ = std::fs::remove_file(body);
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// What h2load's report says, checked: every request done succeeded with a 2xx status
/// (h2load counts a 3xx as succeeded too).
#[derive(Debug, PartialEq)]
struct Summary {
    succeeded: u64,
    rate: f64,
}

impl Summary {
    /// From `finished in 1.00s, 87260.00 req/s, …`, `requests: T total, S started, D done,
    /// OK succeeded, F failed, E errored, X timeout` and `status codes: A 2xx, B 3xx, C 4xx,
    /// D 5xx`.
    fn parse(output: &str) -> Result<Summary, String> {
        let line = |prefix: &str| {
            output
                .lines()
                .find_map(|line| line.strip_prefix(prefix))
                .ok_or_else(|| format!("h2load printed no {prefix:?} line:\n{output}"))
        };
        let rate = line("finished in ")?
            .split(", ")
            .find_map(|part| part.strip_suffix(" req/s"))
            .and_then(|rate| rate.parse::<f64>().ok())
            .ok_or_else(|| format!("h2load printed no rate:\n{output}"))?;
        let counts: Vec<(String, u64)> = [line("requests: ")?, line("status codes: ")?]
            .into_iter()
            .flat_map(|line| line.split(", "))
            .filter_map(|part| {
                let (count, name) = part.split_once(' ')?;
                Some((name.to_owned(), count.parse().ok()?))
            })
            .collect();
        let count = |name: &str| {
            counts
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, count)| *count)
                .ok_or_else(|| format!("h2load printed no {name} count:\n{output}"))
        };
        let (done, succeeded) = (count("done")?, count("succeeded")?);
        let failures = count("failed")? + count("errored")? + count("timeout")?;
        if succeeded == 0 || succeeded != done || failures != 0 || count("2xx")? != done {
            return Err(format!("h2load requests failed:\n{output}"));
        }
        Ok(Summary { succeeded, rate })
    }
}

/// The per-request times of h2load's `--log-file` (start, status, µs to the end).
fn read_log(path: &Path) -> Result<Vec<Duration>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split('\t').nth(2)?.trim().parse().ok())
        .map(Duration::from_micros)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "finished in 1.00s, 87260.00 req/s, 3.25MB/s
requests: 87260 total, 87324 started, 87260 done, 87260 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 87260 2xx, 0 3xx, 0 4xx, 0 5xx";

    #[test]
    fn reads_the_report() {
        assert_eq!(
            Summary::parse(REPORT).unwrap(),
            Summary {
                succeeded: 87260,
                rate: 87260.0
            }
        );
        let failing = REPORT.replace("87260 succeeded, 0 failed", "87259 succeeded, 1 failed");
        assert!(Summary::parse(&failing).is_err());
        let redirected = REPORT.replace("87260 2xx, 0 3xx", "87259 2xx, 1 3xx");
        assert!(Summary::parse(&redirected).is_err());
        assert!(Summary::parse("nothing").is_err());
    }
}
