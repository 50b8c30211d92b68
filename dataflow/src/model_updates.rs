//! Model updates as timestamped records broadcast through the graph.
//!
//! Worker 0 runs a control source whose capability follows the frontier of
//! the input: when the registry watch has swapped in new models, it emits a
//! [`ModelUpdate`] at its current capability — a timestamp no input record
//! has been analyzed at yet — and the update is broadcast to every worker
//! of every process. The analysis stage holds each batch of records until
//! the control frontier has passed its timestamp, then scores it with the
//! models of the latest update at or before that timestamp. So which model
//! scores a record depends only on the record's timestamp and the update's,
//! never on which worker it lands on or when it arrives there; every verdict
//! names the version, and the update's timestamp is audited.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::source;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::{Scope, StreamVec};

use sentinel_models::bundle::ModelWatch;
use sentinel_models::ModelBundle;
use sentinel_operators::analyze::{AnalyzedEvent, EventAnalyzer};
use sentinel_operators::timely_ops::{TimeStash, Wire};

/// A model switch: the models named by `id` (a bundle's `describe()`) score
/// every record at or after the update's timestamp.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelUpdate {
    /// The bundle, as its `describe()` names it.
    pub id: String,
}

/// The switches of a recorded run, to replay them: from each timestamp on,
/// the bundle its `describe()` names (which the watch must have preloaded).
pub type ModelSchedule = Vec<(u64, String)>;

/// The control stream of a replay: worker 0 emits every scheduled update at
/// its timestamp, then lets go; broadcast to every worker.
pub fn scheduled_updates<'scope>(
    scope: Scope<'scope, u64>,
    schedule: Arc<ModelSchedule>,
) -> StreamVec<'scope, u64, ModelUpdate> {
    let leader = scope.index() == 0;
    let updates: StreamVec<'scope, u64, ModelUpdate> =
        source(scope, "ScheduledModelUpdates", move |capability, _info| {
            let mut cap = leader.then_some(capability);
            move |output| {
                if let Some(c) = cap.take() {
                    for (t, id) in schedule.iter() {
                        let at = c.delayed(&(*t).max(*c.time()));
                        output.session(&at).give(ModelUpdate { id: id.clone() });
                    }
                }
            }
        });
    updates.broadcast()
}

/// How often worker 0 looks at the watch and the input frontier.
const POLL: Duration = Duration::from_millis(5);

/// The control stream: on worker 0, updates at the timestamp the input
/// frontier had reached when the watch changed; broadcast to every worker.
/// The models in use at the start are emitted first, at timestamp 0, so
/// that the audited switches of a run are complete. `on_update(timestamp,
/// bundle, initial)` is called wherever an update is emitted.
pub fn model_updates<'scope>(
    scope: Scope<'scope, u64>,
    input: ProbeHandle<u64>,
    watch: Arc<ModelWatch>,
    on_update: impl Fn(u64, &ModelBundle, bool) + 'static,
) -> StreamVec<'scope, u64, ModelUpdate> {
    let leader = scope.index() == 0;
    let updates: StreamVec<'scope, u64, ModelUpdate> =
        source(scope, "ModelUpdates", move |capability, info| {
            let activator = scope.activator_for(info.address);
            let mut cap = leader.then_some(capability);
            let mut seen = watch.generation();
            let mut started = false;
            move |output| {
                let Some(c) = cap.as_mut() else {
                    return;
                };
                if !started {
                    started = true;
                    let bundle = watch.current().1;
                    on_update(*c.time(), &bundle, true);
                    output.session(&*c).give(ModelUpdate {
                        id: bundle.describe(),
                    });
                }
                match input.with_frontier(|f| f.first().copied()) {
                    // The input is done: no record will need a model any more.
                    None => {
                        cap = None;
                        return;
                    }
                    Some(t) if t > *c.time() => c.downgrade(&t),
                    Some(_) => {}
                }
                let generation = watch.generation();
                if generation != seen {
                    seen = generation;
                    let bundle = watch.current().1;
                    on_update(*c.time(), &bundle, false);
                    output.session(&*c).give(ModelUpdate {
                        id: bundle.describe(),
                    });
                }
                activator.activate_after(POLL);
            }
        });
    updates.broadcast()
}

/// Analyzes records with the models in force at their timestamp (see the
/// module documentation). Records wait until the control frontier has
/// passed their timestamp.
pub fn analyze_with_updates<'scope, E>(
    records: StreamVec<'scope, u64, Wire<E>>,
    updates: StreamVec<'scope, u64, ModelUpdate>,
    watch: Arc<ModelWatch>,
    mut analyzer: EventAnalyzer,
    mut analyze: impl FnMut(&mut EventAnalyzer, E) -> AnalyzedEvent + 'static,
) -> StreamVec<'scope, u64, AnalyzedEvent>
where
    E: Clone + Send + serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    records.binary_frontier(
        updates,
        Pipeline,
        Pipeline,
        "AnalyzeWithModelUpdates",
        move |_cap, _info| {
            let mut stash: TimeStash<E> = TimeStash::default();
            // Models by the timestamp from which they apply.
            let mut history: BTreeMap<u64, Arc<ModelBundle>> = BTreeMap::new();
            history.insert(0, watch.current().1);
            move |(data, _data_frontier), (control, control_frontier), output| {
                control.for_each_stamp(|cap, batches| {
                    let Some(&t) = cap.least() else {
                        return;
                    };
                    for batch in batches {
                        for u in batch.drain(..) {
                            match watch.resolve(&u.id) {
                                Some(b) => {
                                    history.insert(t, b);
                                }
                                None => tracing::warn!(
                                    models = %u.id,
                                    "model update for models this process has not loaded; keeping the current ones"
                                ),
                            }
                        }
                    }
                });
                stash.take_input(data, output.output_index(), Wire::into_inner);
                for (t, cap, records) in stash.ready(control_frontier) {
                    let Some(cap) = cap else {
                        continue;
                    };
                    if let Some((_, models)) = history.range(..=t).next_back() {
                        analyzer.use_models(models.clone());
                    }
                    let mut session = output.session(&cap);
                    for r in records {
                        session.give(analyze(&mut analyzer, r));
                    }
                }
            }
        },
    )
}
