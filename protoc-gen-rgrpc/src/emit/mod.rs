//! Service code generation: one client module and one server module per service.

mod client;
mod server;

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Service;
use crate::params::Params;
use crate::rust::RustPath;

/// The tokens of everything generated for `services` (messages excluded).
pub(crate) fn services<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    params: &Params,
    runtime: &RustPath,
) -> TokenStream {
    let mut tokens = TokenStream::new();
    for service in services {
        if params.client || params.blocking {
            tokens.extend(client::emit(service, params, runtime));
        }
        if params.server {
            tokens.extend(server::emit(service, runtime));
        }
    }
    tokens
}

/// The lints every generated module allows, with the reason for each.
fn module_allows() -> TokenStream {
    quote! {
        #![allow(
            // rpc and message names come from the proto, in the proto's own casing
            non_camel_case_types,
            non_snake_case,
            // a deprecated rpc is still served and callable; the attribute is for users
            deprecated,
            // generated signatures mirror the proto, however many arguments that means
            clippy::too_many_arguments,
            // an rpc named IntoX, FromX, ToX or AsX takes `&self` like every rpc, and one
            // named Next or Add is an rpc, not an operator
            clippy::wrong_self_convention,
            clippy::should_implement_trait,
        )]
    }
}

/// One `#[doc]` per line: the generated first sentence, the proto's comment lines, then
/// generated notes (each its own paragraph).
fn doc_attrs(summary: &str, proto_lines: &[String], notes: &[&str]) -> TokenStream {
    let lines = crate::rustdoc::lines(Some(summary), proto_lines, notes);
    quote! { #( #[doc = #lines] )* }
}

/// `#[deprecated]` when the proto says so.
fn deprecated_attr(deprecated: bool) -> TokenStream {
    if deprecated {
        quote! { #[deprecated] }
    } else {
        TokenStream::new()
    }
}
