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
use support::{LIMIT, Running, bounded, greeting, reply};
use tokio::sync::mpsc;

/// Answers at once, except `sleep…` greetings: those report that their handler started, then
/// outlast every bound of the test (only a deadline or a cancellation ends them).
struct Sleepy {
    started: mpsc::UnboundedSender<String>,
}

impl HelloService for Sleepy {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        if request.greeting.starts_with("sleep") {
            let _ = self.started.send(request.greeting.clone());
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

/// The expired call's deadline: far above the moment it takes the request to reach the
/// server (200 ms at worst seen, at nice 10 on two cores under a load average of 8), so the
/// server always sees the call before the client gives up on it.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The end events (`call ended`) logged so far.
fn ends(captured: &Captured) -> Vec<String> {
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    logs.lines()
        .filter(|line| line.contains("call ended"))
        .map(str::to_owned)
        .collect()
}

/// Waits (bounded) until the end events satisfy `done`.
async fn until_logged(captured: &Captured, what: &str, done: impl Fn(&[String]) -> bool) {
    let waited = tokio::time::timeout(LIMIT, async {
        while !done(&ends(captured)) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "{what} not logged within {LIMIT:?}; ends: {:#?}",
        ends(captured)
    );
}

/// The lines containing every one of `needles`.
fn matching<'a>(lines: &'a [String], needles: &[&str]) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .collect()
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
    let server_side = "side=\"server\"";
    let client_side = "side=\"client\"";
    runtime.block_on(async {
        let (started, mut starts) = mpsc::unbounded_channel();
        let server = Running::start(Sleepy { started }).await;
        let client = server.client().await;
        bounded("a call that succeeds", client.say_hello(greeting("fine")))
            .await
            .unwrap();

        let expired = bounded(
            "a call past its deadline",
            client
                .say_hello(greeting("sleep past the deadline"))
                .timeout(TIMEOUT),
        )
        .await
        .unwrap_err();
        assert_eq!(expired.code(), Code::DeadlineExceeded, "{expired:?}");
        // The server ends the call on its own: its timer, or the client's reset, whichever
        // comes first (both are right). Only this call has a deadline.
        until_logged(&captured, "the server's end of the expired call", |ends| {
            !matching(ends, &[server_side, "timeout="]).is_empty()
        })
        .await;
        // Its handler may or may not have started (the server can end a call before); it
        // cannot start now that the call has ended.
        while let Ok(name) = starts.try_recv() {
            assert_eq!(name, "sleep past the deadline");
        }

        let token = CancellationToken::new();
        let call = tokio::spawn(
            client
                .say_hello(greeting("sleep until cancelled"))
                .cancellation(token.clone())
                .into_future(),
        );
        // Cancelled once the server is running the call, so the server has a call to end.
        assert_eq!(
            bounded("the handler's start", starts.recv())
                .await
                .as_deref(),
            Some("sleep until cancelled")
        );
        token.cancel();
        let cancelled = bounded("the cancelled call", call).await.unwrap();
        assert_eq!(cancelled.unwrap_err().code(), Code::Cancelled);
        until_logged(&captured, "every end of every call", |ends| {
            matching(ends, &[server_side]).len() >= 3 && matching(ends, &[client_side]).len() >= 3
        })
        .await;
    });
    let ends = ends(&captured);
    let method = "method=\"/hello.HelloService/SayHello\"";
    assert!(ends.iter().all(|line| line.contains(method)), "{ends:#?}");
    assert!(
        ends.iter().all(|line| line.contains("duration=")),
        "{ends:#?}"
    );

    // The client: three calls, three ends, each as it happened.
    let client_ends = matching(&ends, &[client_side]);
    assert_eq!(client_ends.len(), 3, "{ends:#?}");
    assert_eq!(
        matching(&ends, &["DEBUG", client_side, "code=Ok"]).len(),
        1,
        "{ends:#?}"
    );
    let timeout = format!("timeout={TIMEOUT:?}");
    let deadline_message = format!("grpc_message=\"deadline of {TIMEOUT:?} exceeded\"");
    let client_expired = [
        "INFO",
        client_side,
        timeout.as_str(),
        "code=DeadlineExceeded",
        deadline_message.as_str(),
    ];
    assert_eq!(matching(&ends, &client_expired).len(), 1, "{ends:#?}");
    assert_eq!(
        matching(&ends, &["INFO", client_side, "code=Cancelled"]).len(),
        1,
        "{ends:#?}"
    );

    // The server: three calls, three ends, each from the peer's address.
    let server_ends = matching(&ends, &[server_side]);
    assert_eq!(server_ends.len(), 3, "{ends:#?}");
    assert!(
        server_ends
            .iter()
            .all(|line| line.contains("peer=127.0.0.1:")),
        "{ends:#?}"
    );
    let server_ok = matching(&ends, &["DEBUG", server_side, "code=Ok"]);
    assert_eq!(server_ok.len(), 1, "{ends:#?}");
    assert!(!server_ok[0].contains("timeout="), "{ends:#?}");
    // The expired call: its own deadline (DEADLINE_EXCEEDED) or the client's reset arriving
    // first (CANCELLED); each side concludes independently, and either is right.
    let server_expired = matching(&ends, &["INFO", server_side, "timeout="]);
    assert_eq!(server_expired.len(), 1, "{ends:#?}");
    assert!(
        server_expired[0].contains("code=DeadlineExceeded")
            || server_expired[0].contains("code=Cancelled"),
        "{ends:#?}"
    );
    // The cancelled call had no deadline: only the client's reset ended it.
    let server_cancelled = matching(&ends, &["INFO", server_side, "code=Cancelled"])
        .into_iter()
        .filter(|line| !line.contains("timeout="))
        .count();
    assert_eq!(server_cancelled, 1, "{ends:#?}");
}
