//! The `cargo:rerun-if-changed` lines that make cargo re-run the build script exactly when
//! an input changes.

use std::path::{Path, PathBuf};

/// One `cargo:rerun-if-changed=PATH` line per `.proto` file read, then per include
/// directory, without repeats, in that order.
///
/// Only paths for which `on_disk` holds are named: the well-known types built into the
/// front end have no file, and cargo treats a missing path as always changed, which would
/// re-run the build script on every build. Include directories are watched too (cargo
/// scans a directory recursively) because a file added to an earlier include directory can
/// shadow an import without any watched file changing. A path containing a line break
/// cannot be written as one directive and would let the rest of the name pass as another,
/// so it is left out.
pub(crate) fn lines(
    inputs: &[PathBuf],
    includes: &[PathBuf],
    on_disk: impl Fn(&Path) -> bool,
) -> Vec<String> {
    let mut seen: Vec<&Path> = Vec::new();
    let mut lines = Vec::new();
    for path in inputs.iter().chain(includes) {
        let path = path.as_path();
        if seen.contains(&path) || !on_disk(path) {
            continue;
        }
        seen.push(path);
        let shown = path.display().to_string();
        if shown.contains(['\n', '\r']) {
            continue;
        }
        lines.push(format!("cargo:rerun-if-changed={shown}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn every_input_then_every_include_once() {
        let inputs = paths(&[
            "proto/hello.proto",
            "proto/common.proto",
            "proto/hello.proto",
        ]);
        let includes = paths(&["proto", "vendor/proto", "proto"]);
        assert_eq!(
            lines(&inputs, &includes, |_| true),
            [
                "cargo:rerun-if-changed=proto/hello.proto",
                "cargo:rerun-if-changed=proto/common.proto",
                "cargo:rerun-if-changed=proto",
                "cargo:rerun-if-changed=vendor/proto",
            ]
        );
    }

    #[test]
    fn paths_not_on_disk_are_skipped() {
        // The front end lists the bundled well-known types among its inputs, with no file.
        let inputs = paths(&["proto/hello.proto", "google/protobuf/empty.proto"]);
        let includes = paths(&["proto", "missing"]);
        let on_disk = |path: &Path| !path.starts_with("google") && path != Path::new("missing");
        assert_eq!(
            lines(&inputs, &includes, on_disk),
            [
                "cargo:rerun-if-changed=proto/hello.proto",
                "cargo:rerun-if-changed=proto",
            ]
        );
    }

    #[test]
    fn a_line_break_in_a_path_cannot_inject_a_directive() {
        let inputs = paths(&["a\ncargo:rustc-link-arg=-evil", "b.proto"]);
        assert_eq!(
            lines(&inputs, &[], |_| true),
            ["cargo:rerun-if-changed=b.proto"]
        );
    }

    #[test]
    fn real_files_pass_the_disk_check() {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let inputs = vec![manifest.join("Cargo.toml"), manifest.join("no-such.proto")];
        let includes = vec![manifest.join("src")];
        assert_eq!(
            lines(&inputs, &includes, Path::exists),
            [
                format!("cargo:rerun-if-changed={}", inputs[0].display()),
                format!("cargo:rerun-if-changed={}", includes[0].display()),
            ]
        );
    }
}
