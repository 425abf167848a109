//! The errors of `compile`: protox's diagnostics turned into `file:line:column: message (near
//! `token`)`, the form compilers and editors understand, pointing at the file on disk.

use std::fmt;
use std::path::PathBuf;

use miette::Diagnostic;

/// A clear, located error (Display: `path/file.proto:LINE:COL: message (near `token`)`, or the
/// generator's error text).
#[derive(Debug)]
pub struct Error {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A problem at a place in a `.proto` file; line and column are 1-based.
    Located {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
        token: String,
        help: Option<String>,
    },
    /// A problem with a whole file (missing, outside the include directories, a cycle without
    /// a known place).
    File { file: PathBuf, message: String },
    /// The generator refused the request: its text, as protoc shows it after `--rgrpc_out: `.
    Generator(String),
    /// Nothing to do, or a bad argument.
    Usage(String),
    /// Writing the output failed.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Longest token shown; a longer span (a whole statement) is cut here.
const MAX_TOKEN_CHARS: usize = 60;

impl Error {
    pub(super) fn located(
        file: PathBuf,
        (line, column): (usize, usize),
        message: String,
        token: &str,
    ) -> Self {
        let kind = Kind::Located {
            file,
            line,
            column,
            message,
            token: shorten(token),
            help: None,
        };
        Self { kind }
    }

    pub(super) fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        let (file, message) = (file.into(), message.into());
        Self {
            kind: Kind::File { file, message },
        }
    }

    pub(super) fn generator(message: String) -> Self {
        Self {
            kind: Kind::Generator(message),
        }
    }

