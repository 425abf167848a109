//! The runtime under hostile HTTP/2 peers.
//!
//! A raw HTTP/2 client (the `h2` crate, tonic's own) sends what no gRPC client would: broken
//! framing, lying length prefixes, bad headers, huge metadata, streams it never reads,
//! connections it drops mid-call. Each case asserts the exact answer (HTTP status,
//! `grpc-status`, and what `grpc-message` says), and that a normal call on another
//! connection is still served while or after the hostile one runs. Message size limits
//! are `size_limits.rs`'s.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use prost::Message;
use rgrpc::Code;
use support::hostile_service::{LOTS_OF_GREETINGS, LOTS_OF_REPLIES, SAY_HELLO, Serving, hostile};
use support::raw::{Raw, frame, frame_with, read_answer, request_to};
use support::{bounded, greeting};

// ---------------------------------------------------------------------------------------
// Broken framing and bad message bytes.

#[tokio::test]
async fn a_length_prefix_longer_than_the_body_is_internal() {
    let (service, _, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    // Claims 100 bytes, sends 4, then ends the stream.
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[]),
            &frame_with(0, 100, b"\x0a\x02hi"),
        )
        .await;
    answer.assert_status(Code::Internal, "Unexpected EOF");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_truncated_prefix_at_the_end_of_the_stream_is_internal() {
    let (service, _, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    for truncated in [&[0u8][..], &[0, 0], &[0, 0, 0, 0]] {
        let answer = raw.exchange(request_to(SAY_HELLO, &[]), truncated).await;
        answer.assert_status(Code::Internal, "Unexpected EOF");
    }
    // After a whole message, a truncated one: still refused, not served as one request.
    let mut body = frame(&greeting("one"));
    body.extend_from_slice(&[0, 0]);
    let answer = raw.exchange(request_to(SAY_HELLO, &[]), &body).await;
    answer.assert_status(Code::Internal, "Unexpected EOF");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn the_compressed_flag_without_grpc_encoding_is_internal() {
    let (service, _, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    let payload = greeting("zipped?").encode_to_vec();
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[]),
            &frame_with(1, payload.len() as u32, &payload),
        )
        .await;
    answer.assert_status(Code::Internal, "compressed-flag but no grpc-encoding");
    // A flag that is neither 0 nor 1.
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[]),
            &frame_with(7, payload.len() as u32, &payload),
        )
        .await;
    answer.assert_status(Code::Internal, "invalid compression flag");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn an_unknown_grpc_encoding_is_unimplemented_with_the_supported_ones() {
    let (service, seen, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[("grpc-encoding", "snappy")]),
            &frame(&greeting("x")),
        )
        .await;
    answer.assert_status(Code::Unimplemented, "snappy");
    let accepted = answer.headers.get("grpc-accept-encoding").unwrap();
    assert!(accepted.to_str().unwrap().contains("gzip"), "{answer:?}");
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 0);
    server.assert_still_serving().await;
}

