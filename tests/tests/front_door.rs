//! The server's front door, rgrpc's own since it stopped serving through tonic's: routing by
//! service name, who the handler is told is calling, and the errors that stop a server
//! before it serves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rgrpc::{Code, Context, Status};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{Running, assert_status, bounded, greeting, reply};
use tokio::net::TcpListener;

/// Answers with the address the server says the call came from.
struct WhoCalls;

impl HelloService for WhoCalls {
    async fn say_hello(
        &self,
        ctx: Context,
        _request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        Ok(reply(format!("{:?}", ctx.peer())))
    }
}

#[tokio::test]
async fn a_service_the_server_does_not_have_answers_unimplemented_naming_it() {
    let server = Running::start(WhoCalls).await;
    let channel = rgrpc::Channel::connect(format!("http://{}", server.addr))
        .await
        .unwrap();
    let raw = rgrpc::codegen::Client::new(channel);
    let call: rgrpc::codegen::UnaryCall<HelloRequest, HelloResponse> =
        raw.unary("/other.Service/SayHello", greeting("x"));
    let status = bounded("unknown service", call).await.unwrap_err();
    assert_status(
        &status,
        Code::Unimplemented,
        "unknown service other.Service",
    );
}

#[tokio::test]
async fn the_handler_is_told_the_clients_address() {
    let server = Running::start(WhoCalls).await;
    let client = server.client().await;
    let answer = bounded("unary", client.say_hello(greeting("x")))
        .await
        .unwrap()
        .into_inner()
        .reply;
    // The client's end of the connection: loopback, on a port of its own.
    assert!(answer.starts_with("Some(127.0.0.1:"), "{answer}");
    assert_ne!(answer, format!("Some({})", server.addr));
}

#[tokio::test]
async fn the_in_process_server_knows_no_address() {
    let server = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(WhoCalls))
        .serve_in_process();
    let client =
        rgrpc_tests::hello::hello_service_client::HelloServiceClient::new(server.channel());
    let answer = bounded("unary", client.say_hello(greeting("x")))
        .await
        .unwrap()
        .into_inner()
        .reply;
    assert_eq!(answer, "None");
    bounded("shutdown", server.shutdown()).await.unwrap();
}

#[tokio::test]
async fn a_service_added_twice_stops_the_server_naming_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let served = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(WhoCalls))
        .add_service(HelloServiceServer::new(WhoCalls))
        .serve_with_shutdown(listener, std::future::pending());
    let error = bounded("serve", served).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "the service hello.HelloService was added twice: a server serves each service once"
    );
}

#[tokio::test]
async fn a_service_added_twice_in_process_is_the_shutdown_error() {
    let server = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(WhoCalls))
        .add_service(HelloServiceServer::new(WhoCalls))
        .serve_in_process();
    let client =
        rgrpc_tests::hello::hello_service_client::HelloServiceClient::new(server.channel());
    let status = bounded("unary", client.say_hello(greeting("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let error = bounded("shutdown", server.shutdown()).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("hello.HelloService was added twice")
    );
}

#[tokio::test]
async fn an_address_in_use_is_an_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let served = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(WhoCalls))
        .serve(addr);
    let error = bounded("serve", served).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("cannot listen on {addr}: ")),
        "{text}"
    );
    assert!(std::error::Error::source(&error).is_some());
}
