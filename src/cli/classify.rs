//! `sentinel classify`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use serde::Serialize;

use sentinel_models::bundle::PayloadSource;
use sentinel_models::serving::{ModelSet, ServingEngine};
use sentinel_models::{label_of, ModelsConfig};
use sentinel_schema::{ClassScores, ThreatClass};

use super::{open_reader, payload_of, DataDir, PayloadContext, PayloadInput};

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
    #[command(flatten)]
    data: DataDir,
    /// Payload classifier: the registry's models (default) or the rules alone.
    #[arg(long, value_enum, default_value = "registry")]
    payload_model: super::replay::PayloadModelArg,
    /// Client key the payloads are attributed to (decides canary routing).
    #[arg(long, default_value = "cli")]
    client: String,
}

#[derive(Serialize)]
struct Out<'a> {
    label: ThreatClass,
    score: f32,
    class_scores: ClassScores,
    signatures: &'a [&'static str],
    model: &'a str,
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
    let models = match args.payload_model {
        super::replay::PayloadModelArg::Rules => ModelSet::rules(),
        super::replay::PayloadModelArg::Registry => {
            let config = ModelsConfig {
                payload: PayloadSource::Registry,
                ..ModelsConfig::default()
            };
            crate::models_open::open_models(&args.data.data_dir, &config, false)?
                .payload
                .clone()
        }
    };
    let engine = ServingEngine::new(models, ModelsConfig::default().serving);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    classify_lines(
        reader,
        &mut out,
        &Options {
            input: args.input,
            form: args.context == PayloadContext::Query,
            threshold: args.threshold,
            client: &args.client,
        },
        &engine,
    )?;
    out.flush().context("cannot write to standard output")?;
    Ok(0)
}

/// How `classify_lines` reads and labels.
pub struct Options<'a> {
    /// Input format.
    pub input: PayloadInput,
    /// `+` means space.
    pub form: bool,
    /// Label threshold.
    pub threshold: f32,
    /// Client key for canary routing.
    pub client: &'a str,
}

/// Classifies each line of `reader` into one JSON line on `out`.
pub fn classify_lines(
    mut reader: Box<dyn BufRead>,
    out: &mut dyn Write,
    o: &Options<'_>,
    engine: &ServingEngine,
) -> anyhow::Result<u64> {
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
        match payload_of(&line, o.input) {
            Ok(payload) => {
                let p = engine.predict(&payload, o.form, o.client);
                let (label, score) = label_of(&p.class_scores, o.threshold);
                serde_json::to_writer(
                    &mut *out,
                    &Out {
                        label,
                        score: (score * 10_000.0).round() / 10_000.0,
                        class_scores: p.class_scores,
                        signatures: &p.signatures,
                        model: &p.model_version,
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
