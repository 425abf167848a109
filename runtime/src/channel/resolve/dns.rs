//! `dns:` targets: A and AAAA records, asked of the system's DNS servers or of the one the
//! target names, with no cache (the channel decides when to ask again).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{LookupIpStrategy, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;

use super::Address;
use crate::channel::target::DnsTarget;

/// How long one DNS query waits for its answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// A name and the resolver that looks it up.
pub(crate) struct Dns {
    resolver: Option<TokioResolver>,
    host: String,
    port: u16,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns")
            .field("host", &self.host)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Dns {
    /// A resolver for `target`; an IP address needs none. Fails when the system's DNS
    /// configuration cannot be read.
    pub(crate) fn new(target: &DnsTarget) -> Result<Self, String> {
        let resolver = if target.host.parse::<IpAddr>().is_ok() {
            None
        } else {
            Some(build_resolver(target.server)?)
        };
        Ok(Self {
            resolver,
            host: target.host.clone(),
            port: target.port,
        })
    }

    /// The name's addresses now, IPv4 and IPv6.
    pub(crate) async fn resolve(&self) -> Result<Vec<Address>, String> {
        let Some(resolver) = &self.resolver else {
            let ip = self
                .host
                .parse::<IpAddr>()
                .map_err(|err| format!("{:?}: {err}", self.host))?;
            return Ok(vec![Address::Tcp(SocketAddr::new(ip, self.port))]);
        };
        // A final dot: the name is absolute, no search domains are tried.
        let name = if self.host.ends_with('.') {
            self.host.clone()
        } else {
            format!("{}.", self.host)
        };
        let lookup = resolver
            .lookup_ip(name)
            .await
            .map_err(|err| format!("resolving {:?} failed: {err}", self.host))?;
        let mut addresses: Vec<Address> = lookup
            .iter()
            .map(|ip| Address::Tcp(SocketAddr::new(ip, self.port)))
            .collect();
        addresses.dedup();
        Ok(addresses)
    }
}

fn build_resolver(server: Option<SocketAddr>) -> Result<TokioResolver, String> {
    let mut options = ResolverOpts::default();
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    options.cache_size = 0;
    options.timeout = QUERY_TIMEOUT;
    let builder = match server {
        Some(server) => {
            let mut config = ResolverConfig::new();
            config.add_name_server(NameServerConfig::new(server, Protocol::Udp));
            TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
        }
        None => TokioResolver::builder_tokio()
            .map_err(|err| format!("cannot read the system's DNS configuration: {err}"))?,
    };
    Ok(builder.with_options(options).build())
}
