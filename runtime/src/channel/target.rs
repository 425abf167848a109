//! What a channel's target string names (gRPC's naming doc): `dns:` and `unix:` targets the
//! channel resolves and balances itself, or an `http://`/`https://` URI for tonic's channel.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The port of a `dns:` target that names none, as gRPC's.
pub(crate) const DEFAULT_PORT: u16 = 443;
/// The port of a DNS server named without one.
const DNS_PORT: u16 = 53;

/// A parsed target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// An `http://` or `https://` URI (or anything else tonic's endpoint judges).
    Uri,
    /// `dns:[//server/]host[:port]`.
    Dns(DnsTarget),
    /// `unix:path` or `unix:///absolute/path`.
    Unix(PathBuf),
}

/// A name to look up in DNS, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DnsTarget {
    /// The DNS server to ask; `None`: the system's (`/etc/resolv.conf`).
    pub(crate) server: Option<SocketAddr>,
    pub(crate) host: String,
    pub(crate) port: u16,
}

impl DnsTarget {
    /// `host:port` as the requests' `:authority` (brackets around an IPv6 address).
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What is wrong with a target.
#[derive(Debug)]
pub(crate) struct TargetError(String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetError {}

fn bad(problem: impl Into<String>) -> TargetError {
    TargetError(problem.into())
}

impl Target {
    /// Parses `target`. Only the `dns:` and `unix:` schemes are judged here; everything
    /// else is left to tonic's URI parsing, as before.
    pub(crate) fn parse(target: &str) -> Result<Self, TargetError> {
        if let Some(rest) = strip_scheme(target, "dns") {
            return parse_dns(rest).map(Target::Dns);
        }
        if let Some(rest) = strip_scheme(target, "unix") {
            return parse_unix(rest).map(Target::Unix);
        }
        Ok(Target::Uri)
    }
}

/// `target` after `scheme:` (case-insensitive), if it has that scheme.
fn strip_scheme<'a>(target: &'a str, scheme: &str) -> Option<&'a str> {
    let (head, rest) = target.split_at_checked(scheme.len() + 1)?;
    let (name, colon) = head.split_at(scheme.len());
    (name.eq_ignore_ascii_case(scheme) && colon == ":").then_some(rest)
}

fn parse_dns(rest: &str) -> Result<DnsTarget, TargetError> {
    let (server, name) = match rest.strip_prefix("//") {
        Some(after) => {
            let Some((authority, name)) = after.split_once('/') else {
                return Err(bad(
                    "a dns target with an authority needs a name after it: dns://[server]/host:port",
                ));
            };
            let server = if authority.is_empty() {
                None
            } else {
                Some(parse_dns_server(authority)?)
            };
            (server, name)
        }
        None => (None, rest),
    };
    let (host, port) = split_host_port(name)?;
    Ok(DnsTarget { server, host, port })
}

/// The DNS server of `dns://server/…`: an IP address, with an optional port (53).
fn parse_dns_server(authority: &str) -> Result<SocketAddr, TargetError> {
    if let Ok(addr) = authority.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let ip = authority.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
        .map_err(|_| {
            bad(format!(
                "the DNS server {authority:?} is not an IP address with an optional port \
                 (e.g. 10.0.0.2:53)"
            ))
        })
}

/// `host[:port]`, `[v6]:port` or a bare IPv6 address; the port is 443 when omitted.
fn split_host_port(name: &str) -> Result<(String, u16), TargetError> {
    if name.is_empty() {
        return Err(bad("the dns target names no host"));
    }
    let (host, port) = if let Some(bracketed) = name.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(bad(format!(
                "{name:?} opens an IPv6 bracket but never closes it"
            )));
        };
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(bad(format!("{name:?} has text after its IPv6 address"))),
            },
        }
    } else if name.matches(':').count() > 1 {
        // A bare IPv6 address.
        (name, None)
    } else {
        match name.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (name, None),
        }
    };
    if host.is_empty() {
        return Err(bad(format!("{name:?} names no host")));
    }
    if host.contains('/') {
        return Err(bad(format!("the host {host:?} contains a '/'")));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some("") => return Err(bad(format!("{name:?} ends with ':' but names no port"))),
        Some(port) => port.parse::<u16>().map_err(|_| {
            bad(format!(
                "the port {port:?} of {name:?} is not a number below 65536"
            ))
        })?,
    };
    Ok((host.to_owned(), port))
}

fn parse_unix(rest: &str) -> Result<PathBuf, TargetError> {
    let path = match rest.strip_prefix("//") {
        // unix:///abs/path: the authority must be empty.
        Some(after) => {
            if !after.starts_with('/') {
                return Err(bad(
                    "a unix target takes no authority: write unix:///absolute/path or unix:path",
                ));
            }
            after
        }
        None => rest,
    };
    if path.is_empty() {
        return Err(bad("the unix target names no socket path"));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(target: &str) -> DnsTarget {
        match Target::parse(target).unwrap() {
            Target::Dns(dns) => dns,
            other => panic!("{target}: {other:?}"),
        }
    }

    #[test]
    fn dns_targets() {
        let plain = dns("dns:///fleet.test:50051");
        assert_eq!(
            (plain.server, plain.host.as_str(), plain.port),
            (None, "fleet.test", 50051)
        );
        assert_eq!(dns("dns:///fleet.test").port, DEFAULT_PORT);
        assert_eq!(dns("dns:fleet.test:7").authority(), "fleet.test:7");
        let asked = dns("dns://10.1.0.1:5353/fleet.test:80");
        assert_eq!(asked.server, Some("10.1.0.1:5353".parse().unwrap()));
        assert_eq!(
            dns("dns://10.1.0.1/x:1").server,
            Some("10.1.0.1:53".parse().unwrap())
        );
        let v6 = dns("dns:///[::1]:9");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9));
        assert_eq!(v6.authority(), "[::1]:9");
        assert_eq!(dns("dns:///::1").port, DEFAULT_PORT);
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        for (target, problem) in [
            ("dns:///", "names no host"),
            ("dns:///host:", "names no port"),
            ("dns:///host:99999", "not a number below 65536"),
            ("dns://not-an-ip/host:1", "not an IP address"),
            ("dns://10.0.0.1", "needs a name after it"),
            ("dns:///[::1:80", "never closes"),
            ("unix:", "names no socket path"),
            ("unix://host/path", "takes no authority"),
        ] {
            let error = Target::parse(target).unwrap_err().to_string();
            assert!(error.contains(problem), "{target}: {error}");
        }
    }

    #[test]
    fn unix_and_uri_targets() {
        assert_eq!(
            Target::parse("unix:/tmp/s").unwrap(),
            Target::Unix("/tmp/s".into())
        );
        assert_eq!(
            Target::parse("unix:///tmp/s").unwrap(),
            Target::Unix("/tmp/s".into())
        );
        assert_eq!(
            Target::parse("unix:rel/s").unwrap(),
            Target::Unix("rel/s".into())
        );
        assert_eq!(Target::parse("http://127.0.0.1:1").unwrap(), Target::Uri);
        assert_eq!(Target::parse("https://x").unwrap(), Target::Uri);
    }
}
