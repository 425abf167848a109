//! Golden-file harness: runs the real `protoc` with the built `protoc-gen-rgrpc`
//! over every `fixtures/<case>/input/` and compares the generated files (or
//! protoc's error, as `error.txt`) byte for byte with `fixtures/<case>/expected/`.
//!
//! Environment:
//! - `UPDATE_GOLDEN=1` rewrites `expected/` to match (refused when `CI` is set).
//! - `GOLDEN_FILTER=<substr>` runs only cases whose name contains `<substr>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use similar::TextDiff;

/// Relative '/'-separated path -> file content.
type FileSet = BTreeMap<String, Vec<u8>>;

#[derive(Debug, PartialEq)]
enum Difference {
    Missing(String),
    Extra(String),
    Changed(String),
}

#[test]
fn golden_fixtures() {
    let update = update_requested(std::env::var_os("UPDATE_GOLDEN"));
    if update && std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("UPDATE_GOLDEN=1 refused: CI is set; regenerate golden files locally");
    }
    let filter = std::env::var("GOLDEN_FILTER").unwrap_or_default();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let all = list_cases(&fixtures);
    assert!(!all.is_empty(), "no golden cases found under fixtures/");
    let cases: Vec<_> = all.into_iter().filter(|c| c.contains(&filter)).collect();
    assert!(
        !cases.is_empty(),
        "no golden case matches GOLDEN_FILTER={filter:?}"
    );

    let mut failed = 0;
    for case in &cases {
        let case_dir = fixtures.join(case);
        let actual = generate(case, &case_dir);
        let expected_dir = case_dir.join("expected");
        let expected = read_tree(&expected_dir);
        let diffs = diff_sets(&expected, &actual);
        if update {
            apply_update(case, &expected_dir, &actual, &diffs);
        } else if !diffs.is_empty() {
            failed += 1;
            report(case, &expected, &actual, &diffs);
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} golden cases differ; run `make golden` and review `git diff fixtures/`",
        cases.len()
    );
}

/// `UPDATE_GOLDEN` may be unset or exactly "1".
fn update_requested(value: Option<std::ffi::OsString>) -> bool {
    match value {
        None => false,
        Some(v) if v == "1" => true,
        Some(v) => panic!("UPDATE_GOLDEN must be unset or \"1\", got {v:?}"),
    }
}

/// Sorted names of `fixtures/*` directories that contain `input/`.
fn list_cases(fixtures: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(fixtures) else {
        return Vec::new();
    };
    let mut cases: Vec<String> = entries
        .map(|e| e.expect("read fixtures/ entry").path())
        .filter(|p| p.join("input").is_dir())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    cases.sort();
    cases
}

/// Runs protoc + plugin on one case; returns its files, or `error.txt`.
fn generate(case: &str, case_dir: &Path) -> FileSet {
    let out = TempDir::new(case);
    let plugin = env!("CARGO_BIN_EXE_protoc-gen-rgrpc");
    let protos: Vec<String> = read_tree(&case_dir.join("input"))
        .into_keys()
        .filter(|p| p.ends_with(".proto"))
        .collect();
    let mut cmd = rgrpc_dev::protoc_command().unwrap();
    cmd.current_dir(case_dir)
        .env("RUST_BACKTRACE", "0") // keep plugin panic output short
        .arg(format!("--plugin=protoc-gen-rgrpc={plugin}"))
        .arg(format!("--rgrpc_out={}", out.0.display()));
    if let Some(params) = read_params(case_dir) {
        cmd.arg(format!("--rgrpc_opt={params}"));
    }
    let wkt = rgrpc_dev::well_known_include().unwrap();
    cmd.args(["-I", "input"]).args(&protos).arg("-I").arg(&wkt);
    let output = process::run_bounded(&mut cmd, b"");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        eprint!("{stderr}");
        return read_tree(&out.0);
    }
    let wkt = wkt.display().to_string();
    let out_dir = out.0.display().to_string();
    let replacements = [
        (out_dir.as_str(), "<OUT>"),
        (plugin, "<PLUGIN>"),
        (wkt.as_str(), "<WKT>"),
    ];
    let text = format!("{}\n", replace_placeholders(&stderr, &replacements).trim());
    FileSet::from([("error.txt".to_owned(), text.into_bytes())])
}

