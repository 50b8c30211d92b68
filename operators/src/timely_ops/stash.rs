//! Per-timestamp batches held until the frontier passes them.

use std::collections::BTreeMap;

use timely::communication::Pull;
use timely::dataflow::channels::Message;
use timely::dataflow::operators::generic::InputHandleCore;
use timely::dataflow::operators::Capability;
use timely::progress::frontier::MutableAntichain;

/// Batches of records by timestamp, each with the capability to emit its results.
pub struct TimeStash<D> {
    batches: BTreeMap<u64, (Option<Capability<u64>>, Vec<D>)>,
}

impl<D> Default for TimeStash<D> {
    fn default() -> Self {
        TimeStash {
            batches: BTreeMap::new(),
        }
    }
}

impl<D> TimeStash<D> {
    /// Adds records at `time`, keeping `cap` when the batch is new.
    pub fn add(
        &mut self,
        time: u64,
        cap: impl FnOnce() -> Option<Capability<u64>>,
        records: impl IntoIterator<Item = D>,
    ) {
        let entry = self
            .batches
            .entry(time)
            .or_insert_with(|| (cap(), Vec::new()));
        entry.1.extend(records);
    }

    /// Moves everything `input` holds into the stash, each record mapped by
    /// `f`, keeping a capability on output `port` for each new timestamp.
    pub fn take_input<X, P>(
        &mut self,
        input: &mut InputHandleCore<u64, Vec<X>, P>,
        port: usize,
        mut f: impl FnMut(X) -> D,
    ) where
        P: Pull<Message<u64, Vec<X>>>,
    {
        input.for_each_stamp(|cap, data| {
            let Some(&time) = cap.least() else {
                return;
            };
            self.add(
                time,
                || cap.retain_least(port),
                data.flat_map(|v| v.drain(..)).map(&mut f),
            );
        });
    }

    /// Removes and returns, oldest first, every batch whose time the frontier has passed.
    pub fn ready(
        &mut self,
        frontier: &MutableAntichain<u64>,
    ) -> Vec<(u64, Option<Capability<u64>>, Vec<D>)> {
        self.ready_all(&[frontier])
    }

    /// Removes and returns, oldest first, every batch whose time all of `frontiers` have passed.
    pub fn ready_all(
        &mut self,
        frontiers: &[&MutableAntichain<u64>],
    ) -> Vec<(u64, Option<Capability<u64>>, Vec<D>)> {
        let mut out = Vec::new();
        while let Some((&t, _)) = self.batches.first_key_value() {
            if frontiers.iter().any(|f| f.less_equal(&t)) {
                break;
            }
            if let Some((t, (cap, data))) = self.batches.pop_first() {
                out.push((t, cap, data));
            }
        }
        out
    }

    /// The oldest timestamp held.
    pub fn first_time(&self) -> Option<u64> {
        self.batches.first_key_value().map(|(t, _)| *t)
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.batches.values().map(|(_, v)| v.len()).sum()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }
}
