//! A raw HTTP/2 client (h2) for tests that send what no gRPC client would, or look at the
//! bytes on the wire: framing, flags, headers.

use std::net::SocketAddr;

use bytes::{BufMut, Bytes, BytesMut};
use h2::client::SendRequest;
use prost::Message;
use rgrpc::Code;
use rgrpc_tests::hello::HelloResponse;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::bounded;

/// One HTTP/2 connection driven by h2, with nothing of gRPC's client on top.
pub struct Raw {
    requests: SendRequest<Bytes>,
    connection: JoinHandle<()>,
}

impl Raw {
    pub async fn connect(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (requests, connection) = bounded("h2 handshake", h2::client::handshake(tcp))
            .await
            .unwrap();
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        Self {
            requests,
            connection,
        }
    }

    /// Opens a stream with `headers`, sends `body` in one DATA frame, with END_STREAM if
    /// `end`.
    pub async fn open(
        &mut self,
        headers: http::Request<()>,
        body: &[u8],
        end: bool,
    ) -> Result<(h2::client::ResponseFuture, h2::SendStream<Bytes>), h2::Error> {
        let mut requests = bounded("h2 ready", self.requests.clone().ready()).await?;
        let (response, mut stream) = requests.send_request(headers, false)?;
        stream.send_data(Bytes::copy_from_slice(body), end)?;
        Ok((response, stream))
    }

    /// A whole exchange: sends `body` and half-closes, then reads the whole answer.
    pub async fn exchange(&mut self, headers: http::Request<()>, body: &[u8]) -> Answer {
        let (response, _stream) = self.open(headers, body, true).await.unwrap();
        read_answer(response).await.unwrap()
    }

    /// Drops the connection as a vanishing client does: no GOAWAY, no RST_STREAM, the
    /// TCP connection simply closes.
    pub fn vanish(self) {
        self.connection.abort();
        drop(self.requests);
    }
}

/// What the server answered: HTTP status, headers, the DATA received, the trailers.
#[derive(Debug)]
pub struct Answer {
    pub http_status: http::StatusCode,
    pub headers: http::HeaderMap,
    pub data: Vec<u8>,
    pub trailers: Option<http::HeaderMap>,
}

impl Answer {
    /// `grpc-status` from the trailers, or from the headers of a Trailers-Only answer.
    pub fn grpc_status(&self) -> Option<Code> {
        let value = self.grpc_header("grpc-status")?;
        Some(Code::from_i32(value.parse().unwrap()))
    }

    /// `grpc-message`, percent-decoded enough for the tests (they check ASCII words).
    pub fn grpc_message(&self) -> String {
        self.grpc_header("grpc-message")
            .map(|message| message.replace("%20", " ").replace("%22", "\""))
            .unwrap_or_default()
    }

    pub fn grpc_header(&self, name: &str) -> Option<String> {
        self.trailers
            .as_ref()
            .and_then(|trailers| trailers.get(name))
            .or_else(|| self.headers.get(name))
            .map(|value| value.to_str().unwrap().to_owned())
    }

    /// The gRPC frames in the DATA received: each one's flag and payload.
    pub fn frames(&self) -> Vec<(u8, Vec<u8>)> {
        let mut rest = &self.data[..];
        let mut frames = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
            frames.push((rest[0], rest[5..5 + len].to_vec()));
            rest = &rest[5 + len..];
        }
        frames
    }

    /// The response messages in the DATA received, decoded (uncompressed ones).
    pub fn messages(&self) -> Vec<String> {
        let mut rest = &self.data[..];
        let mut messages = Vec::new();
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
            messages.push(HelloResponse::decode(&rest[5..5 + len]).unwrap().reply);
            rest = &rest[5 + len..];
        }
        messages
    }

    /// Asserts a gRPC answer with `code` whose message contains `words`.
    #[track_caller]
    pub fn assert_status(&self, code: Code, words: &str) {
        assert_eq!(self.http_status, http::StatusCode::OK, "{self:?}");
        assert_eq!(self.grpc_status(), Some(code), "{self:?}");
        assert!(
            self.grpc_message().contains(words),
            "grpc-message should say {words:?}: {self:?}"
        );
    }
}

pub async fn read_answer(response: h2::client::ResponseFuture) -> Result<Answer, h2::Error> {
    let response = bounded("response headers", response).await?;
    let (parts, mut body) = response.into_parts();
    let mut data = Vec::new();
    while let Some(chunk) = bounded("response data", body.data()).await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        data.extend_from_slice(&chunk);
    }
    let trailers = bounded("response trailers", body.trailers()).await?;
    Ok(Answer {
        http_status: parts.status,
        headers: parts.headers,
        data,
        trailers,
    })
}

/// The headers of a gRPC request to `path`, plus `extra`.
pub fn request_to(path: &str, extra: &[(&str, &str)]) -> http::Request<()> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(()).unwrap()
}

/// One uncompressed gRPC message frame holding `message`.
pub fn frame(message: &impl Message) -> Vec<u8> {
    let payload = message.encode_to_vec();
    frame_with(0, payload.len() as u32, &payload)
}

/// One gRPC message frame: `flag`, a length prefix of `claimed` bytes, then `payload`.
pub fn frame_with(flag: u8, claimed: u32, payload: &[u8]) -> Vec<u8> {
    let mut frame = BytesMut::new();
    frame.put_u8(flag);
    frame.put_u32(claimed);
    frame.put_slice(payload);
    frame.to_vec()
}
