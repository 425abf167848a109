//! Headers that belong to the gRPC protocol itself, not to an application's metadata.

use http::HeaderMap;
use tonic::metadata::MetadataMap;

/// Protocol headers: set and read by the transport, never user metadata. Users neither see
/// them in received metadata nor can they smuggle them into sent metadata.
const RESERVED: [&str; 9] = [
    "content-type",
    "te",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-timeout",
    "grpc-message-type",
];

/// Removes protocol headers from `headers`.
pub(crate) fn strip(headers: &mut HeaderMap) {
    for name in RESERVED {
        headers.remove(name);
    }
}

/// The application metadata in a received header or trailer block.
pub(crate) fn metadata(mut headers: HeaderMap) -> MetadataMap {
    strip(&mut headers);
    MetadataMap::from_headers(headers)
}

/// The headers to send for application metadata `metadata`, protocol headers removed.
pub(crate) fn headers(metadata: MetadataMap) -> HeaderMap {
    let mut headers = metadata.into_headers();
    strip(&mut headers);
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_headers_are_removed_and_application_ones_kept() {
        let mut map = HeaderMap::new();
        map.insert("grpc-status", "0".parse().expect("valid"));
        map.insert("content-type", "application/grpc".parse().expect("valid"));
        map.insert("x-trace", "abc".parse().expect("valid"));
        let md = metadata(map);
        assert_eq!(md.len(), 1);
        assert_eq!(
            md.get("x-trace").map(|v| v.to_str().ok()),
            Some(Some("abc"))
        );
    }
}
