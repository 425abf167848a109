//! Health checking, `grpc.health.v1.Health`: what Kubernetes gRPC probes, Envoy, load
//! balancers and client-side health checks ask.
//!
//! [`Server`](crate::Server) serves it with no configuration. Every service it serves, and
//! the server as a whole (the name `""`), starts `SERVING`; a [`HealthReporter`] from
//! [`Server::health_reporter`](crate::Server::health_reporter) changes a status at any time.
//! When the server shuts down gracefully, every status turns `NOT_SERVING` before its
//! connections are asked to close, so balancers stop sending first; `Watch` calls then end
//! with `UNAVAILABLE`, so a client retries elsewhere, and the drain is not held up by them.
//! The GOAWAY waits (briefly) for those `Watch` calls to end, so a watcher reads
//! `NOT_SERVING` before its connection goes away.
//!
//! For `tonic::transport::Server`, serve [`HealthReporter::service`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::{Context, ResponseSink, Status};

/// `grpc.health.v1`, as protoc-gen-rgrpc generates it.
#[allow(missing_docs)]
pub mod v1 {
    include!("generated/grpc.health.v1.rs");
}

pub use v1::health_check_response::ServingStatus;
use v1::health_server::{Health, HealthServer};
use v1::{HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse};

/// The full name of the health service, `grpc.health.v1.Health`.
pub const SERVICE_NAME: &str = "grpc.health.v1.Health";

/// `List` answers `RESOURCE_EXHAUSTED` above this many services, as grpc-go does: one
/// response must stay a reasonable size.
const MAX_LISTED: usize = 100;

/// Sets the serving status of each service, and of the server as a whole (`""`). Cheap to
/// clone; every clone changes the same statuses.
///
/// ```
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use hello::hello_service_server::HelloServiceServer;
/// use rgrpc::health::ServingStatus;
///
/// # block_on(async {
/// let builder = rgrpc::Server::builder();
/// let health = builder.health_reporter();
/// let server = builder
///     .add_service(HelloServiceServer::new(MyHello))
///     .serve_in_process();
/// assert_eq!(health.status("hello.HelloService"), Some(ServingStatus::Serving));
///
/// // The database went away: stop taking traffic for this service.
/// health.set_not_serving("hello.HelloService");
/// # server.shutdown().await?;
/// # Ok(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct HealthReporter {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    statuses: Mutex<Statuses>,
    /// Bumped on every change; each `Watch` compares its service's status again.
    changed: watch::Sender<()>,
    /// A token of each `Watch` call in flight, cancelled when the call ends (the ended
    /// ones are pruned as new ones come): the drain waits for them.
    watches: Mutex<Vec<CancellationToken>>,
}

#[derive(Debug, Default)]
struct Statuses {
    by_service: BTreeMap<String, ServingStatus>,
    /// The server is shutting down: every status is `NOT_SERVING` and stays so.
    shutting_down: bool,
}

impl Default for HealthReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthReporter {
    /// A reporter that knows no service yet.
    pub fn new() -> Self {
        Self {
            state: Arc::new(State {
                statuses: Mutex::new(Statuses::default()),
                changed: watch::Sender::new(()),
                watches: Mutex::new(Vec::new()),
            }),
        }
    }

    /// `service` (a full name such as `hello.HelloService`, or `""` for the server) is
    /// serving.
    pub fn set_serving(&self, service: &str) {
        self.set_status(service, ServingStatus::Serving);
    }

    /// `service` is not serving: balancers and probes should stop sending it calls.
    pub fn set_not_serving(&self, service: &str) {
        self.set_status(service, ServingStatus::NotServing);
    }

    /// Sets the status of `service`. Ignored once the server is shutting down: it stays
    /// `NOT_SERVING`.
    pub fn set_status(&self, service: &str, status: ServingStatus) {
        self.update(|statuses| {
            statuses.by_service.insert(service.to_owned(), status) != Some(status)
        });
    }

    /// Forgets `service`: `Check` answers `NOT_FOUND` for it, `Watch` `SERVICE_UNKNOWN`.
    pub fn clear_status(&self, service: &str) {
        self.update(|statuses| statuses.by_service.remove(service).is_some());
    }

