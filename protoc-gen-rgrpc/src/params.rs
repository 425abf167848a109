//! Plugin parameters: the protoc `--rgrpc_opt` string parsed into typed settings.
//!
//! protoc hands the plugin every `--rgrpc_opt` joined into one string, e.g.
//! `client=false,server=true,runtime_path=::my::rgrpc`. Parsing is strict (unknown keys,
//! duplicates and bad values are errors) because a silently ignored typo such as
//! `sever=false` would generate code the user did not ask for; and it reports every problem
//! at once so a user fixes their build invocation in one round trip.

/// The parameter names the plugin accepts, sorted.
///
/// This list is part of the plugin's documented API: removing or renaming an entry breaks
/// users' build scripts. It is the single source for the "known" list in error messages, and
/// [`Params::parse`] refuses any key not listed here before dispatching on it.
const KNOWN: &[&str] = &["client", "messages", "runtime_path", "server"];

/// Default for [`Params::runtime_path`]: the runtime crate under its published name.
const DEFAULT_RUNTIME_PATH: &str = "::rgrpc";

/// Settings that change what the plugin generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Params {
    /// Generate the async client (`client=false` turns it off). Default true.
    pub(crate) client: bool,
    /// Generate the server trait and service (`server=false`). Default true.
    pub(crate) server: bool,
    /// Generate the prost messages (`messages=false` emits services only, for users who pair
    /// rgrpc with another message generator). Default true.
    pub(crate) messages: bool,
    /// Absolute path of the runtime crate in generated code (`runtime_path=::my_rgrpc`).
    /// Default `::rgrpc`. Always starts with `::` or `crate` and is normalized without
    /// whitespace (`::my::rgrpc`), so emitters can parse it back into a `syn::Path`.
    pub(crate) runtime_path: String,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            client: true,
            server: true,
            messages: true,
            runtime_path: DEFAULT_RUNTIME_PATH.to_owned(),
        }
    }
}

impl Params {
    /// Parse the protoc parameter string, collecting every error rather than stopping at the
    /// first.
    ///
    /// Items are separated by `,` and trimmed; empty items (a trailing comma, `a,,b`) are
    /// ignored. An item is `key=value` or a bare `key`, which sets a boolean key to true.
    /// Whitespace around the key and the value is trimmed too.
    pub(crate) fn parse(s: &str) -> Result<Params, Vec<String>> {
        let mut params = Params::default();
        let mut errors = Vec::new();
        // One flag per KNOWN entry, so each key's duplicate error is reported once.
        let mut seen = [false; KNOWN.len()];
        let mut reported_duplicate = [false; KNOWN.len()];

        for item in s.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((key, value)) => (key.trim(), Some(value.trim())),
                None => (item, None),
            };
            let Some(index) = KNOWN.iter().position(|known| *known == key) else {
                errors.push(unknown(key));
                continue;
            };
            if seen[index] {
                if !reported_duplicate[index] {
                    errors.push(format!("parameter {key:?} given more than once"));
                    reported_duplicate[index] = true;
                }
            } else {
                seen[index] = true;
            }
            if let Err(error) = params.apply(key, value) {
                errors.push(error);
            }
        }

        if errors.is_empty() {
            Ok(params)
        } else {
            Err(errors)
        }
    }

    /// Set one known key. `value` is `None` for a bare key.
    fn apply(&mut self, key: &str, value: Option<&str>) -> Result<(), String> {
        match key {
            "client" => self.client = parse_bool(key, value)?,
            "server" => self.server = parse_bool(key, value)?,
            "messages" => self.messages = parse_bool(key, value)?,
            "runtime_path" => self.runtime_path = parse_runtime_path(key, value)?,
            // Unreachable while KNOWN and this match agree; a test checks they do.
            _ => return Err(unknown(key)),
        }
        Ok(())
    }
}

/// The error for a key not in [`KNOWN`].
fn unknown(key: &str) -> String {
    format!("unknown parameter {key:?} (known: {})", KNOWN.join(", "))
}

/// A boolean value: `true`, `false`, or absent (a bare key means true).
fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "parameter {key:?} expects true or false, got {other:?}"
        )),
    }
}

