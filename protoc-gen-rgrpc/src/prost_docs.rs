//! The doc comments of prost's messages, rendered by us instead of by prost-build.
//!
//! prost-build escapes every comment line for rustdoc with two regexes, one of which
//! needs the slow capture engine on every line: on a large corpus that is a third of the
//! plugin's time. So prost gets each comment replaced by a short marker naming it, and
//! [`expand`] swaps the markers in its output for the comment's lines, made here the way
//! prost-build makes them (the same Markdown clean-up, the same escaping) but with the
//! expensive step only on lines that can need it. The goldens hold prost's own rendering,
//! so any drift from it fails them.

use std::sync::LazyLock;

use prost_types::FileDescriptorProto;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag};
use regex::Regex;

/// How a marker line starts in prost's output (after the indentation).
const MARKER: &str = "/// rgrpc-doc:";

/// The comments taken out of the descriptors, indexed by their marker.
#[derive(Debug, Default)]
pub(crate) struct Comments {
    texts: Vec<String>,
}

impl Comments {
    /// Replaces every leading and trailing comment of `file` with a marker and drops the
    /// detached ones (prost emits those as plain `//` lines, which the output never keeps).
    pub(crate) fn take_from(&mut self, file: &mut FileDescriptorProto) {
        let Some(info) = file.source_code_info.as_mut() else {
            return;
        };
        for location in &mut info.location {
            location.leading_detached_comments.clear();
            for comment in [
                &mut location.leading_comments,
                &mut location.trailing_comments,
            ] {
                if let Some(text) = comment.take() {
                    *comment = Some(format!(" rgrpc-doc:{}", self.texts.len()));
                    self.texts.push(text);
                }
            }
        }
    }

    /// `code` (prost's output) with every marker line replaced by its comment's doc lines,
    /// indented as the marker was.
    pub(crate) fn expand(&self, code: &str) -> String {
        let mut out = String::with_capacity(code.len() + code.len() / 2);
        for line in code.lines() {
            let body = line.trim_start();
            let index = body
                .strip_prefix(MARKER)
                .and_then(|n| n.parse::<usize>().ok());
            match index.and_then(|i| self.texts.get(i)) {
                Some(text) => {
                    let indent = &line[..line.len() - body.len()];
                    for doc in doc_lines(text) {
                        out.push_str(indent);
                        out.push_str("///");
                        out.push_str(&doc);
                        out.push('\n');
                    }
                }
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }
}

/// The rustdoc lines (without `///`) of one proto comment.
fn doc_lines(comment: &str) -> Vec<String> {
    let mut lines: Vec<String> = markdown_lines(comment)
        .iter()
        .map(|line| escape_line(line))
        .collect();
    crate::hygiene::escape_html(&mut lines);
    crate::hygiene::escape_invisible(&mut lines);
    lines
}

/// The comment as CommonMark again, with every code block fenced and tagged so rustdoc
/// never compiles it (`text,…`; a block marked `rust` would be run as a doctest).
fn markdown_lines(comment: &str) -> Vec<String> {
    let events =
        Parser::new_ext(comment, Options::all() - Options::ENABLE_SMART_PUNCTUATION).map(|event| {
            match event {
                Event::Start(Tag::CodeBlock(kind)) => {
                    Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(match kind {
                        CodeBlockKind::Fenced(lang) if lang.as_ref() == "rust" => {
                            "compile_fail".into()
                        }
                        CodeBlockKind::Fenced(lang) => format!("text,{lang}").into(),
                        CodeBlockKind::Indented => "text".into(),
                    })))
                }
                other => other,
            }
        });
    let options = pulldown_cmark_to_cmark::Options {
        code_block_token_count: 3,
        ..Default::default()
    };
    let mut text = String::with_capacity(comment.len() + 256);
    match pulldown_cmark_to_cmark::cmark_with_options(events, &mut text, options) {
        Ok(_) => text.lines().map(str::to_owned).collect(),
        Err(_) => comment.lines().map(str::to_owned).collect(),
    }
}

