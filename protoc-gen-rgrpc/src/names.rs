//! Rust identifiers for proto names: case conversion and keyword escaping, agreeing with prost-build.
//!
//! Generated services refer to messages, enums and fields that prost-build names, so every
//! identifier the plugin derives from a proto name must be spelled exactly as prost-build
//! spells it (`prost-build/src/ident.rs`, 0.14). This module is the only place that knows
//! those rules; emitters never call heck or format `r#` themselves.
//!
//! prost-build's escaping has three shapes, all reproduced here:
//!
//! * most keywords become raw identifiers: `type` → `r#type`;
//! * `self`, `super`, `crate`, `Self`, `extern` and `_` get a trailing underscore instead:
//!   `self` → `self_` (note `extern` is here even though `r#extern` would be legal Rust);
//! * a name starting with a numeric character gets a leading underscore: `1abc` → `_1abc`.

use heck::{ToSnakeCase, ToUpperCamelCase};

use crate::error;

/// Keywords prost-build escapes as raw identifiers (`type` → `r#type`).
///
/// Copied in prost-build's order: 2015 strict, 2018 strict, 2015 reserved, 2018 reserved,
/// 2024 reserved. Weak keywords (`union`, `raw`, `safe`, `macro_rules`) are ordinary
/// identifiers and deliberately absent, as in prost-build.
#[rustfmt::skip] // keep prost-build's grouping by edition
const RAW_KEYWORDS: &[&str] = &[
    // 2015 strict keywords.
    "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct",
    "trait", "true", "type", "unsafe", "use", "where", "while",
    // 2018 strict keywords.
    "dyn",
    // 2015 reserved keywords.
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield",
    // 2018 reserved keywords.
    "async", "await", "try",
    // 2024 reserved keywords.
    "gen",
];

/// Keywords prost-build escapes with a trailing underscore (`self` → `self_`).
///
/// All but `extern` cannot be raw identifiers (`Ident::new_raw` panics on them); prost-build
/// treats `extern` the same way, and so must we to name the same fields.
const SUFFIX_KEYWORDS: &[&str] = &["_", "super", "self", "Self", "extern", "crate"];

/// snake_case, exactly like prost-build's `to_snake`: heck's `to_snake_case`, then [`sanitize`].
///
/// Used for field, method and module names.
pub(crate) fn to_snake(s: &str) -> String {
    sanitize(&s.to_snake_case())
}

/// UpperCamelCase, exactly like prost-build's `to_upper_camel`: heck's `to_upper_camel_case`,
/// then [`sanitize`].
///
/// Used for message, enum, service and trait names.
pub(crate) fn to_upper_camel(s: &str) -> String {
    sanitize(&s.to_upper_camel_case())
}

/// Escape a candidate identifier exactly like prost-build 0.14's `sanitize_identifier`.
///
/// Raw-escapable keywords become `r#kw`, the [`SUFFIX_KEYWORDS`] become `kw_`, and a string
/// whose first character is numeric (Unicode `char::is_numeric`, as in prost-build) gets a
/// leading `_`. Anything else, including the empty string, is returned unchanged: this
/// function escapes, it does not validate (see [`ident`]).
pub(crate) fn sanitize(s: &str) -> String {
    if RAW_KEYWORDS.contains(&s) {
        format!("r#{s}")
    } else if SUFFIX_KEYWORDS.contains(&s) {
        format!("{s}_")
    } else if s.starts_with(|c: char| c.is_numeric()) {
        format!("_{s}")
    } else {
        s.to_owned()
    }
}

/// Is `s` (a case-converted but unescaped name) a keyword that [`sanitize`] would escape?
///
/// Covers both escaping styles (`type` and `self` are keywords). A leading digit is not a
/// keyword, although `sanitize` changes such names too.
pub(crate) fn is_keyword(s: &str) -> bool {
    RAW_KEYWORDS.contains(&s) || SUFFIX_KEYWORDS.contains(&s)
}

/// Undo [`sanitize`] on a name produced by [`to_snake`] or [`to_upper_camel`].
///
/// The inverse is unambiguous on those outputs: heck strips leading and trailing underscores
/// and camel case has none, so a trailing `_` after a suffix keyword or a leading `_` before
/// a numeric character can only have been added by `sanitize`.
pub(crate) fn unescape(s: &str) -> &str {
    if let Some(raw) = s.strip_prefix("r#") {
        return raw;
    }
    if let Some(kw) = s.strip_suffix('_')
        && SUFFIX_KEYWORDS.contains(&kw)
    {
        return kw;
    }
    if let Some(rest) = s.strip_prefix('_')
        && rest.starts_with(|c: char| c.is_numeric())
    {
        return rest;
    }
    s
}

