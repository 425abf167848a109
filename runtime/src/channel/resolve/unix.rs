//! `unix:` targets: one address, the socket's path.

use std::path::PathBuf;

use super::Address;

pub(super) fn addresses(path: PathBuf) -> Vec<Address> {
    vec![Address::Unix(path)]
}
