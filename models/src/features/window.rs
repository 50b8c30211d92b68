//! The computation of the behaviour features: one client's sliding window.
//!
//! Aggregates are maintained incrementally, so pushing a request costs O(1)
//! amortized whatever the window holds. Used by the pipeline's window stage
//! and by the session generators that train the behaviour anomaly model,
//! so both see exactly the same features.

use std::collections::{HashMap, VecDeque};

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
struct Counts(HashMap<u64, u32>);

impl Counts {
    fn add(&mut self, k: u64) {
        *self.0.entry(k).or_default() += 1;
    }
    fn remove(&mut self, k: u64) {
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

/// One client's window of requests, oldest first.
#[derive(Clone, Debug, Default)]
pub struct ClientWindow {
    entries: VecDeque<Observation>,
    param_hashes: VecDeque<Vec<u64>>,
    paths: Counts,
    uas: Counts,
    params: Counts,
    errors: u32,
    known_status: u32,
    attacks: u32,
    blocked: u32,
    gap_sum: f64,
    gap_sq_sum: f64,
}

impl ClientWindow {
    /// Drops the oldest request.
    pub fn pop_front(&mut self) {
        let Some(e) = self.entries.pop_front() else {
            return;
        };
        let params = self.param_hashes.pop_front().unwrap_or_default();
        self.paths.remove(e.path);
        self.uas.remove(e.ua);
        for p in params {
            self.params.remove(p);
        }
        self.errors -= u32::from(is_error(&e));
        self.known_status -= u32::from(e.status.is_some());
        self.attacks -= u32::from(e.attack);
        self.blocked -= u32::from(e.blocked);
        if let Some(next) = self.entries.front() {
            let gap = (next.time - e.time).max(0) as f64;
            self.gap_sum -= gap;
            self.gap_sq_sum -= gap * gap;
        }
    }

    /// Drops requests at or before `horizon` and, beyond that, the oldest
    /// until fewer than `max_entries` remain.
    pub fn evict(&mut self, horizon: i64, max_entries: usize) {
        while self.entries.front().is_some_and(|e| e.time <= horizon)
            || self.entries.len() >= max_entries.max(1)
        {
            self.pop_front();
        }
    }

    /// Appends a request (callers keep event-time order) with its
    /// parameter-name hashes, and returns its features: the window's
    /// aggregates including it, the attack ratio over the requests before it.
    pub fn push(&mut self, e: Observation, params: Vec<u64>) -> [f32; N] {
        let attacks_before = self.attacks;
        if let Some(last) = self.entries.back() {
            let gap = (e.time - last.time).max(0) as f64;
            self.gap_sum += gap;
            self.gap_sq_sum += gap * gap;
        }
        self.paths.add(e.path);
        self.uas.add(e.ua);
        for p in &params {
            self.params.add(*p);
        }
        self.errors += u32::from(is_error(&e));
        self.known_status += u32::from(e.status.is_some());
        self.attacks += u32::from(e.attack);
        self.blocked += u32::from(e.blocked);
        self.entries.push_back(e);
        self.param_hashes.push_back(params);
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
        self.entries.back().map(|e| e.time)
    }

    /// Approximate bytes held.
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.entries.len() * std::mem::size_of::<Observation>()
            + self
                .param_hashes
                .iter()
                .map(|p| 24 + p.len() * 8)
                .sum::<usize>()
            + (self.paths.distinct() + self.uas.distinct() + self.params.distinct()) * 16
    }

    fn features(&self, attacks_before: u32) -> [f32; N] {
        let n = self.entries.len();
        let mut f = [0.0f32; N];
        f[B::WindowRequests as usize] = n as f32;
        let span_ms = match (self.entries.front(), self.entries.back()) {
            (Some(a), Some(b)) => (b.time - a.time).max(0),
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
        f[B::DistinctPaths as usize] = self.paths.distinct() as f32;
        f[B::DistinctParams as usize] = self.params.distinct() as f32;
        f[B::UaDistinct as usize] = self.uas.distinct() as f32;
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

fn is_error(e: &Observation) -> bool {
    e.status.is_some_and(|s| s >= 400)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let f = w.push(obs(0, 1, 200, true), vec![1, 2]);
        assert_eq!(f[B::WindowRequests as usize], 1.0);
        assert_eq!(f[B::AttackRatio as usize], 0.0);
        let f = w.push(obs(1000, 2, 404, false), vec![1]);
        assert_eq!(f[B::DistinctPaths as usize], 2.0);
        assert_eq!(f[B::DistinctParams as usize], 2.0);
        assert_eq!(f[B::ErrorRate as usize], 0.5);
        assert_eq!(f[B::AttackRatio as usize], 1.0);
        w.evict(500, 100);
        assert_eq!(w.len(), 1);
        let f = w.push(obs(2000, 2, 200, false), vec![]);
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
            f = w.push(obs(t * 1000, 1, 200, false), vec![]);
        }
        assert!(f[B::Burstiness as usize].abs() < 1e-6);
        assert_eq!(f[B::RequestsPerMinute as usize], 10.0 / (9.0 / 60.0));
    }
}
