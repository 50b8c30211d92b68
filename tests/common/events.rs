//! Deterministic synthetic evidence streams for tests.
#![allow(dead_code)]

use serde_json::json;

/// The class the generator meant for an evidence id (from its prefix).
pub fn intended_class(id: &str) -> &str {
    id.split('-').next().unwrap_or("benign")
}

const ATTACKS: &[(&str, &str)] = &[
    ("sqli", "/products?id=1%27%20OR%20%271%27%3D%271"),
    (
        "sqli",
        "/products?id=1%20UNION%20SELECT%20username,password%20FROM%20users--",
    ),
    ("xss", "/search?q=%3Cscript%3Ealert(1)%3C/script%3E"),
    ("xss", "/search?q=%22%3E%3Csvg/onload%3Dalert(1)%3E"),
    ("path_traversal", "/download?file=../../../../etc/passwd"),
    ("cmdi", "/ping?host=127.0.0.1;cat%20/etc/passwd"),
];

const BENIGN: &[&str] = &[
    "/products?id=42&sort=price",
    "/search?q=red+shoes",
    "/search?q=O%27Brien",
    "/",
    "/about",
    "/static/app.js",
];

/// `n` events over `clients` client addresses, one every 50 ms of event
/// time starting at `t0`; every `attack_every`-th event is an attack.
/// Returns `(key, id, json)`.
pub fn stream(
    n: usize,
    clients: usize,
    t0: i64,
    attack_every: usize,
) -> Vec<(String, String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let ip = format!(
                "198.51.{}.{}",
                100 + (i % clients) / 250,
                1 + (i % clients) % 250
            );
            let (class, target) = if attack_every > 0 && i % attack_every == attack_every - 1 {
                ATTACKS[(i / attack_every) % ATTACKS.len()]
            } else {
                ("benign", BENIGN[i % BENIGN.len()])
            };
            let id = format!("{class}-{i:06}");
            let ev = json!({
                "evidence_id": id,
                "event_time_ms": t0 + i as i64 * 50,
                "client": {"ip": ip},
                "request": {"method": "GET", "target": target, "headers": [
                    {"name": "Host", "value": "shop.example"},
                    {"name": "User-Agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"}
                ]},
                "response": {"status": 200}
            });
            (
                format!("ip:{ip}"),
                id,
                serde_json::to_vec(&ev).expect("json"),
            )
        })
        .collect()
}
