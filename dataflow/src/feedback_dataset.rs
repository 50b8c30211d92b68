//! The learner's training set as a differential collection.
//!
//! One timely worker, owned by the learner's thread, maintains it
//! incrementally; each learner round is one epoch. Three inputs:
//!
//! * `feedback`: `(payload, (seq, label))`, one record per stored feedback
//!   record with a payload, `seq` its position in the feedback store;
//! * `corpus`: `(payload, (index, label))`, the generated corpus of the
//!   learner's seed, entered once;
//! * `trained`: `(payload, label)`, the analyst labels the last candidate
//!   learnt (from the learner's state, so it survives restarts).
//!
//! Derived collections:
//!
//! * `labels = feedback.reduce(latest seq)`: the label of each payload, the
//!   latest report winning (an analyst correcting another);
//! * `kept = corpus.antijoin(labels.keys)`: the corpus without the payloads
//!   analysts labelled: their label wins over the generator's;
//! * `overridden = corpus.semijoin(labels.keys)`: those corpus samples;
//! * `pending`: `labels` and `trained` reduced by payload, the payloads
//!   whose label differs from what the last candidate learnt (new or
//!   relabelled), the count the retraining trigger reads. A second report
//!   of the same label changes nothing and triggers nothing.
//!
//! The views the learner reads are maintained from the consolidated changes
//! of `labels`, `kept` and `pending`, so a round costs what changed, not
//! the size of the dataset.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use differential_dataflow::input::{Input, InputSession};
use sentinel_schema::{Feedback, ThreatClass};
use timely::communication::allocator::thread::Thread;
use timely::communication::Allocator;
use timely::dataflow::operators::probe::Handle as ProbeHandle;
use timely::worker::Worker;
use timely::WorkerConfig;

/// A payload and its class.
pub type Sample = (String, ThreatClass);

/// Accumulated multiplicities of a collection's records.
type View<D> = Rc<RefCell<BTreeMap<D, isize>>>;

/// Applies a collection's changes to its view.
fn apply<D: Ord + Clone>(view: &View<D>, d: &D, diff: isize) {
    let mut v = view.borrow_mut();
    let entry = v.entry(d.clone()).or_insert(0);
    *entry += diff;
    if *entry == 0 {
        v.remove(d);
    }
}

/// What the dataset holds, for reports and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatasetSummary {
    /// Distinct payloads analysts labelled, by their current label.
    pub labels: BTreeMap<ThreatClass, usize>,
    /// Corpus samples kept for training.
    pub corpus_kept: usize,
    /// Corpus samples whose payload an analyst labelled.
    pub corpus_overridden: usize,
    /// Payloads whose label changed since the last training.
    pub pending: usize,
    /// Feedback records entered (those with a payload).
    pub feedback_records: u64,
}

/// The learner's dataset: see the module documentation.
pub struct FeedbackDataset {
    worker: Worker,
    feedback: InputSession<u64, (String, (u64, ThreatClass)), isize>,
    corpus: InputSession<u64, (String, (usize, ThreatClass)), isize>,
    trained: InputSession<u64, Sample, isize>,
    probe: ProbeHandle<u64>,
    /// `(payload, (seq, label))` of the winning reports.
    labels: View<(String, (u64, ThreatClass))>,
    /// `(payload, (index, label))` of the corpus samples kept.
    kept: View<(String, (usize, ThreatClass))>,
    overridden: View<String>,
    pending: View<String>,
    /// The labels entered as `trained`, to retract them at the next training.
    trained_now: Vec<Sample>,
    epoch: u64,
    records: u64,
}

