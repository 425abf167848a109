//! Proto type names → Rust types, as seen from a generated service module.
//!
//! This must agree exactly with where prost-build puts each message (the compile test of
//! every golden file enforces it): a package `a.b` is the module `a::b`, a nested type
//! `Outer.Inner` lives in `outer::Inner`, and well-known types are prost's extern paths
//! (`google.protobuf.Empty` is `()`, wrappers are Rust scalars, the rest `prost_types`),
//! and `extern_path` mappings are applied exactly as prost-build applies them.

use crate::error;
use crate::names::{to_snake, to_upper_camel};
use crate::params::ExternPath;
use crate::rust::{RustIdent, RustPath, RustType};

/// Resolves `fqn` (`.pkg.Msg`) to a Rust type, seen from a module one level below the
/// module of `package` (a generated `<service>_client`/`_server` module). `externs` are the
/// user's `extern_path` mappings; `runtime` roots the well-known types. Fails, naming the
/// name, only if a proto name has no identifier form.
pub(crate) fn rust_type(
    fqn: &str,
    package: &str,
    runtime: &RustPath,
    externs: &[ExternPath],
) -> Result<RustType, String> {
    if let Some(external) = extern_type(fqn, externs.iter().map(|e| (e.proto.as_str(), &e.rust)))? {
        return Ok(RustType::Path(external));
    }
    let builtins = builtin_externs(runtime);
    if let Some((_, well_known)) = builtins.iter().find(|(proto, _)| *proto == fqn) {
        return Ok(well_known.clone());
    }
    if let Some(prost_type) = extern_type(fqn, [(PROST_TYPES_PROTO, &prost_types(runtime))])? {
        return Ok(RustType::Path(prost_type));
    }
    let mut local = package.split('.').filter(|s| !s.is_empty()).peekable();
    let mut target = fqn.trim_start_matches('.').split('.').collect::<Vec<_>>();
    let type_name = target.pop().unwrap_or_default();
    let mut target = target.into_iter().peekable();
    // Same algorithm as prost-build's resolve_ident: drop the common prefix, climb out of
    // what remains of our package (plus our own service module), descend into the target.
    while local.peek().is_some() && local.peek() == target.peek() {
        local.next();
        target.next();
    }
    let mut path = RustPath::super_();
    for _ in local {
        path = path.join_path(&RustPath::super_());
    }
    for module in target {
        path = path.join(&ident(fqn, &to_snake(module))?);
    }
    Ok(RustType::Path(
        path.join(&ident(fqn, &to_upper_camel(type_name))?),
    ))
}

/// `name` as an identifier, or the problem with it, naming the type it is part of.
fn ident(fqn: &str, name: &str) -> Result<RustIdent, String> {
    RustIdent::new(name).map_err(|problem| error::ident::in_type(fqn, &problem))
}

/// The Rust path of `fqn` under one of `externs` (proto path, Rust path), as prost-build's
/// `ExternPaths` computes it: an exact mapping wins, else the longest mapped prefix, with
/// the segments after it snake_cased (modules) and the last one UpperCamelCased (the type).
fn extern_type<'a>(
    fqn: &str,
    externs: impl IntoIterator<Item = (&'a str, &'a RustPath)> + Clone,
) -> Result<Option<RustPath>, String> {
    let find = |proto_path: &str| {
        externs
            .clone()
            .into_iter()
            .find(|(proto, _)| *proto == proto_path)
            .map(|(_, rust)| rust.clone())
    };
    if let Some(rust) = find(fqn) {
        return Ok(Some(rust));
    }
    for (split, _) in fqn.rmatch_indices('.') {
        let Some(mut path) = find(&fqn[..split]) else {
            continue;
        };
        let mut rest: Vec<&str> = fqn[split + 1..].split('.').collect();
        let type_name = rest.pop().unwrap_or_default();
        for module in rest {
            path = path.join(&ident(fqn, &to_snake(module))?);
        }
        return Ok(Some(path.join(&ident(fqn, &to_upper_camel(type_name))?)));
    }
    Ok(None)
}

/// The proto package prost-build maps to `prost_types` as a whole.
const PROST_TYPES_PROTO: &str = ".google.protobuf";

/// `<runtime>::prost_types`.
fn prost_types(runtime: &RustPath) -> RustPath {
    runtime
        .clone()
        .join_path(&RustPath::relative(&["prost_types"]))
}

/// prost-build's built-in extern paths (its `ExternPaths` defaults), rooted at the
/// runtime's re-exports: `google.protobuf` is `prost_types`, except `Empty` and the
/// wrappers, which are Rust types. The first entry maps the package as a whole.
pub(crate) fn builtin_externs(runtime: &RustPath) -> Vec<(&'static str, RustType)> {
    let alloc = |module: &'static str, name: &'static str, args: Vec<RustType>| {
        let path = RustPath::relative(&["prost", "alloc", module, name]);
        RustType::Path(runtime.clone().join_path(&path).with_args(args))
    };
    let primitive = |name| RustType::Path(RustPath::primitive(name));
    vec![
        (PROST_TYPES_PROTO, RustType::Path(prost_types(runtime))),
        (".google.protobuf.BoolValue", primitive("bool")),
        (
            ".google.protobuf.BytesValue",
            alloc("vec", "Vec", vec![primitive("u8")]),
        ),
        (".google.protobuf.DoubleValue", primitive("f64")),
        (".google.protobuf.Empty", RustType::Unit),
        (".google.protobuf.FloatValue", primitive("f32")),
        (".google.protobuf.Int32Value", primitive("i32")),
        (".google.protobuf.Int64Value", primitive("i64")),
        (
            ".google.protobuf.StringValue",
            alloc("string", "String", Vec::new()),
        ),
        (".google.protobuf.UInt32Value", primitive("u32")),
        (".google.protobuf.UInt64Value", primitive("u64")),
    ]
}

