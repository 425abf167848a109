//! A static list of replicas ([`Channel::balance`](crate::Channel::balance)): each URI's
//! `host:port`, resolved by the OS at each connection.

use super::Address;

/// The address of each of `uris` (`http://host:port`, port 80 or 443 by scheme when omitted).
pub(crate) fn from_uris<'a>(uris: impl IntoIterator<Item = &'a http::Uri>) -> Vec<Address> {
    uris.into_iter()
        .filter_map(|uri| {
            let host = uri.host()?;
            let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
                Some("https") => 443,
                _ => 80,
            });
            Some(Address::Named(format!("{host}:{port}")))
        })
        .collect()
}
