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

/// Also what `compile` says at an `edition = ...` line, which its parser cannot read.
pub(crate) const EDITIONS_UNSUPPORTED: &str =
    "protobuf editions are not supported (proto2 and proto3 are)";

pub(crate) fn editions_unsupported(file: &str) -> String {
    format!("{file}: {EDITIONS_UNSUPPORTED}")
}

pub(crate) fn unknown_type(file: &str, method: &str, type_name: &str) -> String {
    format!("{file}: rpc {method}: type {type_name:?} is not defined in the request")
}

pub(crate) fn nameless_file(index: usize) -> String {
    format!("proto_file[{index}] has no name")
}

pub(crate) fn duplicate_file(file: &str) -> String {
    format!("{file}: listed more than once in proto_file")
}

pub(crate) fn missing_dependency(file: &str, dependency: &str) -> String {
    format!("{file}: imports {dependency}, whose descriptor is missing from the request")
}

/// Two (package, file) pairs whose packages make the same Rust module `module`.
pub(crate) fn package_module_clash(
    first: (&str, &str),
    second: (&str, &str),
    module: &str,
) -> String {
    format!(
        "packages {:?} ({}) and {:?} ({}) both become the Rust module `{module}`; rename one of them",
        first.0, first.1, second.0, second.1
    )
}

/// `kind` (`message`, `field`, ...) is nameless inside `scope` (`pkg.Msg`, or `""`).
pub(crate) fn nameless(file: &str, kind: &str, scope: &str) -> String {
    match scope {
        "" => format!("{file}: {kind} with no name"),
        scope => format!("{file}: {kind} with no name in {scope}"),
    }
}

pub(crate) fn duplicate_definition(file: &str, element: &str, first_file: &str) -> String {
    format!("{file}: {element} is already defined in {first_file}; a name is defined once")
}

/// `element` (`field pkg.Msg.f`) refers to `type_name`, which nothing defines.
pub(crate) fn unknown_element_type(file: &str, element: &str, type_name: &str) -> String {
    format!("{file}: {element}: type {type_name:?} is not defined in the request")
}

/// `element` refers to `type_name` as `expected` (`a message`), but it is `is` (`an enum`).
pub(crate) fn wrong_type_kind(
    file: &str,
    element: &str,
    type_name: &str,
    is: &str,
    expected: &str,
) -> String {
    format!("{file}: {element}: type {type_name:?} is {is}, not {expected}")
}

