//! One address of a channel: its own HTTP/2 connection, connected when the policy asks,
//! reconnected with backoff, and the state the policies pick by (gRPC's connectivity
//! states, plus the health check's verdict).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::connect::{Connector, Sender, pinged_too_often};
use crate::channel::resolve::{Address, ResolveNow};

/// gRPC's connectivity states of a subchannel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Connectivity {
    /// Not connected, and not trying until a policy asks.
    Idle,
    Connecting,
    Ready,
    /// The last attempt failed; the next waits for the backoff.
    TransientFailure,
}

/// What the health check (gRFC A17) says of a ready subchannel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// Not checked: no check configured, or the server does not implement it.
    Unchecked,
    /// Checking, no answer yet.
    Unknown,
    #[cfg_attr(
        not(feature = "health"),
        allow(dead_code, reason = "reported by the health check")
    )]
    Serving,
    NotServing,
}

/// A ready subchannel's connection, and the scheme and authority of its requests.
#[derive(Clone, Debug)]
pub(crate) struct Picked {
    pub(crate) sender: Sender,
    pub(crate) origin: http::Uri,
    /// Set once the connection answers: see [`connect_and_serve`].
    pub(crate) proven: Arc<AtomicBool>,
}

/// How a subchannel looks to a policy.
#[derive(Clone, Debug)]
pub(crate) enum Pickable {
    /// Takes calls, over this connection.
    Ready(Picked),
    Idle,
    Connecting,
    Failed,
}

/// What every subchannel of a channel shares.
#[derive(Clone)]
pub(crate) struct Environment {
    pub(crate) connector: Arc<Connector>,
    /// Called after every change of state, outside the subchannel's lock.
    pub(crate) on_change: Arc<dyn Fn() + Send + Sync>,
    pub(crate) resolve_now: ResolveNow,
    /// The service to health-check (A17), if checking is on.
    pub(crate) health_service: Option<String>,
    /// Cancelled when the channel is dropped.
    pub(crate) closed: CancellationToken,
}

/// A handle to one subchannel; clones share it.
#[derive(Clone)]
pub(crate) struct Subchannel {
    inner: Arc<Inner>,
}

struct Inner {
    address: Address,
    origin: http::Uri,
    state: Mutex<State>,
    /// A policy asked for a connection.
    wanted: Notify,
    /// Removed from the channel: no new calls, no reconnecting; calls in flight finish.
    removed: CancellationToken,
}

struct State {
    connectivity: Connectivity,
    /// The connection, while ready.
    sender: Option<Sender>,
    health: Health,
    /// Why the last connection attempt failed or the last connection ended.
    last_error: Option<String>,
    /// A connection was asked for while idle.
    requested: bool,
    /// The current connection has answered something: it works.
    proven: Arc<AtomicBool>,
}

impl Subchannel {
    /// A subchannel for `address`, idle until [`Subchannel::request_connection`].
    pub(crate) fn new(address: Address, environment: Environment) -> Self {
        let inner = Arc::new(Inner {
            origin: environment.connector.origin_for(&address),
            address,
            state: Mutex::new(State {
                connectivity: Connectivity::Idle,
                sender: None,
                health: Health::Unchecked,
                last_error: None,
                requested: false,
                proven: Arc::default(),
            }),
            wanted: Notify::new(),
            removed: environment.closed.child_token(),
        });
        tokio::spawn(run(inner.clone(), environment));
        Self { inner }
    }

    pub(crate) fn address(&self) -> &Address {
        &self.inner.address
    }

    /// Asks an idle subchannel to connect.
    pub(crate) fn request_connection(&self) {
        let mut state = self.inner.state();
        if state.connectivity == Connectivity::Idle && !state.requested {
            state.requested = true;
            self.inner.wanted.notify_one();
        }
    }

    /// Takes it out of the channel: it takes no new calls and stops reconnecting; its
    /// connection closes once the calls in flight on it have finished (hyper closes an
    /// HTTP/2 connection gracefully once nothing can send on it and its streams are done).
    pub(crate) fn remove(&self) {
        self.inner.removed.cancel();
        self.inner.state().sender = None;
    }

    /// Its state as the policies see it: ready only when connected and, if checked,
    /// healthy; a connection found closed counts as not ready.
    pub(crate) fn pickable(&self) -> Pickable {
        let state = self.inner.state();
        match state.connectivity {
            Connectivity::Idle => Pickable::Idle,
            Connectivity::Connecting => Pickable::Connecting,
            Connectivity::TransientFailure => Pickable::Failed,
            Connectivity::Ready => match (&state.sender, state.health) {
                (Some(sender), Health::Serving | Health::Unchecked) if !sender.is_closed() => {
                    Pickable::Ready(Picked {
                        sender: sender.clone(),
                        origin: self.inner.origin.clone(),
                        proven: state.proven.clone(),
                    })
                }
                (_, Health::Unknown) => Pickable::Connecting,
                (_, Health::NotServing) => Pickable::Failed,
                // Closed under us: the connection task is about to say so.
                _ => Pickable::Connecting,
            },
        }
    }

