//! # sentinel-sources
//!
//! Where evidence enters Sentinel. A file source is three small steps, each a
//! plain type testable on its own:
//!
//! 1. [`input::open_input`] opens a file (transparently gunzipping `.gz`
//!    content) and counts the bytes read for progress bars;
//! 2. a [`framing::Framer`] cuts the byte stream into records — lines, HTTP
//!    requests back to back, HAR entries — giving each its 0-based ordinal
//!    (the source offset) and bounding the memory a hostile record can take;
//! 3. a decoder in [`decode`] turns one record into an
//!    [`sentinel_schema::EvidenceEvent`] or a [`DecodeError`] that says why not
//!    (which becomes a dead letter downstream; nothing is dropped).
//!
//! [`FileSource`] ties the three together for one file and [`detect_format`]
//! implements `--format auto`.

#![warn(missing_docs)]

mod client_identity;
pub mod decode;
mod error;
pub mod evidence_store;
mod file_source;
mod format;
pub mod framing;
mod ids;
pub mod input;
pub mod kafka;
mod time;

pub use client_identity::{session_cookie, session_id, ClientIdentity};
pub use error::DecodeError;
pub use file_source::{
    DeferredFormat, DeferredFrame, FileSource, SourceItem, SourceOpenError, SourceOptions,
    SourceRecord,
};
pub use format::{detect_format, InputFormat, UnknownFormat};
pub use framing::{Frame, FrameLimits, FrameProblem};
pub use ids::evidence_id_for;
pub use time::SyntheticClock;
