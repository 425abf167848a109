//! The protocols h2load speaks to the servers: for each, the headers and the one request body
//! every call repeats (`HelloRequest { greeting: "u" }`, as the Rust load generator sends
//! it), and what a right answer is (HTTP 200 and `HelloResponse { reply: "u" }` in that
//! protocol's form, with status OK where the protocol has one).

use bytes::Bytes;
use http::HeaderMap;
use prost::Message;

use crate::proto::tonic_hello::{HelloRequest, HelloResponse};

/// The method every protocol calls: unary `SayHello`, which echoes the greeting.
pub const PATH: &str = "/hello.HelloService/SayHello";
/// The greeting sent, and so the reply expected.
const GREETING: &str = "u";
/// An envelope's flag byte for trailers (gRPC-Web).
const TRAILERS_FLAG: u8 = 0x80;

/// A protocol, with its codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wire {
    /// gRPC: one enveloped message; the status in HTTP/2 trailers.
    Grpc,
    /// gRPC-Web, binary: one enveloped message; the status in a trailers envelope.
    GrpcWeb,
    /// Connect unary with the binary codec: the bare message each way.
    ConnectProto,
    /// Connect unary with the JSON codec: `{"greeting":"u"}` each way.
    ConnectJson,
}

/// A server's answer to one call, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl Wire {
    pub fn name(self) -> &'static str {
        match self {
            Wire::Grpc => "gRPC",
            Wire::GrpcWeb => "gRPC-Web",
            Wire::ConnectProto => "Connect proto",
            Wire::ConnectJson => "Connect JSON",
        }
    }

    /// The request headers besides the method, path and `content-length`. Connect's
    /// `connect-protocol-version` is what tells a Connect unary POST from any other POST;
    /// some servers require it.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Wire::Grpc => &[("content-type", "application/grpc"), ("te", "trailers")],
            Wire::GrpcWeb => &[
                ("content-type", "application/grpc-web+proto"),
                ("x-grpc-web", "1"),
            ],
            Wire::ConnectProto => &[
                ("content-type", "application/proto"),
                ("connect-protocol-version", "1"),
            ],
            Wire::ConnectJson => &[
                ("content-type", "application/json"),
                ("connect-protocol-version", "1"),
            ],
        }
    }

    /// The request body of every call.
    pub fn body(self) -> Vec<u8> {
        let message = HelloRequest {
            greeting: GREETING.to_owned(),
        }
        .encode_to_vec();
        match self {
            Wire::Grpc | Wire::GrpcWeb => envelope(0, &message),
            Wire::ConnectProto => message,
            Wire::ConnectJson => format!("{{\"greeting\":\"{GREETING}\"}}").into_bytes(),
        }
    }

    /// Whether `answer` is the right one: `Ok` with what was checked, or what is wrong.
    pub fn check(self, answer: &Answer) -> Result<&'static str, String> {
        if answer.status != 200 {
            return Err(format!("HTTP status {}, not 200", answer.status));
        }
        match self {
            Wire::Grpc => {
                let reply = only_message(&answer.body)?;
                expect_reply(reply)?;
                let status = answer
                    .trailers
                    .as_ref()
                    .and_then(|trailers| trailers.get("grpc-status"))
                    .and_then(|value| value.to_str().ok());
                expect_ok(status, "the HTTP/2 trailers")?;
                Ok("200, the echo, grpc-status 0 in the trailers")
            }
            Wire::GrpcWeb => {
                let (message, trailers) = grpc_web_body(&answer.body)?;
                expect_reply(message)?;
                expect_ok(
                    trailer_line(trailers, "grpc-status"),
                    "the trailers envelope",
                )?;
                Ok("200, the echo, grpc-status 0 in the trailers envelope")
            }
            Wire::ConnectProto => {
                expect_content_type(answer, "application/proto")?;
                expect_reply(&answer.body)?;
                Ok("200, the echo as a bare message")
            }
            Wire::ConnectJson => {
                expect_content_type(answer, "application/json")?;
                let text = String::from_utf8_lossy(&answer.body);
                let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
                if compact != format!("{{\"reply\":\"{GREETING}\"}}") {
                    return Err(format!("the JSON answer is {text:?}"));
                }
                Ok("200, the echo as JSON")
            }
        }
    }
}

/// A gRPC envelope: flag byte, 4-byte big-endian length, payload.
fn envelope(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![flag];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// The envelopes of a body, in order: (flag, payload).
fn envelopes(mut body: &[u8]) -> Result<Vec<(u8, &[u8])>, String> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        let (flag, rest) = body
            .split_first()
            .ok_or_else(|| "an empty envelope".to_owned())?;
        let length = rest
            .get(..4)
            .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| format!("a truncated envelope header: {body:?}"))?;
        let payload = rest
            .get(4..4 + length as usize)
            .ok_or_else(|| format!("an envelope shorter than its length {length}"))?;
        frames.push((*flag, payload));
        body = &rest[4 + length as usize..];
    }
    Ok(frames)
}

