//! Name resolution: a target's addresses, looked up again when they may have changed
//! (periodically for DNS, and soon after a connection failed), for the load balancer.

pub(crate) mod dns;
mod list;
mod unix;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub(crate) use list::from_uris;

/// The default pause between two DNS resolutions (gRPC's 30 s).
pub const DEFAULT_DNS_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
/// The default shortest pause between two DNS resolutions, even after connection failures
/// (grpc-go's 30 s).
pub const DEFAULT_DNS_MIN_RESOLUTION_INTERVAL: Duration = Duration::from_secs(30);

/// Where a subchannel connects.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Address {
    Tcp(SocketAddr),
    /// `host:port`, looked up by the OS at each connection (a static list's URIs).
    Named(String),
    Unix(PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => addr.fmt(f),
            Address::Named(authority) => f.write_str(authority),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// How a channel finds its addresses.
#[derive(Debug)]
pub(crate) enum Resolver {
    /// Addresses that never change (a unix socket, a list of URIs).
    Fixed(Vec<Address>),
    /// Boxed: hickory's resolver is large, and made once per channel.
    Dns(Box<dns::Dns>),
}

impl Resolver {
    pub(crate) fn unix(path: PathBuf) -> Self {
        Resolver::Fixed(unix::addresses(path))
    }

    async fn resolve(&self) -> Result<Vec<Address>, String> {
        match self {
            Resolver::Fixed(addresses) => Ok(addresses.clone()),
            Resolver::Dns(dns) => dns.resolve().await,
        }
    }
}

/// When DNS is asked again.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refresh {
    pub(crate) interval: Duration,
    pub(crate) min_interval: Duration,
}

/// What the resolver feeds.
pub(crate) trait Resolved: Send + Sync + 'static {
    fn update(&self, addresses: Vec<Address>);
    fn failed(&self, error: String);
}

/// Asks for a resolution sooner than the refresh interval (after a connection failure
/// or GOAWAY); the minimum interval still holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct ResolveNow(Arc<Notify>);

impl ResolveNow {
    pub(crate) fn request(&self) {
        self.0.notify_one();
    }
}

/// Resolves at once, then again every `refresh.interval` or when asked through `now`, never
/// twice within `refresh.min_interval`; ends when `closed` is cancelled or the consumer is
/// gone. Fixed addresses are resolved once.
pub(crate) async fn run<R: Resolved>(
    resolver: Resolver,
    refresh: Refresh,
    consumer: Weak<R>,
    now: ResolveNow,
    closed: CancellationToken,
) {
    loop {
        let resolved = tokio::select! {
            () = closed.cancelled() => return,
            resolved = resolver.resolve() => resolved,
        };
        let last = Instant::now();
        let Some(consumer_now) = consumer.upgrade() else {
            return;
        };
        match resolved {
            Ok(addresses) if addresses.is_empty() => {
                consumer_now.failed("the name resolved to no address".to_owned());
            }
            Ok(addresses) => consumer_now.update(addresses),
            Err(error) => consumer_now.failed(error),
        }
        drop(consumer_now);
        if matches!(resolver, Resolver::Fixed(_)) {
            return;
        }
        tokio::select! {
            () = closed.cancelled() => return,
            () = tokio::time::sleep(refresh.interval) => {}
            () = now.0.notified() => {}
        }
        tokio::select! {
            () = closed.cancelled() => return,
            () = tokio::time::sleep_until(last + refresh.min_interval) => {}
        }
    }
}
