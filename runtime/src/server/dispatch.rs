//! The four call shapes on the server: decode requests, run the handler, respond.
//!
//! Each entry point is generic only where it must be (the message types and the handler);
//! checks, context set-up and the response machinery are shared, non-generic code.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use std::time::Instant;

use bytes::Bytes;
use prost::Message;
use tonic::Status;
use tonic::codec::CompressionEncoding as Compression;
use tracing::Instrument;

use super::call_state::Failure;
use super::context::Context;
use super::driver::{self, Driver, Handler};
use super::inbox::Inbox;
use super::outbox::Outbox;
use super::settings::CallSettings;
use super::streams::{RequestStream, ResponseSink};
use super::transport::peer::Peer;
use crate::call::deadline::{self, GRPC_TIMEOUT, Parsed};
use crate::codec::encode_frame;
use crate::compression;
use crate::log::{CallLog, Parent, Side};

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
    start(
        call,
        method,
        Shape::UNARY,
        |ctx, requests: RequestStream<Req>, replies| {
            Box::pin(async move {
                let request = single_request(requests, method).await?;
                let response = handler(ctx, request).await?;
                replies.encode(&response).map(Some)
            })
        },
    )
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
    start(
        call,
        method,
        Shape::SERVER_STREAMING,
        |ctx, requests: RequestStream<Req>, replies| {
            Box::pin(async move {
                let request = single_request(requests, method).await?;
                let sink = replies.sink(&ctx)?;
                handler(ctx, request, sink).await.map(|()| None)
            })
        },
    )
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
    start(
        call,
        method,
        Shape::CLIENT_STREAMING,
        |ctx, requests: RequestStream<Req>, replies| {
            Box::pin(async move {
                let response = handler(ctx, requests).await?;
                replies.encode(&response).map(Some)
            })
        },
    )
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
    start(
        call,
        method,
        Shape::BIDI_STREAMING,
        |ctx, requests: RequestStream<Req>, replies| {
            Box::pin(async move {
                let sink = replies.sink(&ctx)?;
                handler(ctx, requests, sink).await.map(|()| None)
            })
        },
    )
}

/// Answers a path no method of the service matches.
pub fn unimplemented(call: IncomingCall) -> ServerFuture {
    answer_with(&crate::call::status::unknown_method(call.path()))
}

/// A call answered at once with `status` alone, no handler run.
pub(crate) fn answer_with(status: &Status) -> ServerFuture {
    Box::pin(std::future::ready(Ok(driver::status_response(status))))
}

/// A request refused at once with an HTTP status (415, 505), `status` going with it so that
/// a gRPC client can say what was wrong.
pub(crate) fn answer_with_http_status(http: http::StatusCode, status: &Status) -> ServerFuture {
    Box::pin(std::future::ready(Ok(http_refusal(http, status))))
}

/// `status` alone, under the HTTP status `http`.
fn http_refusal(http: http::StatusCode, status: &Status) -> http::Response<tonic::body::Body> {
    let mut response = driver::status_response(status);
    *response.status_mut() = http;
    response
}

/// How many messages each side of a call sends: one, or a stream.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Count {
    One,
    Stream,
}

/// The shape of a call: how the client asks and how the handler answers.
#[derive(Clone, Copy)]
struct Shape {
    /// A stream of requests reaches the handler itself (client and bidi streaming): its
    /// first read sends the initial metadata (see `Context::defer_headers`).
    requests: Count,
    /// A streamed answer goes through a sink and an outbox; a single one needs neither.
    responses: Count,
}

impl Shape {
    const UNARY: Shape = Shape {
        requests: Count::One,
        responses: Count::One,
    };
    const SERVER_STREAMING: Shape = Shape {
        requests: Count::One,
        responses: Count::Stream,
    };
    const CLIENT_STREAMING: Shape = Shape {
        requests: Count::Stream,
        responses: Count::One,
    };
    const BIDI_STREAMING: Shape = Shape {
        requests: Count::Stream,
        responses: Count::Stream,
    };
}

/// Where a handler's answer goes, and how large a message it may be.
struct Replies {
    /// The outbox of a call that streams its answer; calls answered by one message
    /// need none.
    outbox: Option<Arc<Outbox>>,
    failure: Failure,
    /// The server's `max_response_message_size`.
    max_size: usize,
}

impl Replies {
    /// The single response of a unary or client-streaming call, as a frame.
    fn encode<Resp: Message>(&self, response: &Resp) -> Result<Bytes, Status> {
        encode_frame(
            response,
            self.max_size,
            self.failure.call().state().message_encoding(),
        )
    }

    /// The sink of a streaming call, over the outbox `start` made for it.
    fn sink<Resp: Message>(self, ctx: &Context) -> Result<ResponseSink<Resp>, Status> {
        let outbox = self
            .outbox
            .ok_or_else(|| Status::internal("rgrpc bug: a streaming call without an outbox"))?;
        Ok(ResponseSink::new(
            ctx.clone(),
            outbox,
            self.failure,
            self.max_size,
        ))
    }
}

