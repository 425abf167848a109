//! The answer to a call with a single response message.

use tonic::metadata::MetadataMap;

/// A response message together with the metadata the server sent around it.
///
/// `headers` is the initial metadata (sent before the message), `trailers` the trailing
/// metadata (sent with the final OK status). Both are kept apart, unlike tonic's merged map.
#[derive(Debug, Clone, Default)]
pub struct Response<T> {
    message: T,
    headers: MetadataMap,
    trailers: MetadataMap,
}

impl<T> Response<T> {
    /// Assembles a response; used by the runtime and by tests that fake a client.
    pub fn new(message: T, headers: MetadataMap, trailers: MetadataMap) -> Self {
        Self {
            message,
            headers,
            trailers,
        }
    }

    /// The response message.
    pub fn get_ref(&self) -> &T {
        &self.message
    }

    /// The response message, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.message
    }

    /// Takes the response message, dropping the metadata.
    pub fn into_inner(self) -> T {
        self.message
    }

    /// The initial metadata the server sent (its HTTP/2 response headers, protocol headers
    /// such as `content-type` and `grpc-encoding` removed).
    pub fn headers(&self) -> &MetadataMap {
        &self.headers
    }

    /// The trailing metadata the server sent with its OK status (the HTTP/2 trailers,
    /// without `grpc-status` and `grpc-message`).
    pub fn trailers(&self) -> &MetadataMap {
        &self.trailers
    }

    /// Splits into message, initial metadata and trailing metadata.
    pub fn into_parts(self) -> (T, MetadataMap, MetadataMap) {
        (self.message, self.headers, self.trailers)
    }
}
