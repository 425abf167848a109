//! RPC speed, rgrpc against tonic, over HTTP/2 on 127.0.0.1: server and load generator in
//! separate processes, the two stacks alternated (A B, B A, …) so drift on a shared machine
//! hits both alike. Ratios are rgrpc/tonic.
//!
//! * `rpc-bench compare [--reps N] [--seconds S] [--scenarios NAME,…]` — the comparison
//!   (every scenario unless named); prints Markdown.
//! * `rpc-bench serve --stack rgrpc|tonic` — one server; prints `listening on ADDR`.
//! * `rpc-bench load --stack rgrpc|tonic --addr ADDR --scenario NAME --seconds S` — one
//!   measurement; prints `rate p50_ns p99_ns`.

mod scenarios;
mod stacks;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use scenarios::{Figures, SCENARIOS, Scenario};
use stacks::{Client, Stack};

const USAGE: &str = "usage: rpc-bench compare [--reps N] [--seconds S] [--scenarios NAME,...]
       rpc-bench serve --stack rgrpc|tonic
       rpc-bench load --stack rgrpc|tonic --addr HOST:PORT --scenario NAME --seconds S";

/// `--flag value` pairs after the subcommand.
fn flags(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut flags = BTreeMap::new();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag:?}"))?;
        let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
        flags.insert(name.to_owned(), value.clone());
    }
    Ok(flags)
}