    /// Why it is not ready, for an `UNAVAILABLE` status.
    pub(crate) fn last_error(&self) -> Option<String> {
        let state = self.inner.state();
        if state.connectivity == Connectivity::Ready && state.health == Health::NotServing {
            return Some(format!(
                "{} reports NOT_SERVING to health checks",
                self.inner.address
            ));
        }
        state
            .last_error
            .as_ref()
            .map(|error| format!("{}: {error}", self.inner.address))
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // Never held across code that can panic; recover rather than spread one.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state with `change`, then tells the channel.
    fn set(&self, environment: &Environment, change: impl FnOnce(&mut State)) {
        change(&mut self.state());
        (environment.on_change)();
    }
}

/// The subchannel's life: wait to be asked, connect (retrying with backoff), serve until
/// the connection ends, then idle again. Ends when it is removed or the channel dropped.
async fn run(inner: Arc<Inner>, environment: Environment) {
    loop {
        loop {
            let wanted = inner.wanted.notified();
            if inner.state().requested {
                break;
            }
            tokio::select! {
                () = inner.removed.cancelled() => return,
                () = wanted => {}
            }
        }
        if !connect_and_serve(&inner, &environment).await {
            return;
        }
    }
}

/// Connects, retrying with backoff, and serves on the connection until it ends. A
/// connection that ends before it answered anything counts as a failed attempt (a server
/// that accepts and closes at once must not be reconnected in a tight loop); one that
/// answered leaves the subchannel idle, its backoff forgotten. False when the subchannel
/// was removed meanwhile.
async fn connect_and_serve(inner: &Arc<Inner>, environment: &Environment) -> bool {
    let mut backoff = Backoff::new(environment.connector.backoff);
    loop {
        inner.set(environment, |state| {
            state.connectivity = Connectivity::Connecting
        });
        let attempt = environment
            .connector
            .connect(&inner.address, backoff.attempt_timeout());
        let failure = tokio::select! {
            () = inner.removed.cancelled() => return false,
            attempt = attempt => match attempt {
                Ok((sender, driver)) => match serve(inner, environment, sender, driver).await {
                    Served::Removed => return false,
                    Served::Answered => return true,
                    Served::Unproven(why) => why,
                },
                Err(failure) => failure.0,
            },
        };
        tracing::debug!(address = %inner.address, "cannot connect: {failure}");
        inner.set(environment, |state| {
            state.connectivity = Connectivity::TransientFailure;
            state.sender = None;
            state.last_error = Some(failure);
        });
        environment.resolve_now.request();
        let due = backoff.after_failure();
        tokio::select! {
            () = inner.removed.cancelled() => return false,
            () = tokio::time::sleep_until(due) => {}
        }
    }
}

/// How a connection's service ended.
enum Served {
    Removed,
    /// It answered calls, then ended: the subchannel is idle.
    Answered,
    /// It ended before answering anything, for this reason.
    Unproven(String),
}

/// Serves calls (and the health check) on a new connection until it ends.
async fn serve(
    inner: &Arc<Inner>,
    environment: &Environment,
    sender: Sender,
    driver: super::connect::Driver,
) -> Served {
    let checking = environment.health_service.clone();
    let proven = Arc::new(AtomicBool::new(false));
    inner.set(environment, |state| {
        state.connectivity = Connectivity::Ready;
        state.sender = Some(sender.clone());
        state.proven = proven.clone();
        state.health = if checking.is_some() {
            Health::Unknown
        } else {
            Health::Unchecked
        };
    });
    tracing::debug!(address = %inner.address, "connected");
    let health_checks = inner.removed.child_token();
    #[cfg(feature = "health")]
    if let Some(service) = checking {
        let (subchannel, environment, proven) =
            (inner.clone(), environment.clone(), proven.clone());
        tokio::spawn(super::health::watch(
            sender.clone(),
            inner.origin.clone(),
            service,
            environment.connector.backoff,
            health_checks.clone(),
            move |health| {
                if matches!(health, Health::Serving | Health::NotServing) {
                    proven.store(true, Ordering::Relaxed);
                }
                subchannel.set(&environment, |state| state.health = health);
            },
        ));
    }
    drop(sender);
    let ended = tokio::select! {
        () = inner.removed.cancelled() => return Served::Removed,
        ended = driver => ended,
    };
    health_checks.cancel();
    let why = match &ended {
        Ok(()) => "the server closed the connection (GOAWAY)".to_owned(),
        Err(error) => {
            if pinged_too_often(error) {
                environment.connector.calm_down();
            }
            format!("the connection failed: {error}")
        }
    };
    tracing::debug!(address = %inner.address, "{why}");
    if !proven.load(Ordering::Relaxed) {
        return Served::Unproven(format!("{why}, before answering anything"));
    }
    inner.set(environment, |state| {
        state.connectivity = Connectivity::Idle;
        state.sender = None;
        state.requested = false;
        state.last_error = Some(why);
    });
    environment.resolve_now.request();
    Served::Answered
}
