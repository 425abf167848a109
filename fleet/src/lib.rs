//! rgrpc on a real topology: hosts in Linux network namespaces on one bridge (or, where
//! namespaces are unavailable, loopback aliases), a real DNS server (dnsmasq) whose records
//! the tests change, nginx's `grpc_pass` in front of the replicas, and the two processes
//! the scenarios run there: `fleet-replica` (a server) and `fleet-load` (a client).
//!
//! The scenarios are `tests/fleet.rs`; `make fleet` runs the demo (`fleet-demo`).

/// The `fleet` proto package: `fleet_client`, `fleet_server` and the messages.
pub mod proto {
    rgrpc::include_proto!("fleet");
}

pub mod dns;
pub mod flags;
pub mod load;
pub mod nginx;
pub mod process;
pub mod replica;
pub mod scenario;
pub mod topology;

/// The name the fleet's replicas are published under in DNS.
pub const SERVICE_NAME: &str = "fleet.test";

/// The port every replica serves on (each replica has its own address).
pub const SERVICE_PORT: u16 = 50051;

/// The fully qualified service name, as the health service and service configs name it.
pub const SERVICE: &str = "fleet.Fleet";

/// The programs the fleet runs that are not on this machine (`ip`, `dnsmasq`, `nginx`).
pub fn missing_tools() -> Vec<&'static str> {
    ["ip", "dnsmasq", "nginx"]
        .into_iter()
        .filter(|name| !tool(name).is_file())
        .collect()
}

/// Where the program `name` is: on PATH, or in /usr/sbin (where Debian puts these, often
/// off a user's PATH); just `name` when neither has it.
pub fn tool(name: &str) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([std::path::PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| name.into())
}
