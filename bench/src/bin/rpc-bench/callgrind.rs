//! Instructions per call, from callgrind: steady where wall-clock figures on a shared
//! machine are not. One side runs under `valgrind --tool=callgrind`, the other natively,
//! for two exact numbers of unary calls (c=1);
//! (Ir_long − Ir_short) / (calls_long − calls_short) cancels start-up, connecting,
//! warming up and shutting down, and leaves what one more call costs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::child::{Launch, Process, run_bounded};
use crate::clients::ClientStack;
use crate::scenarios::Scenario;
use crate::servers::ServerStack;
use crate::sides::{Pinning, Server};

/// How long one load run under callgrind may take (it runs some 50 times slower).
const LIMIT: Duration = Duration::from_secs(900);

/// The two call counts whose difference is measured.
#[derive(Clone, Copy, Debug)]
pub struct Counts {
    pub short: u64,
    pub long: u64,
}

/// One profiled stack: its totals for both counts, and the profiles.
#[derive(Debug)]
pub struct Profiled {
    pub side: &'static str,
    pub stack: &'static str,
    pub short: u64,
    pub long: u64,
    pub files: [PathBuf; 2],
}

impl Profiled {
    pub fn per_call(&self, counts: Counts) -> f64 {
        (self.long as f64 - self.short as f64) / (counts.long - counts.short) as f64
    }
}

