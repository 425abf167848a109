//! Per-call builders: options are set on the call, then it is awaited.

use std::fmt;
use std::future::{Future, IntoFuture, poll_fn};
use std::marker::PhantomData;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::future::Either;
use futures_util::stream::{self, BoxStream, Once};
use http::uri::PathAndQuery;
use prost::Message;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::client::Grpc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::{Status, Streaming};
use tonic_prost::ProstCodec;
use tracing::Instrument;

use super::response::Response;
use super::sizes::{self, MessageSizes};
use super::stream::ResponseStream;
use super::watch::Watch;
use crate::call::cancel::ResetOnDrop;
use crate::call::deadline::{Deadline, GRPC_TIMEOUT, earliest};
use crate::call::status::cancelled_by_caller;
use crate::channel::Channel;
use crate::channel::call_policy::CallPolicy;
use crate::channel::protocol::CallShape;
use crate::intercept::client::{CallRecord, ClientChain};
use crate::log::{CallLog, Parent, Side};
use crate::reserved;
use crate::server::context::Context;
use crate::service_config::MethodConfig;

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
/// ```
/// # mod doctest { include!(concat!(env!("CARGO_MANIFEST_DIR"), "/doctest/hello.rs")); }
/// # use doctest::{block_on, hello, MyHello};
/// use std::time::Duration;
///
/// use hello::hello_service_client::HelloServiceClient;
/// use hello::hello_service_server::HelloServiceServer;
/// use hello::HelloRequest;
///
/// # block_on(async {
/// # let server = rgrpc::Server::builder()
/// #     .add_service(HelloServiceServer::new(MyHello))
/// #     .serve_in_process();
/// # let client = HelloServiceClient::new(server.channel());
/// let token = rgrpc::CancellationToken::new();
/// let response = client
///     .say_hello(HelloRequest { greeting: "world".into() })
///     .timeout(Duration::from_secs(1)) // sent as `grpc-timeout`
///     .cancellation(token.clone()) // token.cancel() ends the call with CANCELLED
///     .await?;
/// assert_eq!(response.into_inner().reply, "Hello, world!");
/// # Ok(()) }).unwrap();
/// ```
#[must_use = "a call does nothing until it is awaited"]
pub struct Call<Req, Resp, Answer> {
    grpc: Grpc<Channel>,
    path: &'static str,
    requests: Requests<Req>,
    options: Options,
    _answer: PhantomData<fn() -> (Resp, Answer)>,
}

/// The per-call options.
#[derive(Debug, Default)]
struct Options {
    metadata: MetadataMap,
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    cancellations: Vec<CancellationToken>,
    compression: Option<CompressionEncoding>,
    /// The client's size limits.
    sizes: MessageSizes,
    /// The call's own size limits, which win over the service config's and the client's.
    max_request: Option<usize>,
    max_response: Option<usize>,
    /// Set by the call; else the service config's, else off.
    wait_for_ready: Option<bool>,
    /// The service config's entry for this method.
    method: Option<Arc<MethodConfig>>,
    /// The channel's and the client's interceptors.
    interceptors: Option<Arc<ClientChain>>,
    /// The span of the served call this call is made for (`propagate`).
    parent: Parent,
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
    pub(crate) fn new(
        grpc: Grpc<Channel>,
        path: &'static str,
        requests: Requests<Req>,
        sizes: MessageSizes,
        compression: Option<CompressionEncoding>,
    ) -> Self {
        Self {
            grpc,
            path,
            requests,
            options: Options {
                sizes,
                compression,
                ..Options::default()
            },
            _answer: PhantomData,
        }
    }

    /// Applies the service config's entry for this method (`None`: there is none).
    pub(crate) fn configured(mut self, method: Option<Arc<MethodConfig>>) -> Self {
        self.options.method = method;
        self
    }

    /// Runs `interceptors` around the call (`None`: there are none).
    pub(crate) fn intercepted(mut self, interceptors: Option<Arc<ClientChain>>) -> Self {
        self.options.interceptors = interceptors;
        self
    }

