//! The comparisons, one side at a time: which processes run, pinned where, in which order,
//! how often. Every repetition alternates the order of the stacks (A B C, then C B A, …) so
//! that drift on a shared machine hits them alike, and starts each server afresh.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::ask::{self, Verdict};
use crate::child::{Launch, Process, run_bounded};
use crate::clients::ClientStack;
use crate::figures::Figures;
use crate::h2load::H2load;
use crate::idle::{self, IdleFigures};
use crate::scenarios::{Generator, Scenario};
use crate::servers::ServerStack;
use crate::wire::Wire;

/// How long a load generator may run past its window (connecting, warming up, a slow
/// machine) before it counts as hung.
const LOAD_SLACK: Duration = Duration::from_secs(120);

/// Where the processes run: the server on core 0 (cores 0 and 1 with two threads), every
/// load generator on core 1; or anywhere, if the machine has one core or no `taskset`.
#[derive(Clone, Copy, Debug)]
pub struct Pinning {
    pub enabled: bool,
}

impl Pinning {
    pub fn detect() -> Pinning {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let taskset = std::process::Command::new("taskset")
            .arg("-V")
            .output()
            .is_ok_and(|output| output.status.success());
        Pinning {
            enabled: cores >= 2 && taskset,
        }
    }

    pub fn server(self, threads: usize) -> Launch {
        Launch::on(
            self.enabled
                .then_some(if threads == 1 { "0" } else { "0,1" }),
        )
    }

    pub fn load(self) -> Launch {
        Launch::on(self.enabled.then_some("1"))
    }
}

/// What every comparison is given.
#[derive(Debug)]
pub struct Plan {
    pub reps: usize,
    pub seconds: f64,
    pub scenarios: Vec<Scenario>,
    pub h2load: Option<H2load>,
    pub pinning: Pinning,
}

