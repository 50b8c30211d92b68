//! Which input offsets may be committed: the contiguous high-water mark of
//! records whose every output has been acknowledged.

use std::collections::{BTreeMap, VecDeque};

/// Tracks in-flight records per partition and the offset that can be stored.
///
/// Records are registered in offset order with the timestamp they were
/// emitted at. A record is *done* once the acknowledged frontier has passed
/// its timestamp (every output derived from it has been delivered). Records
/// complete out of order — a later offset may have an earlier timestamp —
/// so only the contiguous prefix of done records is committable: the offset
/// to store is one past the last record of that prefix.
#[derive(Debug, Default)]
pub struct OffsetTracker {
    partitions: BTreeMap<i32, VecDeque<(i64, u64)>>,
    /// How many registered, not yet popped records carry each timestamp.
    by_time: BTreeMap<u64, usize>,
    in_flight: usize,
}

impl OffsetTracker {
    /// An empty tracker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a record emitted at `time`.
    pub fn register(&mut self, partition: i32, offset: i64, time: u64) {
        self.partitions
            .entry(partition)
            .or_default()
            .push_back((offset, time));
        *self.by_time.entry(time).or_default() += 1;
        self.in_flight += 1;
    }

    fn unindex(by_time: &mut BTreeMap<u64, usize>, time: u64) {
        if let Some(n) = by_time.get_mut(&time) {
            *n -= 1;
            if *n == 0 {
                by_time.remove(&time);
            }
        }
    }

    /// Pops every record done at `frontier` (all times `< frontier` are
    /// acknowledged; `None` means everything is) and returns, per partition
    /// that advanced, the next offset to commit (last done offset + 1).
    pub fn complete(&mut self, frontier: Option<u64>) -> Vec<(i32, i64)> {
        let mut out = Vec::new();
        for (&partition, queue) in self.partitions.iter_mut() {
            let mut last = None;
            while let Some(&(offset, time)) = queue.front() {
                let done = frontier.is_none_or(|f| time < f);
                if !done {
                    break;
                }
                last = Some(offset);
                queue.pop_front();
                Self::unindex(&mut self.by_time, time);
                self.in_flight -= 1;
            }
            if let Some(o) = last {
                out.push((partition, o + 1));
            }
        }
        out
    }

    /// Forgets a partition (after it was revoked): its records will be
    /// redelivered to the new owner.
    pub fn forget(&mut self, partition: i32) {
        if let Some(q) = self.partitions.remove(&partition) {
            self.in_flight -= q.len();
            for (_, time) in q {
                Self::unindex(&mut self.by_time, time);
            }
        }
    }

    /// Records the graph is still working on: registered at a time the
    /// source has already released (`< released`) and not yet acknowledged
    /// (`>= acked`, the acknowledged frontier; `None` means everything is
    /// acknowledged). Records at later times wait for the watermark, not for
    /// the graph, so they say nothing about downstream pressure.
    pub fn downstream(&self, acked: Option<u64>, released: u64) -> usize {
        let Some(lo) = acked else {
            return 0;
        };
        if lo >= released {
            return 0;
        }
        self.by_time.range(lo..released).map(|(_, n)| n).sum()
    }

    /// Records registered and not yet done.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_contiguous_prefix_is_committed() {
        let mut t = OffsetTracker::new();
        t.register(0, 10, 5);
        t.register(0, 11, 3); // later offset, earlier time
        t.register(0, 12, 6);
        t.register(1, 7, 4);
        // Times < 4 acknowledged: offset 11 is done but 10 is not.
        assert_eq!(t.complete(Some(4)), vec![]);
        // Times < 6: 10 and 11 done, 12 not; partition 1 done.
        assert_eq!(t.complete(Some(6)), vec![(0, 12), (1, 8)]);
        assert_eq!(t.in_flight(), 1);
        assert_eq!(t.complete(None), vec![(0, 13)]);
        assert_eq!(t.in_flight(), 0);
    }

    #[test]
    fn downstream_counts_only_released_unacknowledged_records() {
        let mut t = OffsetTracker::new();
        t.register(0, 1, 2);
        t.register(0, 2, 3);
        t.register(0, 3, 3);
        t.register(1, 1, 7); // still held by the watermark
                             // Released below 5, acknowledged below 3: the two records at 3.
        assert_eq!(t.downstream(Some(3), 5), 2);
        assert_eq!(t.downstream(Some(0), 5), 3);
        assert_eq!(t.downstream(Some(0), 8), 4);
        assert_eq!(t.downstream(None, 8), 0);
        assert_eq!(t.downstream(Some(5), 5), 0);
        t.complete(Some(3));
        assert_eq!(t.downstream(Some(0), 5), 2);
        t.forget(0);
        assert_eq!(t.downstream(Some(0), 8), 1);
    }

    #[test]
    fn revoked_partitions_are_forgotten() {
        let mut t = OffsetTracker::new();
        t.register(3, 1, 1);
        t.register(3, 2, 1);
        t.forget(3);
        assert_eq!(t.in_flight(), 0);
        assert!(t.complete(None).is_empty());
    }
}
