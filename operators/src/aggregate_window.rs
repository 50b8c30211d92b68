//! Aggregate windows: requests and distinct clients per *aggregate key* —
//! the client's network prefix (/24, /64), its autonomous system, its
//! User-Agent fingerprint, its session — over an event-time window, so a
//! flood spread over many addresses, each too quiet for its own behaviour
//! window, is still seen.
//!
//! The graph maintains these aggregates incrementally in differential
//! dataflow (`timely_ops::aggregates`); this module holds the plain parts:
//! the keys of an event, the window arithmetic both implementations share,
//! the flood score, and [`AggregateWindows`], a single-threaded reference
//! implementation with exactly the graph's semantics (the COST baseline of
//! `cost-bench` and the oracle of the graph's tests).
//!
//! Semantics. Time is the graph's timestamp (the event-time bucket the
//! source placed the event in). A request observed at bucket `t` counts at
//! every bucket `q` with `t <= q < expiry(t)`:
//!
//! * `sliding`: `expiry(t)` is `t + window` rounded up to a multiple of
//!   `slide` — the window covers between `window` and `window + slide` of
//!   event time. A coarser slide keeps fewer distinct retraction times per
//!   key in the arrangement (less state, fewer re-evaluations);
//!   `slide_ms = bucket_ms` gives an exact sliding window.
//! * `tumbling`: `expiry(t)` is the end of the aligned window holding `t`.
//!
//! A request sees the figures of its own bucket: every request of that
//! bucket is counted, its own included, so the figures do not depend on
//! the order of requests within a bucket.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::analyze::AnalyzedEvent;

/// What an aggregate key groups requests by.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum AggregateDim {
    /// The client address's network prefix (`net:203.0.113.0/24`).
    #[default]
    Prefix,
    /// The client address's autonomous system (`asn:64500`, from enrichment).
    Asn,
    /// The User-Agent fingerprint (`ua:` and a hash of the header).
    UserAgent,
    /// The session (`session:ID`, from the recorder or a session cookie).
    Session,
}

impl AggregateDim {
    /// Every dimension, in order.
    pub const ALL: [AggregateDim; 4] = [
        AggregateDim::Prefix,
        AggregateDim::Asn,
        AggregateDim::UserAgent,
        AggregateDim::Session,
    ];

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of dimensions (the ones with a flood threshold configured).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DimSet(u8);

impl DimSet {
    /// The set of `dims`.
    pub fn of(dims: impl IntoIterator<Item = AggregateDim>) -> Self {
        DimSet(dims.into_iter().fold(0, |s, d| s | d.bit()))
    }

    /// True when `dim` is in the set.
    pub fn contains(self, dim: AggregateDim) -> bool {
        self.0 & dim.bit() != 0
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A dimension and its key (`net:…`, `asn:…`, `ua:…`, `session:…`).
pub type DimKey = (AggregateDim, String);

/// Window shape of the aggregates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateMode {
    /// A window ending at each bucket (see the module documentation).
    #[default]
    Sliding,
    /// Aligned, non-overlapping windows.
    Tumbling,
}

/// Configuration of the aggregate windows (`[window.aggregates]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AggregateWindowConfig {
    /// Sliding or tumbling.
    pub mode: AggregateMode,
    /// Window length, event-time ms.
    pub window_ms: i64,
    /// Granularity of a sliding window's end, ms (rounded up to buckets).
    pub slide_ms: i64,
}

impl Default for AggregateWindowConfig {
    fn default() -> Self {
        AggregateWindowConfig {
            mode: AggregateMode::Sliding,
            window_ms: 60_000,
            slide_ms: 10_000,
        }
    }
}

/// The window arithmetic in buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowSpan {
    mode: AggregateMode,
    window: u64,
    slide: u64,
}

impl WindowSpan {
    /// The span of `config` with `bucket_ms` buckets (both lengths at least one bucket).
    pub fn new(config: &AggregateWindowConfig, bucket_ms: u64) -> Self {
        let buckets = |ms: i64| (ms.max(1) as u64).div_ceil(bucket_ms.max(1)).max(1);
        WindowSpan {
            mode: config.mode,
            window: buckets(config.window_ms),
            slide: buckets(config.slide_ms),
        }
    }

    /// The slide, in buckets (the window for tumbling windows).
    pub fn slide(&self) -> u64 {
        match self.mode {
            AggregateMode::Sliding => self.slide,
            AggregateMode::Tumbling => self.window,
        }
    }

    /// The first bucket at which a request observed at `t` no longer counts.
    pub fn expiry(&self, t: u64) -> u64 {
        match self.mode {
            AggregateMode::Sliding => {
                t.saturating_add(self.window).div_ceil(self.slide) * self.slide
            }
            AggregateMode::Tumbling => (t / self.window + 1).saturating_mul(self.window),
        }
    }
}

