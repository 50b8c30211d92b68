//! Network-prefix windows: requests and distinct clients per /24 (IPv4) or
//! /64 (IPv6) over the behaviour window, so that a flood spread over many
//! addresses — each one too quiet for its own window — is still seen.
//!
//! Same determinism contract as [`crate::window`]: callers feed a prefix's
//! requests in event-time order; late requests get the figures of the
//! window without updating it.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// What a request's prefix did in the window, the request included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixStats {
    /// Requests from the prefix.
    pub requests: u32,
    /// Distinct client addresses among them.
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

/// One prefix's window: request times with their client, and per-client counts.
#[derive(Debug, Default)]
struct PrefixWindow {
    requests: VecDeque<(i64, u64)>,
    clients: HashMap<u64, u32>,
}

impl PrefixWindow {
    fn evict(&mut self, horizon: i64) {
        while let Some(&(t, c)) = self.requests.front() {
            if t > horizon {
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

    fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.requests.len() * 16 + self.clients.len() * 24
    }
}

/// The prefix windows of the prefixes one worker owns.
#[derive(Debug)]
pub struct PrefixWindows {
    window_ms: i64,
    keys: HashMap<String, PrefixWindow>,
    last_expiry: i64,
}

impl PrefixWindows {
    /// Empty windows of `window_ms` event time.
    pub fn new(window_ms: i64) -> Self {
        PrefixWindows {
            window_ms,
            keys: HashMap::new(),
            last_expiry: i64::MIN,
        }
    }

    /// Counts a request of `client` (a hash of its address) in `prefix` at
    /// `time` and returns the prefix's figures over the window ending there.
    /// A `late` request is counted in a copy only.
    pub fn observe(&mut self, prefix: &str, client: u64, time: i64, late: bool) -> PrefixStats {
        let horizon = time - self.window_ms;
        let w = match self.keys.get_mut(prefix) {
            Some(w) => w,
            None => self.keys.entry(prefix.to_string()).or_default(),
        };
        w.evict(horizon);
        if late {
            let known = w.clients.contains_key(&client);
            return PrefixStats {
                requests: w.requests.len() as u32 + 1,
                clients: w.clients.len() as u32 + u32::from(!known),
            };
        }
        w.requests.push_back((time, client));
        *w.clients.entry(client).or_default() += 1;
        PrefixStats {
            requests: w.requests.len() as u32,
            clients: w.clients.len() as u32,
        }
    }

    /// Counts `ev` in its client's prefix (`/v4_bits`, `/v6_bits`) and
    /// records the prefix's figures on it; events of clients without an
    /// address are left as they are.
    pub fn stamp(&mut self, ev: &mut crate::analyze::AnalyzedEvent, v4_bits: u8, v6_bits: u8) {
        if let Some(net) = prefix_key(&ev.client_key, v4_bits, v6_bits) {
            let client = crate::extract::stable_hash(ev.client_key.as_bytes());
            let stats = self.observe(&net, client, ev.event_time_ms, ev.late);
            ev.prefix = Some((net, stats));
        }
    }

    /// Drops prefixes with nothing newer than `watermark_ms - window_ms`
    /// (at most once per quarter window). Returns how many were dropped.
    pub fn expire(&mut self, watermark_ms: i64) -> usize {
        if watermark_ms < self.last_expiry.saturating_add(self.window_ms / 4) {
            return 0;
        }
        self.last_expiry = watermark_ms;
        let horizon = watermark_ms - self.window_ms;
        let before = self.keys.len();
        self.keys
            .retain(|_, w| w.requests.back().is_some_and(|(t, _)| *t > horizon));
        before - self.keys.len()
    }

    /// Prefixes with live state.
    pub fn active_keys(&self) -> usize {
        self.keys.len()
    }

    /// Approximate bytes of state.
    pub fn state_bytes(&self) -> usize {
        self.keys.iter().map(|(k, w)| k.len() + w.bytes()).sum()
    }
}

/// 1 when a prefix's figures are a distributed flood — at least
/// `requests` requests from at least `clients` addresses in the window —
/// else 0 (and always 0 when either threshold is 0: disabled). A step, not a
/// ramp: the prefix window aggregates several partitions, and a record the
/// live source placed in a later bucket than its event time (see "Event
/// time") can shift the counts by a few; a step keeps that from touching
/// the scores of traffic far below the thresholds.
pub fn flood_score(stats: PrefixStats, requests: u32, clients: u32) -> f32 {
    if requests == 0 || clients == 0 {
        return 0.0;
    }
    if stats.requests >= requests && stats.clients >= clients {
        1.0
    } else {
        0.0
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

    #[test]
    fn counts_requests_and_clients_in_the_window() {
        let mut w = PrefixWindows::new(1_000);
        assert_eq!(
            w.observe("p", 1, 0, false),
            PrefixStats {
                requests: 1,
                clients: 1
            }
        );
        w.observe("p", 1, 100, false);
        let s = w.observe("p", 2, 200, false);
        assert_eq!((s.requests, s.clients), (3, 2));
        // A late request sees the window without changing it.
        let late = w.observe("p", 3, 150, true);
        assert_eq!((late.requests, late.clients), (4, 3));
        // 1,100 ms: the requests at 0 and 100 have left the window.
        let s = w.observe("p", 2, 1_100, false);
        assert_eq!((s.requests, s.clients), (2, 1));
        assert!(w.state_bytes() > 0);
        assert_eq!(w.expire(5_000), 1);
        assert_eq!(w.active_keys(), 0);
    }

    #[test]
    fn flood_needs_both_thresholds() {
        let s = |requests, clients| PrefixStats { requests, clients };
        assert_eq!(flood_score(s(600, 20), 600, 20), 1.0);
        assert_eq!(flood_score(s(6_000, 200), 600, 20), 1.0);
        assert_eq!(flood_score(s(6_000, 19), 600, 20), 0.0);
        assert_eq!(flood_score(s(599, 200), 600, 20), 0.0);
        assert_eq!(flood_score(s(600, 20), 0, 20), 0.0);
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
    }
}
