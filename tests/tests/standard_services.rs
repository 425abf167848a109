//! The standard services a server adds by itself: reflection (v1 and v1alpha) and health,
//! asked through rgrpc's own generated clients of them. The clients we did not write
//! (grpcio, buf curl) ask the interop server in `interop/tests/standard_services.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use prost::Message as _;
use rgrpc::health::v1::health_client::HealthClient;
use rgrpc::health::v1::{HealthCheckRequest, HealthListRequest};
use rgrpc::health::{HealthReporter, ServingStatus};
use rgrpc::prost_types::FileDescriptorProto;
use rgrpc::reflection::Reflection;
use rgrpc::reflection::v1::server_reflection_client::ServerReflectionClient;
use rgrpc::reflection::v1::server_reflection_request::MessageRequest;
use rgrpc::reflection::v1::server_reflection_response::MessageResponse;
use rgrpc::reflection::v1::{ExtensionRequest, ServerReflectionRequest};
use rgrpc::server::Undescribed;
use rgrpc::{Channel, Code, ResponseStream};
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::proto2_fixture::legacy::legacy_server::{Legacy, LegacyServer};
use rgrpc_tests::well_known_fixture::wkt::clock_server::{Clock, ClockServer};
use support::{Running, assert_fails, bounded};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

struct Hello;
impl HelloService for Hello {}
struct Old;
impl Legacy for Old {}
struct Time;
impl Clock for Time {}

/// A server of three generated services, with rgrpc's defaults.
fn three_services() -> rgrpc::server::Router {
    rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(Hello))
        .add_service(LegacyServer::new(Old))
        .add_service(ClockServer::new(Time))
}

async fn channel(server: &Running) -> Channel {
    Channel::connect(format!("http://{}", server.addr))
        .await
        .unwrap()
}

/// One reflection stream: each request answered before the next is sent.
struct Stream {
    requests: mpsc::Sender<ServerReflectionRequest>,
    responses: ResponseStream<rgrpc::reflection::v1::ServerReflectionResponse>,
}

impl Stream {
    async fn open(channel: Channel) -> Self {
        let (requests, receiver) = mpsc::channel(4);
        let client = ServerReflectionClient::new(channel);
        let responses = bounded(
            "open a reflection stream",
            client.server_reflection_info(ReceiverStream::new(receiver)),
        )
        .await
        .unwrap();
        Self {
            requests,
            responses,
        }
    }

    async fn ask(&mut self, request: MessageRequest) -> MessageResponse {
        let request = ServerReflectionRequest {
            host: "here".to_owned(),
            message_request: Some(request),
        };
        self.requests.send(request.clone()).await.unwrap();
        let response = bounded("a reflection answer", self.responses.message())
            .await
            .unwrap()
            .expect("an answer, not the end of the stream");
        assert_eq!(response.valid_host, "here");
        assert_eq!(response.original_request, Some(request));
        response.message_response.expect("an answer")
    }

    /// The names of the files answering `request`, in the order sent.
    async fn files(&mut self, request: MessageRequest) -> Vec<String> {
        files(self.ask(request).await)
            .iter()
            .map(|file| file.name().to_owned())
            .collect()
    }

