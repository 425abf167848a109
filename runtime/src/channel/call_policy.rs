//! What the channel needs to know of one call beyond its HTTP request. The call layer puts
//! it in the request's extensions; the channel's layers (retries, load balancing) read it.

use std::sync::Arc;

use tokio::time::Instant;

use crate::intercept::client::CallRecord;
use crate::service_config::MethodConfig;

/// One call's options that reach past the HTTP request.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallPolicy {
    /// Wait for a ready connection instead of failing at once with `UNAVAILABLE` while
    /// none is (gRPC's `wait_for_ready`).
    pub(crate) wait_for_ready: bool,
    /// When the whole call ends, every attempt included.
    pub(crate) deadline: Option<Instant>,
    /// The service config's entry for the call's method, found once by the call layer:
    /// the retry engine reads its retry or hedging policy.
    pub(crate) method: Option<Arc<MethodConfig>>,
    /// The call's interceptors' record, when it has interceptors: the channel reports
    /// each attempt to them.
    pub(crate) record: Option<Arc<CallRecord>>,
}
