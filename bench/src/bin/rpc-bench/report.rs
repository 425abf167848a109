//! The Markdown tables: each figure is the median over the repetitions; each ratio is the
//! median of the repetitions' own ratios (figures of the same repetition), with their
//! min–max.

use std::collections::BTreeMap;

use crate::figures::Figures;
use crate::idle::IdleFigures;
use crate::scenarios::Scenario;
use crate::servers::ServerStack;
use crate::sides::Runs;
use crate::stats::{Spread, median};

/// `value` with as many decimals as its size deserves.
fn number(value: f64) -> String {
    match value.abs() {
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        _ => format!("{value:.2}"),
    }
}

/// How a row's cells show their repetitions' values.
#[derive(Clone, Copy)]
enum Shown {
    Median,
    /// The values are ratios already: median and min–max.
    Ratio,
}

/// A Markdown table with one column per stack and one per compared pair.
struct Table {
    pairs: Vec<(usize, usize)>,
    text: String,
}

impl Table {
    fn new(columns: &[&str], pairs: &[(usize, usize)]) -> Table {
        let mut text = String::from("| scenario | measure |");
        let mut rule = String::from("|---|---|");
        for column in columns {
            text.push_str(&format!(" {column} |"));
            rule.push_str("---:|");
        }
        for &(a, b) in pairs {
            text.push_str(&format!(" {}/{} (min–max) |", columns[a], columns[b]));
            rule.push_str("---|");
        }
        text.push('\n');
        text.push_str(&rule);
        text.push('\n');
        Table {
            pairs: pairs.to_vec(),
            text,
        }
    }

    /// One row: `values` has, per column, one value per repetition.
    fn row(&mut self, first: &str, measure: &str, values: &[Vec<f64>], shown: Shown) {
        let mut line = format!("| {first} | {measure} |");
        for column in values {
            let cell = match (shown, Spread::of(column)) {
                (Shown::Median, Some(spread)) => number(spread.median),
                (Shown::Ratio, Some(spread)) => spread.ratio_text(),
                (_, None) => "—".to_owned(),
            };
            line.push_str(&format!(" {cell} |"));
        }
        for &(a, b) in &self.pairs {
            let ratios: Vec<f64> = values[a]
                .iter()
                .zip(&values[b])
                .map(|(x, y)| x / y)
                .filter(|ratio| ratio.is_finite())
                .collect();
            let cell = Spread::of(&ratios).map_or("—".to_owned(), Spread::ratio_text);
            line.push_str(&format!(" {cell} |"));
        }
        self.text.push_str(&line);
        self.text.push('\n');
    }
}

/// A measure of one run, named for its scenario.
struct Measure {
    name: fn(Scenario, &str) -> String,
    pick: fn(&Figures) -> f64,
}

const MEASURES: [Measure; 6] = [
    Measure {
        name: |s, _| s.unit().to_owned(),
        pick: Figures::rate,
    },
    Measure {
        name: |s, _| format!("p50 {} latency (µs)", s.latency_of()),
        pick: |f| f.p50.as_secs_f64() * 1e6,
    },
    Measure {
        name: |s, _| format!("p99 {} latency (µs)", s.latency_of()),
        pick: |f| f.p99.as_secs_f64() * 1e6,
    },
    Measure {
        name: |s, _| format!("server CPU per {} (µs)", s.operation()),
        pick: Figures::server_cpu_us,
    },
    Measure {
        name: |s, _| format!("server user CPU per {} (µs)", s.operation()),
        pick: Figures::server_user_cpu_us,
    },
    Measure {
        name: |s, load| format!("{load} CPU per {} (µs)", s.operation()),
        pick: Figures::client_cpu_us,
    },
];

/// Every stack's runs of `scenario` with `threads` server threads, if all were measured.
fn columns_of<'a>(
    runs: &'a Runs,
    scenario: Scenario,
    columns: &[&'static str],
    threads: usize,
) -> Option<Vec<&'a Vec<Figures>>> {
    columns
        .iter()
        .map(|column| runs.get(&(scenario, *column, threads)))
        .collect()
}

fn values(figures: &[&Vec<Figures>], pick: fn(&Figures) -> f64) -> Vec<Vec<f64>> {
    figures
        .iter()
        .map(|runs| runs.iter().map(pick).collect())
        .collect()
}

