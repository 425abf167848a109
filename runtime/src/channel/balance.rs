//! A channel over several replicas of a server: each call goes to the next replica that is
//! reachable (round robin), and a replica whose connection fails is skipped until it
//! accepts connections again.
//!
//! tonic's own `Channel::balance_list` keeps picking a replica that is gone: its
//! connections retry inside each call, so every call sent there fails, for as long as the
//! replica is down. Here a connection failure takes the replica out at once, so the only
//! calls lost are those already sent to it; a task brings it back once it connects again.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::body::Body;
use tonic::transport::Endpoint;
use tower::ServiceExt;

use crate::call::status::is_connection_failure;

/// The pause before the second attempt to reconnect a replica (the first is at once); it
/// doubles after each failure, up to [`LONGEST_RETRY_PAUSE`].
const FIRST_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between two attempts to reconnect a replica.
const LONGEST_RETRY_PAUSE: Duration = Duration::from_secs(5);

pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(super) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<Body>, BoxError>> + Send>>;

/// The replicas behind a balanced channel; clones share them.
#[derive(Clone)]
pub(super) struct Balanced {
    shared: Arc<Shared>,
}

struct Shared {
    replicas: Box<[Replica]>,
    /// Where the next round-robin pick starts.
    next: AtomicUsize,
    /// Stops the reconnecting tasks once the last handle to the channel is gone.
    closed: CancellationToken,
}

struct Replica {
    endpoint: Endpoint,
    state: Mutex<State>,
}

enum State {
    /// Taking calls over `channel`, its `generation`-th connection.
    Up {
        channel: tonic::transport::Channel,
        generation: u64,
    },
    /// Its connection failed; a task is reconnecting it.
    Down,
}

impl Balanced {
    /// Balances over `endpoints`, each connecting on its first call.
    pub(super) fn new(endpoints: Vec<Endpoint>) -> Self {
        let replicas = endpoints
            .into_iter()
            .map(|endpoint| Replica {
                state: Mutex::new(State::Up {
                    channel: endpoint.connect_lazy(),
                    generation: 0,
                }),
                endpoint,
            })
            .collect();
        Self {
            shared: Arc::new(Shared {
                replicas,
                next: AtomicUsize::new(0),
                closed: CancellationToken::new(),
            }),
        }
    }

    /// Sends `request` to the next reachable replica; with none reachable, fails at once
    /// with `UNAVAILABLE` rather than waiting.
    pub(super) fn call(&self, request: http::Request<Body>) -> ResponseFuture {
        let Some((index, generation, channel)) = self.shared.pick() else {
            let status = Status::unavailable(format!(
                "none of the {} replicas is reachable; reconnecting",
                self.shared.replicas.len()
            ));
            return Box::pin(std::future::ready(Err(status.into())));
        };
        let shared = self.shared.clone();
        Box::pin(async move {
            let answer = channel.oneshot(request).await;
            if let Err(error) = &answer
                && is_connection_failure(error)
            {
                shared.take_out(index, generation);
            }
            answer.map_err(Into::into)
        })
    }
}

impl Shared {
    /// The next replica (round robin over those up): its index, connection generation and
    /// channel. Counting only the replicas up keeps the turns even while one is down,
    /// instead of giving its turns to the replica after it.
    fn pick(&self) -> Option<(usize, u64, tonic::transport::Channel)> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let up = self
            .replicas
            .iter()
            .filter(|replica| replica.is_up())
            .count();
        let chosen = self
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, replica)| replica.is_up())
            .nth(turn.checked_rem(up)?)
            .and_then(|(index, replica)| Some((index, replica.connection()?)));
        // The chosen one may have gone down meanwhile: then any replica still up will do.
        let (index, (generation, channel)) = chosen.or_else(|| {
            self.replicas
                .iter()
                .enumerate()
                .find_map(|(index, replica)| Some((index, replica.connection()?)))
        })?;
        Some((index, generation, channel))
    }

    /// Takes replica `index` out after its `generation`-th connection failed, and starts
    /// reconnecting it; a failure of an older connection is ignored.
    fn take_out(self: &Arc<Self>, index: usize, failed: u64) {
        let replica = &self.replicas[index];
        let mut state = replica.state();
        if !matches!(*state, State::Up { generation, .. } if generation == failed) {
            return;
        }
        *state = State::Down;
        tracing::debug!(uri = %replica.endpoint.uri(), "replica unreachable; reconnecting");
        tokio::spawn(reconnect(
            Arc::downgrade(self),
            index,
            replica.endpoint.clone(),
            self.closed.clone(),
            failed + 1,
        ));
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

impl Replica {
    fn is_up(&self) -> bool {
        matches!(*self.state(), State::Up { .. })
    }

    /// The replica's connection generation and channel, if it is up.
    fn connection(&self) -> Option<(u64, tonic::transport::Channel)> {
        match &*self.state() {
            State::Up {
                channel,
                generation,
            } => Some((*generation, channel.clone())),
            State::Down => None,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The lock is never held across code that can panic; recover rather than spread one.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Connects to replica `index` again, with growing pauses between attempts, and puts it
/// back into the rotation once connected. Ends early when the channel is dropped.
async fn reconnect(
    shared: Weak<Shared>,
    index: usize,
    endpoint: Endpoint,
    closed: CancellationToken,
    generation: u64,
) {
    let mut pause = FIRST_RETRY_PAUSE;
    loop {
        let connected = tokio::select! {
            () = closed.cancelled() => return,
            connected = endpoint.connect() => connected,
        };
        if let Ok(channel) = connected {
            if let Some(shared) = shared.upgrade() {
                *shared.replicas[index].state() = State::Up {
                    channel,
                    generation,
                };
                tracing::debug!(uri = %endpoint.uri(), "replica reconnected");
            }
            return;
        }
        tokio::select! {
            () = closed.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(LONGEST_RETRY_PAUSE);
    }
}

impl fmt::Debug for Balanced {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut replicas = f.debug_map();
        for replica in &self.shared.replicas {
            let up = matches!(*replica.state(), State::Up { .. });
            replicas.entry(replica.endpoint.uri(), &if up { "up" } else { "down" });
        }
        replicas.finish()
    }
}
