//! gRFC A6 hedging over real HTTP/2 on 127.0.0.1: further attempts while earlier ones run,
//! the first answer wins and the others are cancelled on the server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use rgrpc::{CancellationToken, Code, ServiceConfig};

use support::scripted::{Scripted, Step, client_with, config};
use support::{Running, assert_fails, bounded, greeting};

/// A hedging policy for every method: `max_attempts`, `delay` between them, non-fatal
/// UNAVAILABLE.
fn hedging(max_attempts: u32, delay: &str) -> ServiceConfig {
    config(&format!(
        r#"{{"methodConfig": [{{"name": [{{}}], "hedgingPolicy": {{
            "maxAttempts": {max_attempts}, "hedgingDelay": "{delay}",
            "nonFatalStatusCodes": ["UNAVAILABLE"]}}}}]}}"#
    ))
}

/// Waits (bounded) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    bounded(what, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_slow_first_attempt_is_overtaken_by_the_hedge_and_cancelled() {
    let service = Scripted::new(|n| match n {
        0 => Step::Hang,
        _ => Step::Succeed,
    });
    let server = Running::start(service.clone()).await;
    let (client, channel) = client_with(&server, hedging(2, "0.05s"), None).await;
    let response = bounded("hedged call", client.say_hello(greeting("a")))
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, "Hello, a (call 2)");
    let previous: Vec<_> = service
        .seen()
        .into_iter()
        .map(|seen| seen.previous_attempts)
        .collect();
    assert_eq!(previous, [None, Some("1".into())]);
    until("the slow attempt's cancellation", || {
        service.cancelled_calls() == 1
    })
    .await;
    let stats = channel.stats();
    assert_eq!(
        (stats.attempts, stats.hedges, stats.retries),
        (2, 1, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_non_fatal_status_starts_the_next_hedge_at_once() {
    // A delay far past the test's bound: only the non-fatal failures can start the hedges.
    let service = Scripted::new(|n| match n {
        0 | 1 => Step::Fail(Code::Unavailable, None),
        _ => Step::Succeed,
    });
    let server = Running::start(service.clone()).await;
    let (client, channel) = client_with(&server, hedging(3, "3600s"), None).await;
    let response = bounded("hedged call", client.say_hello(greeting("a")))
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, "Hello, a (call 3)");
    assert_eq!(channel.stats().hedges, 2);
}

#[tokio::test]
async fn a_fatal_status_ends_the_call_and_cancels_the_other_attempts() {
    let service = Scripted::new(|n| match n {
        0 => Step::Hang,
        _ => Step::Fail(Code::PermissionDenied, None),
    });
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, hedging(3, "0.05s"), None).await;
    assert_fails(
        "hedged call",
        client.say_hello(greeting("a")),
        Code::PermissionDenied,
        "scripted",
    )
    .await;
    until("the hanging attempt's cancellation", || {
        service.cancelled_calls() == 1
    })
    .await;
    assert_eq!(service.calls(), 2, "no hedge after the fatal status");
}

#[tokio::test]
async fn cancelling_a_hedged_call_cancels_every_attempt() {
    let service = Scripted::new(|_| Step::Hang);
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, hedging(3, "0.02s"), None).await;
    let token = CancellationToken::new();
    let call = tokio::spawn(
        client
            .say_hello(greeting("a"))
            .cancellation(token.clone())
            .into_future(),
    );
    until("all three attempts reaching the server", || {
        service.calls() == 3
    })
    .await;
    token.cancel();
    let status = bounded("the call", call).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    until("every attempt's cancellation", || {
        service.cancelled_calls() == 3
    })
    .await;
}

#[tokio::test]
async fn hedged_client_streams_are_replayed_to_every_attempt() {
    let service = Scripted::new(|n| match n {
        0 => Step::Hang,
        _ => Step::Succeed,
    });
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, hedging(2, "0.05s"), None).await;
    let requests = rgrpc::stream::iter((0..4).map(|n| greeting(format!("{n}"))));
    let response = bounded("hedged call", client.lots_of_greetings(requests))
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, "4 greetings");
    until("the slow attempt's cancellation", || {
        service.cancelled_calls() == 1
    })
    .await;
}