#[tokio::test]
async fn invalid_protobuf_bytes_are_internal() {
    let (service, seen, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    let cases: [(&[u8], &str); 4] = [
        // Field 1 says 100 bytes follow; 2 do.
        (b"\x0a\x64hi", "failed to decode Protobuf message"),
        // Wire type 7 does not exist.
        (b"\x0f", "invalid wire type"),
        // A string field that is not UTF-8.
        (b"\x0a\x02\xff\xfe", "not UTF-8"),
        // An unknown field 2 whose varint runs to 11 bytes.
        (
            b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01",
            "invalid varint",
        ),
    ];
    for (payload, words) in cases {
        let body = frame_with(0, payload.len() as u32, payload);
        let answer = raw.exchange(request_to(SAY_HELLO, &[]), &body).await;
        answer.assert_status(Code::Internal, words);
    }
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 0);
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_broken_request_stream_fails_the_call_even_if_the_handler_answers_ok() {
    let (service, _, mut events) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    // Two good greetings, then bytes that are no protobuf.
    let mut body = frame(&greeting("a"));
    body.extend(frame(&greeting("b")));
    body.extend(frame_with(0, 1, b"\x0f"));
    let answer = raw
        .exchange(request_to(LOTS_OF_GREETINGS, &[]), &body)
        .await;
    // The handler counted 2 and returned OK: the client must not see "2 greetings", OK.
    answer.assert_status(Code::Internal, "invalid wire type");
    assert!(answer.messages().is_empty(), "{answer:?}");
    for expected in ["greeting", "greeting", "greetings broken"] {
        assert_eq!(
            bounded("handler event", events.recv()).await,
            Some(expected)
        );
    }
    server.assert_still_serving().await;
}

// ---------------------------------------------------------------------------------------
// Bad headers.

#[tokio::test]
async fn a_wrong_content_type_is_http_415() {
    let (service, seen, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    for content_type in [
        "application/xml",
        "application/grpc-web+json",
        "text/plain",
        "",
    ] {
        let mut request = request_to(SAY_HELLO, &[]);
        request
            .headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        let answer = raw.exchange(request, &frame(&greeting("x"))).await;
        assert_eq!(
            answer.http_status,
            http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}: {answer:?}"
        );
        assert_eq!(
            answer.grpc_status(),
            Some(Code::InvalidArgument),
            "{answer:?}"
        );
        assert!(
            answer.grpc_message().starts_with(&format!(
                "content-type \"{content_type}\" is not served (accepted: application/grpc, "
            )),
            "{answer:?}"
        );
    }
    // No content-type at all.
    let mut request = request_to(SAY_HELLO, &[]);
    request.headers_mut().remove("content-type");
    let answer = raw.exchange(request, &frame(&greeting("x"))).await;
    assert_eq!(answer.http_status, http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 0);
    // gRPC's own variants are served.
    for content_type in ["application/grpc+proto", "application/grpc;charset=utf-8"] {
        let mut request = request_to(SAY_HELLO, &[]);
        request
            .headers_mut()
            .insert("content-type", content_type.parse().unwrap());
        let answer = raw.exchange(request, &frame(&greeting("x"))).await;
        answer.assert_status(Code::Ok, "");
        assert_eq!(answer.messages(), ["hello x"]);
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn malformed_grpc_timeouts_are_internal() {
    let (service, seen, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    for timeout in [
        "",
        "S",
        "100",
        "123456789S",
        "10x",
        "-1S",
        "1.5S",
        " 1S",
        "1s",
        "0x10S",
    ] {
        let answer = raw
            .exchange(
                request_to(SAY_HELLO, &[("grpc-timeout", timeout)]),
                &frame(&greeting("x")),
            )
            .await;
        answer.assert_status(
            Code::Internal,
            &format!("malformed grpc-timeout \"{timeout}\""),
        );
    }
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 0);
    // The longest valid timeout (over 11,000 years) is no reason to fail.
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[("grpc-timeout", "99999999H")]),
            &frame(&greeting("x")),
        )
        .await;
    answer.assert_status(Code::Ok, "");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_timeout_too_long_to_be_a_deadline_is_no_deadline() {
    let (service, _, _) = hostile();
    let server = Serving::start(service).await;
    let client = server.client().await;
    let response = bounded(
        "a call with Duration::MAX",
        client.say_hello(greeting("x")).timeout(Duration::MAX),
    )
    .await
    .unwrap();
    assert_eq!(response.get_ref().reply, "hello x");
}

#[tokio::test]
async fn oversized_metadata_is_refused_and_the_server_keeps_serving() {
    let (service, seen, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    // Over the server's header list limit (16 KiB by default): the stream is
    // refused with HTTP 431, and the connection stays usable.
    let big = "v".repeat(20 * 1024);
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[("x-big", big.as_str())]),
            &frame(&greeting("x")),
        )
        .await;
    assert_eq!(
        answer.http_status,
        http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "{answer:?}"
    );
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 0);
    let answer = raw
        .exchange(request_to(SAY_HELLO, &[]), &frame(&greeting("again")))
        .await;
    answer.assert_status(Code::Ok, "");
    assert_eq!(answer.messages(), ["hello again"]);

    // Far over it (many small headers adding up to 1 MiB): the call fails, with a 431 or
    // the connection refused (GOAWAY), and nothing reaches the handler.
    let mut raw = Raw::connect(server.addr).await;
    let mut request = request_to(SAY_HELLO, &[]);
    let value: http::HeaderValue = "w".repeat(1000).parse().unwrap();
    for i in 0..1024 {
        let name: http::HeaderName = format!("x-many-{i}").parse().unwrap();
        request.headers_mut().insert(name, value.clone());
    }
    match raw.open(request, &frame(&greeting("x")), true).await {
        Ok((response, _stream)) => match read_answer(response).await {
            Ok(answer) => assert_eq!(
                answer.http_status,
                http::StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "{answer:?}"
            ),
            // h2 answers a header block this far over the limit with GOAWAY.
            Err(error) => assert!(error.is_go_away(), "{error:?}"),
        },
        Err(error) => assert!(error.is_go_away() || error.is_io(), "{error:?}"),
    }
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 1);
    server.assert_still_serving().await;
}

