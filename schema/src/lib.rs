//! # sentinel-schema
//!
//! Every record that crosses a Sentinel boundary — Kafka topics, JSONL files,
//! the data directory, the HTTP API — is defined here, once.
//!
//! * JSON is the wire encoding (serde). Inside the timely graph the same types
//!   travel with timely's own (bincode) encoding.
//! * Every type derives [`schemars::JsonSchema`]; the exported schemas live in
//!   `schema/json/` and a test fails when they drift from the types
//!   (`SENTINEL_BLESS=1 cargo test -p sentinel-schema` rewrites them).
//! * [`SCHEMA_VERSION`] is stamped into every output record.

#![warn(missing_docs)]

mod audit;
mod bytes;
mod class;
mod dead_letter;
mod evidence;
mod evidence_ready;
mod explanation;
mod features;
mod feedback;
mod hex_id;
mod http;
pub mod json_schema;
mod model;
mod package;
mod payload;
mod provenance;
mod rule;
mod sim;
mod verdict;

pub use audit::{AuditHook, AuditRecord, NoAudit};
pub use bytes::ByteString;
pub use class::{ClassScores, ParseClassError, ThreatClass};
pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use evidence::{
    ClientInfo, Enrichment, EvidenceEvent, EvidencePackageRef, TimeSource, MAX_EVENT_TIME_MS,
};
pub use evidence_ready::{EvidenceReady, EvidenceReadyRef};
pub use explanation::{
    BehaviourExplanation, Contribution, ContributionKind, PayloadExplanation, SignatureMatch,
    VerdictExplanation,
};
pub use features::FeatureVector;
pub use feedback::{Feedback, FeedbackKind};
pub use hex_id::push_hex128;
pub use http::{Header, HttpRequest, HttpResponse};
pub use model::ModelMeta;
pub use package::EvidencePackage;
pub use payload::{ParseLocationError, Payload, PayloadLocation};
pub use provenance::Provenance;
pub use rule::{RuleAction, RuleProvenance, RuleStatus, WafRule};
pub use sim::SimResult;
pub use verdict::{Decision, Finding, Verdict};

/// Version of the record schemas in this crate, stamped into every output record.
///
/// Bump it when a wire type changes incompatibly.
pub const SCHEMA_VERSION: u32 = 1;
