//! gRFC A6 retries over real HTTP/2 on 127.0.0.1: a server that fails as scripted, a client
//! with a retry policy in its service config, and counts of what each side saw.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use rgrpc::{CancellationToken, Code, ServiceConfig};
use rgrpc_tests::hello::HelloRequest;

use support::scripted::{Scripted, Step, client_with, config};
use support::{LIMIT, Running, assert_fails, bounded, greeting, next_reply};

/// A retry policy for every method: `max_attempts`, backoffs of at most 10 ms, retrying
/// UNAVAILABLE; `extra` adds top-level fields.
fn retry_config(max_attempts: u32, extra: &str) -> ServiceConfig {
    config(&format!(
        r#"{{"methodConfig": [{{"name": [{{}}], "retryPolicy": {{
            "maxAttempts": {max_attempts}, "initialBackoff": "0.01s", "maxBackoff": "0.01s",
            "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}}}]{extra}}}"#
    ))
}

#[tokio::test]
async fn a_call_failing_twice_with_unavailable_succeeds_on_its_third_attempt() {
    let service = Scripted::new(|n| match n {
        0 | 1 => Step::Fail(Code::Unavailable, None),
        _ => Step::Succeed,
    });
    let server = Running::start(service.clone()).await;
    let (client, channel) = client_with(&server, retry_config(4, ""), None).await;
    let response = bounded("retried call", client.say_hello(greeting("a")))
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, "Hello, a (call 3)");
    let previous: Vec<_> = service
        .seen()
        .into_iter()
        .map(|s| s.previous_attempts)
        .collect();
    assert_eq!(previous, [None, Some("1".into()), Some("2".into())]);
    let stats = channel.stats();
    assert_eq!(
        (stats.attempts, stats.retries, stats.hedges),
        (3, 2, 0),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_status_not_in_the_retryable_codes_is_not_retried() {
    let service = Scripted::new(|_| Step::Fail(Code::Internal, None));
    let server = Running::start(service.clone()).await;
    let (client, channel) = client_with(&server, retry_config(5, ""), None).await;
    assert_fails(
        "call",
        client.say_hello(greeting("a")),
        Code::Internal,
        "scripted",
    )
    .await;
    assert_eq!(service.calls(), 1);
    assert_eq!(channel.stats().retries, 0);
}

#[tokio::test]
async fn a_call_whose_headers_arrived_is_committed_and_not_retried() {
    let service = Scripted::new(|_| Step::FailAfterHeaders(Code::Unavailable));
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, retry_config(5, ""), None).await;
    let mut replies = bounded("call", client.lots_of_replies(greeting("a")))
        .await
        .unwrap();
    assert_eq!(next_reply("the first reply", &mut replies).await, "first");
    let status = bounded("the end", replies.message()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(service.calls(), 1, "committed when its headers came");
}

#[tokio::test]
async fn max_attempts_bounds_the_attempts_and_is_capped_at_five() {
    for (max_attempts, expected) in [(3, 3), (9, 5)] {
        let service = Scripted::new(|_| Step::Fail(Code::Unavailable, None));
        let server = Running::start(service.clone()).await;
        let (client, channel) = client_with(&server, retry_config(max_attempts, ""), None).await;
        assert_fails(
            "call",
            client.say_hello(greeting("a")),
            Code::Unavailable,
            "scripted",
        )
        .await;
        assert_eq!(service.calls(), expected, "maxAttempts {max_attempts}");
        assert_eq!(channel.stats().attempts, expected as u64);
    }
}

#[tokio::test]
async fn a_huge_pushback_holds_the_retry_past_the_deadline() {
    let service = Scripted::new(|_| Step::Fail(Code::Unavailable, Some("100000")));
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, retry_config(5, ""), None).await;
    let call = client
        .say_hello(greeting("a"))
        .timeout(Duration::from_millis(300));
    assert_fails("call", call, Code::DeadlineExceeded, "").await;
    assert_eq!(
        service.calls(),
        1,
        "the retry waited 100 s: past the deadline"
    );
}

#[tokio::test]
async fn a_negative_or_malformed_pushback_stops_the_retries() {
    for pushback in ["-1", "soon"] {
        let service = Scripted::new(move |_| Step::Fail(Code::Unavailable, Some(pushback)));
        let server = Running::start(service.clone()).await;
        let (client, _) = client_with(&server, retry_config(5, ""), None).await;
        assert_fails(
            "call",
            client.say_hello(greeting("a")),
            Code::Unavailable,
            "scripted",
        )
        .await;
        assert_eq!(service.calls(), 1, "pushback {pushback:?}");
    }
}

#[tokio::test]
async fn throttling_stops_retries_once_half_the_tokens_are_gone() {
    let service = Scripted::new(|_| Step::Fail(Code::Unavailable, None));
    let server = Running::start(service.clone()).await;
    // 3 tokens: the first failure leaves 2 (more than half: one retry), the second 1
    // (no more), the next call's first failure 0 (no retry at all).
    let throttled = retry_config(
        5,
        r#", "retryThrottling": {"maxTokens": 3, "tokenRatio": 0.1}"#,
    );
    let (client, channel) = client_with(&server, throttled, None).await;
    for _ in 0..2 {
        assert_fails(
            "call",
            client.say_hello(greeting("a")),
            Code::Unavailable,
            "scripted",
        )
        .await;
    }
    assert_eq!(
        service.calls(),
        3,
        "2 attempts, then 1; without throttling 10"
    );
    assert_eq!(channel.stats().retries, 1);
}

