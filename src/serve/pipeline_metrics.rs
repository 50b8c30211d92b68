//! The pipeline's counters as Prometheus metrics for `sentinel run`
//! (`[api] metrics_listen`): a small HTTP listener with `/metrics`,
//! `/healthz` and `/readyz`, and a sampler that turns the live counters
//! into counter increments and gauges once a second.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::routing::get;
use axum::Router;

use sentinel_dataflow::Counters;

use super::metrics::Metrics;

/// Remembers the last sampled totals, to add only the difference.
#[derive(Default)]
pub struct Sampler {
    last: Mutex<BTreeMap<String, u64>>,
}

impl Sampler {
    fn delta(&self, key: &str, now: u64) -> u64 {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let prev = last.insert(key.to_string(), now).unwrap_or(0);
        now.saturating_sub(prev)
    }

    /// Brings `m` up to date with `c`.
    pub fn sample(&self, m: &Metrics, c: &Counters) {
        let records = c.records_in.load(Ordering::Relaxed);
        m.events_in
            .with_label_values(&["input"])
            .inc_by(self.delta("in", records));
        for (sink, n) in [
            ("verdicts", c.verdicts.load(Ordering::Relaxed)),
            ("evidence_ready", c.evidence_ready.load(Ordering::Relaxed)),
            ("dead_letters", c.dead_total()),
        ] {
            m.events_out
                .with_label_values(&[sink])
                .inc_by(self.delta(&format!("out:{sink}"), n));
        }
        for ((decision, label), n) in c.outcomes() {
            let _ = label;
            m.predictions
                .with_label_values(&[decision.as_str()])
                .inc_by(self.delta(
                    &format!("verdict:{}:{}", decision.as_str(), label.as_str()),
                    n,
                ));
        }
        for (reason, n) in c.dead_letters() {
            m.dead_letters
                .with_label_values(&[reason.as_str()])
                .inc_by(self.delta(&format!("dead:{reason}"), n));
        }
        let rules = c.rules();
        let generated: u64 = rules.values().sum();
        let applied: u64 = rules
            .iter()
            .filter(|(s, _)| s.is_active())
            .map(|(_, n)| n)
            .sum();
        m.rules_generated.inc_by(self.delta("rules", generated));
        m.rules_applied.inc_by(self.delta("rules_applied", applied));
        for (op, status, n) in [
            (
                "package_verify",
                "ok",
                c.packages_verified.load(Ordering::Relaxed),
            ),
            (
                "package_verify",
                "rejected",
                c.packages_rejected.load(Ordering::Relaxed),
            ),
        ] {
            m.evidence_operations
                .with_label_values(&[op, status])
                .inc_by(self.delta(&format!("ev:{op}:{status}"), n));
        }
        let sims = c.simulations.load(Ordering::Relaxed);
        let exploits = c.exploits_confirmed.load(Ordering::Relaxed);
        let failed = c.simulation_failures.load(Ordering::Relaxed);
        m.simulations
            .with_label_values(&["exploit"])
            .inc_by(self.delta("sim:exploit", exploits));
        m.simulations
            .with_label_values(&["error"])
            .inc_by(self.delta("sim:error", failed));
        m.simulations
            .with_label_values(&["no_exploit"])
            .inc_by(self.delta("sim:none", sims.saturating_sub(exploits + failed)));
        for (status, n) in [
            ("hit", c.simulation_cache_hits.load(Ordering::Relaxed)),
            ("miss", c.simulation_cache_misses.load(Ordering::Relaxed)),
        ] {
            m.cache_hits
                .with_label_values(&["simulation", status])
                .inc_by(self.delta(&format!("simcache:{status}"), n));
        }
        let (payload_hits, payload_misses) = c.payload_memos.stats();
        for (status, n) in [("hit", payload_hits), ("miss", payload_misses)] {
            m.cache_hits
                .with_label_values(&["payload", status])
                .inc_by(self.delta(&format!("payloadcache:{status}"), n));
        }
        for (status, n) in [
            ("hit", c.window.score_memo_hits.load(Ordering::Relaxed)),
            ("miss", c.window.score_memo_misses.load(Ordering::Relaxed)),
        ] {
            m.cache_hits
                .with_label_values(&["behaviour", status])
                .inc_by(self.delta(&format!("behaviourcache:{status}"), n));
        }
        for (p, lag) in c.lag() {
            m.consumer_lag.with_label_values(&[&p.to_string()]).set(lag);
        }
        if let Some(d) = c.learning_dataset() {
            for class in sentinel_schema::ThreatClass::ALL {
                let n = d.labels.get(&class).copied().unwrap_or(0);
                m.learning_dataset
                    .with_label_values(&[&format!("label:{}", class.as_str())])
                    .set(n as i64);
            }
            for (part, n) in [
                ("pending", d.pending),
                ("corpus_kept", d.corpus_kept),
                ("corpus_overridden", d.corpus_overridden),
            ] {
                m.learning_dataset.with_label_values(&[part]).set(n as i64);
            }
        }
        for (w, st) in c.source_status() {
            let w = w.to_string();
            m.source_paused
                .with_label_values(&[&w])
                .set(i64::from(st.paused));
            m.source_offsets_skipped
                .with_label_values(&[&w])
                .inc_by(self.delta(&format!("skipped:{w}"), st.skipped));
            for (state, n) in [("released", st.downstream), ("read", st.in_flight)] {
                m.source_in_flight
                    .with_label_values(&[&w, state])
                    .set(n as i64);
            }
        }
        if let Some(w) = c.watermark_ms() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            m.watermark_delay.set((now - w) as f64 / 1000.0);
        }
        m.window_state_bytes
            .set(c.window.state_bytes.load(Ordering::Relaxed));
        m.window_active_keys
            .set(c.window.active_keys.load(Ordering::Relaxed));
        m.aggregate_window_state_bytes
            .set(c.window.aggregate_bytes.load(Ordering::Relaxed));
        m.aggregate_window_keys
            .set(c.window.aggregate_keys.load(Ordering::Relaxed));
        for (version, s) in c.by_model() {
            for (outcome, n) in [("scored", s.scored), ("flagged", s.flagged)] {
                m.model_records
                    .with_label_values(&[&version, outcome])
                    .inc_by(self.delta(&format!("model:{version}:{outcome}"), n));
            }
        }
        if let Some(psi) = c.drift_psi() {
            m.score_drift_psi.set(psi);
        }
    }
}

