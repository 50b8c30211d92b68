//! A sink that writes records in a deterministic order from one worker.

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;

use super::TimeStash;

/// Order of a record within its timestamp: event time, source (a stable
/// hash of its name), partition, offset, and a sub-index for several records
/// of one input.
pub type SortKey = (i64, u64, i32, u64, u32);

/// Writes serialized records on one worker, timestamp by timestamp, each
/// batch sorted by [`SortKey`], so that output files are byte-identical
/// whatever the worker count.
pub trait OrderedSink {
    /// Sends every `(key, line)` to worker `writer` and calls `write` there
    /// with each completed batch in order; every worker's `write` gets an
    /// empty batch with `done = true` when the input is exhausted (only the
    /// writer's has seen records).
    fn ordered_sink<W>(self, name: &str, writer: usize, write: W)
    where
        W: FnMut(Vec<(SortKey, Vec<u8>)>, bool) + 'static;
}

impl<'scope> OrderedSink for StreamVec<'scope, u64, (SortKey, Vec<u8>)> {
    fn ordered_sink<W>(self, name: &str, writer: usize, mut write: W)
    where
        W: FnMut(Vec<(SortKey, Vec<u8>)>, bool) + 'static,
    {
        // The exchange sends a record to worker `hash % peers`.
        let target = writer as u64;
        let pact = Exchange::new(move |_: &(SortKey, Vec<u8>)| target);
        let mut stash: TimeStash<(SortKey, Vec<u8>)> = TimeStash::default();
        let mut finished = false;
        self.sink(pact, name, move |(input, frontier)| {
            input.for_each_stamp(|cap, data| {
                if let Some(&time) = cap.least() {
                    stash.add(time, || None, data.flat_map(|v| v.drain(..)));
                }
            });
            for (_, _, mut batch) in stash.ready(frontier) {
                batch.sort_by_key(|r| r.0);
                write(batch, false);
            }
            if frontier.is_empty() && !finished {
                finished = true;
                write(Vec::new(), true);
            }
        });
    }
}
