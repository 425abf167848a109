//! `Debug` for messages with `btree_map` fields, so that they compile in a crate whose only
//! dependency is `rgrpc`.
//!
//! prost-derive 0.14 honours `prost_path` everywhere but one place: the `Debug` it writes
//! for a `btree_map` field names `::prost::alloc::collections::BTreeMap`, which only
//! resolves where a crate called `prost` is a dependency. Generated code cannot provide
//! that name (`::prost` looks only at the crate's dependencies), so such a message asks
//! prost for no `Debug` (`#[prost(skip_debug)]`) and derives the standard one instead.
//! The one difference a user sees: that message's enum fields print as numbers, not as
//! variant names.

use syn::{Attribute, Item, ItemMod, ItemStruct};

/// Switches every message in `items`, and in their nested modules, that has a `btree_map`
/// field to the standard `Debug`.
pub(crate) fn derive_for_btree_maps(items: &mut [Item]) {
    for item in items {
        match item {
            Item::Mod(ItemMod {
                content: Some((_, nested)),
                ..
            }) => derive_for_btree_maps(nested),
            Item::Struct(message) if has_btree_map(message) && !derives_debug(message) => {
                message.attrs.push(syn::parse_quote!(#[prost(skip_debug)]));
                message.attrs.push(syn::parse_quote!(#[derive(Debug)]));
            }
            _ => {}
        }
    }
}

fn has_btree_map(message: &ItemStruct) -> bool {
    message.fields.iter().any(|field| {
        field
            .attrs
            .iter()
            .any(|attr| arguments_of(attr, "prost").is_some_and(|args| args.contains("btree_map")))
    })
}

/// Whether `Debug` is derived already (a user's `type_attribute`), or prost was told to skip
/// it: then the user provides `Debug` and nothing is added.
fn derives_debug(message: &ItemStruct) -> bool {
    message.attrs.iter().any(|attr| {
        arguments_of(attr, "derive").is_some_and(|args| {
            args.split(',')
                .any(|name| name.trim().rsplit("::").next() == Some("Debug"))
        }) || arguments_of(attr, "prost").is_some_and(|args| args.contains("skip_debug"))
    })
}

/// The arguments of `#[name(…)]`, as text with `::` and `,` kept.
fn arguments_of(attr: &Attribute, name: &str) -> Option<String> {
    let syn::Meta::List(list) = &attr.meta else {
        return None;
    };
    list.path.is_ident(name).then(|| {
        list.tokens
            .to_string()
            .replace(" :: ", "::")
            .replace(' ', "")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn derived(code: &str) -> String {
        let mut items = syn::parse_file(code)
            .map(|file| file.items)
            .unwrap_or_default();
        derive_for_btree_maps(&mut items);
        prettyplease::unparse(&syn::File {
            shebang: None,
            attrs: Vec::new(),
            items,
        })
    }

    #[test]
    fn a_message_with_a_btree_map_derives_the_standard_debug_also_when_nested() {
        let code = derived(
            r#"
            #[derive(Clone, PartialEq, ::rgrpc::prost::Message)]
            pub struct Thing {
                #[prost(btree_map = "string, int32", tag = "1")]
                pub counts: ::rgrpc::prost::alloc::collections::BTreeMap<String, i32>,
            }
            pub mod thing {
                pub struct Inner {
                    #[prost(btree_map = "string, int32", tag = "1")]
                    pub counts: ::rgrpc::prost::alloc::collections::BTreeMap<String, i32>,
                }
            }
            "#,
        );
        assert_eq!(code.matches("#[prost(skip_debug)]").count(), 2, "{code}");
        assert_eq!(code.matches("#[derive(Debug)]").count(), 2, "{code}");
    }

    #[test]
    fn other_messages_and_ones_that_have_debug_already_are_left_alone() {
        let code = r#"
            pub struct Plain {
                #[prost(map = "string, int32", tag = "1")]
                pub counts: ::std::collections::HashMap<String, i32>,
            }
            #[derive(::core::fmt::Debug)]
            pub struct Mine {
                #[prost(btree_map = "string, int32", tag = "1")]
                pub counts: ::rgrpc::prost::alloc::collections::BTreeMap<String, i32>,
            }
        "#;
        assert!(!derived(code).contains("skip_debug"));
    }
}
