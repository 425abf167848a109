//! Turns a running handler into an HTTP/2 response: headers, DATA frames, trailers.
//!
//! The handler future is polled *inside* the response: first by the service future until
//! the handler sends headers or a message (or finishes), then by the response body. So the
//! handler lives exactly as long as the HTTP/2 stream — when the client resets the stream,
//! hyper drops the body and with it the handler. Everything here is non-generic: messages
//! arrive already encoded, so this code is compiled once for all services.
//!
//! The driver owns the call's progress on the wire; when the deadline passes, what status a
//! call ends with and how it is written are the shared `call` layer's rules.

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame};
use tokio::time::Sleep;
use tonic::Status;

use super::call_state::Failure;
use super::context::Context;
use super::inbox::Inbox;
use super::outbox::Outbox;
use super::wake_flag::WakeFlag;
use crate::call::status;
use crate::compression;
use crate::log::CallLog;
use crate::reserved;

/// The handler's work: for unary answers, the encoded response message.
pub(crate) type Handler = Pin<Box<dyn Future<Output = Result<Option<Bytes>, Status>> + Send>>;

/// The next thing to write.
enum Step {
    Headers,
    Message(Bytes),
    /// The handler is done and every message it sent is written: time for trailers.
    Finished,
}

/// Drives a handler and collects what it sends.
pub(crate) struct Driver {
    call: Context,
    handler: Option<Handler>,
    /// For a call that streams either way, the handler's waker: the handler is polled again
    /// only once something woke it (see `wake_flag`). A unary handler runs in one or two
    /// polls and needs none.
    handler_woken: Option<WakeFlag<1>>,
    /// The request bytes, read ahead while the handler runs (see `inbox`).
    inbox: Option<Arc<Inbox>>,
    /// The messages a streaming handler sends through its sink; `None` for calls answered
    /// by one message, which need no outbox (and so allocate none).
    outbox: Option<Arc<Outbox>>,
    /// The unary response, written after any queued messages.
    last_message: Option<Bytes>,
    outcome: Result<(), Status>,
    /// When the client's deadline passes; enforced for the whole call, not only until the
    /// response headers as tonic's server does.
    deadline: Option<Pin<Box<Sleep>>>,
    failure: Failure,
    log: CallLog,
}

impl Driver {
    pub(crate) fn new(
        call: Context,
        inbox: Arc<Inbox>,
        outbox: Option<Arc<Outbox>>,
        handler: Handler,
        streams: bool,
        failure: Failure,
        log: CallLog,
    ) -> Self {
        let deadline = call
            .deadline()
            .map(|at| Box::pin(tokio::time::sleep_until(at.into())));
        Self {
            call,
            handler: Some(handler),
            handler_woken: streams.then(WakeFlag::new),
            inbox: Some(inbox),
            outbox,
            last_message: None,
            outcome: Ok(()),
            deadline,
            failure,
            log,
        }
    }

    /// Stops the handler and ends the call with `status`: the handler's work is dropped
    /// (its context cancelled) and nothing more can be sent; what it queued before is
    /// still written.
    fn stop(&mut self, status: Status) {
        self.handler = None;
        self.inbox = None;
        self.deadline = None;
        if let Some(outbox) = &self.outbox {
            outbox.close();
        }
        self.last_message = None;
        self.call.end();
        self.outcome = Err(status);
    }

    /// Stops the handler because the deadline passed: what it queued is discarded too,
    /// and the call ends with `DEADLINE_EXCEEDED`.
    fn expire(&mut self) {
        self.stop(status::deadline_passed(self.call.method()));
        if let Some(outbox) = &self.outbox {
            outbox.discard();
        }
    }

