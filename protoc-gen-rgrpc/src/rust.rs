//! Rust identifiers, paths and types as plain data: decided once (by `names`, `resolve` and
//! the parameters), then quoted by the emitters on any thread.
//!
//! syn's and proc-macro2's trees are neither `Send` nor `Sync`, so a model holding them could
//! not be shared by the rendering threads, and each thread rebuilt it. These types hold
//! only strings that are already known to be valid tokens, and become tokens when quoted.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt, quote};

use crate::names;

/// An identifier that [`names::ident`] accepted (`greeter_client`, `r#type`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RustIdent(String);

impl RustIdent {
    /// `name` as an identifier, or why it cannot be one.
    pub(crate) fn new(name: &str) -> Result<Self, String> {
        names::ident(name).map(|_| Self(name.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RustIdent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ToTokens for RustIdent {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.append(token(&self.0));
    }
}

/// The identifier token of `name`, raw if written `r#…`. Every name reaching here was lexed
/// as an identifier before (by `names::ident` or syn's path parser), the check under which
/// proc-macro2's constructors do not panic.
fn token(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// A path such as `::rgrpc`, `super::super::a::Msg` or `::w::Wrapper<u8>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RustPath {
    leading_colon: bool,
    segments: Vec<Segment>,
}

/// One segment of a path and its generic arguments (`Vec<u8>`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    /// An identifier, or one of the path keywords `crate`, `self`, `super`, `Self`.
    name: String,
    args: Vec<RustType>,
}

impl RustPath {
    /// `super`, the start of every path to a message from a generated service module.
    pub(crate) fn super_() -> Self {
        Self {
            leading_colon: false,
            segments: vec![Segment::plain("super")],
        }
    }

    /// A path of one plain type (`bool`, `u8`), for the built-in extern paths.
    pub(crate) fn primitive(name: &'static str) -> Self {
        Self {
            leading_colon: false,
            segments: vec![Segment::plain(name)],
        }
    }

    /// `::name`: the root of an extern crate.
    pub(crate) fn extern_crate(name: &'static str) -> Self {
        Self {
            leading_colon: true,
            segments: vec![Segment::plain(name)],
        }
    }

    /// A relative path of plain identifiers this crate writes (`prost::alloc::vec::Vec`).
    pub(crate) fn relative(segments: &[&'static str]) -> Self {
        Self {
            leading_colon: false,
            segments: segments.iter().map(|name| Segment::plain(name)).collect(),
        }
    }

    /// The path as syn parsed it, or `None` if it has generic arguments other than types
    /// that are paths or `()` (all a message type can need).
    pub(crate) fn from_syn(path: &syn::Path) -> Option<Self> {
        let segments = path
            .segments
            .iter()
            .map(|segment| {
                let args = match &segment.arguments {
                    syn::PathArguments::None => Vec::new(),
                    syn::PathArguments::AngleBracketed(generics) => generics
                        .args
                        .iter()
                        .map(|arg| match arg {
                            syn::GenericArgument::Type(ty) => RustType::from_syn(ty),
                            _ => None,
                        })
                        .collect::<Option<_>>()?,
                    syn::PathArguments::Parenthesized(_) => return None,
                };
                Some(Segment {
                    name: segment.ident.to_string(),
                    args,
                })
            })
            .collect::<Option<_>>()?;
        Some(Self {
            leading_colon: path.leading_colon.is_some(),
            segments,
        })
    }

    /// `source` parsed, for tests; panics on a path [`from_syn`](Self::from_syn) refuses.
    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    pub(crate) fn parse(source: &str) -> Self {
        Self::from_syn(&syn::parse_str(source).unwrap()).unwrap()
    }

    /// This path with `ident` appended.
    pub(crate) fn join(mut self, ident: &RustIdent) -> Self {
        self.segments.push(Segment::plain(ident.as_str()));
        self
    }

    /// This path with `other`'s segments appended (`::rgrpc` + `prost_types`).
    pub(crate) fn join_path(mut self, other: &RustPath) -> Self {
        self.segments.extend(other.segments.iter().cloned());
        self
    }

    /// This path with generic arguments on its last segment (`Vec` → `Vec<u8>`).
    pub(crate) fn with_args(mut self, args: Vec<RustType>) -> Self {
        if let Some(last) = self.segments.last_mut() {
            last.args = args;
        }
        self
    }
}

impl Segment {
    fn plain(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            args: Vec::new(),
        }
    }
}

/// The path as Rust source (`::my::rgrpc`), for prost-build's text-based settings.
impl std::fmt::Display for RustPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.leading_colon {
            f.write_str("::")?;
        }
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str("::")?;
            }
            f.write_str(&segment.name)?;
            if !segment.args.is_empty() {
                let args: Vec<String> = segment.args.iter().map(ToString::to_string).collect();
                write!(f, "<{}>", args.join(", "))?;
            }
        }
        Ok(())
    }
}

impl ToTokens for RustPath {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        if self.leading_colon {
            tokens.extend(quote!(::));
        }
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                tokens.extend(quote!(::));
            }
            tokens.append(token(&segment.name));
            if !segment.args.is_empty() {
                let args = &segment.args;
                tokens.extend(quote!(< #(#args),* >));
            }
        }
    }
}

/// A message's Rust type: a path, or `()` (`google.protobuf.Empty`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RustType {
    Unit,
    Path(RustPath),
}

impl RustType {
    fn from_syn(ty: &syn::Type) -> Option<Self> {
        match ty {
            syn::Type::Path(path) if path.qself.is_none() => {
                RustPath::from_syn(&path.path).map(Self::Path)
            }
            syn::Type::Tuple(tuple) if tuple.elems.is_empty() => Some(Self::Unit),
            _ => None,
        }
    }
}

impl std::fmt::Display for RustType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RustType::Unit => f.write_str("()"),
            RustType::Path(path) => path.fmt(f),
        }
    }
}

impl ToTokens for RustType {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            RustType::Unit => tokens.extend(quote!(())),
            RustType::Path(path) => path.to_tokens(tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_and_quote_as_written() {
        for source in [
            "::rgrpc",
            "crate::generated::pkg",
            "super::super::r#async::Msg",
            "::w::Wrapper<u8>",
            "::w::Pair<::a::B, ()>::inner::Thing",
        ] {
            let path = RustPath::parse(source);
            assert_eq!(path.to_string(), source);
            let written: syn::Path = syn::parse_str(source).unwrap();
            assert_eq!(
                path.to_token_stream().to_string(),
                written.to_token_stream().to_string()
            );
        }
    }

    #[test]
    fn generic_arguments_other_than_type_paths_are_refused() {
        for source in [
            "::w::W<'a>",
            "::w::W<3>",
            "::w::W<[u8; 4]>",
            "::w::W<Item = u8>",
        ] {
            let path: syn::Path = syn::parse_str(source).unwrap();
            assert_eq!(RustPath::from_syn(&path), None, "{source}");
        }
    }

    #[test]
    fn idents_are_checked_once_and_quote_raw_when_written_raw() {
        assert_eq!(
            RustIdent::new("r#type")
                .unwrap()
                .to_token_stream()
                .to_string(),
            "r#type"
        );
        assert!(RustIdent::new("type").is_err());
        assert!(RustIdent::new("a b").is_err());
        let path = RustPath::super_().join(&RustIdent::new("Msg").unwrap());
        assert_eq!(path.to_string(), "super::Msg");
    }
}