/// One line made safe for rustdoc: bare URLs become autolinks, `[text]` that is not a
/// Markdown link is escaped (rustdoc would read it as an intra-doc link), and the text is
/// set off from `///` by one space unless it already is.
fn escape_line(line: &str) -> String {
    let mut text = autolink_urls(line);
    if text.contains('[') && text.contains(']') {
        static BRACKETS: LazyLock<Option<Regex>> =
            LazyLock::new(|| Regex::new(r"(^|[^\]\\])\[(([^\]]*[^\\])?)\]([^(\[]|$)").ok());
        if let Some(brackets) = BRACKETS.as_ref() {
            text = brackets.replace_all(&text, r"$1\[$2\]$4").into_owned();
        }
    }
    let mut chars = text.chars();
    let indent = chars
        .next()
        .is_some_and(|c| c != ' ' || chars.next() == Some(' '));
    if indent {
        text.insert(0, ' ');
    }
    text
}

/// Wraps every `http://…`/`https://…` (up to whitespace or `)`) in `<…>`.
fn autolink_urls(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while let Some(start) = rest.find("http") {
        let after = &rest[start + 4..];
        let scheme_len = if after.starts_with("s://") {
            8
        } else if after.starts_with("://") {
            7
        } else {
            out.push_str(&rest[..start + 4]);
            rest = after;
            continue;
        };
        let tail = &rest[start + scheme_len..];
        let url_len = tail
            .find(|c: char| c.is_whitespace() || c == ')')
            .unwrap_or(tail.len());
        if url_len == 0 {
            out.push_str(&rest[..start + scheme_len]);
            rest = tail;
            continue;
        }
        let end = start + scheme_len + url_len;
        out.push_str(&rest[..start]);
        out.push('<');
        out.push_str(&rest[start..end]);
        out.push('>');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_autolinks() {
        assert_eq!(
            autolink_urls("see https://grpc.io/x, (http://a.b/c) and http:// alone"),
            "see <https://grpc.io/x,> (<http://a.b/c>) and http:// alone"
        );
        assert_eq!(autolink_urls("xhttps://a"), "x<https://a>");
    }

    #[test]
    fn brackets_that_are_not_links_are_escaped() {
        assert_eq!(escape_line("a [b] c"), r" a \[b\] c");
        assert_eq!(escape_line("a [b](c) d"), " a [b](c) d");
        assert_eq!(escape_line(r" already \[b\]"), r" already \[b\]");
        assert_eq!(escape_line("  indented"), "   indented");
    }

    #[test]
    fn markers_expand_with_their_indentation() {
        let mut comments = Comments::default();
        let mut file = FileDescriptorProto {
            source_code_info: Some(prost_types::SourceCodeInfo {
                location: vec![prost_types::source_code_info::Location {
                    leading_comments: Some(" Greets [someone].\n".to_owned()),
                    trailing_comments: Some(" see https://grpc.io\n".to_owned()),
                    leading_detached_comments: vec![" gone\n".to_owned()],
                    ..Default::default()
                }],
            }),
            ..Default::default()
        };
        comments.take_from(&mut file);
        let location = &file.source_code_info.as_ref().unwrap().location[0];
        assert_eq!(location.leading_comments.as_deref(), Some(" rgrpc-doc:0"));
        assert_eq!(location.trailing_comments.as_deref(), Some(" rgrpc-doc:1"));
        assert!(location.leading_detached_comments.is_empty());

        let code = "    /// rgrpc-doc:0\n    ///\n    /// rgrpc-doc:1\n    pub x: i32,\n/// rgrpc-doc:99\n";
        assert_eq!(
            comments.expand(code),
            "    /// Greets \\[someone\\].\n    ///\n    /// see <https://grpc.io>\n    pub x: i32,\n/// rgrpc-doc:99\n"
        );
    }
}