    /// The error answering `request`: its code and message.
    async fn error(&mut self, request: MessageRequest) -> (i32, String) {
        match self.ask(request).await {
            MessageResponse::ErrorResponse(error) => (error.error_code, error.error_message),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

fn files(response: MessageResponse) -> Vec<FileDescriptorProto> {
    match response {
        MessageResponse::FileDescriptorResponse(files) => files
            .file_descriptor_proto
            .iter()
            .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).unwrap())
            .collect(),
        other => panic!("expected files, got {other:?}"),
    }
}

fn symbol(name: &str) -> MessageRequest {
    MessageRequest::FileContainingSymbol(name.to_owned())
}

fn file(name: &str) -> MessageRequest {
    MessageRequest::FileByFilename(name.to_owned())
}

fn list() -> MessageRequest {
    MessageRequest::ListServices(String::new())
}

async fn services(stream: &mut Stream) -> Vec<String> {
    match stream.ask(list()).await {
        MessageResponse::ListServicesResponse(list) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("expected the services, got {other:?}"),
    }
}

const STANDARD: [&str; 3] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

#[tokio::test]
async fn reflection_lists_every_service_and_finds_every_kind_of_symbol() {
    let server = Running::serve(three_services()).await;
    let mut stream = Stream::open(channel(&server).await).await;
    let mut expected = vec!["hello.HelloService", "legacy.Legacy", "wkt.Clock"];
    expected.extend(STANDARD);
    expected.sort_unstable();
    assert_eq!(services(&mut stream).await, expected);

    // Services, methods, messages, nested messages, enums, enum values (scoped beside
    // their enum), fields, extensions top-level and nested: each names its file.
    for name in [
        "legacy.Legacy",
        "legacy.Legacy.Scan",
        "legacy.Query",
        ".legacy.Query",
        "legacy.Query.Extra",
        "legacy.Query.limit",
        "legacy.Mode",
        "legacy.FAST",
        "legacy.trace",
        "legacy.Hints.priority",
    ] {
        assert_eq!(stream.files(symbol(name)).await, ["legacy.proto"], "{name}");
    }
    // Each standard service describes itself, from the code our plugin generated for it.
    assert_eq!(
        stream.files(symbol("grpc.health.v1.Health.Watch")).await,
        ["grpc/health/v1/health.proto"]
    );
    assert_eq!(
        stream
            .files(symbol("grpc.reflection.v1alpha.ServerReflection"))
            .await,
        ["grpc/reflection/v1alpha/reflection.proto"]
    );

    // Extensions, by number and all of them.
    let extension = |number| {
        MessageRequest::FileContainingExtension(ExtensionRequest {
            containing_type: "legacy.Query".to_owned(),
            extension_number: number,
        })
    };
    assert_eq!(stream.files(extension(101)).await, ["legacy.proto"]);
    match stream
        .ask(MessageRequest::AllExtensionNumbersOfType(
            "legacy.Query".to_owned(),
        ))
        .await
    {
        MessageResponse::AllExtensionNumbersResponse(numbers) => {
            assert_eq!(numbers.base_type_name, "legacy.Query");
            assert_eq!(numbers.extension_number, [100, 101]);
        }
        other => panic!("expected extension numbers, got {other:?}"),
    }
    match stream
        .ask(MessageRequest::AllExtensionNumbersOfType(
            "legacy.Record".to_owned(),
        ))
        .await
    {
        MessageResponse::AllExtensionNumbersResponse(numbers) => {
            assert!(numbers.extension_number.is_empty());
        }
        other => panic!("expected no extension numbers, got {other:?}"),
    }

    // Unknown names: NOT_FOUND, naming what was asked; the stream goes on.
    let not_found = Code::NotFound as i32;
    assert_eq!(
        stream.error(symbol("legacy.Nope")).await,
        (
            not_found,
            "symbol \"legacy.Nope\" is not known to this server's reflection".to_owned()
        )
    );
    assert_eq!(
        stream.error(file("nope.proto")).await,
        (
            not_found,
            "file \"nope.proto\" is not known to this server's reflection".to_owned()
        )
    );
    assert_eq!(
        stream.error(extension(150)).await,
        (
            not_found,
            "extension 150 of \"legacy.Query\" is not known to this server's reflection".to_owned()
        )
    );
    assert_eq!(
        stream
            .error(MessageRequest::AllExtensionNumbersOfType(
                "no.Such".to_owned()
            ))
            .await,
        (
            not_found,
            "message type \"no.Such\" is not known to this server's reflection".to_owned()
        )
    );
    assert_eq!(services(&mut stream).await, expected);
}

#[tokio::test]
async fn a_stream_sends_each_dependency_once_and_the_file_asked_for_always() {
    let server = Running::serve(three_services()).await;
    let mut stream = Stream::open(channel(&server).await).await;
    let imports = [
        "google/protobuf/any.proto",
        "google/protobuf/duration.proto",
        "google/protobuf/empty.proto",
        "google/protobuf/field_mask.proto",
        "google/protobuf/struct.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/wrappers.proto",
    ];

    let first = stream.files(symbol("google.protobuf.Timestamp")).await;
    assert_eq!(first, ["google/protobuf/timestamp.proto"]);
    // wkt.proto, then its imports not sent yet: all but timestamp.proto.
    let clock = stream.files(symbol("wkt.Clock.Now")).await;
    assert_eq!(clock[0], "wkt.proto");
    let mut rest = clock[1..].to_vec();
    rest.sort();
    let unsent: Vec<&str> = imports
        .iter()
        .copied()
        .filter(|name| *name != "google/protobuf/timestamp.proto")
        .collect();
    assert_eq!(rest, unsent);
    // Asked again: the file itself, and nothing it imports.
    assert_eq!(stream.files(file("wkt.proto")).await, ["wkt.proto"]);

    // Another stream starts afresh.
    let mut fresh = Stream::open(channel(&server).await).await;
    assert_eq!(
        fresh.files(file("wkt.proto")).await.len(),
        1 + imports.len()
    );
}

#[tokio::test]
async fn the_descriptors_carry_the_comments_and_build_the_messages() {
    let server = Running::serve(three_services()).await;
    let mut stream = Stream::open(channel(&server).await).await;
    let hello = files(stream.ask(symbol("hello.HelloService")).await);
    let info = hello[0].source_code_info.as_ref().expect("comments");
    let comments: Vec<&str> = info
        .location
        .iter()
        .filter_map(|location| location.leading_comments.as_deref())
        .collect();
    assert!(
        comments.contains(&" Greets people, in every way gRPC can.\n"),
        "{comments:?}"
    );
    let request = hello[0]
        .message_type
        .iter()
        .find(|message| message.name() == "HelloRequest")
        .expect("HelloRequest");
    assert_eq!(request.field[0].name(), "greeting");
    assert_eq!(request.field[0].number(), 1);
}

#[tokio::test]
async fn v1alpha_answers_as_v1_does() {
    use rgrpc::reflection::v1alpha::server_reflection_client::ServerReflectionClient as Alpha;
    use rgrpc::reflection::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use rgrpc::reflection::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;

    let server = Running::serve(three_services()).await;
    let client = Alpha::new(channel(&server).await);
    let request = rgrpc::reflection::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::FileContainingSymbol("legacy.Mode".to_owned())),
    };
    let mut responses = bounded(
        "a v1alpha stream",
        client.server_reflection_info(tokio_stream::iter([request])),
    )
    .await
    .unwrap();
    let answer = bounded("a v1alpha answer", responses.message())
        .await
        .unwrap()
        .unwrap();
    match answer.message_response {
        Some(AlphaResponse::FileDescriptorResponse(files)) => {
            let file = FileDescriptorProto::decode(files.file_descriptor_proto[0].as_slice());
            assert_eq!(file.unwrap().name(), "legacy.proto");
        }
        other => panic!("expected a file, got {other:?}"),
    }
    assert!(
        bounded("the end of the stream", responses.message())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn reflection_and_health_can_be_turned_off() {
    let router = rgrpc::Server::builder()
        .reflection(false)
        .health(false)
        .add_service(HelloServiceServer::new(Hello));
    let server = Running::serve(router).await;
    let channel = channel(&server).await;
    let client = ServerReflectionClient::new(channel.clone());
    let mut responses = bounded(
        "a reflection stream",
        client.server_reflection_info(tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(list()),
        }])),
    )
    .await
    .unwrap();
    let status = bounded("the refusal", responses.message())
        .await
        .unwrap_err();
    support::assert_status(
        &status,
        Code::Unimplemented,
        "unknown service grpc.reflection.v1.ServerReflection",
    );
    assert_fails(
        "a health check",
        HealthClient::new(channel).check(HealthCheckRequest::default()),
        Code::Unimplemented,
        "unknown service grpc.health.v1.Health",
    )
    .await;
}

