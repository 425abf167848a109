//! Blocking call builders and what they return.

use std::fmt;
use std::time::{Duration, Instant};

use prost::Message;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;

use super::ensure_blocking_allowed;
use crate::client::{self, Requests, Response, ResponseStream, UnaryResponse};

/// How many requests may wait between a blocking producer and the connection.
const REQUEST_QUEUE: usize = 16;

/// The per-call option setters, the same on every blocking builder: each forwards to the
/// builder in `$inner`, so the options mean exactly what they mean on the async client.
macro_rules! option_setters {
    ($inner:ident) => {
        /// Sends `metadata` as the call's request metadata (HTTP/2 request headers),
        /// replacing any set before. Keys ending in `-bin` carry binary values.
        pub fn metadata(mut self, metadata: MetadataMap) -> Self {
            self.$inner = self.$inner.metadata(metadata);
            self
        }

        /// The request metadata, to add entries one by one.
        pub fn metadata_mut(&mut self) -> &mut MetadataMap {
            self.$inner.metadata_mut()
        }

        /// Gives the whole call `timeout`, streams included: sent to the server as
        /// `grpc-timeout`; once it passes, the call ends with `DEADLINE_EXCEEDED` and its
        /// HTTP/2 stream is reset.
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.$inner = self.$inner.timeout(timeout);
            self
        }

        /// Ends the call at `deadline` at the latest (sent as the time left, in
        /// `grpc-timeout`); with a [`timeout`](Self::timeout) too, the earlier one wins.
        pub fn deadline(mut self, deadline: Instant) -> Self {
            self.$inner = self.$inner.deadline(deadline);
            self
        }

        /// Cancels the call when `token` is cancelled, from any thread: it ends with
        /// `CANCELLED` and its HTTP/2 stream is reset (`RST_STREAM`), which cancels the
        /// server's handler too.
        pub fn cancellation(mut self, token: CancellationToken) -> Self {
            self.$inner = self.$inner.cancellation(token);
            self
        }

        /// Compresses the request messages with `encoding`, gzip or zstd, instead of the
        /// client's setting (named in the `grpc-encoding` header; each compressed message
        /// has its frame's compressed flag set).
        pub fn compression(mut self, encoding: CompressionEncoding) -> Self {
            self.$inner = self.$inner.compression(encoding);
            self
        }

        /// Sends the request messages uncompressed, whatever the client's setting.
        pub fn uncompressed(mut self) -> Self {
            self.$inner = self.$inner.uncompressed();
            self
        }

        /// Waits for a ready connection within the deadline instead of failing at once
        /// with `UNAVAILABLE` while the server is not reachable (gRPC's `wait_for_ready`).
        pub fn wait_for_ready(mut self, enabled: bool) -> Self {
            self.$inner = self.$inner.wait_for_ready(enabled);
            self
        }

        /// Refuses response messages larger than `bytes` for this call (default: the
        /// client's, 4 MiB unless set): the call ends with `RESOURCE_EXHAUSTED`.
        pub fn max_response_message_size(mut self, bytes: usize) -> Self {
            self.$inner = self.$inner.max_response_message_size(bytes);
            self
        }

        /// Refuses to send request messages larger than `bytes` for this call (default: the
        /// client's, no limit unless set): the call ends with `RESOURCE_EXHAUSTED`.
        pub fn max_request_message_size(mut self, bytes: usize) -> Self {
            self.$inner = self.$inner.max_request_message_size(bytes);
            self
        }
    };
}

/// A blocking call that has not started yet: set per-call options, then `.call()` it.
#[must_use = "a call does nothing until `.call()`"]
pub struct Call<Req, Resp, Answer> {
    inner: client::Call<Req, Resp, Answer>,
    runtime: Handle,
}

impl<Req, Resp, Answer> Call<Req, Resp, Answer> {
    pub(crate) fn new(inner: client::Call<Req, Resp, Answer>, runtime: Handle) -> Self {
        Self { inner, runtime }
    }

    option_setters!(inner);
}

impl<Req, Resp> Call<Req, Resp, UnaryResponse>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    /// Runs the call and waits for its response.
    pub fn call(self) -> Result<Response<Resp>, Status> {
        ensure_blocking_allowed()?;
        // Prepared inside the runtime: the call's deadline timer belongs to it.
        let Self { inner, runtime } = self;
        runtime.block_on(async move { inner.await })
    }
}

impl<Req, Resp> Call<Req, Resp, ResponseStream<Resp>>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    /// Sends the call; the responses arrive through the returned iterator.
    pub fn call(self) -> Result<Responses<Resp>, Status> {
        ensure_blocking_allowed()?;
        let Self { inner, runtime } = self;
        let stream = runtime.block_on(async move { inner.await })?;
        Ok(Responses { stream, runtime })
    }
}

