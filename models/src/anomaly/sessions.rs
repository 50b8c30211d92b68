//! Seeded simulations of client traffic, for training and testing the
//! behaviour anomaly model: what ordinary clients of a web application do
//! (browsers, API clients, crawlers, many users behind one NAT) and what
//! attackers do (scanners, credential stuffing, injection fuzzers, slow
//! injection, User-Agent rotation). Each simulated request goes through
//! the same [`ClientWindow`] as the pipeline, so the features match.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::features::behaviour::N;
use crate::features::window::{ClientWindow, Observation};

/// Kinds of simulated client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// A person in a browser: pages, asset bursts, think time.
    Browser,
    /// A mobile app or integration polling a few API endpoints.
    ApiClient,
    /// A well-behaved crawler: steady, one path after another.
    Crawler,
    /// Several browsers behind one address (office NAT, carrier-grade NAT).
    SharedNat,
    /// A content-discovery scanner: fast, mostly 404s.
    Scanner,
    /// Credential stuffing against the login endpoint.
    CredentialStuffing,
    /// An injection fuzzer hammering one endpoint with payloads.
    Fuzzer,
    /// Injection attempts at a human pace.
    LowAndSlow,
    /// A spray that rotates User-Agents to look like many clients.
    UaRotation,
}

impl ClientKind {
    /// The ordinary kinds.
    pub const NORMAL: [ClientKind; 4] = [
        ClientKind::Browser,
        ClientKind::ApiClient,
        ClientKind::Crawler,
        ClientKind::SharedNat,
    ];
    /// The hostile kinds.
    pub const HOSTILE: [ClientKind; 5] = [
        ClientKind::Scanner,
        ClientKind::CredentialStuffing,
        ClientKind::Fuzzer,
        ClientKind::LowAndSlow,
        ClientKind::UaRotation,
    ];

    /// Snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Browser => "browser",
            ClientKind::ApiClient => "api_client",
            ClientKind::Crawler => "crawler",
            ClientKind::SharedNat => "shared_nat",
            ClientKind::Scanner => "scanner",
            ClientKind::CredentialStuffing => "credential_stuffing",
            ClientKind::Fuzzer => "fuzzer",
            ClientKind::LowAndSlow => "low_and_slow",
            ClientKind::UaRotation => "ua_rotation",
        }
    }
}

/// One simulated request: the observation and its parameter-name hashes.
pub type SimRequest = (Observation, Vec<u64>);

/// The simulated site: paths with Zipf popularity and their parameters.
struct Site {
    pages: Vec<(u64, Vec<u64>)>,
    assets: Vec<u64>,
    api: Vec<(u64, Vec<u64>)>,
    cumulative: Vec<f64>,
}

impl Site {
    fn new(rng: &mut ChaCha8Rng) -> Self {
        let pages: Vec<(u64, Vec<u64>)> = (0..300u64)
            .map(|i| {
                let k = rng.gen_range(0..4);
                (1_000 + i, (0..k).map(|j| 50 + (i * 7 + j) % 40).collect())
            })
            .collect();
        let mut cumulative = Vec::with_capacity(pages.len());
        let mut acc = 0.0;
        for r in 1..=pages.len() {
            acc += 1.0 / (r as f64).powf(1.1);
            cumulative.push(acc);
        }
        Site {
            pages,
            assets: (0..60u64).map(|i| 5_000 + i).collect(),
            api: (0..12u64)
                .map(|i| (9_000 + i, (0..(i % 4)).map(|j| 200 + i * 4 + j).collect()))
                .collect(),
            cumulative,
        }
    }

    fn page(&self, rng: &mut ChaCha8Rng) -> &(u64, Vec<u64>) {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.gen_range(0.0..total);
        let i = self.cumulative.partition_point(|c| *c < x);
        &self.pages[i.min(self.pages.len() - 1)]
    }
}

