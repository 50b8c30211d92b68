//! Dealing a file's records to the workers of the stateless stage.
//!
//! A file is read by one worker, which also takes its share of the
//! stateless stage (parsing, analysis) and of the keyed stages. Dealt
//! evenly, that worker has the reading on top of everyone's share and the
//! others wait for it. The dealer measures what reading costs per record
//! on the reading worker (`R`), and what the stateless stage costs per
//! record there (`A₀`) and, on average, on the other workers of its process
//! (`Ā`; the two differ, in either direction: the others decode frames
//! another core wrote and free blocks of another thread's heap, while the
//! reader's stage shares its caches with the reading). It keeps the share
//! `k` of the records that evens the load with `W` workers:
//!
//! ```text
//! R + k·A₀ = (1 − k)·Ā / (W − 1)   ⇒   k = (Ā − R·(W − 1)) / (A₀·(W − 1) + Ā),  0 ≤ k ≤ 1/W
//! ```
//!
//! (`Ā = A₀` until the others have measured, and for workers in other
//! processes, whose clocks it cannot read.)
//!
//! A record whose client the reader can tell before decoding it
//! ([`sentinel_sources::DeferredFrame::client`]) goes, where the share
//! allows, to the worker that holds that client's windows: its analyzed
//! event (500 bytes and a dozen allocations) then stays on the worker that
//! made it instead of crossing to another thread and being freed there.
//! The reader's own clients are kept in the share `k` and the rest of them
//! dealt over the others, so each worker still gets its share; a client
//! (or an unlucky set of keys) that would push a worker more than a few
//! percent over its share has its records dealt by hash instead.
//!
//! Which worker analyzes a record changes no output: the stateless stage
//! has no state that outputs depend on (the payload memo only saves work),
//! the keyed stages exchange by key afterwards, and every sink orders its
//! records.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use crate::worker_clock::{ClockReading, WorkerClock, WorkerClocks};

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
    /// Every worker's clock (by index; those of other processes stay at zero).
    clocks: Vec<Arc<WorkerClock>>,
    /// Every worker's stage cost per record.
    stage: Vec<Rate>,
    /// The worker clocks at the last observation.
    last: Vec<ClockReading>,
    share: Rc<Cell<f64>>,
}

impl Dealer {
    /// A dealer for worker `index` of `peers` that reads the workers'
    /// stage costs from `clocks`, keeping an even share until it has
    /// measured its own.
    pub(crate) fn new(index: usize, peers: usize, clocks: &WorkerClocks) -> Self {
        let peers = peers.max(1);
        Dealer {
            index,
            peers,
            reading: Rate::default(),
            clocks: (0..peers).map(|w| clocks.for_worker(w)).collect(),
            stage: vec![Rate::default(); peers],
            last: vec![ClockReading::default(); peers],
            share: Rc::new(Cell::new(1.0 / peers as f64)),
        }
    }

    /// The route for the exchange: the worker that analyzes a record with
    /// this spread hash and, when known, this client route hash (what the
    /// windows exchange the client by), given the share the dealer
    /// currently keeps.
    pub(crate) fn router(&self) -> impl FnMut(u64, Option<u64>) -> u64 + 'static {
        let (share, index, peers) = (self.share.clone(), self.index, self.peers);
        let mut balance = Balance::new(peers);
        move |hash, client| balance.route(hash, client, share.get(), index, peers)
    }

    /// Records that reading `records` records took `reading` (thread CPU
    /// time), reads where the workers' clocks stand, and updates the share
    /// kept.
    pub(crate) fn observe(&mut self, reading: Duration, records: u64) {
        let clocks: Vec<ClockReading> = self.clocks.iter().map(|c| c.reading()).collect();
        self.observe_clocks(reading, records, &clocks);
    }

    /// [`Dealer::observe`] with the clocks' readings given (by worker).
    fn observe_clocks(&mut self, reading: Duration, records: u64, clocks: &[ClockReading]) {
        if records > 0 {
            self.reading.add(reading.as_nanos() as f64, records as f64);
        }
        for ((clock, last), rate) in clocks.iter().zip(&mut self.last).zip(&mut self.stage) {
            if clock.stage_records > last.stage_records {
                rate.add(
                    clock.stage_nanos.saturating_sub(last.stage_nanos) as f64,
                    (clock.stage_records - last.stage_records) as f64,
                );
            }
            *last = *clock;
        }
        self.share.set(self.kept_share());
    }

    /// The share of the records this worker keeps.
    pub(crate) fn kept_share(&self) -> f64 {
        let own = self.stage.get(self.index).and_then(Rate::per_record);
        let (r, a0) = match (self.reading.per_record(), own) {
            (Some(r), Some(a0)) => (r, a0),
            _ => return 1.0 / self.peers as f64,
        };
        let others: Vec<f64> = (self.stage.iter().enumerate())
            .filter(|(w, _)| *w != self.index)
            .filter_map(|(_, rate)| rate.per_record())
            .collect();
        let a_others = if others.is_empty() {
            a0
        } else {
            others.iter().sum::<f64>() / others.len() as f64
        };
        kept_share(r, a0, a_others, self.peers)
    }
}