    /// Sends `metadata` as the call's request metadata, replacing any set before.
    /// Keys ending in `-bin` carry binary values.
    pub fn metadata(mut self, metadata: MetadataMap) -> Self {
        self.options.metadata = metadata;
        self
    }

    /// The request metadata, to add entries one by one.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.options.metadata
    }

    /// Gives the whole call, streams included, `timeout` from the moment it starts.
    ///
    /// The server learns of it through the `grpc-timeout` header; locally, once it passes,
    /// the call ends with `DEADLINE_EXCEEDED` and its HTTP/2 stream is reset. With both a
    /// timeout and a [`deadline`](Self::deadline), the earlier one applies.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Ends the call at `deadline` at the latest (see [`timeout`](Self::timeout)).
    pub fn deadline(mut self, deadline: std::time::Instant) -> Self {
        self.options.deadline = Some(earliest(self.options.deadline, Instant::from_std(deadline)));
        self
    }

    /// Cancels the call when `token` is cancelled: it ends at once with `CANCELLED` and its
    /// HTTP/2 stream is reset, so the server's handler is cancelled too. May be given
    /// several times; any of the tokens cancels.
    pub fn cancellation(mut self, token: CancellationToken) -> Self {
        self.options.cancellations.push(token);
        self
    }

    /// Compresses the request messages with `encoding`, gzip or zstd, instead of the
    /// client's setting. The server must decode it: one that does not answers
    /// `UNIMPLEMENTED`, and lists what it decodes in `grpc-accept-encoding` (rgrpc, grpc-go,
    /// grpc-java and grpc-js servers decode gzip; rgrpc's also zstd).
    pub fn compression(mut self, encoding: CompressionEncoding) -> Self {
        self.options.compression = Some(encoding);
        self
    }

    /// Sends this call's request messages uncompressed, whatever the client's setting.
    pub fn uncompressed(mut self) -> Self {
        self.options.compression = None;
        self
    }

    /// Refuses response messages larger than `bytes` for this call, instead of the
    /// client's limit (default 4 MiB): the call ends with `RESOURCE_EXHAUSTED`, the
    /// message refused from its length prefix before any of it is buffered.
    pub fn max_response_message_size(mut self, bytes: usize) -> Self {
        self.options.max_response = Some(bytes);
        self
    }

    /// Refuses to send request messages larger than `bytes` for this call, instead of the
    /// client's limit (default: no limit): the call ends with `RESOURCE_EXHAUSTED` and the
    /// message is not sent. A request stream stops at that message without half-closing,
    /// so the server never takes the requests before it for all of them.
    pub fn max_request_message_size(mut self, bytes: usize) -> Self {
        self.options.max_request = Some(bytes);
        self
    }

    /// Waits for the channel to have a ready connection, however long it takes within the
    /// deadline, instead of failing at once with `UNAVAILABLE` while the server is not
    /// reachable (gRPC's `wait_for_ready`; off by default).
    pub fn wait_for_ready(mut self, enabled: bool) -> Self {
        self.options.wait_for_ready = Some(enabled);
        self
    }

    /// Makes this an outgoing call on behalf of the incoming call `ctx`: it inherits the
    /// remaining deadline and is cancelled with it, so a chain of services stops as soon
    /// as its first caller goes away. With the `otel` feature, its span is a child of the
    /// incoming call's, so the trace goes on through it.
    pub fn propagate(mut self, ctx: &Context) -> Self {
        self.options.parent = ctx.span_parent();
        if let Some(deadline) = ctx.deadline() {
            self.options.deadline =
                Some(earliest(self.options.deadline, Instant::from_std(deadline)));
        }
        self.options.cancellations.push(ctx.cancellation_token());
        self
    }
}