    fn poll_step(&mut self, cx: &mut TaskContext<'_>) -> Poll<Step> {
        if self.handler.is_some() {
            // Once, before anything is checked: a failure or a headers request set from
            // another task after this point wakes this one.
            self.call.state().register_driver(cx.waker());
            if let Some(inbox) = &self.inbox {
                inbox.read_ahead(cx);
            }
            // The clock too: tokio may wake this task for another timer (tonic's own
            // deadline layer, when mounted in tonic's server) before it marks this one fired.
            if let Some(deadline) = &mut self.deadline
                && (deadline.as_mut().poll(cx).is_ready()
                    || deadline.deadline() <= tokio::time::Instant::now())
            {
                self.expire();
            } else if let Some(status) = self.failure.get() {
                self.stop(status);
            }
        }
        if let Some(handler) = &mut self.handler {
            if self.call.state().take_headers_request() {
                return Poll::Ready(Step::Headers);
            }
            // Queued messages first, so they go out while the handler keeps producing.
            if let Some(message) = poll_message(self.outbox.as_deref(), cx) {
                return Poll::Ready(Step::Message(message));
            }
            let polled = match &self.handler_woken {
                None => handler.as_mut().poll(cx),
                Some(woken) => {
                    woken.register(0, cx.waker());
                    if !woken.take() {
                        // Not woken, so it asked for nothing since the checks above; what
                        // others ask for (a spawned task's send, say) wakes this task.
                        return Poll::Pending;
                    }
                    handler
                        .as_mut()
                        .poll(&mut TaskContext::from_waker(woken.waker()))
                }
            };
            // A failure the handler met while running ends the call, whether the handler
            // returned it, returned something else, or carried on.
            match (polled, self.failure.get()) {
                (Poll::Pending, None) => {
                    // What the handler asked for while it ran goes out now, not after a
                    // wake-up: the headers (its first read of the request stream asks for
                    // them), then its messages.
                    if self.call.state().take_headers_request() {
                        return Poll::Ready(Step::Headers);
                    }
                    return match poll_message(self.outbox.as_deref(), cx) {
                        Some(message) => Poll::Ready(Step::Message(message)),
                        None => Poll::Pending,
                    };
                }
                (_, Some(status)) => self.stop(status),
                (Poll::Ready(result), None) => {
                    self.handler = None;
                    self.inbox = None;
                    // The call ends with the handler: sends from tasks it spawned now fail.
                    if let Some(outbox) = &self.outbox {
                        outbox.close();
                    }
                    match result {
                        Ok(message) => self.last_message = message,
                        Err(status) => self.outcome = Err(status),
                    }
                }
            }
        }
        if let Some(message) = poll_message(self.outbox.as_deref(), cx) {
            return Poll::Ready(Step::Message(message));
        }
        Poll::Ready(match self.last_message.take() {
            Some(message) => Step::Message(message),
            None => Step::Finished,
        })
    }

    /// The trailer block ending the call: the handler's status and trailing metadata.
    fn trailers(&mut self) -> HeaderMap {
        let mut trailers = reserved::headers(self.call.state().take_trailers());
        match std::mem::replace(&mut self.outcome, Ok(())) {
            Ok(()) => {
                status::write_grpc_ok(&mut trailers);
                self.log.end(tonic::Code::Ok, "");
            }
            Err(status) => {
                status::write_grpc(&status, &mut trailers);
                self.log.end(status.code(), status.message());
            }
        }
        trailers
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // However the call ended: completed, failed, past its deadline, or reset by the
        // client (hyper drops the body).
        self.call.end();
        // Sends from tasks the handler spawned fail from now on, however the call ended.
        if let Some(outbox) = &self.outbox {
            outbox.close();
        }
        // Trailers logged the end already, unless the call was cut short: by the client, or
        // by a layer in front of us enforcing the deadline (tonic's server does, until the
        // response headers).
        let (code, message) = status::cut_short(self.call.deadline());
        self.log.end(code, message);
    }
}

/// The messages waiting in the outbox, if there is one and they are.
fn poll_message(outbox: Option<&Outbox>, cx: &mut TaskContext<'_>) -> Option<Bytes> {
    outbox?.poll_take(cx)
}

