//! Kafka input: consumer settings, the offset tracker and message decoding.
//!
//! The timely operator that polls the consumer lives in `sentinel-dataflow`;
//! everything here is plain and testable without a broker.

mod client;
mod offsets;

pub use client::{check_reachable, consumer_config, decode_message, ClientSettings, KafkaError};
pub use offsets::OffsetTracker;
