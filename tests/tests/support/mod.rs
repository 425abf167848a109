//! What the HTTP/2 test files share: a server on 127.0.0.1, bounded waits, message makers.

#![allow(dead_code)] // each test file uses its own subset

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::time::Duration;

use rgrpc::ResponseStream;
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

/// A server on an OS-chosen port of 127.0.0.1, shut down when dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    pub async fn start(service: impl HelloService) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let router = rgrpc::Server::builder().add_service(HelloServiceServer::new(service));
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
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn client(&self) -> HelloServiceClient {
        let channel = rgrpc::Channel::connect(format!("http://{}", self.addr))
            .await
            .unwrap();
        HelloServiceClient::new(channel)
    }

    /// Stops accepting, lets calls in flight finish, and waits for the server to end.
    pub async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            bounded("server shutdown", task).await.unwrap();
        }
    }
}

impl Drop for Running {
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
