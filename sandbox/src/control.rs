//! The panic button and the sandbox's health counters.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Shared run state: armed or panicked, and what has happened so far.
#[derive(Debug, Default)]
pub struct Control {
    /// Set by the panic button; new simulations are refused while set.
    panicked: AtomicBool,
    /// Bumped by every press; a running simulation that started under an
    /// older generation is interrupted at its next epoch check.
    generation: AtomicU64,
    running: AtomicI64,
    started: AtomicU64,
    completed: AtomicU64,
    exploits: AtomicU64,
    failures: AtomicU64,
    refused: AtomicU64,
    interrupted: AtomicU64,
    last_panic_ms: AtomicI64,
    panics: AtomicU64,
}

/// A point-in-time view of the sandbox (the `model-server/health` and
/// `sentinel sandbox health` shape).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxHealth {
    /// False after a panic until re-armed.
    pub armed: bool,
    /// Simulations running now.
    pub running: i64,
    /// Simulations started.
    pub started: u64,
    /// Simulations that returned a report.
    pub completed: u64,
    /// Of those, confirmed exploits.
    pub exploits: u64,
    /// Simulations that failed (timeout, fuel, memory, trap, bad output).
    pub failures: u64,
    /// Simulations refused because the panic button was pressed.
    pub refused: u64,
    /// Simulations interrupted by the panic button.
    pub interrupted: u64,
    /// Times the panic button was pressed.
    pub panics: u64,
    /// When it was last pressed, ms since the Unix epoch.
    pub last_panic_ms: Option<i64>,
}

impl Control {
    /// True while simulations may start.
    pub fn armed(&self) -> bool {
        !self.panicked.load(Ordering::SeqCst)
    }

    /// The current panic generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Presses the button: refuse new simulations, mark running ones for interruption.
    pub fn press(&self, now_ms: i64) {
        self.panicked.store(true, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.panics.fetch_add(1, Ordering::Relaxed);
        self.last_panic_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Re-arms after a panic; returns whether it was panicked.
    pub fn rearm(&self) -> bool {
        self.panicked.swap(false, Ordering::SeqCst)
    }

    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn start(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.running.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn finish(&self, exploit: Option<bool>, interrupted: bool) {
        self.running.fetch_sub(1, Ordering::SeqCst);
        match exploit {
            Some(e) => {
                self.completed.fetch_add(1, Ordering::Relaxed);
                if e {
                    self.exploits.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        if interrupted {
            self.interrupted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counters now.
    pub fn health(&self) -> SandboxHealth {
        let last = self.last_panic_ms.load(Ordering::Relaxed);
        SandboxHealth {
            armed: self.armed(),
            running: self.running.load(Ordering::SeqCst),
            started: self.started.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            exploits: self.exploits.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            interrupted: self.interrupted.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            last_panic_ms: (last != 0).then_some(last),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn press_and_rearm() {
        let c = Control::default();
        assert!(c.armed());
        let g = c.generation();
        c.press(42);
        assert!(!c.armed());
        assert_eq!(c.generation(), g + 1);
        assert!(c.rearm());
        assert!(!c.rearm());
        assert!(c.armed());
        let h = c.health();
        assert_eq!(h.panics, 1);
        assert_eq!(h.last_panic_ms, Some(42));
    }

    #[test]
    fn counters() {
        let c = Control::default();
        c.start();
        c.start();
        assert_eq!(c.health().running, 2);
        c.finish(Some(true), false);
        c.finish(None, true);
        let h = c.health();
        assert_eq!(
            (
                h.running,
                h.completed,
                h.exploits,
                h.failures,
                h.interrupted
            ),
            (0, 1, 1, 1, 1)
        );
    }
}