/// Trimmed content of the optional `params` file (`None` if absent or blank).
fn read_params(case_dir: &Path) -> Option<String> {
    let path = case_dir.join("params");
    match fs::read_to_string(&path) {
        Ok(text) => Some(text.trim().to_owned()).filter(|t| !t.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("read {path:?}: {e}"),
    }
}

/// Replaces each `from` with its placeholder, longest `from` first.
fn replace_placeholders(text: &str, replacements: &[(&str, &str)]) -> String {
    let mut sorted = replacements.to_vec();
    sorted.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    sorted
        .iter()
        .filter(|(from, _)| !from.is_empty())
        .fold(text.to_owned(), |acc, (from, to)| acc.replace(from, to))
}

/// All files under `root` (following symlinks); empty if `root` is absent.
fn read_tree(root: &Path) -> FileSet {
    let mut files = FileSet::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read dir entry").path();
            let name = format!("{prefix}{}", path.file_name().unwrap().to_string_lossy());
            if path.is_dir() {
                stack.push((path, format!("{name}/")));
            } else {
                let bytes = fs::read(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
                files.insert(name, bytes);
            }
        }
    }
    files
}

fn normalize(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .into_bytes()
}

/// Missing/extra/changed files (CRLF-insensitive), in path order.
fn diff_sets(expected: &FileSet, actual: &FileSet) -> Vec<Difference> {
    let mut diffs = Vec::new();
    for (path, bytes) in expected {
        match actual.get(path) {
            None => diffs.push(Difference::Missing(path.clone())),
            Some(a) if normalize(a) != normalize(bytes) => {
                diffs.push(Difference::Changed(path.clone()))
            }
            Some(_) => {}
        }
    }
    let extra = actual.keys().filter(|p| !expected.contains_key(*p));
    diffs.extend(extra.map(|p| Difference::Extra(p.clone())));
    diffs
}

fn report(case: &str, expected: &FileSet, actual: &FileSet, diffs: &[Difference]) {
    eprintln!("=== golden case `{case}` differs ===");
    for diff in diffs {
        match diff {
            Difference::Missing(f) => eprintln!("missing (expected but not generated): {f}"),
            Difference::Extra(f) => eprintln!("extra (generated but not expected): {f}"),
            Difference::Changed(f) => {
                let (e, a) = (normalize(&expected[f]), normalize(&actual[f]));
                let (e, a) = (String::from_utf8_lossy(&e), String::from_utf8_lossy(&a));
                let text = TextDiff::from_lines(e.as_ref(), a.as_ref());
                let mut unified = text.unified_diff();
                let header = unified
                    .context_radius(3)
                    .header(&format!("expected/{f}"), &format!("actual/{f}"));
                eprintln!("{header}");
            }
        }
    }
}

/// Makes `expected_dir` mirror `actual`, printing what changed.
fn apply_update(case: &str, expected_dir: &Path, actual: &FileSet, diffs: &[Difference]) {
    for diff in diffs {
        match diff {
            Difference::Missing(f) => {
                fs::remove_file(expected_dir.join(f)).unwrap();
                eprintln!("removed: fixtures/{case}/expected/{f}");
            }
            Difference::Extra(f) | Difference::Changed(f) => {
                let path = expected_dir.join(f);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(&path, &actual[f]).unwrap();
                eprintln!("updated: fixtures/{case}/expected/{f}");
            }
        }
    }
    remove_empty_dirs(expected_dir);
}

/// Removes now-empty subdirectories (keeps `dir` itself).
fn remove_empty_dirs(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries.map(|e| e.unwrap().path()).filter(|p| p.is_dir()) {
        remove_empty_dirs(&path);
        let _ = fs::remove_dir(&path); // fails (harmlessly) if not empty
    }
}

/// A fresh per-process, per-case output directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(case: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("rgrpc-golden-{}-{case}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {dir:?}: {e}"));
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn placeholders_replace_longest_first() {
    let text = "/tmp/o/x.rs: bad (plugin /bin/p, out /tmp/o)";
    let out = replace_placeholders(
        text,
        &[
            ("/tmp", "<T>"),
            ("/tmp/o", "<OUT>"),
            ("/bin/p", "<PLUGIN>"),
            ("", "!"),
        ],
    );
    assert_eq!(out, "<OUT>/x.rs: bad (plugin <PLUGIN>, out <OUT>)");
}

#[test]
fn diff_sets_reports_missing_extra_changed_and_ignores_crlf() {
    let set = |items: &[(&str, &str)]| -> FileSet {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
            .collect()
    };
    let expected = set(&[("a.rs", "x\r\ny\n"), ("b.rs", "1\n"), ("gone.rs", "")]);
    let actual = set(&[("a.rs", "x\ny\n"), ("b.rs", "2\n"), ("new/c.rs", "")]);
    assert_eq!(
        diff_sets(&expected, &actual),
        vec![
            Difference::Changed("b.rs".into()),
            Difference::Missing("gone.rs".into()),
            Difference::Extra("new/c.rs".into()),
        ]
    );
}

#[test]
fn update_flag_accepts_only_unset_or_one() {
    assert!(!update_requested(None));
    assert!(update_requested(Some("1".into())));
    let err = std::panic::catch_unwind(|| update_requested(Some("yes".into()))).unwrap_err();
    assert!(err.downcast_ref::<String>().unwrap().contains("\"yes\""));
}
