//! Reading a service config's JSON value by value, each read knowing its JSON path, so
//! that every error names the field it is about (`methodConfig[0].timeout: …`).

use std::time::Duration;

use serde_json::{Map, Value};
use tonic::Code;

use super::ServiceConfigError;

/// A JSON value and its path in the document.
pub(super) struct At<'a> {
    pub(super) value: &'a Value,
    path: String,
}

impl<'a> At<'a> {
    pub(super) fn root(value: &'a Value) -> Self {
        Self {
            value,
            path: String::new(),
        }
    }

    /// The field `name` of this object, or `None` when absent or `null` (proto JSON's
    /// "not set").
    pub(super) fn field(&self, name: &str) -> Option<At<'a>> {
        let value = self.value.get(name).filter(|value| !value.is_null())?;
        let path = if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        };
        Some(At { value, path })
    }

    /// Each element of this array, with its path.
    pub(super) fn elements(&self) -> Result<Vec<At<'a>>, ServiceConfigError> {
        Ok(self
            .array()?
            .iter()
            .enumerate()
            .map(|(index, value)| At {
                value,
                path: format!("{}[{index}]", self.path),
            })
            .collect())
    }

    /// An error about this value.
    pub(super) fn error(&self, message: impl Into<String>) -> ServiceConfigError {
        ServiceConfigError::at(self.path.clone(), message)
    }

    pub(super) fn object(&self) -> Result<&'a Map<String, Value>, ServiceConfigError> {
        self.value
            .as_object()
            .ok_or_else(|| self.error(format!("must be an object, got {}", kind(self.value))))
    }

    pub(super) fn array(&self) -> Result<&'a Vec<Value>, ServiceConfigError> {
        self.value
            .as_array()
            .ok_or_else(|| self.error(format!("must be an array, got {}", kind(self.value))))
    }

    pub(super) fn string(&self) -> Result<&'a str, ServiceConfigError> {
        self.value
            .as_str()
            .ok_or_else(|| self.error(format!("must be a string, got {}", kind(self.value))))
    }

    pub(super) fn bool(&self) -> Result<bool, ServiceConfigError> {
        self.value
            .as_bool()
            .ok_or_else(|| self.error(format!("must be true or false, got {}", kind(self.value))))
    }

    pub(super) fn number(&self) -> Result<f64, ServiceConfigError> {
        self.value
            .as_f64()
            .ok_or_else(|| self.error(format!("must be a number, got {}", kind(self.value))))
    }

    /// A non-negative integer: a JSON number, or a string of digits (proto JSON writes
    /// 64-bit integers as strings).
    pub(super) fn unsigned(&self) -> Result<u64, ServiceConfigError> {
        let parsed = match self.value {
            Value::Number(number) => number.as_u64(),
            Value::String(text) => text.parse::<u64>().ok(),
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.error(format!(
                "must be a non-negative integer, got {}",
                shown(self.value)
            ))
        })
    }

    /// A proto JSON duration: `"1.5s"`, `"0.000100s"`, `"20s"`.
    pub(super) fn duration(&self) -> Result<Duration, ServiceConfigError> {
        let text = self.string()?;
        parse_duration(text).ok_or_else(|| {
            self.error(format!(
                "must be a non-negative duration in seconds such as \"1.5s\", got {text:?}"
            ))
        })
    }

    /// A status code by name (`"UNAVAILABLE"`) or number (`14`).
    pub(super) fn code(&self) -> Result<Code, ServiceConfigError> {
        let code = match self.value {
            Value::String(name) => code_named(name),
            Value::Number(number) => number
                .as_u64()
                .filter(|n| *n <= 16)
                .and_then(|n| i32::try_from(n).ok())
                .map(Code::from_i32),
            _ => None,
        };
        code.ok_or_else(|| {
            self.error(format!(
                "must be a status code name such as \"UNAVAILABLE\" or a number 0-16, got {}",
                shown(self.value)
            ))
        })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The value as JSON, shortened, for an error message.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// Parses proto JSON's duration form: decimal seconds with at most 9 fractional digits and
/// an `s` suffix. Negative durations are refused (no service config field takes one).
fn parse_duration(text: &str) -> Option<Duration> {
    let seconds = text.strip_suffix('s')?;
    let (whole, fraction) = match seconds.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (seconds, ""),
    };
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || fraction.len() > 9 {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    // proto's Duration allows at most 315,576,000,000 s (10,000 years).
    if whole > 315_576_000_000 {
        return None;
    }
    let nanos = if fraction.is_empty() {
        0
    } else {
        let scale = 10u32.pow(9 - u32::try_from(fraction.len()).ok()?);
        fraction.parse::<u32>().ok()? * scale
    };
    Some(Duration::new(whole, nanos))
}

/// A status code by its canonical name, as service configs spell them.
fn code_named(name: &str) -> Option<Code> {
    crate::call::status::CANONICAL_NAMES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_proto_json_form() {
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_duration("0.000100s"),
            Some(Duration::from_micros(100))
        );
        assert_eq!(parse_duration("20s"), Some(Duration::from_secs(20)));
        assert_eq!(parse_duration(".5s"), Some(Duration::from_millis(500)));
        for bad in [
            "",
            "s",
            "1",
            "1.5",
            "-1s",
            "1.0000000001s",
            "1ms",
            "a s",
            "1e3s",
            ".s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
