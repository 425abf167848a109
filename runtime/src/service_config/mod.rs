//! gRPC's service config: per-method timeouts, `waitForReady`, message size limits, retry
//! and hedging policies (gRFC A6), retry throttling, the load-balancing policy and the
//! health-checked service name, read from the JSON form every gRPC implementation accepts
//! (grpc/grpc `doc/service_config.md`).
//!
//! Parsing checks every value and names the JSON path of the first bad one. Unknown fields
//! are ignored, as gRPC's own parsers do, so a config written for another implementation
//! (with xDS fields, say) still loads.

mod json;
mod parse;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tonic::Code;

/// A parsed service config: give it to [`ChannelBuilder::service_config`](crate::ChannelBuilder::service_config).
///
/// ```
/// let config = rgrpc::ServiceConfig::from_json(r#"{
///   "methodConfig": [{
///     "name": [{"service": "hello.HelloService"}],
///     "timeout": "2s",
///     "retryPolicy": {
///       "maxAttempts": 4,
///       "initialBackoff": "0.1s",
///       "maxBackoff": "1s",
///       "backoffMultiplier": 2,
///       "retryableStatusCodes": ["UNAVAILABLE"]
///     }
///   }],
///   "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
/// }"#)?;
/// # Ok::<(), rgrpc::ServiceConfigError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ServiceConfig {
    /// Method configs by name: `/service/method`, `service` for a whole service, `""` for
    /// every method.
    methods: HashMap<String, Arc<MethodConfig>>,
    load_balancing: Option<crate::LoadBalancing>,
    retry_throttling: Option<RetryThrottling>,
    health_check_service: Option<String>,
}

/// What the service config says about the calls to one method.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct MethodConfig {
    /// The longest a call may take, all attempts together; a call's own earlier deadline
    /// wins.
    pub timeout: Option<Duration>,
    /// Whether calls wait for a ready connection, unless the call says.
    pub wait_for_ready: Option<bool>,
    /// The largest request message a call sends, unless the call says.
    pub max_request_message_bytes: Option<usize>,
    /// The largest response message a call accepts, unless the call says.
    pub max_response_message_bytes: Option<usize>,
    /// How failed calls are retried or hedged, if at all.
    pub policy: Option<AttemptPolicy>,
}

/// How a method's calls make more than one attempt (at most one of the two per method).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum AttemptPolicy {
    /// Retry a failed attempt after a backoff.
    Retry(RetryPolicy),
    /// Send further attempts while the first is still running.
    Hedging(HedgingPolicy),
}

/// gRFC A6's `retryPolicy`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 2 to 5.
    pub max_attempts: u32,
    /// The upper bound of the first retry's random backoff.
    pub initial_backoff: Duration,
    /// The largest upper bound any backoff grows to.
    pub max_backoff: Duration,
    /// How much the bound grows after each retry.
    pub backoff_multiplier: f64,
    /// The statuses worth another attempt.
    pub retryable_status_codes: Vec<Code>,
}

/// gRFC A6's `hedgingPolicy`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct HedgingPolicy {
    /// Attempts in all, the first included: 2 to 5.
    pub max_attempts: u32,
    /// The pause before each further attempt while none has answered (zero: all at once).
    pub hedging_delay: Duration,
    /// The statuses that start the next attempt at once instead of ending the call.
    pub non_fatal_status_codes: Vec<Code>,
}

/// gRFC A6's `retryThrottling`: retries and hedges stop while many calls fail.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryThrottling {
    /// The tokens a channel starts with and never exceeds; each failure takes one.
    pub max_tokens: f64,
    /// The tokens each success gives back.
    pub token_ratio: f64,
}

/// The largest `maxAttempts` gRPC honours; larger values are lowered to it.
pub(crate) const MAX_ATTEMPTS_CAP: u32 = 5;

impl ServiceConfig {
    /// Parses a service config from its JSON form.
    pub fn from_json(json: &str) -> Result<Self, ServiceConfigError> {
        let value: serde_json::Value = serde_json::from_str(json).map_err(|err| {
            ServiceConfigError::at(String::new(), format!("not valid JSON: {err}"))
        })?;
        parse::service_config(&value)
    }

    /// Reads and parses the service config in the JSON file at `path`; the error names
    /// the file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ServiceConfigError> {
        let path = path.as_ref();
        let in_file = |err: ServiceConfigError| err.in_file(path);
        let json = std::fs::read_to_string(path).map_err(|err| {
            in_file(ServiceConfigError::at(
                String::new(),
                format!("cannot read it: {err}"),
            ))
        })?;
        Self::from_json(&json).map_err(in_file)
    }

    /// The config of the method at `path` (`/package.Service/Method`): the method's own,
    /// else its service's, else the default for all methods.
    #[allow(dead_code, reason = "for the load-balancing layer and the lead")]
    pub(crate) fn method(&self, path: &str) -> Option<&MethodConfig> {
        self.lookup(path).map(Arc::as_ref)
    }

    /// [`method`](Self::method), shared, for the call layer to hand to the channel.
    pub(crate) fn method_shared(&self, path: &str) -> Option<Arc<MethodConfig>> {
        self.lookup(path).cloned()
    }

    fn lookup(&self, path: &str) -> Option<&Arc<MethodConfig>> {
        if self.methods.is_empty() {
            return None;
        }
        let service = path
            .strip_prefix('/')
            .and_then(|rest| rest.split_once('/'))
            .map_or("", |(service, _)| service);
        self.methods
            .get(path)
            .or_else(|| self.methods.get(service))
            .or_else(|| self.methods.get(""))
    }

    /// The load-balancing policy the config chose, if it chose one.
    pub(crate) fn load_balancing(&self) -> Option<crate::LoadBalancing> {
        self.load_balancing
    }

    /// The service whose health decides which addresses take calls (gRFC A17), if set.
    pub(crate) fn health_check_service(&self) -> Option<&str> {
        self.health_check_service.as_deref()
    }

    /// The channel's retry throttling, if set.
    pub(crate) fn retry_throttling(&self) -> Option<RetryThrottling> {
        self.retry_throttling
    }
}

/// A service config that could not be read: what is wrong, and where (the JSON path, and
/// the file if it came from one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfigError {
    file: Option<PathBuf>,
    path: String,
    message: String,
}

impl ServiceConfigError {
    pub(crate) fn at(path: String, message: impl Into<String>) -> Self {
        Self {
            file: None,
            path,
            message: message.into(),
        }
    }

    fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_owned());
        self
    }

    /// The JSON path of the bad value (`methodConfig[0].retryPolicy.maxAttempts`); empty
    /// for the document as a whole.
    pub fn json_path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for ServiceConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "service config {}: ", file.display())?;
        } else if self.path.is_empty() {
            f.write_str("service config: ")?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServiceConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_finds_its_own_entry_then_its_service_s_then_the_default() {
        let config = ServiceConfig::from_json(
            r#"{"methodConfig": [
              {"name": [{"service": "a.S", "method": "M"}], "timeout": "1s"},
              {"name": [{"service": "a.S"}], "timeout": "2s"},
              {"name": [{}], "timeout": "3s"}
            ]}"#,
        )
        .unwrap();
        let timeout = |path| config.method(path).and_then(|m| m.timeout);
        assert_eq!(timeout("/a.S/M"), Some(Duration::from_secs(1)));
        assert_eq!(timeout("/a.S/Other"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("/b.T/M"), Some(Duration::from_secs(3)));
        assert_eq!(ServiceConfig::default().method("/a.S/M"), None);
    }
}
