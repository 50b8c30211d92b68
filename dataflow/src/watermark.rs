//! Event-time watermarks with bounded out-of-orderness, per partition.

/// The watermark of one input partition (a file, a Kafka partition).
///
/// The watermark is the largest event time seen minus the allowed
/// lateness. An event is *late* when its time is below the watermark as it
/// was before the event: it is still scored, but not allowed to change
/// window state (which may already have been emitted). Lateness depends only
/// on the partition's own order, so it is reproducible on replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionWatermark {
    max_seen: Option<i64>,
    allowed_lateness_ms: i64,
}

impl PartitionWatermark {
    /// A watermark allowing `allowed_lateness_ms` of disorder.
    pub fn new(allowed_lateness_ms: i64) -> Self {
        PartitionWatermark {
            max_seen: None,
            allowed_lateness_ms: allowed_lateness_ms.max(0),
        }
    }

    /// Observes an event time; returns true when the event is late.
    pub fn observe(&mut self, event_time_ms: i64) -> bool {
        let late = self.watermark().is_some_and(|w| event_time_ms < w);
        self.max_seen = Some(
            self.max_seen
                .map_or(event_time_ms, |m| m.max(event_time_ms)),
        );
        late
    }

    /// The current watermark (`None` before the first event).
    pub fn watermark(&self) -> Option<i64> {
        self.max_seen
            .map(|m| m.saturating_sub(self.allowed_lateness_ms))
    }
}

/// The timely timestamp (bucket) of an event time.
pub fn bucket(event_time_ms: i64, bucket_ms: u64) -> u64 {
    (event_time_ms.max(0) as u64) / bucket_ms.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_is_relative_to_the_max_seen() {
        let mut w = PartitionWatermark::new(1000);
        assert!(!w.observe(5000));
        assert!(!w.observe(4500)); // within lateness
        assert!(!w.observe(9000));
        assert!(w.observe(7999)); // 9000 - 1000 = 8000
        assert_eq!(w.watermark(), Some(8000));
        assert_eq!(bucket(8000, 1000), 8);
        assert_eq!(bucket(-5, 1000), 0);
    }
}
