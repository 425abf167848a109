//! gRPC-Web on rgrpc's server, over HTTP/1.1 and HTTP/2, read byte by byte with clients of
//! our own (a plain HTTP/1.1 client over TCP, and h2): the same generated handlers answer,
//! the trailers arrive as the last frame of the body, the text form is base64 both ways
//! (split and separately padded chunks included), and bad input gets an exact answer while
//! the server keeps serving. (buf curl and connect-node drive gRPC-Web in `interop/`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rgrpc::Code;
use rgrpc_tests::hello::HelloResponse;
use support::greeter::server;
use support::greeting;
use support::http1::{Http1, frames, post, trailer_lines};
use support::raw::{Raw, frame, request_to};

const SAY_HELLO: &str = "/hello.HelloService/SayHello";
const LOTS_OF_REPLIES: &str = "/hello.HelloService/LotsOfReplies";

const WEB: (&str, &str) = ("content-type", "application/grpc-web+proto");
const WEB_TEXT: (&str, &str) = ("content-type", "application/grpc-web-text");

/// Asserts `frames` end with a trailers frame whose `grpc-status` is `code`; its lines.
#[track_caller]
fn assert_trailers(frames: &[(u8, Vec<u8>)], code: Code) -> Vec<(String, String)> {
    let (flag, payload) = frames.last().expect("a trailers frame");
    assert_eq!(*flag, 0x80, "{frames:?}");
    let lines = trailer_lines(payload);
    let status = lines.iter().find(|(n, _)| n == "grpc-status").unwrap();
    assert_eq!(status.1, (code as i32).to_string(), "{lines:?}");
    lines
}

/// Asserts a call that ended before any message: gRPC-Web's trailers-only form, the
/// status and trailers in the headers and an empty body.
#[track_caller]
fn assert_trailers_only(answer: &Http1, code: Code) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.is_empty(), "{answer:?}");
    assert_eq!(
        answer.header("grpc-status"),
        Some((code as i32).to_string().as_str()),
        "{answer:?}"
    );
}

fn reply_of(payload: &[u8]) -> String {
    use prost::Message as _;
    HelloResponse::decode(payload).unwrap().reply
}

#[tokio::test]
async fn unary_and_server_streaming_over_http1() {
    let server = server().await;
    let answer = post(&server, SAY_HELLO, &[WEB], &[&frame(&greeting("web"))]).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/grpc-web+proto")
    );
    let frames = answer.frames();
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(
        (frames[0].0, reply_of(&frames[0].1)),
        (0, "Hello, web!".to_owned())
    );
    assert_trailers(&frames, Code::Ok);

    let answer = post(&server, LOTS_OF_REPLIES, &[WEB], &[&frame(&greeting("x"))]).await;
    let frames = answer.frames();
    let replies: Vec<String> = frames[..3].iter().map(|(_, p)| reply_of(p)).collect();
    assert_eq!(replies, ["1 x", "2 x", "3 x"]);
    assert_trailers(&frames, Code::Ok);
}

#[tokio::test]
async fn errors_carry_status_message_and_trailers() {
    let server = server().await;
    // A stream failing after its messages: the trailers frame ends the body.
    let answer = post(
        &server,
        LOTS_OF_REPLIES,
        &[WEB],
        &[&frame(&greeting("fail"))],
    )
    .await;
    let frames = answer.frames();
    assert_eq!(frames.len(), 4, "{answer:?}");
    let lines = assert_trailers(&frames, Code::Aborted);
    let get = |name: &str| {
        lines
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("grpc-message"), Some("stopped%20after%203"));
    assert_eq!(get("x-why"), Some("asked to"));

    // A unary call failing before any message: trailers-only, in the headers.
    let answer = post(&server, SAY_HELLO, &[WEB], &[&frame(&greeting("fail"))]).await;
    assert_trailers_only(&answer, Code::FailedPrecondition);
    assert_eq!(answer.header("grpc-message"), Some("failing%20as%20asked"));
    assert_eq!(answer.header("x-why"), Some("asked to"));

    // An unknown method is answered at once: the status in the headers, no body.
    let answer = post(
        &server,
        "/hello.HelloService/Nope",
        &[WEB],
        &[&frame(&greeting("x"))],
    )
    .await;
    assert_trailers_only(&answer, Code::Unimplemented);
}

