//! Replay speed: as fast as possible, or paced by event time.

use std::str::FromStr;
use std::time::{Duration, Instant};

/// How fast to replay.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// No pacing.
    Max,
    /// Event time runs `factor` times faster than wall time (1.0 = real time).
    Factor(f64),
}

/// A speed that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid speed {0:?} (expected max, realtime or a factor such as 10x)")]
pub struct BadSpeed(pub String);

impl FromStr for Speed {
    type Err = BadSpeed;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let l = s.trim().to_ascii_lowercase();
        match l.as_str() {
            "max" => Ok(Speed::Max),
            "realtime" | "real-time" | "1x" => Ok(Speed::Factor(1.0)),
            _ => {
                let n = l.strip_suffix('x').unwrap_or(&l);
                match n.parse::<f64>() {
                    Ok(f) if f.is_finite() && f > 0.0 => Ok(Speed::Factor(f)),
                    _ => Err(BadSpeed(s.to_string())),
                }
            }
        }
    }
}

/// Decides when an event may be released.
#[derive(Clone, Debug)]
pub struct Pacer {
    speed: Speed,
    origin: Option<(i64, Instant)>,
}

impl Pacer {
    /// A pacer at `speed`.
    pub fn new(speed: Speed) -> Self {
        Pacer {
            speed,
            origin: None,
        }
    }

    /// `None` when the event may go now, else how long to wait.
    pub fn wait_for(&mut self, event_time_ms: i64, now: Instant) -> Option<Duration> {
        let Speed::Factor(f) = self.speed else {
            return None;
        };
        let (t0, w0) = *self.origin.get_or_insert((event_time_ms, now));
        let offset_ms = (event_time_ms - t0).max(0) as f64 / f;
        let due = w0 + Duration::from_secs_f64(offset_ms / 1000.0);
        (due > now).then(|| due - now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!("max".parse::<Speed>().unwrap(), Speed::Max);
        assert_eq!("realtime".parse::<Speed>().unwrap(), Speed::Factor(1.0));
        assert_eq!("10x".parse::<Speed>().unwrap(), Speed::Factor(10.0));
        assert!("0x".parse::<Speed>().is_err());
        assert!("fast".parse::<Speed>().is_err());
    }

    #[test]
    fn paces_by_event_time() {
        let mut p = Pacer::new(Speed::Factor(2.0));
        let start = Instant::now();
        assert_eq!(p.wait_for(10_000, start), None);
        let w = p.wait_for(12_000, start).unwrap();
        assert_eq!(w, Duration::from_secs(1));
        assert_eq!(p.wait_for(12_000, start + Duration::from_secs(2)), None);
        assert_eq!(Pacer::new(Speed::Max).wait_for(99, start), None);
    }
}
