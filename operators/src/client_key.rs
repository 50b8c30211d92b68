//! The behavioural key a client is aggregated under.
//!
//! The rule itself lives in [`sentinel_sources::ClientIdentity`], so that a
//! reader can tell a record's client before decoding it with the same rule.

use sentinel_schema::EvidenceEvent;
use sentinel_sources::ClientIdentity;

pub use sentinel_sources::session_id;

/// The key for windowed behaviour: `ip:ADDRESS` when the evidence has a
/// client address, else `session:ID` from the recorder or the first
/// session-like cookie (`JSESSIONID`, `PHPSESSID`, `sid`, ...), else `anonymous`.
pub fn client_key(event: &EvidenceEvent) -> String {
    ClientIdentity::of(event).key()
}
