//! A plain HTTP/1.1 client over TCP, for gRPC-Web and Connect on rgrpc's server: one
//! request per connection, the whole answer read and de-chunked.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Running, bounded};

/// An HTTP/1.1 response: status, headers (lowercase names), the whole body de-chunked.
#[derive(Debug)]
pub struct Http1 {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Http1 {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The gRPC-Web frames of a binary body: flag and payload of each.
    pub fn frames(&self) -> Vec<(u8, Vec<u8>)> {
        frames(&self.body)
    }
}

pub fn frames(mut rest: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[1..5].try_into().unwrap()) as usize;
        out.push((rest[0], rest[5..5 + len].to_vec()));
        rest = &rest[5 + len..];
    }
    out
}

/// The trailer lines of a trailers frame, as (name, value).
pub fn trailer_lines(payload: &[u8]) -> Vec<(String, String)> {
    String::from_utf8(payload.to_vec())
        .unwrap()
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(": ").expect("name: value");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

/// One HTTP/1.1 POST to `path` with `headers` and `body` sent in `chunks` (chunked
/// transfer encoding when more than one), the connection closed after: the whole answer.
pub async fn post(
    server: &Running,
    path: &str,
    headers: &[(&str, &str)],
    chunks: &[&[u8]],
) -> Http1 {
    request(server, "POST", path, headers, chunks).await
}

/// [`post`] with another method (`OPTIONS` for a CORS preflight).
pub async fn request(
    server: &Running,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    chunks: &[&[u8]],
) -> Http1 {
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let chunked = chunks.len() > 1;
    if chunked {
        head.push_str("transfer-encoding: chunked\r\n\r\n");
    } else {
        let len = chunks.first().map_or(0, |chunk| chunk.len());
        head.push_str(&format!("content-length: {len}\r\n\r\n"));
    }
    tcp.write_all(head.as_bytes()).await.unwrap();
    for chunk in chunks {
        if chunked {
            tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .unwrap();
            tcp.write_all(chunk).await.unwrap();
            tcp.write_all(b"\r\n").await.unwrap();
        } else {
            tcp.write_all(chunk).await.unwrap();
        }
        tcp.flush().await.unwrap();
    }
    if chunked {
        tcp.write_all(b"0\r\n\r\n").await.unwrap();
    }
    let mut raw = Vec::new();
    bounded("the HTTP/1.1 response", tcp.read_to_end(&mut raw))
        .await
        .unwrap();
    parse_http1(&raw)
}

fn parse_http1(raw: &[u8]) -> Http1 {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap();
            (name.to_ascii_lowercase(), value.trim().to_owned())
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v == "chunked")
    {
        body = dechunk(&body);
    }
    Http1 {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// An envelope of gRPC, gRPC-Web and Connect: `flag`, the length, `payload`.
pub fn envelope(flag: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `bytes` gzipped, independently of rgrpc.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `bytes` gunzipped, independently of rgrpc.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read as _;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}
