//! A file reader's backpressure: how many records it has sent that the
//! graph could finish but has not.
//!
//! A file at full speed is read far faster than it is analyzed. Unbounded,
//! the reader would hold the file's records in the graph's queues (memory
//! growing with the file), and with several workers the reading worker
//! would run through its own share of the analysis early and then wait for
//! the others, whose backlog holds the event-time frontier back. The reader
//! counts the records it sends by timestamp and forgets them once the
//! graph's outputs have passed that timestamp (a probe). Only records below
//! the source's own timestamp count: those the graph can finish without the
//! reader reading more (the reader's capability holds the rest back), so a
//! held reader never waits on itself.

use std::collections::BTreeMap;
use std::time::Duration;

/// How long a held reader waits before it looks at the probe again.
pub(crate) const IN_FLIGHT_RECHECK: Duration = Duration::from_micros(200);

/// Records sent by timestamp, until the graph's outputs pass them.
#[derive(Debug)]
pub(crate) struct InFlight {
    max: usize,
    by_time: BTreeMap<u64, usize>,
    held: bool,
}

impl InFlight {
    /// Holds the reader past `max` finishable records (`0`: never).
    pub(crate) fn new(max: usize) -> Self {
        InFlight {
            max,
            by_time: BTreeMap::new(),
            held: false,
        }
    }

    /// Notes `n` records sent at timestamp `time`.
    pub(crate) fn sent(&mut self, time: u64, n: usize) {
        if self.max > 0 && n > 0 {
            *self.by_time.entry(time).or_default() += n;
        }
    }

    /// Forgets the records below `finished_below` (the outputs' frontier),
    /// then says whether the reader holds: it starts to when more than
    /// `max` records below `source_time` are unfinished, and reads again
    /// once at most half of `max` are.
    pub(crate) fn hold(&mut self, finished_below: u64, source_time: u64) -> bool {
        if self.max == 0 {
            return false;
        }
        self.by_time = self.by_time.split_off(&finished_below);
        let finishable: usize = self.by_time.range(..source_time).map(|(_, n)| n).sum();
        self.held = if self.held {
            finishable > self.max / 2
        } else {
            finishable > self.max
        };
        self.held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_past_the_bound_and_reads_again_at_half() {
        let mut f = InFlight::new(10);
        f.sent(1, 6);
        f.sent(2, 6);
        assert!(f.hold(0, 5), "12 finishable records, bound 10");
        assert!(f.hold(1, 5), "still 12: nothing below 1 was finished");
        assert!(f.hold(2, 5) && f.hold(2, 5), "6 left, above half");
        f.sent(3, 0);
        assert!(!f.hold(3, 5), "all finished");
        f.sent(4, 8);
        assert!(!f.hold(3, 5), "8 is within the bound");
    }

    #[test]
    fn records_the_source_still_holds_back_do_not_count() {
        let mut f = InFlight::new(4);
        f.sent(7, 100);
        assert!(
            !f.hold(0, 7),
            "at the source's own timestamp: not finishable"
        );
        assert!(f.hold(0, 8), "once the source has moved past them they are");
        assert!(!f.hold(8, 8));
    }

    #[test]
    fn zero_never_holds() {
        let mut f = InFlight::new(0);
        f.sent(0, 1_000_000);
        assert!(!f.hold(0, 10));
    }
}
