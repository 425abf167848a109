//! Connect's JSON codec: a request in canonical proto3 JSON becomes the protobuf the
//! generated handler decodes, and its answer the JSON the client reads. The transcoding
//! goes through the descriptors the service embeds (prost-reflect's `DynamicMessage`), so
//! no code is generated per message; `bench/results/connect-json.md` has the measurements
//! that chose this over generated serde impls (pbjson).
//!
//! The mapping is prost-reflect's, which follows protobuf's JSON specification as
//! connect-go and connect-es do by default: lowerCamelCase names (either name accepted),
//! enums by name, 64-bit integers as strings, default values left out, the well-known types
//! in their own forms. Unknown fields in a request are ignored, as Connect's JSON codec
//! does, so clients and servers need not share the very same schema version.

use bytes::{Bytes, BytesMut};
use prost::Message as _;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use tonic::codec::CompressionEncoding as Compression;

use crate::Status;
use crate::compression::{self, DecompressError};

/// The request and response types of one method, to transcode its messages with.
#[derive(Clone, Debug)]
pub(super) struct Transcoder {
    request: MessageDescriptor,
    response: MessageDescriptor,
}

const READ: DeserializeOptions = DeserializeOptions::new().deny_unknown_fields(false);

impl Transcoder {
    pub(super) fn new(method: &prost_reflect::MethodDescriptor) -> Self {
        Self {
            request: method.input(),
            response: method.output(),
        }
    }

    /// A request message in JSON, as protobuf. INVALID_ARGUMENT for JSON that is malformed
    /// or does not fit the type, naming the field where it failed (`payload.items[2].id`).
    pub(super) fn request(&self, json: &[u8]) -> Result<Vec<u8>, Status> {
        let mut input = serde_json::Deserializer::from_slice(json);
        let mut track = serde_path_to_error::Track::new();
        let read = DynamicMessage::deserialize_with_options(
            self.request.clone(),
            serde_path_to_error::Deserializer::new(&mut input, &mut track),
            &READ,
        );
        // Whitespace may follow the message; anything else is an error.
        match read.and_then(|message| input.end().map(|()| message)) {
            Ok(message) => Ok(message.encode_to_vec()),
            Err(err) => {
                let path = track.path().to_string();
                let at = if path == "." {
                    String::new()
                } else {
                    format!(" at {path}")
                };
                Err(Status::invalid_argument(format!(
                    "the request is not a {} in JSON{at}: {err}",
                    self.request.full_name()
                )))
            }
        }
    }

    /// A response message, from protobuf to JSON.
    pub(super) fn response(&self, proto: &[u8]) -> Result<Vec<u8>, Status> {
        let message = DynamicMessage::decode(self.response.clone(), proto).map_err(|err| {
            Status::internal(format!(
                "the response is not a {}: {err}",
                self.response.full_name()
            ))
        })?;
        let mut json = Vec::with_capacity(proto.len().saturating_mul(2));
        message
            .serialize_with_options(
                &mut serde_json::Serializer::new(&mut json),
                &SerializeOptions::new(),
            )
            .map_err(|err| {
                Status::internal(format!(
                    "the response {} has no JSON form: {err}",
                    self.response.full_name()
                ))
            })?;
        Ok(json)
    }
}

/// A message's bytes as sent, decompressed when `compressed`, within `limit` bytes.
pub(super) fn inflate(
    payload: &[u8],
    compressed: Option<Compression>,
    limit: usize,
) -> Result<Bytes, Status> {
    let Some(encoding) = compressed else {
        if payload.len() > limit {
            return Err(crate::call::status::request_too_large(payload.len(), limit));
        }
        return Ok(Bytes::copy_from_slice(payload));
    };
    match compression::decompress(encoding, payload, limit) {
        Ok(inflated) => Ok(Bytes::from(inflated)),
        Err(DecompressError::TooLarge) => Err(crate::call::status::request_too_large_inflated(
            payload.len(),
            limit,
        )),
        Err(DecompressError::Corrupt(err)) => Err(Status::invalid_argument(format!(
            "the message does not decompress: {err}"
        ))),
    }
}

/// `message` compressed with `encoding`, or as it is when that fails.
pub(super) fn deflate(message: Vec<u8>, encoding: Compression) -> (bool, Bytes) {
    let mut out = BytesMut::with_capacity(message.len() / 2 + 16);
    match compression::compress(encoding, &message, &mut out) {
        Ok(()) => (true, out.freeze()),
        Err(_) => (false, Bytes::from(message)),
    }
}

/// The encoding a `*-encoding` header names: `Ok(None)` for none or `identity`, and
/// UNIMPLEMENTED for one rgrpc does not speak, as Connect asks.
pub(super) fn encoding_named(
    value: Option<&http::HeaderValue>,
) -> Result<Option<Compression>, Status> {
    let Some(value) = value else {
        return Ok(None);
    };
    compression::parse(value.as_bytes()).map_err(|()| {
        Status::unimplemented(format!(
            "the {:?} encoding is not supported (gzip, zstd, identity)",
            String::from_utf8_lossy(value.as_bytes())
        ))
    })
}
