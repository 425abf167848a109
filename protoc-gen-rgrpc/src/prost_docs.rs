//! The doc comments of prost's messages, rendered by our rustdoc pipeline instead of by
//! prost-build.
//!
//! prost-build escapes every comment line for rustdoc with two regexes, one of which
//! needs the slow capture engine on every line: on a large corpus that is a third of the
//! plugin's time. Its rendering also differed from our services' (an indented code block
//! lost its indentation). So prost gets each comment replaced by a short marker naming it,
//! and [`Comments::expand`] swaps the markers in its output for the comment's lines, made
//! by `rustdoc`, the pipeline the services' docs go through.

use prost_types::FileDescriptorProto;

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

/// The rustdoc lines (without `///`) of one proto comment, by the pipeline services use.
fn doc_lines(comment: &str) -> Vec<String> {
    crate::rustdoc::lines(None, &crate::rustdoc::comment_lines(comment), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

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
