//! The CORS policy browsers need to call across origins: preflights answered with what the
//! protocols send, answers carrying what they read, and nothing for an origin the policy
//! does not name, nor without a policy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use prost::Message as _;
use rgrpc::server::Cors;
use rgrpc_tests::hello::hello_service_server::HelloServiceServer;
use support::greeter::Greeter;
use support::http1::{post, request};
use support::{Running, greeting};

const SAY_HELLO: &str = "/hello.HelloService/SayHello";
const APP: &str = "https://app.example.com";

async fn server_with(cors: Option<Cors>) -> Running {
    let mut builder = rgrpc::Server::builder();
    if let Some(cors) = cors {
        builder = builder.cors(cors);
    }
    Running::serve(builder.add_service(HelloServiceServer::new(Greeter))).await
}

fn policy() -> Cors {
    Cors::origins([APP])
        .unwrap()
        .allow_headers(["authorization"])
        .unwrap()
        .expose_headers(["x-why"])
        .unwrap()
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_answered_with_the_protocols_headers() {
    let server = server_with(Some(policy())).await;
    let answer = request(
        &server,
        "OPTIONS",
        SAY_HELLO,
        &[
            ("origin", APP),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,connect-protocol-version,connect-timeout-ms,authorization",
            ),
        ],
        &[],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("access-control-allow-origin"), Some(APP));
    let methods = answer.header("access-control-allow-methods").unwrap();
    assert!(
        methods.contains("POST") && methods.contains("GET"),
        "{methods}"
    );
    let allowed = answer.header("access-control-allow-headers").unwrap();
    for name in [
        "content-type",
        "connect-protocol-version",
        "connect-timeout-ms",
        "grpc-timeout",
        "x-grpc-web",
        "authorization",
    ] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    assert_eq!(answer.header("access-control-max-age"), Some("7200"));
}

#[tokio::test]
async fn an_answer_exposes_the_status_headers_to_an_allowed_origin_only() {
    let server = server_with(Some(policy())).await;
    let call = |origin: &'static str| {
        let server = &server;
        async move {
            post(
                server,
                SAY_HELLO,
                &[("origin", origin), ("content-type", "application/proto")],
                &[&greeting("cors").encode_to_vec()],
            )
            .await
        }
    };
    let answer = call(APP).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("access-control-allow-origin"), Some(APP));
    let exposed = answer.header("access-control-expose-headers").unwrap();
    for name in [
        "grpc-status",
        "grpc-message",
        "connect-content-encoding",
        "x-why",
        // A Connect unary answer sends trailers as `trailer-` headers.
        "trailer-x-why",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    // Another origin is served (CORS is the browser's check) but not told it may read.
    let answer = call("https://evil.example.com").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn without_a_policy_no_cors_header_is_sent() {
    let server = server_with(None).await;
    let answer = post(
        &server,
        SAY_HELLO,
        &[("origin", APP), ("content-type", "application/proto")],
        &[&greeting("x").encode_to_vec()],
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), None);
}
