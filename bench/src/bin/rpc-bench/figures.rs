//! What one measurement found, and the one line a load generator hands it over in.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::procfs::{Cpu, TICKS_PER_SECOND};
use crate::stats::percentile;

/// One run of one scenario against one server, over its measurement window.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    /// Calls, messages or round trips (see `Scenario::operation`).
    pub operations: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// CPU time of the load generator (utime + stime) over the window, in clock ticks.
    pub client_ticks: u64,
    /// The server's, over the same window.
    pub server: Cpu,
}

impl Figures {
    /// Figures from a window's counts; `latencies` are sorted here.
    pub fn new(
        operations: u64,
        elapsed: Duration,
        mut latencies: Vec<Duration>,
        client_ticks: u64,
        server: Cpu,
    ) -> Figures {
        latencies.sort_unstable();
        Figures {
            operations,
            elapsed,
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            client_ticks,
            server,
        }
    }

    /// Operations per second.
    pub fn rate(&self) -> f64 {
        self.operations as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Server CPU per operation, in µs.
    pub fn server_cpu_us(&self) -> f64 {
        per_operation_us(self.server.total(), self.operations)
    }

    /// The part of it in the server's own code (utime), in µs.
    pub fn server_user_cpu_us(&self) -> f64 {
        per_operation_us(self.server.user, self.operations)
    }

    /// Load generator (or, in the clients table, client) CPU per operation, in µs.
    pub fn client_cpu_us(&self) -> f64 {
        per_operation_us(self.client_ticks, self.operations)
    }

    /// `key=value` pairs on one line.
    pub fn to_line(self) -> String {
        format!(
            "operations={} elapsed_ns={} p50_ns={} p99_ns={} client_ticks={} server_user_ticks={} server_system_ticks={}",
            self.operations,
            self.elapsed.as_nanos(),
            self.p50.as_nanos(),
            self.p99.as_nanos(),
            self.client_ticks,
            self.server.user,
            self.server.system,
        )
    }

    pub fn from_line(line: &str) -> Result<Figures, String> {
        let pairs: BTreeMap<&str, u64> = line
            .split_whitespace()
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(key, value)| Some((key, value.parse().ok()?)))
            .collect();
        let get = |key: &str| {
            pairs
                .get(key)
                .copied()
                .ok_or_else(|| format!("no {key} in the load generator's line {line:?}"))
        };
        Ok(Figures {
            operations: get("operations")?,
            elapsed: Duration::from_nanos(get("elapsed_ns")?),
            p50: Duration::from_nanos(get("p50_ns")?),
            p99: Duration::from_nanos(get("p99_ns")?),
            client_ticks: get("client_ticks")?,
            server: Cpu {
                user: get("server_user_ticks")?,
                system: get("server_system_ticks")?,
            },
        })
    }
}

fn per_operation_us(ticks: u64, operations: u64) -> f64 {
    ticks as f64 / TICKS_PER_SECOND * 1e6 / operations.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_round_trips() {
        let figures = Figures::new(
            2000,
            Duration::from_secs(2),
            vec![Duration::from_micros(120); 3],
            50,
            Cpu {
                user: 20,
                system: 10,
            },
        );
        let back = Figures::from_line(&figures.to_line()).unwrap();
        assert_eq!(back.operations, 2000);
        assert_eq!(back.p99, Duration::from_micros(120));
        assert_eq!(back.rate(), 1000.0);
        // 30 ticks = 300 ms over 2000 calls = 150 µs each.
        assert_eq!(back.server_cpu_us(), 150.0);
        assert_eq!(back.server_user_cpu_us(), 100.0);
        assert!(Figures::from_line("operations=1").is_err());
    }
}
