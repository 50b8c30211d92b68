//! Thin timely operators over the stage logic of this crate.
//!
//! Timestamps are event-time buckets (`u64`, `event_time_ms / bucket_ms`),
//! never one timestamp per record. Stateful operators hold a batch per
//! timestamp until the input frontier passes it, then process it in a
//! deterministic order — so results do not depend on worker count,
//! scheduling or replay speed.

mod aggregates;
mod behaviour;
mod named;
mod ordered_sink;
mod stash;
mod wire;

pub use aggregates::{AggregateNote, AggregateStage, BoxedEvents};
pub use behaviour::{ScoreBehaviour, WindowGauges};
pub use named::NamedMap;
pub use ordered_sink::{OrderedSink, SortKey};
pub use stash::TimeStash;
pub use wire::Wire;

/// Routes a string key to a worker with a hash that is the same in every process.
pub fn route(key: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(key.as_bytes())
}

/// The deterministic processing order of events within a timestamp batch
/// (event time, then where they came from), shared by the stateful stages.
pub fn processing_order(e: &crate::analyze::AnalyzedEvent) -> (i64, &str, i32, u64) {
    (
        e.event_time_ms,
        e.provenance.source.as_str(),
        e.provenance.partition.unwrap_or(-1),
        e.provenance.offset,
    )
}