/// A gRPC body's one uncompressed message.
fn only_message(body: &[u8]) -> Result<&[u8], String> {
    match envelopes(body)?.as_slice() {
        [(0, message)] => Ok(message),
        other => Err(format!("expected one message envelope, got {other:?}")),
    }
}

/// A gRPC-Web body's message and trailers envelope.
fn grpc_web_body(body: &[u8]) -> Result<(&[u8], &[u8]), String> {
    match envelopes(body)?.as_slice() {
        [(0, message), (TRAILERS_FLAG, trailers)] => Ok((message, trailers)),
        other => Err(format!(
            "expected a message and a trailers envelope, got {other:?}"
        )),
    }
}

/// The value of `name` in a gRPC-Web trailers envelope (`name: value` lines).
fn trailer_line<'a>(trailers: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(trailers)
        .ok()?
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

fn expect_reply(message: &[u8]) -> Result<(), String> {
    let reply = HelloResponse::decode(message)
        .map_err(|err| format!("the answer is no HelloResponse: {err}"))?
        .reply;
    if reply == GREETING {
        Ok(())
    } else {
        Err(format!("the reply is {reply:?}, not {GREETING:?}"))
    }
}

fn expect_ok(status: Option<&str>, place: &str) -> Result<(), String> {
    match status {
        Some("0") => Ok(()),
        other => Err(format!("grpc-status {other:?} in {place}, not 0")),
    }
}

fn expect_content_type(answer: &Answer, expected: &str) -> Result<(), String> {
    let content_type = answer
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with(expected) {
        Ok(())
    } else {
        Err(format!("content-type {content_type:?}, not {expected}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: Vec<u8>, headers: &[(&'static str, &'static str)]) -> Answer {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, http::HeaderValue::from_static(value));
        }
        Answer {
            status: 200,
            headers: map,
            body: body.into(),
            trailers: None,
        }
    }

    fn reply(text: &str) -> Vec<u8> {
        HelloResponse {
            reply: text.to_owned(),
        }
        .encode_to_vec()
    }

    #[test]
    fn request_bodies() {
        assert_eq!(Wire::Grpc.body(), [0, 0, 0, 0, 3, 0x0a, 1, b'u']);
        assert_eq!(Wire::GrpcWeb.body(), Wire::Grpc.body());
        assert_eq!(Wire::ConnectProto.body(), [0x0a, 1, b'u']);
        assert_eq!(Wire::ConnectJson.body(), br#"{"greeting":"u"}"#);
    }

    #[test]
    fn grpc_web_answers_are_checked() {
        let mut body = envelope(0, &reply("u"));
        body.extend(envelope(
            TRAILERS_FLAG,
            b"grpc-status:0\r\ngrpc-message:\r\n",
        ));
        assert!(Wire::GrpcWeb.check(&answer(body.clone(), &[])).is_ok());
        let mut failed = envelope(0, &reply("u"));
        failed.extend(envelope(TRAILERS_FLAG, b"grpc-status: 13\r\n"));
        assert!(Wire::GrpcWeb.check(&answer(failed, &[])).is_err());
        let wrong = envelope(0, &reply("x"));
        assert!(Wire::GrpcWeb.check(&answer(wrong, &[])).is_err());
        let mut refused = answer(body, &[]);
        refused.status = 415;
        assert!(Wire::GrpcWeb.check(&refused).is_err());
    }

    #[test]
    fn connect_answers_are_checked() {
        let proto = [("content-type", "application/proto")];
        assert!(
            Wire::ConnectProto
                .check(&answer(reply("u"), &proto))
                .is_ok()
        );
        assert!(
            Wire::ConnectProto
                .check(&answer(reply("v"), &proto))
                .is_err()
        );
        assert!(Wire::ConnectProto.check(&answer(reply("u"), &[])).is_err());
        let json = [("content-type", "application/json")];
        let good = br#"{ "reply": "u" }"#.to_vec();
        assert!(Wire::ConnectJson.check(&answer(good, &json)).is_ok());
        let bad = br#"{"reply":"uu"}"#.to_vec();
        assert!(Wire::ConnectJson.check(&answer(bad, &json)).is_err());
    }

    #[test]
    fn grpc_needs_its_trailers() {
        let body = envelope(0, &reply("u"));
        let mut ok = answer(body, &[]);
        assert!(Wire::Grpc.check(&ok).is_err());
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
        ok.trailers = Some(trailers);
        assert!(Wire::Grpc.check(&ok).is_ok());
    }
}
