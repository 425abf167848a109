//! Proto type names → Rust types, as seen from a generated service module.
//!
//! This must agree exactly with where prost-build puts each message (the compile test of
//! every golden file enforces it): a package `a.b` is the module `a::b`, a nested type
//! `Outer.Inner` lives in `outer::Inner`, and well-known types are prost's extern paths
//! (`google.protobuf.Empty` is `()`, wrappers are Rust scalars, the rest `prost_types`),
//! and `extern_path` mappings are applied exactly as prost-build applies them.

use crate::names::{to_snake, to_upper_camel};

/// Resolves `fqn` (`.pkg.Msg`) to Rust source for a type, seen from a module one level
/// below the module of `package` (a generated `<service>_client`/`_server` module).
/// `externs` are the user's `extern_path` mappings (proto path → Rust path).
pub(crate) fn rust_type(
    fqn: &str,
    package: &str,
    runtime: &str,
    externs: &[(String, String)],
) -> String {
    if let Some(external) = extern_type(fqn, externs) {
        return external;
    }
    if let Some(well_known) = extern_type(fqn, &builtin_externs(runtime)) {
        return well_known;
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
    std::iter::once("super".to_owned())
        .chain(local.map(|_| "super".to_owned()))
        .chain(target.map(to_snake))
        .chain(std::iter::once(to_upper_camel(type_name)))
        .collect::<Vec<_>>()
        .join("::")
}

/// The Rust path of `fqn` under a user's `extern_path`, as prost-build's `ExternPaths`
/// computes it: an exact mapping wins, else the longest mapped prefix, with the segments
/// after it snake_cased (modules) and the last one UpperCamelCased (the type).
fn extern_type(fqn: &str, externs: &[(String, String)]) -> Option<String> {
    if let Some((_, rust)) = externs.iter().find(|(proto, _)| proto == fqn) {
        return Some(rust.clone());
    }
    for (split, _) in fqn.rmatch_indices('.') {
        let prefix = &fqn[..split];
        let Some((_, rust)) = externs.iter().find(|(proto, _)| proto == prefix) else {
            continue;
        };
        let mut rest: Vec<&str> = fqn[split + 1..].split('.').collect();
        let type_name = rest.pop().unwrap_or_default();
        let path = std::iter::once(rust.clone())
            .chain(rest.into_iter().map(to_snake))
            .chain(std::iter::once(to_upper_camel(type_name)));
        return Some(path.collect::<Vec<_>>().join("::"));
    }
    None
}

/// prost-build's built-in extern paths (its `ExternPaths` defaults), rooted at the
/// runtime's re-exports: `google.protobuf` is `prost_types`, except `Empty` and the
/// wrappers, which are Rust types.
pub(crate) fn builtin_externs(runtime: &str) -> Vec<(String, String)> {
    [
        (".google.protobuf", format!("{runtime}::prost_types")),
        (".google.protobuf.BoolValue", "bool".to_owned()),
        (
            ".google.protobuf.BytesValue",
            format!("{runtime}::prost::alloc::vec::Vec<u8>"),
        ),
        (".google.protobuf.DoubleValue", "f64".to_owned()),
        (".google.protobuf.Empty", "()".to_owned()),
        (".google.protobuf.FloatValue", "f32".to_owned()),
        (".google.protobuf.Int32Value", "i32".to_owned()),
        (".google.protobuf.Int64Value", "i64".to_owned()),
        (
            ".google.protobuf.StringValue",
            format!("{runtime}::prost::alloc::string::String"),
        ),
        (".google.protobuf.UInt32Value", "u32".to_owned()),
        (".google.protobuf.UInt64Value", "u64".to_owned()),
    ]
    .into_iter()
    .map(|(proto, rust)| (proto.to_owned(), rust))
    .collect()
}

/// The built-in extern paths that the user's `externs` leave in force: those no user
/// mapping names, exactly or as a prefix. [`rust_type`] tries the user's mappings before
/// the built-in ones; giving prost-build these (with its own defaults off) makes it
/// resolve every type the same way, where its defaults would clash with a user mapping
/// such as `.google.protobuf=::pbjson_types` ("duplicate extern Protobuf path").
pub(crate) fn builtin_externs_in_force(
    runtime: &str,
    externs: &[(String, String)],
) -> Vec<(String, String)> {
    let covered = |builtin: &str| {
        externs.iter().any(|(proto, _)| {
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

    fn rust_type_(fqn: &str, package: &str, runtime: &str) -> String {
        rust_type(fqn, package, runtime, &[])
    }

    #[test]
    fn extern_paths_map_exact_names_and_prefixes_like_prost() {
        let externs = [
            (".other.v1".to_owned(), "::other_crate::v1".to_owned()),
            (".other.v1.Special".to_owned(), "crate::Special".to_owned()),
            (".google.protobuf".to_owned(), "::pbjson_types".to_owned()),
        ];
        let resolve = |fqn| rust_type(fqn, "mine", "::rgrpc", &externs);
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
    fn builtin_externs_covered_by_the_user_are_not_in_force() {
        let names = |externs: &[(&str, &str)]| {
            let externs: Vec<(String, String)> = externs
                .iter()
                .map(|(p, r)| ((*p).to_owned(), (*r).to_owned()))
                .collect();
            builtin_externs_in_force("::rgrpc", &externs)
                .into_iter()
                .map(|(proto, _)| proto)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&[]).len(), 11);
        assert!(names(&[(".google.protobuf", "::pbjson_types")]).is_empty());
        assert!(names(&[(".google", "::g")]).is_empty());
        let without_empty = names(&[(".google.protobuf.Empty", "crate::Empty")]);
        assert_eq!(without_empty.len(), 10);
        assert!(!without_empty.contains(&".google.protobuf.Empty".to_owned()));
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
