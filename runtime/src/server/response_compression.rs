//! Which response messages a server compresses, and with what: for every method, for some
//! methods, and (through [`Context`](super::Context)) for one call or one message.
//!
//! Compression is a choice per deployment: it saves bandwidth on large, repetitive messages
//! and costs CPU on small ones. So nothing is compressed unless asked, and a client that
//! does not list the encoding in its `grpc-accept-encoding` always gets plain messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::codec::CompressionEncoding as Compression;

/// The response compression of a server: an encoding for every method, and overrides for
/// some methods. The handler of a call can still choose otherwise
/// ([`Context::set_response_compression`](super::Context::set_response_compression)).
///
/// ```
/// use rgrpc::Compression;
/// let compression = rgrpc::server::ResponseCompression::new()
///     .all(Some(Compression::Zstd))
///     .method("/hello.HelloService/SayHello", None); // small answers: not worth it
/// let server = rgrpc::Server::builder().response_compression(compression);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResponseCompression {
    all: Option<Compression>,
    methods: Arc<BTreeMap<String, Option<Compression>>>,
}

impl ResponseCompression {
    /// Nothing compressed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Compresses the responses of every method with `encoding` (`None`: not at all).
    pub fn all(mut self, encoding: Option<Compression>) -> Self {
        self.all = encoding;
        self
    }

    /// Compresses the responses of the method at `path` (`"/package.Service/Method"`, as
    /// on the wire) with `encoding`, whatever [`all`](Self::all) says.
    pub fn method(mut self, path: impl Into<String>, encoding: Option<Compression>) -> Self {
        Arc::make_mut(&mut self.methods).insert(path.into(), encoding);
        self
    }

    /// The encoding for a call to the method at `path`.
    pub(crate) fn for_method(&self, path: &str) -> Option<Compression> {
        match self.methods.get(path) {
            Some(&encoding) => encoding,
            None => self.all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_setting_wins_over_the_servers() {
        let compression = ResponseCompression::new()
            .all(Some(Compression::Gzip))
            .method("/p.S/Small", None)
            .method("/p.S/Large", Some(Compression::Zstd));
        assert_eq!(
            compression.for_method("/p.S/Other"),
            Some(Compression::Gzip)
        );
        assert_eq!(compression.for_method("/p.S/Small"), None);
        assert_eq!(
            compression.for_method("/p.S/Large"),
            Some(Compression::Zstd)
        );
    }
}
