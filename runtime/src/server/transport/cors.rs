//! Cross-origin calls from browsers (CORS): which web pages may call the server, and which
//! headers they may send and read. Off unless set: browsers then only let pages of the
//! server's own origin call it.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The request headers gRPC-Web and Connect clients send, always allowed.
const PROTOCOL_REQUEST_HEADERS: [&str; 11] = [
    "content-type",
    "content-encoding",
    "accept-encoding",
    "connect-protocol-version",
    "connect-timeout-ms",
    "connect-content-encoding",
    "connect-accept-encoding",
    "grpc-timeout",
    "grpc-accept-encoding",
    "x-grpc-web",
    "x-user-agent",
];

/// The response headers gRPC-Web and Connect clients read, always exposed.
const PROTOCOL_RESPONSE_HEADERS: [&str; 7] = [
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
    "grpc-encoding",
    "grpc-accept-encoding",
    "connect-content-encoding",
    "connect-accept-encoding",
];

/// How long a browser may cache a preflight answer unless [`Cors::max_age`] says otherwise.
const DEFAULT_MAX_AGE: Duration = Duration::from_secs(2 * 60 * 60);

/// A CORS policy for [`Server::cors`](crate::Server::cors): the origins whose pages may call,
/// the metadata they may send and read besides the protocols' own headers, and how long a
/// preflight answer holds.
///
/// ```
/// use rgrpc::server::Cors;
///
/// let cors = Cors::origins(["https://app.example.com"])?
///     .allow_headers(["authorization"])?
///     .expose_headers(["x-request-id"])?;
/// let server = rgrpc::Server::builder().cors(cors);
/// # drop(server);
/// # Ok::<(), rgrpc::server::CorsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Option<Vec<HeaderValue>>,
    allow_headers: Vec<HeaderName>,
    expose_headers: Vec<HeaderName>,
    max_age: Duration,
}

/// A CORS setting that is not a valid origin or header name, named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsError(String);

impl std::fmt::Display for CorsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CorsError {}

impl Cors {
    /// Pages of any origin may call (without the browser's credentials).
    pub fn any_origin() -> Self {
        Self {
            origins: None,
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            max_age: DEFAULT_MAX_AGE,
        }
    }

    /// Pages of these origins (`https://app.example.com`, a scheme, a host and a port if not
    /// the scheme's) may call.
    pub fn origins<I, S>(origins: I) -> Result<Self, CorsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|origin| {
                let origin = origin.as_ref();
                let well_formed = origin.split_once("://").is_some_and(|(scheme, host)| {
                    !scheme.is_empty()
                        && !host.is_empty()
                        && !host.contains(|c: char| c == '/' || c.is_whitespace())
                });
                match HeaderValue::from_str(origin) {
                    Ok(value) if well_formed => Ok(value),
                    _ => Err(CorsError(format!(
                        "CORS origin {origin:?} is not an origin such as https://app.example.com \
                         (a scheme, a host and an optional port, no path)"
                    ))),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            origins: Some(origins),
            ..Self::any_origin()
        })
    }

    /// Also lets pages send these request metadata keys (`authorization`, …).
    pub fn allow_headers<I, S>(mut self, names: I) -> Result<Self, CorsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.allow_headers.extend(header_names(names)?);
        Ok(self)
    }

    /// Also lets pages read these response metadata keys (headers and trailers). Each is
    /// exposed also as `trailer-<name>`, the name a Connect unary answer gives a trailer.
    pub fn expose_headers<I, S>(mut self, names: I) -> Result<Self, CorsError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for name in header_names(names)? {
            let trailer = HeaderName::try_from(format!("trailer-{name}"))
                .map_err(|_| CorsError(format!("{name:?} is too long a header name")))?;
            self.expose_headers.extend([name, trailer]);
        }
        Ok(self)
    }

    /// How long a browser may cache a preflight answer (default: 2 hours).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The policy as tower-http's layer.
    pub(crate) fn layer(&self) -> CorsLayer {
        let origin = match &self.origins {
            None => AllowOrigin::any(),
            Some(origins) => AllowOrigin::list(origins.iter().cloned()),
        };
        let statics = |names: &[&'static str]| {
            names
                .iter()
                .map(|name| HeaderName::from_static(name))
                .collect::<Vec<_>>()
        };
        let mut allow = statics(&PROTOCOL_REQUEST_HEADERS);
        allow.extend(self.allow_headers.iter().cloned());
        let mut expose = statics(&PROTOCOL_RESPONSE_HEADERS);
        expose.extend(self.expose_headers.iter().cloned());
        CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([Method::POST, Method::GET])
            .allow_headers(allow)
            .expose_headers(expose)
            .max_age(self.max_age)
    }
}

fn header_names<I, S>(names: I) -> Result<Vec<HeaderName>, CorsError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    names
        .into_iter()
        .map(|name| {
            let name = name.as_ref();
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| CorsError(format!("CORS header {name:?} is not a header name")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_names_are_checked_and_named() {
        assert!(Cors::origins(["https://app.example.com", "http://localhost:8080"]).is_ok());
        for bad in [
            "app.example.com",
            "https://",
            "https://a.com/path",
            "https://a b",
        ] {
            let error = Cors::origins([bad]).unwrap_err();
            assert!(error.to_string().contains(&format!("{bad:?}")), "{error}");
        }
        let error = Cors::any_origin()
            .allow_headers(["bad header"])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "CORS header \"bad header\" is not a header name"
        );
    }
}
