//! Time each worker spends in the stateless stage (parsing deferred
//! requests, analysis, evidence-ready serialization), so that a worker that
//! also reads files can tell how much that stage costs per record and keep
//! fewer records for itself (see [`crate::dealing`]); and the thread CPU
//! clock the reader measures its own reading with.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One worker's running totals. Written by its worker only; padded to its
/// own cache lines so that workers do not share one.
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct WorkerClock {
    stage_nanos: AtomicU64,
    stage_records: AtomicU64,
}

/// A worker clock's totals at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// Nanoseconds spent in the stateless stage.
    pub stage_nanos: u64,
    /// Records that went through it.
    pub stage_records: u64,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl WorkerClock {
    /// Adds `records` records that spent `elapsed` in the stateless stage in
    /// all (a step of the stage that does not finish records adds 0).
    pub fn add_stage(&self, elapsed: Duration, records: u64) {
        self.stage_nanos
            .fetch_add(nanos(elapsed), Ordering::Relaxed);
        self.stage_records.fetch_add(records, Ordering::Relaxed);
    }

    /// The totals now.
    pub fn reading(&self) -> ClockReading {
        ClockReading {
            stage_nanos: self.stage_nanos.load(Ordering::Relaxed),
            stage_records: self.stage_records.load(Ordering::Relaxed),
        }
    }
}

/// The clocks of a process's workers, by worker index.
#[derive(Debug, Default)]
pub struct WorkerClocks {
    by_worker: Mutex<BTreeMap<usize, Arc<WorkerClock>>>,
}

impl WorkerClocks {
    /// The clock of worker `index` (created on first use).
    pub fn for_worker(&self, index: usize) -> Arc<WorkerClock> {
        match self.by_worker.lock() {
            Ok(mut m) => m.entry(index).or_default().clone(),
            // A poisoned registry only loses the measurement.
            Err(_) => Arc::new(WorkerClock::default()),
        }
    }
}

/// The calling thread's CPU time (`None` where the platform has no such
/// clock).
pub fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only the timespec it is given.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Measures the calling thread's CPU time since it was started (wall time
/// where the platform has no thread CPU clock). Unlike wall time, it does
/// not count the time the thread waits for a core.
#[derive(Debug)]
pub struct CpuStopwatch {
    cpu: Option<Duration>,
    wall: Instant,
}

impl CpuStopwatch {
    /// Starts measuring.
    pub fn start() -> Self {
        CpuStopwatch {
            cpu: thread_cpu_time(),
            wall: Instant::now(),
        }
    }

    /// The thread's CPU time since the start.
    pub fn elapsed(&self) -> Duration {
        match (self.cpu, thread_cpu_time()) {
            (Some(before), Some(now)) => now.saturating_sub(before),
            _ => self.wall.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_gets_the_same_clock_each_time_and_its_own() {
        let clocks = WorkerClocks::default();
        clocks.for_worker(0).add_stage(Duration::from_micros(3), 2);
        clocks.for_worker(0).add_stage(Duration::from_micros(1), 1);
        clocks.for_worker(1).add_stage(Duration::from_micros(7), 1);
        let r = clocks.for_worker(0).reading();
        assert_eq!((r.stage_nanos, r.stage_records), (4_000, 3));
        let r = clocks.for_worker(1).reading();
        assert_eq!((r.stage_nanos, r.stage_records), (7_000, 1));
    }

    #[test]
    fn thread_cpu_time_counts_work_not_sleep() {
        let before = thread_cpu_time().expect("a thread CPU clock");
        std::thread::sleep(Duration::from_millis(30));
        let slept = thread_cpu_time().expect("a thread CPU clock") - before;
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let worked = thread_cpu_time().expect("a thread CPU clock") - before - slept;
        assert!(slept < Duration::from_millis(10), "{slept:?}");
        assert!(worked > slept, "{worked:?} {slept:?}");
    }
}
