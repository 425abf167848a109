//! The route table: which service serves `/package.Service/Method`.
//!
//! A gRPC path names its service before the second `/`, so one lookup by service name
//! finds the service; the generated service then matches the method itself. (tonic routes
//! through an axum router instead, whose path matching and URL-parameter bookkeeping cost
//! a unary call about 3% of the server's instructions, as callgrind counts them.)

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::future::poll_fn;

use tonic::Status;

use super::error::ServeError;
use crate::server::dispatch::ServerFuture;
use crate::server::driver;
use crate::server::router::GrpcService;

/// One service, type-erased: takes a request, returns its response future.
type Route = Box<dyn Fn(http::Request<tonic::body::Body>) -> ServerFuture + Send + Sync + 'static>;

/// The services of a server, by name, as they are added.
#[derive(Default)]
pub(crate) struct RoutesBuilder {
    routes: HashMap<&'static str, Route>,
    /// The first service added twice: serving then fails, naming it.
    duplicate: Option<&'static str>,
}

impl std::fmt::Debug for RoutesBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.routes.keys().collect();
        names.sort();
        f.debug_struct("Routes").field("services", &names).finish()
    }
}

impl RoutesBuilder {
    pub(crate) fn add<S: GrpcService>(&mut self, service: S) {
        match self.routes.entry(S::NAME) {
            Entry::Occupied(_) => {
                self.duplicate.get_or_insert(S::NAME);
            }
            Entry::Vacant(slot) => {
                slot.insert(route(service));
            }
        }
    }

    pub(crate) fn build(self) -> Result<Routes, ServeError> {
        match self.duplicate {
            Some(name) => Err(ServeError::duplicate_service(name)),
            None => Ok(Routes {
                routes: self.routes,
            }),
        }
    }
}

/// The finished table a server routes with.
pub(crate) struct Routes {
    routes: HashMap<&'static str, Route>,
}

impl Routes {
    /// The response to `request`, from the service its path names.
    pub(crate) fn call(&self, request: http::Request<tonic::body::Body>) -> ServerFuture {
        let service = service_name(request.uri().path());
        match self.routes.get(service) {
            Some(route) => route(request),
            None => {
                let status = Status::unimplemented(format!("unknown service {service}"));
                Box::pin(std::future::ready(Ok(driver::status_response(&status))))
            }
        }
    }
}

/// `package.Service` in `/package.Service/Method`.
fn service_name(path: &str) -> &str {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').map_or(path, |(service, _)| service)
}

/// `service` behind the route table's one signature. Each request gets its own clone, made
/// ready as tower requires (a generated service always is; a layered one may not be).
fn route<S: GrpcService>(service: S) -> Route {
    Box::new(move |request| {
        let mut service = service.clone();
        Box::pin(async move {
            poll_fn(|cx| service.poll_ready(cx)).await?;
            service.call(request).await
        })
    })
}

#[cfg(test)]
mod tests {
    use super::service_name;

    #[test]
    fn the_service_is_the_first_path_segment() {
        assert_eq!(
            service_name("/hello.HelloService/SayHello"),
            "hello.HelloService"
        );
        assert_eq!(service_name("/hello.HelloService"), "hello.HelloService");
        assert_eq!(service_name("/"), "");
        assert_eq!(service_name("no-slash"), "no-slash");
    }
}
