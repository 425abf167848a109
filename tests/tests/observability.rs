//! Every call is a tracing span on both sides, and its end is an event naming the method,
//! the final status and the duration: timeouts and cancellations reach the logs with no
//! code of the user's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::IntoFuture;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rgrpc::{CancellationToken, Code, Context, Status};
use rgrpc_tests::hello::hello_service_server::HelloService;
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{LIMIT, Running, greeting, reply};

struct Sleepy;

impl HelloService for Sleepy {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        if request.greeting == "sleep" {
            tokio::time::sleep(LIMIT).await;
        }
        Ok(reply(request.greeting))
    }
}

/// Collects everything the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn calls_are_spans_and_their_ends_are_logged_on_both_sides() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);
    // One thread: every task of client and server logs to this thread's subscriber.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = Running::start(Sleepy).await;
        let client = server.client().await;
        client.say_hello(greeting("fine")).await.unwrap();
        let expired = client
            .say_hello(greeting("sleep"))
            .timeout(Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(expired.code(), Code::DeadlineExceeded);
        let token = CancellationToken::new();
        let call = tokio::spawn(
            client
                .say_hello(greeting("sleep"))
                .cancellation(token.clone())
                .into_future(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        token.cancel();
        assert_eq!(call.await.unwrap().unwrap_err().code(), Code::Cancelled);
        // Let the server notice the reset and log it.
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let ends: Vec<&str> = logs.lines().filter(|l| l.contains("call ended")).collect();
    let find = |needles: &[&str]| {
        ends.iter()
            .any(|line| needles.iter().all(|needle| line.contains(needle)))
    };
    let method = "method=\"/hello.HelloService/SayHello\"";
    assert!(
        find(&["DEBUG", "side=\"client\"", method, "code=Ok"]),
        "{logs}"
    );
    assert!(
        find(&[
            "DEBUG",
            "side=\"server\"",
            method,
            "peer=127.0.0.1:",
            "code=Ok"
        ]),
        "{logs}"
    );
    assert!(
        find(&[
            "INFO",
            "side=\"client\"",
            method,
            "timeout=200ms",
            "code=DeadlineExceeded",
            "grpc_message=\"deadline of 200ms exceeded\""
        ]),
        "{logs}"
    );
    assert!(
        find(&["INFO", "side=\"server\"", method, "code=DeadlineExceeded"]),
        "{logs}"
    );
    assert!(
        find(&["INFO", "side=\"client\"", method, "code=Cancelled"]),
        "{logs}"
    );
    assert!(
        find(&["INFO", "side=\"server\"", method, "code=Cancelled"]),
        "{logs}"
    );
    assert!(ends.iter().all(|line| line.contains("duration=")), "{logs}");
}
