//! Dealing a file's records to the workers of the stateless stage.
//!
//! A file is read by one worker, which also takes its share of the
//! stateless stage (parsing, analysis) and of the keyed stages. Dealt
//! evenly, that worker has the reading on top of everyone's share and the
//! others wait for it. The dealer measures, on the reading worker, what
//! reading costs per record (`R`) and what the stateless stage costs per
//! record (`A`), and keeps the share `k` of the records that evens the
//! load with `W` workers:
//!
//! ```text
//! R + k·A = (1 − k)·A / (W − 1)   ⇒   k = (A − R·(W − 1)) / (A·W),  0 ≤ k ≤ 1/W
//! ```
//!
//! Which worker analyzes a record changes no output: the stateless stage
//! has no state that outputs depend on (the payload memo only saves work),
//! the keyed stages exchange by key afterwards, and every sink orders its
//! records.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::worker_clock::ClockReading;

/// How much of the past a new measurement outweighs (per reader activation).
const DECAY: f64 = 0.8;

/// Records a rate needs before it is trusted.
const MIN_RECORDS: f64 = 64.0;

/// A smoothed cost per record: decayed sums of nanoseconds and records.
#[derive(Debug, Default, Clone, Copy)]
struct Rate {
    nanos: f64,
    records: f64,
}

impl Rate {
    fn add(&mut self, nanos: f64, records: f64) {
        self.nanos = self.nanos * DECAY + nanos;
        self.records = self.records * DECAY + records;
    }

    fn per_record(&self) -> Option<f64> {
        (self.records >= MIN_RECORDS).then(|| self.nanos / self.records)
    }
}

/// The reading worker's dealer: measures and publishes the share it keeps.
#[derive(Debug)]
pub(crate) struct Dealer {
    index: usize,
    peers: usize,
    reading: Rate,
    stage: Rate,
    /// The worker clock at the last observation.
    last_stage: ClockReading,
    share: Rc<Cell<f64>>,
}

impl Dealer {
    /// A dealer for worker `index` of `peers`, keeping an even share until
    /// it has measured both costs.
    pub(crate) fn new(index: usize, peers: usize) -> Self {
        let peers = peers.max(1);
        Dealer {
            index,
            peers,
            reading: Rate::default(),
            stage: Rate::default(),
            last_stage: ClockReading::default(),
            share: Rc::new(Cell::new(1.0 / peers as f64)),
        }
    }

    /// The route for the exchange: the worker that analyzes a record with
    /// this hash, given the share the dealer currently keeps.
    pub(crate) fn router(&self) -> impl FnMut(u64) -> u64 + 'static {
        let (share, index, peers) = (self.share.clone(), self.index, self.peers);
        move |hash| deal(hash, share.get(), index, peers)
    }

    /// Records that reading `records` records took `reading` (thread CPU
    /// time), and that the worker's clock now reads `clock`; updates the
    /// share kept.
    pub(crate) fn observe(&mut self, reading: Duration, records: u64, clock: ClockReading) {
        if records > 0 {
            self.reading.add(reading.as_nanos() as f64, records as f64);
        }
        let last = self.last_stage;
        if clock.stage_records > last.stage_records {
            self.stage.add(
                clock.stage_nanos.saturating_sub(last.stage_nanos) as f64,
                (clock.stage_records - last.stage_records) as f64,
            );
        }
        self.last_stage = clock;
        self.share.set(self.kept_share());
    }

    /// The share of the records this worker keeps.
    pub(crate) fn kept_share(&self) -> f64 {
        match (self.reading.per_record(), self.stage.per_record()) {
            (Some(r), Some(a)) => kept_share(r, a, self.peers),
            _ => 1.0 / self.peers as f64,
        }
    }
}

/// The share a reader keeps when reading costs `r` and the stateless stage
/// `a` per record, with `peers` workers (see the module documentation).
pub(crate) fn kept_share(r: f64, a: f64, peers: usize) -> f64 {
    let w = peers.max(1) as f64;
    if peers <= 1 || a <= 0.0 || !a.is_finite() || !r.is_finite() {
        return 1.0 / w;
    }
    ((a - r * (w - 1.0)) / (a * w)).clamp(0.0, 1.0 / w)
}

