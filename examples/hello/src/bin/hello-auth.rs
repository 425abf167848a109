//! Bearer-token authentication, end to end: a hello server on 127.0.0.1 behind an
//! interceptor that admits only known tokens, then three calls to it — without a token,
//! with a wrong one, with a good one — and what each got.
//!
//! `cargo run -p hello-demo --bin hello-auth`; exits non-zero if a call ends otherwise
//! than expected.

use std::process::ExitCode;

use hello_demo::hello::HelloRequest;
use hello_demo::hello::HelloResponse;
use hello_demo::hello::hello_service_client::HelloServiceClient;
use hello_demo::hello::hello_service_server::{HelloService, HelloServiceServer};
use rgrpc::metadata::{MetadataMap, MetadataValue};
use rgrpc::tonic::Request;
use rgrpc::{Code, Context, Status};
use tokio::net::TcpListener;

/// Who a token belongs to; the interceptor puts it in the call's extensions.
#[derive(Clone, Debug)]
struct User(&'static str);

/// The tokens this server accepts. A real server would look them up in a store, or verify
/// a signed token (a JWT, say), and compare secrets in constant time.
const TOKENS: &[(&str, User)] = &[("s3cret-alice", User("alice"))];

/// Admits a call carrying `authorization: Bearer <known token>`, noting who made it;
/// answers any other call UNAUTHENTICATED before the service sees it.
fn authenticate(mut request: Request<()>) -> Result<Request<()>, Status> {
    let token = request
        .metadata()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("a bearer token is required"))?;
    let user = TOKENS
        .iter()
        .find(|(known, _)| *known == token)
        .map(|(_, user)| user.clone())
        .ok_or_else(|| Status::unauthenticated("unknown bearer token"))?;
    request.extensions_mut().insert(user);
    Ok(request)
}

/// Greets the authenticated user by name.
struct Greeter;

impl HelloService for Greeter {
    async fn say_hello(
        &self,
        ctx: Context,
        request: HelloRequest,
    ) -> Result<HelloResponse, Status> {
        // Only calls the interceptor admitted get here, so the user is always known.
        let User(name) = ctx
            .extensions()
            .get::<User>()
            .ok_or_else(|| Status::internal("no authenticated user"))?;
        Ok(HelloResponse {
            reply: format!("Hello, {name}! You said {:?}.", request.greeting),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("hello-auth: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|err| format!("cannot listen on 127.0.0.1: {err}"))?;
    let addr = listener.local_addr().map_err(|err| err.to_string())?;
    let service = rgrpc::server::intercept(HelloServiceServer::new(Greeter), authenticate);
    let server = tokio::spawn(
        rgrpc::Server::builder()
            .add_service(service)
            .serve_with_shutdown(listener, std::future::pending()),
    );

    let channel = rgrpc::Channel::connect(format!("http://{addr}"))
        .await
        .map_err(|err| err.to_string())?;
    let client = HelloServiceClient::new(channel);
    let outcomes = [
        ("no token", None, Code::Unauthenticated),
        ("a wrong token", Some("Bearer guess"), Code::Unauthenticated),
        ("alice's token", Some("Bearer s3cret-alice"), Code::Ok),
    ];
    let mut unexpected = 0;
    for (label, authorization, expected) in outcomes {
        let mut metadata = MetadataMap::new();
        if let Some(authorization) = authorization {
            let value = MetadataValue::try_from(authorization).map_err(|err| err.to_string())?;
            metadata.insert("authorization", value);
        }
        let request = HelloRequest {
            greeting: "hi".into(),
        };
        let code = match client.say_hello(request).metadata(metadata).await {
            Ok(response) => {
                println!("{label}: {}", response.into_inner().reply);
                Code::Ok
            }
            Err(status) => {
                println!("{label}: {:?}: {}", status.code(), status.message());
                status.code()
            }
        };
        if code != expected {
            unexpected += 1;
        }
    }
    server.abort();
    match unexpected {
        0 => Ok(()),
        n => Err(format!("{n} call(s) ended otherwise than expected")),
    }
}
