//! Where each worker's time goes in a run: timely's operator-schedule and
//! park events, recorded per worker and summarized — how long the worker
//! was parked (it had nothing to do: a worker parked while another works
//! waits for it), which operators took its time, and how long their
//! longest invocation was (a long invocation delays the progress the other
//! workers wait for). `cost-bench --schedule` prints it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Mutex;
use std::time::Duration;

use timely::logging::{ParkEvent, StartStop, TimelyEvent, TimelyEventBuilder};
use timely::worker::Worker;

/// The name timely's own events are logged under.
const TIMELY_LOG: &str = "timely";

/// One worker's recorded schedule (times from the worker's start), summed
/// as it is recorded, so that its size does not grow with the run.
#[derive(Debug, Default, Clone)]
pub struct WorkerSchedule {
    /// The worker's index.
    pub worker: usize,
    /// Operators by id: their address (the scope path) and name.
    pub operators: BTreeMap<usize, (Vec<usize>, String)>,
    /// Each operator's invocations by id: total time, count, longest.
    invocations: BTreeMap<usize, (Duration, usize, Duration)>,
    /// The first invocation's start and the last one's stop.
    first_start: Option<Duration>,
    last_stop: Duration,
    /// Time parked, and how many times.
    parked: Duration,
    parks: usize,
    started: BTreeMap<usize, Duration>,
    parked_since: Option<Duration>,
}

/// One operator's share of a worker's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorTime {
    /// Operator id (worker-unique).
    pub id: usize,
    /// Operator name.
    pub name: String,
    /// Time in its invocations.
    pub total: Duration,
    /// Invocations.
    pub runs: usize,
    /// Its longest invocation.
    pub longest: Duration,
}

/// What a worker's schedule says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSummary {
    /// The worker's index.
    pub worker: usize,
    /// From its first operator invocation to its last.
    pub span: Duration,
    /// Time parked.
    pub parked: Duration,
    /// Times parked.
    pub parks: usize,
    /// Time in operators (the sum of [`ScheduleSummary::operators`]): the
    /// rest of the span, less the parked time, is timely's own work
    /// (progress tracking, scheduling, moving data between workers).
    pub in_operators: Duration,
    /// Operators (not scopes, whose time is their operators'), most time first.
    pub operators: Vec<OperatorTime>,
}

impl ScheduleSummary {
    /// The span's time neither parked nor in an operator.
    pub fn in_timely(&self) -> Duration {
        self.span.saturating_sub(self.parked + self.in_operators)
    }

    /// Parked time as a fraction of the span.
    pub fn parked_fraction(&self) -> f64 {
        if self.span.is_zero() {
            0.0
        } else {
            self.parked.as_secs_f64() / self.span.as_secs_f64()
        }
    }
}

impl WorkerSchedule {
    /// A schedule for worker `worker`, with nothing recorded.
    pub fn new(worker: usize) -> Self {
        WorkerSchedule {
            worker,
            ..Default::default()
        }
    }

    /// Adds one timely event logged at `time` (others than operator
    /// creation, scheduling and parking are ignored; a stop or unpark
    /// without its start is dropped).
    pub fn record(&mut self, time: Duration, event: &TimelyEvent) {
        match event {
            TimelyEvent::Operates(o) => {
                self.operators
                    .insert(o.id, (o.addr.clone(), o.name.clone()));
            }
            TimelyEvent::Schedule(s) => match s.start_stop {
                StartStop::Start => {
                    self.started.insert(s.id, time);
                }
                StartStop::Stop => {
                    if let Some(start) = self.started.remove(&s.id) {
                        let took = time.saturating_sub(start);
                        let (total, runs, longest) = self.invocations.entry(s.id).or_default();
                        *total += took;
                        *runs += 1;
                        *longest = (*longest).max(took);
                        self.first_start = Some(self.first_start.map_or(start, |f| f.min(start)));
                        self.last_stop = self.last_stop.max(time);
                    }
                }
            },
            TimelyEvent::Park(ParkEvent::Park(_)) => self.parked_since = Some(time),
            TimelyEvent::Park(ParkEvent::Unpark) => {
                if let Some(start) = self.parked_since.take() {
                    self.parked += time.saturating_sub(start);
                    self.parks += 1;
                }
            }
            _ => {}
        }
    }

    /// The summary: span, parked time, and the operators' times.
    pub fn summary(&self) -> ScheduleSummary {
        let first = self.first_start.unwrap_or_default();
        // A scope is an operator whose address starts another's.
        let scopes: std::collections::BTreeSet<usize> = (self.operators.iter())
            .filter(|(_, (addr, _))| {
                (self.operators.values())
                    .any(|(other, _)| other.len() > addr.len() && other.starts_with(addr))
            })
            .map(|(id, _)| *id)
            .collect();
        let mut operators: Vec<OperatorTime> = (self.invocations.iter())
            .filter(|(id, _)| !scopes.contains(id))
            .filter_map(|(&id, &(total, runs, longest))| {
                let (_, name) = self.operators.get(&id)?;
                Some(OperatorTime {
                    id,
                    name: name.clone(),
                    total,
                    runs,
                    longest,
                })
            })
            .collect();
        operators.sort_by(|a, b| b.total.cmp(&a.total).then(a.id.cmp(&b.id)));
        ScheduleSummary {
            worker: self.worker,
            span: self.last_stop.saturating_sub(first),
            parked: self.parked,
            parks: self.parks,
            in_operators: operators.iter().map(|o| o.total).sum(),
            operators,
        }
    }
}

/// The schedules of a run's workers in this process.
#[derive(Debug, Default)]
pub struct ScheduleLog {
    workers: Mutex<Vec<WorkerSchedule>>,
}

/// A worker's schedule while it is being recorded.
pub struct Recording(Rc<RefCell<WorkerSchedule>>);

