//! Serving without a socket: real HTTP/2 over in-memory pipes, inside one process.
//!
//! The client and server speak exactly the protocol they speak over TCP — the same hyper,
//! h2 and rgrpc code on both ends — so metadata, deadlines, cancellation and status behave
//! identically; only the bytes never leave memory. Unit tests get a server without ports.

use std::io;

use hyper_util::rt::TokioIo;
use tokio::io::DuplexStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::router::Router;
use super::transport::ServeError;
use super::transport::listen::{self, PipeAccept};
use crate::channel::Channel;

/// Bytes each direction of an in-memory connection buffers before the writer waits: room
/// for HTTP/2's default windows, so flow control, not the pipe, sets the pace.
const PIPE_CAPACITY: usize = 256 * 1024;

/// How many new connections may wait for the server to accept them.
const ACCEPT_QUEUE: usize = 16;

/// A server running in this process, reachable through [`channel`](Self::channel).
///
/// Dropping it (or [`shutdown`](Self::shutdown)) stops the server from accepting new
/// connections; calls already in flight finish.
#[derive(Debug)]
pub struct InProcessServer {
    channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl InProcessServer {
    /// A channel to this server; give it to any generated client. Cheap to clone.
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Stops accepting connections and waits until the server has finished: its calls in
    /// flight too, or until the [`drain_timeout`](super::Server::drain_timeout) cancelled
    /// those left. Fails when the server could not serve at all (a service added twice).
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Router {
    /// Serves these services inside this process, on the current tokio runtime.
    ///
    /// ```
    /// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
    /// # use doctest::{block_on, hello, MyHello};
    /// use hello::hello_service_client::HelloServiceClient;
    /// use hello::hello_service_server::HelloServiceServer;
    /// use hello::HelloRequest;
    ///
    /// # block_on(async {
    /// let server = rgrpc::Server::builder()
    ///     .add_service(HelloServiceServer::new(MyHello))
    ///     .serve_in_process();
    /// let client = HelloServiceClient::new(server.channel()); // no port, no network
    ///
    /// let response = client.say_hello(HelloRequest { greeting: "test".into() }).await?;
    /// assert_eq!(response.into_inner().reply, "Hello, test!");
    /// server.shutdown().await?;
    /// # Ok(()) }).unwrap();
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    pub fn serve_in_process(self) -> InProcessServer {
        let (connections, accepted) = mpsc::channel::<DuplexStream>(ACCEPT_QUEUE);
        let (stop, stopped) = oneshot::channel::<()>();
        // In memory there is nothing to encrypt: TLS, if set, is for sockets only.
        let served = self.into_connections(false);
        let task = tokio::spawn(async move {
            let stopped = async {
                let _ = stopped.await;
            };
            listen::serve(PipeAccept(accepted), served?, stopped).await;
            Ok(())
        });
        let connect = tower::service_fn(move |_: http::Uri| {
            let connections = connections.clone();
            async move {
                let (client, server) = tokio::io::duplex(PIPE_CAPACITY);
                connections.send(server).await.map_err(|_| {
                    io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "the in-process server has shut down",
                    )
                })?;
                Ok::<_, io::Error>(TokioIo::new(client))
            }
        });
        // The URI is only a label here: the connector ignores it.
        let channel = tonic::transport::Endpoint::from_static("http://in-process.rgrpc")
            .http2_max_concurrent_reset_streams(crate::channel::RESET_STREAMS_REMEMBERED)
            .connect_with_connector_lazy(connect);
        InProcessServer {
            channel: Channel::from(channel),
            stop: Some(stop),
            task: Some(task),
        }
    }
}
