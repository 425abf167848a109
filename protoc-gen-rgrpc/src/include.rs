//! The include file (`include_file=mod.rs`): every generated package file, nested as
//! modules that mirror the proto packages, so a crate includes one file instead of
//! writing the module tree by hand.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;

use crate::{error, names, render};

/// A module of the tree: the package file included at this level, and the sub-modules.
#[derive(Default)]
struct Node {
    file: Option<String>,
    children: BTreeMap<String, Node>,
}

/// Renders the include file `name` for the package files `files` (proto package, file
/// name). `include!` paths are relative to the include file, which may sit in a
/// sub-directory of the output.
pub(crate) fn render(name: &str, files: &[(String, String)]) -> Result<String, String> {
    if files.iter().any(|(_, file)| file == name) {
        return Err(error::include_file_clash(name));
    }
    let up = "../".repeat(name.matches('/').count());
    let mut root = Node::default();
    for (package, file) in files {
        let module = prost_build::Module::from_protobuf_package_name(package);
        let node = module.parts().fold(&mut root, |node, part| {
            node.children.entry(part.to_owned()).or_default()
        });
        node.file = Some(format!("{up}{file}"));
    }
    let tokens = emit(&root)?;
    let sources: Vec<String> = Vec::new();
    render::file(&format!("include file {name:?}"), &sources, None, tokens)
}

fn emit(node: &Node) -> Result<TokenStream, String> {
    let include = node.file.as_ref().map(|file| quote! { include!(#file); });
    let mut children = TokenStream::new();
    for (part, child) in &node.children {
        let ident = names::ident(part)?;
        let body = emit(child)?;
        children.extend(quote! {
            pub mod #ident {
                #body
            }
        });
    }
    Ok(quote! { #include #children })
}
