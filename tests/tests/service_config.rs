//! The service config's JSON: valid configs load (name matching, defaults, caps), and each
//! invalid one fails with an error naming the JSON path of what is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use rgrpc::{Code, ServiceConfig};

use support::scripted::{Scripted, Step, client_with, config};
use support::{LIMIT, Running, assert_fails, bounded, greeting};

#[test]
fn a_full_config_loads() {
    let config = ServiceConfig::from_json(
        r#"{
          "loadBalancingConfig": [{"grpclb": {}}, {"round_robin": {}}],
          "methodConfig": [
            {
              "name": [{"service": "hello.HelloService", "method": "SayHello"}],
              "timeout": "1.5s",
              "waitForReady": true,
              "maxRequestMessageBytes": 1024,
              "maxResponseMessageBytes": "2048",
              "retryPolicy": {
                "maxAttempts": 9,
                "initialBackoff": "0.1s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE", 4, "resource_exhausted"]
              }
            },
            {
              "name": [{"service": "hello.HelloService"}],
              "hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "0.5s", "nonFatalStatusCodes": ["UNAVAILABLE"]}
            },
            {"name": [{}], "timeout": "10s"}
          ],
          "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1},
          "healthCheckConfig": {"serviceName": "hello.HelloService"},
          "someFutureField": {"ignored": true}
        }"#,
    )
    .unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("RoundRobin"), "{debug}");
    assert!(
        debug.contains("max_attempts: 5"),
        "maxAttempts is capped at 5: {debug}"
    );
    assert!(debug.contains("hedging_delay: 500ms"), "{debug}");
    assert!(
        debug.contains("health_check_service: Some(\"hello.HelloService\")"),
        "{debug}"
    );
    assert!(
        debug.contains("DeadlineExceeded"),
        "code 4 by number: {debug}"
    );
    assert!(
        debug.contains("ResourceExhausted"),
        "names in any case: {debug}"
    );
    assert!(
        debug.contains("max_response_message_bytes: Some(2048)"),
        "{debug}"
    );
    assert!(
        debug.contains(&format!("{:?}", Duration::from_millis(1500))),
        "{debug}"
    );
}

#[test]
fn the_deprecated_policy_name_and_an_empty_config_load() {
    for json in [
        r#"{"loadBalancingPolicy": "ROUND_ROBIN"}"#,
        r#"{"loadBalancingPolicy": "pick_first"}"#,
        "{}",
        r#"{"methodConfig": []}"#,
    ] {
        ServiceConfig::from_json(json).unwrap_or_else(|err| panic!("{json}: {err}"));
    }
}