impl<Req, Resp, Answer> Call<Req, Resp, Answer>
where
    Req: Message + Send + 'static,
{
    /// Runs the interceptors' `before` hooks, within the call's deadline and cancellation;
    /// returns the record that tells them of the call's attempts and end. The deadline is
    /// fixed from here on, so time spent in the hooks counts against it.
    async fn intercept(&mut self, chain: Arc<ClientChain>) -> Result<Arc<CallRecord>, Status> {
        let deadline = self.call_deadline(Instant::now());
        if let Some(deadline) = deadline {
            self.options.deadline = Some(deadline.at);
            self.options.timeout = None;
        }
        let mut watch = Watch::new(deadline, self.options.cancellations.clone());
        let mut record = chain.record(self.path, deadline.map(|d| d.at));
        let result = {
            let mut hooks = pin!(record.before(&mut self.options.metadata));
            poll_fn(|cx| match watch.poll_ended(cx) {
                Poll::Ready(status) => Poll::Ready(Err(status)),
                Poll::Pending => hooks.as_mut().poll(cx),
            })
            .await
        };
        let record = Arc::new(record);
        match result {
            Ok(()) => Ok(record),
            Err(status) => {
                record.end(status.code(), status.message());
                Err(status)
            }
        }
    }

    /// The call's deadline if it starts at `now`: its own timeout and deadline, and the
    /// service config's timeout (which only ever shortens it).
    fn call_deadline(&self, now: Instant) -> Option<Deadline> {
        let configured = self.options.method.as_deref().and_then(|m| m.timeout);
        let timeout = match (self.options.timeout, configured) {
            (Some(own), Some(configured)) => Some(own.min(configured)),
            (own, configured) => own.or(configured),
        };
        Deadline::of_call(now, timeout, self.options.deadline)
    }

    /// Everything needed to run the call, or the status that ends it before it starts.
    /// `streams_responses` says the call answers with a stream; `record` is the
    /// interceptors' record of it, if it has interceptors.
    fn prepare(
        self,
        streams_responses: bool,
        record: Option<Arc<CallRecord>>,
    ) -> Result<Prepared<Req>, Status> {
        let deadline = self.call_deadline(Instant::now());
        let Options {
            metadata,
            timeout: _,
            deadline: _,
            cancellations,
            compression,
            sizes,
            max_request,
            max_response,
            wait_for_ready,
            method,
            interceptors: _,
            parent,
        } = self.options;
        // The call's own options win; the service config's fill in what the call left
        // unset, before the client's defaults. Its timeout only ever shortens a deadline.
        let configured = method.as_deref();
        let sizes = MessageSizes {
            max_request: max_request
                .or(configured.and_then(|m| m.max_request_message_bytes))
                .unwrap_or(sizes.max_request),
            max_response: max_response
                .or(configured.and_then(|m| m.max_response_message_bytes))
                .unwrap_or(sizes.max_response),
        };
        let wait_for_ready = wait_for_ready
            .or(configured.and_then(|m| m.wait_for_ready))
            .unwrap_or(false);
        let mut log = CallLog::start(
            Side::Client,
            self.path,
            None,
            deadline.map(|d| d.timeout),
            &parent,
        );
        log.observed_by(record.clone());
        if let Some(deadline) = deadline
            && deadline.timeout.is_zero()
        {
            let status = deadline.exceeded();
            log.end(status.code(), status.message());
            return Err(status);
        }
        let (requests, oversized) =
            sizes::check(self.requests, sizes.max_request).inspect_err(|status| {
                log.end(status.code(), status.message());
            })?;
        let watch = Watch::new(deadline, cancellations).with_sizes(sizes.max_response, oversized);
        // Only a request stream can still be sending when the call ends early; a single
        // request is sent at once, and hyper resets the stream when the call is dropped.
        let streamed = matches!(requests, Requests::Many(_));
        let mut request = tonic::Request::new(requests.into_stream());
        let mut headers = reserved::headers(metadata);
        #[cfg(feature = "otel")]
        crate::otel::propagation::inject(log.span(), &mut headers);
        if let Some(deadline) = deadline {
            GRPC_TIMEOUT.write(&mut headers, deadline.timeout);
        }
        *request.metadata_mut() = MetadataMap::from_headers(headers);
        // What a channel speaking gRPC-Web or Connect needs to know of the call.
        request.extensions_mut().insert(CallShape {
            streams_requests: streamed,
            streams_responses,
            max_response: sizes.max_response,
        });
        request.extensions_mut().insert(CallPolicy {
            wait_for_ready,
            deadline: deadline.map(|deadline| deadline.at),
            method,
            record,
        });
        let reset = streamed.then(|| ResetOnDrop::new(request.cancellation_handle()));
        let mut grpc = self.grpc.max_decoding_message_size(sizes.max_response);
        if let Some(encoding) = compression {
            grpc = grpc.send_compressed(encoding);
        }
        Ok(Prepared {
            grpc,
            path: PathAndQuery::from_static(self.path),
            request,
            watch,
            reset,
            log,
        })
    }
}

