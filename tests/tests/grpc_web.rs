//! gRPC-Web on rgrpc's server, over HTTP/1.1 and HTTP/2, read byte by byte with clients of
//! our own (a plain HTTP/1.1 client over TCP, and h2): the same generated handlers answer,
//! the trailers arrive as the last frame of the body, the text form is base64 both ways
//! (split and separately padded chunks included), and bad input gets an exact answer while
//! the server keeps serving. (buf curl and connect-node drive gRPC-Web in `interop/`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rgrpc::{Code, Context, ResponseSink, Status};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::raw::{Raw, frame, request_to};
use support::{Running, bounded, greeting, reply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SAY_HELLO: &str = "/hello.HelloService/SayHello";
const LOTS_OF_REPLIES: &str = "/hello.HelloService/LotsOfReplies";

/// Says hello; fails on "fail" with a trailer (a stream after its three replies); sleeps on
/// "sleep".
struct Greeter;

impl HelloService for Greeter {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        match request.greeting.as_str() {
            "fail" => {
                let mut trailers = rgrpc::metadata::MetadataMap::new();
                trailers.insert("x-why", "asked to".parse().unwrap());
                ctx.set_trailers(trailers);
                Err(Status::failed_precondition("failing as asked"))
            }
            "sleep" => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(reply("woke up"))
            }
            greeting => Ok(reply(format!("Hello, {greeting}!"))),
        }
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        for n in 1..=3 {
            responses
                .send(reply(format!("{n} {}", request.greeting)))
                .await?;
        }
        if request.greeting == "fail" {
            let mut trailers = rgrpc::metadata::MetadataMap::new();
            trailers.insert("x-why", "asked to".parse().unwrap());
            ctx.set_trailers(trailers);
            return Err(Status::aborted("stopped after 3"));
        }
        Ok(())
    }
}

async fn server() -> Running {
    Running::serve(rgrpc::Server::builder().add_service(HelloServiceServer::new(Greeter))).await
}

/// An HTTP/1.1 response: status, headers (lowercase names), the whole body de-chunked.
#[derive(Debug)]
struct Http1 {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Http1 {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The gRPC-Web frames of a binary body: flag and payload of each.
    fn frames(&self) -> Vec<(u8, Vec<u8>)> {
        frames(&self.body)
    }
}

fn frames(mut rest: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        out.push((rest[0], rest[5..5 + len].to_vec()));
        rest = &rest[5 + len..];
    }
    out
}

/// The trailer lines of a trailers frame, as (name, value).
fn trailer_lines(payload: &[u8]) -> Vec<(String, String)> {
    String::from_utf8(payload.to_vec())
        .unwrap()
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("name: value");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// One HTTP/1.1 POST to `path` with `headers` and `body` sent in `chunks` (chunked
/// transfer encoding when more than one), the connection closed after: the whole answer.
async fn post(server: &Running, path: &str, headers: &[(&str, &str)], chunks: &[&[u8]]) -> Http1 {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let chunked = chunks.len() > 1;
    if chunked {
        head.push_str("transfer-encoding: chunked\r\n\r\n");
    } else {
        let len = chunks.first().map_or(0, |chunk| chunk.len());
        head.push_str(&format!("content-length: {len}\r\n\r\n"));
    }
    tcp.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        if chunked {
            tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .unwrap();
            tcp.write_all(chunk).await.unwrap();
            tcp.write_all(b"\r\n").await.unwrap();
        } else {
            tcp.write_all(chunk).await.unwrap();
        }
        tcp.flush().await.unwrap();
    }
    if chunked {
        tcp.write_all(b"0\r\n\r\n").await.unwrap();
    }
    let mut raw = Vec::new();
    bounded("the HTTP/1.1 response", tcp.read_to_end(&mut raw))
        .await
        .unwrap();
    parse_http1(&raw)
}

fn parse_http1(raw: &[u8]) -> Http1 {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Http1 {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

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
