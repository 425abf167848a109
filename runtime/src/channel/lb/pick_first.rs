//! gRPC's default policy: the first address that connects takes every call; when it
//! fails, the next one in the resolver's order is tried.

use super::subchannel::{Pickable, Subchannel};
use super::{Pick, none_ready};
use crate::channel::resolve::Address;

/// Connects to one address at a time: the first that is not known to fail.
pub(super) fn request_connections(subchannels: &[Subchannel]) {
    for subchannel in subchannels {
        match subchannel.pickable() {
            Pickable::Failed => continue,
            Pickable::Idle => subchannel.request_connection(),
            Pickable::Connecting | Pickable::Ready(_) => {}
        }
        return;
    }
}

/// The selected subchannel while it is ready; otherwise the first ready one, which becomes
/// the selected one.
pub(super) fn pick(subchannels: &[Subchannel], selected: &mut Option<Address>) -> Pick {
    let ready = |subchannel: &Subchannel| match subchannel.pickable() {
        Pickable::Ready(picked) => Some(picked),
        _ => None,
    };
    if let Some(sender) = subchannels
        .iter()
        .find(|subchannel| Some(subchannel.address()) == selected.as_ref())
        .and_then(ready)
    {
        return Pick::Ready(sender);
    }
    for subchannel in subchannels {
        if let Some(sender) = ready(subchannel) {
            *selected = Some(subchannel.address().clone());
            return Pick::Ready(sender);
        }
    }
    none_ready(subchannels)
}
