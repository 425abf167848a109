//! Message compression: the encodings rgrpc speaks, their names on the wire, and one
//! message compressed, or decompressed within a size limit.
//!
//! Both sides speak gzip and zstd. The client's messages are compressed and decompressed by
//! tonic (with the same crates); the server's are handled here, so that a compressed
//! request is never inflated past the server's message size limit, and so that a handler
//! can choose compression per call and per message.

use std::io::{self, Read, Write};

use bytes::{BufMut, BytesMut};
use http::HeaderValue;
use tonic::codec::CompressionEncoding as Compression;

/// What this side decodes, in the form of `grpc-accept-encoding`: sent with every response,
/// and with the refusal of a request in an encoding it does not know.
pub(crate) const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("gzip,zstd,identity");

/// The header naming the encoding of the messages that follow.
pub(crate) const GRPC_ENCODING: http::HeaderName = http::HeaderName::from_static("grpc-encoding");

/// Connect's names for a stream's `grpc-encoding` and `grpc-accept-encoding`.
pub(crate) const CONNECT_CONTENT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("connect-content-encoding");
pub(crate) const CONNECT_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("connect-accept-encoding");

/// The header listing the encodings a peer can decode.
pub(crate) const GRPC_ACCEPT_ENCODING: http::HeaderName =
    http::HeaderName::from_static("grpc-accept-encoding");

/// An encoding named in `grpc-encoding`: `Ok(None)` for none (`identity`), `Err` for one we
/// do not speak.
pub(crate) fn parse(name: &[u8]) -> Result<Option<Compression>, ()> {
    match name {
        b"identity" => Ok(None),
        b"gzip" => Ok(Some(Compression::Gzip)),
        b"zstd" => Ok(Some(Compression::Zstd)),
        _ => Err(()),
    }
}

/// The wire name of `encoding`; `None` for one rgrpc does not speak (tonic's enum also has
/// deflate, when some crate enables tonic's feature for it).
pub(crate) fn name(encoding: Compression) -> Option<&'static str> {
    match encoding {
        Compression::Gzip => Some("gzip"),
        Compression::Zstd => Some("zstd"),
        _ => None,
    }
}

/// The error for an encoding rgrpc does not speak.
fn unsupported(encoding: Compression) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("rgrpc does not support the {encoding:?} encoding (only gzip and zstd)"),
    )
}

/// The encodings a peer says it decodes (`grpc-accept-encoding`), as a set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Accepted {
    gzip: bool,
    zstd: bool,
}

impl Accepted {
    /// Reads the header; absent, it accepts nothing but identity.
    pub(crate) fn from_header(value: Option<&HeaderValue>) -> Self {
        let mut accepted = Self::default();
        let Some(value) = value else {
            return accepted;
        };
        for name in value.as_bytes().split(|&b| b == b',') {
            match parse(name.trim_ascii()) {
                Ok(Some(Compression::Gzip)) => accepted.gzip = true,
                Ok(Some(Compression::Zstd)) => accepted.zstd = true,
                _ => {}
            }
        }
        accepted
    }

    /// Whether the peer decodes `encoding`.
    pub(crate) fn contains(self, encoding: Compression) -> bool {
        match encoding {
            Compression::Gzip => self.gzip,
            Compression::Zstd => self.zstd,
            _ => false,
        }
    }
}

/// Appends `input` compressed with `encoding` to `out`.
pub(crate) fn compress(encoding: Compression, input: &[u8], out: &mut BytesMut) -> io::Result<()> {
    match encoding {
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(out.writer(), flate2::Compression::default());
            encoder.write_all(input)?;
            encoder.finish().map(drop)
        }
        Compression::Zstd => {
            zstd::stream::copy_encode(input, out.writer(), zstd::DEFAULT_COMPRESSION_LEVEL)
        }
        other => Err(unsupported(other)),
    }
}

/// Why a message could not be decompressed.
#[derive(Debug)]
pub(crate) enum DecompressError {
    /// It inflates past the limit: decompression stopped there.
    TooLarge,
    /// It is not valid data in its encoding.
    Corrupt(io::Error),
}

/// Decompresses `input`, refusing to produce more than `limit` bytes: a small message that
/// inflates to gigabytes (a decompression bomb) costs at most `limit` bytes of memory.
pub(crate) fn decompress(
    encoding: Compression,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    // One byte past the limit tells "exactly the limit" from "more".
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(limit));
    let read = match encoding {
        Compression::Gzip => flate2::read::GzDecoder::new(input)
            .take(cap)
            .read_to_end(&mut out),
        Compression::Zstd => zstd::stream::read::Decoder::with_buffer(input)
            .and_then(|decoder| decoder.take(cap).read_to_end(&mut out)),
        other => Err(unsupported(other)),
    };
    read.map_err(DecompressError::Corrupt)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(encoding: Compression) {
        let input = b"hello hello hello hello hello".repeat(100);
        let mut packed = BytesMut::new();
        compress(encoding, &input, &mut packed).expect("compresses");
        assert!(packed.len() < input.len() / 10, "{}", packed.len());
        let unpacked = decompress(encoding, &packed, input.len()).expect("decompresses");
        assert_eq!(unpacked, input);
    }

    #[test]
    fn gzip_and_zstd_round_trip() {
        round_trip(Compression::Gzip);
        round_trip(Compression::Zstd);
    }

    #[test]
    fn inflating_past_the_limit_stops_at_the_limit() {
        for encoding in [Compression::Gzip, Compression::Zstd] {
            // 64 MiB of zeros packs into a few kilobytes.
            let bomb = vec![0u8; 64 << 20];
            let mut packed = BytesMut::new();
            compress(encoding, &bomb, &mut packed).expect("compresses");
            assert!(packed.len() < 1 << 20);
            assert!(matches!(
                decompress(encoding, &packed, 1 << 20),
                Err(DecompressError::TooLarge)
            ));
            // Exactly at the limit is fine.
            let exact = decompress(encoding, &packed, 64 << 20).expect("at the limit");
            assert_eq!(exact.len(), 64 << 20);
        }
    }

    #[test]
    fn garbage_is_corrupt() {
        for encoding in [Compression::Gzip, Compression::Zstd] {
            assert!(matches!(
                decompress(encoding, b"not compressed at all", 1024),
                Err(DecompressError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn accepted_encodings_are_read_from_the_header() {
        let both = Accepted::from_header(Some(&HeaderValue::from_static("identity, zstd ,gzip")));
        assert!(both.contains(Compression::Gzip) && both.contains(Compression::Zstd));
        let gzip = Accepted::from_header(Some(&HeaderValue::from_static("gzip,snappy")));
        assert!(gzip.contains(Compression::Gzip) && !gzip.contains(Compression::Zstd));
        assert_eq!(Accepted::from_header(None), Accepted::default());
        assert_eq!(parse(b"gzip"), Ok(Some(Compression::Gzip)));
        assert_eq!(parse(b"identity"), Ok(None));
        assert_eq!(parse(b"snappy"), Err(()));
    }
}
