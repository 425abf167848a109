//! The plugin under the real `buf generate` (the CLI pinned in `tools/buf`, installed by
//! `make buf-setup`), as a local plugin, under both of buf's strategies, on
//! `fixtures/file_layout/input`: package `split.v1` spans `split/one` and `split/two` with
//! no import between `x.proto` and `y.proto`.
//!
//! buf's default `strategy: directory` runs the plugin once per directory, each run seeing
//! only that directory's files and their imports; when two runs write the same file name,
//! buf warns "duplicate generated file name", keeps one, and exits 0. These tests show that
//! `layout=file` writes the same complete files as protoc (the fixture's goldens) under
//! both strategies, and what the default layout does.
//!
//! Without buf installed the tests are skipped with a note, unless `RGRPC_REQUIRE_INTEROP=1`
//! (set by `make test`, which installs buf first), which makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/process.rs"]
mod process;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use process::run_bounded_for;

/// buf compiles the module and runs the plugin once per directory: more than one child.
const BUF_LIMIT: Duration = Duration::from_secs(120);

const DUPLICATE: &str = "duplicate generated file name";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The pinned buf (`RGRPC_BUF` overrides), or `None` (after a note) when it is not
/// installed and not required.
fn buf() -> Option<PathBuf> {
    let path = std::env::var_os("RGRPC_BUF")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("tools/buf/node_modules/.bin/buf"));
    if path.exists() {
        return Some(path);
    }
    if std::env::var("RGRPC_REQUIRE_INTEROP").is_ok_and(|v| v == "1") {
        panic!(
            "RGRPC_REQUIRE_INTEROP=1 but buf is not installed at {}; run `make buf-setup`",
            path.display()
        );
    }
    eprintln!(
        "SKIPPED: buf is not installed at {}; run `make buf-setup` (make test does)",
        path.display()
    );
    None
}

/// A fresh buf workspace under the target directory: `buf.yaml` and the fixture's protos.
fn workspace(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("buf-{name}"));
    let _ = fs::remove_dir_all(&dir);
    rgrpc_dev::copy_tree(
        &repo().join("fixtures/file_layout/input"),
        &dir.join("proto"),
        &[],
    )
    .unwrap();
    fs::write(
        dir.join("buf.yaml"),
        "version: v2\nmodules:\n  - path: proto\n",
    )
    .unwrap();
    dir
}

/// What one `buf generate` did.
struct Generated {
    success: bool,
    stderr: String,
    /// Every file written, by its path under `out`.
    files: BTreeMap<String, String>,
}

/// Runs `buf generate` in `dir` with the plugin as a local plugin under `strategy`, with
/// the options `opt`, writing to `dir/out`.
fn generate(buf: &Path, dir: &Path, strategy: &str, opt: &str) -> Generated {
    let plugin = env!("CARGO_BIN_EXE_protoc-gen-rgrpc");
    let template = format!(
        "version: v2\nplugins:\n  - local: {plugin}\n    out: out\n    strategy: {strategy}\n    opt: [{opt}]\n"
    );
    fs::write(dir.join("buf.gen.yaml"), template).unwrap();
    let _ = fs::remove_dir_all(dir.join("out"));
    let output = run_bounded_for(
        Command::new(buf)
            .arg("generate")
            .current_dir(dir)
            .env("BUF_CACHE_DIR", dir.join("cache")),
        b"",
        BUF_LIMIT,
    );
    let mut files = BTreeMap::new();
    read_tree(&dir.join("out"), "", &mut files);
    Generated {
        success: output.status.success(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        files,
    }
}

fn read_tree(dir: &Path, prefix: &str, files: &mut BTreeMap<String, String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            read_tree(&entry.path(), &format!("{name}/"), files);
        } else {
            files.insert(name, fs::read_to_string(entry.path()).unwrap());
        }
    }
}

/// Every message and service of the fixture, as the generated code declares it.
const DECLARATIONS: &[&str] = &[
    "pub struct X ",
    "pub struct Y ",
    "pub struct Part ",
    "pub struct Z ",
    "pub struct O ",
    "pub mod x_service_client",
    "pub mod x_service_server",
    "pub mod y_service_client",
    "pub mod y_service_server",
    "pub mod z_service_client",
    "pub mod z_service_server",
];

fn assert_complete(generated: &Generated, what: &str) {
    let all: String = generated.files.values().map(String::as_str).collect();
    for declaration in DECLARATIONS {
        assert!(
            all.contains(declaration),
            "{what}: `{declaration}` is missing from the output; stderr:\n{}",
            generated.stderr
        );
    }
}