#[test]
fn a_config_file_loads_and_its_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("rgrpc-service-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        r#"{"methodConfig": [{"name": [{}], "timeout": "1s"}]}"#,
    )
    .unwrap();
    ServiceConfig::from_file(&good).unwrap();
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"methodConfig": [{"name": [{}], "timeout": "1"}]}"#,
    )
    .unwrap();
    let err = ServiceConfig::from_file(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.json"), "{err}");
    assert!(err.contains("methodConfig[0].timeout"), "{err}");
    let missing = ServiceConfig::from_file(dir.join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("missing.json") && missing.contains("cannot read"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A retry policy that is valid, with `field` replaced by `value` (or removed for `null`).
fn retry_policy_with(field: &str, value: &str) -> String {
    let mut fields = vec![
        ("maxAttempts", "3"),
        ("initialBackoff", "\"0.1s\""),
        ("maxBackoff", "\"1s\""),
        ("backoffMultiplier", "2"),
        ("retryableStatusCodes", "[\"UNAVAILABLE\"]"),
    ];
    fields.retain(|(name, _)| *name != field);
    if value != "null" {
        fields.push((field, value));
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\": {value}"))
        .collect();
    format!(
        r#"{{"methodConfig": [{{"name": [{{"service": "s"}}], "retryPolicy": {{{}}}}}]}}"#,
        body.join(", ")
    )
}

#[test]
fn every_invalid_value_is_named_by_its_json_path() {
    let retry = retry_policy_with;
    let cases: Vec<(String, &str)> = vec![
        ("[]".into(), "service config: must be an object, got an array"),
        ("{".into(), "service config: not valid JSON"),
        (
            r#"{"methodConfig": {}}"#.into(),
            "methodConfig: must be an array, got an object",
        ),
        (
            r#"{"methodConfig": [{"name": [{"method": "M"}]}]}"#.into(),
            "methodConfig[0].name[0]: method \"M\" needs a service",
        ),
        (
            r#"{"methodConfig": [{"name": [{"service": "s"}]}, {"name": [{"service": "t"}, {"service": "s"}]}]}"#.into(),
            "methodConfig[1].name[1]: duplicate name \"s\"",
        ),
        (
            r#"{"methodConfig": [{"name": [{}]}, {"name": [{"service": ""}]}]}"#.into(),
            "methodConfig[1].name[0]: duplicate name {} (the default for all methods)",
        ),
        (
            r#"{"methodConfig": [{"name": [{"service": 7}]}]}"#.into(),
            "methodConfig[0].name[0].service: must be a string, got a number",
        ),
        (
            r#"{"methodConfig": [{"timeout": "1"}]}"#.into(),
            "methodConfig[0].timeout: must be a non-negative duration in seconds such as \"1.5s\", got \"1\"",
        ),
        (
            r#"{"methodConfig": [{"timeout": "-1s"}]}"#.into(),
            "methodConfig[0].timeout: must be a non-negative duration",
        ),
        (
            r#"{"methodConfig": [{"waitForReady": "yes"}]}"#.into(),
            "methodConfig[0].waitForReady: must be true or false, got a string",
        ),
        (
            r#"{"methodConfig": [{"maxRequestMessageBytes": -1}]}"#.into(),
            "methodConfig[0].maxRequestMessageBytes: must be a non-negative integer, got -1",
        ),
        (
            r#"{"methodConfig": [{"maxResponseMessageBytes": "lots"}]}"#.into(),
            "methodConfig[0].maxResponseMessageBytes: must be a non-negative integer, got \"lots\"",
        ),
        (
            retry("maxAttempts", "1"),
            "methodConfig[0].retryPolicy.maxAttempts: must be at least 2, got 1",
        ),
        (
            retry("maxAttempts", "null"),
            "methodConfig[0].retryPolicy: maxAttempts is required",
        ),
        (
            retry("initialBackoff", "\"0s\""),
            "methodConfig[0].retryPolicy.initialBackoff: must be greater than 0s",
        ),
        (
            retry("maxBackoff", "null"),
            "methodConfig[0].retryPolicy: maxBackoff is required",
        ),
        (
            retry("maxBackoff", "\"1m\""),
            "methodConfig[0].retryPolicy.maxBackoff: must be a non-negative duration",
        ),
        (
            retry("backoffMultiplier", "0"),
            "methodConfig[0].retryPolicy.backoffMultiplier: must be greater than 0, got 0",
        ),
        (
            retry("retryableStatusCodes", "[]"),
            "methodConfig[0].retryPolicy.retryableStatusCodes: must name at least one status code",
        ),
        (
            retry("retryableStatusCodes", "[\"UNAVAILABLE\", \"SOMETIMES\"]"),
            "methodConfig[0].retryPolicy.retryableStatusCodes[1]: must be a status code name such as \"UNAVAILABLE\" or a number 0-16, got \"SOMETIMES\"",
        ),
        (
            retry("retryableStatusCodes", "[17]"),
            "methodConfig[0].retryPolicy.retryableStatusCodes[0]: must be a status code",
        ),
        (
            retry("retryableStatusCodes", "[\"OK\"]"),
            "methodConfig[0].retryPolicy.retryableStatusCodes[0]: OK is not a failure",
        ),
        (
            r#"{"methodConfig": [{"retryPolicy": {}, "hedgingPolicy": {}}]}"#.into(),
            "methodConfig[0].hedgingPolicy: a methodConfig may have a retryPolicy or a hedgingPolicy, not both",
        ),
        (
            r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": 0}}]}"#.into(),
            "methodConfig[0].hedgingPolicy.maxAttempts: must be at least 2, got 0",
        ),
        (
            r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": 1}}]}"#.into(),
            "methodConfig[0].hedgingPolicy.hedgingDelay: must be a string, got a number",
        ),
        (
            r#"{"methodConfig": [{"hedgingPolicy": {"maxAttempts": 2, "nonFatalStatusCodes": "UNAVAILABLE"}}]}"#.into(),
            "methodConfig[0].hedgingPolicy.nonFatalStatusCodes: must be an array, got a string",
        ),
        (
            r#"{"loadBalancingConfig": [{"grpclb": {}}, {"xds": {}}]}"#.into(),
            "loadBalancingConfig: none of the policies [\"grpclb\", \"xds\"] is supported",
        ),
        (
            r#"{"loadBalancingConfig": [{"round_robin": {}, "pick_first": {}}]}"#.into(),
            "loadBalancingConfig[0]: must have exactly one field, the policy's name, got 2",
        ),
        (
            r#"{"loadBalancingPolicy": "weighted"}"#.into(),
            "loadBalancingPolicy: unsupported policy \"weighted\"",
        ),
        (
            r#"{"retryThrottling": {"maxTokens": 0, "tokenRatio": 1}}"#.into(),
            "retryThrottling.maxTokens: must be greater than 0 and at most 1000, got 0",
        ),
        (
            r#"{"retryThrottling": {"maxTokens": 1001, "tokenRatio": 1}}"#.into(),
            "retryThrottling.maxTokens: must be greater than 0 and at most 1000, got 1001",
        ),
        (
            r#"{"retryThrottling": {"maxTokens": 10, "tokenRatio": -0.5}}"#.into(),
            "retryThrottling.tokenRatio: must be greater than 0, got -0.5",
        ),
        (
            r#"{"retryThrottling": {"maxTokens": 10}}"#.into(),
            "retryThrottling: tokenRatio is required",
        ),
        (
            r#"{"healthCheckConfig": {"serviceName": ["a"]}}"#.into(),
            "healthCheckConfig.serviceName: must be a string, got an array",
        ),
    ];
    let mut wrong = Vec::new();
    for (json, expected) in &cases {
        match ServiceConfig::from_json(json) {
            Ok(_) => wrong.push(format!("{json}\n  loaded; expected error {expected:?}")),
            Err(err) if !err.to_string().starts_with(expected) => {
                wrong.push(format!("{json}\n  error {err}\n  expected {expected}"))
            }
            Err(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn a_method_s_own_config_wins_over_its_service_s_and_the_default() {
    let service = Scripted::new(|_| Step::Succeed);
    let server = Running::start(service.clone()).await;
    let timeouts = config(
        r#"{"methodConfig": [
          {"name": [{}], "timeout": "300s"},
          {"name": [{"service": "hello.HelloService"}], "timeout": "200s"},
          {"name": [{"service": "hello.HelloService", "method": "SayHello"}], "timeout": "100s"}
        ]}"#,
    );
    let (client, _) = client_with(&server, timeouts, None).await;
    bounded("unary", client.say_hello(greeting("a")))
        .await
        .unwrap();
    let requests = rgrpc::stream::iter([greeting("b")]);
    bounded("client streaming", client.lots_of_greetings(requests))
        .await
        .unwrap();
    let left: Vec<_> = service
        .seen()
        .iter()
        .map(|seen| seen.time_remaining.unwrap())
        .collect();
    assert!(
        left[0] <= Duration::from_secs(100),
        "the method's: {left:?}"
    );
    assert!(
        left[1] > Duration::from_secs(100) && left[1] <= Duration::from_secs(200),
        "the service's: {left:?}"
    );
}

#[tokio::test]
async fn the_config_s_message_limits_apply_unless_the_call_sets_its_own() {
    let service = Scripted::new(|_| Step::Succeed);
    let server = Running::start(service.clone()).await;
    let limits = config(r#"{"methodConfig": [{"name": [{}], "maxRequestMessageBytes": 10}]}"#);
    let (client, _) = client_with(&server, limits, None).await;
    let big = greeting("a greeting longer than ten bytes");
    assert_fails(
        "over the config's limit",
        client.say_hello(big.clone()),
        Code::ResourceExhausted,
        "",
    )
    .await;
    bounded(
        "under the call's own limit",
        client.say_hello(big).max_request_message_size(1000),
    )
    .await
    .unwrap();
    assert_eq!(service.calls(), 1, "the refused request never left");
}

#[tokio::test]
async fn wait_for_ready_from_the_config_waits_for_the_server_until_the_deadline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let waiting =
        config(r#"{"methodConfig": [{"name": [{}], "waitForReady": true, "timeout": "0.3s"}]}"#);
    let channel = rgrpc::Channel::builder(format!("http://{addr}"))
        .service_config(waiting)
        .connect_lazy()
        .unwrap();
    let client = rgrpc_tests::hello::hello_service_client::HelloServiceClient::new(channel);
    assert_fails(
        "waiting call",
        client.say_hello(greeting("a")),
        Code::DeadlineExceeded,
        "",
    )
    .await;
    let fail_fast = client
        .say_hello(greeting("a"))
        .wait_for_ready(false)
        .timeout(LIMIT);
    assert_fails("the call's own choice", fail_fast, Code::Unavailable, "").await;
}
