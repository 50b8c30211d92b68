//! # sentinel-dataflow
//!
//! Assembles and runs the Sentinel graph on timely dataflow:
//!
//! ```text
//! file source (per worker, event-time watermark per file)
//!   ├─ raw HTTP frames ─► exchange (spread) ─► parse + validate ─► (joins the events)
//!   ├─ dead letters ───────────────────────────────────────────────► dead_letters
//!   └─ events ─► exchange (spread) ─► analyze ─┬─► evidence_ready ───► evidence_ready
//!                                              └─► exchange (client key) ─► window + infer ─► verdicts
//!                                                                            └─► rulegen ─► exchange (worker 0) ─► policy ─► rules
//! ```
//!
//! Every file sink is an ordered sink on one worker (the kinds are dealt
//! over the workers), so output files are byte-identical for any worker
//! count.

#![warn(missing_docs)]

mod cluster;
mod deferred_decode;
mod envelope;
mod feedback_dataset;
mod file_source;
mod graph;
mod kafka_sink;
mod kafka_source;
pub mod model_updates;
pub mod pacing;
mod package_stage;
mod replay;
mod service;
mod stats;
pub mod watermark;

pub use cluster::{timely_config, ClusterConfig};
pub use envelope::Envelope;
pub use feedback_dataset::{DatasetSummary, FeedbackDataset, Sample};
pub use file_source::{FileInput, SourceSettings};
pub use graph::{
    build_analysis, GraphConfig, GraphOutputs, GraphServices, OutRecord, OutStream, SinkFactory,
    SinkWriter,
};
pub use kafka_sink::OutputTopics;
pub use kafka_source::{KafkaSourceSettings, KafkaSourceState};
pub use package_stage::verify_packages;
pub use replay::{run_replay, ReplayConfig, ReplaySummary};
pub use service::{run_service, ServiceConfig, ServiceReport};
pub use stats::{Counters, SourceStatus};
