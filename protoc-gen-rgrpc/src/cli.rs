//! `protoc-gen-rgrpc compile`: the no-protoc mode, for Makefiles on machines without protoc.
//! Arguments follow protoc's where they overlap (`-I`/`--proto_path`, then the files).

use std::path::PathBuf;
use std::process::ExitCode;

use protoc_gen_rgrpc::Parameters;
use protoc_gen_rgrpc::compile::{self, Options};

pub(crate) const USAGE: &str = "\
protoc-gen-rgrpc compile: generates without protoc (the .proto files are parsed in Rust)

    protoc-gen-rgrpc compile [-I DIR]... [--opt k=v,...] [-o FILE] --out DIR FILE.proto...

    -I, --include, --proto_path DIR
                 directory the files and their imports are relative to (repeatable, searched
                 in order; default: the current directory). The well-known types
                 (google/protobuf/*.proto) are built in.
    --opt k=v,...
                 the plugin parameters, as for --rgrpc_opt (repeatable, joined with ',')
    --out DIR    where to write the generated files (created if missing)
    -o, --descriptor_set_out FILE
                 also write the files' descriptors, imports and comments included, as one
                 FileDescriptorSet (protoc's -o with --include_imports --include_source_info)
    -h, --help   print this help

The output is the same as protoc --rgrpc_out with the same -I, parameters and files. Exit
status: 0 on success, 1 on an error in the input (printed as file:line:column: message),
2 on a usage error.";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Compile {
        options: Options,
        out: PathBuf,
        descriptor_set_out: Option<PathBuf>,
    },
}

/// Runs `compile` with the arguments after the word `compile`.
pub(crate) fn main(args: &[String]) -> ExitCode {
    match parse(args) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Compile {
            options,
            out,
            descriptor_set_out,
        }) => {
            let written = compile::run(&options).and_then(|output| {
                if let Some(path) = &descriptor_set_out {
                    compile::write_descriptor_set(&output, path)?;
                }
                compile::write(&output, &out)
            });
            match written {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    eprintln!("{err}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            eprintln!("protoc-gen-rgrpc compile: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: &[String]) -> Result<Command, String> {
    let mut options = Options::default();
    let mut parameters: Vec<String> = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut descriptor_set_out: Option<PathBuf> = None;
    let mut args = args.iter();
    let mut only_files = false;
    while let Some(arg) = args.next() {
        if only_files || !arg.starts_with('-') || arg == "-" {
            options.files.push(PathBuf::from(arg));
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String, String> {
            match inline.clone() {
                Some(value) => Ok(value),
                None => args.next().cloned().ok_or(format!("{flag} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--" => only_files = true,
            "-I" | "--include" | "--proto_path" => options.includes.push(value()?.into()),
            "--opt" => parameters.push(value()?),
            "--out" if out.is_some() => return Err("--out given twice".to_owned()),
            "--out" => out = Some(value()?.into()),
            "-o" | "--descriptor_set_out" if descriptor_set_out.is_some() => {
                return Err(format!("{flag} given twice"));
            }
            "-o" | "--descriptor_set_out" => descriptor_set_out = Some(value()?.into()),
            _ if flag.starts_with("-I") => options.includes.push(flag[2..].into()),
            _ => return Err(format!("unknown option {arg:?}")),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    if options.files.is_empty() {
        return Err("no .proto file given".to_owned());
    }
    options.parameters = parameters
        .into_iter()
        .fold(Parameters::new(), Parameters::raw);
    Ok(Command::Compile {
        options,
        out,
        descriptor_set_out,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn protoc_style_flags_in_every_spelling() {
        let parsed = parse(&args(
            "-I a -Ib --include c --proto_path=d --opt x=1 --opt=y --out o -o s.bin f.proto -- -g.proto",
        ))
        .unwrap();
        let expected = Options {
            includes: ["a", "b", "c", "d"].map(PathBuf::from).to_vec(),
            files: ["f.proto", "-g.proto"].map(PathBuf::from).to_vec(),
            parameters: Parameters::new().raw("x=1").raw("y"),
        };
        assert_eq!(
            parsed,
            Command::Compile {
                options: expected,
                out: "o".into(),
                descriptor_set_out: Some("s.bin".into()),
            }
        );
    }

    #[test]
    fn usage_errors() {
        for (line, error) in [
            ("f.proto", "--out DIR is required"),
            ("--out o", "no .proto file given"),
            ("--out o --out p f.proto", "--out given twice"),
            ("--out", "--out needs a value"),
            ("--out o -x f.proto", "unknown option \"-x\""),
            ("--out o -o a -o b f.proto", "-o given twice"),
        ] {
            assert_eq!(parse(&args(line)).unwrap_err(), error, "{line}");
        }
        assert_eq!(parse(&args("--out o --help")).unwrap(), Command::Help);
    }
}
