//! The fleet's hosts: a client host and server hosts, each in its own network namespace with
//! a veth pair onto one bridge in a private /24; or, where namespaces are unavailable (not
//! root, or `ip netns add` fails), loopback aliases 127.0.0.x, said so in [`Topology::note`].
//!
//! Every name of a run carries the run's prefix and PID (`rgf-<pid>-s1`, bridge `rgf<pid>`),
//! so runs never collide, and a new run removes what dead runs left behind: their
//! namespaces (and any process still inside), their bridge, and the processes recorded in
//! their run directory. Dropping the [`Topology`] kills what it started, by PID, and
//! deletes its namespaces and bridge.

use std::fs;
use std::net::{Ipv4Addr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{ProcessError, Spawned, run, send_signal};

/// The prefix of every namespace, bridge and run directory the fleet creates.
pub const PREFIX: &str = "rgf";

/// One host of the fleet.
#[derive(Debug, Clone)]
pub struct Host {
    /// A short name: `client`, `s1`, `s2`, ...
    pub name: String,
    /// The network namespace it lives in (`None` on the loopback fallback).
    pub netns: Option<String>,
    /// Its address.
    pub ip: Ipv4Addr,
}

impl Host {
    /// A command running `program` on this host (`ip netns exec NS program`, which execs
    /// the program, so the child's PID is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.netns {
            Some(netns) => {
                let mut command = Command::new(crate::tool("ip"));
                command.args(["netns", "exec", netns]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }
}

/// How the hosts are separated.
#[derive(Debug)]
enum Isolation {
    /// Network namespaces on a bridge in the root namespace (which holds the gateway).
    Namespaces {
        bridge: String,
        namespaces: Vec<String>,
    },
    /// Loopback aliases: every host is this machine.
    Loopback,
}

/// The fleet's hosts, the gateway (where dnsmasq and nginx run, and the tests themselves),
/// and the run directory for configs and pid files.
#[derive(Debug)]
pub struct Topology {
    isolation: Isolation,
    client: Host,
    servers: Vec<Host>,
    gateway: Ipv4Addr,
    dns_port: u16,
    dir: PathBuf,
    note: String,
    started: Vec<Spawned>,
}

impl Topology {
    /// Builds a client host and `servers` server hosts: in network namespaces when they
    /// work, else on loopback aliases (the reason is in [`Topology::note`]).
    pub fn build(servers: usize) -> Result<Self, ProcessError> {
        remove_stale_runs();
        let run = format!("{PREFIX}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&run);
        fs::create_dir_all(&dir)
            .map_err(|err| ProcessError(format!("cannot create {}: {err}", dir.display())))?;
        match namespaces_unavailable() {
            None => Self::with_namespaces(servers, dir),
            Some(reason) => Ok(Self::on_loopback(servers, dir, reason)),
        }
    }

    fn with_namespaces(servers: usize, dir: PathBuf) -> Result<Self, ProcessError> {
        let pid = std::process::id();
        let subnet = subnet_for(pid);
        let gateway = subnet_host(subnet, 1);
        let bridge = format!("{PREFIX}{pid}");
        let mut topology = Self {
            isolation: Isolation::Namespaces {
                bridge: bridge.clone(),
                namespaces: Vec::new(),
            },
            client: Host {
                name: "client".into(),
                netns: None,
                ip: subnet_host(subnet, 10),
            },
            servers: Vec::new(),
            gateway,
            dns_port: 53,
            dir,
            note: format!("network namespaces on bridge {bridge}, {gateway}/24"),
            started: Vec::new(),
        };
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&["addr", "add", &format!("{gateway}/24"), "dev", &bridge])?;
        ip(&["link", "set", &bridge, "up"])?;
        topology.client = topology.add_namespace_host("client", "c", subnet_host(subnet, 10))?;
        for index in 1..=servers {
            let name = format!("s{index}");
            let address = subnet_host(subnet, 10 + u8::try_from(index).unwrap_or(200));
            let host = topology.add_namespace_host(&name, &name, address)?;
            topology.servers.push(host);
        }
        Ok(topology)
    }

    fn add_namespace_host(
        &mut self,
        name: &str,
        short: &str,
        address: Ipv4Addr,
    ) -> Result<Host, ProcessError> {
        let Isolation::Namespaces { bridge, namespaces } = &mut self.isolation else {
            return Err(ProcessError("not a namespace topology".into()));
        };
        let netns = format!("{PREFIX}-{}-{short}", std::process::id());
        let veth = veth_of(&netns);
        ip(&["netns", "add", &netns])?;
        namespaces.push(netns.clone());
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns,
        ])?;
        ip(&["link", "set", &veth, "master", bridge, "up"])?;
        ip(&[
            "-n",
            &netns,
            "addr",
            "add",
            &format!("{address}/24"),
            "dev",
            "eth0",
        ])?;
        ip(&["-n", &netns, "link", "set", "eth0", "up"])?;
        ip(&["-n", &netns, "link", "set", "lo", "up"])?;
        Ok(Host {
            name: name.into(),
            netns: Some(netns),
            ip: address,
        })
    }

    fn on_loopback(servers: usize, dir: PathBuf, reason: String) -> Self {
        let dns_port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|socket| socket.local_addr())
            .map(|addr| addr.port())
            .unwrap_or(5353);
        let host = |name: String, last: u8| Host {
            name,
            netns: None,
            ip: Ipv4Addr::new(127, 0, 0, last),
        };
        Self {
            isolation: Isolation::Loopback,
            client: host("client".into(), 10),
            servers: (1..=servers)
                .map(|index| host(format!("s{index}"), 10 + u8::try_from(index).unwrap_or(200)))
                .collect(),
            gateway: Ipv4Addr::LOCALHOST,
            dns_port,
            dir,
            note: format!(
                "FALLBACK: loopback aliases 127.0.0.x, dnsmasq on 127.0.0.1:{dns_port} ({reason})"
            ),
            started: Vec::new(),
        }
    }

    /// The client host, where the load runs.
    pub fn client(&self) -> &Host {
        &self.client
    }

    /// The server hosts, `s1`, `s2`, ...
    pub fn servers(&self) -> &[Host] {
        &self.servers
    }

    /// The gateway's address: the bridge's (root namespace), or 127.0.0.1 on the fallback.
    pub fn gateway(&self) -> Ipv4Addr {
        self.gateway
    }

    /// The port dnsmasq serves on: 53, or a free one on the fallback.
    pub fn dns_port(&self) -> u16 {
        self.dns_port
    }

    /// The run's directory (configs, records, pid files); removed on drop.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the hosts are namespaces (false: the loopback fallback).
    pub fn isolated(&self) -> bool {
        matches!(self.isolation, Isolation::Namespaces { .. })
    }

    /// What the topology is, and on the fallback why.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Starts `command` as the run's process `name`, recording its PID in the run
    /// directory (so a later run can kill it if this one dies without dropping), and keeps
    /// it to kill on drop; returns its index for [`Topology::process`].
    pub fn start(&mut self, name: &str, command: Command) -> Result<usize, ProcessError> {
        let spawned = Spawned::start(name, command)?;
        let _ = fs::write(
            self.dir.join(format!("{name}.pid")),
            spawned.pid().to_string(),
        );
        self.started.push(spawned);
        Ok(self.started.len() - 1)
    }

    /// A process started with [`Topology::start`].
    pub fn process(&mut self, index: usize) -> Option<&mut Spawned> {
        self.started.get_mut(index)
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for mut process in self.started.drain(..) {
            process.kill();
        }
        if let Isolation::Namespaces { bridge, namespaces } = &self.isolation {
            for netns in namespaces {
                // Deleted here, both ends at once: a namespace's own deletion removes its
                // veth later, in the kernel's background, and the next topology of this
                // process reuses the name.
                let _ = ip(&["link", "del", &veth_of(netns)]);
                delete_namespace(netns);
            }
            let _ = ip(&["link", "del", bridge]);
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The root-namespace end of the veth pair of `netns` (`rgf-<pid>-s1` → `rgf<pid>s1`: an
/// interface name has at most 15 bytes).
fn veth_of(netns: &str) -> String {
    netns
        .replacen(&format!("{PREFIX}-"), PREFIX, 1)
        .replacen('-', "", 1)
}

/// The run's /24: 10.a.b.0, from its PID, so concurrent runs do not share one.
fn subnet_for(pid: u32) -> [u8; 3] {
    [10, 100 + (pid % 100) as u8, ((pid / 100) % 256) as u8]
}

fn subnet_host(subnet: [u8; 3], last: u8) -> Ipv4Addr {
    Ipv4Addr::new(subnet[0], subnet[1], subnet[2], last)
}

/// Why this machine cannot have namespaces, or `None` when it can (a probe namespace is
/// added and deleted).
fn namespaces_unavailable() -> Option<String> {
    if std::env::var_os("RGRPC_FLEET_LOOPBACK").is_some() {
        return Some("RGRPC_FLEET_LOOPBACK is set".into());
    }
    let probe = format!("{PREFIX}-{}-probe", std::process::id());
    match ip(&["netns", "add", &probe]) {
        Ok(_) => {
            delete_namespace(&probe);
            None
        }
        Err(err) => Some(format!("ip netns add failed: {err}")),
    }
}

/// Kills whatever still runs inside `netns` (only a run of ours puts processes there),
/// then deletes it.
fn delete_namespace(netns: &str) {
    if let Ok(pids) = run(Command::new(crate::tool("ip")).args(["netns", "pids", netns])) {
        for pid in pids.split_whitespace().filter_map(|pid| pid.parse().ok()) {
            let _ = send_signal(pid, "KILL");
        }
    }
    let _ = ip(&["netns", "del", netns]);
}

/// Removes what runs that are gone (their PID no longer alive) left: namespaces, bridges,
/// the processes recorded in their run directories, and the directories.
fn remove_stale_runs() {
    let dead = |run_pid: &str| {
        run_pid
            .parse::<u32>()
            .is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    };
    if let Ok(list) = run(Command::new(crate::tool("ip")).args(["netns", "list"])) {
        for netns in list.split_whitespace() {
            let Some(rest) = netns.strip_prefix(&format!("{PREFIX}-")) else {
                continue;
            };
            if rest.split('-').next().is_some_and(dead) {
                delete_namespace(netns);
            }
        }
    }
    if let Ok(links) =
        run(Command::new(crate::tool("ip")).args(["-o", "link", "show", "type", "bridge"]))
    {
        for line in links.lines() {
            let Some(name) = line.split(':').nth(1).map(str::trim) else {
                continue;
            };
            if name.strip_prefix(PREFIX).is_some_and(dead) {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.strip_prefix(&format!("{PREFIX}-")).is_some_and(dead) {
            kill_recorded_processes(&entry.path());
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Kills the processes a dead run recorded (`<name>.pid`), if each is still the program it
/// started (its command line names the run directory or a fleet binary).
fn kill_recorded_processes(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|ext| ext != "pid") {
            continue;
        }
        let Some(pid) = fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
        else {
            continue;
        };
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains(&*dir.to_string_lossy()) || cmdline.contains("fleet-") {
            let _ = send_signal(pid, "KILL");
        }
    }
}

fn ip(args: &[&str]) -> Result<String, ProcessError> {
    run(Command::new(crate::tool("ip")).args(args))
}