/// The `totals:` (or older `summary:`) line of a callgrind profile: instructions executed.
fn totals(path: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    text.lines()
        .rev()
        .find_map(|line| {
            line.strip_prefix("totals:")
                .or_else(|| line.strip_prefix("summary:"))
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("{}: no totals line", path.display()))
}

fn load_args(client: ClientStack, addr: &str, calls: u64) -> Vec<String> {
    [
        "load",
        "--client",
        client.name(),
        "--addr",
        addr,
        "--scenario",
        Scenario::UnaryC1.name(),
        "--calls",
        &calls.to_string(),
    ]
    .map(str::to_owned)
    .to_vec()
}

fn serve_args(server: ServerStack) -> Vec<String> {
    ["serve", "--server", server.name(), "--threads", "1"]
        .map(str::to_owned)
        .to_vec()
}

/// Each server under callgrind, loaded by the tonic client; profiles named after their
/// columns.
pub fn servers(
    servers: &[Server],
    counts: Counts,
    dir: &Path,
    pinning: Pinning,
) -> Result<Vec<Profiled>, String> {
    let mut profiled = Vec::new();
    for server in servers {
        let mut files = Vec::new();
        for calls in [counts.short, counts.long] {
            eprintln!("callgrind: {} server, {calls} calls", server.column);
            let file = dir.join(format!("server-{}-{calls}.out", server.column));
            let launch = Launch {
                callgrind_out: Some(file.clone()),
                ..pinning.server(1)
            };
            let args = serve_args(server.stack);
            let command = match &server.exe {
                Some(exe) => launch.command(exe, &args),
                None => launch.this(&args)?,
            };
            let (process, addr) = Process::server(
                command,
                &format!("{} server under callgrind", server.column),
            )?;
            let args = load_args(ClientStack::Tonic, &addr, calls);
            run_bounded(pinning.load().this(&args)?, LIMIT, "the load generator")?;
            // The profile is written as the server exits.
            process.stop()?;
            files.push(file);
        }
        profiled.push(profile("server", server.column, files)?);
    }
    Ok(profiled)
}

/// Each client under callgrind, against a native tonic server.
pub fn clients(counts: Counts, dir: &Path, pinning: Pinning) -> Result<Vec<Profiled>, String> {
    let (server, addr) = Process::server(
        pinning.server(1).this(&serve_args(ServerStack::Tonic))?,
        "tonic server",
    )?;
    let mut profiled = Vec::new();
    for client in ClientStack::ALL {
        let mut files = Vec::new();
        for calls in [counts.short, counts.long] {
            eprintln!("callgrind: {} client, {calls} calls", client.name());
            let file = dir.join(format!("client-{}-{calls}.out", client.name()));
            let launch = Launch {
                callgrind_out: Some(file.clone()),
                ..pinning.load()
            };
            let args = load_args(client, &addr, calls);
            run_bounded(
                launch.this(&args)?,
                LIMIT,
                "the load generator under callgrind",
            )?;
            files.push(file);
        }
        profiled.push(profile("client", client.name(), files)?);
    }
    server.stop()?;
    Ok(profiled)
}

fn profile(
    side: &'static str,
    stack: &'static str,
    files: Vec<PathBuf>,
) -> Result<Profiled, String> {
    let [short, long]: [PathBuf; 2] = files
        .try_into()
        .map_err(|_| "two profiles expected".to_owned())?;
    Ok(Profiled {
        side,
        stack,
        short: totals(&short)?,
        long: totals(&long)?,
        files: [short, long],
    })
}

/// Instructions per function in one profile, as `callgrind_annotate` reports them
/// (every function: threshold 100%), inclusive of callees or not.
fn costs(path: &Path, inclusive: bool) -> Result<BTreeMap<String, u64>, String> {
    let args = [
        format!("--inclusive={}", if inclusive { "yes" } else { "no" }),
        "--threshold=100".to_owned(),
    ];
    let mut command = Launch::default().command("callgrind_annotate", &args);
    command.arg(path);
    let text = run_bounded(command, Duration::from_secs(300), "callgrind_annotate")?;
    let mut costs = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some((count, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        // `(12.34%)` follows the count in newer versions.
        let rest = rest.trim_start();
        let name = match rest.strip_prefix('(') {
            Some(percent) => percent.split_once(')').map_or("", |(_, name)| name),
            None => rest,
        };
        let name = short_name(name);
        if !name.is_empty() && name != "PROGRAM TOTALS" {
            *costs.entry(name).or_default() += count;
        }
    }
    Ok(costs)
}

/// `file:function [object]` as just the function (and `???:` gone).
fn short_name(name: &str) -> String {
    let name = name.trim();
    let name = name.rsplit_once(" [").map_or(name, |(name, _)| name);
    let name = name
        .split_once(':')
        .filter(|(file, _)| !file.contains("::"))
        .map_or(name, |(_, function)| function);
    name.to_owned()
}

/// Per function: (the two profiles' difference) / (the difference in calls), highest first.
fn per_call(
    profiled: &Profiled,
    counts: Counts,
    inclusive: bool,
) -> Result<Vec<(f64, String)>, String> {
    let short = costs(&profiled.files[0], inclusive)?;
    let long = costs(&profiled.files[1], inclusive)?;
    let calls = (counts.long - counts.short) as f64;
    let mut per_call: Vec<(f64, String)> = long
        .iter()
        .map(|(name, cost)| {
            let before = short.get(name).copied().unwrap_or(0);
            ((*cost as f64 - before as f64) / calls, name.clone())
        })
        .collect();
    per_call.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(per_call)
}

/// The `n` costliest functions per call of one profiled stack, as a Markdown list of
/// tables: by inclusive cost (leaving out the frames that hold nearly everything — threads,
/// the runtime's loop: above 90% of the total), the same for the stack's own functions
/// (their names mention it), and by self cost.
pub fn top(profiled: &Profiled, counts: Counts, n: usize) -> Result<String, String> {
    let everything = 0.9 * profiled.per_call(counts);
    let mut inclusive = per_call(profiled, counts, true)?;
    inclusive.retain(|(cost, _)| *cost < everything);
    let crate_path = format!("{}::", profiled.stack);
    let own: Vec<(f64, String)> = inclusive
        .iter()
        .filter(|(_, name)| name.contains(&crate_path))
        .take(n)
        .cloned()
        .collect();
    inclusive.truncate(n);
    let mut exclusive = per_call(profiled, counts, false)?;
    exclusive.truncate(n);
    let mut text = String::new();
    for (what, list) in [
        ("inclusive instructions per call", inclusive),
        (
            &format!(
                "inclusive instructions per call, {}'s own functions",
                profiled.stack
            ),
            own,
        ),
        ("self instructions per call", exclusive),
    ] {
        text.push_str(&format!(
            "\n#### {} {}: top {n} functions by {what}\n\n| Ir per call | function |\n|---:|---|\n",
            profiled.stack, profiled.side
        ));
        for (cost, name) in list {
            text.push_str(&format!("| {cost:.0} | `{}` |\n", name.replace('|', "\\|")));
        }
    }
    Ok(text)
}

/// The instructions-per-call table, each row against the `reference` stack of its side.
pub fn report(profiled: &[Profiled], counts: Counts, reference: &str) -> String {
    let mut text = format!(
        "| side | stack | Ir, {} calls | Ir, {} calls | instructions per call | vs {reference} |\n\
         |---|---|---:|---:|---:|---:|\n",
        counts.short, counts.long
    );
    for entry in profiled {
        let base = profiled
            .iter()
            .find(|other| other.side == entry.side && other.stack == reference)
            .map(|base| base.per_call(counts));
        let versus = base.map_or("—".to_owned(), |base| {
            format!("{:.2}×", entry.per_call(counts) / base)
        });
        text.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {versus} |\n",
            entry.side,
            entry.stack,
            entry.short,
            entry.long,
            entry.per_call(counts),
        ));
    }
    text
}
