//! Deadlines: the instant a call must be over by, how two of them combine ([`earliest`]),
//! and how a timeout travels in a request header, one [`TimeoutHeader`] per wire protocol.
//!
//! gRPC's header is [`GRPC_TIMEOUT`]: 1–8 ASCII digits followed by a unit: `H`ours,
//! `M`inutes, `S`econds, `m`illiseconds, `u` microseconds, `n`anoseconds (gRPC over
//! HTTP/2, "Timeout"). Another protocol adds its own constant here (Connect's would be
//! `connect-timeout-ms`, whole milliseconds) and the reading, merging and enforcing stay
//! the same.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::time::Instant;

use super::status;

/// The instant a call's deadline passes, and the timeout it came from (for the message).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: Duration,
}

impl Deadline {
    /// The deadline of a call starting `now` with a `timeout` and/or a `deadline`: the
    /// earlier of the two. A timeout too long to be an `Instant` (`Duration::MAX`) is no
    /// deadline at all.
    pub(crate) fn of_call(
        now: Instant,
        timeout: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Option<Self> {
        let timeout_at = timeout.and_then(|timeout| now.checked_add(timeout));
        let at = match (timeout_at, deadline) {
            (None, None) => return None,
            (Some(at), None) | (None, Some(at)) => at,
            (Some(timeout_at), Some(deadline)) => earliest(Some(timeout_at), deadline),
        };
        Some(Deadline {
            at,
            timeout: at.saturating_duration_since(now),
        })
    }

    /// The status of a call still running when this deadline passed.
    pub(crate) fn exceeded(&self) -> tonic::Status {
        status::deadline_exceeded(self.timeout)
    }
}

/// The earlier of `current` (if any) and `other`: deadlines only ever tighten, whichever
/// option, propagated call or header set them.
pub(crate) fn earliest<T: Ord>(current: Option<T>, other: T) -> T {
    match current {
        Some(current) => current.min(other),
        None => other,
    }
}

/// The instant a call that arrived at `arrived` with `timeout` must be over by; `None` for
/// a timeout too far away to be an `Instant` (8 digits of hours is 11,000 years), which is
/// no deadline at all. (The server keeps std's `Instant`, which `Context::deadline` returns.)
pub(crate) fn after(arrived: std::time::Instant, timeout: Duration) -> Option<std::time::Instant> {
    arrived.checked_add(timeout)
}

/// How one wire protocol writes a call's timeout into a request header and reads it back.
pub(crate) struct TimeoutHeader {
    /// The header's name.
    pub(crate) name: HeaderName,
    /// The value for `timeout`, in the protocol's units (rounded down, never past the
    /// deadline).
    pub(crate) encode: fn(Duration) -> HeaderValue,
    /// The timeout a value says, `None` if it is malformed.
    pub(crate) decode: fn(&[u8]) -> Option<Duration>,
    /// What a well-formed value looks like, for the status refusing a malformed one.
    pub(crate) format: &'static str,
}

/// gRPC's `grpc-timeout`.
pub(crate) const GRPC_TIMEOUT: TimeoutHeader = TimeoutHeader {
    // A `HeaderName` constant: looking up by `&str` would parse the name on every call.
    name: HeaderName::from_static("grpc-timeout"),
    encode: encode_grpc_timeout,
    decode: decode_grpc_timeout,
    format: "1 to 8 digits and a unit (H, M, S, m, u, n)",
};

/// Connect's `connect-timeout-ms`: milliseconds, at most 10 digits.
pub(crate) const CONNECT_TIMEOUT: TimeoutHeader = TimeoutHeader {
    name: HeaderName::from_static("connect-timeout-ms"),
    encode: encode_connect_timeout,
    decode: decode_connect_timeout,
    format: "1 to 10 digits, in milliseconds",
};

/// What a request's timeout header said: nothing, a timeout, or something unreadable.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Absent,
    Timeout(Duration),
    Malformed(String),
}

impl TimeoutHeader {
    /// Reads this header from a request's headers.
    pub(crate) fn read(&self, headers: &HeaderMap) -> Parsed {
        let Some(value) = headers.get(&self.name) else {
            return Parsed::Absent;
        };
        match (self.decode)(value.as_bytes()) {
            Some(timeout) => Parsed::Timeout(timeout),
            None => Parsed::Malformed(format!(
                "malformed {} {:?}: expected {}",
                self.name,
                String::from_utf8_lossy(value.as_bytes()),
                self.format
            )),
        }
    }

    /// Writes `timeout` into a request's headers, replacing any value there.
    pub(crate) fn write(&self, headers: &mut HeaderMap, timeout: Duration) {
        headers.insert(self.name.clone(), (self.encode)(timeout));
    }
}

