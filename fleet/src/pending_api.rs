//! Stand-ins for the runtime APIs being built in parallel (the server and retry work), with
//! the agreed names, so the fleet builds and runs against today's main. Every item here
//! goes away when main has the real ones (the real inherent methods then win, and this
//! module is deleted). Until then: the server settings are ignored, service configs are
//! not applied, and the counters read zero.

use std::path::Path;
use std::time::Duration;

use rgrpc::{Channel, ChannelBuilder, Server};

/// The server settings of the server work (ignored until then).
pub trait ServerSettings: Sized {
    /// `Server::max_connection_age`.
    fn max_connection_age(self, _age: Duration) -> Self {
        self
    }
    /// `Server::max_connection_age_grace`.
    fn max_connection_age_grace(self, _grace: Duration) -> Self {
        self
    }
    /// `Server::drain_timeout`.
    fn drain_timeout(self, _timeout: Duration) -> Self {
        self
    }
}

impl ServerSettings for Server {}

/// `rgrpc::ServiceConfig` (read, not applied, until then).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The JSON text.
    pub json: String,
}

impl ServiceConfig {
    /// `ServiceConfig::from_file`.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        std::fs::read_to_string(path)
            .map(|json| Self { json })
            .map_err(|err| format!("cannot read {}: {err}", path.display()))
    }
}

/// The channel settings of the retry and lb work (ignored until then).
pub trait ChannelSettings: Sized {
    /// `ChannelBuilder::service_config`.
    fn service_config(self, _config: ServiceConfig) -> Self {
        self
    }
}

impl ChannelSettings for ChannelBuilder {}

/// `rgrpc::channel::ChannelStats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChannelStats {
    /// Attempts sent.
    pub attempts: u64,
    /// Retry attempts.
    pub retries: u64,
    /// Hedged attempts.
    pub hedges: u64,
    /// Transparent retries.
    pub transparent_retries: u64,
}

/// `Channel::stats` (zeros until then).
pub trait Stats {
    /// The channel's counters.
    fn stats(&self) -> ChannelStats {
        ChannelStats::default()
    }
}

impl Stats for Channel {}
