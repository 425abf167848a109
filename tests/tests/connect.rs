//! The Connect protocol on rgrpc's server, read byte by byte with a plain HTTP/1.1 client:
//! unary calls are a bare message each way with the status in the HTTP status and a JSON
//! error, trailers travel as `trailer-` headers, streams end with the end-of-stream
//! envelope, and `connect-timeout-ms` is the deadline. (buf curl and connect-node drive
//! Connect in `interop/`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use prost::Message as _;
use rgrpc_tests::hello::HelloResponse;
use serde_json::Value;
use support::greeter::server;
use support::greeting;
use support::http1::{envelope, frames, gunzip, gzip, post};

const SAY_HELLO: &str = "/hello.HelloService/SayHello";
const LOTS_OF_REPLIES: &str = "/hello.HelloService/LotsOfReplies";
const PROTO: (&str, &str) = ("content-type", "application/proto");
const STREAM: (&str, &str) = ("content-type", "application/connect+proto");

fn message(text: &str) -> Vec<u8> {
    greeting(text).encode_to_vec()
}

fn json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|err| panic!("{err}: {body:?}"))
}

#[tokio::test]
async fn unary_is_a_bare_message_each_way() {
    let server = server().await;
    let answer = post(&server, SAY_HELLO, &[PROTO], &[&message("connect")]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/proto"));
    assert_eq!(
        HelloResponse::decode(answer.body.as_slice()).unwrap().reply,
        "Hello, connect!"
    );
    // Sent in chunks with no content-length: read whole, then served.
    let request = message("chunked");
    let (a, b) = request.split_at(3);
    let answer = post(&server, SAY_HELLO, &[PROTO], &[a, b]).await;
    assert_eq!(
        HelloResponse::decode(answer.body.as_slice()).unwrap().reply,
        "Hello, chunked!"
    );
}

#[tokio::test]
async fn unary_errors_are_the_connect_http_status_and_json_with_trailers_as_headers() {
    let server = server().await;
    let answer = post(&server, SAY_HELLO, &[PROTO], &[&message("fail")]).await;
    assert_eq!(answer.status, 400, "failed_precondition is 400: {answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"code": "failed_precondition", "message": "failing as asked"})
    );
    assert_eq!(answer.header("x-why"), Some("asked to"), "{answer:?}");

    let answer = post(
        &server,
        "/hello.HelloService/Nope",
        &[PROTO],
        &[&message("x")],
    )
    .await;
    assert_eq!(answer.status, 501, "{answer:?}");
    assert_eq!(json(&answer.body)["code"], "unimplemented");
}

#[tokio::test]
async fn connect_timeout_ms_is_the_deadline() {
    let server = server().await;
    let answer = post(
        &server,
        SAY_HELLO,
        &[PROTO, ("connect-timeout-ms", "50")],
        &[&message("sleep")],
    )
    .await;
    assert_eq!(answer.status, 504, "{answer:?}");
    assert_eq!(json(&answer.body)["code"], "deadline_exceeded");

    let answer = post(
        &server,
        SAY_HELLO,
        &[PROTO, ("connect-timeout-ms", "soon")],
        &[&message("x")],
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert_eq!(
        json(&answer.body),
        serde_json::json!({
            "code": "invalid_argument",
            "message": "malformed connect-timeout-ms \"soon\": expected 1 to 10 digits, in milliseconds"
        })
    );
}

#[tokio::test]
async fn a_stream_ends_with_the_end_of_stream_envelope() {
    let server = server().await;
    let mut request = vec![0, 0, 0, 0, 0];
    let payload = message("s");
    request[1..5].copy_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    request.extend_from_slice(&payload);

    let answer = post(&server, LOTS_OF_REPLIES, &[STREAM], &[&request]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/connect+proto")
    );
    let replies_frames = frames(&answer.body);
    let replies: Vec<String> = replies_frames[..3]
        .iter()
        .map(|(_, payload)| HelloResponse::decode(payload.as_slice()).unwrap().reply)
        .collect();
    assert_eq!(replies, ["1 s", "2 s", "3 s"]);
    assert_eq!(replies_frames[3].0, 0x02);
    assert_eq!(json(&replies_frames[3].1), serde_json::json!({}));

    let payload = message("fail");
    let mut request = vec![0];
    request.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    request.extend_from_slice(&payload);
    let answer = post(&server, LOTS_OF_REPLIES, &[STREAM], &[&request]).await;
    let failed = frames(&answer.body);
    assert_eq!(failed.len(), 4, "{answer:?}");
    assert_eq!(
        json(&failed[3].1),
        serde_json::json!({
            "error": {"code": "aborted", "message": "stopped after 3"},
            "metadata": {"x-why": ["asked to"]}
        })
    );
}

#[tokio::test]
async fn bidi_over_http1_is_refused_not_left_to_hang() {
    let server = server().await;
    let mut request = vec![0];
    let payload = message("b");
    request.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    request.extend_from_slice(&payload);
    let answer = post(
        &server,
        "/hello.HelloService/BidiHello",
        &[STREAM],
        &[&request],
    )
    .await;
    let end = frames(&answer.body);
    assert_eq!(end.len(), 1, "{answer:?}");
    assert_eq!(
        json(&end[0].1)["error"],
        serde_json::json!({
            "code": "unimplemented",
            "message": "/hello.HelloService/BidiHello is a bidi stream, which needs HTTP/2; \
                        this request came over HTTP/1.1"
        })
    );
}

#[tokio::test]
async fn protocols_turned_off_are_415_and_no_longer_listed() {
    use rgrpc_tests::hello::hello_service_server::HelloServiceServer;
    let router = rgrpc::Server::builder()
        .grpc_web(false)
        .connect(false)
        .add_service(HelloServiceServer::new(support::greeter::Greeter));
    let server = support::Running::serve(router).await;
    for content_type in ["application/proto", "application/grpc-web"] {
        let answer = post(
            &server,
            SAY_HELLO,
            &[("content-type", content_type)],
            &[&message("x")],
        )
        .await;
        assert_eq!(answer.status, 415, "{content_type}: {answer:?}");
        let listed = answer.header("grpc-message").unwrap();
        assert!(
            listed.ends_with("(accepted:%20application/grpc,%20application/grpc+proto%20(HTTP/2))"),
            "{listed}"
        );
    }
}

#[tokio::test]
async fn compression_is_content_encoding_for_unary_and_connect_content_encoding_for_streams() {
    use rgrpc_tests::hello::hello_service_server::HelloServiceServer;
    let router = rgrpc::Server::builder()
        .response_compression(
            rgrpc::server::ResponseCompression::new().all(Some(rgrpc::Compression::Gzip)),
        )
        .add_service(HelloServiceServer::new(support::greeter::Greeter));
    let server = support::Running::serve(router).await;

    // Unary: the request body gzipped whole, the answer gzipped for a client accepting it.
    let answer = post(
        &server,
        SAY_HELLO,
        &[
            PROTO,
            ("content-encoding", "gzip"),
            ("accept-encoding", "gzip"),
        ],
        &[&gzip(&message("zipped"))],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-encoding"),
        Some("gzip"),
        "{answer:?}"
    );
    let reply = HelloResponse::decode(gunzip(&answer.body).as_slice()).unwrap();
    assert_eq!(reply.reply, "Hello, zipped!");

    // A stream: each envelope flagged compressed, the encoding named once.
    let payload = gzip(&message("s"));
    let mut request = vec![0x01];
    request.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    request.extend_from_slice(&payload);
    let answer = post(
        &server,
        LOTS_OF_REPLIES,
        &[
            STREAM,
            ("connect-content-encoding", "gzip"),
            ("connect-accept-encoding", "gzip"),
        ],
        &[&request],
    )
    .await;
    assert_eq!(
        answer.header("connect-content-encoding"),
        Some("gzip"),
        "{answer:?}"
    );
    let received = frames(&answer.body);
    assert_eq!(received[0].0, 0x01, "compressed: {received:?}");
    let first = HelloResponse::decode(gunzip(&received[0].1).as_slice()).unwrap();
    assert_eq!(first.reply, "1 s");
    assert_eq!(received.last().unwrap().0, 0x02);
}

// ---------------------------------------------------------------------------------------
// Bad input: each gets an exact answer, and the server keeps serving.

async fn assert_still_serving(server: &support::Running) {
    let answer = post(server, SAY_HELLO, &[PROTO], &[&message("still")]).await;
    assert_eq!(
        HelloResponse::decode(answer.body.as_slice()).unwrap().reply,
        "Hello, still!",
        "{answer:?}"
    );
}

#[tokio::test]
async fn a_body_ending_inside_an_envelope_fails_the_call_in_connect_and_grpc_web() {
    let server = server().await;
    let whole = envelope(0, &message("cut short"));
    let cut = &whole[..whole.len() - 4];
    // The inbox counts the bytes of the envelope that arrived, its prefix included.
    let expected = format!(
        "the request stream ended inside a message: {} bytes of it arrived (Unexpected EOF \
         decoding stream)",
        cut.len()
    );

    // A Connect stream: the end-of-stream message carries the error.
    let answer = post(&server, LOTS_OF_REPLIES, &[STREAM], &[cut]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let received = frames(&answer.body);
    assert_eq!(received.len(), 1, "{answer:?}");
    assert_eq!(received[0].0, 0x02);
    assert_eq!(
        json(&received[0].1),
        serde_json::json!({"error": {"code": "internal", "message": expected}})
    );
    // The same in JSON: the envelope goes on as it came, and is refused the same way.
    let cut_json = &envelope(0, br#"{"greeting": "cut short"}"#)[..20];
    let answer = post(
        &server,
        LOTS_OF_REPLIES,
        &[("content-type", "application/connect+json")],
        &[cut_json],
    )
    .await;
    let received = frames(&answer.body);
    assert_eq!(
        json(&received[0].1)["error"]["message"],
        "the request stream ended inside a message: 20 bytes of it arrived (Unexpected EOF \
         decoding stream)"
    );

    // gRPC-Web: no message went out, so the status is in the headers (trailers-only).
    let answer = post(
        &server,
        LOTS_OF_REPLIES,
        &[("content-type", "application/grpc-web+proto")],
        &[cut],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.is_empty(), "{answer:?}");
    assert_eq!(answer.header("grpc-status"), Some("13"), "{answer:?}");
    assert_eq!(
        answer.header("grpc-message"),
        Some(expected.replace(' ', "%20").as_str()),
        "{answer:?}"
    );
    assert_still_serving(&server).await;
}

#[tokio::test]
async fn a_message_over_the_limit_is_resource_exhausted_unary_and_streaming() {
    use rgrpc_tests::hello::hello_service_server::HelloServiceServer;
    let router = rgrpc::Server::builder()
        .max_request_message_size(64)
        .add_service(HelloServiceServer::new(support::greeter::Greeter));
    let server = support::Running::serve(router).await;
    let big = message(&"x".repeat(100));
    let expected = format!(
        "the request message of {} bytes exceeds the server's max_request_message_size of 64 \
         bytes",
        big.len()
    );

    let answer = post(&server, SAY_HELLO, &[PROTO], &[&big]).await;
    assert_eq!(answer.status, 429, "{answer:?}");
    assert_eq!(
        json(&answer.body),
        serde_json::json!({"code": "resource_exhausted", "message": expected})
    );

    let answer = post(&server, LOTS_OF_REPLIES, &[STREAM], &[&envelope(0, &big)]).await;
    let received = frames(&answer.body);
    assert_eq!(
        json(&received.last().unwrap().1),
        serde_json::json!({"error": {"code": "resource_exhausted", "message": expected}})
    );
    assert_still_serving(&server).await;
}