fn status(rng: &mut ChaCha8Rng, error_rate: f64) -> u16 {
    if rng.gen_bool(error_rate.clamp(0.0, 1.0)) {
        *[404u16, 404, 404, 403, 500]
            .get(rng.gen_range(0..5))
            .unwrap_or(&404)
    } else if rng.gen_bool(0.05) {
        304
    } else if rng.gen_bool(0.03) {
        302
    } else {
        200
    }
}

/// Log-normal draw with the given median and shape.
fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen_range(0.0..1.0);
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

struct Builder<'a> {
    rng: &'a mut ChaCha8Rng,
    t: i64,
    out: Vec<SimRequest>,
    /// Share of requests a benign payload trips the detector on (false positives).
    fp_rate: f64,
}

impl Builder<'_> {
    fn req(&mut self, path: u64, ua: u64, params: Vec<u64>, status: u16, attack: bool) {
        let fp = !attack && self.rng.gen_bool(self.fp_rate);
        let blocked = (attack && self.rng.gen_bool(0.3)) || (fp && self.rng.gen_bool(0.5));
        self.out.push((
            Observation {
                time: self.t,
                path,
                ua,
                status: Some(status),
                attack: attack || fp,
                blocked,
            },
            params,
        ));
    }

    fn advance_ms(&mut self, ms: f64) {
        self.t += ms.max(1.0) as i64;
    }
}

fn browser(b: &mut Builder<'_>, site: &Site, ua: u64, pages: usize, with_assets: bool) {
    let error_rate = b.rng.gen_range(0.0..0.04);
    for _ in 0..pages {
        let (path, params) = site.page(b.rng).clone();
        let s = status(b.rng, error_rate);
        b.req(path, ua, params, s, false);
        if with_assets {
            for _ in 0..b.rng.gen_range(0..7) {
                let asset = site.assets[b.rng.gen_range(0..site.assets.len())];
                let gap = b.rng.gen_range(5.0..300.0);
                b.advance_ms(gap);
                let s = if b.rng.gen_bool(0.4) { 304 } else { 200 };
                b.req(asset, ua, vec![], s, false);
            }
        }
        let think = lognormal(b.rng, 9_000.0, 1.0).min(600_000.0);
        b.advance_ms(think);
    }
}

