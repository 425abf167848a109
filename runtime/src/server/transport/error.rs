//! Why a server could not serve.

use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Why [`Router::serve`](crate::server::Router::serve) (or one of its variants) could not
/// serve: the address could not be bound, or the services were added wrongly.
#[derive(Debug)]
pub struct ServeError {
    problem: String,
    source: Option<io::Error>,
}

impl ServeError {
    pub(crate) fn listen(addr: SocketAddr, err: io::Error) -> Self {
        Self {
            problem: format!("cannot listen on {addr}"),
            source: Some(err),
        }
    }

    pub(crate) fn duplicate_service(name: &str) -> Self {
        Self {
            problem: format!(
                "the service {name} was added twice: a server serves each service once"
            ),
            source: None,
        }
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}