/// What one aggregate key did in the window, the request's bucket included.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AggregateFigure {
    /// The dimension.
    pub dim: AggregateDim,
    /// The key within it.
    pub key: String,
    /// Requests in the window.
    pub requests: u32,
    /// Distinct clients (client keys) among them.
    pub clients: u32,
}

/// The prefix key of a client key (`ip:ADDRESS`): `net:A.B.C.0/24` or
/// `net:XXXX:…::/64` with the configured widths; `None` for keys that are
/// not addresses (sessions, `anonymous`).
pub fn prefix_key(client_key: &str, v4_bits: u8, v6_bits: u8) -> Option<String> {
    let ip: IpAddr = client_key.strip_prefix("ip:")?.parse().ok()?;
    Some(match ip {
        IpAddr::V4(a) => {
            let bits = v4_bits.min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let net = std::net::Ipv4Addr::from(u32::from(a) & mask);
            format!("net:{net}/{bits}")
        }
        IpAddr::V6(a) => {
            let bits = v6_bits.min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            let net = std::net::Ipv6Addr::from(u128::from(a) & mask);
            format!("net:{net}/{bits}")
        }
    })
}

/// The aggregate keys of an event in the dimensions of `dims`: its
/// prefix (clients with an address), AS (when enrichment knows it),
/// User-Agent fingerprint (requests with a User-Agent) and session (when
/// the request carries one). The second value is the client identity
/// counted as distinct.
pub fn aggregate_keys(
    ev: &AnalyzedEvent,
    dims: DimSet,
    v4_bits: u8,
    v6_bits: u8,
) -> (Vec<DimKey>, u64) {
    let mut keys = Vec::new();
    if dims.contains(AggregateDim::Prefix) {
        if let Some(k) = prefix_key(&ev.client_key, v4_bits, v6_bits) {
            keys.push((AggregateDim::Prefix, k));
        }
    }
    if dims.contains(AggregateDim::Asn) {
        if let Some(asn) = ev.enrichment.as_ref().and_then(|e| e.asn) {
            keys.push((AggregateDim::Asn, format!("asn:{asn}")));
        }
    }
    if dims.contains(AggregateDim::UserAgent) && ev.user_agent_hash != 0 {
        keys.push((
            AggregateDim::UserAgent,
            format!("ua:{:016x}", ev.user_agent_hash),
        ));
    }
    if dims.contains(AggregateDim::Session) {
        if let Some(s) = &ev.session {
            keys.push((AggregateDim::Session, format!("session:{s}")));
        }
    }
    (keys, crate::extract::stable_hash(ev.client_key.as_bytes()))
}

/// A flood threshold: at least `requests` requests from at least `clients`
/// distinct clients in the window (0 in either disables it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FloodThreshold {
    /// Requests in the window.
    pub requests: u32,
    /// Distinct clients among them.
    pub clients: u32,
}

impl FloodThreshold {
    /// True unless either figure is 0.
    pub fn enabled(self) -> bool {
        self.requests > 0 && self.clients > 0
    }
}

/// 1 when a key's figures reach `threshold` (both figures), else 0 (always
/// 0 when disabled). A step, not a ramp: an aggregate spans several
/// partitions, and a record the live source placed in a later bucket than
/// its event time (see "Event time") can shift the counts by a few; a step
/// keeps that from touching the scores of traffic far below the thresholds.
pub fn flood_score(figure: &AggregateFigure, threshold: FloodThreshold) -> f32 {
    if threshold.enabled()
        && figure.requests >= threshold.requests
        && figure.clients >= threshold.clients
    {
        1.0
    } else {
        0.0
    }
}

/// One key's window in the reference implementation: observations with
/// their expiry, oldest first, and per-client counts.
#[derive(Debug, Default)]
struct KeyWindow {
    requests: VecDeque<(u64, u64)>,
    clients: HashMap<u64, u32>,
}

impl KeyWindow {
    fn evict(&mut self, now: u64) {
        while let Some(&(expiry, c)) = self.requests.front() {
            if expiry > now {
                break;
            }
            self.requests.pop_front();
            if let Some(n) = self.clients.get_mut(&c) {
                *n -= 1;
                if *n == 0 {
                    self.clients.remove(&c);
                }
            }
        }
    }
}

/// Single-threaded reference implementation of the aggregate windows:
/// feed each bucket's observations with [`AggregateWindows::observe`], in
/// bucket order, then read the figures of that bucket with
/// [`AggregateWindows::figure`].
#[derive(Debug)]
pub struct AggregateWindows {
    span: WindowSpan,
    keys: HashMap<DimKey, KeyWindow>,
    now: u64,
}

