//! Event-time behaviour windows per client key.
//!
//! Each key keeps the requests of its last `window_ms` of event time (a
//! sliding window anchored at each request). Aggregates are maintained
//! incrementally, so observing a request costs O(1) amortized whatever the
//! window holds, and a key's memory is bounded by `max_entries`.
//!
//! Determinism: callers feed a key's requests in event-time order (the
//! timely operator sorts each closed batch by `(event_time, provenance)`),
//! so the features of every request depend only on the input, never on
//! worker count or arrival order. Late requests are scored against a
//! window of their own and do not update state.

use std::collections::HashMap;

use sentinel_models::features::behaviour::N;
use sentinel_models::features::window::{ClientWindow, Observation};

use crate::analyze::AnalyzedEvent;

/// Window configuration.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowConfig {
    /// Window length in event time, ms.
    pub window_ms: i64,
    /// Most requests remembered per key.
    pub max_entries: usize,
    /// A request scoring at least this is counted as an attack in the window.
    pub attack_threshold: f32,
    /// IPv4 prefix length of the network-prefix windows.
    pub prefix_v4_bits: u8,
    /// IPv6 prefix length of the network-prefix windows.
    pub prefix_v6_bits: u8,
    /// The aggregate windows (prefix, AS, User-Agent, session).
    pub aggregates: crate::aggregate_window::AggregateWindowConfig,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            window_ms: 60_000,
            max_entries: 4096,
            attack_threshold: 0.5,
            prefix_v4_bits: 24,
            prefix_v6_bits: 64,
            aggregates: Default::default(),
        }
    }
}

/// The behaviour windows of the keys one worker owns.
#[derive(Debug, Default)]
pub struct BehaviourWindows {
    config: WindowConfig,
    keys: HashMap<String, ClientWindow>,
    /// [`BehaviourWindows::state_bytes`], kept up to date by `observe` and
    /// `expire` so that reading it does not visit every key.
    bytes: usize,
    late: u64,
    last_expiry: i64,
}

impl BehaviourWindows {
    /// Empty windows with `config`.
    pub fn new(config: WindowConfig) -> Self {
        BehaviourWindows {
            config,
            keys: HashMap::new(),
            bytes: 0,
            late: 0,
            last_expiry: i64::MIN,
        }
    }

    fn observation(&self, ev: &AnalyzedEvent) -> Observation {
        Observation {
            time: ev.event_time_ms,
            path: crate::extract::stable_hash(ev.path.as_bytes()),
            ua: ev.user_agent_hash,
            status: ev.status,
            attack: ev.attack_score() >= self.config.attack_threshold,
            blocked: ev.waf_blocked,
        }
    }

    /// Observes one request (in event-time order per key) and returns its
    /// behaviour features. Late requests get the features of a window
    /// holding only themselves and leave the state untouched.
    pub fn observe(&mut self, ev: &AnalyzedEvent) -> [f32; N] {
        let obs = self.observation(ev);
        if ev.late {
            self.late += 1;
            return ClientWindow::default().push(obs, &ev.param_name_hashes);
        }
        let horizon = ev.event_time_ms - self.config.window_ms;
        let w = match self.keys.get_mut(&ev.client_key) {
            Some(w) => w,
            None => {
                self.bytes += key_bytes(&ev.client_key, &ClientWindow::default());
                self.keys.entry(ev.client_key.clone()).or_default()
            }
        };
        let before = w.state_bytes();
        w.evict(horizon, self.config.max_entries);
        let features = w.push(obs, &ev.param_name_hashes);
        self.bytes = self.bytes - before + w.state_bytes();
        features
    }

    /// Drops keys whose newest request is older than `watermark_ms - window_ms`
    /// (their windows can no longer change). Returns how many were dropped.
    ///
    /// A sweep visits every key, so it runs at most once per quarter window
    /// of event time; state stays bounded by about 1.25 windows of keys.
    pub fn expire(&mut self, watermark_ms: i64) -> usize {
        if watermark_ms < self.last_expiry.saturating_add(self.config.window_ms / 4) {
            return 0;
        }
        self.last_expiry = watermark_ms;
        let horizon = watermark_ms - self.config.window_ms;
        let before = self.keys.len();
        let bytes = &mut self.bytes;
        self.keys.retain(|k, w| {
            let keep = w.newest().is_some_and(|t| t > horizon);
            if !keep {
                *bytes -= key_bytes(k, w);
            }
            keep
        });
        before - self.keys.len()
    }

    /// Keys with live state.
    pub fn active_keys(&self) -> usize {
        self.keys.len()
    }

    /// Requests held over all keys.
    pub fn entries(&self) -> usize {
        self.keys.values().map(ClientWindow::len).sum()
    }

