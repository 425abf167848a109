//! The starter builds on its own: a copy of `examples/route-guide`, outside the workspace,
//! with its two rgrpc path dependencies pointed at this checkout (what the README tells a
//! user to do), builds without a warning and runs all four rpcs.
//!
//! The copy builds into `CARGO_TARGET_TMPDIR/route-guide-target`, so only the first run pays
//! for a cold build (minutes on a small machine); later runs rebuild the starter alone. The
//! workspace's `Cargo.lock` goes with the copy, so the copy resolves the versions the
//! workspace already downloaded and locked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// Generous: a cold debug build of rgrpc and rgrpc-build's generator on two shared cores.
const BUILD_LIMIT: Duration = Duration::from_secs(15 * 60);
/// The starter itself serves on 127.0.0.1 and makes five calls.
const RUN_LIMIT: Duration = Duration::from_secs(2 * 60);

#[test]
fn a_copy_of_the_route_guide_starter_builds_and_runs_all_four_rpcs() {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the checkout")
        .to_path_buf();
    let copy = TempDir::new("rgrpc-route-guide", &checkout);
    // Without what a build in place leaves behind.
    rgrpc_dev::copy_tree(
        &checkout.join("examples/route-guide"),
        copy.path(),
        &["target", "Cargo.lock"],
    )
    .expect("copy the starter");
    point_dependencies_at(&copy.path().join("Cargo.toml"), &checkout);
    fs::copy(checkout.join("Cargo.lock"), copy.path().join("Cargo.lock"))
        .expect("copy the workspace's Cargo.lock");

    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("route-guide-target");
    let build = cargo(copy.path(), &target, &["build"], BUILD_LIMIT);
    assert!(
        build.status.success(),
        "the starter's copy failed to build ({}):\n{}",
        build.status,
        build.stderr
    );
    assert!(
        !build.stderr.contains("warning"),
        "the starter builds with warnings:\n{}",
        build.stderr
    );

    let run = cargo(copy.path(), &target, &["run", "--quiet"], RUN_LIMIT);
    assert!(
        run.status.success(),
        "the starter exited with {}:\nstdout:\n{}\nstderr:\n{}",
        run.status,
        run.stdout,
        run.stderr
    );
    for expected in [
        // GetFeature, on a known point and on an empty one.
        "\"Patriots Path, Mendham, NJ 07945, USA\" at (40.7838, -74.6144)",
        "no feature at (0.0000, 0.0000)",
        // ListFeatures: every built-in feature lies in the rectangle.
        "6 features in the rectangle",
        // RecordRoute: all six points, each at a feature.
        "6 points, 6 features",
        // RouteChat: three notes at one place see 0, 1 and 2 earlier ones.
        "earlier note: \"second at the first place\"",
        "3 earlier notes",
        "== all four rpcs done",
    ] {
        assert!(
            run.stdout.contains(expected),
            "the starter's output lacks {expected:?}:\n{}",
            run.stdout
        );
    }
}

/// Rewrites `path = "../../runtime"` and `path = "../../rgrpc-build"` to this checkout.
fn point_dependencies_at(manifest: &Path, checkout: &Path) {
    let mut text = fs::read_to_string(manifest).expect("read the copy's Cargo.toml");
    for (relative, directory) in [
        ("../../runtime", "runtime"),
        ("../../rgrpc-build", "rgrpc-build"),
    ] {
        let from = format!("path = \"{relative}\"");
        assert!(
            text.contains(&from),
            "examples/route-guide/Cargo.toml no longer says {from}; update this test"
        );
        // Debug formatting quotes and escapes the path as a TOML basic string needs.
        let to = format!(
            "path = {:?}",
            checkout.join(directory).display().to_string()
        );
        text = text.replace(&from, &to);
    }
    fs::write(manifest, text).expect("write the copy's Cargo.toml");
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cargo <args>` in `dir` and waits at most `limit`, killing the child (and only it)
/// when the limit passes.
fn cargo(dir: &Path, target: &Path, args: &[&str], limit: Duration) -> Finished {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = rgrpc_dev::run_bounded(
        Command::new(cargo)
            .args(args)
            .current_dir(dir)
            .env("CARGO_TARGET_DIR", target),
        b"",
        limit,
    );
    Finished {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A directory under the system's temporary directory, removed on drop (pass or fail).
///
/// Its name is the same on every run from one checkout, so the copy's own build products
/// are overwritten rather than piling up in the shared target directory; checkouts side by
/// side get different names.
struct TempDir(PathBuf);

impl TempDir {
    fn new(prefix: &str, checkout: &Path) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        checkout.hash(&mut hasher);
        let path = std::env::temp_dir().join(format!("{prefix}-{:016x}", hasher.finish()));
        // A run killed before its cleanup leaves the directory behind.
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("create a temporary directory");
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
