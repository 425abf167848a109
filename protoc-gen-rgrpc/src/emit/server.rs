//! The server side of a service: the trait users implement, and the tower service that
//! routes calls to it.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{deprecated_attr, doc_attrs, module_allows};
use crate::descriptors;
use crate::model::{Method, MethodKind, Service};
use crate::rust::{RustIdent, RustPath};

pub(crate) fn emit(service: &Service, rt: &RustPath) -> TokenStream {
    let module = &service.server_module;
    let server_trait = &service.trait_ident;
    let server = &service.server_ident;
    let full_name = &service.full_name;
    let allows = module_allows();
    let module_docs = doc_attrs(
        &format!("The server side of the `{full_name}` service."),
        &[],
        &[],
    );
    let trait_docs = doc_attrs(
        &format!(
            "`{server_trait}` is the server API of `{full_name}`: implement it, then serve it with [`{server}`]."
        ),
        &service.docs,
        &[],
    );
    let server_docs = doc_attrs(
        &format!(
            "`{server}` serves a [`{server_trait}`] implementation: a tower service, mountable in `rgrpc::Server` or `tonic::transport::Server`."
        ),
        &[],
        &[],
    );
    let deprecated = deprecated_attr(service.deprecated);
    let handlers = service.methods.iter().map(|m| emit_handler(m, rt));
    let routes = service
        .methods
        .iter()
        .map(|m| emit_route(m, server_trait, rt));
    // A service without rpcs answers every path UNIMPLEMENTED, with no match to route it.
    let dispatch = if service.methods.is_empty() {
        quote! { #rt::codegen::unimplemented(call) }
    } else {
        quote! {
            let service = ::core::clone::Clone::clone(&self.inner);
            match call.path() {
                #(#routes)*
                _ => #rt::codegen::unimplemented(call),
            }
        }
    };
    let descriptors = emit_descriptors(service, rt);
    quote! {
        #module_docs
        pub mod #module {
            #allows
            #trait_docs
            ///
            /// Every method has a default that answers `UNIMPLEMENTED`, so implement only
            /// what you serve.
            #deprecated
            pub trait #server_trait: ::core::marker::Send + ::core::marker::Sync + 'static {
                #(#handlers)*
            }

            #server_docs
            #deprecated
            pub struct #server<T> {
                inner: #rt::codegen::Arc<T>,
            }

            impl<T> #server<T> {
                /// Serves `service`.
                pub fn new(service: T) -> Self {
                    Self::from_arc(#rt::codegen::Arc::new(service))
                }

                /// Serves a shared `service`.
                pub fn from_arc(service: #rt::codegen::Arc<T>) -> Self {
                    Self { inner: service }
                }
            }

            impl<T> ::core::clone::Clone for #server<T> {
                fn clone(&self) -> Self {
                    Self { inner: ::core::clone::Clone::clone(&self.inner) }
                }
            }

            impl<T> ::core::fmt::Debug for #server<T> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    f.write_str(::core::stringify!(#server))
                }
            }

            impl<T> #rt::codegen::NamedService for #server<T> {
                const NAME: &'static str = #full_name;
            }

            #descriptors

            impl<T, B> #rt::codegen::Service<#rt::codegen::http::Request<B>> for #server<T>
            where
                T: #server_trait,
                B: #rt::codegen::RequestBody,
            {
                type Response = #rt::codegen::http::Response<#rt::codegen::ResponseBody>;
                type Error = ::core::convert::Infallible;
                type Future = #rt::codegen::ServerFuture;

                fn poll_ready(
                    &mut self,
                    _cx: &mut ::core::task::Context<'_>,
                ) -> ::core::task::Poll<::core::result::Result<(), Self::Error>> {
                    ::core::task::Poll::Ready(::core::result::Result::Ok(()))
                }

                fn call(&mut self, request: #rt::codegen::http::Request<B>) -> Self::Future {
                    let call = #rt::codegen::IncomingCall::new(request);
                    #dispatch
                }
            }
        }
    }
}

