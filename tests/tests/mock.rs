//! Application code takes `impl HelloServiceApi`, so its tests can pass a mock instead of a
//! client: no server, no network. The same function then runs against the real client
//! over the in-process transport.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use rgrpc::metadata::MetadataMap;
use rgrpc::{Code, Context, ResponseSink, ResponseStream, Status};
use rgrpc_tests::hello::hello_service_client::{HelloServiceApi, HelloServiceClient};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};

fn greeting(text: &str) -> HelloRequest {
    HelloRequest {
        greeting: text.to_owned(),
    }
}

fn reply(text: impl Into<String>) -> HelloResponse {
    HelloResponse { reply: text.into() }
}

/// The "application": greets each guest, then collects the server's farewells. It knows
/// nothing of clients, channels or mocks.
async fn welcome(api: &impl HelloServiceApi, guests: &[&str]) -> Result<Vec<String>, Status> {
    let mut said = Vec::new();
    for guest in guests {
        let response = api.say_hello(greeting(guest)).await?;
        said.push(response.into_inner().reply);
    }
    let mut farewells = api.lots_of_replies(greeting("bye")).await?;
    while let Some(farewell) = farewells.message().await? {
        said.push(farewell.reply);
    }
    Ok(said)
}

/// A mock: records what it was asked, answers from a script. Only the rpcs the application
/// uses are implemented; the others answer UNIMPLEMENTED by default.
#[derive(Default)]
struct MockHello {
    asked: Mutex<Vec<String>>,
    refuse: Option<&'static str>,
}

impl HelloServiceApi for MockHello {
    async fn say_hello(
        &self,
        request: HelloRequest,
    ) -> Result<rgrpc::Response<HelloResponse>, Status> {
        self.asked.lock().unwrap().push(request.greeting.clone());
        if self.refuse == Some(request.greeting.as_str()) {
            return Err(Status::permission_denied(format!(
                "{} is not invited",
                request.greeting
            )));
        }
        let message = reply(format!("hi {}", request.greeting));
        Ok(rgrpc::Response::new(
            message,
            MetadataMap::new(),
            MetadataMap::new(),
        ))
    }

    async fn lots_of_replies(
        &self,
        _request: HelloRequest,
    ) -> Result<ResponseStream<HelloResponse>, Status> {
        let farewells = ["bye", "ciao"].map(|text| Ok(reply(text)));
        Ok(ResponseStream::from_stream(rgrpc::stream::iter(farewells)))
    }
}

#[tokio::test]
async fn the_application_runs_against_a_mock() {
    let mock = MockHello::default();
    let said = welcome(&mock, &["ada", "alan"]).await.unwrap();
    assert_eq!(said, ["hi ada", "hi alan", "bye", "ciao"]);
    assert_eq!(*mock.asked.lock().unwrap(), ["ada", "alan"]);
}

#[tokio::test]
async fn the_application_sees_the_errors_a_mock_returns() {
    let mock = MockHello {
        refuse: Some("mallory"),
        ..MockHello::default()
    };
    let status = welcome(&mock, &["ada", "mallory", "alan"])
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(
        *mock.asked.lock().unwrap(),
        ["ada", "mallory"],
        "it stopped at the error"
    );
}

#[tokio::test]
async fn rpcs_a_mock_leaves_out_answer_unimplemented() {
    let status = MockHello::default()
        .lots_of_greetings(rgrpc::stream::iter([greeting("x")]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

/// The real service behind the real client, to show the same application code runs on both.
struct Real;

impl HelloService for Real {
    async fn say_hello(
        &self,
        _ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        Ok(reply(format!("hi {}", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        _ctx: Context,
        _request: HelloRequest,
        responses: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        responses.send(reply("bye")).await?;
        responses.send(reply("ciao")).await
    }
}

#[tokio::test]
async fn the_same_application_runs_against_the_real_client_in_process() {
    let server = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(Real))
        .serve_in_process();
    let client = HelloServiceClient::new(server.channel());
    let said = welcome(&client, &["ada", "alan"]).await.unwrap();
    assert_eq!(said, ["hi ada", "hi alan", "bye", "ciao"]);
}
