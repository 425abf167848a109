//! The binaries' command lines: `--name value` pairs, each flag known and given once.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// Parsed `--flag value` pairs.
#[derive(Debug)]
pub struct Flags {
    program: &'static str,
    values: HashMap<String, String>,
}

impl Flags {
    /// Parses `args` (without the program name), accepting only the flags in `known`.
    pub fn parse(
        program: &'static str,
        known: &[&str],
        args: impl IntoIterator<Item = String>,
    ) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let Some(flag) = arg.strip_prefix("--") else {
                return Err(format!("{program}: unexpected argument {arg:?}"));
            };
            if !known.contains(&flag) {
                return Err(format!(
                    "{program}: unknown flag --{flag} (known: --{})",
                    known.join(", --")
                ));
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{program}: --{flag} needs a value"))?;
            if values.insert(flag.to_owned(), value).is_some() {
                return Err(format!("{program}: --{flag} given twice"));
            }
        }
        Ok(Self { program, values })
    }

    /// The value of `--flag`, if given.
    pub fn text(&self, flag: &str) -> Option<&str> {
        self.values.get(flag).map(String::as_str)
    }

    /// The value of `--flag`, which must be given.
    pub fn required(&self, flag: &str) -> Result<&str, String> {
        self.text(flag)
            .ok_or_else(|| format!("{}: --{flag} is required", self.program))
    }

    /// The value of `--flag` parsed as `T`, if given.
    pub fn parsed<T: FromStr>(&self, flag: &str) -> Result<Option<T>, String>
    where
        T::Err: std::fmt::Display,
    {
        self.text(flag)
            .map(|text| {
                text.parse().map_err(|err| {
                    format!("{}: --{flag} {text:?} is not valid: {err}", self.program)
                })
            })
            .transpose()
    }

    /// The value of `--flag` as milliseconds, if given.
    pub fn millis(&self, flag: &str) -> Result<Option<Duration>, String> {
        Ok(self.parsed::<u64>(flag)?.map(Duration::from_millis))
    }
}
