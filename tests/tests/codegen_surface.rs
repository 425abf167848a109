//! Generated code names only the runtime's versioned contract: every `::rgrpc::…` path in a
//! golden file (`fixtures/*/expected*`) or in checked-in generated code
//! (`examples/hello/src/generated`) is either under `codegen` or covered by
//! `rgrpc::codegen::GENERATED_CODE_NAMES`, the list the runtime checks at compile time. So a
//! runtime change that would break generated code breaks the runtime's own build first, and
//! a generator change that names something new must add it to that list.

#![allow(clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use rgrpc::codegen::GENERATED_CODE_NAMES;

const ROOT: &str = "::rgrpc::";

/// The workspace directory.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Every file under `dir`, recursively, in sorted order.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The golden and generated files: what the generator writes.
fn generated_files() -> Vec<PathBuf> {
    let root = workspace();
    let mut files = Vec::new();
    files_under(&root.join("examples/hello/src/generated"), &mut files);
    let mut cases: Vec<PathBuf> = fs::read_dir(root.join("fixtures"))
        .expect("fixtures/ exists")
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    cases.sort();
    for case in cases.iter().filter(|case| case.is_dir()) {
        let mut expected: Vec<PathBuf> = fs::read_dir(case)
            .expect("a fixture case is a directory")
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| {
                path.is_dir()
                    && path
                        .file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| name.starts_with("expected"))
            })
            .collect();
        expected.sort();
        for dir in expected {
            files_under(&dir, &mut files);
        }
    }
    files
}

/// Every `::rgrpc::…` path in `text`, without the root (`codegen::Client`, `prost::Message`).
fn runtime_paths(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices(ROOT).map(move |(at, _)| {
        let rest = &text[at + ROOT.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        rest[..end].trim_end_matches(':')
    })
}

/// The contract entry that covers `path`, if any: the path itself or one of its parents.
fn covering(path: &str) -> Option<&'static str> {
    GENERATED_CODE_NAMES.iter().copied().find(|&name| {
        path == name
            || path
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with("::"))
    })
}

#[test]
fn generated_code_names_only_the_contract() {
    let files = generated_files();
    assert!(
        files.len() > 10,
        "found only {} generated files: is the workspace layout as expected?",
        files.len()
    );
    // Uncovered path → the first file naming it.
    let mut uncovered: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut used: BTreeSet<&'static str> = BTreeSet::new();
    let mut paths = 0;
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else {
            continue; // not text: nothing generated code would name
        };
        for path in runtime_paths(&text) {
            paths += 1;
            if path == "codegen" || path.starts_with("codegen::") {
                continue;
            }
            match covering(path) {
                Some(name) => {
                    used.insert(name);
                }
                None => {
                    uncovered
                        .entry(path.to_owned())
                        .or_insert_with(|| file.clone());
                }
            }
        }
    }
    assert!(paths > 0, "no ::rgrpc:: paths found in generated code");
    let mut problems: Vec<String> = uncovered
        .iter()
        .map(|(path, file)| {
            format!(
                "generated code names ::rgrpc::{path} (e.g. in {}), which neither is under \
                 `codegen` nor is listed in the contract section of runtime/src/codegen.rs",
                file.strip_prefix(workspace()).unwrap_or(file).display()
            )
        })
        .collect();
    problems.extend(
        GENERATED_CODE_NAMES
            .iter()
            .filter(|name| !used.contains(*name))
            .map(|name| {
                format!(
                    "the contract in runtime/src/codegen.rs lists {name}, which no generated \
                     file names: remove it"
                )
            }),
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn paths_are_read_whole_and_parents_cover_children() {
    let text = "x: ::rgrpc::prost::alloc::string::String, y: ::rgrpc::Status>";
    let paths: Vec<&str> = runtime_paths(text).collect();
    assert_eq!(paths, ["prost::alloc::string::String", "Status"]);
    assert_eq!(covering("prost::alloc::string::String"), Some("prost"));
    assert_eq!(covering("prost_types::Any"), Some("prost_types"));
    assert_eq!(
        covering("StatusCode"),
        None,
        "a prefix of a name is no parent"
    );
}
