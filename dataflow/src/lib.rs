//! # sentinel-dataflow
//!
//! Assembles and runs the Sentinel graph on timely dataflow:
//!
//! ```text
//! file source (per worker, event-time watermark per file)
//!   └─► exchange (to the client's worker, within shares; ─┬─ raw HTTP frames ─► parse + validate ─┐
//!        the reading worker keeps fewer)                   │
//!                                                         ├─ events ──────────────────────────────┤
//!                                                         └─ dead letters ─► dead_letters          │
//!   analyze (where the record was placed) ◄──────────────────────────────────────────────────────┘
//!     ├─► evidence_ready
//!     └─► exchange (client key) ─► window + infer ─► verdicts
//!                                    └─► rulegen ─► exchange (worker 0) ─► policy ─► rules
//! ```
//! (A Kafka source's events go to their client's worker within an even
//! share instead: `spread_events`.)
//!
//! Every file sink is an ordered sink on one worker (the kinds are dealt
//! over the workers), so output files are byte-identical for any worker
//! count.

#![warn(missing_docs)]

mod cluster;
mod dealing;
mod deferred_decode;
mod envelope;
mod feedback_dataset;
mod file_source;
mod graph;
mod in_flight;
mod kafka_sink;
mod kafka_source;
pub mod model_updates;
pub mod pacing;
mod package_stage;
mod replay;
mod schedule_log;
mod service;
mod stats;
pub mod watermark;
mod worker_clock;

pub use cluster::{timely_config, ClusterConfig};
pub use envelope::Envelope;
pub use feedback_dataset::{DatasetSummary, FeedbackDataset, Sample};
pub use file_source::{FileInput, SourceSettings, DEFAULT_MAX_IN_FLIGHT};
pub use graph::{
    build_analysis, spread_events, GraphConfig, GraphOutputs, GraphServices, OutRecord, OutStream,
    SinkFactory, SinkWriter,
};
pub use kafka_sink::OutputTopics;
pub use kafka_source::{KafkaSourceSettings, KafkaSourceState};
pub use package_stage::verify_packages;
pub use replay::{run_replay, ReplayConfig, ReplaySummary};
pub use schedule_log::{OperatorTime, Recording, ScheduleLog, ScheduleSummary, WorkerSchedule};
pub use service::{run_service, ServiceConfig, ServiceReport};
pub use stats::{Counters, SourceStatus};
pub use worker_clock::{ClockReading, WorkerClock, WorkerClocks};
