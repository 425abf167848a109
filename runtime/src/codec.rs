//! gRPC message framing: a protobuf message becomes one length-prefixed frame, and the
//! default message size limits both sides enforce (the statuses of a message over them are
//! in `call::status`).

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use tonic::Status;
use tonic::codec::CompressionEncoding as Compression;

use crate::call::status;
use crate::compression;

/// The five-byte prefix of every gRPC message: a compressed flag and a big-endian length.
const PREFIX_LEN: usize = 5;

/// The largest message either side receives unless configured otherwise: 4 MiB, as in
/// gRPC's other implementations.
pub(crate) const DEFAULT_MAX_RECEIVE_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// The largest message either side sends unless configured otherwise: no limit beyond the
/// gRPC frame's own (4 GiB), as in gRPC's other implementations.
pub(crate) const DEFAULT_MAX_SEND_MESSAGE_SIZE: usize = usize::MAX;

/// One envelope of gRPC, gRPC-Web and Connect: `flag`, the big-endian length of `payload`,
/// then `payload` (for bytes already encoded: the protocols' adapters, their trailers and
/// end-of-stream messages).
pub(crate) fn envelope(flag: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(PREFIX_LEN + payload.len());
    out.put_u8(flag);
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(payload);
    out.freeze()
}

/// An envelope's prefix alone, for a payload of `length` bytes that streams after it.
pub(crate) fn envelope_prefix(flag: u8, length: u32) -> Bytes {
    let mut prefix = BytesMut::with_capacity(PREFIX_LEN);
    prefix.put_u8(flag);
    prefix.put_u32(length);
    prefix.freeze()
}

/// The whole of `body`, or `too_large(limit)` once it passes `limit` bytes; a body error is
/// the status it carries.
pub(crate) async fn read_whole<B>(
    body: B,
    limit: usize,
    too_large: impl FnOnce(usize) -> Status,
) -> Result<Bytes, Status>
where
    B: http_body::Body<Data = Bytes, Error = Status>,
{
    use http_body_util::BodyExt as _;
    let mut body = std::pin::pin!(body);
    let mut whole = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if whole.len() + data.len() > limit {
                return Err(too_large(limit));
            }
            whole.extend_from_slice(&data);
        }
    }
    Ok(whole.freeze())
}

/// Encodes `message` as one gRPC frame, ready to be an HTTP/2 DATA payload, compressed
/// with `compression` if given, unless it is larger than `limit` bytes
/// (`RESOURCE_EXHAUSTED`, nothing encoded).
///
/// Encoding happens here, in generic code as small as possible, so that everything after it
/// (queueing, the response body, trailers) is non-generic and compiled once.
pub(crate) fn encode_frame<T: Message>(
    message: &T,
    limit: usize,
    compression: Option<Compression>,
) -> Result<Bytes, Status> {
    let mut buf = BytesMut::new();
    encode_frame_into(message, limit, compression, &mut buf)?;
    Ok(buf.freeze())
}

/// Appends `message` to `buf` as one gRPC frame, compressed with `compression` if given,
/// unless it is larger than `limit` bytes (`RESOURCE_EXHAUSTED`, nothing appended). The
/// limit applies to the message as encoded, before compression.
pub(crate) fn encode_frame_into<T: Message>(
    message: &T,
    limit: usize,
    compression: Option<Compression>,
    buf: &mut BytesMut,
) -> Result<(), Status> {
    let len = message.encoded_len();
    if len > limit {
        return Err(status::response_too_large_to_send(len, limit));
    }
    if let Some(encoding) = compression {
        return append_compressed(&message.encode_to_vec(), encoding, buf);
    }
    let prefix_len = frame_len(len)?;
    buf.reserve(PREFIX_LEN + len);
    buf.put_u8(0);
    buf.put_u32(prefix_len);
    message
        .encode(buf)
        .map_err(|err| Status::internal(format!("failed to encode message: {err}")))
}

/// Appends `plain` compressed with `encoding` as one frame with the compressed flag set;
/// on failure `buf` is left as it was (it may be a buffer other messages share).
fn append_compressed(
    plain: &[u8],
    encoding: Compression,
    buf: &mut BytesMut,
) -> Result<(), Status> {
    let start = buf.len();
    buf.put_bytes(0, PREFIX_LEN);
    let framed = compression::compress(encoding, plain, buf)
        .map_err(|err| Status::internal(format!("failed to compress a message: {err}")))
        .and_then(|()| frame_len(buf.len() - start - PREFIX_LEN));
    match framed {
        Ok(len) => {
            buf[start] = 1;
            buf[start + 1..start + PREFIX_LEN].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
        Err(status) => {
            buf.truncate(start);
            Err(status)
        }
    }
}

/// A frame's length prefix, if the gRPC frame can carry `len` bytes.
fn frame_len(len: usize) -> Result<u32, Status> {
    u32::try_from(len).map_err(|_| status::too_large_for_a_frame(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn frame_has_prefix_then_payload() {
        let frame = encode_frame(&"hi".to_string(), usize::MAX, None).expect("encodes");
        // field 1, wire type 2, length 2, "hi"
        assert_eq!(&frame[..], &[0, 0, 0, 0, 4, 0x0a, 2, b'h', b'i']);
    }

    #[test]
    fn empty_message_is_prefix_only() {
        let frame = encode_frame(&(), 0, None).expect("encodes");
        assert_eq!(&frame[..], &[0, 0, 0, 0, 0]);
    }

    #[test]
    fn message_over_the_limit_is_refused() {
        let status = encode_frame(&"hi".to_string(), 3, None).expect_err("4 bytes > 3");
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(status.message().contains("4 bytes"), "{status:?}");
        assert!(encode_frame(&"hi".to_string(), 4, None).is_ok());
    }

    #[test]
    fn a_compressed_frame_has_the_flag_and_the_compressed_length() {
        let message = "hello ".repeat(200);
        for encoding in [Compression::Gzip, Compression::Zstd] {
            let mut buf = BytesMut::from(&b"earlier"[..]);
            encode_frame_into(&message, usize::MAX, Some(encoding), &mut buf).expect("encodes");
            let frame = &buf[b"earlier".len()..];
            assert_eq!(frame[0], 1, "the compressed flag");
            let len = u32::from_be_bytes([frame[1], frame[2], frame[3], frame[4]]) as usize;
            assert_eq!(len, frame.len() - PREFIX_LEN);
            let plain = compression::decompress(encoding, &frame[PREFIX_LEN..], 1 << 20)
                .expect("decompresses");
            assert_eq!(plain, message.encode_to_vec());
        }
    }
}
