//! `sentinel features`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use sentinel_models::features::{self, payload};
use sentinel_models::Analyzer;
use sentinel_schema::FeatureVector;

use super::{open_reader, payload_of, PayloadContext, PayloadInput};

/// Arguments of `sentinel features`.
#[derive(clap::Args, Debug)]
pub struct FeaturesArgs {
    /// Input file (`-` or none for standard input).
    file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "lines")]
    input: PayloadInput,
    /// Where the payloads come from (query values decode `+` as space).
    #[arg(long, value_enum, default_value = "query")]
    context: PayloadContext,
    /// Print the table of every feature (payload, request, behaviour, metadata) as Markdown and exit.
    #[arg(long)]
    list: bool,
}

#[derive(Serialize)]
struct Out<'a> {
    normalized: &'a str,
    signatures: Vec<&'a str>,
    features: FeatureVector,
}

/// Runs the command.
pub fn run(args: FeaturesArgs) -> anyhow::Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.list {
        out.write_all(features::markdown_table().as_bytes())?;
        out.flush()?;
        return Ok(0);
    }
    let mut reader = open_reader(args.file.as_deref())?;
    let names: Vec<&str> = payload::SPECS.iter().map(|s| s.name).collect();
    let mut analyzer = Analyzer::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .context("cannot read input")?
            == 0
        {
            break;
        }
        while matches!(line.last(), Some(b'\n') | Some(b'\r')) {
            line.pop();
        }
        match payload_of(&line, args.input) {
            Ok(p) => {
                let a = analyzer.analyze_new(&p, args.context == PayloadContext::Query);
                serde_json::to_writer(
                    &mut out,
                    &Out {
                        normalized: &a.normalized.text,
                        signatures: a.signature_ids().collect(),
                        features: FeatureVector::new(payload::VERSION, &names, &a.features),
                    },
                )?;
            }
            Err(e) => serde_json::to_writer(&mut out, &serde_json::json!({ "error": e }))?,
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(0)
}
