//! A fleet to run scenarios on: the topology, dnsmasq publishing the replicas that serve,
//! the replica processes (started, stopped gracefully, killed, restarted) and load
//! processes on the client host.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::dns::Dns;
use crate::process::ProcessError;
use crate::topology::Topology;
use crate::{SERVICE_NAME, SERVICE_PORT};

/// The longest a replica may take to start listening, or to stop once asked.
const PROCESS_LIMIT: Duration = Duration::from_secs(60);

/// Where the fleet's two programs are.
#[derive(Debug, Clone)]
pub struct Programs {
    /// `fleet-replica`.
    pub replica: PathBuf,
    /// `fleet-load`.
    pub load: PathBuf,
}

impl Programs {
    /// The programs beside the running executable (the demo, built with them).
    pub fn beside_current_exe() -> Result<Self, ProcessError> {
        let exe = std::env::current_exe()
            .map_err(|err| ProcessError(format!("cannot find the current executable: {err}")))?;
        let dir = exe
            .parent()
            .ok_or_else(|| ProcessError("the current executable has no directory".into()))?;
        Ok(Self {
            replica: dir.join("fleet-replica"),
            load: dir.join("fleet-load"),
        })
    }
}

/// A running load: its process index in the topology.
#[derive(Debug, Clone, Copy)]
pub struct Load(usize);

/// The topology with dnsmasq, and which replica runs on which server host.
#[derive(Debug)]
pub struct Fleet {
    programs: Programs,
    topology: Topology,
    dns: Dns,
    /// Server host index -> (process index, the flags it was started with).
    replicas: BTreeMap<usize, (usize, Vec<String>)>,
}

impl Fleet {
    /// A topology of `hosts` server hosts and dnsmasq publishing none of them yet.
    pub fn build(programs: Programs, hosts: usize) -> Result<Self, ProcessError> {
        let mut topology = Topology::build(hosts)?;
        let dns = Dns::start(&mut topology, SERVICE_NAME, &[])?;
        Ok(Self {
            programs,
            topology,
            dns,
            replicas: BTreeMap::new(),
        })
    }

    /// The topology.
    pub fn topology(&mut self) -> &mut Topology {
        &mut self.topology
    }

    /// The `dns://` target of the fleet's name.
    pub fn target(&self) -> String {
        self.dns.target(SERVICE_NAME, SERVICE_PORT)
    }

    /// The address of server host `host`'s replica.
    pub fn replica_addr(&self, host: usize) -> Result<SocketAddr, ProcessError> {
        let ip = self
            .topology
            .servers()
            .get(host)
            .ok_or_else(|| ProcessError(format!("no server host {host}")))?
            .ip;
        Ok(SocketAddr::from((ip, SERVICE_PORT)))
    }