/// The servers or clients table: every measure of every scenario, one column per stack,
/// ratios of the first stack to each other. `load` names the process that is not compared
/// ("load generator" or "client"). A stack without figures for a scenario (a protocol it
/// does not serve) has `—` there; a scenario no stack has figures for is left out.
pub fn sides(runs: &Runs, scenarios: &[Scenario], columns: &[&'static str], load: &str) -> String {
    let pairs: Vec<(usize, usize)> = (1..columns.len()).map(|other| (0, other)).collect();
    sides_with(runs, scenarios, columns, &pairs, load)
}

/// The same table with the ratios of the given pairs of columns (a/b).
pub fn sides_with(
    runs: &Runs,
    scenarios: &[Scenario],
    columns: &[&'static str],
    pairs: &[(usize, usize)],
    load: &str,
) -> String {
    let mut table = Table::new(columns, pairs);
    let none = Vec::new();
    for &scenario in scenarios {
        let found: Vec<Option<&Vec<Figures>>> = columns
            .iter()
            .map(|column| runs.get(&(scenario, *column, 1)))
            .collect();
        if found.iter().all(Option::is_none) {
            continue;
        }
        let figures: Vec<&Vec<Figures>> = found.iter().map(|f| f.unwrap_or(&none)).collect();
        for (index, measure) in MEASURES.iter().enumerate() {
            let first = if index == 0 { scenario.name() } else { "" };
            let name = (measure.name)(scenario, load);
            table.row(first, &name, &values(&figures, measure.pick), Shown::Median);
        }
    }
    table.text
}

/// Each protocol's scenario against its gRPC reference (`Scenario::grpc_reference`), for
/// each server: rate and server CPU per call, each repetition's own ratio. Empty if no
/// scenario has both measured.
pub fn against_grpc(runs: &Runs, scenarios: &[Scenario], columns: &[&'static str]) -> String {
    let mut table = Table::new(columns, &[]);
    let mut rows = 0;
    for &scenario in scenarios {
        let Some(reference) = scenario.grpc_reference() else {
            continue;
        };
        if !scenarios.contains(&reference) {
            continue;
        }
        let ratios = |pick: fn(&Figures) -> f64| -> Vec<Vec<f64>> {
            columns
                .iter()
                .map(|column| {
                    match (
                        runs.get(&(scenario, *column, 1)),
                        runs.get(&(reference, *column, 1)),
                    ) {
                        (Some(this), Some(grpc)) => this
                            .iter()
                            .zip(grpc)
                            .map(|(this, grpc)| pick(this) / pick(grpc))
                            .filter(|ratio| ratio.is_finite())
                            .collect(),
                        _ => Vec::new(),
                    }
                })
                .collect()
        };
        let versus = format!("/ {}", reference.name());
        table.row(
            scenario.name(),
            &format!("{} {versus}", scenario.unit()),
            &ratios(Figures::rate),
            Shown::Ratio,
        );
        table.row(
            "",
            &format!("server CPU per {} {versus}", scenario.operation()),
            &ratios(Figures::server_cpu_us),
            Shown::Ratio,
        );
        rows += 1;
    }
    if rows == 0 { String::new() } else { table.text }
}

/// The scaling table: rates and server CPU with one and two server threads, and each
/// repetition's two-thread/one-thread rate ratio.
pub fn scaling(runs: &Runs, scenarios: &[Scenario], columns: &[&'static str]) -> String {
    let pairs: Vec<(usize, usize)> = (1..columns.len()).map(|other| (0, other)).collect();
    let mut table = Table::new(columns, &pairs);
    for &scenario in scenarios {
        let (Some(one), Some(two)) = (
            columns_of(runs, scenario, columns, 1),
            columns_of(runs, scenario, columns, 2),
        ) else {
            continue;
        };
        let (rate_one, rate_two) = (values(&one, Figures::rate), values(&two, Figures::rate));
        let scaling: Vec<Vec<f64>> = rate_two
            .iter()
            .zip(&rate_one)
            .map(|(two, one)| two.iter().zip(one).map(|(b, a)| b / a).collect())
            .collect();
        let unit = scenario.unit();
        let op = scenario.operation();
        table.row(
            scenario.name(),
            &format!("{unit}, 1 thread"),
            &rate_one,
            Shown::Median,
        );
        table.row("", &format!("{unit}, 2 threads"), &rate_two, Shown::Median);
        table.row("", "2 threads / 1 thread", &scaling, Shown::Ratio);
        table.row(
            "",
            &format!("server CPU per {op} (µs), 1 thread"),
            &values(&one, Figures::server_cpu_us),
            Shown::Median,
        );
        table.row(
            "",
            &format!("server CPU per {op} (µs), 2 threads"),
            &values(&two, Figures::server_cpu_us),
            Shown::Median,
        );
    }
    table.text
}

/// `median (min–max)` of `values`.
fn spread_text(values: &[f64]) -> String {
    match Spread::of(values) {
        Some(s) if s.min == s.max => number(s.median),
        Some(s) => format!("{} ({}–{})", number(s.median), number(s.min), number(s.max)),
        None => "—".to_owned(),
    }
}

/// The idle-memory table: one row per server.
pub fn idle(runs: &BTreeMap<ServerStack, Vec<IdleFigures>>) -> String {
    let mut text = String::from(
        "| server | baseline VmRSS (MiB) | VmRSS per connection (KiB) | Private_Dirty per connection (KiB) | VmRSS per idle stream (KiB) | Private_Dirty per idle stream (KiB) |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for (server, figures) in runs {
        let column = |pick: fn(&IdleFigures) -> f64| -> String {
            spread_text(&figures.iter().map(pick).collect::<Vec<_>>())
        };
        let baseline = median(
            &figures
                .iter()
                .map(|f| f.baseline.rss_kib as f64 / 1024.0)
                .collect::<Vec<_>>(),
        )
        .map_or("—".to_owned(), number);
        text.push_str(&format!(
            "| {} | {baseline} | {} | {} | {} | {} |\n",
            server.name(),
            column(IdleFigures::rss_per_connection),
            column(IdleFigures::dirty_per_connection),
            column(IdleFigures::rss_per_stream),
            column(IdleFigures::dirty_per_stream),
        ));
    }
    text
}
