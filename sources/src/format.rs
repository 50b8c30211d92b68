//! Input formats and `--format auto` detection.

use std::fmt;
use std::str::FromStr;

/// A recorded-evidence file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputFormat {
    /// One [`sentinel_schema::EvidenceEvent`] JSON object per line.
    Jsonl,
    /// HAR 1.2 (`{"log": {"entries": [...]}}`), one record per entry.
    Har,
    /// ModSecurity v3 audit log with `SecAuditLogFormat JSON`, one transaction per line.
    Modsec,
    /// Raw HTTP/1.1 requests back to back (`Content-Length` or chunked bodies).
    RawHttp,
    /// nginx `combined` access log lines.
    Nginx,
    /// A Kafka recording made by `sentinel record` (topic, partition, offset, value per line).
    Record,
}

impl InputFormat {
    /// Every format, in detection order.
    pub const ALL: [InputFormat; 6] = [
        InputFormat::Jsonl,
        InputFormat::Har,
        InputFormat::Modsec,
        InputFormat::RawHttp,
        InputFormat::Nginx,
        InputFormat::Record,
    ];

    /// The CLI name (`jsonl`, `har`, `modsec`, `raw-http`, `nginx`).
    pub fn as_str(self) -> &'static str {
        match self {
            InputFormat::Jsonl => "jsonl",
            InputFormat::Har => "har",
            InputFormat::Modsec => "modsec",
            InputFormat::RawHttp => "raw-http",
            InputFormat::Nginx => "nginx",
            InputFormat::Record => "record",
        }
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown input format {0:?} (expected auto, jsonl, har, modsec, raw-http, nginx or record)"
)]
pub struct UnknownFormat(pub String);

impl FromStr for InputFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "jsonl" | "ndjson" | "json" => Ok(InputFormat::Jsonl),
            "har" => Ok(InputFormat::Har),
            "modsec" | "modsecurity" | "modsec-json" => Ok(InputFormat::Modsec),
            "raw-http" | "raw" | "http" => Ok(InputFormat::RawHttp),
            "nginx" | "combined" => Ok(InputFormat::Nginx),
            "record" | "kafka-record" => Ok(InputFormat::Record),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// Guesses the format from the first bytes of the (decompressed) input.
///
/// * a JSON object on the first line with a `transaction` key → ModSecurity;
/// * a JSON document whose first kilobytes mention `"log"` and `"entries"` → HAR;
/// * another JSON object per line → evidence JSONL;
/// * `METHOD target HTTP/x.y` on the first line → raw HTTP;
/// * `ADDRESS - USER [time] "..."` → nginx combined.
///
/// Returns `None` when nothing matches (the caller asks for `--format`).
pub fn detect_format(head: &[u8]) -> Option<InputFormat> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &head[start..];
    let first_line = match memchr::memchr(b'\n', head) {
        Some(i) => &head[..i],
        None => head,
    };
    let first_line = first_line.strip_suffix(b"\r").unwrap_or(first_line);
    if head[0] == b'{' {
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(first_line) {
            if v.get("transaction").is_some() {
                return Some(InputFormat::Modsec);
            }
            if v.get("log").and_then(|l| l.get("entries")).is_some() {
                return Some(InputFormat::Har);
            }
            if v.get("topic").is_some() && v.get("partition").is_some() && v.get("offset").is_some()
            {
                return Some(InputFormat::Record);
            }
            return Some(InputFormat::Jsonl);
        }
        let window = &head[..head.len().min(4096)];
        if contains(window, b"\"log\"")
            && (contains(window, b"\"entries\"") || contains(window, b"\"version\""))
        {
            return Some(InputFormat::Har);
        }
        if contains(first_line, b"\"transaction\"") {
            return Some(InputFormat::Modsec);
        }
        return Some(InputFormat::Jsonl);
    }
    if crate::framing::looks_like_request_line(first_line) {
        return Some(InputFormat::RawHttp);
    }
    if crate::decode::nginx::looks_like_combined(first_line) {
        return Some(InputFormat::Nginx);
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            detect_format(
                br#"{"evidence_id":"a","event_time_ms":1,"request":{"method":"GET","target":"/"}}"#
            ),
            Some(InputFormat::Jsonl)
        );
        assert_eq!(
            detect_format(b"{\n  \"log\": {\n    \"version\": \"1.2\",\n    \"entries\": []}}"),
            Some(InputFormat::Har)
        );
        assert_eq!(
            detect_format(br#"{"transaction":{"client_ip":"1.2.3.4"}}"#),
            Some(InputFormat::Modsec)
        );
        assert_eq!(
            detect_format(b"\r\nGET http://localhost:8080/a HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(InputFormat::RawHttp)
        );
        assert_eq!(
            detect_format(b"203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"curl\"\n"),
            Some(InputFormat::Nginx)
        );
        assert_eq!(
            detect_format(br#"{"topic":"t","partition":0,"offset":1,"value":{}}"#),
            Some(InputFormat::Record)
        );
        assert_eq!(detect_format(b"hello world"), None);
        assert_eq!(detect_format(b""), None);
    }

    #[test]
    fn names_parse() {
        for f in InputFormat::ALL {
            assert_eq!(f.as_str().parse::<InputFormat>().unwrap(), f);
        }
        assert!("csv".parse::<InputFormat>().is_err());
    }
}
