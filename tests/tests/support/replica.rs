//! Replicas of the hello service for the load-balancing tests: each answers with its name,
//! counts the calls it served, can hold a call until told, and reports health.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rgrpc::health::HealthReporter;
use rgrpc::{Context, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::{bounded, greeting, reply};

/// The greeting a replica holds until [`Replica::release`].
pub const HOLD: &str = "hold";

/// One replica, serving until shut down or dropped (dropped: stopped at once).
pub struct Replica {
    pub name: &'static str,
    pub addr: SocketAddr,
    served: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
    release: watch::Sender<bool>,
    pub health: HealthReporter,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Replica {
    /// `name` serving on `addr` (which must be free), with the health service.
    pub async fn start(name: &'static str, addr: SocketAddr) -> Self {
        Self::start_with(name, addr, rgrpc::Server::builder()).await
    }

    /// As [`Replica::start`], with the server configured by the test.
    pub async fn start_with(name: &'static str, addr: SocketAddr, server: rgrpc::Server) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let health = server.health_reporter();
        let served = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(AtomicUsize::new(0));
        let (release, released) = watch::channel(false);
        let router = server.add_service(HelloServiceServer::new(Named {
            name,
            served: served.clone(),
            held: held.clone(),
            released,
        }));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            router
                .serve_with_shutdown(listener, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            name,
            addr,
            served,
            held,
            release,
            health,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// How many calls it has answered or is answering.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// How many [`HOLD`] calls it is holding now.
    pub fn holding(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    /// Lets every held call answer.
    pub fn release(&self) {
        self.release.send_replace(true);
    }

    /// Stops accepting, sends GOAWAY, and waits until the calls in flight are done.
    pub async fn shut_down(mut self) {
        self.release();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            bounded("a replica's shutdown", task).await.unwrap();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct Named {
    name: &'static str,
    served: Arc<AtomicUsize>,
    held: Arc<AtomicUsize>,
    released: watch::Receiver<bool>,
}

impl HelloService for Named {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        self.served.fetch_add(1, Ordering::SeqCst);
        if request.greeting == HOLD {
            self.held.fetch_add(1, Ordering::SeqCst);
            let mut released = self.released.clone();
            let _ = released.wait_for(|released| *released).await;
            self.held.fetch_sub(1, Ordering::SeqCst);
        }
        Ok(reply(self.name))
    }
}

/// Which replica answered a plain call (or the status it failed with).
pub async fn who_answers(client: &HelloServiceClient) -> Result<String, Status> {
    bounded("a call", client.say_hello(greeting("who?")))
        .await
        .map(|response| response.into_inner().reply)
}

/// Calls until `done` holds for the answers so far (each a replica's name), bounded in
/// count; returns how many calls it took. Failed calls (UNAVAILABLE while connections
/// change) are retried after a short pause.
pub async fn call_until(
    what: &str,
    client: &HelloServiceClient,
    mut done: impl FnMut(&str) -> bool,
) -> usize {
    for calls in 1..=2000 {
        match who_answers(client).await {
            Ok(name) if done(&name) => return calls,
            Ok(_) => {}
            Err(status) => {
                assert_eq!(
                    status.code(),
                    rgrpc::Code::Unavailable,
                    "{what}: {status:?}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
    panic!("{what}: not reached in 2000 calls");
}

/// A free port on every loopback address: bound on 127.0.0.1 and released, so replicas on
/// 127.0.0.2, 127.0.0.3… can share it (DNS gives addresses, the target gives the port).
pub async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `127.0.0.<last>:<port>`.
pub fn loopback(last: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, last], port))
}
