//! The network-prefix stage: exchanges events by /24 or /64 prefix, keeps
//! each prefix's window and stamps every event with its prefix's figures.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::vec::Map;
use timely::dataflow::StreamVec;

use super::behaviour::WindowGauges;
use super::{processing_order, route, TimeStash, Wire};
use crate::analyze::AnalyzedEvent;
use crate::prefix_window::{prefix_key, PrefixWindows};
use crate::window::WindowConfig;

/// Adds network-prefix figures to events.
pub trait PrefixStage<'scope> {
    /// Stamps each event with what its client's prefix did in the window
    /// (events of clients without an address pass through unchanged),
    /// processing each timestamp in a deterministic order once the frontier
    /// has passed it.
    fn prefix_windows(
        self,
        window: WindowConfig,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> StreamVec<'scope, u64, AnalyzedEvent>;
}

impl<'scope> PrefixStage<'scope> for StreamVec<'scope, u64, AnalyzedEvent> {
    fn prefix_windows(
        self,
        window: WindowConfig,
        bucket_ms: u64,
        gauges: Arc<WindowGauges>,
    ) -> StreamVec<'scope, u64, AnalyzedEvent> {
        let (v4, v6) = (window.prefix_v4_bits, window.prefix_v6_bits);
        let pact = Exchange::new(move |e: &Wire<AnalyzedEvent>| {
            match prefix_key(&e.0.client_key, v4, v6) {
                Some(k) => route(&k),
                None => route(&e.0.client_key),
            }
        });
        self.map(Wire)
            .unary_frontier(pact, "PrefixWindows", move |_cap, _info| {
                let mut stash: TimeStash<AnalyzedEvent> = TimeStash::default();
                let mut windows = PrefixWindows::new(window.window_ms);
                let (mut last_keys, mut last_bytes) = (0i64, 0i64);
                move |(input, frontier), output| {
                    input.for_each_stamp(|cap, data| {
                        let Some(&time) = cap.least() else {
                            return;
                        };
                        let port = output.output_index();
                        stash.add(
                            time,
                            || cap.retain_least(port),
                            data.flat_map(|v| v.drain(..).map(Wire::into_inner)),
                        );
                    });
                    let ready = stash.ready(frontier);
                    if ready.is_empty() {
                        return;
                    }
                    for (time, cap, mut events) in ready {
                        let Some(cap) = cap else {
                            continue;
                        };
                        events.sort_by(|a, b| processing_order(a).cmp(&processing_order(b)));
                        let mut session = output.session(&cap);
                        for mut ev in events {
                            windows.stamp(&mut ev, v4, v6);
                            session.give(ev);
                        }
                        windows.expire((time as i64 + 1).saturating_mul(bucket_ms as i64));
                    }
                    let (keys, bytes) =
                        (windows.active_keys() as i64, windows.state_bytes() as i64);
                    gauges
                        .prefix_keys
                        .fetch_add(keys - last_keys, Ordering::Relaxed);
                    gauges
                        .prefix_bytes
                        .fetch_add(bytes - last_bytes, Ordering::Relaxed);
                    (last_keys, last_bytes) = (keys, bytes);
                }
            })
    }
}
