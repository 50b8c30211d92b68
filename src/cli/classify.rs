//! `sentinel classify`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use sentinel_models::{label_of, Analyzer, PayloadClassifier, RuleClassifier};
use sentinel_schema::{ClassScores, ThreatClass};

use super::{open_reader, payload_of, PayloadContext, PayloadInput};

/// Arguments of `sentinel classify`.
#[derive(clap::Args, Debug)]
pub struct ClassifyArgs {
    /// Input file (`-` or none for standard input).
    file: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value = "lines")]
    input: PayloadInput,
    /// Where the payloads come from (query values decode `+` as space).
    #[arg(long, value_enum, default_value = "query")]
    context: PayloadContext,
    /// Score at or above which a payload is labelled as its top attack class.
    #[arg(long, default_value_t = 0.5)]
    threshold: f32,
}

#[derive(Serialize)]
struct Out<'a> {
    label: ThreatClass,
    score: f32,
    class_scores: ClassScores,
    signatures: Vec<&'a str>,
}

#[derive(Serialize)]
struct Failed {
    label: ThreatClass,
    score: f32,
    error: String,
}

/// Runs the command.
pub fn run(args: ClassifyArgs) -> anyhow::Result<i32> {
    let reader = open_reader(args.file.as_deref())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    classify_lines(
        reader,
        &mut out,
        args.input,
        args.context == PayloadContext::Query,
        args.threshold,
    )?;
    out.flush().context("cannot write to standard output")?;
    Ok(0)
}

/// Classifies each line of `reader` into one JSON line on `out`.
pub fn classify_lines(
    mut reader: Box<dyn BufRead>,
    out: &mut dyn Write,
    input: PayloadInput,
    form: bool,
    threshold: f32,
) -> anyhow::Result<u64> {
    let mut analyzer = Analyzer::default();
    let classifier = RuleClassifier;
    let mut line = Vec::new();
    let mut n = 0;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .context("cannot read input")?
            == 0
        {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        n += 1;
        match payload_of(&line, input) {
            Ok(payload) => {
                let a = analyzer.analyze_new(&payload, form);
                let scores = classifier.classify(&a).rounded();
                let (label, score) = label_of(&scores, threshold);
                serde_json::to_writer(
                    &mut *out,
                    &Out {
                        label,
                        score: (score * 10_000.0).round() / 10_000.0,
                        class_scores: scores,
                        signatures: a.signature_ids().collect(),
                    },
                )?;
            }
            Err(error) => serde_json::to_writer(
                &mut *out,
                &Failed {
                    label: ThreatClass::Benign,
                    score: 0.0,
                    error,
                },
            )?,
        }
        out.write_all(b"\n")?;
    }
    Ok(n)
}
