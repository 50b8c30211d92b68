//! The payload memos the analyzers of one run share.
//!
//! Scoring a payload value (normalize, signatures, classifier) is the
//! costliest part of the stateless stage, and traffic repeats its values:
//! the CSIC 2010 normal traffic looks up 164,000 payloads of which 56,000
//! are distinct. Each worker kept its own memo, so a value seen by two
//! workers was scored twice; they now share one per process, per model
//! bundle.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use sentinel_models::cache::SharedMemo;
use sentinel_models::ModelBundle;

use crate::analyze::Memo;

/// The memo key: 128-bit hash of the raw value, whether it was
/// form-encoded, and which of the bundle's classifiers (0 active, 1 canary).
pub(crate) type MemoKey = (u128, bool, u8);

/// One bundle's memo (a hit clones the `Arc`, not the signature list).
pub(crate) type BundleMemo = SharedMemo<MemoKey, Arc<Memo>>;

/// Entries kept per bundle, in all (at most twice that).
const CAPACITY: usize = 32 * 1024;

/// Payload memos shared by the analyzers of a run, one per model bundle.
///
/// A bundle is recognised by identity while it is alive: the registry keeps
/// a weak reference next to each memo, and an analyzer holds its bundle, so
/// a live entry can only be that bundle (a dead one is dropped, with its
/// memo, at the next lookup).
#[derive(Default)]
pub struct PayloadMemos {
    by_bundle: Mutex<Vec<(Weak<ModelBundle>, Arc<BundleMemo>)>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for PayloadMemos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (hits, misses) = self.stats();
        f.debug_struct("PayloadMemos")
            .field("hits", &hits)
            .field("misses", &misses)
            .finish_non_exhaustive()
    }
}

impl PayloadMemos {
    /// The memo of `bundle`, created on first use.
    pub(crate) fn for_bundle(&self, bundle: &Arc<ModelBundle>) -> Arc<BundleMemo> {
        let Ok(mut by_bundle) = self.by_bundle.lock() else {
            // A poisoned registry: a private memo keeps the results right.
            return Arc::new(BundleMemo::new(CAPACITY));
        };
        by_bundle.retain(|(b, _)| b.strong_count() > 0);
        let target = Arc::downgrade(bundle);
        if let Some((_, memo)) = by_bundle.iter().find(|(b, _)| b.ptr_eq(&target)) {
            return memo.clone();
        }
        let memo = Arc::new(BundleMemo::new(CAPACITY));
        by_bundle.push((target, memo.clone()));
        memo
    }

    /// Adds lookups to the totals (analyzers report theirs here).
    pub fn count(&self, hits: u64, misses: u64) {
        self.hits.fetch_add(hits, Ordering::Relaxed);
        self.misses.fetch_add(misses, Ordering::Relaxed);
    }

    /// `(hits, misses)` of every analyzer so far (each analyzer reports
    /// every 1,024 lookups and when it is dropped).
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Bundles with a live memo.
    pub fn bundles(&self) -> usize {
        self.by_bundle
            .lock()
            .map(|b| b.iter().filter(|(b, _)| b.strong_count() > 0).count())
            .unwrap_or(0)
    }
}
