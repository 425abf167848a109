//! How promptly the lifecycle acts, over HTTP/2 on 127.0.0.1, client and server in one
//! process:
//!
//! * deadline → the client holding `DEADLINE_EXCEEDED`, past the deadline itself;
//! * client cancel → the server handler's cancellation signal observed.
//!
//! `lifecycle-latency [ITERATIONS]` (default 200). Prints p50/p99/max for each.

use std::future::IntoFuture;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rgrpc::{CancellationToken, Code, Context, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// The deadline each measured call gets.
const DEADLINE: Duration = Duration::from_millis(10);
/// How long a handler waits if nothing stops it: far past any measurement.
const FOREVER: Duration = Duration::from_secs(30);

/// Reports when each call starts and when its cancellation signal fires, tagged with the
/// call's greeting: a call whose deadline passed before it reached its handler reports
/// nothing, and one that did reports late, so each measurement waits for its own call.
struct Watched {
    entered: mpsc::UnboundedSender<String>,
    cancelled: mpsc::UnboundedSender<(String, Instant)>,
}

impl HelloService for Watched {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let token = ctx.cancellation_token();
        let cancelled = self.cancelled.clone();
        let call = request.greeting.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            let _ = cancelled.send((call, Instant::now()));
        });
        let _ = self.entered.send(request.greeting);
        tokio::time::sleep(FOREVER).await;
        Err(Status::internal("nothing stopped the handler"))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let iterations = match std::env::args().nth(1).map(|n| n.parse::<usize>()) {
        None => 200,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: lifecycle-latency [ITERATIONS > 0]");
            return ExitCode::FAILURE;
        }
    };
    match run(iterations).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("lifecycle-latency: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(iterations: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let (cancelled_tx, mut cancelled) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = rgrpc::Server::builder().add_service(HelloServiceServer::new(Watched {
        entered: entered_tx,
        cancelled: cancelled_tx,
    }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_with_shutdown(listener, async {
        let _ = stopped.await;
    }));
    let client = HelloServiceClient::new(rgrpc::Channel::connect(format!("http://{addr}")).await?);
    let request = |call: String| HelloRequest { greeting: call };
    let bounded = |what: &'static str| move |_| format!("{what} did not happen within {FOREVER:?}");

    let mut past_deadline = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let started = Instant::now();
        let result = tokio::time::timeout(
            FOREVER,
            client
                .say_hello(request(format!("deadline {i}")))
                .timeout(DEADLINE)
                .into_future(),
        )
        .await
        .map_err(bounded("DEADLINE_EXCEEDED"))?;
        match result {
            Err(status) if status.code() == Code::DeadlineExceeded => {}
            other => return Err(format!("expected DEADLINE_EXCEEDED, got {other:?}").into()),
        }
        past_deadline.push(started.elapsed().saturating_sub(DEADLINE));
    }

    let mut cancel_observed = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let token = CancellationToken::new();
        let id = format!("cancel {i}");
        let call = tokio::spawn(
            client
                .say_hello(request(id.clone()))
                .cancellation(token.clone())
                .into_future(),
        );
        // Reports of earlier calls (deadline calls that reached their handler late) are
        // skipped.
        tokio::time::timeout(FOREVER, async {
            while let Some(started) = entered.recv().await {
                if started == id {
                    return Ok(());
                }
            }
            Err("the server stopped reporting")
        })
        .await
        .map_err(bounded("handler start"))??;
        let cancelled_at = Instant::now();
        token.cancel();
        let observed = tokio::time::timeout(FOREVER, async {
            while let Some((call, at)) = cancelled.recv().await {
                if call == id {
                    return Ok(at);
                }
            }
            Err("the server stopped reporting")
        })
        .await
        .map_err(bounded("handler cancellation"))??;
        cancel_observed.push(observed.saturating_duration_since(cancelled_at));
        let _ = call.await;
    }

    println!("lifecycle latencies, {iterations} calls each, HTTP/2 on 127.0.0.1, one process");
    report(
        "deadline → client has DEADLINE_EXCEEDED (past the deadline)",
        &mut past_deadline,
    );
    report(
        "client cancel → server handler observes it",
        &mut cancel_observed,
    );
    let _ = stop.send(());
    let _ = serving.await;
    Ok(())
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let at = |q: f64| {
        let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[index.min(samples.len() - 1)]
    };
    println!(
        "  {what}: p50 {:?}  p99 {:?}  max {:?}",
        at(0.50),
        at(0.99),
        at(1.0)
    );
}