pub(crate) fn no_rust_form(file: &str, element: &str, name: &str) -> String {
    format!(
        "{file}: {element}: the name {name:?} has no letter or digit, so it has no Rust form; rename it"
    )
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

pub(crate) fn output_clash(name: &str, first: &str, second: &str) -> String {
    format!(
        "layout=file: {first} and {second} would both be written to {name:?}; rename one of them"
    )
}

pub(crate) fn package_split(file: &str, dependency: &str, package: &str) -> String {
    format!(
        "{file}: imports {dependency} of the same package {package:?}, which is not being generated; one output file holds a whole package, so generate {dependency} too"
    )
}

pub(crate) fn package_left_out(file: &str, dependency: &str, package: &str) -> String {
    format!(
        "{file}: depends on {dependency}, which is not being generated although its package {package:?} is; one output file holds a whole package, so generate {dependency} too"
    )
}

/// The messages about one parameter of `--rgrpc_opt` (`key`), which [`invalid_parameter`]
/// then prefixes: the parameter first, the offending value quoted.
pub(crate) mod param {
    use std::fmt::Display;

    pub(crate) fn unknown(key: &str, known: &[&str]) -> String {
        format!("unknown parameter {key:?} (known: {})", known.join(", "))
    }

    pub(crate) fn repeated(key: &str) -> String {
        format!("parameter {key:?} given more than once")
    }

    pub(crate) fn needs_value(key: &str) -> String {
        format!("parameter {key:?} needs a value")
    }

    pub(crate) fn not_bool(key: &str, value: &str) -> String {
        format!("parameter {key:?} expects true or false, got {value:?}")
    }

    pub(crate) fn not_layout(key: &str, value: &str) -> String {
        format!("parameter {key:?} expects package or file, got {value:?}")
    }

    pub(crate) fn include_file_with_file_layout() -> String {
        "include_file cannot be used with layout=file: under buf's `strategy: directory` every \
         directory's run would write the same include file and buf would keep only one; include \
         the per-directory `<package>.mod.rs` files instead"
            .to_owned()
    }

    pub(crate) fn not_absolute_path(key: &str, value: &str) -> String {
        format!("parameter {key:?} expects an absolute Rust path such as ::rgrpc, got {value:?}")
    }

    pub(crate) fn not_slash_separated(key: &str, value: &str) -> String {
        format!("parameter {key:?} expects \"/\" as the path separator, got {value:?}")
    }

    pub(crate) fn not_relative(key: &str, value: &str) -> String {
        format!(
            "parameter {key:?} expects a relative path without empty, \".\" or \"..\" segments, got {value:?}"
        )
    }

    pub(crate) fn not_rs_file(key: &str, value: &str) -> String {
        format!("parameter {key:?} expects a file name ending in \".rs\", got {value:?}")
    }

    pub(crate) fn not_extern_path(key: &str, value: &str) -> String {
        format!("parameter {key:?} expects .proto.path=rust::path, got {value:?}")
    }

    pub(crate) fn mapped_twice(key: &str, proto: &str) -> String {
        format!("parameter {key:?} maps {proto:?} twice")
    }

    pub(crate) fn proto_path_relative(key: &str, proto: &str) -> String {
        format!("parameter {key:?}: proto path {proto:?} must start with \".\"")
    }

    pub(crate) fn proto_path_empty_segment(key: &str, proto: &str) -> String {
        format!("parameter {key:?}: proto path {proto:?} has an empty segment")
    }

    pub(crate) fn proto_path_bad_segment(key: &str, proto: &str, segment: &str) -> String {
        format!("parameter {key:?}: proto path {proto:?} has an invalid segment {segment:?}")
    }

    pub(crate) fn rust_path_invalid(key: &str, rust: &str) -> String {
        format!("parameter {key:?}: rust path {rust:?} is not a valid Rust path")
    }

    pub(crate) fn rust_path_generics(key: &str, rust: &str) -> String {
        format!("parameter {key:?}: rust path {rust:?} has generic arguments other than types")
    }

    pub(crate) fn not_path_attribute(key: &str, value: &str) -> String {
        format!("parameter {key:?} expects path=#[attribute], got {value:?}")
    }

    pub(crate) fn path_whitespace(key: &str, path: &str) -> String {
        format!("parameter {key:?}: path {path:?} must not contain whitespace")
    }

    pub(crate) fn attribute_invalid(key: &str, attribute: &str, reason: &dyn Display) -> String {
        format!("parameter {key:?}: attribute {attribute:?} is not valid Rust: {reason}")
    }
}

/// Why a name cannot be a Rust identifier (the proto location is added by the caller).
pub(crate) mod ident {
    pub(crate) fn raw_forbidden(name: &str, bare: &str) -> String {
        format!("{name:?} is not a valid raw identifier; use {bare}_")
    }

    pub(crate) fn keyword(name: &str, escaped: &str) -> String {
        format!("{name:?} is a Rust keyword; escape it first (it would be {escaped:?})")
    }

    pub(crate) fn invalid(name: &str) -> String {
        format!("{name:?} is not a valid Rust identifier")
    }

    /// A type name's identifier `problem`, naming the type.
    pub(crate) fn in_type(fqn: &str, problem: &str) -> String {
        format!("type {fqn:?}: {problem}")
    }
}

pub(crate) fn invalid_parameter(message: &str) -> String {
    format!("invalid --rgrpc_opt: {message}")
}

/// A request without `compiler_version` (not from protoc: buf, for one) and no `layout=`.
pub(crate) const LAYOUT_NOT_CHOSEN: &str = "this request does not come from protoc (it has no \
    compiler_version; buf sends none), and the output layout was not chosen: add the option \
    layout=file, complete under every buf strategy, or layout=package (one file per proto \
    package), which is complete only with `strategy: all`: buf's default `strategy: directory` \
    runs the plugin once per directory, and a package spread over two directories would be \
    written twice with buf keeping one half";

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
