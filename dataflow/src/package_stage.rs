//! The enrich stage's package half: fetch and verify evidence packages
//! without blocking the worker.
//!
//! Events that reference a package are handed to a tokio runtime (bounded
//! concurrency); the operator keeps a capability for their timestamp until
//! every fetch at it has come back, and is woken by a `SyncActivator` when a
//! result arrives. A verified package's request and response replace the
//! event's; a failure becomes a dead letter with its reason (hash mismatch,
//! bad signature, unavailable after retries). Events without a package pass
//! straight through.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use sentinel_operators::dead_letter::dead_letter;
use sentinel_sources::evidence_store::EvidenceStore;
use sentinel_sources::DecodeError;

use crate::{Counters, Envelope};

/// Fetches and verifies the packages of the events in `envelopes`.
pub fn verify_packages<'scope>(
    envelopes: StreamVec<'scope, u64, Envelope>,
    store: EvidenceStore,
    runtime: Arc<tokio::runtime::Runtime>,
    counters: Arc<Counters>,
) -> StreamVec<'scope, u64, Envelope> {
    let scope = envelopes.scope();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(store.concurrency()));
    envelopes.unary_frontier(Pipeline, "VerifyPackages", move |_cap, info| {
        let activator = scope.worker().sync_activator_for(info.address.to_vec());
        let (tx, rx) = mpsc::channel::<(u64, Envelope)>();
        let mut pending: BTreeMap<u64, (Capability<u64>, usize)> = BTreeMap::new();
        move |(input, _frontier), output| {
            let port = output.output_index();
            input.for_each_stamp(|cap, data| {
                let Some(&t) = cap.least() else {
                    return;
                };
                let mut pass = Vec::new();
                for batch in data {
                    for env in batch.drain(..) {
                        let reference = match &env {
                            Envelope::Event { event, .. } => event.package.clone(),
                            Envelope::Dead(_) => None,
                        };
                        let Some(reference) = reference else {
                            pass.push(env);
                            continue;
                        };
                        let entry = match pending.entry(t) {
                            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                            std::collections::btree_map::Entry::Vacant(v) => {
                                match cap.retain_least(port) {
                                    Some(c) => v.insert((c, 0)),
                                    None => continue,
                                }
                            }
                        };
                        entry.1 += 1;
                        let (store, tx, activator, semaphore, counters) = (
                            store.clone(),
                            tx.clone(),
                            activator.clone(),
                            semaphore.clone(),
                            counters.clone(),
                        );
                        runtime.spawn(async move {
                            let _permit = semaphore.acquire().await;
                            let result = store.fetch_verified(&reference).await;
                            let out = match (env, result) {
                                (
                                    Envelope::Event {
                                        mut event,
                                        provenance,
                                        late,
                                        ..
                                    },
                                    Ok(pkg),
                                ) => {
                                    counters.packages_verified.fetch_add(1, Ordering::Relaxed);
                                    event.request = pkg.request;
                                    if pkg.response.is_some() {
                                        event.response = pkg.response;
                                    }
                                    Envelope::Event {
                                        event,
                                        provenance,
                                        late,
                                        verified: true,
                                    }
                                }
                                (
                                    Envelope::Event {
                                        event, provenance, ..
                                    },
                                    Err(e),
                                ) => {
                                    counters.packages_rejected.fetch_add(1, Ordering::Relaxed);
                                    let original = serde_json::to_vec(&*event).unwrap_or_default();
                                    let err = DecodeError::new(e.reason(), e.to_string());
                                    Envelope::Dead(Box::new(dead_letter(
                                        &err,
                                        &original,
                                        original.len() as u64,
                                        provenance,
                                    )))
                                }
                                (dead @ Envelope::Dead(_), _) => dead,
                            };
                            let _ = tx.send((t, out));
                            let _ = activator.activate();
                        });
                    }
                }
                if !pass.is_empty() {
                    output.session(&cap).give_iterator(pass.into_iter());
                }
            });
            while let Ok((t, env)) = rx.try_recv() {
                if let Some((cap, n)) = pending.get_mut(&t) {
                    output.session(&*cap).give(env);
                    *n -= 1;
                    if *n == 0 {
                        pending.remove(&t);
                    }
                }
            }
        }
    })
}