/// An absolute Rust path, returned normalized (`:: my :: rgrpc` → `::my::rgrpc`).
///
/// Absolute means a leading `::` (an extern crate) or a first segment `crate`, because the
/// generated code is included in arbitrary modules where a relative path would resolve
/// differently. Generic arguments and keyword segments (`self`, `super`, `gen` …) are refused.
fn parse_runtime_path(key: &str, value: Option<&str>) -> Result<String, String> {
    let value = match value {
        None | Some("") => return Err(format!("parameter {key:?} needs a value")),
        Some(value) => value,
    };
    let invalid = || {
        format!("parameter {key:?} expects an absolute Rust path such as ::rgrpc, got {value:?}")
    };
    let path =
        syn::parse::Parser::parse_str(syn::Path::parse_mod_style, value).map_err(|_| invalid())?;
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let starts_with_crate = segments.first().is_some_and(|first| first == "crate");
    // Exactly one of the two anchors: `::crate::x` is as wrong as `x`.
    let absolute = path.leading_colon.is_some() != starts_with_crate;
    let skip = usize::from(starts_with_crate);
    // syn lets through keywords it does not know (2024's `gen`) and `self`/`super`/`crate`
    // anywhere; the naming table knows them all. Raw segments (`r#gen`) print with `r#` and
    // pass.
    let plain = segments
        .iter()
        .skip(skip)
        .all(|segment| !crate::names::is_keyword(segment));
    if !(absolute && plain) {
        return Err(invalid());
    }
    let prefix = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    Ok(format!("{prefix}{}", segments.join("::")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Params {
        Params::parse(s).unwrap_or_else(|errors| panic!("{s:?}: {errors:?}"))
    }

    fn errors(s: &str) -> Vec<String> {
        Params::parse(s).err().unwrap_or_default()
    }

    #[test]
    fn known_is_sorted_and_every_entry_is_handled() {
        assert!(KNOWN.is_sorted(), "KNOWN must stay sorted");
        for key in KNOWN {
            // Every key accepts some value; only the bare form of runtime_path is an error.
            let item = if *key == "runtime_path" {
                "runtime_path=::x".to_owned()
            } else {
                (*key).to_owned()
            };
            assert!(
                Params::parse(&item).is_ok(),
                "{key} is in KNOWN but not handled"
            );
            let mut params = Params::default();
            assert_ne!(
                params.apply(key, Some("")),
                Err(unknown(key)),
                "{key} is in KNOWN but apply() does not handle it"
            );
        }
    }

    #[test]
    fn defaults() {
        let expected = Params {
            client: true,
            server: true,
            messages: true,
            runtime_path: "::rgrpc".to_owned(),
        };
        assert_eq!(Params::default(), expected);
        assert_eq!(ok(""), expected);
        assert_eq!(ok("   "), expected);
        assert_eq!(ok(","), expected);
        assert_eq!(ok(" , ,, "), expected);
    }

    #[test]
    fn each_key() {
        let defaults = Params::default();
        assert_eq!(
            ok("client=false"),
            Params {
                client: false,
                ..defaults.clone()
            }
        );
        assert_eq!(
            ok("server=false"),
            Params {
                server: false,
                ..defaults.clone()
            }
        );
        assert_eq!(
            ok("messages=false"),
            Params {
                messages: false,
                ..defaults.clone()
            }
        );
        assert_eq!(ok("client=true,server=true,messages=true"), defaults);
        assert_eq!(
            ok("runtime_path=::my_rgrpc"),
            Params {
                runtime_path: "::my_rgrpc".to_owned(),
                ..defaults.clone()
            }
        );
    }

    #[test]
    fn all_keys_together() {
        assert_eq!(
            ok("client=false,server=true,messages=false,runtime_path=::my::rgrpc"),
            Params {
                client: false,
                server: true,
                messages: false,
                runtime_path: "::my::rgrpc".to_owned(),
            }
        );
    }

    #[test]
    fn bare_bool_key_means_true() {
        assert_eq!(ok("client"), Params::default());
        assert_eq!(
            ok("client=false,server,messages"),
            Params {
                client: false,
                ..Params::default()
            }
        );
    }

    #[test]
    fn whitespace_and_empty_items() {
        let expected = Params {
            client: false,
            runtime_path: "::my::rgrpc".to_owned(),
            ..Params::default()
        };
        assert_eq!(
            ok(" client = false , runtime_path = ::my::rgrpc "),
            expected
        );
        assert_eq!(ok("client=false,runtime_path=::my::rgrpc,"), expected);
        assert_eq!(ok(",client=false,,runtime_path=::my::rgrpc,,"), expected);
        assert_eq!(ok("client=false,runtime_path=:: my :: rgrpc"), expected);
    }

    #[test]
    fn runtime_path_forms() {
        for (value, expected) in [
            ("::rgrpc", "::rgrpc"),
            ("::my::rgrpc", "::my::rgrpc"),
            ("crate", "crate"),
            ("crate::rgrpc", "crate::rgrpc"),
            ("crate :: vendored :: rgrpc", "crate::vendored::rgrpc"),
            ("::r#async::rgrpc", "::r#async::rgrpc"),
        ] {
            assert_eq!(
                ok(&format!("runtime_path={value}")).runtime_path,
                expected,
                "{value:?}"
            );
        }
    }

    #[test]
    fn unknown_key() {
        assert_eq!(
            errors("foo"),
            [r#"unknown parameter "foo" (known: client, messages, runtime_path, server)"#]
        );
        assert_eq!(
            errors("foo=1"),
            [r#"unknown parameter "foo" (known: client, messages, runtime_path, server)"#]
        );
        assert_eq!(
            errors("Client=false"),
            [r#"unknown parameter "Client" (known: client, messages, runtime_path, server)"#]
        );
        assert_eq!(
            errors("=true"),
            [r#"unknown parameter "" (known: client, messages, runtime_path, server)"#]
        );
    }

    #[test]
    fn invalid_bool() {
        for (input, got) in [
            ("client=yes", "yes"),
            ("client=", ""),
            ("client=TRUE", "TRUE"),
            ("client=1", "1"),
            ("client=true=false", "true=false"),
        ] {
            assert_eq!(
                errors(input),
                [format!(
                    r#"parameter "client" expects true or false, got "{got}""#
                )],
                "{input:?}"
            );
        }
        assert_eq!(
            errors("server=no"),
            [r#"parameter "server" expects true or false, got "no""#]
        );
        assert_eq!(
            errors("messages=off"),
            [r#"parameter "messages" expects true or false, got "off""#]
        );
    }

    #[test]
    fn duplicate_key() {
        assert_eq!(
            errors("client,client=false"),
            [r#"parameter "client" given more than once"#]
        );
        // Reported once per key however many repeats, even when the values agree.
        assert_eq!(
            errors("client=true,client=true,client=true"),
            [r#"parameter "client" given more than once"#]
        );
        assert_eq!(
            errors("runtime_path=::a,runtime_path=::a"),
            [r#"parameter "runtime_path" given more than once"#]
        );
    }

    #[test]
    fn invalid_runtime_path() {
        for value in [
            "not a path",
            "rgrpc",
            "my::rgrpc",
            "::",
            "::rgrpc::",
            "::rgrpc<T>",
            "::Vec::<u8>",
            "crate::crate",
            "::crate",
            "self::rgrpc",
            "super::rgrpc",
            "::self",
            "$crate::rgrpc",
            "::type",
            "::gen::rgrpc",
            "::async",
            "::_",
            "::extern",
            "::1abc",
            "\"::rgrpc\"",
        ] {
            assert_eq!(
                errors(&format!("runtime_path={value}")),
                [format!(
                    "parameter \"runtime_path\" expects an absolute Rust path such as ::rgrpc, got {value:?}"
                )],
                "{value:?}"
            );
        }
    }

    #[test]
    fn runtime_path_needs_value() {
        assert_eq!(
            errors("runtime_path"),
            [r#"parameter "runtime_path" needs a value"#]
        );
        assert_eq!(
            errors("runtime_path="),
            [r#"parameter "runtime_path" needs a value"#]
        );
        assert_eq!(
            errors("runtime_path = "),
            [r#"parameter "runtime_path" needs a value"#]
        );
    }

    #[test]
    fn all_errors_collected_in_input_order() {
        assert_eq!(
            errors("foo,client=yes,server=false,client,runtime_path=not a path,bar=1,runtime_path"),
            [
                r#"unknown parameter "foo" (known: client, messages, runtime_path, server)"#,
                r#"parameter "client" expects true or false, got "yes""#,
                r#"parameter "client" given more than once"#,
                r#"parameter "runtime_path" expects an absolute Rust path such as ::rgrpc, got "not a path""#,
                r#"unknown parameter "bar" (known: client, messages, runtime_path, server)"#,
                r#"parameter "runtime_path" given more than once"#,
                r#"parameter "runtime_path" needs a value"#,
            ]
        );
    }
}
