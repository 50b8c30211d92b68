//! # sentinel-models
//!
//! Everything that turns a value into a judgement, as plain functions and
//! types (no timely, no I/O):
//!
//! * [`normalize`] — the CRS-style decoding and normalization pipeline, bounded;
//! * [`lex`] and [`lexicon`] — one-pass lexical summaries with the injection vocabularies;
//! * [`signatures`] — named, weighted detection signatures per class;
//! * [`features`] — the named, versioned feature tables (payload, request, behaviour, metadata);
//! * [`analysis`] — payload analysis (normalize → summarize → match → features);
//! * [`classifier`] — the [`classifier::PayloadClassifier`] trait and the rule classifier;
//! * [`csrf`] — the request-level CSRF judgement;
//! * [`behaviour`] — the behavioural anomaly score of a client window.

#![warn(missing_docs)]

pub mod analysis;
pub mod anomaly;
pub mod behaviour;
pub mod bundle;
pub mod cache;
pub mod classifier;
pub mod corpus;
pub mod corpus_files;
pub mod csrf;
pub mod dataset;
pub mod evaluate;
pub mod explain;
pub mod features;
pub mod fsutil;
pub mod learning;
pub mod lex;
pub mod lexicon;
pub mod ml;
pub mod normalize;
pub mod registry;
pub mod serving;
pub mod signatures;
pub mod trainer;

pub use analysis::{Analyzer, PayloadAnalysis};
pub use bundle::{ModelBundle, ModelsConfig};
pub use classifier::{label_of, PayloadClassifier, RuleClassifier};
