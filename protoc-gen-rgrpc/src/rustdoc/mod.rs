//! The one rustdoc pipeline: every proto comment becomes doc lines here, for prost's
//! messages and our services alike, so the same comment reads the same on both.
//!
//! A comment's lines are sanitised as Markdown (`markdown`: code fenced as `text`, URLs
//! linked, brackets escaped), then made safe as HTML and as Rust source (`hygiene`).

mod hygiene;
mod markdown;

/// The doc lines (each without `///`, starting with a space unless empty) of one item: an
/// optional generated first sentence, the proto comment's lines, then generated notes,
/// each its own paragraph.
pub(crate) fn lines(summary: Option<&str>, comment: &[String], notes: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = summary.map(|s| format!(" {s}")).into_iter().collect();
    let body = markdown::sanitize(comment);
    if !body.is_empty() {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(body);
    }
    for note in notes {
        lines.push(String::new());
        lines.push(format!(" {note}"));
    }
    hygiene::escape_html(&mut lines);
    hygiene::escape_invisible(&mut lines);
    lines
}

/// A proto comment's text as lines. A bare CR ends a line too, as in CommonMark; left
/// inside a line it would make rustc refuse the `///` comment.
pub(crate) fn comment_lines(text: &str) -> Vec<String> {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.lines().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_indented_block_reads_the_same_with_or_without_a_summary() {
        let comment = comment_lines(" Example:\n\n     let x = 1;\n");
        let message = lines(None, &comment, &[]);
        assert_eq!(
            message,
            [" Example:", "", " ```text", "     let x = 1;", " ```"]
        );
        let service = lines(Some("Summary."), &comment, &[]);
        assert_eq!(service[..2], [" Summary.", ""]);
        assert_eq!(service[2..], message);
    }
}