impl FeedbackDataset {
    /// A dataset over `corpus` (in training order), with `trained` the
    /// labels the last candidate learnt. Builds and settles the dataflow.
    pub fn new(corpus: &[Sample], trained: &[Sample]) -> FeedbackDataset {
        let alloc = Allocator::Thread(Thread::default());
        let mut worker = Worker::new(WorkerConfig::default(), alloc, None);
        let labels: View<_> = Rc::default();
        let kept: View<_> = Rc::default();
        let overridden: View<_> = Rc::default();
        let pending: View<_> = Rc::default();
        let (l, k, o, p) = (
            labels.clone(),
            kept.clone(),
            overridden.clone(),
            pending.clone(),
        );
        let (feedback, corpus_in, trained_in, probe) = worker.dataflow::<u64, _, _>(|scope| {
            let (feedback_in, feedback) =
                scope.new_collection::<(String, (u64, ThreatClass)), isize>();
            let (corpus_in, corpus) =
                scope.new_collection::<(String, (usize, ThreatClass)), isize>();
            let (trained_in, trained) = scope.new_collection::<Sample, isize>();
            let latest = feedback.reduce_named("LatestLabel", |_payload, reports, out| {
                // Reports arrive sorted by (seq, label): the last is the latest.
                if let Some((winner, _)) = reports.iter().rev().find(|(_, n)| *n > 0) {
                    out.push((**winner, 1));
                }
            });
            latest.clone().inspect(move |(d, _, r)| apply(&l, d, *r));
            let labelled = latest.clone().map(|(payload, _)| payload).distinct();
            corpus
                .clone()
                .antijoin(labelled.clone())
                .inspect(move |(d, _, r)| apply(&k, d, *r));
            corpus
                .semijoin(labelled)
                .map(|(payload, _)| payload)
                .inspect(move |(d, _, r)| apply(&o, d, *r));
            // Each payload with its current label (tag 0) and the label the
            // last candidate learnt (tag 1): pending where they differ.
            let current = latest.map(|(payload, (_, label))| (payload, (0u8, label)));
            let learnt = trained.map(|(payload, label)| (payload, (1u8, label)));
            let (probe, _) = current
                .concat(learnt)
                .reduce_named("PendingChange", |_payload, labels, out| {
                    let label = |tag: u8| {
                        labels
                            .iter()
                            .find(|(v, n)| v.0 == tag && *n > 0)
                            .map(|(v, _)| v.1)
                    };
                    if label(0) != label(1) {
                        out.push(((), 1));
                    }
                })
                .map(|(payload, ())| payload)
                .inspect(move |(d, _, r)| apply(&p, d, *r))
                .probe();
            (feedback_in, corpus_in, trained_in, probe)
        });
        let mut dataset = FeedbackDataset {
            worker,
            feedback,
            corpus: corpus_in,
            trained: trained_in,
            probe,
            labels,
            kept,
            overridden,
            pending,
            trained_now: Vec::new(),
            epoch: 0,
            records: 0,
        };
        for (i, (payload, label)) in corpus.iter().enumerate() {
            dataset.corpus.insert((payload.clone(), (i, *label)));
        }
        dataset.set_trained(trained);
        dataset.settle();
        dataset
    }

    /// Enters feedback records (in store order, continuing the sequence);
    /// those without a payload cannot be trained on and are skipped. Returns
    /// how many were entered. Call [`FeedbackDataset::settle`] to see them.
    pub fn add(&mut self, items: &[Feedback]) -> usize {
        let mut n = 0;
        for f in items {
            let Some(payload) = f.payload.as_ref().filter(|p| !p.is_empty()) else {
                continue;
            };
            self.feedback
                .insert((payload.clone(), (self.records, f.label)));
            self.records += 1;
            n += 1;
        }
        n
    }

    /// Replaces the labels the last candidate learnt.
    pub fn set_trained(&mut self, labels: &[Sample]) {
        for s in std::mem::take(&mut self.trained_now) {
            self.trained.remove(s);
        }
        for s in labels {
            self.trained.insert(s.clone());
        }
        self.trained_now = labels.to_vec();
    }

    /// Closes the epoch and runs the dataflow until its views are current.
    pub fn settle(&mut self) {
        self.epoch += 1;
        self.feedback.advance(self.epoch);
        self.corpus.advance(self.epoch);
        self.trained.advance(self.epoch);
        while self.probe.less_than(&self.epoch) {
            self.worker.step();
        }
    }

