//! The `grpc-timeout` header: how a deadline travels from client to server.
//!
//! The wire format is 1–8 ASCII digits followed by a unit: `H`ours, `M`inutes, `S`econds,
//! `m`illiseconds, `u` microseconds, `n`anoseconds (gRPC over HTTP/2, "Timeout").

use std::time::Duration;

/// What `grpc-timeout` said: nothing, a timeout, or something unreadable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Absent,
    Timeout(Duration),
    Malformed(String),
}

/// Reads the `grpc-timeout` header of a request.
pub(crate) fn parse(headers: &http::HeaderMap) -> Parsed {
    // A `HeaderName` constant: looking up by `&str` would parse the name on every call.
    const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");
    let Some(value) = headers.get(&GRPC_TIMEOUT) else {
        return Parsed::Absent;
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    match parse_value(value.as_bytes()) {
        Some(timeout) => Parsed::Timeout(timeout),
        None => Parsed::Malformed(format!(
            "malformed grpc-timeout {text:?}: expected 1 to 8 digits and a unit (H, M, S, m, u, n)"
        )),
    }
}

fn parse_value(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-timeout", value.parse().expect("valid header value"));
        headers
    }

    #[test]
    fn every_unit() {
        for (value, expected) in [
            ("2H", Duration::from_secs(7200)),
            ("3M", Duration::from_secs(180)),
            ("4S", Duration::from_secs(4)),
            ("100m", Duration::from_millis(100)),
            ("7u", Duration::from_micros(7)),
            ("99999999n", Duration::from_nanos(99_999_999)),
        ] {
            assert_eq!(parse(&headers(value)), Parsed::Timeout(expected), "{value}");
        }
    }

    #[test]
    fn absent_is_no_deadline() {
        assert_eq!(parse(&http::HeaderMap::new()), Parsed::Absent);
    }

    #[test]
    fn malformed_values_are_reported() {
        for value in ["", "S", "100", "123456789S", "10x", "-1S", "1.5S", " 1S"] {
            let parsed = parse(&headers(value));
            assert!(
                matches!(parsed, Parsed::Malformed(_)),
                "{value:?} gave {parsed:?}"
            );
        }
    }
}
