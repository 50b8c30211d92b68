//! Timestamp parsing for the recorded formats, and the synthetic clock.

use chrono::{DateTime, NaiveDateTime};

/// Event times for formats that carry none (raw HTTP streams):
/// `start_ms + ordinal * interval_ms`. Deterministic, so replays agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntheticClock {
    /// Time of record 0, ms since the Unix epoch.
    pub start_ms: i64,
    /// Spacing between consecutive records, ms.
    pub interval_ms: i64,
}

impl Default for SyntheticClock {
    fn default() -> Self {
        // 2010-01-01T00:00:00Z, 100 requests per second.
        SyntheticClock {
            start_ms: 1_262_304_000_000,
            interval_ms: 10,
        }
    }
}

impl SyntheticClock {
    /// The synthetic time of record `ordinal`.
    pub fn time_of(&self, ordinal: u64) -> i64 {
        self.start_ms.saturating_add(
            i64::try_from(ordinal)
                .unwrap_or(i64::MAX)
                .saturating_mul(self.interval_ms),
        )
    }
}

/// RFC 3339 / ISO 8601 (`2023-10-10T13:55:36.123Z`, HAR `startedDateTime`).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

/// nginx `$time_local`: `10/Oct/2000:13:55:36 -0700`.
pub fn parse_nginx_time_ms(s: &str) -> Option<i64> {
    DateTime::parse_from_str(s.trim(), "%d/%b/%Y:%H:%M:%S %z")
        .ok()
        .map(|d| d.timestamp_millis())
}

/// ModSecurity v3 `time_stamp`: ctime-like `Wed Jan  3 10:25:10 2024`, UTC.
pub fn parse_ctime_ms(s: &str) -> Option<i64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let joined = match parts.as_slice() {
        [_, mon, day, hms, year] => format!("{mon} {day} {hms} {year}"),
        [mon, day, hms, year] => format!("{mon} {day} {hms} {year}"),
        _ => return parse_rfc3339_ms(s),
    };
    NaiveDateTime::parse_from_str(&joined, "%b %d %H:%M:%S %Y")
        .ok()
        .map(|d| d.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_formats() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_nginx_time_ms("01/Jan/1970:01:00:00 +0100"), Some(0));
        assert_eq!(parse_ctime_ms("Thu Jan  1 00:00:02 1970"), Some(2000));
        assert_eq!(parse_ctime_ms("garbage"), None);
        assert_eq!(parse_nginx_time_ms("32/Foo/2000:99:00:00 +0000"), None);
    }

    #[test]
    fn synthetic_is_linear_and_saturates() {
        let c = SyntheticClock {
            start_ms: 100,
            interval_ms: 10,
        };
        assert_eq!(c.time_of(0), 100);
        assert_eq!(c.time_of(3), 130);
        assert_eq!(c.time_of(u64::MAX), i64::MAX);
    }
}
