//! # sentinel-operators
//!
//! The stages of the Sentinel graph as plain, deterministic functions and
//! types, testable without timely:
//!
//! * [`validate`] — checks on decoded events (the decode stage's second half);
//! * [`enrich`] — geo / ASN / reputation from CIDR list files;
//! * [`extract`] — payloads and request facts from an HTTP request;
//! * [`analyze`] — the stateless per-event stage (extract → analyze → classify → features);
//! * [`payload_memo`] — the payload memos the workers of a run share;
//! * [`window`] — event-time behaviour windows per client key;
//! * [`aggregate_window`] — requests and distinct clients per prefix, AS,
//!   User-Agent and session (maintained in differential dataflow by the graph);
//! * [`infer`] — payload and behaviour scores combined into a verdict;
//! * [`rulegen`] and [`policy`] — from offending payloads to `SecRule`s and their status;
//! * [`dead_letter`] — building dead letters from decode errors;
//! * [`timely_ops`] — the thin timely operators over these stages.

#![warn(missing_docs)]

pub mod aggregate_window;
pub mod analyze;
pub mod client_key;
pub mod dead_letter;
pub mod enrich;
pub mod extract;
pub mod gatekeeper;
pub mod infer;
pub mod payload_memo;
pub mod policy;
pub mod profile_learn;
pub mod profile_params;
pub mod rule_guard;
pub mod rulegen;
pub mod simulate;
pub mod timely_ops;
pub mod validate;
pub mod window;