/// A new name built from an already-converted `base` plus a literal `suffix`, escaped again.
///
/// `base` is the output of [`to_snake`] or [`to_upper_camel`] (the form the
/// model stores); `suffix` is appended verbatim, so it must already be in the target case
/// (`"_client"` for snake, `"Client"` for camel). The escape on `base` is removed first so it
/// does not leak into the middle of the new name, and the result is sanitized as a whole:
///
/// * `derived("r#type", "_client")` → `type_client` (not `r#type_client`);
/// * `derived("self_", "_server")` → `self_server` (not `self__server`);
/// * `derived("Self_", "Client")` → `SelfClient`;
/// * `derived("_1abc", "_client")` → `_1abc_client`.
///
/// Appending literally rather than re-running case conversion over `base + suffix` keeps
/// word boundaries stable (heck could otherwise re-split around digits or acronyms).
pub(crate) fn derived(base: &str, suffix: &str) -> String {
    sanitize(&format!("{}{suffix}", unescape(base)))
}

/// Build a [`struct@syn::Ident`] from a name produced by the functions above.
///
/// Accepts plain identifiers and raw identifiers (`r#type`). Never panics: returns an error
/// naming the input if it is not exactly one valid identifier token, if it is an unescaped
/// keyword (`type`, `self`, `_`; checked against our table, since syn does not know 2024's
/// `gen`), or if it is a raw form Rust forbids (`r#self`, `r#crate`, `r#_` …).
pub(crate) fn ident(s: &str) -> Result<syn::Ident, String> {
    use syn::ext::IdentExt as _;

    let (raw, name) = match s.strip_prefix("r#") {
        Some(name) => (true, name),
        None => (false, s),
    };
    if raw && matches!(name, "_" | "super" | "self" | "Self" | "crate") {
        return Err(error::ident::raw_forbidden(s, name));
    }
    if !raw && is_keyword(name) {
        return Err(error::ident::keyword(s, &sanitize(name)));
    }
    // `parse_any` accepts keywords and raw identifiers; the lexer never panics. Comparing the
    // printed token with the input rejects anything lexed differently than written
    // (surrounding whitespace, comments, a nested `r#`).
    match syn::parse::Parser::parse_str(syn::Ident::parse_any, s) {
        Ok(id) if id == s => Ok(id),
        _ => Err(error::ident::invalid(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every keyword from prost-build's `sanitize_identifier`, with its expected escape.
    const KEYWORD_TABLE: &[(&str, &str)] = &[
        ("as", "r#as"),
        ("break", "r#break"),
        ("const", "r#const"),
        ("continue", "r#continue"),
        ("else", "r#else"),
        ("enum", "r#enum"),
        ("false", "r#false"),
        ("fn", "r#fn"),
        ("for", "r#for"),
        ("if", "r#if"),
        ("impl", "r#impl"),
        ("in", "r#in"),
        ("let", "r#let"),
        ("loop", "r#loop"),
        ("match", "r#match"),
        ("mod", "r#mod"),
        ("move", "r#move"),
        ("mut", "r#mut"),
        ("pub", "r#pub"),
        ("ref", "r#ref"),
        ("return", "r#return"),
        ("static", "r#static"),
        ("struct", "r#struct"),
        ("trait", "r#trait"),
        ("true", "r#true"),
        ("type", "r#type"),
        ("unsafe", "r#unsafe"),
        ("use", "r#use"),
        ("where", "r#where"),
        ("while", "r#while"),
        ("dyn", "r#dyn"),
        ("abstract", "r#abstract"),
        ("become", "r#become"),
        ("box", "r#box"),
        ("do", "r#do"),
        ("final", "r#final"),
        ("macro", "r#macro"),
        ("override", "r#override"),
        ("priv", "r#priv"),
        ("typeof", "r#typeof"),
        ("unsized", "r#unsized"),
        ("virtual", "r#virtual"),
        ("yield", "r#yield"),
        ("async", "r#async"),
        ("await", "r#await"),
        ("try", "r#try"),
        ("gen", "r#gen"),
        ("_", "__"),
        ("self", "self_"),
        ("Self", "Self_"),
        ("super", "super_"),
        ("extern", "extern_"),
        ("crate", "crate_"),
    ];

    #[test]
    fn keyword_table_matches_lists() {
        assert_eq!(
            KEYWORD_TABLE.len(),
            RAW_KEYWORDS.len() + SUFFIX_KEYWORDS.len()
        );
        for kw in RAW_KEYWORDS.iter().chain(SUFFIX_KEYWORDS) {
            assert!(KEYWORD_TABLE.iter().any(|(k, _)| k == kw), "{kw}");
        }
    }

    #[test]
    fn every_keyword_round_trips_through_ident_and_quote() {
        for &(kw, escaped) in KEYWORD_TABLE {
            assert!(is_keyword(kw), "{kw}");
            assert_eq!(sanitize(kw), escaped, "{kw}");
            let id = ident(escaped).unwrap_or_else(|e| panic!("{kw}: {e}"));
            assert_eq!(id, escaped);
            let tokens = quote::quote!(struct #id; fn f(#id: u8) {});
            let file: syn::File = syn::parse2(tokens).unwrap_or_else(|e| panic!("{kw}: {e}"));
            assert_eq!(file.items.len(), 2, "{kw}");
            // The unescaped keyword itself is refused.
            let err = ident(kw).err().unwrap_or_default();
            assert!(
                err.contains(&format!("{kw:?} is a Rust keyword")),
                "{kw}: {err}"
            );
        }
    }

    #[test]
    fn sanitize_like_prost() {
        // From prost-build's test_sanitize_identifier.
        for (input, expected) in [
            ("foo", "foo"),
            ("bar", "bar"),
            ("baz", "baz"),
            ("0foo", "_0foo"),
            ("foo0", "foo0"),
            ("foo_", "foo_"),
            ("_foo", "_foo"),
            ("", ""),
        ] {
            assert_eq!(sanitize(input), expected, "{input:?}");
        }
        assert!(!is_keyword("foo"));
        assert!(!is_keyword("union"));
        assert!(!is_keyword("r#type"));
        assert!(!is_keyword("1abc"));
    }

    #[test]
    fn to_snake_like_prost() {
        // First block copied from prost-build's test_to_snake and test_to_snake_*_keyword.
        for (input, expected) in [
            ("FooBar", "foo_bar"),
            ("FooBarBAZ", "foo_bar_baz"),
            ("XMLHttpRequest", "xml_http_request"),
            ("While", "r#while"),
            ("FUZZ_BUSTER", "fuzz_buster"),
            ("foo_bar_baz", "foo_bar_baz"),
            ("FUZZ_buster", "fuzz_buster"),
            ("_FUZZ", "fuzz"),
            ("_fuzz", "fuzz"),
            ("_Fuzz", "fuzz"),
            ("FUZZ_", "fuzz"),
            ("fuzz_", "fuzz"),
            ("Fuzz_", "fuzz"),
            ("FuzZ_", "fuz_z"),
            ("fieldname1", "fieldname1"),
            ("field_name2", "field_name2"),
            ("_field_name3", "field_name3"),
            ("field__name4_", "field_name4"),
            ("field0name5", "field0name5"),
            ("field_0_name6", "field_0_name6"),
            ("fieldName7", "field_name7"),
            ("FieldName8", "field_name8"),
            ("field_Name9", "field_name9"),
            ("Field_Name10", "field_name10"),
            ("FIELD_NAME11", "field_name11"),
            ("FIELD_name12", "field_name12"),
            ("__field_name13", "field_name13"),
            ("__Field_name14", "field_name14"),
            ("field__name15", "field_name15"),
            ("field__Name16", "field_name16"),
            ("field_name17__", "field_name17"),
            ("Field_name18__", "field_name18"),
            ("self", "self_"),
            ("super", "super_"),
            ("extern", "extern_"),
            ("crate", "crate_"),
            ("type", "r#type"),
            ("async", "r#async"),
            ("gen", "r#gen"),
            // Names this plugin cares about (same algorithm, verified against prost-build).
            ("GetHTTPResponse", "get_http_response"),
            ("SayHello", "say_hello"),
            ("lots_of_replies", "lots_of_replies"),
            ("HTTPServer", "http_server"),
            ("foo_bar", "foo_bar"),
            ("fooBar", "foo_bar"),
            ("Type", "r#type"),
            ("Self", "self_"),
            ("try", "r#try"),
            ("match", "r#match"),
            ("await", "r#await"),
            ("_foo", "foo"),
            ("1abc", "_1abc"),
            ("Foo2Bar", "foo2_bar"),
            ("fooBAR", "foo_bar"),
        ] {
            assert_eq!(to_snake(input), expected, "{input:?}");
        }
    }

    #[test]
    fn to_upper_camel_like_prost() {
        // First block copied from prost-build's test_to_upper_camel.
        for (input, expected) in [
            ("", ""),
            ("F", "F"),
            ("FOO", "Foo"),
            ("FOO_BAR", "FooBar"),
            ("_FOO_BAR", "FooBar"),
            ("FOO_BAR_", "FooBar"),
            ("_FOO_BAR_", "FooBar"),
            ("fuzzBuster", "FuzzBuster"),
            ("FuzzBuster", "FuzzBuster"),
            ("self", "Self_"),
            // Names this plugin cares about (same algorithm, verified against prost-build).
            ("GetHTTPResponse", "GetHttpResponse"),
            ("SayHello", "SayHello"),
            ("lots_of_replies", "LotsOfReplies"),
            ("HTTPServer", "HttpServer"),
            ("foo_bar", "FooBar"),
            ("FooBar", "FooBar"),
            ("fooBar", "FooBar"),
            ("type", "Type"),
            ("Type", "Type"),
            ("Self", "Self_"),
            ("super", "Super"),
            ("async", "Async"),
            ("gen", "Gen"),
            ("try", "Try"),
            ("match", "Match"),
            ("await", "Await"),
            ("_foo", "Foo"),
            ("1abc", "_1abc"),
            ("Foo2Bar", "Foo2Bar"),
            ("fooBAR", "FooBar"),
        ] {
            assert_eq!(to_upper_camel(input), expected, "{input:?}");
        }
    }

    #[test]
    fn unescape_inverts_sanitize() {
        for (escaped, plain) in [
            ("r#type", "type"),
            ("self_", "self"),
            ("Self_", "Self"),
            ("__", "_"),
            ("_1abc", "1abc"),
            ("foo_bar", "foo_bar"),
            ("_foo", "_foo"),
        ] {
            assert_eq!(unescape(escaped), plain, "{escaped:?}");
        }
        // unescape inverts sanitize on every keyword.
        for &(kw, escaped) in KEYWORD_TABLE {
            assert_eq!(unescape(escaped), kw);
        }
    }

    #[test]
    fn derived_names() {
        for (base, suffix, expected) in [
            ("r#type", "_client", "type_client"),
            ("self_", "_server", "self_server"),
            ("super_", "_client", "super_client"),
            ("Self_", "Client", "SelfClient"),
            ("Type", "Server", "TypeServer"),
            ("_1abc", "_client", "_1abc_client"),
            ("say_hello", "_client", "say_hello_client"),
            // A suffix can itself complete a keyword; the result is escaped again.
            ("ty", "pe", "r#type"),
            ("", "self", "self_"),
        ] {
            let name = derived(base, suffix);
            assert_eq!(name, expected, "{base:?} + {suffix:?}");
            assert!(ident(&name).is_ok(), "{name}");
        }
        // Derived names from every keyword are valid identifiers.
        for &(_, escaped) in KEYWORD_TABLE {
            for suffix in ["_client", "Client", "_server"] {
                let name = derived(escaped, suffix);
                ident(&name).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }

    #[test]
    fn ident_accepts_valid_names() {
        for s in [
            "foo", "FooBar", "_foo", "_1abc", "foo_", "self_", "Self_", "union", "r#type",
            "r#extern", "r#foo",
        ] {
            let id = ident(s).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(id, s);
        }
    }

    #[test]
    fn ident_rejects_invalid_names_without_panicking() {
        for (s, message) in [
            ("", r#""" is not a valid Rust identifier"#),
            ("foo.bar", r#""foo.bar" is not a valid Rust identifier"#),
            ("foo bar", r#""foo bar" is not a valid Rust identifier"#),
            (" foo", r#"" foo" is not a valid Rust identifier"#),
            ("foo ", r#""foo " is not a valid Rust identifier"#),
            ("foo // x", r#""foo // x" is not a valid Rust identifier"#),
            ("1abc", r#""1abc" is not a valid Rust identifier"#),
            ("foo-bar", r#""foo-bar" is not a valid Rust identifier"#),
            ("::foo", r#""::foo" is not a valid Rust identifier"#),
            ("r#", r#""r#" is not a valid Rust identifier"#),
            ("r#1abc", r#""r#1abc" is not a valid Rust identifier"#),
            ("r#r#foo", r#""r#r#foo" is not a valid Rust identifier"#),
            ("r# foo", r#""r# foo" is not a valid Rust identifier"#),
            ("'a", r#""'a" is not a valid Rust identifier"#),
            ("\"foo\"", r#""\"foo\"" is not a valid Rust identifier"#),
            (
                "r#self",
                r#""r#self" is not a valid raw identifier; use self_"#,
            ),
            (
                "r#Self",
                r#""r#Self" is not a valid raw identifier; use Self_"#,
            ),
            (
                "r#super",
                r#""r#super" is not a valid raw identifier; use super_"#,
            ),
            (
                "r#crate",
                r#""r#crate" is not a valid raw identifier; use crate_"#,
            ),
            ("r#_", r#""r#_" is not a valid raw identifier; use __"#),
            (
                "type",
                r#""type" is a Rust keyword; escape it first (it would be "r#type")"#,
            ),
            (
                "gen",
                r#""gen" is a Rust keyword; escape it first (it would be "r#gen")"#,
            ),
            (
                "self",
                r#""self" is a Rust keyword; escape it first (it would be "self_")"#,
            ),
            (
                "_",
                r#""_" is a Rust keyword; escape it first (it would be "__")"#,
            ),
        ] {
            assert_eq!(ident(s).err().as_deref(), Some(message), "{s:?}");
        }
    }
}
