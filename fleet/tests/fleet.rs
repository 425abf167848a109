//! The fleet scenarios, on a real topology (network namespaces, or the loopback fallback):
//! replicas as processes, dnsmasq serving their records, fleet-load as the client. Each
//! scenario builds its own topology and prints its counts; they run one at a time.

use std::sync::{Mutex, MutexGuard};

use rgrpc_fleet::scenario::{Fleet, Programs};
use serde_json::Value;

/// One scenario at a time: each starts processes on the same addresses.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn programs() -> Programs {
    Programs {
        replica: env!("CARGO_BIN_EXE_fleet-replica").into(),
        load: env!("CARGO_BIN_EXE_fleet-load").into(),
    }
}

/// A fleet of `hosts` server hosts, saying what the topology is.
fn fleet(scenario: &str, hosts: usize) -> Fleet {
    let mut fleet = Fleet::build(programs(), hosts).unwrap();
    println!("{scenario}: {}", fleet.topology().note());
    fleet
}

fn count(counts: &Value, key: &str) -> u64 {
    counts[key]
        .as_u64()
        .unwrap_or_else(|| panic!("no count {key} in {counts}"))
}

const RETRY_CONFIG: &str = r#"{
  "methodConfig": [{
    "name": [{"service": "fleet.Fleet"}],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.05s",
      "maxBackoff": "0.5s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }]
}"#;

#[test]
fn rolling_restart_under_load() {
    let _serial = serial();
    let mut fleet = fleet("rolling restart", 3);
    for host in 0..3 {
        fleet
            .start_replica(host, &["--drain-timeout-ms", "5000"])
            .unwrap();
    }
    fleet.publish().unwrap();
    let config = fleet.service_config("retry.json", RETRY_CONFIG).unwrap();
    let target = fleet.target();
    let load = fleet
        .start_load(
            &target,
            &[
                "--concurrency",
                "8",
                "--duration-secs",
                "120",
                "--service-config",
                &config,
            ],
        )
        .unwrap();
    fleet.rolling_restart().unwrap();
    fleet.await_more_calls(load, 200).unwrap();
    let counts = fleet.finish_load(load).unwrap();
    println!("rolling restart, with retries: {counts}");
    assert!(count(&counts, "calls") > 200, "{counts}");
    assert_eq!(count(&counts, "failed"), 0, "{counts}");
    assert_eq!(count(&counts, "replicas_seen"), 3, "{counts}");
}
