//! Message size limits, in both directions and on both sides: what the server refuses to
//! read or send, and what a client refuses to send or read, each with the exact status and
//! the limit named in its message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::atomic::Ordering;

use prost::Message;
use rgrpc::Code;
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use support::hostile_service::{LOTS_OF_GREETINGS, LOTS_OF_REPLIES, SAY_HELLO, Serving, hostile};
use support::raw::{Raw, frame, frame_with, read_answer, request_to};
use support::{assert_fails, bounded, greeting, next_reply};

// ---------------------------------------------------------------------------------------
// The server's limits.

#[tokio::test]
async fn a_request_over_the_servers_limit_is_resource_exhausted() {
    let (service, seen, _) = hostile();
    let server = Serving::start_with(
        rgrpc::Server::builder().max_request_message_size(1024),
        service,
    )
    .await;
    let mut raw = Raw::connect(server.addr).await;
    let answer = raw
        .exchange(
            request_to(SAY_HELLO, &[]),
            &frame(&greeting("y".repeat(2000))),
        )
        .await;
    answer.assert_status(
        Code::ResourceExhausted,
        "exceeds the server's max_request_message_size of 1024 bytes",
    );
    // At the limit exactly, the call is served.
    let at_limit = greeting("y".repeat(1024 - 3));
    assert_eq!(at_limit.encoded_len(), 1024);
    let answer = raw
        .exchange(request_to(SAY_HELLO, &[]), &frame(&at_limit))
        .await;
    answer.assert_status(Code::Ok, "");
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 1);
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_huge_length_prefix_is_refused_before_the_body_arrives() {
    let (service, _, _) = hostile();
    let server = Serving::start(service).await;
    let mut raw = Raw::connect(server.addr).await;
    // Claims 4 GiB − 1 and keeps the stream open: the server must answer from the prefix,
    // without waiting for (or making room for) the body.
    let (response, _stream) = raw
        .open(
            request_to(SAY_HELLO, &[]),
            &frame_with(0, u32::MAX, b"\x0a"),
            false,
        )
        .await
        .unwrap();
    let answer = read_answer(response).await.unwrap();
    answer.assert_status(
        Code::ResourceExhausted,
        "exceeds the server's max_request_message_size of 4194304 bytes",
    );
    server.assert_still_serving().await;
}

