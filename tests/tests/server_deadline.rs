//! A deadline that passes on the server ends the call with `DEADLINE_EXCEEDED`, every time.
//!
//! tonic's server, which carries rgrpc's, enforces the client's `grpc-timeout` too and
//! answers `CANCELLED` ("Timeout expired") when its timer wins the race with rgrpc's (see
//! `runtime/src/server/arrival.rs`). It won about 2 calls in 1,000 under two CPU hogs, and a
//! grpcio client's `timeout_on_sleeping_server` once failed on it. The client here is raw
//! HTTP/2, with no deadline timer of its own, so every answer is the server's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;

use rgrpc::{Code, Context, Status};
use rgrpc_tests::hello::hello_service_server::HelloService;
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::raw::{Raw, frame, read_answer, request_to};
use support::{LIMIT, Running};

/// Answers long after any deadline the test sets (and within the tests' bound).
struct Slow;

impl HelloService for Slow {
    async fn say_hello(
        &self,
        _ctx: Context,
        _request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        tokio::time::sleep(LIMIT / 4).await;
        Ok(HelloResponse::default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_passing_on_the_server_is_deadline_exceeded_every_time() {
    let server = Running::start(Slow).await;
    let body = frame(&HelloRequest::default());
    let mut endings = BTreeMap::new();
    for _ in 0..5 {
        let mut raw = Raw::connect(server.addr).await;
        let mut answers = Vec::new();
        for _ in 0..100 {
            let headers = request_to("/hello.HelloService/SayHello", &[("grpc-timeout", "50m")]);
            let (response, _stream) = raw.open(headers, &body, true).await.unwrap();
            answers.push(tokio::spawn(read_answer(response)));
        }
        for answer in answers {
            let answer = answer.await.unwrap().unwrap();
            let ending = format!("{:?}: {}", answer.grpc_status(), answer.grpc_message());
            *endings.entry(ending).or_insert(0) += 1;
        }
    }
    assert_eq!(endings.len(), 1, "{endings:#?}");
    let (ending, count) = endings.into_iter().next().unwrap();
    assert_eq!(count, 500);
    assert!(
        ending.starts_with(&format!("{:?}:", Some(Code::DeadlineExceeded))),
        "{ending}"
    );
}
