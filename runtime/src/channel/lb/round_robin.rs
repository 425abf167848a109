//! `round_robin`: every address is kept connected, and each call goes to the next ready
//! one in turn.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::subchannel::{Pickable, Subchannel};
use super::{Pick, none_ready};

/// Connects every idle subchannel (at start, and again after a connection ended).
pub(super) fn request_connections(subchannels: &[Subchannel]) {
    for subchannel in subchannels {
        subchannel.request_connection();
    }
}

/// The next ready subchannel after the last pick. Counting only the ready ones keeps the
/// turns even while one is down, instead of giving its turns to the one after it.
pub(super) fn pick(subchannels: &[Subchannel], next: &AtomicUsize) -> Pick {
    let ready: Vec<_> = subchannels
        .iter()
        .filter_map(|subchannel| match subchannel.pickable() {
            Pickable::Ready(picked) => Some(picked),
            _ => None,
        })
        .collect();
    if ready.is_empty() {
        return none_ready(subchannels);
    }
    let turn = next.fetch_add(1, Ordering::Relaxed) % ready.len();
    ready
        .into_iter()
        .nth(turn)
        .map_or_else(|| none_ready(subchannels), Pick::Ready)
}