#[tokio::test]
async fn the_default_request_limit_is_4_mib() {
    let (service, _, _) = hostile();
    let server = Serving::start(service).await;
    let client = server.client().await;
    assert_fails(
        "a 5 MiB request",
        client.say_hello(greeting("z".repeat(5 << 20))),
        Code::ResourceExhausted,
        "max_request_message_size of 4194304",
    )
    .await;
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_streamed_request_over_the_servers_limit_fails_the_call() {
    let (service, _, mut events) = hostile();
    let server = Serving::start_with(
        rgrpc::Server::builder().max_request_message_size(1024),
        service,
    )
    .await;
    let mut raw = Raw::connect(server.addr).await;
    let mut body = frame(&greeting("fine"));
    body.extend(frame(&greeting("y".repeat(2000))));
    let answer = raw
        .exchange(request_to(LOTS_OF_GREETINGS, &[]), &body)
        .await;
    answer.assert_status(Code::ResourceExhausted, "max_request_message_size of 1024");
    for expected in ["greeting", "greetings broken"] {
        assert_eq!(
            bounded("handler event", events.recv()).await,
            Some(expected)
        );
    }
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_response_over_the_servers_limit_is_resource_exhausted_instead() {
    let (service, _, mut events) = hostile();
    let server = Serving::start_with(
        rgrpc::Server::builder().max_response_message_size(1024),
        service,
    )
    .await;
    let mut raw = Raw::connect(server.addr).await;
    // Unary: the handler returns a 2000-byte reply; none of it is sent.
    let answer = raw
        .exchange(request_to(SAY_HELLO, &[]), &frame(&greeting("big:2000")))
        .await;
    answer.assert_status(
        Code::ResourceExhausted,
        "exceeds the server's max_response_message_size of 1024 bytes",
    );
    assert!(answer.data.is_empty(), "{answer:?}");
    // Streaming: the message before goes out; the big one fails `send`, and the call
    // ends with that status although the handler ignored it and returned OK.
    let answer = raw
        .exchange(
            request_to(LOTS_OF_REPLIES, &[]),
            &frame(&greeting("big:2000")),
        )
        .await;
    answer.assert_status(Code::ResourceExhausted, "max_response_message_size of 1024");
    assert_eq!(answer.messages(), ["small"]);
    assert_eq!(
        bounded("handler event", events.recv()).await,
        Some("big reply refused")
    );
    // Under the limit all is well.
    let answer = raw
        .exchange(request_to(SAY_HELLO, &[]), &frame(&greeting("big:1000")))
        .await;
    answer.assert_status(Code::Ok, "");
    server.assert_still_serving().await;
}

#[tokio::test]
async fn the_generated_client_sees_the_servers_response_limit() {
    let (service, _, _) = hostile();
    let server = Serving::start_with(
        rgrpc::Server::builder().max_response_message_size(1024),
        service,
    )
    .await;
    let client = server.client().await;
    let mut replies = bounded("call", client.lots_of_replies(greeting("big:2000")))
        .await
        .unwrap();
    assert_eq!(next_reply("first", &mut replies).await, "small");
    assert_fails(
        "the end",
        replies.message(),
        Code::ResourceExhausted,
        "max_response_message_size of 1024",
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// The client's limits.

#[tokio::test]
async fn a_client_refuses_a_response_over_its_limit() {
    let (service, _, _) = hostile();
    let server = Serving::start(service).await;
    // Per client, for every call made through it.
    let limited = HelloServiceClient::from_client(
        rgrpc::client::Client::new(server.channel().await).max_response_message_size(1024),
    );
    assert_fails(
        "unary",
        limited.say_hello(greeting("big:2000")),
        Code::ResourceExhausted,
        "exceeds the client's max_response_message_size of 1024 bytes",
    )
    .await;
    let small = bounded("unary", limited.say_hello(greeting("big:1000")))
        .await
        .unwrap();
    assert_eq!(small.get_ref().reply.len(), 1000);

    // Per call, on a streaming call: the message before is read, then the status.
    let client = server.client().await;
    let mut replies = bounded(
        "streaming",
        client
            .lots_of_replies(greeting("big:2000"))
            .max_response_message_size(1024),
    )
    .await
    .unwrap();
    assert_eq!(next_reply("first", &mut replies).await, "small");
    assert_fails(
        "the end",
        replies.message(),
        Code::ResourceExhausted,
        "max_response_message_size of 1024",
    )
    .await;

    // The default is 4 MiB.
    assert_fails(
        "5 MiB reply",
        client.say_hello(greeting("big:5242880")),
        Code::ResourceExhausted,
        "max_response_message_size of 4194304",
    )
    .await;
    server.assert_still_serving().await;
}

#[tokio::test]
async fn a_client_refuses_to_send_a_request_over_its_limit() {
    let (service, seen, mut events) = hostile();
    let server = Serving::start(service).await;
    let client = HelloServiceClient::from_client(
        rgrpc::client::Client::new(server.channel().await).max_request_message_size(100),
    );
    // A single request: nothing goes on the wire.
    assert_fails(
        "unary",
        client.say_hello(greeting("y".repeat(200))),
        Code::ResourceExhausted,
        "exceeds the client's max_request_message_size of 100 bytes",
    )
    .await;
    assert_eq!(seen.unary_calls.load(Ordering::SeqCst), 0);

    // A stream: the message before is sent, then the call ends without half-closing, so
    // the handler never takes one greeting for all of them.
    let requests = rgrpc::stream::iter([greeting("ok"), greeting("y".repeat(200)), greeting("z")]);
    assert_fails(
        "client streaming",
        client.lots_of_greetings(requests),
        Code::ResourceExhausted,
        "max_request_message_size of 100",
    )
    .await;
    assert_eq!(bounded("event", events.recv()).await, Some("greeting"));
    let next = bounded("event", events.recv()).await.unwrap();
    assert!(
        next == "greetings broken" || next == "greetings cancelled",
        "the handler must see the call fail, saw {next:?}"
    );

    // Per call, a limit can be raised again.
    let response = bounded(
        "unary",
        client
            .say_hello(greeting("y".repeat(200)))
            .max_request_message_size(1024),
    )
    .await
    .unwrap();
    assert_eq!(
        response.get_ref().reply,
        format!("hello {}", "y".repeat(200))
    );
    server.assert_still_serving().await;
}
