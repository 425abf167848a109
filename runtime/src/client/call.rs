//! Per-call builders: options are set on the call, then it is awaited.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::Either;
use futures_util::stream::{self, BoxStream, Once};
use http::uri::PathAndQuery;
use prost::Message;
use tokio::time::Instant;
use tonic::client::Grpc;
use tonic::metadata::MetadataMap;
use tonic::{Status, Streaming};
use tonic_prost::ProstCodec;

use super::{Response, ResponseStream};
use crate::{Channel, reserved};

/// A call whose answer is one message: unary and client streaming.
pub type UnaryCall<Req, Resp> = Call<Req, Resp, UnaryResponse>;
/// A client-streaming call; the same type as a unary one, named for readability.
pub type ClientStreamingCall<Req, Resp> = Call<Req, Resp, UnaryResponse>;
/// A call whose answer is a stream: server streaming and bidi streaming.
pub type StreamingCall<Req, Resp> = Call<Req, Resp, ResponseStream<Resp>>;

/// Marker for calls answered by exactly one message.
#[derive(Debug)]
pub struct UnaryResponse;

/// A call that has not started yet: set per-call options, then `.await` it.
///
/// ```ignore
/// let reply = client.say_hello(request)
///     .timeout(Duration::from_secs(1))
///     .await?;
/// ```
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<Req, Resp, Answer> {
    grpc: Grpc<Channel>,
    path: &'static str,
    requests: Requests<Req>,
    metadata: MetadataMap,
    timeout: Option<Duration>,
    _answer: PhantomData<fn() -> (Resp, Answer)>,
}

/// What a call sends: one message, or a stream of them.
pub(crate) enum Requests<Req> {
    One(Req),
    Many(BoxStream<'static, Req>),
}

type RequestStream<Req> = Either<Once<std::future::Ready<Req>>, BoxStream<'static, Req>>;

impl<Req> Requests<Req> {
    fn into_stream(self) -> RequestStream<Req> {
        match self {
            Requests::One(message) => Either::Left(stream::once(std::future::ready(message))),
            Requests::Many(messages) => Either::Right(messages),
        }
    }
}

impl<Req, Resp, Answer> Call<Req, Resp, Answer> {
    pub(crate) fn new(grpc: Grpc<Channel>, path: &'static str, requests: Requests<Req>) -> Self {
        Self {
            grpc,
            path,
            requests,
            metadata: MetadataMap::new(),
            timeout: None,
            _answer: PhantomData,
        }
    }

    /// Sends `metadata` as the call's request metadata, replacing any set before.
    pub fn metadata(mut self, metadata: MetadataMap) -> Self {
        self.metadata = metadata;
        self
    }

    /// The request metadata, to add entries one by one.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }

    /// Gives the whole call, streams included, `timeout` from the moment it starts.
    ///
    /// The server learns of it through the `grpc-timeout` header; locally, once it passes,
    /// the call ends with `DEADLINE_EXCEEDED` and its HTTP/2 stream is reset.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Splits the builder into what the transport needs to send the call.
    fn into_request(
        self,
    ) -> (
        Grpc<Channel>,
        PathAndQuery,
        tonic::Request<RequestStream<Req>>,
        Option<Deadline>,
    ) {
        let mut request = tonic::Request::new(self.requests.into_stream());
        *request.metadata_mut() = MetadataMap::from_headers(reserved::headers(self.metadata));
        let deadline = self.timeout.map(|timeout| {
            request.set_timeout(timeout);
            Deadline::after(timeout)
        });
        (
            self.grpc,
            PathAndQuery::from_static(self.path),
            request,
            deadline,
        )
    }
}

impl<Req, Resp, Answer> fmt::Debug for Call<Req, Resp, Answer> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("path", &self.path)
            .field("metadata", &self.metadata)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The instant a call's deadline passes, and the timeout it came from (for the message).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: Duration,
}

impl Deadline {
    fn after(timeout: Duration) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    pub(crate) fn exceeded(&self) -> Status {
        Status::deadline_exceeded(format!("deadline of {:?} exceeded", self.timeout))
    }

    /// The status to report for a call that failed with `status`.
    ///
    /// A server whose own view of the deadline expired first may answer `CANCELLED`
    /// (tonic's server does, "Timeout expired"); once our deadline has passed, the caller
    /// must see `DEADLINE_EXCEEDED` regardless, as grpc-java's client also ensures.
    pub(crate) fn classify(&self, status: Status) -> Status {
        if status.code() == tonic::Code::Cancelled && Instant::now() >= self.at {
            self.exceeded()
        } else {
            status
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<Req, Resp> IntoFuture for Call<Req, Resp, UnaryResponse>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    type Output = Result<Response<Resp>, Status>;
    type IntoFuture = BoxFuture<Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        let (grpc, path, request, deadline) = self.into_request();
        let call = call_unary(grpc, path, request);
        Box::pin(async move {
            match deadline {
                None => call.await,
                Some(deadline) => match tokio::time::timeout_at(deadline.at, call).await {
                    Ok(result) => result.map_err(|status| deadline.classify(status)),
                    Err(_elapsed) => Err(deadline.exceeded()),
                },
            }
        })
    }
}

impl<Req, Resp> IntoFuture for Call<Req, Resp, ResponseStream<Resp>>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    type Output = Result<ResponseStream<Resp>, Status>;
    type IntoFuture = BoxFuture<Self::Output>;

    /// Sends the call and hands over its response stream at once: the wait for the
    /// server's headers runs in a task of its own, so the caller can keep sending requests
    /// (bidi) while the server has not answered yet.
    fn into_future(self) -> Self::IntoFuture {
        let (grpc, path, request, deadline) = self.into_request();
        Box::pin(async move {
            if let Some(deadline) = deadline
                && deadline.at <= Instant::now()
            {
                return Err(deadline.exceeded());
            }
            let opened = tokio::spawn(open_stream(grpc, path, request));
            Ok(ResponseStream::starting(opened, deadline))
        })
    }
}

/// Sends a call and waits for the server's response headers.
async fn open_stream<Req, Resp>(
    mut grpc: Grpc<Channel>,
    path: PathAndQuery,
    request: tonic::Request<RequestStream<Req>>,
) -> Result<tonic::Response<Streaming<Resp>>, Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    grpc.ready()
        .await
        .map_err(|err| Status::unavailable(format!("channel not ready: {err}")))?;
    grpc.streaming(request, path, ProstCodec::<Req, Resp>::default())
        .await
}

/// Runs a call answered by exactly one message, keeping headers and trailers apart.
async fn call_unary<Req, Resp>(
    grpc: Grpc<Channel>,
    path: PathAndQuery,
    request: tonic::Request<RequestStream<Req>>,
) -> Result<Response<Resp>, Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    let response = open_stream::<Req, Resp>(grpc, path, request).await?;
    let (headers, mut body, _) = response.into_parts();
    let message = body.message().await?.ok_or_else(|| {
        Status::internal("protocol error: the server ended the call without a response message")
    })?;
    if body.message().await?.is_some() {
        return Err(Status::internal(
            "protocol error: the server sent more than one response message to a call that expects one",
        ));
    }
    let trailers = body.trailers().await?.unwrap_or_default();
    Ok(Response::new(
        message,
        reserved::metadata(headers.into_headers()),
        reserved::metadata(trailers.into_headers()),
    ))
}
