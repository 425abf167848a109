//! What the HTTP/2 test files share: a server on 127.0.0.1 or in this process, bounded
//! waits, message makers.

#![allow(dead_code)] // each test file uses its own subset

pub mod dns;
pub mod greeter;
pub mod hostile_service;
pub mod http1;
pub mod raw;
pub mod replica;
pub mod scripted;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;

use rgrpc::server::InProcessServer;
use rgrpc::{Code, ResponseStream, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Every wait in these tests is bounded by this, so a hang fails instead of stalling CI.
pub const LIMIT: Duration = Duration::from_secs(20);

pub fn reply(text: impl Into<String>) -> HelloResponse {
    HelloResponse { reply: text.into() }
}

pub fn greeting(text: impl Into<String>) -> HelloRequest {
    HelloRequest {
        greeting: text.into(),
    }
}

/// The connection a test's servers and clients speak HTTP/2 over.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    /// A TCP connection to an OS-chosen port of 127.0.0.1.
    Tcp,
    /// In-memory pipes inside this process: [`rgrpc::server::InProcessServer`].
    InProcess,
}

/// A server, stopped when dropped: a TCP server at once (its task aborted), an in-process one
/// as [`InProcessServer`]'s drop does (no new connections; calls in flight finish).
///
/// `A` is what is known of its address: [`Running::start`] serves on an OS-chosen port of
/// 127.0.0.1 and has a `SocketAddr`; [`Running::start_on`] serves on either [`Transport`],
/// and an in-process server has no address (`None`).
pub struct Running<A = SocketAddr> {
    pub addr: A,
    serving: Serving,
}

/// What keeps a server running, by transport; each stops its server when dropped.
enum Serving {
    Tcp(TcpServer),
    InProcess(InProcessServer),
}

impl Running {
    /// A server on an OS-chosen port of 127.0.0.1.
    pub async fn start(service: impl HelloService) -> Self {
        Self::serve(rgrpc::Server::builder().add_service(HelloServiceServer::new(service))).await
    }

    /// `router` (a server configured by the test, its services added) on an OS-chosen port
    /// of 127.0.0.1.
    pub async fn serve(router: rgrpc::server::Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
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
            addr,
            serving: Serving::Tcp(TcpServer {
                addr,
                stop: Some(stop),
                task: Some(task),
            }),
        }
    }
}

impl Running<Option<SocketAddr>> {
    /// A server on `transport`: [`Running::start`]'s for TCP, else one in this process.
    pub async fn start_on(transport: Transport, service: impl HelloService) -> Self {
        match transport {
            Transport::Tcp => {
                let Running { addr, serving } = Running::start(service).await;
                Self {
                    addr: Some(addr),
                    serving,
                }
            }
            Transport::InProcess => Self {
                addr: None,
                serving: Serving::InProcess(
                    rgrpc::Server::builder()
                        .add_service(HelloServiceServer::new(service))
                        .serve_in_process(),
                ),
            },
        }
    }
}

impl<A> Running<A> {
    /// A client of this server: over a new TCP connection, or on the in-process server's
    /// channel, which all its clients share.
    pub async fn client(&self) -> HelloServiceClient {
        let channel = match &self.serving {
            Serving::Tcp(server) => rgrpc::Channel::connect(format!("http://{}", server.addr))
                .await
                .unwrap(),
            Serving::InProcess(server) => server.channel(),
        };
        HelloServiceClient::new(channel)
    }

    /// Stops accepting, lets calls in flight finish, and waits for the server to end.
    pub async fn shut_down(self) {
        match self.serving {
            Serving::Tcp(mut server) => {
                if let Some(stop) = server.stop.take() {
                    let _ = stop.send(());
                }
                if let Some(task) = server.task.take() {
                    bounded("server shutdown", task).await.unwrap();
                }
            }
            Serving::InProcess(server) => {
                bounded("server shutdown", server.shutdown()).await.unwrap();
            }
        }
    }
}

/// A server task serving a TCP listener; dropping it stops the server at once.
struct TcpServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The text of the next reply on `replies`, which must be a message (not the end, not an
/// error), within the time bound.
pub async fn next_reply(what: &str, replies: &mut ResponseStream<HelloResponse>) -> String {
    bounded(what, replies.message())
        .await
        .unwrap_or_else(|status| panic!("{what}: expected a reply, got {status:?}"))
        .unwrap_or_else(|| panic!("{what}: expected a reply, the stream ended"))
        .reply
}

pub async fn bounded<T>(what: &str, future: impl IntoFuture<Output = T>) -> T {
    tokio::time::timeout(LIMIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

/// Asserts that `status` has `code` and that its message says `words`.
#[track_caller]
pub fn assert_status(status: &Status, code: Code, words: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().contains(words),
        "the message should say {words:?}: {status:?}"
    );
}

/// Awaits `call`, which must fail within the bound, and asserts its status as
/// [`assert_status`] does; returns the status for further checks.
pub async fn assert_fails<T: std::fmt::Debug>(
    what: &str,
    call: impl IntoFuture<Output = Result<T, Status>>,
    code: Code,
    words: &str,
) -> Status {
    let status = match bounded(what, call).await {
        Ok(value) => panic!("{what} must fail with {code:?}, got {value:?}"),
        Err(status) => status,
    };
    assert_status(&status, code, words);
    status
}