impl AggregateWindows {
    /// Empty windows with `span`.
    pub fn new(span: WindowSpan) -> Self {
        AggregateWindows {
            span,
            keys: HashMap::new(),
            now: 0,
        }
    }

    /// Counts a request of `client` under `key` at bucket `t` (buckets
    /// observed in non-decreasing order).
    pub fn observe(&mut self, key: &DimKey, client: u64, t: u64) {
        self.now = self.now.max(t);
        let w = match self.keys.get_mut(key) {
            Some(w) => w,
            None => self.keys.entry(key.clone()).or_default(),
        };
        w.requests.push_back((self.span.expiry(t), client));
        *w.clients.entry(client).or_default() += 1;
    }

    /// The figures of `key` at the latest observed bucket.
    pub fn figure(&mut self, key: &DimKey) -> Option<AggregateFigure> {
        let w = self.keys.get_mut(key)?;
        w.evict(self.now);
        (!w.requests.is_empty()).then(|| AggregateFigure {
            dim: key.0,
            key: key.1.clone(),
            requests: w.requests.len() as u32,
            clients: w.clients.len() as u32,
        })
    }

    /// Drops every expired observation and empty key.
    pub fn expire(&mut self) {
        let now = self.now;
        self.keys.retain(|_, w| {
            w.evict(now);
            !w.requests.is_empty()
        });
    }

    /// Keys with live state.
    pub fn active_keys(&self) -> usize {
        self.keys.len()
    }