/// Checks the request, sets up the call and runs `run` to completion inside the response.
/// Only calls that stream their answer get an outbox: the others need none.
fn start<Req>(
    mut call: IncomingCall,
    method: &'static str,
    shape: Shape,
    run: impl FnOnce(Context, RequestStream<Req>, Replies) -> Handler,
) -> ServerFuture
where
    Req: Message + Default + Send + 'static,
{
    let admitted = match admit(&call.parts) {
        Ok(admitted) => admitted,
        Err(refusal) => return Box::pin(std::future::ready(Ok(refusal.into_response()))),
    };
    // Over HTTP/1.1 (gRPC-Web, Connect) the request ends before the response starts: a
    // bidi handler could never answer mid-stream, so the call is refused, never left to hang.
    if shape.requests == Count::Stream
        && shape.responses == Count::Stream
        && call.parts.version < http::Version::HTTP_2
    {
        return answer_with(&crate::call::status::bidi_needs_http2(method));
    }
    // Put there by `Limited`; absent when the server's settings are the defaults, or when
    // the service is mounted in a plain tonic server.
    let settings = call.parts.extensions.remove::<Arc<CallSettings>>();
    let limits = settings.as_ref().map(|s| s.limits).unwrap_or_default();
    let response_compression = settings.and_then(|s| s.compression.for_method(method));
    let peer = Peer::of(&call.parts.extensions);
    let log = CallLog::start(
        Side::Server,
        method,
        peer.addr,
        admitted.timeout,
        &Parent::default(),
    );
    #[cfg(feature = "otel")]
    crate::otel::propagation::adopt_parent(log.span(), &call.parts.headers);
    let deadline = admitted
        .timeout
        .and_then(|timeout| deadline::after(admitted.arrived, timeout));
    let outbox = match shape.responses {
        Count::One => None,
        Count::Stream => Some(Outbox::new()),
    };
    let IncomingCall { parts, body } = call;
    let ctx = Context::new(
        method,
        parts,
        peer,
        deadline,
        response_compression,
        Parent::of(&log),
    );
    let failure = Failure::of(&ctx);
    let inbox = Arc::new(Inbox::new(body));
    let requests = RequestStream::new(
        inbox.clone(),
        admitted.encoding,
        failure.clone(),
        limits.max_request(),
        shape.requests == Count::Stream,
    );
    let replies = Replies {
        outbox: outbox.clone(),
        failure: failure.clone(),
        max_size: limits.max_response(),
    };
    let handler: Handler =
        Box::pin(run(ctx.clone(), requests, replies).instrument(log.span().clone()));
    let streams = shape.requests == Count::Stream || shape.responses == Count::Stream;
    let driver = Driver::new(ctx, inbox, outbox, handler, streams, failure, log);
    Box::pin(async move { Ok(driver::respond(driver).await) })
}

/// What the request headers say about how to serve the call.
struct Admitted {
    arrived: Instant,
    encoding: Option<Compression>,
    timeout: Option<std::time::Duration>,
}

/// Why a request is not served.
enum Refusal {
    /// Not gRPC at all: the spec's answer is HTTP 415. The status goes with it, as
    /// grpc-go sends it, so that a gRPC client can say what was wrong.
    NotGrpc(Status),
    /// A message encoding this server cannot decode.
    UnsupportedEncoding(Status),
    /// A gRPC request with broken call headers.
    Malformed(Status),
}

impl Refusal {
    fn into_response(self) -> http::Response<tonic::body::Body> {
        match self {
            Refusal::NotGrpc(status) => {
                http_refusal(http::StatusCode::UNSUPPORTED_MEDIA_TYPE, &status)
            }
            // Every response lists what the server decodes (`grpc-accept-encoding`).
            Refusal::UnsupportedEncoding(status) => driver::status_response(&status),
            Refusal::Malformed(status) => driver::status_response(&status),
        }
    }
}

/// Accepts a gRPC request this server can decode, or says why not.
fn admit(parts: &http::request::Parts) -> Result<Admitted, Refusal> {
    let arrived = Instant::now();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .map_or(&b""[..], |value| value.as_bytes());
    if !super::protocol::is_grpc(content_type) {
        return Err(Refusal::NotGrpc(Status::invalid_argument(format!(
            "invalid gRPC request content-type {:?}",
            String::from_utf8_lossy(content_type)
        ))));
    }
    let encoding = match parts.headers.get(&compression::GRPC_ENCODING) {
        None => None,
        Some(name) => compression::parse(name.as_bytes()).map_err(|()| {
            Refusal::UnsupportedEncoding(Status::unimplemented(format!(
                "grpc-encoding {:?} is not supported (supported: {})",
                String::from_utf8_lossy(name.as_bytes()),
                String::from_utf8_lossy(compression::ACCEPT_ENCODING.as_bytes())
            )))
        })?,
    };
    let timeout = match GRPC_TIMEOUT.read(&parts.headers) {
        Parsed::Absent => None,
        Parsed::Timeout(timeout) => Some(timeout),
        // As grpc-go: a deadline the server cannot read is a broken request, not "none".
        Parsed::Malformed(problem) => {
            return Err(Refusal::Malformed(Status::internal(problem)));
        }
    };
    Ok(Admitted {
        arrived,
        encoding,
        timeout,
    })
}

/// Reads the one request message of a unary or server-streaming call.
///
/// Takes the stream so that its decode buffer (as large as the message) is freed before
/// the handler runs: holding it through the handler costs a large call one more
/// message-sized allocation live at once, and glibc then returns and refaults the pages on
/// every call (measured: 1 MiB calls at 0.6× tonic's speed, with 3× its page faults).
async fn single_request<Req: Message + Default>(
    mut requests: RequestStream<Req>,
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
