//! Progress bars for long runs (indicatif), fed from the shared counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use sentinel_dataflow::Counters;

/// A progress bar updated by a background thread.
pub struct Progress {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar over `total_bytes` of input (hidden when `quiet` or not a terminal).
    pub fn start(counters: Arc<Counters>, total_bytes: u64, quiet: bool) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let bar = ProgressBar::with_draw_target(
            Some(total_bytes.max(1)),
            ProgressDrawTarget::stderr_with_hz(8),
        );
        if quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = std::time::Instant::now();
            loop {
                let done = s.load(Ordering::Relaxed);
                let records = counters.records_in.load(Ordering::Relaxed);
                let rate = records as f64 / start.elapsed().as_secs_f64().max(1e-3);
                bar.set_position(counters.bytes_in.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{records} records, {} verdicts, {} dead, {rate:.0}/s",
                    counters.verdicts.load(Ordering::Relaxed),
                    counters.dead_total()
                ));
                if done {
                    bar.finish_and_clear();
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Progress {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and clears the bar.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