/// Figures by scenario, column (a stack's name) and server threads: one per repetition,
/// in repetition order, so that ratios pair figures of the same repetition.
pub type Runs = BTreeMap<(Scenario, &'static str, usize), Vec<Figures>>;

/// A server process to start: one of this binary's stacks, or one of another binary's (an
/// earlier build of this benchmark, which has the same `serve` subcommand).
#[derive(Clone, Debug)]
pub struct Server {
    /// The table column it is measured in.
    pub column: &'static str,
    pub stack: ServerStack,
    /// `None`: this binary.
    pub exe: Option<PathBuf>,
}

impl Server {
    /// One of this binary's stacks, in a column named after it.
    pub fn this(stack: ServerStack) -> Server {
        Server {
            column: stack.name(),
            stack,
            exe: None,
        }
    }

    fn command(&self, launch: &Launch, threads: usize) -> Result<Command, String> {
        let args = [
            "serve",
            "--server",
            self.stack.name(),
            "--threads",
            &threads.to_string(),
        ]
        .map(str::to_owned);
        match &self.exe {
            Some(exe) => Ok(launch.command(exe, &args)),
            None => launch.this(&args),
        }
    }
}

/// A protocol h2load spoke, and over HTTP/1.1 or not.
pub type Spoken = (Wire, bool);

/// What the servers side found: the figures, and what one checked call of each protocol
/// h2load spoke got from each server (column).
#[derive(Debug, Default)]
pub struct ServerRuns {
    pub runs: Runs,
    pub checks: BTreeMap<Spoken, Vec<(&'static str, Verdict)>>,
}

/// `items` in repetition `rep`'s order: as given, then reversed, and so on.
fn order<T: Copy>(items: &[T], rep: usize) -> Vec<T> {
    order_of(items, rep).into_iter().copied().collect()
}

/// The same, borrowed.
fn order_of<T>(items: &[T], rep: usize) -> Vec<&T> {
    let mut items: Vec<&T> = items.iter().collect();
    if rep % 2 == 1 {
        items.reverse();
    }
    items
}

/// The scenarios the Rust load generator runs, if `with_h2load` also h2load's.
fn chosen(plan: &Plan, with_h2load: bool) -> Vec<Scenario> {
    plan.scenarios
        .iter()
        .copied()
        .filter(|s| with_h2load || s.generator() == Generator::Ours)
        .collect()
}

/// Servers side: each server in turn, loaded by the tonic client (and h2load).
pub fn servers(plan: &Plan, servers: &[Server]) -> Result<ServerRuns, String> {
    let scenarios = chosen(plan, true);
    let mut found = ServerRuns::default();
    for rep in 0..plan.reps {
        for server in order_of(servers, rep) {
            let label = format!("servers {}/{}: {}", rep + 1, plan.reps, server.column);
            let block = block(plan, &label, server, 1, ClientStack::Tonic, &scenarios)?;
            record(&mut found.runs, server.column, 1, block.figures);
            if rep == 0 {
                for (spoken, verdict) in block.checks {
                    let by_server = found.checks.entry(spoken).or_default();
                    by_server.push((server.column, verdict));
                }
            }
        }
    }
    Ok(found)
}

/// Clients side: each client in turn, against a fresh tonic server.
pub fn clients(plan: &Plan) -> Result<Runs, String> {
    let scenarios = chosen(plan, false);
    let mut runs = Runs::new();
    for rep in 0..plan.reps {
        for client in order(&ClientStack::ALL, rep) {
            let label = format!(
                "clients {}/{}: {} client",
                rep + 1,
                plan.reps,
                client.name()
            );
            let server = Server::this(ServerStack::Tonic);
            let block = block(plan, &label, &server, 1, client, &scenarios)?;
            record(&mut runs, client.name(), 1, block.figures);
        }
    }
    Ok(runs)
}

/// Thread scaling: each server with one worker thread, then two.
pub fn scaling(plan: &Plan) -> Result<Runs, String> {
    let scenarios = chosen(plan, true);
    let mut runs = Runs::new();
    for rep in 0..plan.reps {
        for server in order(&ServerStack::ALL, rep) {
            for threads in [1, 2] {
                let label = format!(
                    "scaling {}/{}: {} ({threads} thread{})",
                    rep + 1,
                    plan.reps,
                    server.name(),
                    if threads == 1 { "" } else { "s" }
                );
                let block = block(
                    plan,
                    &label,
                    &Server::this(server),
                    threads,
                    ClientStack::Tonic,
                    &scenarios,
                )?;
                record(&mut runs, server.name(), threads, block.figures);
            }
        }
    }
    Ok(runs)
}

/// Idle memory: each server in turn with `connections` idle connections, then streams.
pub fn idle(
    plan: &Plan,
    connections: usize,
) -> Result<BTreeMap<ServerStack, Vec<IdleFigures>>, String> {
    let mut runs: BTreeMap<ServerStack, Vec<IdleFigures>> = BTreeMap::new();
    for rep in 0..plan.reps {
        for server in order(&ServerStack::ALL, rep) {
            eprintln!("idle {}/{}: {}", rep + 1, plan.reps, server.name());
            let figures = idle::measure(
                server,
                connections,
                &plan.pinning.server(1),
                &plan.pinning.load(),
            )?;
            runs.entry(server).or_default().push(figures);
        }
    }
    Ok(runs)
}

fn record(
    runs: &mut Runs,
    column: &'static str,
    threads: usize,
    figures: Vec<(Scenario, Figures)>,
) {
    for (scenario, figures) in figures {
        runs.entry((scenario, column, threads))
            .or_default()
            .push(figures);
    }
}

/// What one server's run of the scenarios found.
struct Block {
    figures: Vec<(Scenario, Figures)>,
    /// What one call of each protocol h2load spoke got, before h2load ran it.
    checks: Vec<(Spoken, Verdict)>,
}

/// Starts `server` with `threads` worker threads, runs each scenario's load against it in
/// turn, and stops it. Before h2load first speaks a protocol to it, one call checks the
/// answer: a wrong one ends the run; a protocol not served (HTTP 415) leaves out its
/// scenarios.
fn block(
    plan: &Plan,
    label: &str,
    server: &Server,
    threads: usize,
    client: ClientStack,
    scenarios: &[Scenario],
) -> Result<Block, String> {
    let (process, addr) = Process::server(
        server.command(&plan.pinning.server(threads), threads)?,
        &format!("{} server", server.column),
    )?;
    let pid = process.pid();
    let mut figures = Vec::new();
    let mut checks: Vec<(Spoken, Verdict)> = Vec::new();
    for &scenario in scenarios {
        let measured = match scenario.generator() {
            Generator::Ours => {
                eprintln!("{label} {}", scenario.name());
                load(plan, client, &addr, scenario, pid)?
            }
            Generator::H2load(h2load_load) => {
                let Some(h2load) = &plan.h2load else { continue };
                let spoken = (h2load_load.wire, h2load_load.http1);
                let served = match checks.iter().find(|(s, _)| *s == spoken) {
                    Some((_, verdict)) => matches!(verdict, Verdict::Served(_)),
                    None => {
                        let verdict = ask::check(&addr, spoken.0, spoken.1)
                            .map_err(|problem| format!("{label} {}: {problem}", scenario.name()))?;
                        let served = matches!(verdict, Verdict::Served(_));
                        checks.push((spoken, verdict));
                        served
                    }
                };
                if !served {
                    eprintln!("{label} {}: not served (HTTP 415)", scenario.name());
                    continue;
                }
                eprintln!("{label} {}", scenario.name());
                h2load
                    .measure(&addr, h2load_load, plan.seconds, pid, &plan.pinning.load())
                    .map_err(|problem| format!("{label} {}: {problem}", scenario.name()))?
            }
        };
        figures.push((scenario, measured));
    }
    process.stop()?;
    Ok(Block { figures, checks })
}

/// One `rpc-bench load` run, pinned as the plan says.
fn load(
    plan: &Plan,
    client: ClientStack,
    addr: &str,
    scenario: Scenario,
    server_pid: u32,
) -> Result<Figures, String> {
    let args = [
        "load",
        "--client",
        client.name(),
        "--addr",
        addr,
        "--scenario",
        scenario.name(),
        "--seconds",
        &plan.seconds.to_string(),
        "--server-pid",
        &server_pid.to_string(),
    ]
    .map(str::to_owned);
    let limit = Duration::from_secs_f64(plan.seconds) + LOAD_SLACK;
    let output = run_bounded(
        plan.pinning.load().this(&args)?,
        limit,
        "the load generator",
    )?;
    let line = output.lines().last().unwrap_or_default();
    Figures::from_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetitions_alternate_the_order() {
        assert_eq!(order(&[1, 2, 3], 0), [1, 2, 3]);
        assert_eq!(order(&[1, 2, 3], 1), [3, 2, 1]);
        assert_eq!(order(&[1, 2, 3], 2), [1, 2, 3]);
    }
}