/// The share a reader keeps when reading costs `r` per record and the
/// stateless stage `a0` on the reader and `a_others` on the other workers,
/// with `peers` workers (see the module documentation).
pub(crate) fn kept_share(r: f64, a0: f64, a_others: f64, peers: usize) -> f64 {
    let w = peers.max(1) as f64;
    let usable = |x: f64| x > 0.0 && x.is_finite();
    if peers <= 1 || !usable(a0) || !usable(a_others) || !r.is_finite() {
        return 1.0 / w;
    }
    ((a_others - r * (w - 1.0)) / (a0 * (w - 1.0) + a_others)).clamp(0.0, 1.0 / w)
}

/// The worker a record with `hash` goes to when worker `index` keeps the
/// share `keep` and deals the rest evenly over the other `peers − 1`.
pub(crate) fn deal(hash: u64, keep: f64, index: usize, peers: usize) -> u64 {
    if peers <= 1 {
        return 0;
    }
    let u = fraction(hash);
    if u < keep {
        return index as u64;
    }
    other_worker((u - keep) / (1.0 - keep), index, peers)
}

/// The worker a record of the client routed by `client` goes to: the
/// client's own worker (the exchange's `client mod peers`), except that
/// the reader `index` keeps only the share `keep` of all records and deals
/// the rest of its own clients' records evenly over the others (by `hash`).
/// With clients spread evenly over the workers, each gets the share
/// [`deal`] gives it.
pub(crate) fn deal_to_client(hash: u64, client: u64, keep: f64, index: usize, peers: usize) -> u64 {
    if peers <= 1 {
        return 0;
    }
    let owner = client % peers as u64;
    if owner != index as u64 {
        return owner;
    }
    // The reader's clients are 1/peers of the records: keep of them the
    // part that makes `keep` of all.
    let kept = (keep * peers as f64).min(1.0);
    let u = fraction(hash);
    if u < kept {
        return owner;
    }
    other_worker((u - kept) / (1.0 - kept), index, peers)
}

/// The share of a reader's records worker `w` is due when the reader
/// `index` keeps `keep`.
fn expected_share(w: u64, keep: f64, index: usize, peers: usize) -> f64 {
    if w == index as u64 {
        keep
    } else {
        (1.0 - keep) / (peers.max(2) - 1) as f64
    }
}

