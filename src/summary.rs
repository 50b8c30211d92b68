//! Readable summary tables.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};

use sentinel_dataflow::{Counters, ReplaySummary};
use sentinel_schema::{Decision, ThreatClass};

/// A table with the house style.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(Cell::new));
    t
}

/// A right-aligned number cell.
pub fn num(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}

/// A two-column table of named counts under `heading`.
fn counts<S: ToString>(heading: &str, rows: impl IntoIterator<Item = (S, u64)>) -> Table {
    let mut t = table(&[heading, "count"]);
    for (name, n) in rows {
        t.add_row(vec![Cell::new(name), num(n)]);
    }
    t
}

/// Prints the end-of-replay summary to standard output; a closed pipe
/// (`| head`) is not an error.
pub fn print_replay_summary(
    s: &ReplaySummary,
    c: &Counters,
    out: &Path,
    workers: usize,
) -> io::Result<()> {
    let stdout = io::stdout();
    let mut w = stdout.lock();
    match write_replay_summary(&mut w, s, c, out, workers) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes the end-of-replay summary.
pub fn write_replay_summary(
    w: &mut dyn Write,
    s: &ReplaySummary,
    c: &Counters,
    out: &Path,
    workers: usize,
) -> io::Result<()> {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let records = c.records_in.load(Ordering::Relaxed);
    let verdicts = c.verdicts.load(Ordering::Relaxed);
    let dead = c.dead_total();
    writeln!(
        w,
        "Replayed {records} records in {secs:.2} s ({:.0} records/s) with {workers} worker{}.",
        records as f64 / secs,
        if workers == 1 { "" } else { "s" }
    )?;

    let mut t = table(&[
        "events",
        "verdicts",
        "dead letters",
        "late",
        "window keys (end)",
    ]);
    t.add_row(vec![
        num(records),
        num(verdicts),
        num(dead),
        num(c.window.late.load(Ordering::Relaxed)),
        num(c.window.active_keys.load(Ordering::Relaxed).max(0) as u64),
    ]);
    writeln!(w, "{t}")?;

    let outcomes = c.outcomes();
    let mut t = table(&["class", "benign", "tag", "simulate", "total"]);
    for class in ThreatClass::ALL {
        let get = |d| outcomes.get(&(d, class)).copied().unwrap_or(0);
        let (b, tg, sm) = (
            get(Decision::Benign),
            get(Decision::Tag),
            get(Decision::Simulate),
        );
        if b + tg + sm == 0 {
            continue;
        }
        t.add_row(vec![
            Cell::new(class.as_str()),
            num(b),
            num(tg),
            num(sm),
            num(b + tg + sm),
        ]);
    }
    writeln!(w, "Verdicts by label and decision\n{t}")?;

    let (reused, scored) = c.payload_memos.stats();
    if reused + scored > 0 {
        let t = counts(
            "payload values",
            [
                ("looked up", reused + scored),
                ("scored", scored),
                ("reused (seen before)", reused),
            ],
        );
        writeln!(w, "{t}")?;
    }
    let (hits, walked) = (
        c.window.score_memo_hits.load(Ordering::Relaxed),
        c.window.score_memo_misses.load(Ordering::Relaxed),
    );
    if hits + walked > 0 {
        let t = counts(
            "behaviour scores",
            [
                ("window vectors scored", hits + walked),
                ("forest walked", walked),
                ("reused (same window features)", hits),
            ],
        );
        writeln!(w, "{t}")?;
    }

    let dl = c.dead_letters();
    if !dl.is_empty() {
        writeln!(w, "{}", counts("dead-letter reason", dl))?;
    }
    let rules = c.rules();
    if !rules.is_empty() {
        let rows = rules.into_iter().map(|(status, n)| (status.as_str(), n));
        writeln!(w, "{}", counts("rule status", rows))?;
    }
    let sims = c.simulations.load(Ordering::Relaxed);
    if sims > 0 {
        let mut rows = vec![
            ("payloads simulated", sims),
            (
                "exploit confirmed",
                c.exploits_confirmed.load(Ordering::Relaxed),
            ),
            (
                "failed (limit, trap, refused)",
                c.simulation_failures.load(Ordering::Relaxed),
            ),
        ];
        let reused = c.simulation_cache_hits.load(Ordering::Relaxed);
        if reused > 0 {
            rows.push(("outcome reused (payload seen before)", reused));
        }
        writeln!(w, "{}", counts("threat-twin simulations", rows))?;
    }
    let mut t = table(&["output", "records"]);
    for (kind, n) in &s.written {
        t.add_row(vec![
            Cell::new(out.join(kind.file_name()).display()),
            num(*n),
        ]);
    }
    writeln!(w, "{t}")?;
    Ok(())
}

/// A right-aligned ratio cell with `digits` decimals.
pub fn ratio(v: f32, digits: usize) -> Cell {
    Cell::new(format!("{v:.digits$}")).set_alignment(CellAlignment::Right)
}

/// Writes the evaluation tables of `m`: per class, confusion matrix,
/// threshold sweep, and the attack-vs-benign summary.
pub fn write_metrics(w: &mut dyn Write, m: &sentinel_models::evaluate::Metrics) -> io::Result<()> {
    use sentinel_models::ml::ML_CLASSES;
    let mut t = table(&["class", "support", "precision", "recall", "F1", "FPR"]);
    for c in &m.per_class {
        t.add_row(vec![
            Cell::new(c.class.as_str()),
            num(c.support as u64),
            ratio(c.precision, 4),
            ratio(c.recall, 4),
            ratio(c.f1, 4),
            ratio(c.fpr, 4),
        ]);
    }
    t.add_row(vec![
        Cell::new("macro"),
        num(m.samples as u64),
        ratio(m.macro_precision, 4),
        ratio(m.macro_recall, 4),
        ratio(m.macro_f1, 4),
        Cell::new(""),
    ]);
    writeln!(w, "{t}")?;
    let mut header = vec!["truth \\ predicted"];
    header.extend(ML_CLASSES.iter().map(|c| c.as_str()));
    let mut t = table(&header);
    for (i, row) in m.confusion.iter().enumerate() {
        if row.iter().sum::<u64>() == 0 {
            continue;
        }
        let mut cells = vec![Cell::new(ML_CLASSES[i].as_str())];
        cells.extend(row.iter().map(|v| num(*v)));
        t.add_row(cells);
    }
    writeln!(w, "{t}")?;
    let mut t = table(&["FPR budget", "TPR", "threshold", "FPR reached"]);
    for p in &m.sweep {
        t.add_row(vec![
            Cell::new(format!("{}%", p.max_fpr * 100.0)).set_alignment(CellAlignment::Right),
            ratio(p.tpr, 4),
            ratio(p.threshold, 4),
            ratio(p.fpr, 5),
        ]);
    }
    writeln!(w, "{t}")?;
    writeln!(
        w,
        "attack vs benign at the 0.5 threshold: TPR {:.4}, FPR {:.4}; accuracy {:.4}",
        m.attack_tpr, m.attack_fpr, m.accuracy
    )
}