// ---------------------------------------------------------------------------------------
// Clients that never read, and clients that vanish.

/// Waits until `count` stops changing (the same for 10 looks 50 ms apart), and returns it.
async fn settled(count: &AtomicUsize) -> usize {
    bounded("the count to settle", async {
        let mut last = count.load(Ordering::SeqCst);
        let mut unchanged = 0;
        while unchanged < 10 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let now = count.load(Ordering::SeqCst);
            if now == last {
                unchanged += 1;
            } else {
                (last, unchanged) = (now, 0);
            }
        }
        last
    })
    .await
}

#[tokio::test]
async fn a_client_that_never_reads_cannot_make_the_server_buffer() {
    const CALLS: usize = 8;
    let (service, seen, mut events) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    // Eight server-streaming calls on one connection, none of them ever read: h2's
    // default windows (64 KiB per stream and per connection) are never replenished.
    let mut calls = Vec::new();
    for _ in 0..CALLS {
        let (response, stream) = raw
            .open(
                request_to(LOTS_OF_REPLIES, &[]),
                &frame(&greeting("flood")),
                true,
            )
            .await
            .unwrap();
        calls.push((response, stream));
    }
    bounded("every flood handler to start", async {
        while seen.flood_started.load(Ordering::SeqCst) < CALLS {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let sent = settled(&seen.flood_sent).await;
    // What flow control lets through: 64 KiB on the wire, plus per call the runtime's
    // outbox (32 KiB, about 32 messages of 1 KiB) and what hyper and h2 hold (about one
    // chunk): about 600 messages of 1 KiB at most (measured: 320), against the 80,000 the
    // handlers tried.
    // Bounded with room to spare: a regression buffers thousands.
    assert!(
        sent < CALLS * 100,
        "{sent} messages sent to a client that reads nothing"
    );
    assert!(sent > 0, "the handlers never sent anything");
    assert_eq!(seen.flood_finished.load(Ordering::SeqCst), 0);
    // Meanwhile, other clients are served.
    server.assert_still_serving().await;
    // The client vanishes: every handler is cancelled, none finishes, and the count stops.
    drop(calls);
    raw.vanish();
    for _ in 0..CALLS {
        assert_eq!(
            bounded("a flood handler's cancellation", events.recv()).await,
            Some("flood cancelled")
        );
    }
    assert_eq!(seen.flood_finished.load(Ordering::SeqCst), 0);
    assert!(seen.flood_sent.load(Ordering::SeqCst) < CALLS * 100);
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_client_vanishing_mid_client_stream_cancels_the_handler() {
    let (service, _, mut events) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    let (_response, mut stream) = raw
        .open(
            request_to(LOTS_OF_GREETINGS, &[]),
            &frame(&greeting("1")),
            false,
        )
        .await
        .unwrap();
    stream
        .send_data(Bytes::from(frame(&greeting("2"))), false)
        .unwrap();
    for _ in 0..2 {
        assert_eq!(bounded("a greeting", events.recv()).await, Some("greeting"));
    }
    raw.vanish();
    // The handler's context is cancelled (its request stream may break first, if it runs
    // before hyper drops it); it never sees the stream end as if complete.
    loop {
        match bounded("the handler's view", events.recv()).await {
            Some("greetings cancelled") => break,
            Some("greetings broken") => continue,
            other => panic!("unexpected: {other:?}"),
        }
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_client_vanishing_mid_server_stream_cancels_the_handler() {
    let (service, _, mut events) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    let (response, _stream) = raw
        .open(
            request_to(LOTS_OF_REPLIES, &[]),
            &frame(&greeting("ticks")),
            true,
        )
        .await
        .unwrap();
    let response = bounded("headers", response).await.unwrap();
    let mut body = response.into_body();
    let first = bounded("first tick", body.data()).await.unwrap().unwrap();
    assert!(!first.is_empty());
    raw.vanish();
    assert_eq!(
        bounded("the handler's cancellation", events.recv()).await,
        Some("ticks cancelled")
    );
    server.assert_still_serving().await;
}
