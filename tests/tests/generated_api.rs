//! Names the generator had to escape are still usable: each escaped kind is called through
//! the generated client and served by the generated server, over HTTP/2 on 127.0.0.1.
//!
//! Escaped kinds: raw keywords (`r#type`), keywords that cannot be raw (`self_`), rpcs named
//! like the client's own methods (`new_rpc`, `clone_rpc`), a service module that prost's
//! message module owned (`greeter_client_rpc`), services named like keywords or like
//! generated items (`Self_`, `Type`, `Service`, `Status`, `Request`), and a keyword package
//! (`r#async::r#type`).
//! Also: services generated without messages (found through `extern_path`), and
//! well-known types (`()`, `String`, `Timestamp`) on the wire.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use rgrpc::stream::StreamExt;
use rgrpc::{Context, RequestStream, ResponseSink, Status};
use rgrpc_tests::naming_fixture::r#async::r#type::v1 as naming;
use rgrpc_tests::naming_fixture::collide;
use rgrpc_tests::relay_messages::Ping;
use rgrpc_tests::services_only_fixture::relay;
use rgrpc_tests::well_known_fixture::wkt;
use support::bounded;
use tokio::net::TcpListener;

use collide::request_client::RequestClient;
use collide::request_server::{Request as RequestService, RequestServer};
use collide::status_client::StatusClient;
use collide::status_server::{Status as StatusService, StatusServer};
use naming::collisions_client::CollisionsClient;
use naming::collisions_server::{Collisions, CollisionsServer};
use naming::greeter_client_rpc::GreeterClient;
use naming::greeter_server::{Greeter, GreeterServer};
use naming::keywords_client::KeywordsClient;
use naming::keywords_server::{Keywords, KeywordsServer};
use naming::self_client::SelfClient;
use naming::self_server::{Self_, SelfServer};
use naming::service_client::ServiceClient;
use naming::service_server::{Service, ServiceServer};
use naming::type_client::TypeClient;
use naming::type_server::{Type, TypeServer};
use naming::{Request, Response};

/// Implements every hostile-named service; each answer is the default `Response`, the
/// route that reached it is checked through `ctx.method()`.
struct Hostile;

fn answered(ctx: &Context, expected: &str) -> Result<Response, Status> {
    if ctx.method() == expected {
        Ok(Response {})
    } else {
        Err(Status::internal(format!(
            "routed {} to the handler of {expected}",
            ctx.method()
        )))
    }
}

impl Keywords for Hostile {
    async fn r#type(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Keywords/Type")
    }

    async fn self_(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Keywords/Self")
    }

    async fn r#gen(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Keywords/Gen")
    }

    async fn r#fn(
        &self,
        ctx: Context,
        mut requests: RequestStream<Request>,
        responses: ResponseSink<Response>,
    ) -> Result<(), Status> {
        while requests.message().await?.is_some() {
            responses
                .send(answered(&ctx, "/async.type.v1.Keywords/Fn")?)
                .await?;
        }
        Ok(())
    }
}

impl Collisions for Hostile {
    async fn new_rpc(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Collisions/New")
    }

    async fn clone_rpc(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Collisions/Clone")
    }

    async fn connect(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Collisions/Connect")
    }

    async fn call(&self, ctx: Context, _request: Request) -> Result<naming::Option, Status> {
        answered(&ctx, "/async.type.v1.Collisions/Call").map(|_| naming::Option {})
    }
}

impl Self_ for Hostile {
    async fn get(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Self/Get")
    }
}

impl Type for Hostile {
    async fn get(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.type/Get")
    }
}

impl Service for Hostile {
    async fn service(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Service/Service")
    }
}

impl Greeter for Hostile {
    async fn greeter(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/async.type.v1.Greeter/Greeter")
    }
}

impl StatusService for Hostile {
    async fn check(&self, ctx: Context, _request: Request) -> Result<naming::Status, Status> {
        answered(&ctx, "/collide.Status/Check").map(|_| naming::Status {})
    }
}

impl RequestService for Hostile {
    async fn send(&self, ctx: Context, _request: Request) -> Result<Response, Status> {
        answered(&ctx, "/collide.Request/Send")
    }
}

impl relay::relay_server::Relay for Hostile {
    async fn forward(&self, _ctx: Context, request: Ping) -> Result<Ping, Status> {
        Ok(Ping {
            seq: request.seq + 1,
        })
    }
}

impl wkt::clock_server::Clock for Hostile {
    async fn ping(&self, _ctx: Context, _request: ()) -> Result<(), Status> {
        Ok(())
    }