/// Serves the pipeline's metrics on `listen` from a background thread.
pub fn spawn(listen: &str, counters: Arc<Counters>) -> anyhow::Result<()> {
    let addr: SocketAddr = listen
        .parse()
        .with_context(|| format!("bad [api] metrics_listen {listen:?}"))?;
    let metrics = Metrics::new();
    let sampler = Arc::new(Sampler::default());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the metrics runtime")?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(addr))
        .with_context(|| format!("cannot listen on {addr}"))?;
    eprintln!(
        "sentinel: metrics on http://{}/metrics",
        listener.local_addr()?
    );
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            rt.block_on(async move {
                let (m, c, s) = (metrics.clone(), counters.clone(), sampler.clone());
                tokio::spawn(async move {
                    loop {
                        s.sample(&m, &c);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                });
                let app = Router::new()
                    .route(
                        "/metrics",
                        get(move || {
                            let (m, c, s) = (metrics.clone(), counters.clone(), sampler.clone());
                            async move {
                                s.sample(&m, &c);
                                m.render()
                            }
                        }),
                    )
                    .route("/healthz", get(|| async { "ok" }))
                    .route("/readyz", get(|| async { "ready" }));
                let _ = axum::serve(listener, app).await;
            })
        })
        .context("cannot start the metrics thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::{Decision, RuleStatus, ThreatClass};

    #[test]
    fn samples_add_only_what_changed() {
        let m = Metrics::new();
        let c = Counters::default();
        let s = Sampler::default();
        c.records_in.store(5, Ordering::Relaxed);
        c.verdict(Decision::Tag, ThreatClass::Sqli);
        c.rule(RuleStatus::AutoApplied);
        c.rule(RuleStatus::Proposed);
        c.dead_letter("invalid_json");
        c.set_lag(3, 42);
        c.set_source_status(
            1,
            sentinel_dataflow::SourceStatus {
                paused: true,
                downstream: 9,
                in_flight: 11,
                skipped: 3,
                ..Default::default()
            },
        );
        c.set_watermark(0, 1_000);
        c.payload_memos.count(4, 2);
        c.window.score_memo_hits.store(5, Ordering::Relaxed);
        c.window.score_memo_misses.store(3, Ordering::Relaxed);
        s.sample(&m, &c);
        s.sample(&m, &c);
        c.records_in.store(7, Ordering::Relaxed);
        s.sample(&m, &c);
        let text = m.render();
        for line in [
            "sentinel_events_in_total{source=\"input\"} 7",
            "cerberus_sentinel_predictions_total{verdict=\"tag\"} 1",
            "cerberus_rules_generated_total 2",
            "cerberus_rules_applied_total 1",
            "sentinel_dead_letters_total{reason=\"invalid_json\"} 1",
            "sentinel_consumer_lag{partition=\"3\"} 42",
            "sentinel_source_paused{worker=\"1\"} 1",
            "sentinel_source_offsets_skipped_total{worker=\"1\"} 3",
            "sentinel_source_in_flight{state=\"released\",worker=\"1\"} 9",
            "sentinel_source_in_flight{state=\"read\",worker=\"1\"} 11",
            "sentinel_watermark_delay_seconds ",
            "cerberus_sentinel_cache_hits_total{cache_type=\"payload\",status=\"hit\"} 4",
            "cerberus_sentinel_cache_hits_total{cache_type=\"payload\",status=\"miss\"} 2",
            "cerberus_sentinel_cache_hits_total{cache_type=\"behaviour\",status=\"hit\"} 5",
            "cerberus_sentinel_cache_hits_total{cache_type=\"behaviour\",status=\"miss\"} 3",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
