//! `layout=file`: where each proto file's code goes (`a/b/x.proto` → `a/b/x.rs`), and the
//! per-directory include file of each package (`a/b/<package>.mod.rs`) that gathers a
//! directory's files of one package for a crate to `include!`.
//!
//! Why per directory: buf's default `strategy: directory` runs the plugin once per
//! directory, each run seeing only that directory's files (and their imports). A file named
//! after the package alone would be written by every directory holding part of the package,
//! and buf keeps one of them; a name under the directory is written by exactly one run, so
//! every strategy writes the same, complete set of files.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::{error, render};

/// The output file of the proto file `source`: its path with `.proto` replaced by `.rs`.
pub(crate) fn file_name(source: &str) -> String {
    match source.strip_suffix(".proto") {
        Some(stem) if !stem.is_empty() && !stem.ends_with('/') => format!("{stem}.rs"),
        _ => format!("{source}.rs"),
    }
}

/// One generated file of a proto file: its package, output name and proto source.
pub(crate) struct Written {
    pub(crate) package: String,
    pub(crate) name: String,
    pub(crate) source: String,
}

/// The include files for `written` (one per directory and package, each `include!`ing that
/// directory's files of the package, by name, sorted), or the clash of two output names.
pub(crate) fn include_files(written: &[Written]) -> Result<Vec<(String, String)>, Vec<String>> {
    // (directory, package) → the files to include, by their name in the directory.
    let mut groups: BTreeMap<(&str, &str), Vec<&Written>> = BTreeMap::new();
    for file in written {
        let dir = file.name.rsplit_once('/').map_or("", |(dir, _)| dir);
        groups.entry((dir, &file.package)).or_default().push(file);
    }
    // Every name this run writes, with what it holds, to find clashes.
    let mut owners: BTreeMap<String, String> = written
        .iter()
        .map(|file| (file.name.clone(), file.source.clone()))
        .collect();
    let mut errors = Vec::new();
    let mut files = Vec::new();
    for ((dir, package), mut members) in groups {
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let stem = prost_build::Module::from_protobuf_package_name(package).to_file_name_or("_");
        let stem = stem.strip_suffix(".rs").unwrap_or(&stem);
        let name = if dir.is_empty() {
            format!("{stem}.mod.rs")
        } else {
            format!("{dir}/{stem}.mod.rs")
        };
        let what = format!("the include file of package {package:?}");
        if let Some(owner) = owners.get(&name) {
            errors.push(error::output_clash(&name, owner, &what));
            continue;
        }
        owners.insert(name.clone(), what.clone());
        let mut tokens = TokenStream::new();
        let mut sources = Vec::new();
        for member in members {
            let local = member.name.rsplit('/').next().unwrap_or(&member.name);
            tokens.extend(quote! { include!(#local); });
            sources.push(member.source.clone());
        }
        match render::file(&format!("{what} in {dir:?}"), &sources, None, tokens) {
            Ok(content) => files.push((name, content)),
            Err(message) => errors.push(message),
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proto_file_keeps_its_path() {
        assert_eq!(file_name("a/b/x.proto"), "a/b/x.rs");
        assert_eq!(file_name("x.proto"), "x.rs");
        assert_eq!(file_name("a/.proto"), "a/.proto.rs");
        assert_eq!(file_name("a/x.protodevel"), "a/x.protodevel.rs");
    }

    fn written(package: &str, source: &str) -> Written {
        Written {
            package: package.to_owned(),
            name: file_name(source),
            source: source.to_owned(),
        }
    }

    #[test]
    fn one_include_file_per_directory_and_package() {
        let files = include_files(&[
            written("p.v1", "a/x.proto"),
            written("p.v1", "a/w.proto"),
            written("q", "a/q.proto"),
            written("p.v1", "b/y.proto"),
            written("", "top.proto"),
        ])
        .unwrap_or_else(|errors| panic!("{errors:?}"));
        let names: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["_.mod.rs", "a/p.v1.mod.rs", "a/q.mod.rs", "b/p.v1.mod.rs"]
        );
        assert!(
            files[1]
                .1
                .contains("include!(\"w.rs\");\ninclude!(\"x.rs\");\n")
        );
        assert!(
            files[1]
                .1
                .contains("// source: a/w.proto\n// source: a/x.proto\n")
        );
    }

    #[test]
    fn an_include_file_named_like_a_proto_file_is_an_error() {
        let errors = include_files(&[written("p", "a/p.mod.proto")])
            .err()
            .unwrap_or_default();
        assert_eq!(
            errors,
            [
                "layout=file: a/p.mod.proto and the include file of package \"p\" would both be \
                 written to \"a/p.mod.rs\"; rename one of them"
            ]
        );
    }
}
