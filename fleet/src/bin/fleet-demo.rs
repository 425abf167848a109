//! `make fleet`: builds the topology (three replicas behind dnsmasq, a client host), runs a
//! load through `dns://` with a retry and hedging service config while every replica is
//! restarted in turn, and prints one line:
//!
//! ```text
//! fleet: N calls, F failed, R retried, H hedged, replicas seen K
//! ```
//!
//! R counts the retries of the retry policy and the transparent ones (calls the server
//! never processed). On the loopback fallback it says so on stderr first.

use std::process::ExitCode;

use rgrpc_fleet::process::ProcessError;
use rgrpc_fleet::scenario::{Fleet, Programs};

/// Retries for the methods whose attempts may fail over to another replica, hedging for the
/// server-streaming one: all of them are idempotent.
const SERVICE_CONFIG: &str = r#"{
  "methodConfig": [
    {
      "name": [
        {"service": "fleet.Fleet", "method": "Who"},
        {"service": "fleet.Fleet", "method": "WhoCollect"},
        {"service": "fleet.Fleet", "method": "WhoChat"}
      ],
      "retryPolicy": {
        "maxAttempts": 5,
        "initialBackoff": "0.05s",
        "maxBackoff": "0.5s",
        "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"]
      }
    },
    {
      "name": [{"service": "fleet.Fleet", "method": "WhoStream"}],
      "hedgingPolicy": {
        "maxAttempts": 2,
        "hedgingDelay": "0.02s",
        "nonFatalStatusCodes": ["UNAVAILABLE"]
      }
    }
  ]
}"#;

fn main() -> ExitCode {
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("fleet-demo: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<String, ProcessError> {
    let mut fleet = Fleet::build(Programs::beside_current_exe()?, 3)?;
    if !fleet.topology().isolated() {
        eprintln!("fleet-demo: {}", fleet.topology().note());
    }
    for host in 0..3 {
        fleet.start_replica(host, &["--drain-timeout-ms", "5000"])?;
    }
    fleet.publish()?;
    let config = fleet.service_config("service-config.json", SERVICE_CONFIG)?;
    let target = fleet.target();
    let load = format!(
        "--name demo --concurrency 8 --duration-secs 300 --kind mix --service-config {config}"
    );
    let load: Vec<&str> = load.split_whitespace().collect();
    let load = fleet.start_load(&target, &load)?;
    fleet.rolling_restart(&["demo"])?;
    fleet.await_more_calls(load, 300)?;
    let counts = fleet.finish_load(load)?;
    let count = |key: &str| counts[key].as_u64().unwrap_or(0);
    Ok(format!(
        "fleet: {} calls, {} failed, {} retried, {} hedged, replicas seen {}",
        count("calls"),
        count("failed"),
        // Every attempt after the first that was not a hedge: by the policy, or transparent.
        count("retried") + count("transparent_retries"),
        count("hedged"),
        count("replicas_seen"),
    ))
}
