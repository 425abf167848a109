//! What rustdoc and rustc must not see in doc lines, whatever the proto comment held: raw
//! HTML (a proto comment saying `returns a <Thing>` would be an unclosed tag to rustdoc, a
//! warning under `-D warnings`, and the text would disappear from the page), and
//! text-direction code points and bare carriage returns, which rustc refuses in any
//! comment. Tags are escaped outside code; autolinks (`<https://…>`) are kept.

/// Escapes raw HTML tags in the doc lines of one item, leaving fenced code alone.
pub(crate) fn escape_html(lines: &mut [String]) {
    let mut cleaner = DocCleaner::default();
    for line in lines {
        if let Some(cleaned) = cleaner.clean_line(line) {
            *line = cleaned;
        }
    }
}

/// Code points rustc refuses in comments and doc comments (the deny-by-default lint
/// `text_direction_codepoint_in_comment`): they can make source read differently from
/// how it compiles ("Trojan Source").
const TEXT_DIRECTION_CODEPOINTS: &[char] = &[
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}',
];

/// Makes the doc lines of one item acceptable to rustc whatever the proto comment held:
/// text-direction code points are written out as `\u{202E}`, and a stray carriage return
/// (bare CR is not allowed in a doc comment) becomes a space.
pub(crate) fn escape_invisible(lines: &mut [String]) {
    for line in lines {
        if !line.contains(|c| c == '\r' || TEXT_DIRECTION_CODEPOINTS.contains(&c)) {
            continue;
        }
        let mut escaped = String::with_capacity(line.len() + 8);
        for c in line.chars() {
            match c {
                '\r' => escaped.push(' '),
                c if TEXT_DIRECTION_CODEPOINTS.contains(&c) => {
                    escaped.push_str(&c.escape_unicode().to_string());
                }
                c => escaped.push(c),
            }
        }
        *line = escaped;
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
    fn text_direction_code_points_and_bare_cr_are_made_visible() {
        let mut lines = vec![
            " a \u{202E}b\u{2066} c".to_owned(),
            " x\ry".to_owned(),
            " plain é".to_owned(),
        ];
        escape_invisible(&mut lines);
        assert_eq!(lines, [r" a \u{202e}b\u{2066} c", " x y", " plain é"]);
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