/// The worker a record with `hash` goes to when worker `index` keeps the
/// share `keep` and deals the rest evenly over the other `peers − 1`.
pub(crate) fn deal(hash: u64, keep: f64, index: usize, peers: usize) -> u64 {
    if peers <= 1 {
        return 0;
    }
    // The hash's top 53 bits as a fraction in [0, 1).
    let u = (hash >> 11) as f64 / (1u64 << 53) as f64;
    if u < keep {
        return index as u64;
    }
    let others = peers - 1;
    let k = (((u - keep) / (1.0 - keep)) * others as f64) as usize;
    let k = k.min(others - 1);
    (if k >= index { k + 1 } else { k }) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hashes(n: u64) -> impl Iterator<Item = u64> {
        (0..n).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    #[test]
    fn the_kept_share_evens_the_load() {
        // No reading cost: an even share.
        assert!((kept_share(0.0, 1000.0, 2) - 0.5).abs() < 1e-12);
        // Reading costs a fifth of the analysis, two workers: k = 0.4,
        // and the reader's load R + kA equals the other's (1 − k)A.
        let k = kept_share(200.0, 1000.0, 2);
        assert!((k - 0.4).abs() < 1e-12);
        assert!((200.0 + k * 1000.0 - (1.0 - k) * 1000.0).abs() < 1e-9);
        // Four workers: R + kA = (1 − k)A/3.
        let k = kept_share(100.0, 1000.0, 4);
        assert!((100.0 + k * 1000.0 - (1.0 - k) * 1000.0 / 3.0).abs() < 1e-9);
        // Reading costlier than the reader's even share: it keeps nothing.
        assert_eq!(kept_share(2000.0, 1000.0, 2), 0.0);
        // One worker keeps everything, whatever reading costs.
        assert_eq!(kept_share(500.0, 1000.0, 1), 1.0);
        assert_eq!(kept_share(f64::NAN, 1000.0, 2), 0.5);
    }

    #[test]
    fn records_are_dealt_in_the_kept_share() {
        for (keep, index, peers) in [(0.5, 0, 2), (0.3, 0, 2), (0.1, 1, 4), (0.0, 2, 3)] {
            let mut counts = vec![0u64; peers];
            let n = 100_000;
            for h in hashes(n) {
                counts[deal(h, keep, index, peers) as usize] += 1;
            }
            let kept = counts[index] as f64 / n as f64;
            assert!(
                (kept - keep).abs() < 0.01,
                "{keep} {index} {peers}: {counts:?}"
            );
            let other = (1.0 - keep) / (peers - 1) as f64;
            for (w, c) in counts.iter().enumerate().filter(|(w, _)| *w != index) {
                let got = *c as f64 / n as f64;
                assert!((got - other).abs() < 0.01, "worker {w}: {counts:?}");
            }
        }
    }

    #[test]
    fn the_dealer_keeps_an_even_share_until_it_has_measured() {
        let mut d = Dealer::new(0, 2);
        let mut route = d.router();
        assert_eq!(d.kept_share(), 0.5);
        // Reading measured, the stage not yet.
        let clock = |stage_nanos, stage_records| ClockReading {
            stage_nanos,
            stage_records,
        };
        d.observe(Duration::from_micros(200), 1000, clock(0, 0));
        assert_eq!(d.kept_share(), 0.5);
        // Both: reading 200 ns, the stage 1000 ns per record.
        d.observe(Duration::from_micros(200), 1000, clock(1_000_000, 1000));
        assert!((d.kept_share() - 0.4).abs() < 1e-9);
        // The router follows the published share.
        let kept = hashes(10_000).filter(|h| route(*h) == 0).count();
        assert!((3_800..4_200).contains(&kept), "{kept}");
        // The clock's totals are cumulative: only the difference counts.
        d.observe(Duration::from_micros(200), 1000, clock(2_000_000, 2000));
        assert!((d.kept_share() - 0.4).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn a_record_always_goes_to_a_worker(hash: u64, keep in 0.0f64..=1.0, peers in 1usize..9, index in 0usize..8) {
            let index = index % peers;
            let w = deal(hash, keep, index, peers);
            prop_assert!((w as usize) < peers);
            if keep == 0.0 && peers > 1 {
                prop_assert_ne!(w as usize, index);
            }
        }

        #[test]
        fn the_kept_share_stays_within_bounds(r in 0.0f64..1e6, a in 0.0f64..1e6, peers in 1usize..9) {
            let k = kept_share(r, a, peers);
            prop_assert!((0.0..=1.0 / peers as f64 + 1e-12).contains(&k));
        }
    }
}
