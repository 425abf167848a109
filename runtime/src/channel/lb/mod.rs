//! Load balancing over a resolved target's addresses: one subchannel (connection) per
//! address, a policy (pick_first or round_robin) choosing one for each call, calls waiting
//! while connections are being made, and addresses coming and going as the resolver says.

pub(crate) mod backoff;
pub(crate) mod connect;
#[cfg(feature = "health")]
mod health;
mod pick_first;
mod round_robin;
mod subchannel;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::body::Body;

use self::connect::Connector;
use self::subchannel::{Environment, Pickable, Picked, Subchannel};
use super::LoadBalancing;
use super::call_policy::CallPolicy;
use super::resolve::{self, Address, Refresh, ResolveNow, Resolved, Resolver};

type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(super) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

/// A policy's answer for one call.
pub(crate) enum Pick {
    Ready(Picked),
    /// Nothing ready yet, but a connection is being made: wait.
    Queue,
    /// Every address failed: fail the call (or wait, for `wait_for_ready`), saying why.
    Fail(String),
}

/// The answer when no subchannel is ready: wait while any may still become ready, fail
/// when all failed.
pub(crate) fn none_ready(subchannels: &[Subchannel]) -> Pick {
    if subchannels.is_empty()
        || subchannels
            .iter()
            .any(|subchannel| !matches!(subchannel.pickable(), Pickable::Failed))
    {
        return Pick::Queue;
    }
    let last_error = subchannels
        .iter()
        .filter_map(Subchannel::last_error)
        .next_back()
        .unwrap_or_else(|| "no connection attempt has finished".to_owned());
    Pick::Fail(format!(
        "none of the {} replicas is reachable; last error: {last_error}",
        subchannels.len()
    ))
}

/// A channel's balancer; clones share it. Dropping the last stops its tasks.
#[derive(Clone)]
pub(crate) struct LoadBalancer {
    shared: Arc<Shared>,
}

/// How to build a [`LoadBalancer`].
pub(crate) struct Settings {
    /// The target as the user wrote it, for statuses and logs.
    pub(crate) target: String,
    pub(crate) policy: LoadBalancing,
    pub(crate) connector: Connector,
    pub(crate) resolver: Resolver,
    pub(crate) refresh: Refresh,
    pub(crate) health_service: Option<String>,
}

struct Shared {
    target: String,
    policy: LoadBalancing,
    pool: Mutex<Pool>,
    /// Bumped after every change a waiting pick may care about.
    changed: watch::Sender<u64>,
    /// Where round robin's next turn starts.
    next: AtomicUsize,
    environment: Environment,
}

struct Pool {
    /// In the resolver's order.
    subchannels: Vec<Subchannel>,
    /// pick_first's choice.
    selected: Option<Address>,
    /// Why the last resolution failed, while there are no addresses.
    resolution_error: Option<String>,
}

impl LoadBalancer {
    /// Starts resolving and balancing. Must run inside a Tokio runtime.
    pub(crate) fn new(settings: Settings) -> Self {
        let closed = CancellationToken::new();
        let resolve_now = ResolveNow::default();
        let shared = Arc::new_cyclic(|this: &Weak<Shared>| {
            let this = this.clone();
            let health_service = match settings.policy {
                // As in gRFC A17: pick_first does not health-check.
                LoadBalancing::PickFirst => None,
                _ if cfg!(not(feature = "health")) && settings.health_service.is_some() => {
                    tracing::warn!(
                        "health checking needs rgrpc's `health` feature; connections are \
                         taken as healthy"
                    );
                    None
                }
                _ => settings.health_service,
            };
            Shared {
                target: settings.target,
                policy: settings.policy,
                pool: Mutex::new(Pool {
                    subchannels: Vec::new(),
                    selected: None,
                    resolution_error: None,
                }),
                changed: watch::Sender::new(0),
                next: AtomicUsize::new(0),
                environment: Environment {
                    connector: Arc::new(settings.connector),
                    on_change: Arc::new(move || {
                        if let Some(shared) = this.upgrade() {
                            shared.changed();
                        }
                    }),
                    resolve_now: resolve_now.clone(),
                    health_service,
                    closed: closed.clone(),
                },
            }
        });
        tokio::spawn(resolve::run(
            settings.resolver,
            settings.refresh,
            Arc::downgrade(&shared),
            resolve_now,
            closed,
        ));
        Self { shared }
    }