    async fn echo(
        &self,
        _ctx: Context,
        mut requests: RequestStream<String>,
        responses: ResponseSink<String>,
    ) -> Result<(), Status> {
        while let Some(text) = requests.message().await? {
            responses.send(text.to_uppercase()).await?;
        }
        Ok(())
    }

    async fn now(
        &self,
        _ctx: Context,
        _request: (),
    ) -> Result<rgrpc::prost_types::Timestamp, Status> {
        Ok(rgrpc::prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        })
    }
}

/// One server carrying every service of this test.
async fn serve() -> (rgrpc::Channel, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = rgrpc::Server::builder()
        .add_service(KeywordsServer::new(Hostile))
        .add_service(CollisionsServer::new(Hostile))
        .add_service(SelfServer::new(Hostile))
        .add_service(TypeServer::new(Hostile))
        .add_service(ServiceServer::new(Hostile))
        .add_service(GreeterServer::new(Hostile))
        .add_service(StatusServer::new(Hostile))
        .add_service(RequestServer::new(Hostile))
        .add_service(relay::relay_server::RelayServer::new(Hostile))
        .add_service(wkt::clock_server::ClockServer::new(Hostile));
    let task = tokio::spawn(async move {
        router
            .serve_with_shutdown(listener, std::future::pending())
            .await
            .unwrap();
    });
    let channel = rgrpc::Channel::connect(format!("http://{addr}"))
        .await
        .unwrap();
    (channel, task)
}

#[tokio::test]
async fn every_escaped_name_works_through_client_and_server() {
    let (channel, server) = serve().await;

    let keywords = KeywordsClient::new(channel.clone());
    bounded("r#type", keywords.r#type(Request {}))
        .await
        .unwrap();
    bounded("self_", keywords.self_(Request {})).await.unwrap();
    bounded("r#gen", keywords.r#gen(Request {})).await.unwrap();
    let replies = bounded(
        "r#fn",
        keywords.r#fn(rgrpc::stream::iter([Request {}, Request {}])),
    )
    .await
    .unwrap();
    let replies: Vec<_> = bounded("r#fn replies", replies.collect()).await;
    assert_eq!(replies.len(), 2);
    assert!(replies.iter().all(Result::is_ok), "{replies:?}");

    let collisions = CollisionsClient::new(channel.clone());
    bounded("new_rpc", collisions.new_rpc(Request {}))
        .await
        .unwrap();
    bounded("clone_rpc", collisions.clone_rpc(Request {}))
        .await
        .unwrap();
    bounded("connect", collisions.connect(Request {}))
        .await
        .unwrap();
    bounded("call", collisions.call(Request {})).await.unwrap();
    // The client's own Clone and Debug are not shadowed by the rpcs Clone and Fmt.
    let cloned = collisions.clone();
    assert!(format!("{cloned:?}").contains("CollisionsClient"));

    bounded("Self_", SelfClient::new(channel.clone()).get(Request {}))
        .await
        .unwrap();
    bounded("Type", TypeClient::new(channel.clone()).get(Request {}))
        .await
        .unwrap();
    bounded(
        "Service",
        ServiceClient::new(channel.clone()).service(Request {}),
    )
    .await
    .unwrap();
    bounded(
        "greeter_client_rpc",
        GreeterClient::new(channel.clone()).greeter(Request {}),
    )
    .await
    .unwrap();
    bounded(
        "service Status",
        StatusClient::new(channel.clone()).check(Request {}),
    )
    .await
    .unwrap();
    bounded(
        "service Request",
        RequestClient::new(channel.clone()).send(Request {}),
    )
    .await
    .unwrap();
    server.abort();
}

#[tokio::test]
async fn services_generated_without_messages_use_the_extern_ones() {
    let (channel, server) = serve().await;
    let relay = relay::relay_client::RelayClient::new(channel);
    let answer = bounded("forward", relay.forward(Ping { seq: 41 }))
        .await
        .unwrap();
    assert_eq!(answer.into_inner(), Ping { seq: 42 });
    server.abort();
}

#[tokio::test]
async fn well_known_types_travel_as_their_rust_types() {
    let (channel, server) = serve().await;
    let clock = wkt::clock_client::ClockClient::new(channel);
    bounded("Empty → ()", clock.ping(())).await.unwrap();
    let now = bounded("Timestamp", clock.now(()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((now.seconds, now.nanos), (1_700_000_000, 5));
    let words = rgrpc::stream::iter(["a".to_owned(), "b".to_owned()]);
    let echoed = bounded("StringValue stream", clock.echo(words))
        .await
        .unwrap();
    let echoed: Vec<String> = bounded("echoes", echoed.map(Result::unwrap).collect()).await;
    assert_eq!(echoed, ["A", "B"]);
    server.abort();
}
