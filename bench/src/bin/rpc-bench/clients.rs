//! The two clients under test, behind one interface: rgrpc's generated client and tonic's
//! (tonic-prost-build), each calling `hello.HelloService` the way its own users would, over
//! one HTTP/2 connection (tonic's `Channel`, which rgrpc's client also runs on).

use std::time::{Duration, Instant};

use rgrpc_tests::hello as rg;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::budget::Budget;
use crate::proto::tonic_hello as th;

/// Which client a load generator calls with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientStack {
    Rgrpc,
    Tonic,
}

impl ClientStack {
    /// Every client, in the order of the tables' columns.
    pub const ALL: [ClientStack; 2] = [ClientStack::Rgrpc, ClientStack::Tonic];

    pub fn name(self) -> &'static str {
        match self {
            ClientStack::Rgrpc => "rgrpc",
            ClientStack::Tonic => "tonic",
        }
    }

    pub fn parse(text: &str) -> Result<ClientStack, String> {
        ClientStack::ALL
            .into_iter()
            .find(|stack| stack.name() == text)
            .ok_or_else(|| format!("unknown client {text:?} (rgrpc or tonic)"))
    }
}

/// A connected client of either stack; clones share the connection.
#[derive(Clone)]
pub enum Client {
    Rgrpc(rg::hello_service_client::HelloServiceClient),
    Tonic(th::hello_service_client::HelloServiceClient<tonic::transport::Channel>),
}

/// One HTTP/2 connection to `uri`, set up alike for both clients.
pub async fn channel(uri: String) -> Result<tonic::transport::Channel, String> {
    tonic::transport::Endpoint::from_shared(uri)
        .map_err(|err| err.to_string())?
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|err| format!("cannot connect: {err}"))
}

fn greeting(text: String) -> rg::HelloRequest {
    rg::HelloRequest { greeting: text }
}

fn tonic_greeting(text: String) -> th::HelloRequest {
    th::HelloRequest { greeting: text }
}

impl Client {
    pub async fn connect(stack: ClientStack, uri: String) -> Result<Client, String> {
        let channel = channel(uri).await?;
        Ok(match stack {
            ClientStack::Rgrpc => {
                Client::Rgrpc(rg::hello_service_client::HelloServiceClient::from_client(
                    crate::middleware::Middleware::from_env()?
                        .client(rgrpc::client::Client::new(rgrpc::Channel::from(channel))),
                ))
            }
            ClientStack::Tonic => {
                Client::Tonic(th::hello_service_client::HelloServiceClient::new(channel))
            }
        })
    }

    /// One unary echo; the reply's length.
    pub async fn unary(&self, text: String) -> Result<usize, String> {
        match self {
            Client::Rgrpc(client) => client
                .say_hello(greeting(text))
                .await
                .map(|r| r.into_inner().reply.len())
                .map_err(|s| s.to_string()),
            Client::Tonic(client) => client
                .clone()
                .say_hello(tonic_greeting(text))
                .await
                .map(|r| r.into_inner().reply.len())
                .map_err(|s| s.to_string()),
        }
    }

    /// One server-streaming call of `count` replies; how many arrived.
    pub async fn server_streaming(&self, count: usize) -> Result<usize, String> {
        let mut received = 0;
        match self {
            Client::Rgrpc(client) => {
                let mut replies = client
                    .lots_of_replies(greeting(count.to_string()))
                    .await
                    .map_err(|s| s.to_string())?;
                while replies
                    .message()
                    .await
                    .map_err(|s| s.to_string())?
                    .is_some()
                {
                    received += 1;
                }
            }
            Client::Tonic(client) => {
                let mut replies = client
                    .clone()
                    .lots_of_replies(tonic_greeting(count.to_string()))
                    .await
                    .map_err(|s| s.to_string())?
                    .into_inner();
                while replies
                    .message()
                    .await
                    .map_err(|s| s.to_string())?
                    .is_some()
                {
                    received += 1;
                }
            }
        }
        Ok(received)
    }

    /// One client-streaming call of `count` requests, checked against the server's count.
    pub async fn client_streaming(&self, count: usize) -> Result<(), String> {
        let answer = match self {
            Client::Rgrpc(client) => {
                let requests = tokio_stream::iter((0..count).map(|_| greeting("g".to_owned())));
                client
                    .lots_of_greetings(requests)
                    .await
                    .map(|r| r.into_inner().reply)
                    .map_err(|s| s.to_string())?
            }
            Client::Tonic(client) => {
                let requests =
                    tokio_stream::iter((0..count).map(|_| tonic_greeting("g".to_owned())));
                client
                    .clone()
                    .lots_of_greetings(requests)
                    .await
                    .map(|r| r.into_inner().reply)
                    .map_err(|s| s.to_string())?
            }
        };
        if answer == count.to_string() {
            Ok(())
        } else {
            Err(format!("the server counted {answer}, not {count}"))
        }
    }

    /// Ping-pong on one bidi call while `budget` lasts (one round trip per operation),
    /// recording each round trip's time.
    pub async fn ping_pong(
        &self,
        budget: &Budget,
        round_trips: &mut Vec<Duration>,
    ) -> Result<(), String> {
        // A round trip at a time: the channel never holds more than the one in flight.
        match self {
            Client::Rgrpc(client) => {
                let (sender, receiver) = mpsc::channel(1);
                let mut replies = client
                    .bidi_hello(ReceiverStream::new(receiver))
                    .await
                    .map_err(|s| s.to_string())?;
                while budget.take() {
                    let started = Instant::now();
                    sender
                        .send(greeting("p".to_owned()))
                        .await
                        .map_err(|_| "the call ended")?;
                    replies
                        .message()
                        .await
                        .map_err(|s| s.to_string())?
                        .ok_or("no pong")?;
                    round_trips.push(started.elapsed());
                }
            }
            Client::Tonic(client) => {
                let (sender, receiver) = mpsc::channel(1);
                let mut replies = client
                    .clone()
                    .bidi_hello(ReceiverStream::new(receiver))
                    .await
                    .map_err(|s| s.to_string())?
                    .into_inner();
                while budget.take() {
                    let started = Instant::now();
                    sender
                        .send(tonic_greeting("p".to_owned()))
                        .await
                        .map_err(|_| "the call ended")?;
                    replies
                        .message()
                        .await
                        .map_err(|s| s.to_string())?
                        .ok_or("no pong")?;
                    round_trips.push(started.elapsed());
                }
            }
        }
        Ok(())
    }
}