impl<Req, Resp, Answer> fmt::Debug for Call<Req, Resp, Answer> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Call")
            .field("call", &self.inner)
            .finish()
    }
}

/// The responses of a streaming call, as an iterator: each message in order, then `None`
/// on OK, or one `Err(status)`. Dropping it cancels the call, and the server sees that.
pub struct Responses<T> {
    stream: ResponseStream<T>,
    runtime: Handle,
}

impl<T> Responses<T> {
    /// Waits for the server's initial metadata (its HTTP/2 response headers, protocol
    /// headers removed).
    pub fn headers(&mut self) -> Result<MetadataMap, Status> {
        ensure_blocking_allowed()?;
        self.runtime.block_on(self.stream.headers()).cloned()
    }

    /// The trailing metadata of an OK status (the HTTP/2 trailers next to `grpc-status`),
    /// once the iterator has ended; `None` before.
    pub fn trailers(&self) -> Option<&MetadataMap> {
        self.stream.trailers()
    }
}

impl<T> Iterator for Responses<T> {
    type Item = Result<T, Status>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(status) = ensure_blocking_allowed() {
            return Some(Err(status));
        }
        self.runtime.block_on(self.stream.message()).transpose()
    }
}

impl<T> fmt::Debug for Responses<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responses")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

/// A bidi call that has not started: set options, then `.call()` for its sender and its
/// responses.
#[must_use = "a call does nothing until `.call()`"]
pub struct BidiCall<Req, Resp> {
    call: Call<Req, Resp, ResponseStream<Resp>>,
    sender: mpsc::Sender<Req>,
}

impl<Req: Send + 'static, Resp> BidiCall<Req, Resp> {
    pub(crate) fn new(client: &client::Client, path: &'static str, runtime: Handle) -> Self {
        let (sender, receiver) = mpsc::channel(REQUEST_QUEUE);
        let requests = Requests::Many(Box::pin(ReceiverStream::new(receiver)));
        Self {
            call: Call::new(client.call(path, requests), runtime),
            sender,
        }
    }
}

impl<Req, Resp> BidiCall<Req, Resp> {
    option_setters!(call);
}

impl<Req, Resp> BidiCall<Req, Resp>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + Sync + 'static,
{
    /// Starts the call. Send with the [`RequestSender`] (drop it to finish sending) and read
    /// the [`Responses`], from one thread or two.
    pub fn call(self) -> Result<(RequestSender<Req>, Responses<Resp>), Status> {
        let responses = self.call.call()?;
        Ok((
            RequestSender {
                sender: self.sender,
            },
            responses,
        ))
    }
}

impl<Req, Resp> fmt::Debug for BidiCall<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BidiCall")
            .field("call", &self.call)
            .finish()
    }
}

/// Sends the requests of a bidi call. Clones send into the same call; the client
/// half-closes once every clone is dropped (or [`close`](Self::close)d).
#[derive(Clone)]
pub struct RequestSender<Req> {
    sender: mpsc::Sender<Req>,
}

impl<Req> RequestSender<Req> {
    /// Sends one request, waiting while the connection cannot take it yet. Fails with
    /// `CANCELLED` once the call has ended; its status is then in the responses.
    pub fn send(&self, request: Req) -> Result<(), Status> {
        ensure_blocking_allowed()?;
        self.sender.blocking_send(request).map_err(|_| {
            Status::cancelled("the call has ended; its responses carry the final status")
        })
    }

    /// Finishes sending (half-closes the call: HTTP/2 `END_STREAM`, which the server reads
    /// as the end of the requests); the same as dropping every clone.
    pub fn close(self) {}
}

impl<Req> fmt::Debug for RequestSender<Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSender")
            .field("closed", &self.sender.is_closed())
            .finish()
    }
}

/// A stream of the items of `requests`, pulled on a blocking thread so the iterator may
/// block. Nothing is pulled until the call polls the stream; when the call ends, the
/// channel closes and the thread stops pulling.
pub(crate) fn iter_requests<I>(requests: I) -> impl futures_core::Stream<Item = I::Item> + Send
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
{
    let (sender, mut receiver) = mpsc::channel(REQUEST_QUEUE);
    // The sender moves into the draining thread, so the stream ends when the iterator does.
    let mut pending = Some((requests, sender));
    futures_util::stream::poll_fn(move |cx| {
        if let Some((requests, sender)) = pending.take() {
            tokio::task::spawn_blocking(move || {
                for request in requests {
                    if sender.blocking_send(request).is_err() {
                        break;
                    }
                }
            });
        }
        receiver.poll_recv(cx)
    })
}
