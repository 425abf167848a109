//! Doc comments that rustdoc reads as the proto author meant them, for every generated
//! item: our services and prost-build's messages alike.
//!
//! The producers of doc lines (prost_docs for messages, emit::docs for services) already
//! fence code blocks as `text`, escape brackets and wrap URLs. What remains is raw HTML: a proto comment saying
//! `returns a <Thing>` would be an unclosed HTML tag to rustdoc (a warning under
//! `-D warnings`, and the text disappears from the page). Tags are escaped here, outside
//! code; autolinks (`<https://…>`) are kept. Both call this on each item's lines.

/// Escapes raw HTML tags in the doc lines of one item, leaving fenced code alone.
pub(crate) fn escape_html(lines: &mut [String]) {
    let mut cleaner = DocCleaner::default();
    for line in lines {
        if let Some(cleaned) = cleaner.clean_line(line) {
            *line = cleaned;
        }
    }
}

#[derive(Default)]
struct DocCleaner {
    /// Inside a fenced code block, which spans several doc lines.
    in_fence: bool,
}

impl DocCleaner {
    /// The line with its tags escaped, or `None` when it stays as it is.
    fn clean_line(&mut self, line: &str) -> Option<String> {
        if line.trim_start().starts_with("```") {
            self.in_fence = !self.in_fence;
            return None;
        }
        if self.in_fence || !line.contains('<') {
            return None;
        }
        Some(escape_tags(line))
    }
}

/// Escapes `<` where it would open an HTML tag, outside inline code and autolinks.
fn escape_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 4);
    let mut rest = line;
    let mut code_fence: Option<usize> = None;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            let run = rest.len() - rest.trim_start_matches('`').len();
            code_fence = match code_fence {
                None => Some(run),
                Some(open) if open == run => None,
                open => open,
            };
            out.push_str(&rest[..run]);
            rest = &rest[run..];
            continue;
        }
        if c == '\\' {
            // An escape: copy it and the character it escapes.
            let escaped_len = rest[1..].chars().next().map_or(0, char::len_utf8);
            out.push_str(&rest[..1 + escaped_len]);
            rest = &rest[1 + escaped_len..];
            continue;
        }
        if c == '<' && code_fence.is_none() {
            if let Some(len) = autolink_len(rest) {
                out.push_str(&rest[..len]);
                rest = &rest[len..];
                continue;
            }
            if rest[1..].starts_with(|n: char| n.is_ascii_alphabetic() || n == '/' || n == '!') {
                out.push('\\');
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of an autolink (`<https://…>`, `<http://…>`, `<mailto:…>`) at the start.
fn autolink_len(text: &str) -> Option<usize> {
    let inner = &text[1..];
    if !["http://", "https://", "mailto:"]
        .iter()
        .any(|scheme| inner.starts_with(scheme))
    {
        return None;
    }
    let end = inner.find(|c: char| c == '>' || c.is_whitespace())?;
    inner[end..].starts_with('>').then_some(end + 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(lines: &[&str]) -> Vec<String> {
        let mut lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        escape_html(&mut lines);
        lines
    }

    #[test]
    fn tags_are_escaped_in_prose() {
        assert_eq!(
            clean(&[" a <b>bold</b> claim"]),
            [r" a \<b>bold\</b> claim"]
        );
        assert_eq!(clean(&[" <!-- note -->"]), [r" \<!-- note -->"]);
    }

    #[test]
    fn comparisons_autolinks_and_escapes_are_kept() {
        assert_eq!(clean(&[" if a < b and 1<2"]), [" if a < b and 1<2"]);
        assert_eq!(
            clean(&[" see <https://grpc.io/x>."]),
            [" see <https://grpc.io/x>."]
        );
        assert_eq!(clean(&[r" already \<b\>"]), [r" already \<b\>"]);
    }

    #[test]
    fn code_is_left_alone() {
        assert_eq!(clean(&[" use `Vec<u8>` here"]), [" use `Vec<u8>` here"]);
        assert_eq!(clean(&[" ``a<b>`` and <c>"]), [r" ``a<b>`` and \<c>"]);
        assert_eq!(
            clean(&[" ```text", " <html>", " ```", " <p>"]),
            [" ```text", " <html>", " ```", r" \<p>"]
        );
    }
}