    /// Approximate bytes of window state: each key's length and its
    /// window's [`ClientWindow::state_bytes`]. Kept as a running total, so
    /// reading it costs nothing (the operator reads it after every batch).
    pub fn state_bytes(&self) -> usize {
        self.bytes
    }

    /// Late requests seen.
    pub fn late(&self) -> u64 {
        self.late
    }
}

/// What one key's entry counts towards [`BehaviourWindows::state_bytes`].
fn key_bytes(key: &str, window: &ClientWindow) -> usize {
    key.len() + window.state_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_models::features::behaviour::B;
    use sentinel_schema::ClassScores;

    fn ev(key: &str, t: i64, path: &str, status: u16, attack: bool) -> AnalyzedEvent {
        AnalyzedEvent {
            path: path.into(),
            status: Some(status),
            user_agent_hash: 7,
            param_name_hashes: vec![1, 2],
            scores: if attack {
                ClassScores {
                    sqli: 0.9,
                    benign: 0.1,
                    ..Default::default()
                }
            } else {
                ClassScores {
                    benign: 1.0,
                    ..Default::default()
                }
            },
            ..AnalyzedEvent::for_test(&format!("{key}-{t}"), key, t)
        }
    }

    #[test]
    fn sliding_aggregates() {
        let mut w = BehaviourWindows::new(WindowConfig {
            window_ms: 10_000,
            ..Default::default()
        });
        let f = w.observe(&ev("a", 0, "/x", 200, true));
        assert_eq!(f[B::WindowRequests as usize], 1.0);
        assert_eq!(f[B::AttackRatio as usize], 0.0);
        let f = w.observe(&ev("a", 1000, "/y", 404, false));
        assert_eq!(f[B::WindowRequests as usize], 2.0);
        assert_eq!(f[B::DistinctPaths as usize], 2.0);
        assert_eq!(f[B::ErrorRate as usize], 0.5);
        assert_eq!(f[B::AttackRatio as usize], 1.0);
        // 11 s later the first two have left the window.
        let f = w.observe(&ev("a", 12_000, "/x", 200, false));
        assert_eq!(f[B::WindowRequests as usize], 1.0);
        assert_eq!(f[B::ErrorRate as usize], 0.0);
        // Other keys are independent.
        let f = w.observe(&ev("b", 12_000, "/z", 200, false));
        assert_eq!(f[B::WindowRequests as usize], 1.0);
        assert_eq!(w.active_keys(), 2);
        assert_eq!(w.expire(30_000), 2);
        assert_eq!(w.entries(), 0);
    }

    #[test]
    fn late_requests_do_not_touch_state() {
        let mut w = BehaviourWindows::new(WindowConfig::default());
        w.observe(&ev("a", 5000, "/x", 200, false));
        let mut late = ev("a", 10, "/old", 200, false);
        late.late = true;
        let f = w.observe(&late);
        assert_eq!(f[B::WindowRequests as usize], 1.0);
        assert_eq!(w.entries(), 1);
        assert_eq!(w.late(), 1);
    }

    #[test]
    fn bounded_per_key() {
        let mut w = BehaviourWindows::new(WindowConfig {
            max_entries: 10,
            ..Default::default()
        });
        for t in 0..100 {
            w.observe(&ev("flood", t, "/", 200, false));
        }
        assert_eq!(w.entries(), 10);
    }

    #[test]
    fn burstiness_of_regular_traffic_is_zero() {
        let mut w = BehaviourWindows::new(WindowConfig::default());
        let mut f = [0.0; N];
        for t in 0..10 {
            f = w.observe(&ev("a", t * 1000, "/", 200, false));
        }
        assert!(f[B::Burstiness as usize].abs() < 1e-6);
    }

    proptest::proptest! {
        /// The running total of state bytes always equals a recount over
        /// every key, whatever is observed and expired.
        #[test]
        fn state_bytes_is_the_recount(
            steps in proptest::collection::vec((0u8..6, 0i64..4_000, proptest::bool::ANY, 0u8..8), 1..300)
        ) {
            let mut w = BehaviourWindows::new(WindowConfig {
                window_ms: 10_000,
                max_entries: 16,
                ..Default::default()
            });
            let mut t = 0;
            for (key, gap, attack, what) in steps {
                t += gap;
                match what {
                    0 => {
                        w.expire(t);
                    }
                    1 => {
                        let mut late = ev(&format!("k{key}"), t - 30_000, "/old", 200, attack);
                        late.late = true;
                        w.observe(&late);
                    }
                    _ => {
                        w.observe(&ev(&format!("k{key}"), t, &format!("/p{what}"), 200, attack));
                    }
                }
                let recount: usize = w.keys.iter().map(|(k, cw)| key_bytes(k, cw)).sum();
                proptest::prop_assert_eq!(w.state_bytes(), recount);
            }
        }
    }
}
