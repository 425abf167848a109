//! Copying a directory tree for tests that work on a copy (a buf module, the starter crate).

use std::fs;
use std::io;
use std::path::Path;

/// Copies the tree under `from` into `to` (created if missing), leaving out the entries
/// whose name is in `leave_out`, at any depth (a build's `target`, a `Cargo.lock`).
///
/// # Errors
///
/// The first I/O error, naming nothing more than the OS does: callers know what they copy.
pub fn copy_tree(from: &Path, to: &Path, leave_out: &[&str]) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if leave_out.iter().any(|left| name == *left) {
            continue;
        }
        let (source, destination) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&source, &destination, leave_out)?;
        } else {
            fs::copy(&source, &destination)?;
        }
    }
    Ok(())
}
