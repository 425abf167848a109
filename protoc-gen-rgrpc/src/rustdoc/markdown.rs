//! Proto comment lines as Markdown that rustdoc reads as prose: code blocks fenced as
//! `text` (never compiled as doctests), bare URLs made links, brackets escaped unless they
//! make an inline link.

/// Sanitises proto comment lines for rustdoc:
/// * indented blocks (4+ spaces) and fenced blocks become ```` ```text ```` so a user's
///   `cargo test --doc` does not try to compile proto prose;
/// * bare URLs are wrapped in `<…>` so they link instead of tripping a lint;
/// * `[` and `]` are escaped so `[foo]` is not read as an intra-doc link, except those of
///   an inline link (`[text](url)`, whose text may run over lines), which stays a link.
pub(super) fn sanitize(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    // The prose lines since the last line of anything else: a paragraph, whose inline
    // links are found across its lines.
    let mut paragraph: Vec<&str> = Vec::new();
    let mut in_indented = false;
    let mut in_fence = false;
    // Blank lines seen inside an indented block, not yet placed.
    let mut blank_run = 0;
    // Trailing blank lines add nothing.
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    for raw in &lines[..end] {
        // protoc keeps the space after `//`; drop exactly one, as prost does.
        let line = raw.strip_prefix(' ').unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            out.extend(prose(&mut paragraph));
            out.push(if in_fence {
                " ```".to_owned()
            } else {
                " ```text".to_owned()
            });
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            out.extend(prose(&mut paragraph));
            out.push(format!(" {line}"));
            continue;
        }
        let indented = line.starts_with("    ") || line.starts_with('\t');
        let blank = line.trim().is_empty();
        if in_indented && blank {
            // Inside the block if more of it follows, after it if prose does.
            blank_run += 1;
            continue;
        }
        // Anything but a line of prose ends the paragraph.
        if in_indented || blank || indented {
            out.extend(prose(&mut paragraph));
        }
        if indented && !in_indented {
            out.push(" ```text".to_owned());
            in_indented = true;
        } else if !indented && in_indented {
            out.push(" ```".to_owned());
            in_indented = false;
        }
        let blanks = std::mem::take(&mut blank_run);
        out.extend(std::iter::repeat_n(String::new(), blanks));
        if in_indented {
            out.push(format!(" {line}"));
        } else if blank {
            out.push(String::new());
        } else {
            paragraph.push(line);
        }
    }
    out.extend(prose(&mut paragraph));
    if in_indented || in_fence {
        out.push(" ```".to_owned());
    }
    out
}

/// The lines of one paragraph of prose, taken from `paragraph`, with brackets escaped
/// (but an inline link's) and URLs wrapped, each line with its leading space.
fn prose(paragraph: &mut Vec<&str>) -> Vec<String> {
    let text = paragraph.join("\n");
    paragraph.clear();
    if text.is_empty() {
        return Vec::new();
    }
    // Most comments have nothing to escape or link: keep them as they are.
    if !text.contains(['[', ']']) && !text.contains("http") {
        return text.split('\n').map(|line| format!(" {line}")).collect();
    }
    // Sorted, and met in order below.
    let mut links = link_brackets(&text).into_iter().peekable();
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text.as_str();
    while !rest.is_empty() {
        if let Some(url_len) = url_at(rest) {
            let (url, tail) = rest.split_at(url_len);
            // Already an autolink (`<https://…>`): keep it as it is.
            let wrap = !out.ends_with('<');
            if wrap {
                out.push('<');
            }
            out.push_str(url);
            if wrap {
                out.push('>');
            }
            rest = tail;
            continue;
        }
        let at = text.len() - rest.len();
        let mut chars = rest.chars();
        let Some(c) = chars.next() else { break };
        // (A link's bracket inside a URL was copied with it: pass over it.)
        while links.next_if(|&link| link < at).is_some() {}
        if matches!(c, '[' | ']') && links.next_if_eq(&at).is_none() {
            out.push('\\');
        }
        out.push(c);
        rest = chars.as_str();
    }
    out.split('\n').map(|line| format!(" {line}")).collect()
}

/// The byte offsets of the brackets in `text` that make inline links: a `[` and the first
/// `]` after it with no bracket between, followed at once by `(`.
fn link_brackets(text: &str) -> Vec<usize> {
    let mut links = Vec::new();
    let mut open = None;
    for (at, c) in text.char_indices() {
        match c {
            '[' => open = Some(at),
            ']' => {
                if let Some(start) = open.take()
                    && text[at + 1..].starts_with('(')
                {
                    links.extend([start, at]);
                }
            }
            _ => {}
        }
    }
    links
}

/// The length of a bare `http(s)://` URL at the start of `text`, if there is one and it is
/// not already inside `<…>` (the caller sees `<` first and copies it through).
fn url_at(text: &str) -> Option<usize> {
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        return None;
    }
    let end = text
        .find(|c: char| c.is_whitespace() || matches!(c, '>' | ')' | '"' | '\''))
        .unwrap_or(text.len());
    // A sentence's final period or comma is not part of the URL.
    let url = text[..end].trim_end_matches(['.', ',', ';', ':']);
    Some(url.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn prose_is_kept_with_one_leading_space() {
        assert_eq!(sanitize(&lines(" Says hello.")), vec![" Says hello."]);
    }

    #[test]
    fn brackets_are_escaped_and_urls_wrapped() {
        assert_eq!(
            sanitize(&lines(" See [spec] at https://grpc.io/docs.")),
            vec![r" See \[spec\] at <https://grpc.io/docs>."]
        );
    }

    #[test]
    fn inline_links_stay_links_even_over_two_lines() {
        assert_eq!(
            sanitize(&lines(
                " See [the\n spec](https://grpc.io/a), [x][y] and [z]."
            )),
            vec![
                " See [the",
                r" spec](<https://grpc.io/a>), \[x\]\[y\] and \[z\]."
            ]
        );
    }

    #[test]
    fn autolinks_are_not_wrapped_twice() {
        assert_eq!(
            sanitize(&lines(" See <https://grpc.io/a> and https://grpc.io/b.")),
            vec![" See <https://grpc.io/a> and <https://grpc.io/b>."]
        );
    }

    #[test]
    fn indented_blocks_become_text_blocks() {
        assert_eq!(
            sanitize(&lines(" Example:\n     let x = 1;\n Done.")),
            vec![" Example:", " ```text", "     let x = 1;", " ```", " Done."]
        );
    }

    #[test]
    fn blank_lines_after_an_indented_block_follow_its_fence() {
        assert_eq!(
            sanitize(&lines(" Code:\n\n     a\n\n     b\n\n Prose.")),
            vec![
                " Code:", "", " ```text", "     a", "", "     b", " ```", "", " Prose."
            ]
        );
    }

    #[test]
    fn fences_are_marked_text_and_closed() {
        assert_eq!(
            sanitize(&lines(" ```\n fn main() {}")),
            vec![" ```text", " fn main() {}", " ```"]
        );
    }

    #[test]
    fn trailing_blank_lines_are_dropped() {
        assert_eq!(sanitize(&lines(" a\n\n")), vec![" a"]);
    }
}