/// Simulates one client of `kind`; `rng` drives everything.
pub fn simulate(kind: ClientKind, rng: &mut ChaCha8Rng) -> Vec<SimRequest> {
    let site = Site::new(&mut ChaCha8Rng::seed_from_u64(7));
    let t0 = rng.gen_range(0..86_400_000i64);
    let fp_rate = 0.004;
    let mut b = Builder {
        rng,
        t: t0,
        out: Vec::new(),
        fp_rate,
    };
    let ua: u64 = b.rng.gen();
    match kind {
        ClientKind::Browser => {
            let pages = 1 + (lognormal(b.rng, 6.0, 0.9) as usize).min(120);
            let assets = b.rng.gen_bool(0.5);
            browser(&mut b, &site, ua, pages, assets);
        }
        ClientKind::ApiClient => {
            let endpoints: Vec<(u64, Vec<u64>)> = (0..b.rng.gen_range(1..5))
                .map(|_| site.api[b.rng.gen_range(0..site.api.len())].clone())
                .collect();
            let period = b.rng.gen_range(2_000.0..30_000.0);
            let n = b.rng.gen_range(5..200);
            for _ in 0..n {
                // A sync burst now and then, else the polling cadence.
                if b.rng.gen_bool(0.05) {
                    for _ in 0..b.rng.gen_range(3..15) {
                        let (p, params) = endpoints[b.rng.gen_range(0..endpoints.len())].clone();
                        let s = status(b.rng, 0.01);
                        b.req(p, ua, params, s, false);
                        let gap = b.rng.gen_range(20.0..250.0);
                        b.advance_ms(gap);
                    }
                }
                let (p, params) = endpoints[b.rng.gen_range(0..endpoints.len())].clone();
                let s = if b.rng.gen_bool(0.01) {
                    401
                } else {
                    status(b.rng, 0.005)
                };
                b.req(p, ua, params, s, false);
                let jitter = b.rng.gen_range(0.9..1.1);
                b.advance_ms(period * jitter);
            }
        }
        ClientKind::Crawler => {
            let pace = b.rng.gen_range(1_000.0..8_000.0);
            let miss = b.rng.gen_range(0.0..0.12);
            for i in 0..b.rng.gen_range(20..400u64) {
                let (path, params) = &site.pages[(i as usize * 13) % site.pages.len()];
                let path = if b.rng.gen_bool(miss) {
                    100_000 + i
                } else {
                    *path
                };
                let s = if path >= 100_000 {
                    404
                } else {
                    status(b.rng, 0.01)
                };
                b.req(path, ua, params.clone(), s, false);
                let gap = pace * b.rng.gen_range(0.7..1.3);
                b.advance_ms(gap);
            }
        }
        ClientKind::SharedNat => {
            let users = b.rng.gen_range(2..10);
            let mut merged: Vec<SimRequest> = Vec::new();
            let start = b.t;
            for _ in 0..users {
                let t = start + b.rng.gen_range(0..120_000);
                let mut inner = Builder {
                    rng: b.rng,
                    t,
                    out: Vec::new(),
                    fp_rate,
                };
                let ua = inner.rng.gen();
                let pages = 1 + (lognormal(inner.rng, 6.0, 0.8) as usize).min(60);
                let assets = inner.rng.gen_bool(0.5);
                browser(&mut inner, &site, ua, pages, assets);
                merged.extend(inner.out);
            }
            merged.sort_by_key(|(o, _)| o.time);
            b.out = merged;
        }
        ClientKind::Scanner => {
            let rate_per_min = b.rng.gen_range(150.0..1500.0);
            let hit = b.rng.gen_range(0.05..0.3);
            let payloads = b.rng.gen_range(0.0..0.3);
            for i in 0..b.rng.gen_range(40..600u64) {
                let found = b.rng.gen_bool(hit);
                let path = if found {
                    site.pages[b.rng.gen_range(0..site.pages.len())].0
                } else {
                    200_000 + i
                };
                let s = if found {
                    200
                } else if b.rng.gen_bool(0.9) {
                    404
                } else {
                    403
                };
                let attack = b.rng.gen_bool(payloads);
                b.req(path, ua, vec![], s, attack);
                let gap = 60_000.0 / rate_per_min * b.rng.gen_range(0.3..1.7);
                b.advance_ms(gap);
            }
        }
        ClientKind::CredentialStuffing => {
            let rate_per_min = b.rng.gen_range(40.0..600.0);
            let rotate = b.rng.gen_bool(0.5);
            let uas: Vec<u64> = (0..b.rng.gen_range(1..30)).map(|_| b.rng.gen()).collect();
            for _ in 0..b.rng.gen_range(30..500) {
                let ua = if rotate {
                    uas[b.rng.gen_range(0..uas.len())]
                } else {
                    ua
                };
                let s = if b.rng.gen_bool(0.97) { 401 } else { 200 };
                b.req(42, ua, vec![60, 61], s, false);
                let gap = 60_000.0 / rate_per_min * b.rng.gen_range(0.5..1.5);
                b.advance_ms(gap);
            }
        }
        ClientKind::Fuzzer => {
            let rate_per_min = b.rng.gen_range(60.0..900.0);
            let (path, params) = site.page(b.rng).clone();
            let params = if params.is_empty() { vec![77] } else { params };
            let hostile = b.rng.gen_range(0.5..1.0);
            for _ in 0..b.rng.gen_range(30..800) {
                let attack = b.rng.gen_bool(hostile);
                let s = if attack && b.rng.gen_bool(0.3) {
                    500
                } else {
                    status(b.rng, 0.05)
                };
                b.req(path, ua, params.clone(), s, attack);
                let gap = 60_000.0 / rate_per_min * b.rng.gen_range(0.2..1.8);
                b.advance_ms(gap);
            }
        }
        ClientKind::LowAndSlow => {
            let hostile = b.rng.gen_range(0.3..1.0);
            for _ in 0..b.rng.gen_range(8..60) {
                let (path, params) = site.page(b.rng).clone();
                let attack = b.rng.gen_bool(hostile);
                let s = status(b.rng, 0.05);
                b.req(path, ua, params, s, attack);
                let gap = lognormal(b.rng, 12_000.0, 0.6);
                b.advance_ms(gap);
            }
        }
        ClientKind::UaRotation => {
            let rate_per_min = b.rng.gen_range(30.0..300.0);
            for _ in 0..b.rng.gen_range(30..300) {
                let ua: u64 = b.rng.gen();
                let (path, params) = site.page(b.rng).clone();
                let s = status(b.rng, 0.1);
                let attack = b.rng.gen_bool(0.2);
                b.req(path, ua, params, s, attack);
                let gap = 60_000.0 / rate_per_min * b.rng.gen_range(0.5..1.5);
                b.advance_ms(gap);
            }
        }
    }
    b.out
}

