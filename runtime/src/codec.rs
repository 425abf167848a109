//! gRPC message framing: a protobuf message becomes one length-prefixed frame.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use tonic::Status;

/// The five-byte prefix of every gRPC message: a compressed flag and a big-endian length.
const PREFIX_LEN: usize = 5;

/// Encodes `message` as one uncompressed gRPC frame, ready to be an HTTP/2 DATA payload.
///
/// Encoding happens here, in generic code as small as possible, so that everything after it
/// (queueing, the response body, trailers) is non-generic and compiled once.
pub(crate) fn encode_frame<T: Message>(message: &T) -> Result<Bytes, Status> {
    let len = message.encoded_len();
    let prefix_len = u32::try_from(len).map_err(|_| {
        Status::resource_exhausted(format!(
            "message of {len} bytes exceeds the gRPC frame limit of 4 GiB"
        ))
    })?;
    let mut buf = BytesMut::with_capacity(PREFIX_LEN + len);
    buf.put_u8(0);
    buf.put_u32(prefix_len);
    message
        .encode(&mut buf)
        .map_err(|err| Status::internal(format!("failed to encode message: {err}")))?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_prefix_then_payload() {
        let frame = encode_frame(&"hi".to_string()).expect("encodes");
        // field 1, wire type 2, length 2, "hi"
        assert_eq!(&frame[..], &[0, 0, 0, 0, 4, 0x0a, 2, b'h', b'i']);
    }

    #[test]
    fn empty_message_is_prefix_only() {
        let frame = encode_frame(&()).expect("encodes");
        assert_eq!(&frame[..], &[0, 0, 0, 0, 0]);
    }
}
