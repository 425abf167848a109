//! h2load (nghttp2's load generator, Debian's `nghttp2-client`): the load generator that is
//! none of the stacks. It sends unary `SayHello` calls as plain HTTP/2 POSTs of one
//! pre-encoded gRPC frame; `bench/setup-h2load.sh` installs it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prost::Message;

use crate::child::{Launch, run_bounded};
use crate::figures::Figures;
use crate::procfs::{self, Cpu};
use crate::proto::tonic_hello::HelloRequest;

const PATH: &str = "/hello.HelloService/SayHello";
/// Requests of the warm-up run before each measurement.
const WARM_UP_REQUESTS: usize = 2000;

/// h2load, with the request body it sends, and nghttp (same package) for the one call
/// whose trailers are checked.
#[derive(Debug)]
pub struct H2load {
    h2load: PathBuf,
    nghttp: Option<PathBuf>,
    body: PathBuf,
    log: PathBuf,
}

/// `name` on `PATH`, if it is there.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// One gRPC frame: uncompressed, 4-byte big-endian length, then `HelloRequest{greeting:"u"}`
/// — the unary request the Rust load generator sends too.
fn request_frame() -> Vec<u8> {
    let message = HelloRequest {
        greeting: "u".to_owned(),
    }
    .encode_to_vec();
    let mut frame = vec![0u8];
    frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
    frame.extend_from_slice(&message);
    frame
}

impl H2load {
    /// h2load from `PATH` with its request body written out, or `None` if it is not
    /// installed.
    pub fn find() -> Result<Option<H2load>, String> {
        let Some(h2load) = which("h2load") else {
            return Ok(None);
        };
        let dir = std::env::temp_dir();
        let body = dir.join(format!("rpc-bench-{}-hello.bin", std::process::id()));
        std::fs::write(&body, request_frame())
            .map_err(|err| format!("cannot write {}: {err}", body.display()))?;
        Ok(Some(H2load {
            h2load,
            nghttp: which("nghttp"),
            log: dir.join(format!("rpc-bench-{}-h2load.log", std::process::id())),
            body,
        }))
    }

    fn grpc_args(&self) -> Vec<String> {
        vec![
            "-H".into(),
            "content-type: application/grpc".into(),
            "-H".into(),
            "te: trailers".into(),
            "-d".into(),
            self.body.display().to_string(),
        ]
    }

    /// One call through nghttp, which prints the trailers: the server must answer
    /// `grpc-status: 0` (h2load counts HTTP statuses only, and gRPC puts errors in
    /// trailers). Without nghttp this check is skipped, and says so.
    pub fn check(&self, addr: &str) -> Result<&'static str, String> {
        let Some(nghttp) = &self.nghttp else {
            return Ok("nghttp missing: grpc-status not checked");
        };
        let mut args = vec!["-v".to_owned()];
        args.extend(self.grpc_args());
        args.push(format!("http://{addr}{PATH}"));
        let output = run_bounded(
            Launch::default().command(nghttp, &args),
            Duration::from_secs(30),
            "nghttp",
        )?;
        if output.contains("grpc-status: 0") {
            Ok("grpc-status 0 checked with nghttp")
        } else {
            Err(format!(
                "the h2load request did not get grpc-status 0:\n{output}"
            ))
        }
    }

    /// A warm-up run, then `seconds` of unary calls, `concurrency` streams on one
    /// connection, measured: h2load's own CPU time comes from this process's waited-for
    /// children, the server's from `/proc`.
    pub fn measure(
        &self,
        addr: &str,
        concurrency: usize,
        seconds: f64,
        server_pid: u32,
        launch: &Launch,
    ) -> Result<Figures, String> {
        let url = format!("http://{addr}{PATH}");
        let warm_up = self.args(concurrency, &["-n", &WARM_UP_REQUESTS.to_string()], &url);
        let limit = Duration::from_secs_f64(seconds + 60.0);
        run_bounded(launch.command(&self.h2load, &warm_up), limit, "h2load")?;
        // h2load appends to its log file.
        let _ = std::fs::remove_file(&self.log);
        let log = format!("--log-file={}", self.log.display());
        let measured = self.args(
            concurrency,
            &["-D", &format!("{}ms", (seconds * 1000.0).round()), &log],
            &url,
        );
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

    fn args(&self, concurrency: usize, extra: &[&str], url: &str) -> Vec<String> {
        let mut args: Vec<String> = ["-c", "1", "-t", "1", "-m", &concurrency.to_string()]
            .map(str::to_owned)
            .to_vec();
        args.extend(self.grpc_args());
        args.extend(extra.iter().map(|arg| (*arg).to_owned()));
        args.push(url.to_owned());
        args
    }
}

impl Drop for H2load {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.body);
        let _ = std::fs::remove_file(&self.log);
    }
}

/// What h2load's report says, checked: every request done succeeded.
#[derive(Debug, PartialEq)]
struct Summary {
    succeeded: u64,
    rate: f64,
}

impl Summary {
    /// From `finished in 1.00s, 87260.00 req/s, …` and `requests: T total, S started, D done,
    /// OK succeeded, F failed, E errored, X timeout`.
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
        let counts: Vec<(String, u64)> = line("requests: ")?
            .split(", ")
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
        if succeeded == 0 || succeeded != done || failures != 0 {
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
        assert!(Summary::parse("nothing").is_err());
    }

    #[test]
    fn the_frame_is_prefixed() {
        assert_eq!(request_frame(), [0, 0, 0, 0, 3, 0x0a, 1, b'u']);
    }
}