    pub(super) fn usage(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Usage(message.into()),
        }
    }

    pub(super) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self {
            kind: Kind::Io {
                path: path.into(),
                source,
            },
        }
    }

    fn with_help(mut self, text: Option<String>) -> Self {
        if let Kind::Located { help, .. } = &mut self.kind {
            *help = text;
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Located {
                file,
                line,
                column,
                message,
                token,
                help,
            } => {
                write!(f, "{}:{line}:{column}: {message}", file.display())?;
                if token.is_empty() {
                    write!(f, " (at end of file)")?;
                } else {
                    write!(f, " (near `{token}`)")?;
                }
                match help {
                    Some(help) => write!(f, "\n  help: {help}"),
                    None => Ok(()),
                }
            }
            Kind::File { file, message } => write!(f, "{}: {message}", file.display()),
            Kind::Generator(message) | Kind::Usage(message) => f.write_str(message),
            Kind::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Converts protox's error, naming the file by its path on disk (found in `includes`).
pub(super) fn from_protox(err: &protox::Error, includes: &[PathBuf]) -> Error {
    let message = err.to_string();
    let Some(name) = err.file() else {
        return Error::usage(message);
    };
    let file = disk_path(name, includes);
    if let Some((position, token)) = position(err, name) {
        let message = reword(message, &token);
        let help = err.help().map(|help| help.to_string());
        return Error::located(file, position, message, &token).with_help(help);
    }
    if let Some(located) = locate_cycle(&message, includes) {
        return located;
    }
    Error::file(file, message)
}

/// Where `name` is on disk: in the first include directory that has it, like the resolver.
/// The built-in well-known types have no such place and keep their name.
pub(super) fn disk_path(name: &str, includes: &[PathBuf]) -> PathBuf {
    includes
        .iter()
        .map(|include| include.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// The (1-based line, column) protox reports and the text of the span there.
///
/// protox's `Debug` gives `name:LINE:COL: message` with the primary position (for a duplicate,
/// the second definition); the labels give the spans, so the one starting there is the token.
fn position(err: &protox::Error, name: &str) -> Option<((usize, usize), String)> {
    let debug = format!("{err:?}");
    let reported = debug
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(':'))
        .and_then(parse_line_column);
    let source = err.source_code();
    let spans: Vec<((usize, usize), String)> = err
        .labels()
        .into_iter()
        .flatten()
        .filter_map(|label| {
            let contents = source?.read_span(label.inner(), 0, 0).ok()?;
            let text = String::from_utf8_lossy(contents.data()).into_owned();
            Some(((contents.line() + 1, contents.column() + 1), text))
        })
        .collect();
    match reported {
        Some(at) => {
            let token = spans
                .iter()
                .find(|(start, _)| *start == at)
                .or(spans.first())
                .map(|(_, text)| text.clone())
                .unwrap_or_default();
            Some((at, token))
        }
        None => spans.into_iter().next(),
    }
}

/// `LINE:COL: ...` → (LINE, COL).
fn parse_line_column(text: &str) -> Option<(usize, usize)> {
    let mut parts = text.splitn(3, ':');
    let line = parts.next()?.parse().ok()?;
    let column = parts.next()?.parse().ok()?;
    parts.next().map(|_| (line, column))
}

/// protox does not know editions and says "expected 'enum', …, but found 'edition'"; say what
/// is actually wrong, in the generator's words.
fn reword(message: String, token: &str) -> String {
    if token == "edition" && message.ends_with("but found 'edition'") {
        crate::error::EDITIONS_UNSUPPORTED.to_owned()
    } else {
        message
    }
}

/// protox reports a cycle as `import cycle detected: a.proto -> b.proto -> a.proto` with no
/// place; the place is the import of the last file in the one before it.
fn locate_cycle(message: &str, includes: &[PathBuf]) -> Option<Error> {
    let cycle = message.strip_prefix("import cycle detected: ")?;
    let chain: Vec<&str> = cycle.split(" -> ").collect();
    let (imported, importer) = match chain.as_slice() {
        [.., importer, imported] => (*imported, *importer),
        _ => return None,
    };
    let path = disk_path(importer, includes);
    let file = protox::file::File::open(importer, &path).ok()?;
    let descriptor = file.file_descriptor_proto();
    let index = descriptor.dependency.iter().position(|d| d == imported)?;
    let index = i32::try_from(index).ok()?;
    let span = descriptor
        .source_code_info
        .as_ref()?
        .location
        .iter()
        .find(|location| location.path == [3, index])?
        .span
        .clone();
    let (line, start, end) = match span.as_slice() {
        [line, start, end] => (*line, *start, *end),
        [line, start, _, _] => (*line, *start, *start),
        _ => return None,
    };
    let line_text = file
        .source()?
        .lines()
        .nth(usize::try_from(line).ok()?)
        .unwrap_or_default();
    let token: String = line_text
        .chars()
        .skip(usize::try_from(start).ok()?)
        .take(usize::try_from(end - start).ok()?)
        .collect();
    let position = (
        usize::try_from(line).ok()? + 1,
        usize::try_from(start).ok()? + 1,
    );
    Some(Error::located(
        path,
        position,
        format!("import cycle: {cycle}"),
        &token,
    ))
}

/// The first line of `token`, at most [`MAX_TOKEN_CHARS`] characters.
fn shorten(token: &str) -> String {
    let line = token.lines().next().unwrap_or_default().trim_end();
    if line.chars().count() > MAX_TOKEN_CHARS || line.len() < token.trim_end().len() {
        let cut: String = line.chars().take(MAX_TOKEN_CHARS).collect();
        format!("{cut}…")
    } else {
        line.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_parsed_only_with_a_message_after() {
        assert_eq!(parse_line_column("3:14: oops"), Some((3, 14)));
        assert_eq!(parse_line_column("3:14"), None);
        assert_eq!(parse_line_column("x:14: oops"), None);
    }

    #[test]
    fn long_or_multiline_tokens_are_cut() {
        assert_eq!(shorten("Foo"), "Foo");
        assert_eq!(shorten("message Foo {\n}"), "message Foo {…");
        assert_eq!(shorten(&"a".repeat(61)), format!("{}…", "a".repeat(60)));
    }

    #[test]
    fn display_forms() {
        let located = Error::located("p/a.proto".into(), (3, 7), "bad".into(), "x");
        assert_eq!(located.to_string(), "p/a.proto:3:7: bad (near `x`)");
        let eof = Error::located("a.proto".into(), (9, 1), "bad".into(), "");
        assert_eq!(eof.to_string(), "a.proto:9:1: bad (at end of file)");
        let helped = located.with_help(Some("try y".into()));
        assert_eq!(
            helped.to_string(),
            "p/a.proto:3:7: bad (near `x`)\n  help: try y"
        );
        assert_eq!(Error::file("a.proto", "gone").to_string(), "a.proto: gone");
    }
}
