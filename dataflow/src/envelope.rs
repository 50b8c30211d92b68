//! What sources emit into the graph.

use serde::{Deserialize, Serialize};

use sentinel_schema::{DeadLetter, EvidenceEvent, Provenance};

/// A decoded event or a dead letter, with provenance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Envelope {
    /// A valid event.
    Event {
        /// The event.
        event: Box<EvidenceEvent>,
        /// Where it came from.
        provenance: Provenance,
        /// True when it arrived behind its partition's watermark.
        late: bool,
        /// True when its evidence package was fetched and verified.
        verified: bool,
    },
    /// A record that could not be used.
    Dead(Box<DeadLetter>),
}