/// The built-in extern paths that the user's `externs` leave in force: those no user
/// mapping names, exactly or as a prefix. [`rust_type`] tries the user's mappings before
/// the built-in ones; giving prost-build these (with its own defaults off) makes it
/// resolve every type the same way, where its defaults would clash with a user mapping
/// such as `.google.protobuf=::pbjson_types` ("duplicate extern Protobuf path").
pub(crate) fn builtin_externs_in_force(
    runtime: &RustPath,
    externs: &[ExternPath],
) -> Vec<(&'static str, RustType)> {
    let covered = |builtin: &str| {
        externs.iter().any(|ExternPath { proto, .. }| {
            builtin == proto
                || builtin
                    .strip_prefix(proto.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    };
    builtin_externs(runtime)
        .into_iter()
        .filter(|(proto, _)| !covered(proto))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::params::externs;

    fn runtime(path: &str) -> RustPath {
        RustPath::parse(path)
    }

    fn rust_type_(fqn: &str, package: &str, rt: &str) -> String {
        rust_type(fqn, package, &runtime(rt), &[])
            .unwrap()
            .to_string()
    }

    #[test]
    fn extern_paths_map_exact_names_and_prefixes_like_prost() {
        let externs = externs(&[
            (".other.v1", "::other_crate::v1"),
            (".other.v1.Special", "crate::Special"),
            (".google.protobuf", "::pbjson_types"),
        ]);
        let resolve = |fqn| {
            rust_type(fqn, "mine", &runtime("::rgrpc"), &externs)
                .unwrap()
                .to_string()
        };
        assert_eq!(resolve(".other.v1.Thing"), "::other_crate::v1::Thing");
        assert_eq!(
            resolve(".other.v1.Outer.Inner"),
            "::other_crate::v1::outer::Inner"
        );
        assert_eq!(resolve(".other.v1.Special"), "crate::Special");
        assert_eq!(
            resolve(".google.protobuf.Timestamp"),
            "::pbjson_types::Timestamp"
        );
        assert_eq!(resolve(".mine.Local"), "super::Local");
        assert_eq!(resolve(".other.v2.Thing"), "super::super::other::v2::Thing");
    }

    #[test]
    fn a_name_without_an_identifier_form_is_an_error_naming_the_type() {
        let error = rust_type(".pkg.\u{b2}", "pkg", &runtime("::rgrpc"), &[]).unwrap_err();
        assert!(error.starts_with("type \".pkg.\u{b2}\": "), "{error}");
    }

    #[test]
    fn builtin_externs_covered_by_the_user_are_not_in_force() {
        let names = |pairs: &[(&str, &str)]| {
            builtin_externs_in_force(&runtime("::rgrpc"), &externs(pairs))
                .into_iter()
                .map(|(proto, _)| proto)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&[]).len(), 11);
        assert!(names(&[(".google.protobuf", "::pbjson_types")]).is_empty());
        assert!(names(&[(".google", "::g")]).is_empty());
        let without_empty = names(&[(".google.protobuf.Empty", "crate::Empty")]);
        assert_eq!(without_empty.len(), 10);
        assert!(!without_empty.contains(&".google.protobuf.Empty"));
        // A prefix only counts at a segment boundary; deeper mappings cover nothing.
        assert_eq!(names(&[(".google.proto", "::x")]).len(), 11);
        assert_eq!(
            names(&[(".google.protobuf.Timestamp", "::t::Ts")]).len(),
            11
        );
    }

    #[test]
    fn same_package() {
        assert_eq!(
            rust_type_(".hello.HelloRequest", "hello", "::rgrpc"),
            "super::HelloRequest"
        );
    }

    #[test]
    fn no_package() {
        assert_eq!(rust_type_(".Ping", "", "::rgrpc"), "super::Ping");
    }

    #[test]
    fn nested_message_goes_through_its_parents_module() {
        assert_eq!(
            rust_type_(".a.b.Outer.Inner", "a.b", "::rgrpc"),
            "super::outer::Inner"
        );
    }

    #[test]
    fn sibling_and_parent_packages_climb_with_super() {
        assert_eq!(
            rust_type_(".a.c.Msg", "a.b", "::rgrpc"),
            "super::super::c::Msg"
        );
        assert_eq!(rust_type_(".a.Msg", "a.b", "::rgrpc"), "super::super::Msg");
        assert_eq!(rust_type_(".x.Msg", "", "::rgrpc"), "super::x::Msg");
        assert_eq!(rust_type_(".Msg", "a", "::rgrpc"), "super::super::Msg");
    }

    #[test]
    fn keyword_packages_are_escaped_like_prost() {
        assert_eq!(
            rust_type_(".async.type.Msg", "other", "::rgrpc"),
            "super::super::r#async::r#type::Msg"
        );
    }

    #[test]
    fn well_known_types_use_the_runtime_reexports() {
        assert_eq!(rust_type_(".google.protobuf.Empty", "a", "::rgrpc"), "()");
        assert_eq!(
            rust_type_(".google.protobuf.Timestamp", "a", "::rgrpc"),
            "::rgrpc::prost_types::Timestamp"
        );
        assert_eq!(
            rust_type_(".google.protobuf.StringValue", "a", "::x"),
            "::x::prost::alloc::string::String"
        );
        assert_eq!(
            rust_type_(".google.protobuf.UInt64Value", "a", "::x"),
            "u64"
        );
    }
}