    /// Sends `request` on the connection the policy picks, waiting for one while
    /// connections are being made (and, for `wait_for_ready` calls, while none is
    /// reachable).
    pub(crate) fn call(&self, mut request: http::Request<Body>) -> ResponseFuture {
        let wait_for_ready = request
            .extensions()
            .get::<CallPolicy>()
            .is_some_and(|policy| policy.wait_for_ready);
        let this = self.clone();
        Box::pin(async move {
            let Picked {
                mut sender,
                origin,
                proven,
            } = this.pick(wait_for_ready).await?;
            *request.uri_mut() = with_origin(&origin, request.uri())?;
            let response = sender.send_request(request).await?;
            proven.store(true, Ordering::Relaxed);
            Ok(response.map(Body::new))
        })
    }

    /// Waits until a connection is ready, or every address failed.
    pub(crate) async fn connected(&self) -> Result<(), Status> {
        self.pick(false).await.map(drop)
    }

    async fn pick(&self, wait_for_ready: bool) -> Result<Picked, Status> {
        let mut changes = self.shared.changed.subscribe();
        loop {
            changes.borrow_and_update();
            match self.shared.try_pick() {
                Pick::Ready(picked) => return Ok(picked),
                Pick::Fail(why) if !wait_for_ready => {
                    return Err(Status::unavailable(format!(
                        "{}: {why}",
                        self.shared.target
                    )));
                }
                Pick::Fail(_) | Pick::Queue => {}
            }
            // Woken by the next change of any subchannel or of the addresses. The sender
            // lives in `shared`, which this handle keeps alive, so this never fails.
            if changes.changed().await.is_err() {
                return Err(Status::unavailable("the channel is closed"));
            }
        }
    }
}

/// `uri`'s path under `origin`'s scheme and authority.
fn with_origin(origin: &http::Uri, uri: &http::Uri) -> Result<http::Uri, BoxError> {
    let mut parts = origin.clone().into_parts();
    parts.path_and_query = uri.path_and_query().cloned();
    Ok(http::Uri::from_parts(parts)?)
}

impl Shared {
    fn pool(&self) -> MutexGuard<'_, Pool> {
        // Never held across code that can panic; recover rather than spread one.
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn try_pick(&self) -> Pick {
        let mut pool = self.pool();
        self.request_connections(&pool.subchannels);
        if pool.subchannels.is_empty()
            && let Some(error) = &pool.resolution_error
        {
            return Pick::Fail(format!("name resolution failed: {error}"));
        }
        let Pool {
            subchannels,
            selected,
            ..
        } = &mut *pool;
        match self.policy {
            LoadBalancing::RoundRobin => round_robin::pick(subchannels, &self.next),
            _ => pick_first::pick(subchannels, selected),
        }
    }

    fn request_connections(&self, subchannels: &[Subchannel]) {
        match self.policy {
            LoadBalancing::RoundRobin => round_robin::request_connections(subchannels),
            _ => pick_first::request_connections(subchannels),
        }
    }

    /// After a change: the policy may want other connections, and waiting picks look again.
    fn changed(&self) {
        self.request_connections(&self.pool().subchannels);
        self.changed
            .send_modify(|version| *version = version.wrapping_add(1));
    }
}

impl Resolved for Shared {
    /// New addresses get subchannels; vanished ones take no new calls and close once
    /// their calls in flight are done.
    fn update(&self, addresses: Vec<Address>) {
        {
            let mut pool = self.pool();
            pool.resolution_error = None;
            let mut old = std::mem::take(&mut pool.subchannels);
            for address in addresses {
                if pool
                    .subchannels
                    .iter()
                    .any(|kept| *kept.address() == address)
                {
                    continue;
                }
                let subchannel = match old.iter().position(|known| *known.address() == address) {
                    Some(index) => old.swap_remove(index),
                    None => Subchannel::new(address, self.environment.clone()),
                };
                pool.subchannels.push(subchannel);
            }
            for gone in old {
                tracing::debug!(target = %self.target, address = %gone.address(), "address removed");
                gone.remove();
            }
        }
        self.changed();
    }

    /// Keeps the addresses it has; with none, calls fail naming `error`.
    fn failed(&self, error: String) {
        tracing::warn!(target = %self.target, "name resolution failed: {error}");
        self.pool().resolution_error = Some(error);
        self.changed();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.environment.closed.cancel();
    }
}

impl fmt::Debug for LoadBalancer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pool = self.shared.pool();
        let addresses: Vec<String> = pool
            .subchannels
            .iter()
            .map(|subchannel| subchannel.address().to_string())
            .collect();
        f.debug_struct("LoadBalancer")
            .field("target", &self.shared.target)
            .field("policy", &self.shared.policy)
            .field("addresses", &addresses)
            .finish()
    }
}
