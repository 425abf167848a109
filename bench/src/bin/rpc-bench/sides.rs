//! The comparisons, one side at a time: which processes run, pinned where, in which order,
//! how often. Every repetition alternates the order of the stacks (A B C, then C B A, …) so
//! that drift on a shared machine hits them alike, and starts each server afresh.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::child::{Launch, Process, run_bounded};
use crate::clients::ClientStack;
use crate::figures::Figures;
use crate::h2load::H2load;
use crate::idle::{self, IdleFigures};
use crate::scenarios::{Generator, Scenario};
use crate::servers::ServerStack;

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

/// `items` in repetition `rep`'s order: as given, then reversed, and so on.
fn order<T: Copy>(items: &[T], rep: usize) -> Vec<T> {
    let mut items = items.to_vec();
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
pub fn servers(plan: &Plan) -> Result<(Runs, Vec<String>), String> {
    let scenarios = chosen(plan, true);
    let mut runs = Runs::new();
    let mut notes = Vec::new();
    for rep in 0..plan.reps {
        for server in order(&ServerStack::ALL, rep) {
            let label = format!("servers {}/{}: {}", rep + 1, plan.reps, server.name());
            let block = block(plan, &label, server, 1, ClientStack::Tonic, &scenarios)?;
            record(&mut runs, server.name(), 1, block.figures);
            if rep == 0 {
                let name = server.name();
                notes.extend(block.checks.into_iter().map(|c| format!("{name}: {c}")));
            }
        }
    }
    Ok((runs, notes))
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
            let block = block(plan, &label, ServerStack::Tonic, 1, client, &scenarios)?;
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
                    server,
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
    /// What was checked of h2load's responses.
    checks: Vec<String>,
}

/// Starts `server` with `threads` worker threads, runs each scenario's load against it in
/// turn, and stops it.
fn block(
    plan: &Plan,
    label: &str,
    server: ServerStack,
    threads: usize,
    client: ClientStack,
    scenarios: &[Scenario],
) -> Result<Block, String> {
    let args = [
        "serve",
        "--server",
        server.name(),
        "--threads",
        &threads.to_string(),
    ]
    .map(str::to_owned);
    let (process, addr) = Process::server(
        plan.pinning.server(threads).this(&args)?,
        &format!("{} server", server.name()),
    )?;
    let pid = process.pid();
    let mut figures = Vec::new();
    let mut checks = Vec::new();
    for &scenario in scenarios {
        eprintln!("{label} {}", scenario.name());
        let measured = match scenario.generator() {
            Generator::Ours => load(plan, client, &addr, scenario, pid)?,
            Generator::H2load { concurrency } => {
                let Some(h2load) = &plan.h2load else { continue };
                if checks.is_empty() {
                    checks.push(h2load.check(&addr)?.to_owned());
                }
                h2load.measure(&addr, concurrency, plan.seconds, pid, &plan.pinning.load())?
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
