//! gRPC-Web (`application/grpc-web`, `application/grpc-web-text`), served as gRPC.
//!
//! A gRPC-Web request is a gRPC request with another content-type and, in the text form,
//! a base64 body. The response differs in one way that matters: HTTP/1.1 and browsers have no
//! trailers, so the trailers travel at the end of the body, as one frame flagged `0x80`
//! holding them as HTTP/1 header lines. A response the server answered with headers alone
//! (an error before any message) keeps its status in the headers, which gRPC-Web clients
//! read as a trailers-only response.

use std::pin::Pin;
use std::task::{Context, Poll};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue};
use http_body::{Body, Frame, SizeHint};

use super::base64_body::Base64Decoded;
use crate::Status;
use crate::server::dispatch::ServerFuture;
use crate::server::transport::routes::Routes;

/// The flag of the frame that carries the trailers.
const TRAILERS_FLAG: u8 = 0x80;

/// A gRPC-Web request's form: binary or base64 text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Form {
    text: bool,
}

impl Form {
    /// The form a content-type names: `None` when it is not gRPC-Web at all, `Some(None)`
    /// when it is gRPC-Web with a codec this server does not speak (`+json`).
    pub(super) fn of(content_type: &[u8]) -> Option<Option<Form>> {
        let rest = content_type.strip_prefix(b"application/grpc-web")?;
        let (text, rest) = match rest.strip_prefix(b"-text") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let codec = rest.split(|byte| *byte == b';').next().unwrap_or_default();
        Some(matches!(codec, b"" | b"+proto").then_some(Form { text }))
    }

    fn response_content_type(self) -> HeaderValue {
        HeaderValue::from_static(if self.text {
            "application/grpc-web-text+proto"
        } else {
            "application/grpc-web+proto"
        })
    }
}

/// Serves a gRPC-Web request as the gRPC request it stands for.
pub(super) fn serve(
    routes: &Routes,
    request: http::Request<tonic::body::Body>,
    form: Form,
) -> ServerFuture {
    let (mut parts, body) = request.into_parts();
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/grpc+proto"),
    );
    let body = if form.text {
        tonic::body::Body::new(Base64Decoded::new(body))
    } else {
        body
    };
    let response = routes.call(http::Request::from_parts(parts, body));
    Box::pin(async move {
        let response = response.await?;
        let (mut parts, body) = response.into_parts();
        parts
            .headers
            .insert(CONTENT_TYPE, form.response_content_type());
        let body = WebBody {
            inner: body,
            text: form.text,
            done: false,
        };
        Ok(http::Response::from_parts(
            parts,
            tonic::body::Body::new(body),
        ))
    })
}

/// A gRPC response body as gRPC-Web's: the trailers become the last frame of the body, and
/// in the text form every frame is base64.
struct WebBody {
    inner: tonic::body::Body,
    text: bool,
    done: bool,
}

impl WebBody {
    fn out(&self, bytes: Bytes) -> Bytes {
        if self.text {
            Bytes::from(STANDARD.encode(&bytes))
        } else {
            bytes
        }
    }
}

impl Body for WebBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let frame = match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Err(status))) => return Poll::Ready(Some(Err(status))),
            Poll::Ready(Some(Ok(frame))) => frame,
        };
        let bytes = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => match frame.into_trailers() {
                Ok(trailers) => {
                    self.done = true;
                    trailers_frame(&trailers)
                }
                // Neither data nor trailers: nothing gRPC-Web can carry.
                Err(_) => Bytes::new(),
            },
        };
        Poll::Ready(Some(Ok(Frame::data(self.out(bytes)))))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// The trailers as gRPC-Web's last frame: `0x80`, the length, then `name: value` lines.
fn trailers_frame(trailers: &HeaderMap) -> Bytes {
    let mut block = Vec::new();
    for (name, value) in trailers {
        block.extend_from_slice(name.as_str().as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(value.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    // Trailers are bounded by the header list limit, far below 4 GiB.
    crate::codec::envelope(TRAILERS_FLAG, &block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        let form = |ct: &str| Form::of(ct.as_bytes());
        let (binary, text) = (Form { text: false }, Form { text: true });
        assert_eq!(form("application/grpc"), None);
        assert_eq!(form("application/json"), None);
        assert_eq!(form("application/grpc-web"), Some(Some(binary)));
        assert_eq!(form("application/grpc-web+proto"), Some(Some(binary)));
        assert_eq!(form("application/grpc-web-text"), Some(Some(text)));
        assert_eq!(
            form("application/grpc-web-text+proto; charset=utf-8"),
            Some(Some(text))
        );
        assert_eq!(form("application/grpc-web+json"), Some(None));
        assert_eq!(form("application/grpc-webx"), Some(None));
    }

    #[test]
    fn the_trailers_frame_is_flagged_sized_and_lists_each_trailer() {
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        trailers.insert("x-note", HeaderValue::from_static("a b"));
        let frame = trailers_frame(&trailers);
        assert_eq!(frame[0], 0x80);
        let block = b"grpc-status: 0\r\nx-note: a b\r\n";
        assert_eq!(
            frame[1..5],
            u32::try_from(block.len()).unwrap().to_be_bytes()
        );
        assert_eq!(&frame[5..], block);
    }
}
