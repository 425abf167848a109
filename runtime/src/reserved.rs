//! Headers that belong to the gRPC protocol itself, not to an application's metadata.

use http::{HeaderMap, HeaderName};
use tonic::metadata::MetadataMap;

/// Protocol headers: set and read by the transport, never user metadata. Users neither see
/// them in received metadata nor can they smuggle them into sent metadata. Built once as
/// `HeaderName`s: removing by `&str` would parse and validate each name on every call, which
/// showed up as a tenth of a unary call's server-side instructions.
const RESERVED: [HeaderName; 9] = [
    HeaderName::from_static("content-type"),
    HeaderName::from_static("te"),
    HeaderName::from_static("grpc-status"),
    HeaderName::from_static("grpc-message"),
    HeaderName::from_static("grpc-status-details-bin"),
    HeaderName::from_static("grpc-encoding"),
    HeaderName::from_static("grpc-accept-encoding"),
    HeaderName::from_static("grpc-timeout"),
    HeaderName::from_static("grpc-message-type"),
];

/// Removes protocol headers from `headers`. A block holds few entries, so they are scanned
/// once and only the reserved ones present are removed (rather than nine lookups each).
pub(crate) fn strip(headers: &mut HeaderMap) {
    let mut present: u16 = 0;
    let mut others = 0;
    for name in headers.keys() {
        match RESERVED.iter().position(|reserved| reserved == name) {
            Some(index) => present |= 1 << index,
            None => others += 1,
        }
    }
    // The usual trailer block (status only) holds nothing else: no need to remove one by one.
    if others == 0 {
        headers.clear();
        return;
    }
    for (index, name) in RESERVED.iter().enumerate() {
        if present & (1 << index) != 0 {
            headers.remove(name);
        }
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

    #[test]
    fn a_block_of_protocol_headers_only_becomes_empty() {
        let mut map = HeaderMap::new();
        map.insert("grpc-status", "0".parse().expect("valid"));
        map.insert("grpc-message", "ok".parse().expect("valid"));
        assert!(metadata(map).is_empty());
    }
}