#[tokio::test]
async fn the_deadline_of_grpc_timeout_holds_over_http1() {
    let server = server().await;
    let answer = post(
        &server,
        SAY_HELLO,
        &[WEB, ("grpc-timeout", "50m")],
        &[&frame(&greeting("sleep"))],
    )
    .await;
    assert_trailers_only(&answer, Code::DeadlineExceeded);
}

#[tokio::test]
async fn the_text_form_is_base64_both_ways_in_split_padded_chunks() {
    let server = server().await;
    // Two separately encoded halves of one frame, each padded, sent as two chunks.
    let request = frame(&greeting("text"));
    let (first, second) = request.split_at(4);
    let first = STANDARD.encode(first);
    let second = STANDARD.encode(second);
    let answer = post(
        &server,
        SAY_HELLO,
        &[WEB_TEXT],
        &[first.as_bytes(), second.as_bytes()],
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/grpc-web-text+proto")
    );
    // The answer may come as several separately padded pieces: decode each quantum.
    let body: Vec<u8> = answer
        .body
        .chunks(4)
        .flat_map(|quantum| STANDARD.decode(quantum).unwrap())
        .collect();
    let frames = frames(&body);
    assert_eq!(reply_of(&frames[0].1), "Hello, text!");
    assert_trailers(&frames, Code::Ok);
}

#[tokio::test]
async fn bad_base64_is_invalid_argument_and_the_server_keeps_serving() {
    let server = server().await;
    let answer = post(&server, SAY_HELLO, &[WEB_TEXT], &[b"AAAA*AAA"]).await;
    assert_trailers_only(&answer, Code::InvalidArgument);
    let message = answer.header("grpc-message").unwrap();
    assert_eq!(
        message,
        "grpc-web-text:%20the%20request%20body:%20'*'%20at%20character%204%20is%20not%20base64"
    );
    let answer = post(&server, SAY_HELLO, &[WEB], &[&frame(&greeting("again"))]).await;
    assert_eq!(reply_of(&answer.frames()[0].1), "Hello, again!");
}

#[tokio::test]
async fn grpc_over_http1_is_505_and_an_unknown_content_type_is_415() {
    let server = server().await;
    let answer = post(
        &server,
        SAY_HELLO,
        &[("content-type", "application/grpc")],
        &[&frame(&greeting("x"))],
    )
    .await;
    assert_eq!(answer.status, 505, "{answer:?}");
    assert!(
        answer
            .header("grpc-message")
            .unwrap()
            .starts_with("gRPC%20needs%20HTTP/2"),
        "{answer:?}"
    );
    let answer = post(
        &server,
        SAY_HELLO,
        &[("content-type", "application/grpc-web+json")],
        &[b"{}"],
    )
    .await;
    assert_eq!(answer.status, 415, "{answer:?}");
    assert!(
        answer
            .header("grpc-message")
            .unwrap()
            .contains("application/grpc-web-text+proto"),
        "names what is accepted: {answer:?}"
    );
}

#[tokio::test]
async fn grpc_web_over_http2_answers_the_same_with_no_http_trailers() {
    let server = server().await;
    let mut raw = Raw::connect(server.addr).await;
    let mut request = request_to(SAY_HELLO, &[]);
    request
        .headers_mut()
        .insert("content-type", "application/grpc-web".parse().unwrap());
    let answer = raw.exchange(request, &frame(&greeting("h2"))).await;
    assert_eq!(answer.http_status, http::StatusCode::OK);
    assert_eq!(answer.trailers, None, "{answer:?}");
    let frames = answer.frames();
    assert_eq!(reply_of(&frames[0].1), "Hello, h2!");
    assert_trailers(&frames, Code::Ok);
}
