//! Every message the plugin shows a user, in one place so tests can assert them.
//!
//! Style: lowercase, no trailing period, the proto location first, offending values quoted.

use std::fmt;

/// The errors of one phase, collected so a user sees all of them at once, not one per run.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<String>);

impl Errors {
    pub(crate) fn push(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    /// `Ok(value)` if nothing went wrong, otherwise every error so far.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, Errors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl FromIterator<String> for Errors {
    fn from_iter<I: IntoIterator<Item = String>>(messages: I) -> Self {
        Self(messages.into_iter().collect())
    }
}

impl From<String> for Errors {
    fn from(message: String) -> Self {
        Self(vec![message])
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

pub(crate) fn file_not_in_request(file: &str) -> String {
    format!("{file}: listed in file_to_generate but its descriptor is missing from the request")
}

pub(crate) fn editions_unsupported(file: &str) -> String {
    format!("{file}: protobuf editions are not supported (proto2 and proto3 are)")
}

pub(crate) fn unknown_type(file: &str, method: &str, type_name: &str) -> String {
    format!("{file}: rpc {method}: type {type_name:?} is not defined in the request")
}

pub(crate) fn bad_ident(file: &str, element: &str, problem: &str) -> String {
    format!("{file}: {element}: cannot form a Rust identifier: {problem}")
}

pub(crate) fn method_collision(
    file: &str,
    service: &str,
    first: &str,
    second: &str,
    rust: &str,
) -> String {
    format!(
        "{file}: service {service}: rpcs {first:?} and {second:?} both become the Rust method {rust}(); rename one of them"
    )
}

pub(crate) fn module_collision(file: &str, service: &str, module: &str, owner: &str) -> String {
    format!("{file}: service {service}: its generated module `{module}` collides with {owner}")
}

pub(crate) fn service_collision(file: &str, first: &str, second: &str, module: &str) -> String {
    format!(
        "{file}: services {first} and {second} both generate the module `{module}`; rename one of them"
    )
}

pub(crate) fn include_file_clash(name: &str) -> String {
    format!("include_file {name:?} has the name of a generated package file; choose another name")
}

pub(crate) fn package_split(file: &str, dependency: &str, package: &str) -> String {
    format!(
        "{file}: imports {dependency} of the same package {package:?}, which is not being generated; one output file holds a whole package, so generate {dependency} too"
    )
}

pub(crate) fn invalid_parameter(message: &str) -> String {
    format!("invalid --rgrpc_opt: {message}")
}

pub(crate) fn prost_failed(message: &str) -> String {
    format!("prost-build could not generate the messages: {message}")
}

pub(crate) fn internal_unparsable(what: &str, problem: &str, code: &str) -> String {
    let numbered: Vec<String> = code
        .lines()
        .enumerate()
        .map(|(number, line)| format!("{:5} | {line}", number + 1))
        .collect();
    format!(
        "internal error: generated code for {what} failed to parse: {problem}\nthis is a bug in protoc-gen-rgrpc; the code was:\n{}",
        numbered.join("\n")
    )
}
