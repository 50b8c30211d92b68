//! The computation of the behaviour features: one client's sliding window.
//!
//! Aggregates are maintained incrementally, so pushing a request costs O(1)
//! amortized whatever the window holds. Used by the pipeline's window stage
//! and by the session generators that train the behaviour anomaly model,
//! so both see exactly the same features.

use std::collections::{HashMap, VecDeque};

use smallvec::SmallVec;

use super::behaviour::{B, N};

/// What a window needs to know about one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    /// Event time, ms.
    pub time: i64,
    /// Hash of the path.
    pub path: u64,
    /// Hash of the User-Agent.
    pub ua: u64,
    /// Response status, when recorded.
    pub status: Option<u16>,
    /// The request carried an attack payload.
    pub attack: bool,
    /// The upstream WAF blocked it.
    pub blocked: bool,
}

/// A multiset of hashes with O(1) distinct count.
#[derive(Clone, Debug, Default)]
struct Counts(HashMap<u32, u32>);

impl Counts {
    fn add(&mut self, k: u32) {
        *self.0.entry(k).or_default() += 1;
    }
    fn remove(&mut self, k: u32) {
        if let Some(c) = self.0.get_mut(&k) {
            *c -= 1;
            if *c == 0 {
                self.0.remove(&k);
            }
        }
    }
    fn distinct(&self) -> usize {
        self.0.len()
    }
}

/// Distinct-value counters of a large window.
#[derive(Clone, Debug, Default)]
struct Distinct {
    paths: Counts,
    uas: Counts,
    params: Counts,
}

/// Windows up to this many requests count distinct values by scanning
/// their slots (no hash maps: a quiet client costs a few hundred bytes);
/// larger ones keep counters, dropped again below half of it.
const SCAN_MAX: usize = 32;

/// Most parameter names remembered per request.
pub const MAX_PARAMS_PER_REQUEST: usize = 255;

const KNOWN_STATUS: u8 = 1;
const ATTACK: u8 = 2;
const BLOCKED: u8 = 4;

/// One request as the window holds it: 16 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    /// Event time relative to the window's base, ms.
    offset_ms: u32,
    path: u32,
    ua: u32,
    status: u16,
    flags: u8,
    /// How many of `ClientWindow::params` belong to this request.
    params: u8,
}

impl Slot {
    fn is_error(&self) -> bool {
        self.flags & KNOWN_STATUS != 0 && self.status >= 400
    }
}

