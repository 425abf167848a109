//! The two stacks under test, behind one interface: rgrpc's generated code and tonic's
//! (tonic-prost-build), serving and calling the same `hello.HelloService`. Each side is
//! written the way its own users would write it.

use std::pin::Pin;
use std::time::{Duration, Instant};

use rgrpc::{Context, RequestStream, ResponseSink};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};

use rgrpc_tests::hello as rg;

/// tonic's generated code for the same proto.
pub mod tonic_hello {
    tonic::include_proto!("hello");
}

/// Which stack a process serves or calls with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stack {
    Rgrpc,
    Tonic,
}

impl Stack {
    pub fn name(self) -> &'static str {
        match self {
            Stack::Rgrpc => "rgrpc",
            Stack::Tonic => "tonic",
        }
    }

    pub fn parse(text: &str) -> Result<Stack, String> {
        match text {
            "rgrpc" => Ok(Stack::Rgrpc),
            "tonic" => Ok(Stack::Tonic),
            other => Err(format!("unknown stack {other:?} (rgrpc or tonic)")),
        }
    }
}

/// The benchmark service, rgrpc's way: echo, N replies, count, echo per message.
struct RgrpcHello;

impl rg::hello_service_server::HelloService for RgrpcHello {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: rg::HelloRequest,
    ) -> Result<rg::HelloResponse, rgrpc::Status> {
        Ok(rg::HelloResponse {
            reply: request.greeting,
        })
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        request: rg::HelloRequest,
        responses: ResponseSink<rg::HelloResponse>,
    ) -> Result<(), rgrpc::Status> {
        let count: usize = request.greeting.parse().unwrap_or(0);
        for _ in 0..count {
            responses
                .send(rg::HelloResponse {
                    reply: "r".to_owned(),
                })
                .await?;
        }
        Ok(())
    }

    async fn lots_of_greetings(
        &self,
        _ctx: Context,
        mut requests: RequestStream<rg::HelloRequest>,
    ) -> Result<rg::HelloResponse, rgrpc::Status> {
        let mut count = 0usize;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Ok(rg::HelloResponse {
            reply: count.to_string(),
        })
    }

    async fn bidi_hello(
        &self,
        _ctx: Context,
        mut requests: RequestStream<rg::HelloRequest>,
        responses: ResponseSink<rg::HelloResponse>,
    ) -> Result<(), rgrpc::Status> {
        while let Some(request) = requests.message().await? {
            responses
                .send(rg::HelloResponse {
                    reply: request.greeting,
                })
                .await?;
        }
        Ok(())
    }
}

/// The same service, tonic's way: `async_trait`, associated stream types.
struct TonicHello;

type TonicStream =
    Pin<Box<dyn Stream<Item = Result<tonic_hello::HelloResponse, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl tonic_hello::hello_service_server::HelloService for TonicHello {
    async fn say_hello(
        &self,
        request: tonic::Request<tonic_hello::HelloRequest>,
    ) -> Result<tonic::Response<tonic_hello::HelloResponse>, tonic::Status> {
        Ok(tonic::Response::new(tonic_hello::HelloResponse {
            reply: request.into_inner().greeting,
        }))
    }

    type LotsOfRepliesStream = TonicStream;

    async fn lots_of_replies(
        &self,
        request: tonic::Request<tonic_hello::HelloRequest>,
    ) -> Result<tonic::Response<Self::LotsOfRepliesStream>, tonic::Status> {
        let count: usize = request.into_inner().greeting.parse().unwrap_or(0);
        let replies = tokio_stream::iter((0..count).map(|_| {
            Ok(tonic_hello::HelloResponse {
                reply: "r".to_owned(),
            })
        }));
        Ok(tonic::Response::new(Box::pin(replies)))
    }

    async fn lots_of_greetings(
        &self,
        request: tonic::Request<tonic::Streaming<tonic_hello::HelloRequest>>,
    ) -> Result<tonic::Response<tonic_hello::HelloResponse>, tonic::Status> {
        let mut requests = request.into_inner();
        let mut count = 0usize;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Ok(tonic::Response::new(tonic_hello::HelloResponse {
            reply: count.to_string(),
        }))
    }

    type BidiHelloStream = TonicStream;

    async fn bidi_hello(
        &self,
        request: tonic::Request<tonic::Streaming<tonic_hello::HelloRequest>>,
    ) -> Result<tonic::Response<Self::BidiHelloStream>, tonic::Status> {
        let echoes = request.into_inner().map(|request| {
            request.map(|request| tonic_hello::HelloResponse {
                reply: request.greeting,
            })
        });
        Ok(tonic::Response::new(Box::pin(echoes)))
    }
}

/// Serves `stack`'s implementation on `listener` until the process is stopped. Both stacks
/// use tonic's server transport with the same settings.
pub async fn serve(stack: Stack, listener: TcpListener) -> Result<(), String> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    let served = match stack {
        Stack::Rgrpc => {
            tonic::transport::Server::builder()
                .add_service(rg::hello_service_server::HelloServiceServer::new(
                    RgrpcHello,
                ))
                .serve_with_incoming(incoming)
                .await
        }
        Stack::Tonic => {
            tonic::transport::Server::builder()
                .add_service(tonic_hello::hello_service_server::HelloServiceServer::new(
                    TonicHello,
                ))
                .serve_with_incoming(incoming)
                .await
        }
    };
    served.map_err(|err| err.to_string())
}

/// A connected client of either stack.
#[derive(Clone)]
pub enum Client {
    Rgrpc(rg::hello_service_client::HelloServiceClient),
    Tonic(tonic_hello::hello_service_client::HelloServiceClient<tonic::transport::Channel>),
}

fn greeting(text: String) -> rg::HelloRequest {
    rg::HelloRequest { greeting: text }
}

fn tonic_greeting(text: String) -> tonic_hello::HelloRequest {
    tonic_hello::HelloRequest { greeting: text }
}

impl Client {
    pub async fn connect(stack: Stack, uri: String) -> Result<Client, String> {
        let channel = tonic::transport::Endpoint::from_shared(uri)
            .map_err(|err| err.to_string())?
            .tcp_nodelay(true)
            .connect()
            .await
            .map_err(|err| format!("cannot connect: {err}"))?;
        Ok(match stack {
            Stack::Rgrpc => Client::Rgrpc(rg::hello_service_client::HelloServiceClient::new(
                rgrpc::Channel::from(channel),
            )),
            Stack::Tonic => Client::Tonic(
                tonic_hello::hello_service_client::HelloServiceClient::new(channel),
            ),
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

    /// One client-streaming call of `count` requests.
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

    /// Ping-pong on one bidi call until `until`, recording each round trip.
    pub async fn ping_pong(
        &self,
        until: Instant,
        round_trips: &mut Vec<Duration>,
    ) -> Result<(), String> {
        match self {
            Client::Rgrpc(client) => {
                let (sender, receiver) = mpsc::channel(1);
                let mut replies = client
                    .bidi_hello(ReceiverStream::new(receiver))
                    .await
                    .map_err(|s| s.to_string())?;
                while Instant::now() < until {
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
                while Instant::now() < until {
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