    /// The analyst labels, one per payload, in the order they were given.
    pub fn labels(&self) -> Vec<Sample> {
        let mut v: Vec<(u64, Sample)> = self
            .labels
            .borrow()
            .keys()
            .map(|(payload, (seq, label))| (*seq, (payload.clone(), *label)))
            .collect();
        v.sort_unstable_by_key(|(seq, _)| *seq);
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// The corpus without the payloads analysts labelled, in corpus order.
    pub fn corpus(&self) -> Vec<Sample> {
        let mut v: Vec<(usize, Sample)> = self
            .kept
            .borrow()
            .iter()
            .flat_map(|((payload, (i, label)), n)| {
                std::iter::repeat_n((*i, (payload.clone(), *label)), (*n).max(0) as usize)
            })
            .collect();
        v.sort_unstable_by_key(|(i, _)| *i);
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// The labels the last candidate was not trained on (new or changed
    /// since), in the order they were given: ground truth neither the
    /// candidate nor the active model has seen.
    pub fn pending_labels(&self) -> Vec<Sample> {
        let pending = self.pending.borrow();
        let mut v: Vec<(u64, Sample)> = self
            .labels
            .borrow()
            .keys()
            .filter(|(payload, _)| pending.contains_key(payload))
            .map(|(payload, (seq, label))| (*seq, (payload.clone(), *label)))
            .collect();
        v.sort_unstable_by_key(|(seq, _)| *seq);
        v.into_iter().map(|(_, s)| s).collect()
    }

    /// Payloads whose label changed since the last training.
    pub fn pending(&self) -> usize {
        self.pending.borrow().len()
    }

    /// Feedback records entered so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// What the dataset holds.
    pub fn summary(&self) -> DatasetSummary {
        let mut labels = BTreeMap::new();
        for (_, (_, label)) in self.labels.borrow().keys() {
            *labels.entry(*label).or_insert(0) += 1;
        }
        DatasetSummary {
            labels,
            corpus_kept: self
                .kept
                .borrow()
                .values()
                .map(|n| (*n).max(0) as usize)
                .sum(),
            corpus_overridden: self
                .overridden
                .borrow()
                .values()
                .map(|n| (*n).max(0) as usize)
                .sum(),
            pending: self.pending(),
            feedback_records: self.records,
        }
    }
}

/// An input session whose time can be advanced, whatever its record type.
trait Advance {
    fn advance(&mut self, epoch: u64);
}

impl<D: differential_dataflow::Data> Advance for InputSession<u64, D, isize> {
    fn advance(&mut self, epoch: u64) {
        self.advance_to(epoch);
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sentinel_schema::FeedbackKind;

    fn fb(payload: Option<&str>, label: ThreatClass) -> Feedback {
        Feedback {
            evidence_id: "e".into(),
            kind: FeedbackKind::FalsePositive,
            label,
            payload: payload.map(String::from),
            analyst: "ana".into(),
            note: None,
            time_ms: 1,
        }
    }

    fn corpus() -> Vec<Sample> {
        vec![
            ("' or 1=1--".into(), ThreatClass::Sqli),
            ("select a table".into(), ThreatClass::Sqli),
            ("hello".into(), ThreatClass::Benign),
        ]
    }

    #[test]
    fn the_latest_label_wins_and_overrides_the_corpus() {
        let mut d = FeedbackDataset::new(&corpus(), &[]);
        assert_eq!(d.corpus(), corpus());
        assert_eq!(d.pending(), 0);
        d.add(&[
            fb(Some("select a table"), ThreatClass::Benign),
            fb(None, ThreatClass::Benign),
            fb(Some("<b onmouseover=x>"), ThreatClass::Xss),
        ]);
        d.settle();
        assert_eq!(
            d.labels(),
            vec![
                ("select a table".to_string(), ThreatClass::Benign),
                ("<b onmouseover=x>".to_string(), ThreatClass::Xss),
            ]
        );
        assert_eq!(
            d.corpus(),
            vec![
                ("' or 1=1--".to_string(), ThreatClass::Sqli),
                ("hello".to_string(), ThreatClass::Benign),
            ]
        );
        assert_eq!(d.pending(), 2);
        let s = d.summary();
        assert_eq!(
            (s.corpus_kept, s.corpus_overridden, s.feedback_records),
            (2, 1, 2)
        );

        // Training clears the pending changes; the same label again adds none.
        d.set_trained(&d.labels());
        d.add(&[fb(Some("select a table"), ThreatClass::Benign)]);
        d.settle();
        assert_eq!(d.pending(), 0);
        // A correction is one pending change, and moves the payload to the end.
        d.add(&[fb(Some("<b onmouseover=x>"), ThreatClass::Benign)]);
        d.settle();
        assert_eq!(d.pending(), 1);
        assert_eq!(
            d.pending_labels(),
            vec![("<b onmouseover=x>".to_string(), ThreatClass::Benign)]
        );
        assert_eq!(
            d.labels().last(),
            Some(&("<b onmouseover=x>".to_string(), ThreatClass::Benign))
        );
    }

    #[test]
    fn a_restart_with_the_trained_labels_has_nothing_pending() {
        let items = [
            fb(Some("a"), ThreatClass::Xss),
            fb(Some("b"), ThreatClass::Benign),
            fb(Some("a"), ThreatClass::Benign),
        ];
        let mut first = FeedbackDataset::new(&corpus(), &[]);
        first.add(&items);
        first.settle();
        let trained = first.labels();
        // The learner's state keeps `trained`; a new process rebuilds the
        // dataset from the whole store in one round.
        let mut again = FeedbackDataset::new(&corpus(), &trained);
        again.add(&items);
        again.settle();
        assert_eq!(again.labels(), trained);
        assert_eq!(again.pending(), 0);
        // Without the state, every label is pending.
        let mut fresh = FeedbackDataset::new(&corpus(), &[]);
        fresh.add(&items);
        fresh.settle();
        assert_eq!(fresh.pending(), 2);
    }

    /// The reference: the trainer's own rule, recomputed from scratch.
    fn recount(
        corpus: &[Sample],
        feedback: &[(usize, u8)],
        payloads: &[String],
    ) -> (Vec<Sample>, Vec<Sample>) {
        let classes = ThreatClass::ALL;
        let mut latest: BTreeMap<&str, (usize, ThreatClass)> = BTreeMap::new();
        for (seq, (p, c)) in feedback.iter().enumerate() {
            latest.insert(
                payloads[*p].as_str(),
                (seq, classes[*c as usize % classes.len()]),
            );
        }
        let kept = corpus
            .iter()
            .filter(|(p, _)| !latest.contains_key(p.as_str()))
            .cloned()
            .collect();
        let mut labels: Vec<(usize, Sample)> = latest
            .into_iter()
            .map(|(p, (seq, c))| (seq, (p.to_string(), c)))
            .collect();
        labels.sort_unstable_by_key(|(s, _)| *s);
        (kept, labels.into_iter().map(|(_, s)| s).collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// However feedback arrives (in rounds of any size), the dataset is
        /// the recount of the store, and `pending` counts the payloads whose
        /// label differs from the last training.
        #[test]
        fn matches_a_recount(
            feedback in proptest::collection::vec((0usize..6, 0u8..8), 0..40),
            cuts in proptest::collection::vec(0usize..40, 0..5),
            train_at in 0usize..40,
        ) {
            let payloads: Vec<String> = (0..6).map(|i| format!("payload {i}")).collect();
            let corpus: Vec<Sample> = payloads[..4]
                .iter()
                .map(|p| (p.clone(), ThreatClass::Sqli))
                .chain([("corpus only".to_string(), ThreatClass::Benign)])
                .collect();
            let classes = ThreatClass::ALL;
            let items: Vec<Feedback> = feedback
                .iter()
                .map(|(p, c)| fb(Some(&payloads[*p]), classes[*c as usize % classes.len()]))
                .collect();
            let mut d = FeedbackDataset::new(&corpus, &[]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(items.len())).collect();
            cuts.push(items.len());
            cuts.sort_unstable();
            let mut from = 0;
            let mut trained: Vec<Sample> = Vec::new();
            for cut in cuts {
                d.add(&items[from..cut]);
                d.settle();
                from = cut;
                if from >= train_at && trained.is_empty() {
                    trained = d.labels();
                    d.set_trained(&trained);
                    d.settle();
                }
                let (kept, labels) = recount(&corpus, &feedback[..from], &payloads);
                prop_assert_eq!(d.corpus(), kept);
                prop_assert_eq!(d.labels(), labels.clone());
                let before: BTreeMap<&String, &ThreatClass> = trained.iter().map(|(p, c)| (p, c)).collect();
                let now: BTreeMap<&String, &ThreatClass> = labels.iter().map(|(p, c)| (p, c)).collect();
                let changed = before.keys().chain(now.keys())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .filter(|p| before.get(**p) != now.get(**p))
                    .count();
                prop_assert_eq!(d.pending(), changed);
            }
        }
    }
}