#[tokio::test]
async fn an_undescribed_service_is_listed_without_files() {
    let router = rgrpc::Server::builder().add_service(Undescribed(HelloServiceServer::new(Hello)));
    let server = Running::serve(router).await;
    let mut stream = Stream::open(channel(&server).await).await;
    assert!(
        services(&mut stream)
            .await
            .contains(&"hello.HelloService".to_owned())
    );
    let (code, _) = stream.error(symbol("hello.HelloService")).await;
    assert_eq!(code, Code::NotFound as i32);
}

async fn check(client: &HealthClient, service: &str) -> Result<ServingStatus, rgrpc::Status> {
    let response = bounded(
        "a health check",
        client.check(HealthCheckRequest {
            service: service.to_owned(),
        }),
    )
    .await?;
    Ok(response.into_inner().status())
}

#[tokio::test]
async fn health_starts_serving_keeps_what_was_set_and_lists_it() {
    let builder = rgrpc::Server::builder();
    let health = builder.health_reporter();
    health.set_not_serving("legacy.Legacy");
    let server = Running::serve(
        builder
            .add_service(HelloServiceServer::new(Hello))
            .add_service(LegacyServer::new(Old)),
    )
    .await;
    let client = HealthClient::new(channel(&server).await);
    assert_eq!(check(&client, "").await.unwrap(), ServingStatus::Serving);
    assert_eq!(
        check(&client, "hello.HelloService").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        check(&client, "legacy.Legacy").await.unwrap(),
        ServingStatus::NotServing
    );
    let status = check(&client, "no.Such").await.unwrap_err();
    support::assert_status(&status, Code::NotFound, "unknown service \"no.Such\"");

    health.set_serving("legacy.Legacy");
    health.clear_status("hello.HelloService");
    assert_eq!(
        check(&client, "legacy.Legacy").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        check(&client, "hello.HelloService")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let listed = bounded("a health list", client.list(HealthListRequest {}))
        .await
        .unwrap()
        .into_inner()
        .statuses;
    let listed: Vec<(&str, ServingStatus)> = listed
        .iter()
        .map(|(name, response)| (name.as_str(), response.status()))
        .collect();
    let mut expected = vec![
        ("", ServingStatus::Serving),
        ("grpc.health.v1.Health", ServingStatus::Serving),
        ("legacy.Legacy", ServingStatus::Serving),
    ];
    expected.sort_unstable();
    let mut listed = listed;
    listed.sort_unstable();
    assert_eq!(listed, expected);
}

async fn next_status(
    what: &str,
    watch: &mut ResponseStream<rgrpc::health::v1::HealthCheckResponse>,
) -> ServingStatus {
    bounded(what, watch.message())
        .await
        .unwrap_or_else(|status| panic!("{what}: {status:?}"))
        .unwrap_or_else(|| panic!("{what}: the watch ended"))
        .status()
}

#[tokio::test]
async fn watch_sends_the_status_then_each_change_and_ends_when_the_server_drains() {
    let builder = rgrpc::Server::builder();
    let health = builder.health_reporter();
    let server = Running::serve(builder.add_service(HelloServiceServer::new(Hello))).await;
    let client = HealthClient::new(channel(&server).await);
    let watch = |service: &str| {
        client.watch(HealthCheckRequest {
            service: service.to_owned(),
        })
    };
    let mut hello = bounded("a watch", watch("hello.HelloService"))
        .await
        .unwrap();
    let mut later = bounded("a watch", watch("later.Service")).await.unwrap();
    assert_eq!(
        next_status("first", &mut hello).await,
        ServingStatus::Serving
    );
    assert_eq!(
        next_status("unknown", &mut later).await,
        ServingStatus::ServiceUnknown
    );

    health.set_not_serving("hello.HelloService");
    assert_eq!(
        next_status("change", &mut hello).await,
        ServingStatus::NotServing
    );
    // Setting the same status again is no change.
    health.set_not_serving("hello.HelloService");
    health.set_serving("hello.HelloService");
    assert_eq!(
        next_status("change back", &mut hello).await,
        ServingStatus::Serving
    );
    health.set_serving("later.Service");
    assert_eq!(
        next_status("known at last", &mut later).await,
        ServingStatus::Serving
    );

    // Draining: NOT_SERVING first, then the watch ends so that the drain can finish.
    let drained = tokio::spawn(server.shut_down());
    assert_eq!(
        next_status("draining", &mut hello).await,
        ServingStatus::NotServing
    );
    let end = bounded("the watch's end", hello.message())
        .await
        .unwrap_err();
    support::assert_status(&end, Code::Unavailable, "the server is shutting down");
    bounded("the drain", drained).await.unwrap();
    // And it stays so: a late change does not bring it back.
    health.set_serving("hello.HelloService");
    assert_eq!(
        health.status("hello.HelloService"),
        Some(ServingStatus::NotServing)
    );
}

#[tokio::test]
async fn a_health_service_of_the_users_own_wins() {
    let own = HealthReporter::new();
    own.set_not_serving("");
    let router = rgrpc::Server::builder()
        .add_service(HelloServiceServer::new(Hello))
        .add_service(own.service());
    let server = Running::serve(router).await;
    let client = HealthClient::new(channel(&server).await);
    assert_eq!(check(&client, "").await.unwrap(), ServingStatus::NotServing);
    // It is the user's: rgrpc does not fill it with the services served.
    assert_eq!(
        check(&client, "hello.HelloService")
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn reflection_and_health_serve_in_tonic_too() {
    let hello = HelloServiceServer::new(Hello);
    let reflection = Reflection::new().with(&hello);
    let health = HealthReporter::new();
    health.set_serving("hello.HelloService");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(
        rgrpc::tonic::transport::Server::builder()
            .add_service(hello)
            .add_service(reflection.v1())
            .add_service(health.service())
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let channel = Channel::connect(format!("http://{addr}")).await.unwrap();
    let mut stream = Stream::open(channel.clone()).await;
    assert_eq!(
        services(&mut stream).await,
        [
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "hello.HelloService"
        ]
    );
    assert_eq!(
        stream.files(symbol("hello.HelloRequest")).await,
        ["hello.proto"]
    );
    assert_eq!(
        check(&HealthClient::new(channel), "hello.HelloService")
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    server.abort();
}
