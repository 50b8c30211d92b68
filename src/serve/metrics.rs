//! Prometheus metrics with the names operators' dashboards expect, plus
//! pipeline counters for `sentinel run`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// Every metric Sentinel exports.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// `cerberus_sentinel_inference_latency_seconds{model}`.
    pub inference_latency: HistogramVec,
    /// `cerberus_sentinel_predictions_total{verdict}`.
    pub predictions: IntCounterVec,
    /// `cerberus_sentinel_cache_hits_total{cache_type,status}`.
    pub cache_hits: IntCounterVec,
    /// `cerberus_simulations_total{verdict}`.
    pub simulations: IntCounterVec,
    /// `cerberus_simulation_duration_seconds`.
    pub simulation_duration: Histogram,
    /// `cerberus_rules_generated_total`.
    pub rules_generated: IntCounter,
    /// `cerberus_rules_applied_total`.
    pub rules_applied: IntCounter,
    /// `cerberus_evidence_operations_total{operation,status}`.
    pub evidence_operations: IntCounterVec,
    /// `sentinel_events_in_total{source}`.
    pub events_in: IntCounterVec,
    /// `sentinel_events_out_total{sink}`.
    pub events_out: IntCounterVec,
    /// `sentinel_dead_letters_total{reason}`.
    pub dead_letters: IntCounterVec,
    /// `sentinel_window_state_bytes`.
    pub window_state_bytes: IntGauge,
    /// `sentinel_window_active_keys`.
    pub window_active_keys: IntGauge,
    /// `sentinel_aggregate_window_state_bytes`: arranged aggregate-window state.
    pub aggregate_window_state_bytes: IntGauge,
    /// `sentinel_aggregate_window_keys`: aggregate keys in the arranged window state.
    pub aggregate_window_keys: IntGauge,
    /// `sentinel_consumer_lag{partition}`: messages behind the partition's end.
    pub consumer_lag: prometheus::IntGaugeVec,
    /// `sentinel_source_offsets_skipped_total{worker}`: offsets the
    /// broker's responses stepped over (compaction, transaction markers, or
    /// a broker fault).
    pub source_offsets_skipped: IntCounterVec,
    /// `sentinel_learning_dataset{part}`: the learner's dataset: labelled
    /// payloads per `label:<class>`, `pending` changes since the last
    /// training, `corpus_kept` and `corpus_overridden` samples.
    pub learning_dataset: prometheus::IntGaugeVec,
    /// `sentinel_source_paused{worker}`: 1 while the worker's partitions are
    /// paused for backpressure.
    pub source_paused: prometheus::IntGaugeVec,
    /// `sentinel_source_in_flight{worker,state}`: records read and not yet
    /// acknowledged, `released` to the graph or `read` in all (held for the
    /// watermark included).
    pub source_in_flight: prometheus::IntGaugeVec,
    /// `sentinel_watermark_delay_seconds`: wall clock minus the least source watermark.
    pub watermark_delay: prometheus::Gauge,
    /// `sentinel_http_requests_total{route,status}`.
    pub http_requests: IntCounterVec,
    /// `sentinel_model_records_total{model_version,outcome}`: records each
    /// model version scored (`scored`) and flagged (`flagged`), canaries included.
    pub model_records: IntCounterVec,
    /// `sentinel_score_drift_psi`: population stability index of the live
    /// verdict scores against the active model's reference window.
    pub score_drift_psi: prometheus::Gauge,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::IntGaugeVec {
    let g = prometheus::IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(g.clone())).expect("unique metric");
    g
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Metrics {
        let r = Registry::new();
        let inference_latency = HistogramVec::new(
            HistogramOpts::new(
                "cerberus_sentinel_inference_latency_seconds",
                "Payload inference latency (cache included) by model version",
            )
            .buckets(vec![
                1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2,
            ]),
            &["model"],
        )
        .expect("valid metric");
        r.register(Box::new(inference_latency.clone()))
            .expect("unique metric");
        let simulation_duration = Histogram::with_opts(
            HistogramOpts::new(
                "cerberus_simulation_duration_seconds",
                "Threat-twin simulation wall time, instantiation included",
            )
            .buckets(vec![
                1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2, 0.1, 1.0, 5.0,
            ]),
        )
        .expect("valid metric");
        r.register(Box::new(simulation_duration.clone()))
            .expect("unique metric");
        let rules_generated = IntCounter::new("cerberus_rules_generated_total", "Rules generated")
            .expect("valid metric");
        r.register(Box::new(rules_generated.clone()))
            .expect("unique metric");
        let rules_applied = IntCounter::new(
            "cerberus_rules_applied_total",
            "Rules applied (auto-applied or approved)",
        )
        .expect("valid metric");
        r.register(Box::new(rules_applied.clone()))
            .expect("unique metric");
        let window_state_bytes =
            IntGauge::new("sentinel_window_state_bytes", "Behaviour window state").expect("valid");
        r.register(Box::new(window_state_bytes.clone()))
            .expect("unique metric");
        let window_active_keys = IntGauge::new(
            "sentinel_window_active_keys",
            "Client keys with open windows",
        )
        .expect("valid");
        r.register(Box::new(window_active_keys.clone()))
            .expect("unique metric");
        let score_drift_psi = prometheus::Gauge::new(
            "sentinel_score_drift_psi",
            "PSI of the live verdict scores against the active model's reference window",
        )
        .expect("valid metric");
        r.register(Box::new(score_drift_psi.clone()))
            .expect("unique metric");
        let aggregate_window_state_bytes = IntGauge::new(
            "sentinel_aggregate_window_state_bytes",
            "Approximate bytes of the arranged aggregate-window state (prefix, AS, User-Agent, session keys)",
        )
        .expect("valid");
        r.register(Box::new(aggregate_window_state_bytes.clone()))
            .expect("unique metric");
        let aggregate_window_keys = IntGauge::new(
            "sentinel_aggregate_window_keys",
            "Aggregate keys (prefix, AS, User-Agent, session) in the arranged window state",
        )
        .expect("valid");
        r.register(Box::new(aggregate_window_keys.clone()))
            .expect("unique metric");
        let consumer_lag = gauge_vec(
            &r,
            "sentinel_consumer_lag",
            "Kafka consumer lag per partition",
            &["partition"],
        );
        let learning_dataset = gauge_vec(
            &r,
            "sentinel_learning_dataset",
            "The learner's differential dataset: labelled payloads (part label:<class>), pending changes since the last training, corpus samples kept and overridden by analysts",
            &["part"],
        );
        let source_paused = gauge_vec(
            &r,
            "sentinel_source_paused",
            "1 while a worker's Kafka partitions are paused for backpressure",
            &["worker"],
        );
        let source_in_flight = gauge_vec(
            &r,
            "sentinel_source_in_flight",
            "Records a worker's Kafka source has read and the sinks have not acknowledged (state: released to the graph, or read in all)",
            &["worker", "state"],
        );
        let watermark_delay = prometheus::Gauge::new(
            "sentinel_watermark_delay_seconds",
            "Wall clock minus the least source watermark (event time)",
        )
        .expect("valid metric");
        r.register(Box::new(watermark_delay.clone()))
            .expect("unique metric");
        Metrics {
            consumer_lag,
            source_paused,
            source_in_flight,
            learning_dataset,
            watermark_delay,
            inference_latency,
            predictions: counter_vec(
                &r,
                "cerberus_sentinel_predictions_total",
                "Predictions by verdict (payload label or pipeline decision)",
                &["verdict"],
            ),
            cache_hits: counter_vec(
                &r,
                "cerberus_sentinel_cache_hits_total",
                "Prediction cache lookups",
                &["cache_type", "status"],
            ),
            simulations: counter_vec(
                &r,
                "cerberus_simulations_total",
                "Threat-twin simulations by outcome",
                &["verdict"],
            ),
            simulation_duration,
            rules_generated,
            rules_applied,
            evidence_operations: counter_vec(
                &r,
                "cerberus_evidence_operations_total",
                "Evidence operations (analyze, fetch, verify) by status",
                &["operation", "status"],
            ),
            events_in: counter_vec(&r, "sentinel_events_in_total", "Records read", &["source"]),
            events_out: counter_vec(
                &r,
                "sentinel_events_out_total",
                "Records written",
                &["sink"],
            ),
            dead_letters: counter_vec(
                &r,
                "sentinel_dead_letters_total",
                "Dead letters by reason",
                &["reason"],
            ),
            window_state_bytes,
            window_active_keys,
            aggregate_window_state_bytes,
            aggregate_window_keys,
            source_offsets_skipped: counter_vec(
                &r,
                "sentinel_source_offsets_skipped_total",
                "Offsets the broker's fetch responses stepped over, per worker (compaction, transaction markers, or a broker fault)",
                &["worker"],
            ),
            http_requests: counter_vec(
                &r,
                "sentinel_http_requests_total",
                "Control-plane requests by route and status",
                &["route", "status"],
            ),
            model_records: counter_vec(
                &r,
                "sentinel_model_records_total",
                "Records scored and flagged per model version",
                &["model_version", "outcome"],
            ),
            score_drift_psi,
            registry: r,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_are_exported() {
        let m = Metrics::new();
        m.inference_latency.with_label_values(&["m1"]).observe(1e-5);
        m.predictions.with_label_values(&["sqli"]).inc();
        m.cache_hits.with_label_values(&["prediction", "hit"]).inc();
        m.simulations.with_label_values(&["exploit"]).inc();
        m.simulation_duration.observe(1e-4);
        m.rules_generated.inc();
        m.rules_applied.inc();
        m.evidence_operations
            .with_label_values(&["analyze", "ok"])
            .inc();
        let text = m.render();
        for name in [
            "cerberus_sentinel_inference_latency_seconds_bucket{model=\"m1\"",
            "cerberus_sentinel_predictions_total{verdict=\"sqli\"} 1",
            "cerberus_sentinel_cache_hits_total{cache_type=\"prediction\",status=\"hit\"} 1",
            "cerberus_simulations_total{verdict=\"exploit\"} 1",
            "cerberus_simulation_duration_seconds_count 1",
            "cerberus_rules_generated_total 1",
            "cerberus_rules_applied_total 1",
            "cerberus_evidence_operations_total{operation=\"analyze\",status=\"ok\"} 1",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }
}
