//! Middleware, end to end: a hello server on 127.0.0.1 whose interceptors record gRFC A66
//! metrics and keep an audit log (who called what, how it ended), and a client whose
//! interceptor fetches an access token asynchronously, once for many calls, and refreshes
//! it when it expires. Prints the audit log and the metrics the OpenTelemetry SDK
//! collected.
//!
//! `cargo run -p hello-demo --bin hello-middleware`; exits non-zero if a call ends
//! otherwise than expected, the token is fetched more often than it expires, or a metric
//! is missing.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hello_demo::hello::hello_service_client::HelloServiceClient;
use hello_demo::hello::hello_service_server::{HelloService, HelloServiceServer};
use hello_demo::hello::{HelloRequest, HelloResponse};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use rgrpc::intercept::{
    ClientCall, ClientInterceptor, ServerCall, ServerCallEnd, ServerInterceptor,
};
use rgrpc::otel::{ClientMetrics, ServerMetrics};
use rgrpc::{Code, Context, Status};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// Who called: the audit interceptor finds it in the token, the handler reads it.
#[derive(Clone, Debug)]
struct Caller(String);

/// Admits calls with a token the (pretend) identity service knows, and logs every call's
/// end with its caller.
struct Audit;

impl ServerInterceptor for Audit {
    async fn before(&self, call: &mut ServerCall) -> Result<(), Status> {
        let token = (call.metadata().get("authorization"))
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("a bearer token is required"))?;
        // Asynchronous, as asking an identity service would be.
        tokio::task::yield_now().await;
        let user = token
            .strip_prefix("token-for-")
            .and_then(|rest| rest.split_once('-'))
            .map(|(user, _)| user.to_owned())
            .ok_or_else(|| Status::unauthenticated("unknown bearer token"))?;
        call.insert_extension(Caller(user));
        Ok(())
    }

    fn after(&self, end: &ServerCallEnd<'_>) {
        let caller = end
            .extensions()
            .get::<Caller>()
            .map_or("-", |c| c.0.as_str());
        println!(
            "audit: {} by {caller}: {:?} ({:?}), {} bytes in, {} bytes out",
            end.method(),
            end.code(),
            end.ending(),
            end.received().bytes,
            end.sent().bytes,
        );
    }
}

/// An access token, fetched when missing or expired; callers that arrive during a fetch
/// wait for it rather than starting their own.
struct TokenCache {
    current: Mutex<Option<(String, Instant)>>,
    lifetime: Duration,
    fetches: AtomicUsize,
}

impl TokenCache {
    async fn token(&self) -> String {
        let mut current = self.current.lock().await;
        if let Some((token, expires)) = current.as_ref()
            && Instant::now() < *expires
        {
            return token.clone();
        }
        // A real client would ask its identity provider here.
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let token = format!("token-for-ada-{n}");
        *current = Some((token.clone(), Instant::now() + self.lifetime));
        token
    }

    /// Lets the token expire now, as the identity provider's clock would, later.
    async fn expire(&self) {
        if let Some((_, expires)) = self.current.lock().await.as_mut() {
            *expires = Instant::now();
        }
    }
}

struct BearerToken(Arc<TokenCache>);

impl ClientInterceptor for BearerToken {
    async fn before(&self, call: &mut ClientCall) -> Result<(), Status> {
        let token = self.0.token().await;
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| Status::internal("the token is not a valid header value"))?;
        call.metadata_mut().insert("authorization", value);
        Ok(())
    }
}

struct Greeter;

impl HelloService for Greeter {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let Caller(name) =
            (ctx.extensions().get::<Caller>()).ok_or_else(|| Status::internal("no caller"))?;
        if request.greeting.is_empty() {
            return Err(Status::invalid_argument("say something"));
        }
        Ok(HelloResponse {
            reply: format!("Hello, {name}! You said {:?}.", request.greeting),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("hello-middleware: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    // The program's meter provider: here an in-memory exporter, printed at the end; in
    // production an OTLP or Prometheus exporter.
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("cannot listen on 127.0.0.1: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let server = tokio::spawn(
        rgrpc::Server::builder()
            .interceptor(ServerMetrics::new(&provider))
            .interceptor(Audit)
            .add_service(HelloServiceServer::new(Greeter))
            .serve_with_shutdown(listener, std::future::pending()),
    );

    let tokens = Arc::new(TokenCache {
        current: Mutex::new(None),
        lifetime: Duration::from_secs(60),
        fetches: AtomicUsize::new(0),
    });
    let channel = rgrpc::Channel::builder(format!("http://{addr}"))
        .interceptor(ClientMetrics::new(&provider))
        .interceptor(BearerToken(tokens.clone()))
        .connect()
        .await
        .map_err(|err| err.to_string())?;
    let client = HelloServiceClient::new(channel);

    let mut unexpected = 0;
    // Ten calls at once: one token fetch serves them all.
    let calls: Vec<_> = (0..10)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                let request = HelloRequest {
                    greeting: format!("call {n}"),
                };
                client.say_hello(request).await
            })
        })
        .collect();
    for call in calls {
        match call.await.map_err(|err| err.to_string())? {
            Ok(response) => println!("client: {}", response.into_inner().reply),
            Err(status) => {
                println!("client: {:?}: {}", status.code(), status.message());
                unexpected += 1;
            }
        }
    }
    // A call the handler refuses, after the token expired: a second fetch.
    tokens.expire().await;
    match client.say_hello(HelloRequest::default()).await {
        Err(status) if status.code() == Code::InvalidArgument => {
            println!("client: {:?}: {}", status.code(), status.message());
        }
        other => {
            println!("client: unexpected {other:?}");
            unexpected += 1;
        }
    }
    let fetches = tokens.fetches.load(Ordering::SeqCst);
    println!("token fetched {fetches} times for 11 calls");
    server.abort();

    provider.force_flush().map_err(|err| err.to_string())?;
    let mut names = Vec::new();
    for resource in exporter
        .get_finished_metrics()
        .map_err(|err| err.to_string())?
    {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                names.push(metric.name().to_owned());
            }
        }
    }
    names.sort();
    names.dedup();
    for name in &names {
        println!("metric: {name}");
    }
    let mut problems = Vec::new();
    if unexpected > 0 {
        problems.push(format!(
            "{unexpected} call(s) ended otherwise than expected"
        ));
    }
    if fetches != 2 {
        problems.push(format!("the token was fetched {fetches} times, not 2"));
    }
    if names.len() != 9 {
        problems.push(format!("{} metrics recorded, not A66's 9", names.len()));
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("; ")),
    }
}