/// Folds a 64-bit hash to the 32 bits the window keeps.
fn fold(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

/// One client's window of requests, oldest first.
///
/// Compact: a request is a 16-byte slot (time as an offset from a base,
/// hashes folded to 32 bits) and its parameter names share one ring, so a
/// client with a dozen requests in the window holds about 400 bytes.
#[derive(Clone, Debug, Default)]
pub struct ClientWindow {
    base_ms: i64,
    entries: VecDeque<Slot>,
    params: VecDeque<u32>,
    distinct: Option<Box<Distinct>>,
    errors: u32,
    known_status: u32,
    attacks: u32,
    blocked: u32,
    gap_sum: f64,
    gap_sq_sum: f64,
}

impl ClientWindow {
    fn time(&self, s: &Slot) -> i64 {
        self.base_ms + i64::from(s.offset_ms)
    }

    /// Drops the oldest request.
    pub fn pop_front(&mut self) {
        let Some(e) = self.entries.pop_front() else {
            return;
        };
        let removed: SmallVec<[u32; 16]> = self.params.drain(..usize::from(e.params)).collect();
        if let Some(d) = &mut self.distinct {
            d.paths.remove(e.path);
            d.uas.remove(e.ua);
            for p in removed {
                d.params.remove(p);
            }
        }
        self.errors -= u32::from(e.is_error());
        self.known_status -= u32::from(e.flags & KNOWN_STATUS != 0);
        self.attacks -= u32::from(e.flags & ATTACK != 0);
        self.blocked -= u32::from(e.flags & BLOCKED != 0);
        if let Some(next) = self.entries.front() {
            let gap = (next.offset_ms.saturating_sub(e.offset_ms)) as f64;
            self.gap_sum -= gap;
            self.gap_sq_sum -= gap * gap;
        }
        if self.entries.is_empty() {
            // Exact zeros: no floating-point residue carried to the next burst.
            self.gap_sum = 0.0;
            self.gap_sq_sum = 0.0;
        }
        if self.entries.len() <= SCAN_MAX / 2 {
            self.distinct = None;
        }
    }

    /// Drops requests at or before `horizon` and, beyond that, the oldest
    /// until fewer than `max_entries` remain.
    pub fn evict(&mut self, horizon: i64, max_entries: usize) {
        while self
            .entries
            .front()
            .is_some_and(|e| self.time(e) <= horizon)
            || self.entries.len() >= max_entries.max(1)
        {
            self.pop_front();
        }
    }

    /// Moves the base so that `time` fits in a slot's offset (dropping the
    /// oldest requests in the unlikely case the window spans 49 days).
    fn fit(&mut self, time: i64) {
        if self.entries.is_empty() {
            self.base_ms = time;
            return;
        }
        if time >= self.base_ms && time - self.base_ms <= i64::from(u32::MAX) {
            return;
        }
        while self
            .entries
            .front()
            .is_some_and(|e| time - (self.base_ms + i64::from(e.offset_ms)) > i64::from(u32::MAX))
        {
            self.pop_front();
        }
        let new_base = match self.entries.front() {
            Some(e) => (self.base_ms + i64::from(e.offset_ms)).min(time),
            None => time,
        };
        let shift = self.base_ms - new_base;
        for e in &mut self.entries {
            e.offset_ms = (i64::from(e.offset_ms) + shift) as u32;
        }
        self.base_ms = new_base;
    }

    /// Appends a request (callers keep event-time order) with its
    /// parameter-name hashes (the first [`MAX_PARAMS_PER_REQUEST`]), and
    /// returns its features: the window's aggregates including it, the
    /// attack ratio over the requests before it.
    pub fn push(&mut self, e: Observation, params: &[u64]) -> [f32; N] {
        let attacks_before = self.attacks;
        if let Some(last) = self.entries.back() {
            let gap = (e.time - self.time(last)).max(0) as f64;
            self.gap_sum += gap;
            self.gap_sq_sum += gap * gap;
        }
        self.fit(e.time);
        let mut flags = 0;
        if e.status.is_some() {
            flags |= KNOWN_STATUS;
        }
        if e.attack {
            flags |= ATTACK;
        }
        if e.blocked {
            flags |= BLOCKED;
        }
        let n_params = params.len().min(MAX_PARAMS_PER_REQUEST);
        let slot = Slot {
            offset_ms: (e.time.max(self.base_ms) - self.base_ms) as u32,
            path: fold(e.path),
            ua: fold(e.ua),
            status: e.status.unwrap_or(0),
            flags,
            params: n_params as u8,
        };
        let first_param = self.params.len();
        self.params
            .extend(params.iter().take(n_params).map(|p| fold(*p)));
        if let Some(d) = &mut self.distinct {
            d.paths.add(slot.path);
            d.uas.add(slot.ua);
            for p in self.params.range(first_param..) {
                d.params.add(*p);
            }
        }
        self.errors += u32::from(slot.is_error());
        self.known_status += u32::from(e.status.is_some());
        self.attacks += u32::from(e.attack);
        self.blocked += u32::from(e.blocked);
        self.entries.push_back(slot);
        if self.distinct.is_none() && self.entries.len() > SCAN_MAX {
            let mut d = Distinct::default();
            for s in &self.entries {
                d.paths.add(s.path);
                d.uas.add(s.ua);
            }
            for p in &self.params {
                d.params.add(*p);
            }
            self.distinct = Some(Box::new(d));
        }
        self.features(attacks_before)
    }

    /// Requests held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no request is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Event time of the newest request.
    pub fn newest(&self) -> Option<i64> {
        self.entries.back().map(|e| self.time(e))
    }

    /// Approximate bytes held: the struct, the slots and parameter names
    /// held (by length, not allocator capacity), and the counters of a
    /// large window (12 bytes per distinct value plus a control byte).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.entries.len() * std::mem::size_of::<Slot>()
            + self.params.len() * std::mem::size_of::<u32>()
            + self.distinct.as_ref().map_or(0, |d| {
                std::mem::size_of::<Distinct>()
                    + (d.paths.distinct() + d.uas.distinct() + d.params.distinct()) * 9
            })
    }

    /// Distinct paths, User-Agents and parameter names in the window.
    fn distinct_counts(&self) -> (usize, usize, usize) {
        if let Some(d) = &self.distinct {
            return (d.paths.distinct(), d.uas.distinct(), d.params.distinct());
        }
        fn count(mut v: SmallVec<[u32; 64]>) -> usize {
            v.sort_unstable();
            v.dedup();
            v.len()
        }
        (
            count(self.entries.iter().map(|s| s.path).collect()),
            count(self.entries.iter().map(|s| s.ua).collect()),
            count(self.params.iter().copied().collect()),
        )
    }

    fn features(&self, attacks_before: u32) -> [f32; N] {
        let n = self.entries.len();
        let mut f = [0.0f32; N];
        f[B::WindowRequests as usize] = n as f32;
        let span_ms = match (self.entries.front(), self.entries.back()) {
            (Some(a), Some(b)) => i64::from(b.offset_ms.saturating_sub(a.offset_ms)),
            _ => 0,
        };
        // Rate over the span, with a one-second floor so a burst of two is not infinite.
        let minutes = (span_ms.max(1000) as f32) / 60_000.0;
        f[B::RequestsPerMinute as usize] = if n > 1 { n as f32 / minutes } else { 1.0 };
        f[B::ErrorRate as usize] = if self.known_status > 0 {
            self.errors as f32 / self.known_status as f32
        } else {
            0.0
        };
        let (paths, uas, params) = self.distinct_counts();
        f[B::DistinctPaths as usize] = paths as f32;
        f[B::DistinctParams as usize] = params as f32;
        f[B::UaDistinct as usize] = uas as f32;
        let gaps = n.saturating_sub(1) as f64;
        f[B::Burstiness as usize] = if gaps >= 2.0 && self.gap_sum > 0.0 {
            let mean = self.gap_sum / gaps;
            let var = (self.gap_sq_sum / gaps - mean * mean).max(0.0);
            (var.sqrt() / mean) as f32
        } else {
            0.0
        };
        f[B::AttackRatio as usize] = if n > 1 {
            attacks_before as f32 / (n - 1) as f32
        } else {
            0.0
        };
        f[B::BlockedRatio as usize] = self.blocked as f32 / n.max(1) as f32;
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::{prop_oneof, Just};

    fn obs(time: i64, path: u64, status: u16, attack: bool) -> Observation {
        Observation {
            time,
            path,
            ua: 7,
            status: Some(status),
            attack,
            blocked: false,
        }
    }

    #[test]
    fn sliding_aggregates() {
        let mut w = ClientWindow::default();
        let f = w.push(obs(0, 1, 200, true), &[1, 2]);
        assert_eq!(f[B::WindowRequests as usize], 1.0);
        assert_eq!(f[B::AttackRatio as usize], 0.0);
        let f = w.push(obs(1000, 2, 404, false), &[1]);
        assert_eq!(f[B::DistinctPaths as usize], 2.0);
        assert_eq!(f[B::DistinctParams as usize], 2.0);
        assert_eq!(f[B::ErrorRate as usize], 0.5);
        assert_eq!(f[B::AttackRatio as usize], 1.0);
        w.evict(500, 100);
        assert_eq!(w.len(), 1);
        let f = w.push(obs(2000, 2, 200, false), &[]);
        assert_eq!(f[B::DistinctPaths as usize], 1.0);
        assert_eq!(f[B::DistinctParams as usize], 1.0);
        assert_eq!(f[B::ErrorRate as usize], 0.5);
        assert_eq!(f[B::AttackRatio as usize], 0.0);
    }

    #[test]
    fn regular_traffic_has_zero_burstiness() {
        let mut w = ClientWindow::default();
        let mut f = [0.0; N];
        for t in 0..10 {
            f = w.push(obs(t * 1000, 1, 200, false), &[]);
        }
        assert!(f[B::Burstiness as usize].abs() < 1e-6);
        assert_eq!(f[B::RequestsPerMinute as usize], 10.0 / (9.0 / 60.0));
    }

    proptest::proptest! {
        /// The incremental window (scanning or counting) agrees with a
        /// recount of the requests it should hold.
        #[test]
        fn matches_a_recount(
            reqs in proptest::collection::vec(
                (0i64..3_000, 0u64..6, 0u64..3, proptest::option::of(prop_oneof![Just(200u16), Just(404u16)]),
                 proptest::bool::ANY, proptest::collection::vec(0u64..12, 0..4)),
                1..150),
            window_ms in 1_000i64..60_000,
            max_entries in 5usize..80,
        ) {
            let mut w = ClientWindow::default();
            let mut held: VecDeque<(Observation, Vec<u64>)> = VecDeque::new();
            let mut time = 1_767_225_600_000i64;
            for (gap, path, ua, status, attack, params) in reqs {
                time += gap;
                let o = Observation { time, path: path << 40, ua, status, attack, blocked: false };
                w.evict(time - window_ms, max_entries);
                while held.front().is_some_and(|(e, _)| e.time <= time - window_ms)
                    || held.len() >= max_entries
                {
                    held.pop_front();
                }
                let attacks_before = held.iter().filter(|(e, _)| e.attack).count();
                held.push_back((o, params.clone()));
                let f = w.push(o, &params);
                let distinct = |v: Vec<u64>| v.into_iter().collect::<std::collections::BTreeSet<_>>().len() as f32;
                proptest::prop_assert_eq!(f[B::WindowRequests as usize], held.len() as f32);
                proptest::prop_assert_eq!(f[B::DistinctPaths as usize], distinct(held.iter().map(|(e, _)| e.path).collect()));
                proptest::prop_assert_eq!(f[B::UaDistinct as usize], distinct(held.iter().map(|(e, _)| e.ua).collect()));
                proptest::prop_assert_eq!(f[B::DistinctParams as usize], distinct(held.iter().flat_map(|(_, p)| p.clone()).collect()));
                let known = held.iter().filter(|(e, _)| e.status.is_some()).count();
                let errors = held.iter().filter(|(e, _)| e.status.is_some_and(|s| s >= 400)).count();
                let rate = if known > 0 { errors as f32 / known as f32 } else { 0.0 };
                proptest::prop_assert_eq!(f[B::ErrorRate as usize], rate);
                let n = held.len();
                let ratio = if n > 1 { attacks_before as f32 / (n - 1) as f32 } else { 0.0 };
                proptest::prop_assert_eq!(f[B::AttackRatio as usize], ratio);
                proptest::prop_assert_eq!(w.newest(), Some(time));
            }
        }
    }
}