#[tokio::test]
async fn throttling_counts_the_status_of_committed_calls_from_their_trailers() {
    let service = Scripted::new(|n| match n {
        0 | 1 => Step::FailAfterHeaders(Code::Unavailable),
        _ => Step::Fail(Code::Unavailable, None),
    });
    let server = Running::start(service.clone()).await;
    let throttled = retry_config(
        5,
        r#", "retryThrottling": {"maxTokens": 3, "tokenRatio": 0.1}"#,
    );
    let (client, _) = client_with(&server, throttled, None).await;
    // Two streams fail after a message: committed, yet failures (3 tokens → 1).
    for _ in 0..2 {
        let mut replies = bounded("call", client.lots_of_replies(greeting("a")))
            .await
            .unwrap();
        assert_eq!(next_reply("the first reply", &mut replies).await, "first");
        let status = bounded("the end", replies.message()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    // So this failure is not retried (1 → 0); with 3 tokens left it would have been.
    assert_fails(
        "call",
        client.say_hello(greeting("a")),
        Code::Unavailable,
        "scripted",
    )
    .await;
    assert_eq!(service.calls(), 3);
}

#[tokio::test]
async fn the_deadline_covers_every_attempt() {
    // Exact 400 ms pauses (pushback), a 1 s deadline: attempts at 0, 0.4 and 0.8 s at the
    // earliest, none after 1 s.
    let service = Scripted::new(|_| Step::Fail(Code::Unavailable, Some("400")));
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, retry_config(5, ""), None).await;
    let call = client
        .say_hello(greeting("a"))
        .timeout(Duration::from_secs(1));
    assert_fails("call", call, Code::DeadlineExceeded, "").await;
    let seen = service.seen();
    assert!((2..=3).contains(&seen.len()), "{seen:?}");
    // Each attempt's grpc-timeout is what is left of the one deadline.
    let second = seen[1]
        .time_remaining
        .expect("the retry carried a deadline");
    assert!(second <= Duration::from_millis(600), "{seen:?}");
}

#[tokio::test]
async fn cancelling_a_call_cancels_its_attempt_on_the_server() {
    let service = Scripted::new(|n| match n {
        0 => Step::Fail(Code::Unavailable, None),
        _ => Step::Hang,
    });
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, retry_config(3, ""), None).await;
    let token = CancellationToken::new();
    let call = tokio::spawn(
        client
            .say_hello(greeting("a"))
            .cancellation(token.clone())
            .into_future(),
    );
    bounded("the retry reaching the server", async {
        while service.calls() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    token.cancel();
    let status = bounded("the call", call).await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Cancelled, "{status:?}");
    bounded("the server's handler seeing the cancellation", async {
        while service.cancelled_calls() < 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

fn greetings(count: usize, size: usize) -> impl rgrpc::stream::Stream<Item = HelloRequest> {
    rgrpc::stream::iter((0..count).map(move |_| greeting("x".repeat(size))))
}

#[tokio::test]
async fn a_client_stream_within_the_buffer_limit_is_replayed_to_the_retry() {
    let service = Scripted::new(|n| match n {
        0 => Step::Fail(Code::Unavailable, None),
        _ => Step::Succeed,
    });
    let server = Running::start(service.clone()).await;
    let (client, _) = client_with(&server, retry_config(3, ""), Some(1024)).await;
    let response = bounded("call", client.lots_of_greetings(greetings(5, 10)))
        .await
        .unwrap();
    assert_eq!(response.into_inner().reply, "5 greetings", "all 5 replayed");
    assert_eq!(service.calls(), 2);
}

#[tokio::test]
async fn a_client_stream_past_the_buffer_limit_commits_and_is_not_retried() {
    let service = Scripted::new(|n| match n {
        0 => Step::Fail(Code::Unavailable, None),
        _ => Step::Succeed,
    });
    let server = Running::start(service.clone()).await;
    // Each greeting is 105 bytes framed: the third is past 256.
    let (client, channel) = client_with(&server, retry_config(3, ""), Some(256)).await;
    assert_fails(
        "call",
        client.lots_of_greetings(greetings(5, 100)),
        Code::Unavailable,
        "scripted",
    )
    .await;
    assert_eq!(service.calls(), 1);
    assert_eq!(channel.stats().retries, 0);
}

#[tokio::test]
async fn the_service_config_sets_timeouts_and_the_call_can_shorten_them() {
    let service = Scripted::new(|_| Step::Hang);
    let server = Running::start(service.clone()).await;
    let timeout = config(
        r#"{"methodConfig": [{"name": [{"service": "hello.HelloService"}], "timeout": "0.2s"}]}"#,
    );
    let (client, _) = client_with(&server, timeout, None).await;
    assert_fails(
        "call",
        client.say_hello(greeting("a")),
        Code::DeadlineExceeded,
        "",
    )
    .await;
    let longer = client.say_hello(greeting("b")).timeout(LIMIT);
    assert_fails("call", longer, Code::DeadlineExceeded, "").await;
    let seen = service.seen();
    for seen in &seen {
        let left = seen.time_remaining.expect("the config's timeout travels");
        assert!(left <= Duration::from_millis(200), "{seen:?}");
    }
}

#[test]
fn the_blocking_client_retries_through_its_channel() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let service = Scripted::new(|n| match n {
        0 => Step::Fail(Code::Unavailable, None),
        _ => Step::Succeed,
    });
    let server = runtime.block_on(Running::start(service.clone()));
    let channel = rgrpc::blocking::Channel::connect_with(
        rgrpc::Channel::builder(format!("http://{}", server.addr))
            .service_config(retry_config(3, "")),
    )
    .unwrap();
    let client = rgrpc_tests::hello::hello_service_client::HelloServiceBlockingClient::new(channel);
    let response = client.say_hello(greeting("b")).call().unwrap();
    assert_eq!(response.into_inner().reply, "Hello, b (call 2)");
    assert_eq!(service.calls(), 2);
    drop(server);
}