/// Runs the handler until the response can start, and returns that response.
pub(crate) async fn respond(mut driver: Driver) -> http::Response<tonic::body::Body> {
    let first = poll_fn(|cx| driver.poll_step(cx)).await;
    let first_message = match first {
        Step::Headers => None,
        Step::Message(message) => Some(message),
        // Nothing was sent at all: answer "Trailers-Only", one header block with everything.
        Step::Finished => {
            let mut headers = reserved::headers(driver.call.state().take_headers());
            headers.extend(driver.trailers());
            return grpc_response(headers, tonic::body::Body::empty());
        }
    };
    let mut headers = reserved::headers(driver.call.state().take_headers());
    // Taken with the headers: the encoding cannot change from here on.
    if let Some(name) = driver
        .call
        .state()
        .response_compression()
        .and_then(compression::name)
    {
        headers.insert(
            compression::GRPC_ENCODING,
            http::HeaderValue::from_static(name),
        );
    }
    let body = ResponseBody {
        driver,
        first_message,
        trailers_next: false,
        done: false,
    };
    grpc_response(headers, tonic::body::Body::new(body))
}

/// A gRPC response with `headers`; they also say which encodings the server decodes, so a
/// client can compress its next calls.
fn grpc_response(
    mut headers: HeaderMap,
    body: tonic::body::Body,
) -> http::Response<tonic::body::Body> {
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    headers.insert(
        compression::GRPC_ACCEPT_ENCODING,
        compression::ACCEPT_ENCODING,
    );
    let mut response = http::Response::new(body);
    *response.headers_mut() = headers;
    response
}

/// A complete gRPC response made of a status alone (Trailers-Only).
pub(crate) fn status_response(status: &Status) -> http::Response<tonic::body::Body> {
    let mut headers = HeaderMap::new();
    status::write_grpc(status, &mut headers);
    grpc_response(headers, tonic::body::Body::empty())
}

/// The response body: the messages the handler sends, then the trailers.
struct ResponseBody {
    driver: Driver,
    first_message: Option<Bytes>,
    /// The handler finished while a batch was being written: trailers come next.
    trailers_next: bool,
    done: bool,
}

/// Messages already waiting are written together, up to this many bytes per DATA frame:
/// one frame per small message would cost HTTP/2 framing and a write per message.
const BATCH_BYTES: usize = 16 * 1024;

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if this.trailers_next {
            this.done = true;
            return Poll::Ready(Some(Ok(Frame::trailers(this.driver.trailers()))));
        }
        let mut batch = Batch::new(this.first_message.take());
        while !batch.is_full() {
            match this.driver.poll_step(cx) {
                // Nothing more is ready now: write what there is, or wait.
                Poll::Pending => break,
                // Already sent with the response; a second request is a no-op.
                Poll::Ready(Step::Headers) => {}
                Poll::Ready(Step::Message(message)) => batch.push(message),
                Poll::Ready(Step::Finished) => {
                    if batch.is_empty() {
                        this.done = true;
                        return Poll::Ready(Some(Ok(Frame::trailers(this.driver.trailers()))));
                    }
                    this.trailers_next = true;
                    break;
                }
            }
        }
        match batch.into_bytes() {
            Some(bytes) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
            None => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// Encoded messages gathered into one DATA frame. A lone message is passed on as it is;
/// only a second one costs a copy, and a batch stops growing at [`BATCH_BYTES`].
enum Batch {
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Batch {
    fn new(first: Option<Bytes>) -> Self {
        first.map_or(Batch::Empty, Batch::One)
    }

    fn push(&mut self, message: Bytes) {
        *self = match std::mem::replace(self, Batch::Empty) {
            Batch::Empty => Batch::One(message),
            Batch::One(first) => {
                let mut many = BytesMut::with_capacity(first.len() + message.len());
                many.extend_from_slice(&first);
                many.extend_from_slice(&message);
                Batch::Many(many)
            }
            Batch::Many(mut many) => {
                many.extend_from_slice(&message);
                Batch::Many(many)
            }
        };
    }

    fn is_empty(&self) -> bool {
        matches!(self, Batch::Empty)
    }

    fn is_full(&self) -> bool {
        match self {
            Batch::Empty => false,
            Batch::One(bytes) => bytes.len() >= BATCH_BYTES,
            Batch::Many(bytes) => bytes.len() >= BATCH_BYTES,
        }
    }

    fn into_bytes(self) -> Option<Bytes> {
        match self {
            Batch::Empty => None,
            Batch::One(bytes) => Some(bytes),
            Batch::Many(bytes) => Some(bytes.freeze()),
        }
    }
}
