//! One call with the exact headers and body h2load sends, through hyper's client, read
//! whole: h2load counts HTTP statuses only, so this is where each protocol's answer is
//! checked (its body, and the status gRPC and gRPC-Web keep in trailers).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::wire::{Answer, PATH, Wire};

/// How long the one call may take, connecting included.
const LIMIT: Duration = Duration::from_secs(30);

/// What one call found out about a server and a protocol.
#[derive(Debug)]
pub enum Verdict {
    /// The right answer; what was checked.
    Served(&'static str),
    /// HTTP 415: the server does not serve this protocol (or codec).
    NotServed,
}

/// Calls `SayHello` at `addr` in `wire`'s form, over HTTP/1.1 or HTTP/2 (prior knowledge).
/// Any answer other than the right one or a 415 is an error.
pub fn check(addr: &str, wire: Wire, http1: bool) -> Result<Verdict, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start a runtime: {err}"))?;
    let answer = runtime
        .block_on(async { tokio::time::timeout(LIMIT, call(addr, wire, http1)).await })
        .map_err(|_| format!("no answer within {LIMIT:?}"))??;
    if answer.status == 415 {
        return Ok(Verdict::NotServed);
    }
    wire.check(&answer).map(Verdict::Served).map_err(|problem| {
        format!(
            "{} over {}: {problem}; the answer: {answer:?}",
            wire.name(),
            if http1 { "HTTP/1.1" } else { "HTTP/2" }
        )
    })
}

async fn call(addr: &str, wire: Wire, http1: bool) -> Result<Answer, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|err| format!("cannot connect to {addr}: {err}"))?;
    let io = TokioIo::new(stream);
    // HTTP/1.1 sends the path with a host header; HTTP/2 needs the scheme and authority.
    let uri = if http1 {
        PATH.to_owned()
    } else {
        format!("http://{addr}{PATH}")
    };
    let mut request = http::Request::post(uri).header("host", addr);
    for (name, value) in wire.headers() {
        request = request.header(*name, *value);
    }
    let request = request
        .body(Full::new(Bytes::from(wire.body())))
        .map_err(|err| err.to_string())?;
    let failed = |err: hyper::Error| format!("the call failed: {err}");
    let response = if http1 {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(failed)?;
        tokio::spawn(connection);
        sender.send_request(request).await.map_err(failed)?
    } else {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(failed)?;
        tokio::spawn(connection);
        sender.send_request(request).await.map_err(failed)?
    };
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.map_err(failed)?;
    let trailers = collected.trailers().cloned();
    Ok(Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    })
}