impl ScheduleLog {
    /// Starts recording `worker`'s schedule (before its dataflows are
    /// built, so that their operators are named).
    pub fn start(&self, worker: &Worker) -> Recording {
        let schedule = Rc::new(RefCell::new(WorkerSchedule::new(worker.index())));
        let sink = schedule.clone();
        if let Some(mut registry) = worker.log_register() {
            registry.insert::<TimelyEventBuilder, _>(TIMELY_LOG, move |_, events| {
                if let Some(events) = events {
                    let mut s = sink.borrow_mut();
                    for (time, event) in events.iter() {
                        s.record(*time, event);
                    }
                }
            });
        }
        Recording(schedule)
    }

    /// Stops recording `worker` (flushing what its loggers hold) and keeps
    /// its schedule.
    pub fn finish(&self, worker: &Worker, recording: Recording) {
        if let Some(mut registry) = worker.log_register() {
            registry.flush();
            registry.remove(TIMELY_LOG);
        }
        let schedule = std::mem::take(&mut *recording.0.borrow_mut());
        if let Ok(mut workers) = self.workers.lock() {
            workers.push(schedule);
        }
    }

    /// The recorded schedules, by worker index.
    pub fn take(&self) -> Vec<WorkerSchedule> {
        let mut all = self
            .workers
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        all.sort_by_key(|s| s.worker);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use timely::logging::{OperatesEvent, ScheduleEvent};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn operates(id: usize, addr: &[usize], name: &str) -> TimelyEvent {
        TimelyEvent::Operates(OperatesEvent {
            id,
            addr: addr.to_vec(),
            name: name.into(),
        })
    }

    fn schedule(id: usize, start: bool) -> TimelyEvent {
        TimelyEvent::Schedule(if start {
            ScheduleEvent::start(id)
        } else {
            ScheduleEvent::stop(id)
        })
    }

    #[test]
    fn operators_parks_and_span_are_summed_and_scopes_left_out() {
        let mut s = WorkerSchedule::new(1);
        s.record(ms(0), &operates(0, &[0], "Dataflow"));
        s.record(ms(0), &operates(1, &[0, 1], "Source"));
        s.record(ms(0), &operates(2, &[0, 2], "Map"));
        let events = [
            (10, schedule(0, true)),
            (10, schedule(1, true)),
            (14, schedule(1, false)),
            (14, schedule(2, true)),
            (15, schedule(2, false)),
            (15, schedule(0, false)),
            (15, TimelyEvent::Park(ParkEvent::park(None))),
            (20, TimelyEvent::Park(ParkEvent::unpark())),
            (20, schedule(0, true)),
            (20, schedule(2, true)),
            (27, schedule(2, false)),
            (30, schedule(0, false)),
            // A stop without its start is dropped.
            (31, schedule(1, false)),
        ];
        for (t, e) in &events {
            s.record(ms(*t), e);
        }
        let sum = s.summary();
        assert_eq!(sum.worker, 1);
        assert_eq!(sum.span, ms(20));
        assert_eq!((sum.parked, sum.parks), (ms(5), 1));
        assert!((sum.parked_fraction() - 0.25).abs() < 1e-9);
        assert_eq!(sum.in_operators, ms(12));
        assert_eq!(sum.in_timely(), ms(3));
        let names: Vec<(&str, Duration, usize, Duration)> = (sum.operators.iter())
            .map(|o| (o.name.as_str(), o.total, o.runs, o.longest))
            .collect();
        assert_eq!(
            names,
            vec![("Map", ms(8), 2, ms(7)), ("Source", ms(4), 1, ms(4))]
        );
    }

    #[test]
    fn an_empty_schedule_summarizes_to_nothing() {
        let sum = WorkerSchedule::new(0).summary();
        assert_eq!(sum.span, Duration::ZERO);
        assert_eq!(sum.parked_fraction(), 0.0);
        assert!(sum.operators.is_empty());
    }

    #[test]
    fn a_recorded_run_names_its_operators_and_parks() {
        let log = std::sync::Arc::new(ScheduleLog::default());
        let l = log.clone();
        timely::execute(timely::Config::process(2), move |worker| {
            let recording = l.start(worker);
            let mut input = timely::dataflow::InputHandle::new();
            let probe = worker.dataflow::<u64, _, _>(|scope| {
                use timely::dataflow::operators::vec::Map;
                use timely::dataflow::operators::{Exchange, Input, Probe};
                scope
                    .input_from(&mut input)
                    .map(|x: u64| x * 2)
                    .exchange(|x| *x)
                    .probe()
                    .0
            });
            for round in 0..20u64 {
                if worker.index() == 0 {
                    input.send(round);
                }
                input.advance_to(round + 1);
                while probe.less_than(input.time()) {
                    worker.step_or_park(Some(Duration::from_millis(1)));
                }
            }
            drop(input);
            while worker.has_dataflows() {
                worker.step_or_park(Some(Duration::from_millis(1)));
            }
            l.finish(worker, recording);
        })
        .expect("timely runs");
        let schedules = log.take();
        assert_eq!(
            schedules.iter().map(|s| s.worker).collect::<Vec<_>>(),
            [0, 1]
        );
        for s in &schedules {
            let sum = s.summary();
            assert!(sum.span > Duration::ZERO, "{sum:?}");
            let names: Vec<&str> = sum.operators.iter().map(|o| o.name.as_str()).collect();
            assert!(
                names.contains(&"FlatMap") && names.contains(&"Exchange"),
                "{names:?}"
            );
            assert!(!names.contains(&"Dataflow"), "{names:?}");
        }
        // Worker 1 has nothing to do but wait for worker 0's records.
        assert!(schedules[1].summary().parks > 0);
    }
}
