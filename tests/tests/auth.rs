//! Bearer-token authentication as an interceptor in front of a generated server: a call
//! without a valid token is answered UNAUTHENTICATED and its handler never runs; a call
//! with one reaches the handler, which knows who made it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::server::intercept;
use rgrpc::{Code, Context, RequestStream, ResponseSink, ResponseStream, Status};
use rgrpc_tests::hello::hello_service_client::HelloServiceClient;
use rgrpc_tests::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc_tests::hello::{HelloRequest, HelloResponse};
use support::{Running, bounded, greeting, next_reply, reply};

/// Who the interceptor found the caller to be; the handler reads it from the context.
#[derive(Clone, Debug)]
struct Caller(&'static str);

/// The tokens this server knows.
const TOKENS: &[(&str, Caller)] = &[("alice-token", Caller("alice"))];

fn authenticate(
    mut request: rgrpc::tonic::Request<()>,
) -> Result<rgrpc::tonic::Request<()>, Status> {
    let token = request
        .metadata()
        .get("authorization")
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))?
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("the authorization is not a bearer token"))?;
    let caller = TOKENS
        .iter()
        .find(|(known, _)| *known == token)
        .map(|(_, caller)| caller.clone())
        .ok_or_else(|| Status::unauthenticated("unknown bearer token"))?;
    request.extensions_mut().insert(caller);
    Ok(request)
}

/// Greets its caller by name, and counts the calls its handlers serve.
#[derive(Clone, Default)]
struct Greeter {
    entered: Arc<AtomicUsize>,
}

impl Greeter {
    fn enter(&self, ctx: &Context) -> Result<&'static str, Status> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let Caller(name) = ctx
            .extensions()
            .get::<Caller>()
            .ok_or_else(|| Status::internal("the handler ran without an authenticated caller"))?;
        Ok(name)
    }

    fn entered(&self) -> usize {
        self.entered.load(Ordering::SeqCst)
    }
}

impl HelloService for Greeter {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        let caller = self.enter(&ctx)?;
        Ok(reply(format!("{} from {caller}", request.greeting)))
    }

    async fn lots_of_replies(
        &self,
        ctx: Context,
        request: HelloRequest,
        sink: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let caller = self.enter(&ctx)?;
        sink.send(reply(format!("{} from {caller}", request.greeting)))
            .await
    }

    async fn lots_of_greetings(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
    ) -> Result<HelloResponse, Status> {
        let caller = self.enter(&ctx)?;
        let mut count = 0;
        while requests.message().await?.is_some() {
            count += 1;
        }
        Ok(reply(format!("{count} from {caller}")))
    }

    async fn bidi_hello(
        &self,
        ctx: Context,
        mut requests: RequestStream<HelloRequest>,
        sink: ResponseSink<HelloResponse>,
    ) -> Result<(), Status> {
        let caller = self.enter(&ctx)?;
        while let Some(request) = requests.message().await? {
            sink.send(reply(format!("{} from {caller}", request.greeting)))
                .await?;
        }
        Ok(())
    }
}

async fn serve(greeter: &Greeter) -> (Running, HelloServiceClient) {
    let service = intercept(HelloServiceServer::new(greeter.clone()), authenticate);
    let server = Running::serve(rgrpc::Server::builder().add_service(service)).await;
    let client = server.client().await;
    (server, client)
}

fn authorization(value: &str) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", MetadataValue::try_from(value).unwrap());
    metadata
}

/// The status of each kind of call sent with `metadata`, which must not get through.
async fn refusals(client: &HelloServiceClient, metadata: &MetadataMap) -> Vec<Status> {
    let unary = client.say_hello(greeting("u")).metadata(metadata.clone());
    let server_streaming = client
        .lots_of_replies(greeting("s"))
        .metadata(metadata.clone());
    let requests = || rgrpc::stream::iter(vec![greeting("c1"), greeting("c2")]);
    let client_streaming = client
        .lots_of_greetings(requests())
        .metadata(metadata.clone());
    let bidi = client.bidi_hello(requests()).metadata(metadata.clone());
    vec![
        bounded("unary", unary).await.unwrap_err(),
        stream_failure("server streaming", server_streaming).await,
        bounded("client streaming", client_streaming)
            .await
            .unwrap_err(),
        stream_failure("bidi", bidi).await,
    ]
}

/// The status a streaming call fails with: when it starts, or at its first response.
async fn stream_failure(
    what: &str,
    call: impl IntoFuture<Output = Result<ResponseStream<HelloResponse>, Status>>,
) -> Status {
    let mut responses = match bounded(what, call).await {
        Ok(responses) => responses,
        Err(status) => return status,
    };
    match bounded(what, responses.message()).await {
        Err(status) => status,
        Ok(message) => panic!("{what}: expected a failure, got {message:?}"),
    }
}

#[tokio::test]
async fn a_call_without_a_token_is_unauthenticated_and_reaches_no_handler() {
    let greeter = Greeter::default();
    let (_server, client) = serve(&greeter).await;
    for status in refusals(&client, &MetadataMap::new()).await {
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
        assert_eq!(status.message(), "missing bearer token");
    }
    assert_eq!(
        greeter.entered(),
        0,
        "a handler ran for an unauthenticated call"
    );
}

#[tokio::test]
async fn a_call_with_a_wrong_token_is_unauthenticated_and_reaches_no_handler() {
    let greeter = Greeter::default();
    let (_server, client) = serve(&greeter).await;
    for wrong in [
        "Bearer mallory-token",
        "Basic YWxpY2U6cHc=",
        "Bearer ",
        "alice-token",
    ] {
        for status in refusals(&client, &authorization(wrong)).await {
            assert_eq!(
                status.code(),
                Code::Unauthenticated,
                "{wrong:?}: {status:?}"
            );
        }
    }
    assert_eq!(
        greeter.entered(),
        0,
        "a handler ran for an unauthenticated call"
    );
}

#[tokio::test]
async fn a_call_with_a_good_token_reaches_the_handler_which_knows_the_caller() {
    let greeter = Greeter::default();
    let (_server, client) = serve(&greeter).await;
    let token = authorization("Bearer alice-token");

    let unary = client.say_hello(greeting("hi")).metadata(token.clone());
    let unary = bounded("unary", unary).await.unwrap().into_inner();
    assert_eq!(unary.reply, "hi from alice");

    let replies = client
        .lots_of_replies(greeting("yo"))
        .metadata(token.clone());
    let mut replies = bounded("server streaming", replies).await.unwrap();
    assert_eq!(next_reply("reply", &mut replies).await, "yo from alice");

    let requests = rgrpc::stream::iter(vec![greeting("a"), greeting("b")]);
    let summary = client.lots_of_greetings(requests).metadata(token.clone());
    let summary = bounded("client streaming", summary)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(summary.reply, "2 from alice");

    let requests = rgrpc::stream::iter(vec![greeting("hey")]);
    let echoes = client.bidi_hello(requests).metadata(token);
    let mut echoes = bounded("bidi", echoes).await.unwrap();
    assert_eq!(next_reply("echo", &mut echoes).await, "hey from alice");

    assert_eq!(greeter.entered(), 4);
    // A refused call on the same connection changes none of that.
    let status = bounded("unauthenticated", client.say_hello(greeting("x")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(greeter.entered(), 4);
}