/// The behaviour features of every request of a simulated client, through
/// a sliding window of `window_ms` holding at most `max_entries`.
pub fn window_features(
    requests: Vec<SimRequest>,
    window_ms: i64,
    max_entries: usize,
) -> Vec<[f32; N]> {
    let mut w = ClientWindow::default();
    requests
        .into_iter()
        .map(|(o, params)| {
            w.evict(o.time - window_ms, max_entries);
            w.push(o, &params)
        })
        .collect()
}

/// Feature vectors of `clients` simulated clients of the normal kinds
/// (browsers 55 %, API clients 20 %, crawlers 10 %, shared NATs 15 %), in
/// a 60-second window.
pub fn normal_vectors(seed: u64, clients: usize) -> Vec<[f32; N]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for _ in 0..clients {
        let x: f64 = rng.gen_range(0.0..1.0);
        let kind = if x < 0.55 {
            ClientKind::Browser
        } else if x < 0.75 {
            ClientKind::ApiClient
        } else if x < 0.85 {
            ClientKind::Crawler
        } else {
            ClientKind::SharedNat
        };
        out.extend(window_features(simulate(kind, &mut rng), 60_000, 4096));
    }
    out
}

/// Feature vectors of `clients` simulated clients of one kind, keeping
/// only requests from the `from`-th on (an attack shows once it has a history).
pub fn kind_vectors(kind: ClientKind, seed: u64, clients: usize, from: usize) -> Vec<[f32; N]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..clients)
        .flat_map(|_| {
            window_features(simulate(kind, &mut rng), 60_000, 4096)
                .into_iter()
                .skip(from)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::behaviour::B;

    #[test]
    fn simulations_are_deterministic_and_ordered() {
        for kind in ClientKind::NORMAL.into_iter().chain(ClientKind::HOSTILE) {
            let a = simulate(kind, &mut ChaCha8Rng::seed_from_u64(3));
            let b = simulate(kind, &mut ChaCha8Rng::seed_from_u64(3));
            assert_eq!(a, b, "{kind:?}");
            assert!(!a.is_empty());
            assert!(a.windows(2).all(|w| w[0].0.time <= w[1].0.time), "{kind:?}");
        }
    }

    #[test]
    fn scanners_collect_errors_and_paths() {
        let v = kind_vectors(ClientKind::Scanner, 1, 20, 30);
        let mean = |b: B| v.iter().map(|f| f[b as usize]).sum::<f32>() / v.len() as f32;
        assert!(mean(B::ErrorRate) > 0.6);
        assert!(mean(B::DistinctPaths) > 30.0);
        let n = normal_vectors(1, 200);
        let mean_n = |b: B| n.iter().map(|f| f[b as usize]).sum::<f32>() / n.len() as f32;
        assert!(mean_n(B::ErrorRate) < 0.1);
    }
}
