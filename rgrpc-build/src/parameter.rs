//! The plugin parameter string, assembled from raw strings and typed settings.

/// One `key=value` item with the value escaped for the plugin's parameter syntax.
///
/// The plugin splits its parameter string at commas, reading `\,` as a comma inside a value
/// and `\\` as a backslash. Typed setters take values as the user means them
/// (`#[derive(Hash, Eq)]`), so commas and backslashes are escaped here; escaping every
/// backslash keeps one that happens to precede a comma from being read as an escape.
pub(crate) fn item(key: &str, value: &str) -> String {
    let mut item = String::with_capacity(key.len() + 1 + value.len());
    item.push_str(key);
    item.push('=');
    for c in value.chars() {
        if matches!(c, ',' | '\\') {
            item.push('\\');
        }
        item.push(c);
    }
    item
}

/// A boolean setting as the plugin spells it (`client=false`).
pub(crate) fn flag(key: &str, value: bool) -> String {
    format!("{key}={value}")
}

/// The parameter string the plugin receives: every item, in the order given, joined by
/// commas. Empty items (`.parameter("")`) are dropped rather than sent as empty keys.
pub(crate) fn join(items: &[String]) -> String {
    items
        .iter()
        .filter(|item| !item.is_empty())
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_escape_commas_and_backslashes() {
        assert_eq!(
            item("type_attribute", ".=#[derive(Hash, Eq)]"),
            r"type_attribute=.=#[derive(Hash\, Eq)]"
        );
        assert_eq!(
            item("type_attribute", r#".=#[doc = "a\,b"]"#),
            r#"type_attribute=.=#[doc = "a\\\,b"]"#
        );
        assert_eq!(
            item("extern_path", ".common=::common"),
            "extern_path=.common=::common"
        );
    }

    #[test]
    fn flags_are_spelled_as_the_plugin_reads_them() {
        assert_eq!(flag("client", false), "client=false");
        assert_eq!(flag("server", true), "server=true");
    }

    #[test]
    fn join_keeps_order_and_drops_empty_items() {
        let items = [
            "server=false".to_owned(),
            String::new(),
            "btree_map=.".to_owned(),
            r"type_attribute=.=#[derive(A\, B)]".to_owned(),
        ];
        assert_eq!(
            join(&items),
            r"server=false,btree_map=.,type_attribute=.=#[derive(A\, B)]"
        );
        assert_eq!(join(&[]), "");
    }
}
