//! Why a build-script compile failed, worded for the build log.

use std::fmt;

use protoc_gen_rgrpc::compile;

/// A failed [`Builder::compile`](crate::Builder::compile).
///
/// `Debug` prints the same text as `Display`: a build script's `main` that returns this
/// error (directly or boxed) prints it with `Debug`, and cargo shows that in the build log,
/// where a struct dump would bury the location of the problem.
#[non_exhaustive]
pub enum Error {
    /// No output directory: `OUT_DIR` is unset (the code is not running as a build
    /// script) and [`Builder::out_dir`](crate::Builder::out_dir) was not called.
    OutDirUnset,
    /// The front end or the generator refused the input, or the output could not be
    /// written; the message is located at the offending file, line and column.
    Compile(compile::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::OutDirUnset => f.write_str(
                "OUT_DIR is not set: rgrpc-build writes to OUT_DIR when run by cargo as a build \
                 script; elsewhere, name the output directory with .out_dir(path)",
            ),
            // The front end's message already names file, line and column; adding words
            // around it would only push the location further from the start of the line.
            Error::Compile(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

// `source` stays `None`: `Display` already carries the front end's message, and reporting it
// again as a cause would print it twice in error chains.
impl std::error::Error for Error {}

impl From<compile::Error> for Error {
    fn from(error: compile::Error) -> Self {
        Error::Compile(error)
    }
}
