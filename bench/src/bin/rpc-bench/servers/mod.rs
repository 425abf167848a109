//! The three servers under test, each serving `hello.HelloService` the way its own users
//! would write it (its own generated code, its own server, its own defaults), on a listener
//! it is given, until told to stop.
//!
//! Every handler does the same work: `SayHello` echoes, `LotsOfReplies` sends as many
//! replies as the request's greeting says, `LotsOfGreetings` counts, `BidiHello` echoes each
//! message.

mod connect_hello;
mod rgrpc_hello;
mod tonic_hello;

use std::future::Future;

use tokio::net::TcpListener;

/// Which server a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ServerStack {
    Rgrpc,
    Tonic,
    Connect,
}

impl ServerStack {
    /// Every server, in the order of the tables' columns.
    pub const ALL: [ServerStack; 3] =
        [ServerStack::Rgrpc, ServerStack::Tonic, ServerStack::Connect];

    pub fn name(self) -> &'static str {
        match self {
            ServerStack::Rgrpc => "rgrpc",
            ServerStack::Tonic => "tonic",
            ServerStack::Connect => "connectrpc",
        }
    }

    pub fn parse(text: &str) -> Result<ServerStack, String> {
        ServerStack::ALL
            .into_iter()
            .find(|stack| stack.name() == text)
            .ok_or_else(|| format!("unknown server {text:?} (rgrpc, tonic or connectrpc)"))
    }
}

/// Serves `stack` on `listener` until `shutdown` completes, then lets calls in flight
/// finish.
pub async fn serve(
    stack: ServerStack,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    match stack {
        ServerStack::Rgrpc => rgrpc_hello::serve(listener, shutdown).await,
        ServerStack::Tonic => tonic_hello::serve(listener, shutdown).await,
        ServerStack::Connect => connect_hello::serve(listener, shutdown).await,
    }
}
