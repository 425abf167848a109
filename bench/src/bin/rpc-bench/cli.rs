//! The command line after the subcommand: `--flag value` pairs, each flag one the
//! subcommand knows.

use std::collections::BTreeMap;
use std::str::FromStr;

#[derive(Debug)]
pub struct Flags {
    values: BTreeMap<String, String>,
}

impl Flags {
    pub fn parse(args: &[String], known: &[&str]) -> Result<Flags, String> {
        let mut values = BTreeMap::new();
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            let name = flag
                .strip_prefix("--")
                .filter(|name| known.contains(name))
                .ok_or_else(|| {
                    format!(
                        "unexpected argument {flag:?} (flags here: --{})",
                        known.join(", --")
                    )
                })?;
            let value = rest.next().ok_or_else(|| format!("{flag} needs a value"))?;
            values.insert(name.to_owned(), value.clone());
        }
        Ok(Flags { values })
    }

    pub fn optional<T: FromStr>(&self, name: &str) -> Result<Option<T>, String> {
        self.values
            .get(name)
            .map(|text| {
                text.parse()
                    .map_err(|_| format!("--{name}: cannot read {text:?}"))
            })
            .transpose()
    }

    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    pub fn required<T: FromStr>(&self, name: &str) -> Result<T, String> {
        self.optional(name)?
            .ok_or_else(|| format!("--{name} is required"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_are_known_and_typed() {
        let flags = Flags::parse(&args("--reps 3 --seconds 0.5"), &["reps", "seconds"]).unwrap();
        assert_eq!(flags.get("reps", 1usize).unwrap(), 3);
        assert_eq!(flags.required::<f64>("seconds").unwrap(), 0.5);
        assert_eq!(flags.get("other", 7u32).unwrap(), 7);
        assert!(flags.required::<u32>("other").is_err());
        assert!(Flags::parse(&args("--nope 1"), &["reps"]).is_err());
        assert!(Flags::parse(&args("--reps"), &["reps"]).is_err());
        let bad = Flags::parse(&args("--reps x"), &["reps"]).unwrap();
        assert!(bad.get("reps", 1usize).is_err());
    }
}
