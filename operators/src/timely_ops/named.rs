//! `map` and `flat_map` with the operator named for what it does. Timely
//! names every `map` and `flat_map` "FlatMap", so its log (and
//! `cost-bench --schedule`, which reads it) could not tell the graph's
//! stages apart.

use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::StreamVec;
use timely::progress::Timestamp;

/// `map` and `flat_map` in an operator with a name.
pub trait NamedMap<'scope, T: Timestamp, D: 'static> {
    /// Each record through `logic`, in an operator called `name`.
    fn map_named<D2: 'static, L: FnMut(D) -> D2 + 'static>(
        self,
        name: &str,
        logic: L,
    ) -> StreamVec<'scope, T, D2>;

    /// What `logic` makes of each record, in an operator called `name`.
    fn flat_map_named<I, L>(self, name: &str, logic: L) -> StreamVec<'scope, T, I::Item>
    where
        I: IntoIterator,
        I::Item: 'static,
        L: FnMut(D) -> I + 'static;
}

impl<'scope, T: Timestamp, D: 'static> NamedMap<'scope, T, D> for StreamVec<'scope, T, D> {
    fn map_named<D2: 'static, L: FnMut(D) -> D2 + 'static>(
        self,
        name: &str,
        mut logic: L,
    ) -> StreamVec<'scope, T, D2> {
        self.flat_map_named(name, move |d| std::iter::once(logic(d)))
    }

    fn flat_map_named<I, L>(self, name: &str, mut logic: L) -> StreamVec<'scope, T, I::Item>
    where
        I: IntoIterator,
        I::Item: 'static,
        L: FnMut(D) -> I + 'static,
    {
        // As timely's own `flat_map`, with a name.
        self.unary(Pipeline, name, move |_, _| {
            move |input, output| {
                input.for_each_stamp(|cap, data| {
                    output
                        .session(&cap)
                        .give_iterator(data.flat_map(|v| v.drain(..)).flat_map(&mut logic));
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;
    use timely::dataflow::operators::capture::{Capture, Extract};
    use timely::dataflow::operators::vec::ToStream;
    use timely::logging::{TimelyEvent, TimelyEventBuilder};

    #[test]
    fn named_maps_give_what_map_and_flat_map_give_under_their_names() {
        let (recv, names_seen) = timely::execute_directly(|worker| {
            let names: Rc<RefCell<Vec<String>>> = Default::default();
            let sink = names.clone();
            if let Some(mut registry) = worker.log_register() {
                registry.insert::<TimelyEventBuilder, _>("timely", move |_, events| {
                    for (_, e) in events.iter().flatten() {
                        if let TimelyEvent::Operates(o) = e {
                            sink.borrow_mut().push(o.name.clone());
                        }
                    }
                });
            }
            let recv = worker.dataflow::<u64, _, _>(|scope| {
                (1..=3u64)
                    .to_stream(scope)
                    .map_named("Double", |x| x * 2)
                    .flat_map_named("Repeat", |x| vec![x; 2])
                    .capture()
            });
            while worker.has_dataflows() {
                worker.step();
            }
            if let Some(mut registry) = worker.log_register() {
                registry.flush();
            }
            let seen = names.borrow().clone();
            (recv, seen)
        });
        let mut got: Vec<u64> = recv.extract().into_iter().flat_map(|(_, v)| v).collect();
        got.sort_unstable();
        assert_eq!(got, vec![2, 2, 4, 4, 6, 6]);
        assert!(
            names_seen.iter().any(|n| n == "Double") && names_seen.iter().any(|n| n == "Repeat"),
            "{names_seen:?}"
        );
    }
}