    /// The status of `service`, if it has one.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        self.lock().by_service.get(service).copied()
    }

    /// Every status turns `NOT_SERVING`, for good, and `Watch` calls end. The server does
    /// this when it starts draining; call it yourself to stop taking traffic earlier (a
    /// pre-stop hook, say).
    pub fn shutdown(&self) {
        self.update(|statuses| {
            statuses.shutting_down = true;
            statuses
                .by_service
                .values_mut()
                .for_each(|status| *status = ServingStatus::NotServing);
            true
        });
    }

    /// The health service answering from this reporter, to serve in
    /// `tonic::transport::Server` (rgrpc's [`Server`](crate::Server) adds it itself).
    pub fn service(&self) -> HealthServer<HealthService> {
        HealthServer::new(HealthService {
            reporter: self.clone(),
        })
    }

    /// Sets `SERVING` for each of `services` that has no status yet.
    pub(crate) fn serve_unset<'a>(&self, services: impl IntoIterator<Item = &'a str>) {
        self.update(|statuses| {
            let mut changed = false;
            for service in services {
                if !statuses.by_service.contains_key(service) {
                    statuses
                        .by_service
                        .insert(service.to_owned(), ServingStatus::Serving);
                    changed = true;
                }
            }
            changed
        });
    }

    /// The `Watch` calls in flight, each as a token cancelled when the call has ended.
    pub(crate) fn watches(&self) -> Vec<CancellationToken> {
        self.watch_list().clone()
    }

    /// Counts a `Watch` call in flight until `ended` is cancelled.
    fn watching(&self, ended: CancellationToken) {
        let mut watches = self.watch_list();
        watches.retain(|watch| !watch.is_cancelled());
        watches.push(ended);
    }

    fn watch_list(&self) -> MutexGuard<'_, Vec<CancellationToken>> {
        self.state
            .watches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change`, unless the server is already shutting down; tells the watchers
    /// when it says something changed.
    fn update(&self, change: impl FnOnce(&mut Statuses) -> bool) {
        let changed = {
            let mut statuses = self.lock();
            if statuses.shutting_down {
                return;
            }
            change(&mut statuses)
        };
        if changed {
            self.state.changed.send_replace(());
        }
    }

    /// A poisoned lock still holds consistent statuses: each change is one insert.
    fn lock(&self) -> MutexGuard<'_, Statuses> {
        self.state
            .statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// What `Watch` reports for `service`, and whether the server is shutting down.
    fn watched(&self, service: &str) -> (ServingStatus, bool) {
        let statuses = self.lock();
        let status = statuses
            .by_service
            .get(service)
            .copied()
            .unwrap_or(ServingStatus::ServiceUnknown);
        (status, statuses.shutting_down)
    }
}

/// `grpc.health.v1.Health`, answering from a [`HealthReporter`].
#[derive(Debug, Clone)]
pub struct HealthService {
    reporter: HealthReporter,
}

fn response(status: ServingStatus) -> HealthCheckResponse {
    HealthCheckResponse {
        status: status as i32,
    }
}

impl Health for HealthService {
    async fn check(
        &self,
        _ctx: Context,
        request: HealthCheckRequest,
    ) -> Result<HealthCheckResponse, Status> {
        match self.reporter.status(&request.service) {
            Some(status) => Ok(response(status)),
            None => Err(Status::not_found(format!(
                "unknown service {:?}",
                request.service
            ))),
        }
    }

    async fn list(
        &self,
        _ctx: Context,
        _request: HealthListRequest,
    ) -> Result<HealthListResponse, Status> {
        let statuses = self.reporter.lock();
        if statuses.by_service.len() > MAX_LISTED {
            return Err(Status::resource_exhausted(format!(
                "{} services have a health status, more than the {MAX_LISTED} List answers with",
                statuses.by_service.len()
            )));
        }
        Ok(HealthListResponse {
            statuses: statuses
                .by_service
                .iter()
                .map(|(service, status)| (service.clone(), response(*status)))
                .collect(),
        })
    }

    async fn watch(
        &self,
        ctx: Context,
        request: HealthCheckRequest,
        responses: ResponseSink<HealthCheckResponse>,
    ) -> Result<(), Status> {
        // Cancelled once the call has ended: its last message and status handed to the
        // connection, which a drain waits for before its GOAWAY.
        self.reporter.watching(ctx.cancellation_token());
        let mut changes = self.reporter.state.changed.subscribe();
        let mut last = None;
        loop {
            // Marked seen before reading: a change made after this read wakes the wait.
            changes.borrow_and_update();
            let (status, shutting_down) = self.reporter.watched(&request.service);
            if last != Some(status) {
                responses.send(response(status)).await?;
                last = Some(status);
            }
            if shutting_down {
                return Err(Status::unavailable("the server is shutting down"));
            }
            // The sender lives in the reporter this service holds: this never fails.
            if changes.changed().await.is_err() {
                return Ok(());
            }
        }
    }
}