    /// A static target listing the running replicas (`http://a,http://b`).
    pub fn static_target(&self) -> Result<String, ProcessError> {
        let uris = self
            .replicas
            .keys()
            .map(|&host| self.replica_addr(host).map(|addr| format!("http://{addr}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(uris.join(","))
    }

    /// Starts a replica on server host `host` with `flags` (beyond its name and address),
    /// waits until it listens; it is not published in DNS (see [`Fleet::publish`]).
    pub fn start_replica(&mut self, host: usize, flags: &[&str]) -> Result<(), ProcessError> {
        let flags: Vec<String> = flags.iter().map(|flag| (*flag).to_owned()).collect();
        self.launch(host, flags)
    }

    fn launch(&mut self, host: usize, flags: Vec<String>) -> Result<(), ProcessError> {
        let addr = self.replica_addr(host)?;
        let server = self.topology.servers()[host].clone();
        let mut command = server.command(&self.programs.replica);
        command
            .args(["--name", &server.name, "--listen", &addr.to_string()])
            .args(&flags);
        let process = self
            .topology
            .start(&format!("replica-{}", server.name), command)?;
        self.replicas.insert(host, (process, flags));
        self.replica(host)?
            .wait_for_line(PROCESS_LIMIT, |line| line.starts_with("listening"))?;
        Ok(())
    }

    /// Publishes the running replicas in DNS (and only them).
    pub fn publish(&mut self) -> Result<(), ProcessError> {
        let addresses: Vec<Ipv4Addr> = self
            .replicas
            .keys()
            .map(|&host| self.topology.servers()[host].ip)
            .collect();
        self.dns
            .set_records(&mut self.topology, SERVICE_NAME, &addresses)
    }

    /// Replica `host`'s process.
    pub fn replica(&mut self, host: usize) -> Result<&mut crate::process::Spawned, ProcessError> {
        let index = self
            .replicas
            .get(&host)
            .map(|(index, _)| *index)
            .ok_or_else(|| ProcessError(format!("no replica on server host {host}")))?;
        self.topology
            .process(index)
            .ok_or_else(|| ProcessError(format!("replica {host}'s process is gone")))
    }

    /// Waits (at most `limit`) until some running replica prints a line that `matches`;
    /// returns the replica's host index and the line.
    pub fn await_replica_line(
        &mut self,
        limit: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Result<(usize, String), ProcessError> {
        let deadline = std::time::Instant::now() + limit;
        let hosts: Vec<usize> = self.replicas.keys().copied().collect();
        loop {
            for &host in &hosts {
                let lines = self.replica(host)?.lines();
                if let Some(line) = lines.into_iter().find(|line| matches(line)) {
                    return Ok((host, line));
                }
            }
            if std::time::Instant::now() >= deadline {
                return Err(ProcessError(format!(
                    "no replica printed the line awaited within {limit:?}"
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops replica `host` gracefully (SIGTERM) and waits for it to exit.
    pub fn stop_replica(&mut self, host: usize) -> Result<(), ProcessError> {
        let replica = self.replica(host)?;
        replica.signal("TERM")?;
        replica.finish(PROCESS_LIMIT)?;
        Ok(())
    }

    /// Kills replica `host` with SIGKILL.
    pub fn kill_replica(&mut self, host: usize) -> Result<(), ProcessError> {
        self.replica(host)?.kill();
        self.replicas.remove(&host);
        Ok(())
    }

    /// Restarts every replica in turn, as a rollout does: stop gracefully, start again with
    /// the same flags, and before the next one wait until each of the loads named in
    /// `serving` has made a call to the new process (its readiness gate: a replica is back
    /// in rotation only once the clients reach it).
    pub fn rolling_restart(&mut self, serving: &[&str]) -> Result<(), ProcessError> {
        let hosts: Vec<usize> = self.replicas.keys().copied().collect();
        for host in hosts {
            self.stop_replica(host)?;
            let flags = self
                .replicas
                .get(&host)
                .map(|(_, flags)| flags.clone())
                .unwrap_or_default();
            self.launch(host, flags)?;
            for load in serving {
                let first_call = format!("first call from {load}");
                self.replica(host)?
                    .wait_for_line(PROCESS_LIMIT, |line| line == first_call)?;
            }
        }
        Ok(())
    }

    /// Starts `fleet-load` on the client host against `target` with `flags`, and waits
    /// until its first calls have completed.
    pub fn start_load(&mut self, target: &str, flags: &[&str]) -> Result<Load, ProcessError> {
        let mut command = self.topology.client().command(&self.programs.load);
        command.args(["--target", target]).args(flags);
        let index = self.topology.start("load", command)?;
        let load = Load(index);
        self.await_progress(load, 1)?;
        Ok(load)
    }

    /// Waits until `load` has completed `calls` more calls than it had when asked.
    pub fn await_more_calls(&mut self, load: Load, calls: u64) -> Result<(), ProcessError> {
        let now = self.load_progress(load)?;
        self.await_progress(load, now + calls)
    }

    fn await_progress(&mut self, load: Load, calls: u64) -> Result<(), ProcessError> {
        let process = self.load_process(load)?;
        process.wait_for_line(PROCESS_LIMIT, |line| {
            progress_of(line).is_some_and(|done| done >= calls)
        })?;
        Ok(())
    }

    fn load_progress(&mut self, load: Load) -> Result<u64, ProcessError> {
        Ok(self
            .load_process(load)?
            .lines()
            .iter()
            .filter_map(|line| progress_of(line))
            .max()
            .unwrap_or(0))
    }

    /// Stops `load` (SIGTERM) and returns its counts.
    pub fn finish_load(&mut self, load: Load) -> Result<Value, ProcessError> {
        let process = self.load_process(load)?;
        process.signal("TERM")?;
        Self::counts(process.finish(PROCESS_LIMIT)?)
    }

    /// Waits for `load` to end on its own (its duration or call count) and returns its
    /// counts.
    pub fn await_load(&mut self, load: Load) -> Result<Value, ProcessError> {
        let process = self.load_process(load)?;
        Self::counts(process.finish(Duration::from_secs(300))?)
    }

    fn counts(lines: Vec<String>) -> Result<Value, ProcessError> {
        let last = lines
            .iter()
            .rev()
            .find(|line| line.starts_with('{'))
            .ok_or_else(|| ProcessError(format!("fleet-load printed no counts: {lines:?}")))?;
        serde_json::from_str(last)
            .map_err(|err| ProcessError(format!("fleet-load's counts are not JSON: {err}")))
    }

    fn load_process(&mut self, load: Load) -> Result<&mut crate::process::Spawned, ProcessError> {
        self.topology
            .process(load.0)
            .ok_or_else(|| ProcessError("the load's process is gone".into()))
    }

    /// Writes `json` into the run directory as a service config file; returns its path.
    pub fn service_config(&self, name: &str, json: &str) -> Result<String, ProcessError> {
        let path = self.topology.dir().join(name);
        std::fs::write(&path, json)
            .map_err(|err| ProcessError(format!("cannot write {}: {err}", path.display())))?;
        Ok(path.to_string_lossy().into_owned())
    }
}

fn progress_of(line: &str) -> Option<u64> {
    line.strip_prefix("progress ")?.parse().ok()
}
