//! The four call shapes on the server: decode requests, run the handler, respond.
//!
//! Each entry point is generic only where it must be (the message types and the handler);
//! checks, context set-up and the response machinery are shared, non-generic code.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use prost::Message;
use tokio::sync::mpsc;
use tonic::Status;
use tonic::codec::Streaming;
use tonic_prost::ProstDecoder;

use super::driver::{self, Driver, EVENT_QUEUE, Handler};
use super::{Context, RequestStream, ResponseSink};
use crate::codec::encode_frame;

/// The largest request message a server decodes, as in gRPC's other implementations.
pub const MAX_REQUEST_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// The future a generated server's `call` returns.
pub type ServerFuture =
    Pin<Box<dyn Future<Output = Result<http::Response<tonic::body::Body>, Infallible>> + Send>>;

/// An HTTP/2 request for some method, its body already type-erased.
#[derive(Debug)]
pub struct IncomingCall {
    parts: http::request::Parts,
    body: tonic::body::Body,
}

impl IncomingCall {
    /// Wraps a request from any HTTP stack that tower can hand us.
    pub fn new<B>(request: http::Request<B>) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        Self {
            parts,
            body: tonic::body::Body::new(body),
        }
    }

    /// The request path, `"/package.Service/Method"`, which selects the handler.
    pub fn path(&self) -> &str {
        self.parts.uri.path()
    }
}

/// Serves a unary call with `handler`.
pub fn unary<Req, Resp, H, F>(call: IncomingCall, method: &'static str, handler: H) -> ServerFuture
where
    Req: Message + Default + Send + 'static,
    Resp: Message + 'static,
    H: FnOnce(Context, Req) -> F + Send + 'static,
    F: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    start(call, method, |ctx, mut requests: RequestStream<Req>| {
        Box::pin(async move {
            let request = single_request(&mut requests, method).await?;
            let response = handler(ctx, request).await?;
            encode_frame(&response).map(Some)
        })
    })
}

/// Serves a server-streaming call with `handler`.
pub fn server_streaming<Req, Resp, H, F>(
    call: IncomingCall,
    method: &'static str,
    handler: H,
) -> ServerFuture
where
    Req: Message + Default + Send + 'static,
    Resp: Message + 'static,
    H: FnOnce(Context, Req, ResponseSink<Resp>) -> F + Send + 'static,
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    start(call, method, |ctx, mut requests: RequestStream<Req>| {
        Box::pin(async move {
            let request = single_request(&mut requests, method).await?;
            let sink = ResponseSink::new(ctx.clone());
            handler(ctx, request, sink).await.map(|()| None)
        })
    })
}

/// Serves a client-streaming call with `handler`.
pub fn client_streaming<Req, Resp, H, F>(
    call: IncomingCall,
    method: &'static str,
    handler: H,
) -> ServerFuture
where
    Req: Message + Default + Send + 'static,
    Resp: Message + 'static,
    H: FnOnce(Context, RequestStream<Req>) -> F + Send + 'static,
    F: Future<Output = Result<Resp, Status>> + Send + 'static,
{
    start(call, method, |ctx, requests: RequestStream<Req>| {
        Box::pin(async move {
            let response = handler(ctx, requests).await?;
            encode_frame(&response).map(Some)
        })
    })
}

/// Serves a bidirectional-streaming call with `handler`.
pub fn bidi_streaming<Req, Resp, H, F>(
    call: IncomingCall,
    method: &'static str,
    handler: H,
) -> ServerFuture
where
    Req: Message + Default + Send + 'static,
    Resp: Message + 'static,
    H: FnOnce(Context, RequestStream<Req>, ResponseSink<Resp>) -> F + Send + 'static,
    F: Future<Output = Result<(), Status>> + Send + 'static,
{
    start(call, method, |ctx, requests: RequestStream<Req>| {
        Box::pin(async move {
            let sink = ResponseSink::new(ctx.clone());
            handler(ctx, requests, sink).await.map(|()| None)
        })
    })
}

/// Answers a path no method of the service matches.
pub fn unimplemented(call: IncomingCall) -> ServerFuture {
    let status = Status::unimplemented(format!("unknown method {}", call.path()));
    Box::pin(std::future::ready(Ok(driver::status_response(&status))))
}

/// Checks the request, sets up the call and runs `run` to completion inside the response.
fn start<Req>(
    call: IncomingCall,
    method: &'static str,
    run: impl FnOnce(Context, RequestStream<Req>) -> Handler,
) -> ServerFuture
where
    Req: Message + Default + Send + 'static,
{
    if let Some(rejection) = rejection(&call.parts) {
        return Box::pin(std::future::ready(Ok(rejection)));
    }
    let requests = RequestStream::new(Streaming::new_request(
        ProstDecoder::<Req>::default(),
        call.body,
        None,
        Some(MAX_REQUEST_MESSAGE_SIZE),
    ));
    let (events_tx, events_rx) = mpsc::channel(EVENT_QUEUE);
    let ctx = Context::new(method, call.parts, events_tx);
    let handler = run(ctx.clone(), requests);
    let driver = Driver::new(ctx, events_rx, handler);
    Box::pin(async move { Ok(driver::respond(driver).await) })
}

/// The answer to a request that is not gRPC, or that this server cannot decode.
fn rejection(parts: &http::request::Parts) -> Option<http::Response<tonic::body::Body>> {
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .map(|value| value.as_bytes());
    if !content_type.is_some_and(|value| value.starts_with(b"application/grpc")) {
        // The gRPC spec: a request that is not gRPC gets HTTP 415, not a gRPC status.
        let mut response = http::Response::new(tonic::body::Body::empty());
        *response.status_mut() = http::StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return Some(response);
    }
    match parts.headers.get("grpc-encoding").map(|v| v.as_bytes()) {
        None | Some(b"identity") => None,
        Some(other) => {
            let status = Status::unimplemented(format!(
                "grpc-encoding {:?} is not supported (supported: identity)",
                String::from_utf8_lossy(other)
            ));
            let mut response = driver::status_response(&status);
            response.headers_mut().insert(
                "grpc-accept-encoding",
                http::HeaderValue::from_static("identity"),
            );
            Some(response)
        }
    }
}

/// Reads the one request message of a unary or server-streaming call.
async fn single_request<Req>(
    requests: &mut RequestStream<Req>,
    method: &str,
) -> Result<Req, Status> {
    let request = requests
        .message()
        .await?
        .ok_or_else(|| Status::internal(format!("{method}: the client sent no request message")))?;
    if requests.message().await?.is_some() {
        return Err(Status::internal(format!(
            "{method}: the client sent more than one request message to a call that takes one"
        )));
    }
    Ok(request)
}
