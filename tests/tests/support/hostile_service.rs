//! The service the hostile-peer and size-limit tests attack, and the server that runs it.
//!
//! Its handlers report what they saw (counts in [`Observed`], events on a channel), so a
//! test asserts both what the peer received and what the handler was told.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rgrpc::stream::StreamExt;
use rgrpc::{Code, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use tokio::sync::mpsc;

use super::{LIMIT, Running, bounded, greeting, reply};

pub const SAY_HELLO: &str = "/hello.HelloService/SayHello";
pub const LOTS_OF_REPLIES: &str = "/hello.HelloService/LotsOfReplies";
pub const LOTS_OF_GREETINGS: &str = "/hello.HelloService/LotsOfGreetings";

/// What the flood handler tries to send to a client that never reads.
pub const FLOOD_ATTEMPTS: usize = 10_000;
/// The size of each flood message's text.
pub const FLOOD_MESSAGE_BYTES: usize = 1024;

// ---------------------------------------------------------------------------------------
// The service under attack, and what it reports.

/// Counts and events from the handlers, for the tests to wait on.
#[derive(Default)]
pub struct Observed {
    pub unary_calls: AtomicUsize,
    pub flood_started: AtomicUsize,
    pub flood_sent: AtomicUsize,
    pub flood_finished: AtomicUsize,
}

#[derive(Clone)]
pub struct Hostile {
    seen: Arc<Observed>,
    events: mpsc::UnboundedSender<&'static str>,
}

pub fn hostile() -> (
    Hostile,
    Arc<Observed>,
    mpsc::UnboundedReceiver<&'static str>,
) {
    let seen = Arc::new(Observed::default());
    let (events, received) = mpsc::unbounded_channel();
    let service = Hostile {
        seen: seen.clone(),
        events,
    };
    (service, seen, received)
}

impl Hostile {
    /// Reports `event` once the call's context is cancelled: the handler's own future is
    /// dropped with the call, so a task it spawned is what can observe that.
    fn report_cancellation(&self, ctx: &Context, event: &'static str) {
        let ctx = ctx.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            if tokio::time::timeout(LIMIT, ctx.cancelled()).await.is_ok() {
                let _ = events.send(event);
            }
        });
    }
}

/// `"big:N"` asks for a reply of N bytes.
fn requested_size(greeting: &str) -> Option<usize> {
    greeting.strip_prefix("big:")?.parse().ok()
}

impl HelloService for Hostile {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        self.seen.unary_calls.fetch_add(1, Ordering::SeqCst);
        Ok(match requested_size(&request.greeting) {
            Some(size) => reply("x".repeat(size)),
            None => reply(format!("hello {}", request.greeting)),
        })
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        match request.greeting.as_str() {
            // Sends as fast as the client lets it, counting each send that succeeded.
            "flood" => {
                self.report_cancellation(&ctx, "flood cancelled");
                self.seen.flood_started.fetch_add(1, Ordering::SeqCst);
                let message = reply("f".repeat(FLOOD_MESSAGE_BYTES));
                for _ in 0..FLOOD_ATTEMPTS {
                    responses.send(message.clone()).await?;
                    self.seen.flood_sent.fetch_add(1, Ordering::SeqCst);
                }
                self.seen.flood_finished.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            // Ticks until the client goes away.
            "ticks" => {
                self.report_cancellation(&ctx, "ticks cancelled");
                loop {
                    responses.send(reply("tick")).await?;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            // A small message, then one the server's limit refuses; the handler ignores
            // the refusal and returns OK, which must not reach the client as OK.
            greeting => {
                responses.send(reply("small")).await?;
                if let Some(size) = requested_size(greeting) {
                    let refused = responses.send(reply("x".repeat(size))).await;
                    let _ = self.events.send(match refused {
                        Err(status) if status.code() == Code::ResourceExhausted => {
                            "big reply refused"
                        }
                        _ => "big reply not refused",
                    });
                    let _ = responses.send(reply("after")).await;
                }
                Ok(())
            }
        }
    }

    /// Counts greetings; ignores a broken request stream and answers OK anyway, which must
    /// not reach the client as OK.
    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        self.report_cancellation(&ctx, "greetings cancelled");
        let mut count = 0;
        while let Some(next) = requests.next().await {
            match next {
                Ok(_) => {
                    count += 1;
                    let _ = self.events.send("greeting");
                }
                Err(_) => {
                    let _ = self.events.send("greetings broken");
                    break;
                }
            }
        }
        Ok(reply(format!("{count} greetings")))
    }
}

// ---------------------------------------------------------------------------------------
// Servers, and the normal call that must keep working.

/// A server on 127.0.0.1 built from `server`, stopped when dropped.
pub struct Serving {
    pub addr: SocketAddr,
    _running: Running,
}

impl Serving {
    pub async fn start(service: Hostile) -> Self {
        Self::start_with(rgrpc::Server::builder(), service).await
    }

    pub async fn start_with(server: rgrpc::Server, service: Hostile) -> Self {
        let running = Running::serve(server.add_service(HelloServiceServer::new(service))).await;
        Self {
            addr: running.addr,
            _running: running,
        }
    }

    /// A generated client on a new connection.
    pub async fn client(&self) -> HelloServiceClient {
        HelloServiceClient::new(self.channel().await)
    }

    pub async fn channel(&self) -> rgrpc::Channel {
        rgrpc::Channel::connect(format!("http://{}", self.addr))
            .await
            .unwrap()
    }

    /// A normal unary call on a connection of its own must succeed.
    pub async fn assert_still_serving(&self) {
        let client = self.client().await;
        let response = bounded("a normal call", client.say_hello(greeting("still there")))
            .await
            .expect("the server must keep serving normal calls");
        assert_eq!(response.get_ref().reply, "hello still there");
    }
}