    /// Stamps a whole bucket of events: counts all of them, then records
    /// each one's figures on it (`ev.aggregates`, sorted by dimension).
    pub fn stamp_bucket(
        &mut self,
        t: u64,
        events: &mut [AnalyzedEvent],
        dims: DimSet,
        v4_bits: u8,
        v6_bits: u8,
    ) {
        if dims.is_empty() {
            return;
        }
        let keyed: Vec<(Vec<DimKey>, u64)> = events
            .iter()
            .map(|ev| aggregate_keys(ev, dims, v4_bits, v6_bits))
            .collect();
        for (keys, client) in &keyed {
            for k in keys {
                self.observe(k, *client, t);
            }
        }
        for (ev, (keys, _)) in events.iter_mut().zip(keyed) {
            ev.aggregates = keys.iter().filter_map(|k| self.figure(k)).collect();
        }
        self.expire();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn prefixes_of_addresses_only() {
        assert_eq!(
            prefix_key("ip:203.0.113.77", 24, 64).as_deref(),
            Some("net:203.0.113.0/24")
        );
        assert_eq!(
            prefix_key("ip:2001:db8:1:2:3:4:5:6", 24, 64).as_deref(),
            Some("net:2001:db8:1:2::/64")
        );
        assert_eq!(
            prefix_key("ip:10.1.2.3", 16, 64).as_deref(),
            Some("net:10.1.0.0/16")
        );
        assert_eq!(prefix_key("session:abc", 24, 64), None);
        assert_eq!(prefix_key("anonymous", 24, 64), None);
        assert_eq!(prefix_key("ip:not-an-address", 24, 64), None);
    }

    fn span(mode: AggregateMode, window_ms: i64, slide_ms: i64) -> WindowSpan {
        WindowSpan::new(
            &AggregateWindowConfig {
                mode,
                window_ms,
                slide_ms,
            },
            1000,
        )
    }

    #[test]
    fn expiry_of_sliding_and_tumbling_windows() {
        let exact = span(AggregateMode::Sliding, 10_000, 1_000);
        assert_eq!(exact.expiry(0), 10);
        assert_eq!(exact.expiry(7), 17);
        let coarse = span(AggregateMode::Sliding, 10_000, 4_000);
        assert_eq!(coarse.expiry(0), 12);
        assert_eq!(coarse.expiry(2), 12);
        assert_eq!(coarse.expiry(3), 16);
        let tumbling = span(AggregateMode::Tumbling, 10_000, 1_000);
        assert_eq!(tumbling.expiry(0), 10);
        assert_eq!(tumbling.expiry(9), 10);
        assert_eq!(tumbling.expiry(10), 20);
        // Lengths round up to whole buckets.
        assert_eq!(span(AggregateMode::Sliding, 1_500, 1).expiry(0), 2);
    }

    #[test]
    fn counts_requests_and_clients_in_the_window() {
        let mut w = AggregateWindows::new(span(AggregateMode::Sliding, 2_000, 1_000));
        let k: DimKey = (AggregateDim::Prefix, "net:p".into());
        w.observe(&k, 1, 0);
        let f = w.figure(&k).unwrap();
        assert_eq!((f.requests, f.clients), (1, 1));
        w.observe(&k, 1, 1);
        w.observe(&k, 2, 1);
        let f = w.figure(&k).unwrap();
        assert_eq!((f.requests, f.clients), (3, 2));
        // Bucket 2: the request of bucket 0 has left the window.
        w.observe(&k, 3, 2);
        let f = w.figure(&k).unwrap();
        assert_eq!((f.requests, f.clients), (3, 3));
        w.observe(&(AggregateDim::Session, "other".into()), 9, 9);
        assert_eq!(w.figure(&k), None);
        w.expire();
        assert_eq!(w.active_keys(), 1);
    }

    #[test]
    fn tumbling_windows_restart_at_their_boundary() {
        let mut w = AggregateWindows::new(span(AggregateMode::Tumbling, 3_000, 1_000));
        let k: DimKey = (AggregateDim::Asn, "asn:1".into());
        for t in 0..3 {
            w.observe(&k, t, t);
        }
        assert_eq!(w.figure(&k).unwrap().requests, 3);
        w.observe(&k, 7, 3);
        assert_eq!(w.figure(&k).unwrap().requests, 1);
    }

    #[test]
    fn flood_needs_both_thresholds() {
        let f = |requests, clients| AggregateFigure {
            requests,
            clients,
            ..Default::default()
        };
        let t = FloodThreshold {
            requests: 600,
            clients: 20,
        };
        assert_eq!(flood_score(&f(600, 20), t), 1.0);
        assert_eq!(flood_score(&f(6_000, 200), t), 1.0);
        assert_eq!(flood_score(&f(6_000, 19), t), 0.0);
        assert_eq!(flood_score(&f(599, 200), t), 0.0);
        let off = FloodThreshold {
            requests: 0,
            clients: 20,
        };
        assert_eq!(flood_score(&f(600, 20), off), 0.0);
    }

    #[test]
    fn dim_sets() {
        let s = DimSet::of([AggregateDim::Prefix, AggregateDim::Session]);
        assert!(s.contains(AggregateDim::Prefix) && s.contains(AggregateDim::Session));
        assert!(!s.contains(AggregateDim::Asn) && !s.contains(AggregateDim::UserAgent));
        assert!(DimSet::default().is_empty());
    }

    proptest! {
        #[test]
        fn prefix_key_never_panics(key in ".{0,60}", v4 in 0u8..=255, v6 in 0u8..=255) {
            let _ = prefix_key(&key, v4, v6);
            let _ = prefix_key(&format!("ip:{key}"), v4, v6);
        }

        #[test]
        fn every_v4_address_maps_into_its_prefix(a in any::<u32>(), bits in 0u8..=32) {
            let ip = std::net::Ipv4Addr::from(a);
            let k = prefix_key(&format!("ip:{ip}"), bits, 64).unwrap();
            let (net, len) = k.trim_start_matches("net:").split_once('/').unwrap();
            let net: std::net::Ipv4Addr = net.parse().unwrap();
            prop_assert_eq!(len.parse::<u8>().unwrap(), bits);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            prop_assert_eq!(u32::from(net), a & mask);
        }

        /// The reference windows agree with counting from scratch.
        #[test]
        fn reference_matches_a_recount(
            obs in proptest::collection::vec((0u64..40, 0u8..3, 0u64..5), 1..80),
            tumbling in any::<bool>(),
            window in 1i64..8,
            slide in 1i64..4,
        ) {
            let mode = if tumbling { AggregateMode::Tumbling } else { AggregateMode::Sliding };
            let sp = span(mode, window * 1000, slide * 1000);
            let mut obs = obs;
            obs.sort();
            let mut w = AggregateWindows::new(sp);
            for (i, &(t, k, c)) in obs.iter().enumerate() {
                let key: DimKey = (AggregateDim::Prefix, k.to_string());
                w.observe(&key, c, t);
                if obs.get(i + 1).is_some_and(|n| n.0 == t) {
                    continue;
                }
                // Bucket t is complete: compare every key with a recount.
                for kk in 0u8..3 {
                    let key: DimKey = (AggregateDim::Prefix, kk.to_string());
                    let live: Vec<_> = obs
                        .iter()
                        .filter(|&&(t0, k0, _)| k0 == kk && t0 <= t && t < sp.expiry(t0))
                        .collect();
                    let mut clients: Vec<u64> = live.iter().map(|x| x.2).collect();
                    clients.sort();
                    clients.dedup();
                    let got = w.figure(&key).map(|f| (f.requests, f.clients));
                    let want = (!live.is_empty()).then_some((live.len() as u32, clients.len() as u32));
                    prop_assert_eq!(got, want);
                }
            }
        }
    }
}
