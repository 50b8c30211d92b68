//! Decoders: one record's bytes → an [`EvidenceEvent`] or a [`DecodeError`].

mod feedback;
pub use feedback::{decode_feedback, MAX_FEEDBACK_PAYLOAD};
mod har;
pub mod jsonl;
mod modsec;
pub mod nginx;
pub mod raw_http;
pub mod record;

use sentinel_schema::{DeadLetterReason, EvidenceEvent};

use crate::framing::{Frame, FrameProblem};
use crate::{DecodeError, InputFormat, SyntheticClock};

/// What decoders need besides the bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeContext {
    /// Times for formats without timestamps.
    pub clock: SyntheticClock,
}

/// Decodes one frame of `format`. Framing problems become errors here, so a
/// caller has exactly one place where records turn into events or dead letters.
pub fn decode_frame(
    format: InputFormat,
    frame: &Frame,
    ctx: &DecodeContext,
) -> Result<EvidenceEvent, DecodeError> {
    match &frame.problem {
        Some(FrameProblem::TooLarge { len, limit }) => {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("record of {len} bytes exceeds the {limit} byte limit"),
            ))
        }
        Some(FrameProblem::Malformed(why)) => return Err(DecodeError::malformed(why.clone())),
        None => {}
    }
    let bytes = &frame.bytes[..];
    match format {
        InputFormat::Jsonl => jsonl::decode(bytes),
        InputFormat::Har => har::decode(bytes, frame.offset),
        InputFormat::Modsec => modsec::decode(bytes, frame.offset),
        InputFormat::RawHttp => {
            raw_http::decode(bytes, frame.offset, ctx.clock.time_of(frame.offset))
        }
        InputFormat::Nginx => nginx::decode(bytes, frame.offset),
        InputFormat::Record => record::decode(bytes).1,
    }
}