#[test]
fn layout_file_is_complete_and_the_same_under_every_strategy() {
    let Some(buf) = buf() else { return };
    let dir = workspace("layout-file");
    let expected = {
        let mut files = BTreeMap::new();
        read_tree(
            &repo().join("fixtures/file_layout/expected"),
            "",
            &mut files,
        );
        files
    };
    for strategy in ["directory", "all"] {
        let what = format!("layout=file, strategy: {strategy}");
        let generated = generate(&buf, &dir, strategy, "layout=file");
        assert!(
            generated.success,
            "{what}: buf generate failed:\n{}",
            generated.stderr
        );
        assert!(
            !generated.stderr.contains(DUPLICATE),
            "{what}: buf dropped a file:\n{}",
            generated.stderr
        );
        assert_complete(&generated, &what);
        // The same bytes as protoc's run over the same files (the fixture's goldens).
        assert_eq!(
            generated.files.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{what}: file set"
        );
        for (name, content) in &generated.files {
            assert_eq!(content, &expected[name], "{what}: {name}");
        }
    }
}

#[test]
fn layout_file_refuses_an_include_file_through_buf() {
    let Some(buf) = buf() else { return };
    let dir = workspace("layout-file-include");
    for strategy in ["directory", "all"] {
        let generated = generate(&buf, &dir, strategy, "layout=file, include_file=mod.rs");
        assert!(!generated.success, "strategy {strategy}: buf succeeded");
        assert!(
            generated
                .stderr
                .contains("include_file cannot be used with layout=file"),
            "strategy {strategy}: {}",
            generated.stderr
        );
        assert!(
            generated.files.is_empty(),
            "strategy {strategy}: files written"
        );
    }
}

/// buf sends no `compiler_version`, so the plugin makes a buf user choose the layout: with
/// no `layout=` every strategy fails with the error explaining the choice.
///
/// The package layout (one file per package), once chosen, is complete under
/// `strategy: all`. Under `strategy: directory` it cannot be: the run for `split/one` never
/// sees `split/two`, both write `split.v1.rs`, and buf keeps one with a warning. Where a file
/// imports its package's file from another directory (`z.proto`), the plugin sees the split
/// and fails with an error naming the file to generate too. The README recommends
/// `layout=file` for buf for this reason; this test keeps those claims true.
#[test]
fn the_package_layout_must_be_chosen_and_is_complete_only_under_strategy_all() {
    let Some(buf) = buf() else { return };
    let dir = workspace("layout-package");
    for strategy in ["all", "directory"] {
        let generated = generate(&buf, &dir, strategy, "");
        assert!(!generated.success, "strategy {strategy} succeeded");
        assert!(
            generated
                .stderr
                .contains("this request does not come from protoc")
                && generated.stderr.contains("add the option layout=file"),
            "strategy {strategy}: {}",
            generated.stderr
        );
        assert!(generated.files.is_empty(), "{:?}", generated.files.keys());
    }

    let generated = generate(&buf, &dir, "all", "layout=package");
    assert!(generated.success, "strategy all: {}", generated.stderr);
    assert!(
        !generated.stderr.contains(DUPLICATE),
        "{}",
        generated.stderr
    );
    assert_complete(&generated, "layout=package, strategy: all");
    assert_eq!(
        generated.files.keys().collect::<Vec<_>>(),
        ["other.rs", "split.v1.rs"]
    );

    let generated = generate(&buf, &dir, "directory", "layout=package");
    assert!(!generated.success, "strategy directory succeeded");
    assert!(
        generated.stderr.contains(
            "split/two/z.proto: imports split/one/x.proto of the same package \"split.v1\", \
             which is not being generated"
        ),
        "{}",
        generated.stderr
    );

    // Without z.proto nothing imports across the directories: buf's warning is all there is.
    fs::remove_file(dir.join("proto/split/two/z.proto")).unwrap();
    fs::remove_file(dir.join("proto/other/o.proto")).unwrap();
    let generated = generate(&buf, &dir, "directory", "layout=package");
    assert!(generated.success, "{}", generated.stderr);
    assert!(generated.stderr.contains(DUPLICATE), "{}", generated.stderr);
    let generated = generate(&buf, &dir, "directory", "layout=file");
    assert!(generated.success, "{}", generated.stderr);
    assert!(
        !generated.stderr.contains(DUPLICATE),
        "{}",
        generated.stderr
    );
    let all: String = generated.files.values().map(String::as_str).collect();
    assert!(all.contains("pub struct X ") && all.contains("pub struct Y "));
}
