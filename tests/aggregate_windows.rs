//! End-to-end: the aggregate windows (prefix, AS, User-Agent, session)
//! maintained in differential dataflow, checked against a recount from the
//! input, for sliding and tumbling windows and 1 and 2 workers.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;

const T0: i64 = 1_767_225_600_000;

/// One generated request: time, address, session, User-Agent.
struct Req {
    id: String,
    time: i64,
    ip: Option<String>,
    session: Option<String>,
    ua: Option<&'static str>,
}

/// A deterministic mixed stream: three /24s (two in the AS table), a few
/// sessions shared across addresses, three User-Agents, requests without
/// an address.
fn generate(n: usize) -> Vec<Req> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |m: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % m
    };
    let uas = [
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64)",
        "python-requests/2.31",
    ];
    let nets = ["203.0.113", "198.51.100", "192.0.2"];
    let mut time = T0;
    (0..n)
        .map(|i| {
            time += next(120) as i64;
            let ip = (next(8) != 0).then(|| format!("{}.{}", nets[next(3) as usize], 1 + next(12)));
            let session = (next(3) != 0 || ip.is_none()).then(|| format!("S{}", next(5)));
            let ua = (next(6) != 0).then(|| uas[next(3) as usize]);
            Req {
                id: format!("agg-{i:04}"),
                time,
                ip,
                session,
                ua,
            }
        })
        .collect()
}

