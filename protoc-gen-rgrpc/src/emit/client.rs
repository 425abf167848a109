//! The async client of a service: a cloneable struct with one method per rpc.

use proc_macro2::TokenStream;
use quote::quote;

use super::docs::doc_attrs;
use super::{deprecated_attr, module_allows};
use crate::model::{Method, MethodKind, Service};

pub(crate) fn emit(service: &Service, rt: &syn::Path) -> TokenStream {
    let module = &service.client_module;
    let client = &service.client_ident;
    let allows = module_allows();
    let module_docs = doc_attrs(
        &format!("The client of the `{}` service.", service.full_name),
        &[],
        &[],
    );
    let client_docs = doc_attrs(
        &format!(
            "`{client}` is the client for the `{}` service.",
            service.full_name
        ),
        &service.docs,
        &[],
    );
    let deprecated = deprecated_attr(service.deprecated);
    let methods = service.methods.iter().map(|method| emit_method(method, rt));
    // A service without rpcs has a client that never uses its runtime client.
    let unused_inner = if service.methods.is_empty() {
        quote! { #[allow(dead_code)] }
    } else {
        TokenStream::new()
    };
    quote! {
        #module_docs
        pub mod #module {
            #allows
            #client_docs
            ///
            /// Cloning is cheap and clones share the connection; every call takes `&self`.
            #deprecated
            #[derive(Debug, Clone)]
            pub struct #client {
                #unused_inner
                inner: #rt::codegen::Client,
            }

            impl #client {
                /// A client sending its calls over `channel`.
                pub fn new(channel: #rt::Channel) -> Self {
                    Self { inner: #rt::codegen::Client::new(channel) }
                }

                /// A client sharing `client`'s channel.
                pub fn from_client(client: #rt::codegen::Client) -> Self {
                    Self { inner: client }
                }

                #(#methods)*
            }
        }
    }
}

fn emit_method(method: &Method, rt: &syn::Path) -> TokenStream {
    let name = &method.ident;
    let route = &method.route;
    let input = &method.input;
    let output = &method.output;
    let deprecated = deprecated_attr(method.deprecated);
    let (summary, signature, body) = match method.kind {
        MethodKind::Unary => (
            "with one request; awaiting the call gives the response.",
            quote! { (&self, request: #input) -> #rt::codegen::UnaryCall<#input, #output> },
            quote! { self.inner.unary(#route, request) },
        ),
        MethodKind::ServerStreaming => (
            "with one request; awaiting the call gives the stream of responses.",
            quote! { (&self, request: #input) -> #rt::codegen::StreamingCall<#input, #output> },
            quote! { self.inner.server_streaming(#route, request) },
        ),
        MethodKind::ClientStreaming => (
            "with a stream of requests; awaiting the call gives the response.",
            quote! {
                (&self, requests: impl #rt::codegen::Stream<Item = #input> + ::core::marker::Send + 'static)
                    -> #rt::codegen::ClientStreamingCall<#input, #output>
            },
            quote! { self.inner.client_streaming(#route, #rt::codegen::box_requests(requests)) },
        ),
        MethodKind::Bidi => (
            "with a stream of requests; awaiting the call gives the stream of responses at once, while the requests are still being sent.",
            quote! {
                (&self, requests: impl #rt::codegen::Stream<Item = #input> + ::core::marker::Send + 'static)
                    -> #rt::codegen::StreamingCall<#input, #output>
            },
            quote! { self.inner.bidi_streaming(#route, #rt::codegen::box_requests(requests)) },
        ),
    };
    let docs = doc_attrs(
        &format!("Calls `{}` {summary}", method.proto_name),
        &method.docs,
        method.idempotency.as_slice(),
    );
    quote! {
        #docs
        #deprecated
        pub fn #name #signature {
            #body
        }
    }
}