/// A call ready to go on the wire.
struct Prepared<Req> {
    grpc: Grpc<Channel>,
    path: PathAndQuery,
    request: tonic::Request<RequestStream<Req>>,
    watch: Watch,
    reset: Option<ResetOnDrop>,
    log: CallLog,
}

impl<Req, Resp, Answer> fmt::Debug for Call<Req, Resp, Answer> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
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

    fn into_future(mut self) -> Self::IntoFuture {
        let Some(chain) = self.options.interceptors.take() else {
            return Box::pin(unary(self.prepare(false, None)));
        };
        Box::pin(async move {
            let record = self.intercept(chain).await?;
            unary(self.prepare(false, Some(record))).await
        })
    }
}

/// Runs a call answered by one message, once prepared.
async fn unary<Req, Resp>(prepared: Result<Prepared<Req>, Status>) -> Result<Response<Resp>, Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    let Prepared {
        grpc,
        path,
        request,
        mut watch,
        reset,
        mut log,
    } = prepared?;
    let span = log.span().clone();
    let result = async {
        // The watch is polled first: a call cancelled or expired before it starts
        // never goes on the wire.
        let mut call = pin!(call_unary::<Req, Resp>(grpc, path, request));
        poll_fn(|cx| {
            if let Poll::Ready(status) = watch.poll_ended(cx) {
                return Poll::Ready(Err(status));
            }
            call.as_mut()
                .poll(cx)
                .map_err(|status| watch.classify(status))
        })
        .await
    }
    .instrument(span)
    .await;
    // Dropping the call (done above) and then this resets the stream if it is
    // still open, e.g. a client stream still sending when the call was cancelled.
    drop(reset);
    log.end_with(&result);
    result
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
    fn into_future(mut self) -> Self::IntoFuture {
        let cancelled_before_start = self
            .options
            .cancellations
            .iter()
            .any(CancellationToken::is_cancelled);
        let Some(chain) = self.options.interceptors.take() else {
            return Box::pin(streaming(cancelled_before_start, self.prepare(true, None)));
        };
        Box::pin(async move {
            let record = self.intercept(chain).await?;
            streaming(cancelled_before_start, self.prepare(true, Some(record))).await
        })
    }
}

/// Sends a call answered by a stream, once prepared, and hands over its stream at once.
async fn streaming<Req, Resp>(
    cancelled_before_start: bool,
    prepared: Result<Prepared<Req>, Status>,
) -> Result<ResponseStream<Resp>, Status>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    let Prepared {
        grpc,
        path,
        request,
        watch,
        reset,
        mut log,
    } = prepared?;
    if cancelled_before_start {
        let status = cancelled_by_caller();
        log.end(status.code(), status.message());
        return Err(status);
    }
    let opened = tokio::spawn(open_stream(grpc, path, request).instrument(log.span().clone()));
    Ok(ResponseStream::starting(opened, watch, reset, log))
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