fn flag<T: std::str::FromStr>(
    flags: &BTreeMap<String, String>,
    name: &str,
    default: Option<T>,
) -> Result<T, String> {
    match flags.get(name) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("--{name}: cannot read {text:?}")),
        None => default.ok_or_else(|| format!("--{name} is required")),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("serve") => serve(&args[1..]).await,
        Some("load") => load(&args[1..]).await,
        Some("compare") => compare(&args[1..]),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("rpc-bench: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: &[String]) -> Result<(), String> {
    let flags = flags(args)?;
    let stack = Stack::parse(&flag::<String>(&flags, "stack", None)?)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("cannot listen: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    println!("listening on {addr}");
    stacks::serve(stack, listener).await
}

async fn load(args: &[String]) -> Result<(), String> {
    let flags = flags(args)?;
    let stack = Stack::parse(&flag::<String>(&flags, "stack", None)?)?;
    let addr: String = flag(&flags, "addr", None)?;
    let scenario = Scenario::parse(&flag::<String>(&flags, "scenario", None)?)?;
    let seconds: f64 = flag(&flags, "seconds", Some(2.0))?;
    let client = Client::connect(stack, format!("http://{addr}")).await?;
    let figures = scenarios::run(scenario, &client, Duration::from_secs_f64(seconds)).await?;
    println!("{}", figures.to_line());
    Ok(())
}

/// A server process of ours, stopped (by its own handle) when dropped.
struct ServerProcess {
    child: Child,
    addr: String,
}

impl ServerProcess {
    fn start(stack: Stack) -> Result<ServerProcess, String> {
        let exe = std::env::current_exe().map_err(|err| err.to_string())?;
        let mut child = Command::new(exe)
            .args(["serve", "--stack", stack.name()])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start a server: {err}"))?;
        let stdout = child.stdout.take().ok_or("no server stdout")?;
        let mut line = String::new();
        // The server prints its address first thing; a dead server ends the read with EOF.
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|err| err.to_string())?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("the {} server said {line:?}", stack.name()))?
            .to_owned();
        Ok(ServerProcess { child, addr })
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn measure(stack: Stack, addr: &str, scenario: Scenario, seconds: f64) -> Result<Figures, String> {
    let exe = std::env::current_exe().map_err(|err| err.to_string())?;
    let output = Command::new(exe)
        .args([
            "load",
            "--stack",
            stack.name(),
            "--addr",
            addr,
            "--scenario",
            scenario.name(),
            "--seconds",
            &seconds.to_string(),
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| format!("cannot run the load generator: {err}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("{} {} failed", stack.name(), scenario.name()));
    }
    Figures::from_line(text.trim()).ok_or_else(|| format!("unreadable figures {text:?}"))
}

/// All the figures of one stack and scenario, over the repetitions.
type Runs = BTreeMap<(usize, &'static str), Vec<Figures>>;

fn compare(args: &[String]) -> Result<(), String> {
    let flags = flags(args)?;
    let reps: usize = flag(&flags, "reps", Some(3))?;
    let seconds: f64 = flag(&flags, "seconds", Some(2.0))?;
    if reps == 0 || seconds <= 0.0 {
        return Err("--reps and --seconds must be positive".to_owned());
    }
    // `--scenarios a,b` measures only those (e.g. while profiling one of them).
    let chosen: Vec<Scenario> = match flags.get("scenarios") {
        None => SCENARIOS.to_vec(),
        Some(list) => list
            .split(',')
            .map(Scenario::parse)
            .collect::<Result<_, _>>()?,
    };
    let mut runs: Runs = BTreeMap::new();
    for rep in 0..reps {
        // A B, then B A: neither stack always runs first.
        let order = if rep % 2 == 0 {
            [Stack::Rgrpc, Stack::Tonic]
        } else {
            [Stack::Tonic, Stack::Rgrpc]
        };
        for stack in order {
            let server = ServerProcess::start(stack)?;
            for (index, scenario) in SCENARIOS.iter().enumerate() {
                if !chosen.contains(scenario) {
                    continue;
                }
                eprintln!(
                    "rep {}/{reps}: {} {}",
                    rep + 1,
                    stack.name(),
                    scenario.name()
                );
                let figures = measure(stack, &server.addr, *scenario, seconds)?;
                runs.entry((index, stack.name())).or_default().push(figures);
            }
        }
    }
    print!("{}", report(&runs, reps, seconds));
    Ok(())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn spread(values: &[f64]) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{:.2}× ({min:.2}–{max:.2})", median(values.to_vec()))
}

/// The Markdown table: medians per stack, and the rgrpc/tonic ratio with its min–max over
/// the repetitions (each repetition's rgrpc figure over the same repetition's tonic figure).
fn report(runs: &Runs, reps: usize, seconds: f64) -> String {
    let mut out = format!(
        "### RPC speed, rgrpc vs tonic ({reps} alternated repetitions × {seconds} s per scenario)\n\n\
         | scenario | measure | rgrpc | tonic | rgrpc/tonic (min–max) |\n|---|---|---:|---:|---|\n"
    );
    for (index, scenario) in SCENARIOS.iter().enumerate() {
        let (Some(ours), Some(theirs)) = (runs.get(&(index, "rgrpc")), runs.get(&(index, "tonic")))
        else {
            continue;
        };
        let ratios = |pick: fn(&Figures) -> f64| -> Vec<f64> {
            ours.iter()
                .zip(theirs)
                .map(|(a, b)| pick(a) / pick(b))
                .collect()
        };
        let rate = |f: &Figures| f.rate;
        out.push_str(&format!(
            "| {} | {} | {:.0} | {:.0} | {} |\n",
            scenario.name(),
            scenario.unit(),
            median(ours.iter().map(rate).collect()),
            median(theirs.iter().map(rate).collect()),
            spread(&ratios(rate)),
        ));
        if scenario.has_latency() {
            for (name, pick) in [
                (
                    "p50",
                    (|f: &Figures| f.p50.as_secs_f64() * 1e6) as fn(&Figures) -> f64,
                ),
                ("p99", |f: &Figures| f.p99.as_secs_f64() * 1e6),
            ] {
                out.push_str(&format!(
                    "| | {name} latency (µs) | {:.0} | {:.0} | {} |\n",
                    median(ours.iter().map(pick).collect()),
                    median(theirs.iter().map(pick).collect()),
                    spread(&ratios(pick)),
                ));
            }
        }
    }
    out.push_str(
        "\nRates: higher is better, ratio > 1 means rgrpc is faster. Latencies: lower is better, \
         ratio < 1 means rgrpc is quicker.\n",
    );
    out
}
