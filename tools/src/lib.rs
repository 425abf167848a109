//! Locates the `protoc` compiler used by rgrpc's Makefiles and tests.
//!
//! Build machines for this project have no system `protoc`, so by default the
//! binary vendored by the `protoc-bin-vendored` crate is used. Setting the
//! `PROTOC` environment variable (to a non-empty value) overrides that choice,
//! matching the convention used by `prost-build`. The well-known types
//! (`google/protobuf/*.proto`) always come from the vendored include directory.
//!
//! Both the `rgrpc-protoc` binary and integration tests (the plugin's golden
//! harness) share this logic so they cannot disagree on which compiler runs.
//!
//! [`process`] runs the tests' child processes with a bound on the wait, and
//! [`files::copy_tree`] copies the trees tests work on.

pub mod files;
pub mod process;

pub use files::copy_tree;
pub use process::run_bounded;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// Environment variable that overrides the vendored `protoc` binary.
pub const PROTOC_ENV: &str = "PROTOC";

/// Path of the `protoc` binary to run.
///
/// Returns the value of `PROTOC` when it is set and non-empty, otherwise the
/// binary vendored by `protoc-bin-vendored` for the current platform.
///
/// # Errors
///
/// Fails when `PROTOC` is unset and no vendored binary exists for this
/// platform.
pub fn protoc_path() -> Result<PathBuf, String> {
    choose_protoc(std::env::var_os(PROTOC_ENV), || {
        protoc_bin_vendored::protoc_bin_path()
            .map_err(|e| format!("cannot locate vendored protoc: {e}"))
    })
}

/// Directory containing the well-known `google/protobuf/*.proto` files.
///
/// Pass it as the *last* `-I` argument so user include directories take
/// precedence.
///
/// # Errors
///
/// Fails when no vendored include directory exists for this platform.
pub fn well_known_include() -> Result<PathBuf, String> {
    protoc_bin_vendored::include_path()
        .map_err(|e| format!("cannot locate vendored protobuf include directory: {e}"))
}

/// A [`Command`] whose program is [`protoc_path`], with no arguments yet.
///
/// Callers add their own arguments and should finish with
/// `-I <well_known_include()>` so the well-known types resolve.
///
/// # Errors
///
/// Propagates the error from [`protoc_path`].
pub fn protoc_command() -> Result<Command, String> {
    protoc_path().map(Command::new)
}

/// Picks `PROTOC` from `env_value` when non-empty, else calls `vendored`.
fn choose_protoc(
    env_value: Option<OsString>,
    vendored: impl FnOnce() -> Result<PathBuf, String>,
) -> Result<PathBuf, String> {
    match env_value {
        Some(value) if !value.is_empty() => Ok(PathBuf::from(value)),
        _ => vendored(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn vendored() -> Result<PathBuf, String> {
        Ok(PathBuf::from("/vendored/protoc"))
    }

    #[test]
    fn env_override_wins_when_non_empty() {
        let chosen = choose_protoc(Some("/usr/bin/protoc".into()), vendored).unwrap();
        assert_eq!(chosen, PathBuf::from("/usr/bin/protoc"));
    }

    #[test]
    fn empty_or_unset_env_uses_vendored() {
        assert_eq!(
            choose_protoc(Some(OsString::new()), vendored).unwrap(),
            vendored().unwrap()
        );
        assert_eq!(choose_protoc(None, vendored).unwrap(), vendored().unwrap());
    }

    #[test]
    fn well_known_types_are_present() {
        let include = well_known_include().unwrap();
        assert!(include.join("google/protobuf/timestamp.proto").is_file());
    }
}
