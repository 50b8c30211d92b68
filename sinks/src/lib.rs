//! # sentinel-sinks
//!
//! Where Sentinel's outputs go. Every sink writes whole records and can be
//! flushed; file sinks never leave a half-written file behind where a reader
//! expects a complete one (rule files are replaced atomically).

#![warn(missing_docs)]

pub mod audit_log;
mod jsonl;
pub mod kafka;
mod out_dir;
pub mod rules_dir;
mod rules_file;

pub use audit_log::{verify as verify_audit_log, AuditLog};
pub use jsonl::JsonlFile;
pub use out_dir::{OutputDir, OutputKind};
pub use rules_dir::{latest_versions, RulesDir};
pub use rules_file::{render_rules_conf, write_atomically};
