//! The fleet's client, as its own process (the scenarios run it in the client host's
//! namespace with `ip netns exec`):
//!
//! ```text
//! fleet-load --target TARGET [--name NAME] [--concurrency C] [--duration-secs D] [--calls N]
//!     [--service-config FILE] [--kind unary|mix] [--timeout-ms T] [--dns-refresh-ms R]
//!     [--dns-min-resolution-ms M]
//! ```
//!
//! TARGET is `dns://IP:53/fleet.test:50051`, one `http://IP:PORT`, or several separated by
//! commas (a static round-robin list). It prints `progress <calls done>` four times a
//! second while it runs, stops after D seconds (default 10), N calls, or SIGTERM, whichever
//! comes first, and then prints one JSON line of counts: calls, failed (in all and by
//! code), retried, hedged, transparent_retries, replicas_seen (and calls per replica),
//! p50_ms, p99_ms, max_ms. Its callers are named `NAME/<n>` (NAME defaults to `load`).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rgrpc::{Channel, LoadBalancing, ServiceConfig};
use rgrpc_fleet::flags::Flags;
use rgrpc_fleet::load::{self, Kind, Plan, Progress, Retries};
use rgrpc_fleet::replica::announce;
use tokio::signal::unix::{SignalKind, signal};

const FLAGS: &[&str] = &[
    "target",
    "name",
    "concurrency",
    "duration-secs",
    "calls",
    "service-config",
    "kind",
    "timeout-ms",
    "dns-refresh-ms",
    "dns-min-resolution-ms",
];

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("fleet-load: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let flags = Flags::parse("fleet-load", FLAGS, std::env::args().skip(1))?;
    let plan = Plan {
        name: flags.text("name").unwrap_or("load").to_owned(),
        concurrency: flags.parsed("concurrency")?.unwrap_or(4),
        duration: Duration::from_secs(flags.parsed("duration-secs")?.unwrap_or(10)),
        calls: flags.parsed("calls")?,
        kind: flags.parsed::<Kind>("kind")?.unwrap_or(Kind::Unary),
        timeout: flags
            .millis("timeout-ms")?
            .unwrap_or(Duration::from_secs(10)),
    };
    let config = flags
        .text("service-config")
        .map(|path| ServiceConfig::from_file(Path::new(path)))
        .transpose()
        .map_err(|err| err.to_string())?;
    let resolution = Resolution {
        refresh: flags.millis("dns-refresh-ms")?,
        min_interval: flags.millis("dns-min-resolution-ms")?,
    };
    let channel = channel(flags.required("target")?, config, resolution)?;

    let progress = Arc::new(Progress::default());
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|err| format!("cannot watch SIGTERM: {err}"))?;
    let stopper = Arc::clone(&progress);
    tokio::spawn(async move {
        terminate.recv().await;
        stopper.stop();
    });
    let reporter = Arc::clone(&progress);
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            announce(&format!("progress {}", reporter.done()));
        }
    });
    let tally = load::run(channel.clone(), &plan, progress).await;
    ticker.abort();
    let stats = channel.stats();
    let retries = Retries {
        retried: stats.retries,
        hedged: stats.hedges,
        transparent: stats.transparent_retries,
    };
    announce(&load::report(&tally, retries).to_string());
    Ok(())
}

/// How often a `dns://` target is re-resolved (the channel's defaults when unset).
#[derive(Debug, Clone, Copy)]
struct Resolution {
    refresh: Option<Duration>,
    min_interval: Option<Duration>,
}

/// The channel for `target`, with the service config (if any) and round robin.
fn channel(
    target: &str,
    config: Option<ServiceConfig>,
    resolution: Resolution,
) -> Result<Channel, String> {
    let uris: Vec<&str> = target.split(',').collect();
    if uris.len() > 1 {
        return Channel::balance(uris).map_err(|err| err.to_string());
    }
    let mut builder = Channel::builder(target).load_balancing(LoadBalancing::RoundRobin);
    if let Some(config) = config {
        builder = builder.service_config(config);
    }
    if let Some(refresh) = resolution.refresh {
        builder = builder.dns_refresh_interval(refresh);
    }
    if let Some(interval) = resolution.min_interval {
        builder = builder.dns_min_resolution_interval(interval);
    }
    builder.connect_lazy().map_err(|err| err.to_string())
}
