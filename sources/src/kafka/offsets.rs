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
        self.in_flight += 1;
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
        }
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
    fn revoked_partitions_are_forgotten() {
        let mut t = OffsetTracker::new();
        t.register(3, 1, 1);
        t.register(3, 2, 1);
        t.forget(3);
        assert_eq!(t.in_flight(), 0);
        assert!(t.complete(None).is_empty());
    }
}
