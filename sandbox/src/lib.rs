//! # sentinel-sandbox
//!
//! WebAssembly sandboxes for Sentinel's threat twins. One wasmtime engine;
//! modules compiled once (and cached on disk); a fresh instance per
//! simulation from a pooling allocator; **no WASI and no host imports** —
//! a guest talks to the host only through the export-only [`abi`], so it
//! has no file system, network or clock by construction.
//!
//! Limits: fuel metering (a deterministic instruction budget), an epoch
//! deadline (wall-clock timeout), memory, table and stack limits, input and
//! output sizes. A [panic button](Sandbox::panic) interrupts every running
//! simulation within one epoch check and refuses new ones until
//! [re-armed](Sandbox::rearm). Lifecycle events (engine start, module
//! loaded or refused, contained failures, panics, re-arms) go to an
//! [`AuditHook`](sentinel_schema::AuditHook).
//!
//! The built-in guest ([`guests::TWIN_GUEST_WASM`]) is built from
//! `sandbox/guests/twin-guest` by this crate's `build.rs`.

#![warn(missing_docs)]

pub mod abi;
mod block_on;
pub mod cache;
mod config;
mod control;
pub mod guests;
mod host;

pub use abi::GuestReport;
pub use block_on::block_on;
pub use config::{SandboxConfig, SCANNED_KEEP_RESIDENT_BYTES};
pub use control::SandboxHealth;
pub use host::{GuestModule, Sandbox, SimFailure, Simulation};