/// The service's file descriptors, and the runtime trait that hands them to reflection.
fn emit_descriptors(service: &Service, rt: &RustPath) -> TokenStream {
    let server = &service.server_ident;
    if service.file_descriptors.is_empty() {
        return quote! {
            impl<T> #rt::codegen::DescribedService for #server<T> {
                const FILE_DESCRIPTORS: &'static [&'static [u8]] = &[];
            }
        };
    }
    let docs = doc_attrs(
        &format!(
            "The serialized `FileDescriptorProto`s of `{}`, which declares `{}`, then of every file it imports: what `rgrpc::Server` answers reflection requests from.",
            service.source, service.full_name
        ),
        &[],
        &[],
    );
    let files = service.file_descriptors.iter().map(|bytes| {
        // The wrapped literal always parses; proc-macro2's own is the same bytes on one line.
        descriptors::byte_string_literal(bytes)
            .parse::<Literal>()
            .unwrap_or_else(|_| Literal::byte_string(bytes))
    });
    quote! {
        #docs
        pub const FILE_DESCRIPTORS: &[&[u8]] = &[#(#files),*];

        impl<T> #rt::codegen::DescribedService for #server<T> {
            const FILE_DESCRIPTORS: &'static [&'static [u8]] = FILE_DESCRIPTORS;
        }
    }
}

/// The trait method of one rpc, with its `UNIMPLEMENTED` default.
fn emit_handler(method: &Method, rt: &RustPath) -> TokenStream {
    let name = &method.ident;
    let route = &method.route;
    let input = &method.input;
    let output = &method.output;
    let deprecated = deprecated_attr(method.deprecated);
    let (summary, args, arg_names, answer) = match method.kind {
        MethodKind::Unary => (
            "answers one request with one response.",
            quote! { request: #input },
            quote! { request },
            quote! { #output },
        ),
        MethodKind::ServerStreaming => (
            "answers one request with responses sent to `responses`; returning ends the call.",
            quote! { request: #input, responses: #rt::ResponseSink<#output> },
            quote! { request, responses },
            quote! { () },
        ),
        MethodKind::ClientStreaming => (
            "reads a stream of requests and answers with one response.",
            quote! { requests: #rt::RequestStream<#input> },
            quote! { requests },
            quote! { #output },
        ),
        MethodKind::Bidi => (
            "reads a stream of requests while sending responses to `responses`; returning ends the call.",
            quote! { requests: #rt::RequestStream<#input>, responses: #rt::ResponseSink<#output> },
            quote! { requests, responses },
            quote! { () },
        ),
    };
    let docs = doc_attrs(
        &format!("Serves `{}`: {summary}", method.proto_name),
        &method.docs,
        method.idempotency.as_slice(),
    );
    quote! {
        #docs
        #deprecated
        fn #name(
            &self,
            ctx: #rt::Context,
            #args
        ) -> impl ::core::future::Future<
            Output = ::core::result::Result<#answer, #rt::Status>,
        > + ::core::marker::Send {
            let _ = (ctx, #arg_names);
            ::core::future::ready(::core::result::Result::Err(
                #rt::codegen::unimplemented_method(#route),
            ))
        }
    }
}

/// The match arm routing one rpc's path to its handler.
fn emit_route(method: &Method, server_trait: &RustIdent, rt: &RustPath) -> TokenStream {
    let name = &method.ident;
    let route = &method.route;
    let (dispatch, params) = match method.kind {
        MethodKind::Unary => (quote! { unary }, quote! { ctx, request }),
        MethodKind::ServerStreaming => (
            quote! { server_streaming },
            quote! { ctx, request, responses },
        ),
        MethodKind::ClientStreaming => (quote! { client_streaming }, quote! { ctx, requests }),
        MethodKind::Bidi => (
            quote! { bidi_streaming },
            quote! { ctx, requests, responses },
        ),
    };
    quote! {
        #route => #rt::codegen::#dispatch(call, #route, move |#params| async move {
            <T as #server_trait>::#name(&service, #params).await
        }),
    }
}
