//! The self-contained HTML explanation report: narrative, facts, the
//! payload with matched spans highlighted, inline SVG bar charts of the
//! Shapley values, and the full tables. No scripts, no external resources.

use std::fmt::Write;

use sentinel_schema::{
    BehaviourExplanation, Contribution, ContributionKind, PayloadExplanation, Verdict,
};

/// What a report shows.
#[derive(Clone, Debug, Default)]
pub struct Report<'a> {
    /// Page title.
    pub title: String,
    /// The verdict, when explaining one.
    pub verdict: Option<&'a Verdict>,
    /// The payload explanation.
    pub payload: Option<&'a PayloadExplanation>,
    /// The behaviour explanation.
    pub behaviour: Option<&'a BehaviourExplanation>,
    /// The narrative paragraph.
    pub narrative: String,
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:980px;color:#1c2330;line-height:1.45}\
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7e2;padding-bottom:.2rem}\
.sub{color:#5b6675;margin-top:0}.narrative{background:#f4f7fb;border-left:4px solid #2b6cb0;padding:.8rem 1rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e3e8ef}\
td.num{text-align:right;font-variant-numeric:tabular-nums}.payload{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all;background:#fbfbfd;border:1px solid #d0d7e2;padding:.8rem;border-radius:4px}\
mark.sig{background:#f6c4bd;border-bottom:2px solid #c0392b}mark.gram{background:#fde8c8}\
.pos{color:#b03a2e}.neg{color:#21618c}.legend span{margin-right:1rem}.decision{font-weight:600;text-transform:uppercase}";

fn short(s: &str, n: usize) -> String {
    let t: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        format!("{t}…")
    } else {
        t
    }
}

/// A horizontal bar chart of Shapley values around a zero axis.
pub fn bar_chart(items: &[&Contribution], title: &str) -> String {
    let row = 22.0;
    let label_w = 330.0;
    let chart_w = 520.0;
    let value_w = 70.0;
    let height = row * items.len() as f64 + 30.0;
    let max = items
        .iter()
        .map(|c| c.phi.abs() as f64)
        .fold(1e-9, f64::max);
    let mid = label_w + chart_w / 2.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{}" width="{}" height="{height}" viewBox="0 0 {} {height}" font-family="system-ui,sans-serif" font-size="12">"#,
        escape(title),
        label_w + chart_w + value_w,
        label_w + chart_w + value_w
    );
    let _ = write!(
        s,
        r##"<line x1="{mid}" y1="4" x2="{mid}" y2="{}" stroke="#8a94a3" stroke-width="1"/>"##,
        height - 20.0
    );
    for (i, c) in items.iter().enumerate() {
        let y = 6.0 + row * i as f64;
        let w = (c.phi.abs() as f64 / max) * (chart_w / 2.0 - 4.0);
        let (x, color) = if c.phi >= 0.0 {
            (mid, "#c0392b")
        } else {
            (mid - w, "#2471a3")
        };
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{}" fill="{color}"><title>{}: {:+.4}</title></rect><text x="{}" y="{}" text-anchor="start">{:+.3}</text>"#,
            label_w - 6.0,
            y + 13.0,
            escape(&short(&c.name, 48)),
            row - 6.0,
            escape(&c.name),
            c.phi,
            label_w + chart_w + 4.0,
            y + 13.0,
            c.phi
        );
    }
    let _ = write!(
        s,
        r##"<text x="{mid}" y="{}" text-anchor="middle" fill="#5b6675">← lowers · raises →</text></svg>"##,
        height - 6.0
    );
    s
}

/// The normalized payload with signature matches and the strongest
/// positive n-grams highlighted.
pub fn highlighted(e: &PayloadExplanation) -> String {
    let text = &e.normalized;
    let n = text.len();
    // 0 none, 1 n-gram, 2 signature; with the title of the mark.
    let mut mark: Vec<(u8, usize)> = vec![(0, 0); n];
    let mut titles: Vec<String> = vec![String::new()];
    for c in e
        .contributions
        .iter()
        .filter(|c| c.kind == ContributionKind::Ngram && c.phi > 0.0)
        .take(8)
    {
        titles.push(format!("{} ({:+.3})", c.name, c.phi));
        let t = titles.len() - 1;
        for (a, b) in &c.spans {
            for m in mark.iter_mut().take((*b).min(n)).skip(*a) {
                if m.0 < 1 {
                    *m = (1, t);
                }
            }
        }
    }
    for sig in &e.signatures {
        titles.push(format!(
            "{} (weight {:.2}): {}",
            sig.id, sig.weight, sig.description
        ));
        let t = titles.len() - 1;
        for (a, b) in &sig.spans {
            for m in mark.iter_mut().take((*b).min(n)).skip(*a) {
                *m = (2, t);
            }
        }
    }
    let mut out = String::new();
    let mut current = (0u8, 0usize);
    let mut open = false;
    for (i, ch) in text.char_indices() {
        let m = mark.get(i).copied().unwrap_or((0, 0));
        if m != current || !open {
            if open {
                out.push_str("</mark>");
                open = false;
            }
            current = m;
            if m.0 > 0 {
                let class = if m.0 == 2 { "sig" } else { "gram" };
                let _ = write!(
                    out,
                    r#"<mark class="{class}" title="{}">"#,
                    escape(&titles[m.1])
                );
                open = true;
            }
        }
        out.push_str(&escape(&ch.to_string()));
    }
    if open {
        out.push_str("</mark>");
    }
    out
}

fn contribution_table(items: &[Contribution]) -> String {
    let mut s = String::from(
        "<table><tr><th>input</th><th>value</th><th>baseline</th><th>Shapley value</th></tr>",
    );
    for c in items {
        let class = if c.phi >= 0.0 { "pos" } else { "neg" };
        let _ = write!(
            s,
            r#"<tr><td>{}</td><td class="num">{:.4}</td><td class="num">{:.4}</td><td class="num {class}">{:+.4}</td></tr>"#,
            escape(&c.name),
            c.value,
            c.baseline,
            c.phi
        );
    }
    s.push_str("</table>");
    s
}

/// Renders the report.
pub fn render(r: &Report<'_>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body>"#,
        escape(&r.title)
    );
    let _ = write!(
        s,
        "<h1>{}</h1><p class=\"sub\">Sentinel {} explanation report</p>",
        escape(&r.title),
        env!("CARGO_PKG_VERSION")
    );
    let _ = write!(s, r#"<p class="narrative">{}</p>"#, escape(&r.narrative));
    if let Some(v) = r.verdict {
        s.push_str("<h2>Verdict</h2><table>");
        let rows = [
            ("evidence", v.evidence_id.clone()),
            ("client", v.client_key.clone()),
            ("decision", v.decision.as_str().to_string()),
            ("label", v.label.as_str().to_string()),
            ("combined score", format!("{:.4}", v.score)),
            ("payload score", format!("{:.4}", v.payload_score)),
            ("behaviour score", format!("{:.4}", v.behaviour_score)),
            ("profile score", format!("{:.4}", v.profile_score)),
            ("model", v.model_version.clone()),
            ("event time (ms)", v.event_time_ms.to_string()),
            (
                "input record",
                format!(
                    "{} partition {:?} offset {}",
                    v.provenance.source, v.provenance.partition, v.provenance.offset
                ),
            ),
        ];
        for (k, val) in rows {
            let _ = write!(s, "<tr><th>{k}</th><td>{}</td></tr>", escape(&val));
        }
        s.push_str("</table>");
        if !v.anomalies.is_empty() {
            s.push_str("<h2>Anomalies</h2><ul>");
            for a in &v.anomalies {
                let _ = write!(s, "<li>{}</li>", escape(a));
            }
            s.push_str("</ul>");
        }
        if !v.findings.is_empty() {
            s.push_str("<h2>Findings</h2><table><tr><th>where</th><th>label</th><th>score</th><th>signatures</th></tr>");
            for f in &v.findings {
                let _ = write!(
                    s,
                    r#"<tr><td>{}</td><td>{}</td><td class="num">{:.4}</td><td>{}</td></tr>"#,
                    escape(&f.location.to_string()),
                    f.label.as_str(),
                    f.score,
                    escape(&f.signatures.join(", "))
                );
            }
            s.push_str("</table>");
        }
    }
    if let Some(p) = r.payload {
        let _ = write!(
            s,
            "<h2>Payload: {} {:.4}</h2><p>Model {} ({}). Shapley values of the {}: value {:.4}, baseline {:.4}; they add up to the difference.</p>",
            escape(p.class.as_str()),
            p.score,
            escape(&p.model_version),
            escape(&p.method),
            escape(&p.target),
            p.value,
            p.baseline
        );
        let _ = write!(
            s,
            r#"<div class="payload">{}</div><p class="legend"><span><mark class="sig">signature match</mark></span><span><mark class="gram">n-gram raising the score</mark></span></p>"#,
            highlighted(p)
        );
        if let Some(o) = &p.rule_override {
            let _ = write!(s, "<p><strong>Rule override:</strong> {}</p>", escape(o));
        }
        let top: Vec<&Contribution> = p.contributions.iter().take(15).collect();
        s.push_str(&bar_chart(&top, "payload contributions"));
        if !p.signatures.is_empty() {
            s.push_str("<h2>Signatures</h2><table><tr><th>id</th><th>class</th><th>weight</th><th>what it looks for</th></tr>");
            for sig in &p.signatures {
                let _ = write!(
                    s,
                    r#"<tr><td>{}</td><td>{}</td><td class="num">{:.2}</td><td>{}</td></tr>"#,
                    escape(&sig.id),
                    sig.class.as_str(),
                    sig.weight,
                    escape(&sig.description)
                );
            }
            s.push_str("</table>");
        }
        s.push_str("<h2>Payload contributions</h2>");
        s.push_str(&contribution_table(
            &p.contributions.iter().take(40).cloned().collect::<Vec<_>>(),
        ));
    }
    if let Some(b) = r.behaviour {
        let _ = write!(
            s,
            "<h2>Behaviour: {:.4}</h2><p>Scorer {}; a typical ordinary window scores {:.4}. Exact Shapley values over the window features.</p>",
            b.score,
            escape(&b.scorer),
            b.baseline
        );
        let top: Vec<&Contribution> = b.contributions.iter().collect();
        s.push_str(&bar_chart(&top, "behaviour contributions"));
        s.push_str(&contribution_table(&b.contributions));
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_schema::{SignatureMatch, ThreatClass};

    #[test]
    fn escapes_and_highlights() {
        let e = PayloadExplanation {
            model_version: "m".into(),
            class: ThreatClass::Xss,
            score: 0.9,
            method: "rules-exact".into(),
            target: "t".into(),
            value: 0.9,
            baseline: 0.0,
            contributions: vec![Contribution {
                kind: ContributionKind::Ngram,
                name: "n-gram \"<sc\"".into(),
                value: 0.1,
                baseline: 0.0,
                phi: 0.5,
                spans: vec![(0, 3)],
            }],
            rule_override: None,
            signatures: vec![SignatureMatch {
                id: "xss.script_tag".into(),
                class: ThreatClass::Xss,
                weight: 0.95,
                description: "<script> tag".into(),
                spans: vec![(0, 8)],
            }],
            normalized: "<script>alert(1)</script>".into(),
        };
        let h = highlighted(&e);
        assert!(
            h.starts_with(r#"<mark class="sig" title="xss.script_tag"#),
            "{h}"
        );
        assert!(
            h.contains("&lt;script&gt;</mark>alert(1)&lt;/script&gt;"),
            "{h}"
        );
        let page = render(&Report {
            title: "t <x>".into(),
            payload: Some(&e),
            narrative: "n & m".into(),
            ..Default::default()
        });
        assert!(page.contains("<title>t &lt;x&gt;</title>"));
        assert!(page.contains("<svg"));
        assert!(!page.contains("<script"));
    }
}