/// The hash's top 53 bits as a fraction in [0, 1).
fn fraction(hash: u64) -> f64 {
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// One of the `peers − 1` workers other than `index`, evenly by `v` in [0, 1).
fn other_worker(v: f64, index: usize, peers: usize) -> u64 {
    let others = peers - 1;
    let k = ((v * others as f64) as usize).min(others - 1);
    (if k >= index { k + 1 } else { k }) as u64
}

/// How far above its due share a worker may be sent records by client.
const SLACK: f64 = 0.05;

/// Records a worker may be ahead of its due share whatever the slack.
const MARGIN: f64 = 64.0;

/// Records after which the counts of a [`Balance`] are halved.
const HALF_LIFE: u32 = 4096;

/// What a reader has recently sent each worker (counts halved every
/// [`HALF_LIFE`] records), so that routing by client cannot overload one.
#[derive(Debug)]
pub(crate) struct Balance {
    sent: Vec<f64>,
    total: f64,
    since_halved: u32,
}

impl Balance {
    /// No records sent yet to any of `peers` workers.
    pub(crate) fn new(peers: usize) -> Self {
        Balance {
            sent: vec![0.0; peers.max(1)],
            total: 0.0,
            since_halved: 0,
        }
    }

    /// The worker for a record with the spread `hash` and, when known, the
    /// `client` route hash, sent by worker `index` keeping the share `keep`:
    /// the client's worker ([`deal_to_client`]) while that keeps it within
    /// its due share, else dealt by hash ([`deal`]). Counted.
    pub(crate) fn route(
        &mut self,
        hash: u64,
        client: Option<u64>,
        keep: f64,
        index: usize,
        peers: usize,
    ) -> u64 {
        let keyed = client.map(|c| deal_to_client(hash, c, keep, index, peers));
        let worker = match keyed {
            Some(w) if self.allows(w, expected_share(w, keep, index, peers)) => w,
            _ => deal(hash, keep, index, peers),
        };
        self.record(worker);
        worker
    }

    /// Whether one more record for `worker` keeps it within its `share`.
    pub(crate) fn allows(&self, worker: u64, share: f64) -> bool {
        let sent = self.sent.get(worker as usize).copied().unwrap_or(0.0);
        sent + 1.0 <= share * (self.total + 1.0) * (1.0 + SLACK) + MARGIN
    }

    /// Counts a record sent to `worker`.
    pub(crate) fn record(&mut self, worker: u64) {
        if let Some(s) = self.sent.get_mut(worker as usize) {
            *s += 1.0;
        }
        self.total += 1.0;
        self.since_halved += 1;
        if self.since_halved >= HALF_LIFE {
            self.since_halved = 0;
            self.total /= 2.0;
            self.sent.iter_mut().for_each(|s| *s /= 2.0);
        }
    }
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
        assert!((kept_share(0.0, 1000.0, 1000.0, 2) - 0.5).abs() < 1e-12);
        // Reading costs a fifth of the analysis, two workers: k = 0.4,
        // and the reader's load R + kA equals the other's (1 − k)A.
        let k = kept_share(200.0, 1000.0, 1000.0, 2);
        assert!((k - 0.4).abs() < 1e-12);
        assert!((200.0 + k * 1000.0 - (1.0 - k) * 1000.0).abs() < 1e-9);
        // Four workers: R + kA = (1 − k)A/3.
        let k = kept_share(100.0, 1000.0, 1000.0, 4);
        assert!((100.0 + k * 1000.0 - (1.0 - k) * 1000.0 / 3.0).abs() < 1e-9);
        // The others pay more per record: R + kA₀ = (1 − k)Ā, and the
        // reader keeps more than with equal costs.
        let k = kept_share(200.0, 1000.0, 1200.0, 2);
        assert!((200.0 + k * 1000.0 - (1.0 - k) * 1200.0).abs() < 1e-9);
        assert!(k > 0.4 && k <= 0.5, "{k}");
        // Three workers, the others at 1100 on average.
        let k = kept_share(100.0, 1000.0, 1100.0, 3);
        assert!((100.0 + k * 1000.0 - (1.0 - k) * 1100.0 / 2.0).abs() < 1e-9);
        // Never more than an even share, however costly the others.
        assert_eq!(kept_share(0.0, 1000.0, 5000.0, 2), 0.5);
        // Reading costlier than the reader's even share: it keeps nothing.
        assert_eq!(kept_share(2000.0, 1000.0, 1000.0, 2), 0.0);
        // One worker keeps everything, whatever reading costs.
        assert_eq!(kept_share(500.0, 1000.0, 1000.0, 1), 1.0);
        assert_eq!(kept_share(f64::NAN, 1000.0, 1000.0, 2), 0.5);
        assert_eq!(kept_share(100.0, 1000.0, 0.0, 2), 0.5);
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
        let mut d = Dealer::new(0, 2, &WorkerClocks::default());
        let mut route = d.router();
        assert_eq!(d.kept_share(), 0.5);
        // Reading measured, the stage not yet.
        let clock = |stage_nanos, stage_records| ClockReading {
            stage_nanos,
            stage_records,
        };
        let idle = clock(0, 0);
        d.observe_clocks(Duration::from_micros(200), 1000, &[clock(0, 0), idle]);
        assert_eq!(d.kept_share(), 0.5);
        // Both: reading 200 ns, the stage 1000 ns per record (the other
        // worker has not measured: its cost is taken to be the same).
        d.observe_clocks(
            Duration::from_micros(200),
            1000,
            &[clock(1_000_000, 1000), idle],
        );
        assert!((d.kept_share() - 0.4).abs() < 1e-9);
        // The router follows the published share.
        let kept = hashes(10_000).filter(|h| route(*h, None) == 0).count();
        assert!((3_800..4_200).contains(&kept), "{kept}");
        // The other worker measures 1200 ns per record: the reader keeps
        // more, as much as evens the two.
        d.observe_clocks(
            Duration::from_micros(200),
            1000,
            &[clock(1_000_000, 1000), clock(120_000_000, 100_000)],
        );
        let k = d.kept_share();
        assert!(
            (200.0 + k * 1000.0 - (1.0 - k) * 1200.0).abs() < 1e-6,
            "{k}"
        );
        // The clocks' totals are cumulative: only the differences count
        // (the same costs again leave the share where it was).
        d.observe_clocks(
            Duration::from_micros(200),
            1000,
            &[clock(2_000_000, 2000), clock(120_000_000, 100_000)],
        );
        assert!((d.kept_share() - k).abs() < 1e-9);
    }

    #[test]
    fn records_follow_their_client_within_the_shares() {
        for (keep, index, peers) in [(0.5, 0, 2), (0.4, 0, 2), (0.1, 1, 4), (0.0, 2, 3)] {
            let mut counts = vec![0u64; peers];
            let (mut owned, mut at_owner) = (0u64, 0u64);
            let n = 100_000u64;
            for (i, h) in hashes(n).enumerate() {
                // Clients spread evenly: 1,000 of them, many records each.
                let client = (i as u64 % 1000).wrapping_mul(0xD6E8_FEB8_6659_FD93);
                let w = deal_to_client(h, client, keep, index, peers);
                counts[w as usize] += 1;
                let owner = client % peers as u64;
                owned += u64::from(owner != index as u64);
                at_owner += u64::from(owner != index as u64 && w == owner);
            }
            // Every other worker's client goes to it, and the shares are deal's.
            assert_eq!(owned, at_owner);
            let kept = counts[index] as f64 / n as f64;
            assert!(
                (kept - keep).abs() < 0.02,
                "{keep} {index} {peers}: {counts:?}"
            );
            let other = (1.0 - keep) / (peers - 1) as f64;
            for c in counts
                .iter()
                .enumerate()
                .filter(|(w, _)| *w != index)
                .map(|(_, c)| c)
            {
                assert!((*c as f64 / n as f64 - other).abs() < 0.02, "{counts:?}");
            }
        }
    }

    #[test]
    fn a_hot_client_cannot_overload_its_worker() {
        let d = Dealer::new(0, 2, &WorkerClocks::default());
        d.share.set(0.4);
        let mut route = d.router();
        let mut counts = [0u64; 2];
        let n = 100_000u64;
        for (i, h) in hashes(n).enumerate() {
            // Nine records in ten from one client, who belongs to worker 1.
            let client = if i % 10 == 0 { h.rotate_left(17) } else { 1 };
            counts[route(h, Some(client)) as usize] += 1;
        }
        let to_one = counts[1] as f64 / n as f64;
        // Its due share, the slack, and the margin over the counts' span.
        let bound = 0.6 * (1.0 + SLACK) + MARGIN / f64::from(HALF_LIFE) + 0.005;
        assert!(to_one <= bound, "{counts:?}");
        assert!(
            to_one >= 0.55,
            "the client's worker still gets its share: {counts:?}"
        );
        // And without a client, the records are dealt by hash as before.
        let none = hashes(10_000).filter(|h| route(*h, None) == 0).count();
        assert!((3_800..4_200).contains(&none), "{none}");
    }

    proptest! {
        #[test]
        fn a_record_always_goes_to_a_worker(hash: u64, keep in 0.0f64..=1.0, peers in 1usize..9, index in 0usize..8) {
            let index = index % peers;
            let w = deal(hash, keep, index, peers);
            prop_assert!((w as usize) < peers);
            let c = deal_to_client(hash, hash.rotate_left(29), keep, index, peers);
            prop_assert!((c as usize) < peers);
            if keep == 0.0 && peers > 1 {
                prop_assert_ne!(w as usize, index);
            }
        }

        #[test]
        fn the_kept_share_stays_within_bounds(r in 0.0f64..1e6, a in 0.0f64..1e6, b in 0.0f64..1e6, peers in 1usize..9) {
            let k = kept_share(r, a, b, peers);
            prop_assert!((0.0..=1.0 / peers as f64 + 1e-12).contains(&k));
        }
    }
}
