//! A server that follows a script call by call (succeed, fail with a code and pushback,
//! fail after a message, hang) and records what each call carried: for the retry and
//! hedging tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rgrpc::metadata::MetadataMap;
use rgrpc::{Code, Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_server::HelloService;
use rgrpc_tests::hello::{HelloRequest, HelloResponse};

use rgrpc::ServiceConfig;
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;

use super::{Running, reply};

/// What the server does on its `n`-th call (from 0).
#[derive(Clone, Copy, Debug)]
pub enum Step {
    Succeed,
    /// Fails with this code, in a Trailers-Only response, with this pushback.
    Fail(Code, Option<&'static str>),
    /// Sends a response message (server streaming), then fails with this code.
    FailAfterHeaders(Code),
    /// Waits until the call is cancelled.
    Hang,
}

/// What each call the server got looked like.
#[derive(Clone, Debug)]
pub struct Seen {
    pub previous_attempts: Option<String>,
    pub time_remaining: Option<Duration>,
}

/// A server that follows a script, call by call, and records what it saw.
#[derive(Clone)]
pub struct Scripted {
    script: Arc<dyn Fn(usize) -> Step + Send + Sync>,
    seen: Arc<Mutex<Vec<Seen>>>,
    pub cancelled: Arc<AtomicUsize>,
}

impl Scripted {
    pub fn new(script: impl Fn(usize) -> Step + Send + Sync + 'static) -> Self {
        Self {
            script: Arc::new(script),
            seen: Arc::default(),
            cancelled: Arc::default(),
        }
    }

    pub fn calls(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// How many calls the server saw cancelled.
    pub fn cancelled_calls(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Records the call and returns its step.
    fn step(&self, ctx: &Context) -> Step {
        let mut seen = self.seen.lock().unwrap();
        let n = seen.len();
        seen.push(Seen {
            previous_attempts: ctx
                .metadata()
                .get("grpc-previous-rpc-attempts")
                .map(|value| value.to_str().unwrap().to_owned()),
            time_remaining: ctx.time_remaining(),
        });
        (self.script)(n)
    }

    async fn play(
        &self,
        ctx: &Context,
        step: Step,
        answer: String,
    ) -> Result<HelloResponse, Status> {
        match step {
            Step::Succeed => Ok(reply(answer)),
            Step::Fail(code, pushback) => {
                if let Some(pushback) = pushback {
                    let mut trailers = MetadataMap::new();
                    trailers.insert("grpc-retry-pushback-ms", pushback.parse().unwrap());
                    ctx.set_trailers(trailers);
                }
                Err(Status::new(code, "failing as scripted"))
            }
            Step::FailAfterHeaders(code) => Err(Status::new(code, "failing after the headers")),
            Step::Hang => {
                // The runtime stops the handler when the call is cancelled: a task of its
                // own sees the cancellation.
                let token = ctx.cancellation_token();
                let cancelled = self.cancelled.clone();
                tokio::spawn(async move {
                    token.cancelled().await;
                    cancelled.fetch_add(1, Ordering::SeqCst);
                });
                std::future::pending().await
            }
        }
    }
}

impl HelloService for Scripted {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let step = self.step(&ctx);
        let answer = format!("Hello, {} (call {})", request.greeting, self.calls());
        self.play(&ctx, step, answer).await
    }

    /// Sends "first", then fails as its step says (or ends).
    async fn lots_of_replies(
        &self,
        ctx: Context,
        _request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        match self.step(&ctx) {
            Step::FailAfterHeaders(code) => {
                responses.send(reply("first")).await?;
                Err(Status::new(code, "failing after the headers"))
            }
            step => self.play(&ctx, step, String::new()).await.map(drop),
        }
    }

    /// Reads every greeting, then plays its step: "n greetings" on success.
    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let step = self.step(&ctx);
        if let Step::Hang = step {
            // Before reading: reading would send the response headers, committing the call.
            return self.play(&ctx, step, String::new()).await;
        }
        let mut count = 0;
        while requests.message().await?.is_some() {
            count += 1;
        }
        self.play(&ctx, step, format!("{count} greetings")).await
    }
}

pub fn config(json: &str) -> ServiceConfig {
    ServiceConfig::from_json(json).unwrap()
}

/// A client of `server` with `config`, and its channel (for its stats); `limit` sets the
/// retry buffer limit.
pub async fn client_with(
    server: &Running,
    config: ServiceConfig,
    limit: Option<usize>,
) -> (HelloServiceClient, rgrpc::Channel) {
    let mut builder =
        rgrpc::Channel::builder(format!("http://{}", server.addr)).service_config(config);
    if let Some(limit) = limit {
        builder = builder.retry_buffer_limit(limit);
    }
    let channel = builder.connect().await.unwrap();
    (HelloServiceClient::new(channel.clone()), channel)
}