fn write(reqs: &[Req], path: &std::path::Path) {
    let lines: Vec<String> = reqs
        .iter()
        .map(|r| {
            let mut headers = vec![serde_json::json!({"name": "Host", "value": "shop.example"})];
            if let Some(ua) = r.ua {
                headers.push(serde_json::json!({"name": "User-Agent", "value": ua}));
            }
            if let Some(s) = &r.session {
                headers.push(serde_json::json!({"name": "Cookie", "value": format!("theme=dark; PHPSESSID={s}")}));
            }
            let mut client = serde_json::Map::new();
            if let Some(ip) = &r.ip {
                client.insert("ip".into(), ip.clone().into());
            }
            serde_json::json!({
                "evidence_id": r.id,
                "event_time_ms": r.time,
                "client": client,
                "request": {"method": "GET", "target": "/products?page=1", "headers": headers},
                "response": {"status": 200}
            })
            .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// The aggregate keys of a request, as the verdict reasons name them
/// (the User-Agent by its string: the reasons name a hash of it).
fn keys(r: &Req) -> Vec<(&'static str, String)> {
    let mut k = Vec::new();
    if let Some(ip) = &r.ip {
        let net = ip.rsplit_once('.').unwrap().0;
        k.push(("prefix", format!("{net}.0/24")));
        if net != "192.0.2" {
            k.push((
                "asn",
                if net == "203.0.113" { "64500" } else { "64501" }.into(),
            ));
        }
    }
    if let Some(ua) = r.ua {
        k.push(("ua", ua.to_string()));
    }
    if let Some(s) = &r.session {
        k.push(("session", s.clone()));
    }
    k
}

/// The figures a reason reports: (dimension, key or "", requests, clients).
fn parse_reason(reason: &str) -> Option<(&'static str, String, u32, u32)> {
    let rest = reason
        .strip_prefix("distributed: ")
        .or_else(|| reason.strip_prefix("shared session: "))?;
    let words: Vec<&str> = rest.split(' ').collect();
    let requests = words.first()?.parse().ok()?;
    let clients = words.get(3)?.parse().ok()?;
    if let Some(net) = rest.split(" addresses of ").nth(1) {
        return Some((
            "prefix",
            net.trim_end_matches(" in the window").into(),
            requests,
            clients,
        ));
    }
    if let Some(asn) = rest.split(" clients of AS").nth(1) {
        return Some((
            "asn",
            asn.trim_end_matches(" in the window").into(),
            requests,
            clients,
        ));
    }
    if rest.contains("with one User-Agent") {
        return Some(("ua", String::new(), requests, clients));
    }
    if let Some(s) = rest.split(" in session ").nth(1) {
        return Some((
            "session",
            s.trim_end_matches(" in the window").into(),
            requests,
            clients,
        ));
    }
    None
}

/// Window membership, in buckets of 1 s: a request at bucket `t` counts at `q` when `t <= q < expiry(t)`.
fn expiry(t: i64, tumbling: bool, window: i64, slide: i64) -> i64 {
    if tumbling {
        (t / window + 1) * window
    } else {
        (t + window + slide - 1) / slide * slide
    }
}

fn check(tumbling: bool) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.jsonl");
    let reqs = generate(700);
    write(&reqs, &file);
    let asn = dir.path().join("asn.csv");
    std::fs::write(
        &asn,
        "203.0.113.0/24,AS64500,Example\n198.51.100.0/24,AS64501,Other\n",
    )
    .unwrap();
    let (window, slide) = if tumbling { (4, 4) } else { (5, 2) };
    let args = [
        "--flood-requests",
        "1",
        "--flood-clients",
        "1",
        "--asn-flood",
        "1:1",
        "--user-agent-flood",
        "1:1",
        "--session-flood",
        "1:1",
        "--asn",
        asn.to_str().unwrap(),
        "--aggregate-mode",
        if tumbling { "tumbling" } else { "sliding" },
        "--aggregate-window-ms",
        &(window * 1000).to_string(),
        "--aggregate-slide-ms",
        &(slide * 1000).to_string(),
    ];
    let mut outputs = Vec::new();
    // 2 workers, paced: the arrangement then receives many small batches.
    for (workers, speed) in [(1, "max"), (2, "40x")] {
        let mut args = args.to_vec();
        args.extend(["--speed", speed]);
        let out = replay(&[file.to_str().unwrap()], workers, &args);
        outputs.push(std::fs::read(out.path().join("verdicts.jsonl")).unwrap());
        let verdicts = jsonl(&out.path().join("verdicts.jsonl"));
        assert_eq!(verdicts.len(), reqs.len());
        let by_id: BTreeMap<&str, &serde_json::Value> = verdicts
            .iter()
            .map(|v| (v["evidence_id"].as_str().unwrap(), v))
            .collect();
        let mut checked = 0;
        let all_keys: Vec<Vec<(&str, String)>> = reqs.iter().map(keys).collect();
        for r in &reqs {
            let q = r.time / 1000;
            let mut want = BTreeSet::new();
            for (dim, key) in keys(r) {
                let live: Vec<&Req> = reqs
                    .iter()
                    .zip(&all_keys)
                    .filter(|(o, k)| {
                        let t = o.time / 1000;
                        t <= q
                            && q < expiry(t, tumbling, window, slide)
                            && k.iter().any(|(d, x)| *d == dim && *x == key)
                    })
                    .map(|(o, _)| o)
                    .collect();
                let clients: BTreeSet<String> = live
                    .iter()
                    .map(|o| match &o.ip {
                        Some(ip) => format!("ip:{ip}"),
                        None => format!("session:{}", o.session.clone().unwrap_or_default()),
                    })
                    .collect();
                let key = if dim == "ua" { String::new() } else { key };
                want.insert((dim, key, live.len() as u32, clients.len() as u32));
            }
            let v = by_id[r.id.as_str()];
            let got: BTreeSet<_> = v["anomalies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| parse_reason(a.as_str().unwrap_or_default()))
                .collect();
            assert_eq!(
                got, want,
                "{} ({workers} workers, tumbling {tumbling})",
                r.id
            );
            checked += want.len();
        }
        assert!(checked > 1500, "only {checked} figures checked");
    }
    assert!(
        outputs[0] == outputs[1],
        "1 worker and 2 paced workers differ"
    );
}

#[test]
fn sliding_aggregates_match_a_recount() {
    check(false);
}

#[test]
fn tumbling_aggregates_match_a_recount() {
    check(true);
}
