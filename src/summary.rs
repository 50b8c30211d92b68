//! Readable summary tables.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};

use sentinel_dataflow::{Counters, ReplaySummary};
use sentinel_schema::{Decision, ThreatClass};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(Cell::new));
    t
}

fn num(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
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

    let dl = c.dead_letters();
    if !dl.is_empty() {
        let mut t = table(&["dead-letter reason", "count"]);
        for (reason, n) in dl {
            t.add_row(vec![Cell::new(reason), num(n)]);
        }
        writeln!(w, "{t}")?;
    }
    let rules = c.rules();
    if !rules.is_empty() {
        let mut t = table(&["rule status", "count"]);
        for (status, n) in rules {
            t.add_row(vec![Cell::new(status.as_str()), num(n)]);
        }
        writeln!(w, "{t}")?;
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