/// The most precise unit that keeps the value within 8 digits, as tonic's
/// `Request::set_timeout` chose it (the same bytes on the wire as before this was ours).
/// Past 99,999,999 hours (11,000 years) the value saturates rather than failing.
fn encode_grpc_timeout(timeout: Duration) -> HeaderValue {
    const MAX: u128 = 99_999_999;
    let secs = u128::from(timeout.as_secs());
    let (amount, unit) = [
        (timeout.as_nanos(), 'n'),
        (timeout.as_micros(), 'u'),
        (timeout.as_millis(), 'm'),
        (secs, 'S'),
        (secs / 60, 'M'),
        (secs / 3600, 'H'),
    ]
    .into_iter()
    .find(|&(amount, _)| amount <= MAX)
    .unwrap_or((MAX, 'H'));
    let value = format!("{amount}{unit}");
    // Digits and an ASCII letter are always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("99999999H"))
}

/// Milliseconds, rounded down, saturating at 10 digits (about 115 days).
fn encode_connect_timeout(timeout: Duration) -> HeaderValue {
    HeaderValue::from(timeout.as_millis().min(9_999_999_999) as u64)
}

fn decode_connect_timeout(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let millis: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    Some(Duration::from_millis(millis))
}

fn decode_grpc_timeout(value: &[u8]) -> Option<Duration> {
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

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
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
            assert_eq!(
                GRPC_TIMEOUT.read(&headers(value)),
                Parsed::Timeout(expected),
                "{value}"
            );
        }
    }

    #[test]
    fn connect_timeouts_are_milliseconds_of_up_to_ten_digits() {
        let mut headers = HeaderMap::new();
        headers.insert("connect-timeout-ms", HeaderValue::from_static("1500"));
        assert_eq!(
            CONNECT_TIMEOUT.read(&headers),
            Parsed::Timeout(Duration::from_millis(1500))
        );
        for bad in ["", "12345678901", "1.5", "-1", "1s"] {
            headers.insert("connect-timeout-ms", HeaderValue::from_str(bad).unwrap());
            assert!(
                matches!(CONNECT_TIMEOUT.read(&headers), Parsed::Malformed(_)),
                "{bad:?}"
            );
        }
        assert_eq!(encode_connect_timeout(Duration::from_micros(2500)), "2");
    }

    #[test]
    fn absent_is_no_deadline() {
        assert_eq!(GRPC_TIMEOUT.read(&HeaderMap::new()), Parsed::Absent);
    }

    #[test]
    fn malformed_values_are_reported() {
        for value in ["", "S", "100", "123456789S", "10x", "-1S", "1.5S", " 1S"] {
            let parsed = GRPC_TIMEOUT.read(&headers(value));
            assert!(
                matches!(parsed, Parsed::Malformed(_)),
                "{value:?} gave {parsed:?}"
            );
        }
    }

    #[test]
    fn written_as_tonic_wrote_it() {
        for timeout in [
            Duration::ZERO,
            Duration::from_nanos(99_999_999),
            Duration::from_nanos(100_000_000),
            Duration::from_millis(500),
            Duration::from_secs(30),
            Duration::from_secs(3600),
            Duration::from_secs(100_000_000),
            Duration::from_secs(99_999_999 * 60),
            Duration::from_secs(100_000_000 * 60),
        ] {
            let mut ours = HeaderMap::new();
            GRPC_TIMEOUT.write(&mut ours, timeout);
            let mut request = tonic::Request::new(());
            request.set_timeout(timeout);
            let tonics = request.metadata().clone().into_headers();
            assert_eq!(
                ours.get(&GRPC_TIMEOUT.name),
                tonics.get("grpc-timeout"),
                "{timeout:?}"
            );
        }
    }

    #[test]
    fn written_values_read_back() {
        for timeout in [Duration::from_millis(1500), Duration::from_secs(86_400)] {
            let mut headers = HeaderMap::new();
            GRPC_TIMEOUT.write(&mut headers, timeout);
            assert_eq!(GRPC_TIMEOUT.read(&headers), Parsed::Timeout(timeout));
        }
    }

    #[test]
    fn the_earlier_deadline_applies() {
        let now = Instant::now();
        let soon = now + Duration::from_secs(1);
        let later = now + Duration::from_secs(5);
        assert_eq!(earliest(Some(later), soon), soon);
        assert_eq!(earliest(None, later), later);
        let deadline = Deadline::of_call(now, Some(Duration::from_secs(5)), Some(soon));
        assert_eq!(deadline.map(|d| d.at), Some(soon));
        assert!(Deadline::of_call(now, Some(Duration::MAX), None).is_none());
        assert!(Deadline::of_call(now, None, None).is_none());
    }
}
