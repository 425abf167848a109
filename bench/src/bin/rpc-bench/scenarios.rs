//! The load each scenario puts on a server, and what it measures.

use std::time::{Duration, Instant};

use crate::stacks::Client;

/// Every scenario, in the order a comparison runs them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario::UnaryC1,
    Scenario::UnaryC64,
    Scenario::ServerStreaming,
    Scenario::ClientStreaming,
    Scenario::BidiPingPong,
    Scenario::LargeUnary,
];

/// Messages per streaming call.
const STREAM_LENGTH: usize = 1000;
/// The large-message size: 1 MiB each way.
const LARGE: usize = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    UnaryC1,
    UnaryC64,
    ServerStreaming,
    ClientStreaming,
    BidiPingPong,
    LargeUnary,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::UnaryC1 => "unary_c1",
            Scenario::UnaryC64 => "unary_c64",
            Scenario::ServerStreaming => "server_streaming",
            Scenario::ClientStreaming => "client_streaming",
            Scenario::BidiPingPong => "bidi_ping_pong",
            Scenario::LargeUnary => "large_unary_1mib",
        }
    }

    pub fn parse(text: &str) -> Result<Scenario, String> {
        SCENARIOS
            .iter()
            .copied()
            .find(|s| s.name() == text)
            .ok_or_else(|| format!("unknown scenario {text:?}"))
    }

    /// What the rate counts.
    pub fn unit(self) -> &'static str {
        match self {
            Scenario::UnaryC1 | Scenario::UnaryC64 => "req/s",
            Scenario::ServerStreaming | Scenario::ClientStreaming => "msg/s",
            Scenario::BidiPingPong => "round trips/s",
            Scenario::LargeUnary => "MiB/s each way",
        }
    }

    /// Whether per-operation latencies are meaningful (one operation = one round trip).
    pub fn has_latency(self) -> bool {
        matches!(
            self,
            Scenario::UnaryC1 | Scenario::UnaryC64 | Scenario::BidiPingPong
        )
    }
}

/// What one run of a scenario measured.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub rate: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl Figures {
    /// One line the comparing process parses: `rate p50_ns p99_ns`.
    pub fn to_line(self) -> String {
        format!(
            "{} {} {}",
            self.rate,
            self.p50.as_nanos(),
            self.p99.as_nanos()
        )
    }

    pub fn from_line(line: &str) -> Option<Figures> {
        let mut parts = line.split_whitespace();
        let rate = parts.next()?.parse().ok()?;
        let p50 = Duration::from_nanos(parts.next()?.parse().ok()?);
        let p99 = Duration::from_nanos(parts.next()?.parse().ok()?);
        Some(Figures { rate, p50, p99 })
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn figures(operations: f64, elapsed: Duration, mut latencies: Vec<Duration>) -> Figures {
    latencies.sort();
    Figures {
        rate: operations / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

/// Runs `scenario` for `duration` (after a short warm-up) and measures it.
pub async fn run(
    scenario: Scenario,
    client: &Client,
    duration: Duration,
) -> Result<Figures, String> {
    // Warm the connection and the server's code paths.
    warm_up(scenario, client).await?;
    let started = Instant::now();
    let until = started + duration;
    match scenario {
        Scenario::UnaryC1 => {
            let latencies = unary_loop(client.clone(), until, "u".to_owned()).await?;
            Ok(figures(
                latencies.len() as f64,
                started.elapsed(),
                latencies,
            ))
        }
        Scenario::UnaryC64 => {
            let tasks: Vec<_> = (0..64)
                .map(|_| tokio::spawn(unary_loop(client.clone(), until, "u".to_owned())))
                .collect();
            let mut latencies = Vec::new();
            for task in tasks {
                latencies.extend(task.await.map_err(|err| err.to_string())??);
            }
            Ok(figures(
                latencies.len() as f64,
                started.elapsed(),
                latencies,
            ))
        }
        Scenario::ServerStreaming => {
            let mut messages = 0usize;
            while Instant::now() < until {
                messages += client.server_streaming(STREAM_LENGTH).await?;
            }
            Ok(figures(messages as f64, started.elapsed(), Vec::new()))
        }
        Scenario::ClientStreaming => {
            let mut messages = 0usize;
            while Instant::now() < until {
                client.client_streaming(STREAM_LENGTH).await?;
                messages += STREAM_LENGTH;
            }
            Ok(figures(messages as f64, started.elapsed(), Vec::new()))
        }
        Scenario::BidiPingPong => {
            let mut round_trips = Vec::new();
            client.ping_pong(until, &mut round_trips).await?;
            Ok(figures(
                round_trips.len() as f64,
                started.elapsed(),
                round_trips,
            ))
        }
        Scenario::LargeUnary => {
            let latencies = unary_loop(client.clone(), until, "x".repeat(LARGE)).await?;
            let mebibytes = latencies.len() as f64;
            Ok(figures(mebibytes, started.elapsed(), latencies))
        }
    }
}

async fn unary_loop(client: Client, until: Instant, text: String) -> Result<Vec<Duration>, String> {
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let started = Instant::now();
        let len = client.unary(text.clone()).await?;
        if len != text.len() {
            return Err(format!("echo of {} bytes came back as {len}", text.len()));
        }
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

async fn warm_up(scenario: Scenario, client: &Client) -> Result<(), String> {
    let until = Instant::now() + Duration::from_millis(200);
    match scenario {
        Scenario::ServerStreaming => {
            client.server_streaming(STREAM_LENGTH).await?;
        }
        Scenario::ClientStreaming => client.client_streaming(STREAM_LENGTH).await?,
        Scenario::BidiPingPong => client.ping_pong(until, &mut Vec::new()).await?,
        Scenario::LargeUnary => {
            client.unary("x".repeat(LARGE)).await?;
        }
        Scenario::UnaryC1 | Scenario::UnaryC64 => {
            while Instant::now() < until {
                client.unary("u".to_owned()).await?;
            }
        }
    }
    Ok(())
}
