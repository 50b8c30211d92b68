//! The `--out DIR` layout of a replay.

use std::io;
use std::path::{Path, PathBuf};

use crate::JsonlFile;

/// The record kinds written to an output directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputKind {
    /// `verdicts.jsonl` (`events.sentinel_verdict`).
    Verdicts,
    /// `rules.jsonl` (`events.rule_generated`).
    Rules,
    /// `evidence_ready.jsonl` (`events.evidence_ready`).
    EvidenceReady,
    /// `dead_letters.jsonl` (`events.dead_letter`).
    DeadLetters,
    /// `sim_results.jsonl` (`events.sim_result`).
    SimResults,
}

impl OutputKind {
    /// Every kind.
    pub const ALL: [OutputKind; 5] = [
        OutputKind::Verdicts,
        OutputKind::Rules,
        OutputKind::EvidenceReady,
        OutputKind::DeadLetters,
        OutputKind::SimResults,
    ];

    /// The file name in the output directory.
    pub fn file_name(self) -> &'static str {
        match self {
            OutputKind::Verdicts => "verdicts.jsonl",
            OutputKind::Rules => "rules.jsonl",
            OutputKind::EvidenceReady => "evidence_ready.jsonl",
            OutputKind::DeadLetters => "dead_letters.jsonl",
            OutputKind::SimResults => "sim_results.jsonl",
        }
    }

    /// The Kafka topic with the same records.
    pub fn default_topic(self) -> &'static str {
        match self {
            OutputKind::Verdicts => "events.sentinel_verdict",
            OutputKind::Rules => "events.rule_generated",
            OutputKind::EvidenceReady => "events.evidence_ready",
            OutputKind::DeadLetters => "events.dead_letter",
            OutputKind::SimResults => "events.sim_result",
        }
    }
}

/// An output directory.
#[derive(Clone, Debug)]
pub struct OutputDir {
    root: PathBuf,
}

impl OutputDir {
    /// Creates the directory (and parents) if needed.
    pub fn create(root: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(root)?;
        Ok(OutputDir {
            root: root.to_path_buf(),
        })
    }

    /// The path of a kind's file.
    pub fn path(&self, kind: OutputKind) -> PathBuf {
        self.root.join(kind.file_name())
    }

    /// The path of the ModSecurity rules file (`rules.conf`).
    pub fn rules_conf(&self) -> PathBuf {
        self.root.join("rules.conf")
    }

    /// Opens (truncates) a kind's file.
    pub fn open(&self, kind: OutputKind) -> io::Result<JsonlFile> {
        JsonlFile::create(&self.path(kind))
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
