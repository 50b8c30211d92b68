//! A learned profile of an application's normal traffic: per endpoint
//! (method and path template) and parameter, the value types, lengths,
//! character classes and — for small closed sets — the values themselves.
//! Values unlike anything the parameter normally carries score high, even
//! when no signature matches them (positive security, learned instead of
//! written by hand).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Learning and scoring settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileConfig {
    /// Requests an endpoint needs before its profile is trusted.
    pub min_endpoint_requests: u64,
    /// Values a parameter needs before its profile is trusted.
    pub min_param_samples: u64,
    /// Most distinct values kept as a closed set.
    pub max_enum_values: usize,
    /// Samples needed before a closed set is enforced.
    pub enum_min_samples: u64,
    /// Most endpoints profiled (the rest are counted, not learned).
    pub max_endpoints: usize,
    /// Most parameters per endpoint.
    pub max_params_per_endpoint: usize,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            min_endpoint_requests: 20,
            min_param_samples: 20,
            max_enum_values: 16,
            enum_min_samples: 100,
            max_endpoints: 20_000,
            max_params_per_endpoint: 256,
        }
    }
}

/// Character classes of a value (bit positions).
pub const CLASS_NAMES: [&str; 13] = [
    "lower-case letters",
    "upper-case letters",
    "digits",
    "spaces",
    "punctuation (.,-_:@!)",
    "quotes",
    "angle brackets",
    "shell metacharacters (;|&$)",
    "brackets",
    "slashes",
    "URL syntax (%=+#?~*)",
    "control characters",
    "non-ASCII",
];

/// Classes whose first appearance is suspicious.
const DANGEROUS: u16 = (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 11);

/// The character classes present in `v`.
pub fn char_classes(v: &str) -> u16 {
    let mut m = 0u16;
    for c in v.chars() {
        let bit = match c {
            'a'..='z' => 0,
            'A'..='Z' => 1,
            '0'..='9' => 2,
            ' ' => 3,
            '.' | ',' | '-' | '_' | ':' | '@' | '!' => 4,
            '\'' | '"' | '`' => 5,
            '<' | '>' => 6,
            ';' | '|' | '&' | '$' => 7,
            '(' | ')' | '{' | '}' | '[' | ']' => 8,
            '/' | '\\' => 9,
            '%' | '=' | '+' | '#' | '?' | '~' | '*' | '^' => 10,
            c if c.is_control() => 11,
            c if !c.is_ascii() => 12,
            _ => 10,
        };
        m |= 1 << bit;
    }
    m
}

/// Value types, from specific to general.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ValueType {
    /// Empty.
    Empty,
    /// Optionally signed digits.
    Integer,
    /// A decimal number.
    Decimal,
    /// At least 8 hex digits with a digit and a letter.
    Hex,
    /// A UUID.
    Uuid,
    /// An e-mail address.
    Email,
    /// Letters only.
    Alpha,
    /// Letters and digits.
    Alnum,
    /// Words: letters, digits, spaces, light punctuation.
    Text,
    /// A long token (base64, JWT-like).
    Token,
    /// Anything else.
    Other,
}

impl ValueType {
    const ALL: [ValueType; 11] = [
        ValueType::Empty,
        ValueType::Integer,
        ValueType::Decimal,
        ValueType::Hex,
        ValueType::Uuid,
        ValueType::Email,
        ValueType::Alpha,
        ValueType::Alnum,
        ValueType::Text,
        ValueType::Token,
        ValueType::Other,
    ];

    /// Snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Empty => "empty",
            ValueType::Integer => "integer",
            ValueType::Decimal => "decimal",
            ValueType::Hex => "hex",
            ValueType::Uuid => "uuid",
            ValueType::Email => "email",
            ValueType::Alpha => "alpha",
            ValueType::Alnum => "alnum",
            ValueType::Text => "text",
            ValueType::Token => "token",
            ValueType::Other => "other",
        }
    }

    /// The more general types a value of this type also is.
    fn generalizations(self) -> &'static [ValueType] {
        use ValueType::*;
        match self {
            Empty => &[Text, Other],
            Integer => &[Decimal, Alnum, Hex, Text, Token, Other],
            Decimal => &[Text, Other],
            Hex => &[Alnum, Token, Text, Other],
            Uuid => &[Token, Other],
            Email => &[Other],
            Alpha => &[Alnum, Text, Token, Other],
            Alnum => &[Text, Token, Other],
            Text => &[Other],
            Token => &[Other],
            Other => &[],
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u8)
    }
}

/// The most specific type of `v`.
pub fn value_type(v: &str) -> ValueType {
    let b = v.as_bytes();
    if b.is_empty() {
        return ValueType::Empty;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    let body = b
        .strip_prefix(b"-")
        .or_else(|| b.strip_prefix(b"+"))
        .unwrap_or(b);
    if !body.is_empty() && body.iter().all(u8::is_ascii_digit) {
        return ValueType::Integer;
    }
    if !body.is_empty()
        && body
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b'.' || *c == b',')
        && digits > 0
        && body.iter().filter(|c| **c == b'.' || **c == b',').count() == 1
    {
        return ValueType::Decimal;
    }
    if b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
    {
        return ValueType::Uuid;
    }
    if b.len() >= 8 && b.iter().all(u8::is_ascii_hexdigit) && digits > 0 && digits < b.len() {
        return ValueType::Hex;
    }
    if let Some(at) = v.find('@') {
        let (user, domain) = (&v[..at], &v[at + 1..]);
        let ok_user = !user.is_empty()
            && user
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"._%+-".contains(&c));
        let ok_domain = domain.contains('.')
            && domain
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".-".contains(&c));
        if ok_user && ok_domain {
            return ValueType::Email;
        }
    }
    if v.chars().all(char::is_alphabetic) {
        return ValueType::Alpha;
    }
    if v.chars().all(char::is_alphanumeric) {
        return ValueType::Alnum;
    }
    if b.len() >= 16
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=_-.".contains(c))
        && digits > 0
    {
        return ValueType::Token;
    }
    if v.chars()
        .all(|c| c.is_alphanumeric() || " .,-_:'!?@()/".contains(c))
    {
        return ValueType::Text;
    }
    ValueType::Other
}

/// The endpoint key of a request: method and path template, where path
/// segments that are identifiers (numbers, UUIDs, hex, long tokens) become `{}`.
pub fn endpoint_key(method: &str, path: &str) -> String {
    let mut out = String::with_capacity(method.len() + path.len() + 1);
    out.push_str(&method.to_ascii_uppercase());
    out.push(' ');
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut first = true;
    for seg in path.split('/') {
        if !first {
            out.push('/');
        }
        first = false;
        let id_like = !seg.is_empty()
            && matches!(
                value_type(seg),
                ValueType::Integer | ValueType::Uuid | ValueType::Hex | ValueType::Token
            );
        if id_like {
            out.push_str("{}");
        } else {
            out.push_str(seg);
        }
    }
    out
}

/// What a parameter normally carries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParamProfile {
    /// Values seen.
    pub seen: u64,
    /// Types seen (bit per [`ValueType`]).
    pub types: u16,
    /// Character classes seen (bit per [`CLASS_NAMES`] entry).
    pub classes: u16,
    /// Shortest value, characters.
    pub min_len: u32,
    /// Longest value, characters.
    pub max_len: u32,
    /// Mean length.
    pub mean_len: f64,
    /// Sum of squared deviations of the length (Welford).
    pub m2_len: f64,
    /// The distinct values, while they are few (sorted).
    pub values: Vec<String>,
    /// True once more than the closed-set limit of distinct values appeared.
    pub open: bool,
}

impl ParamProfile {
    fn observe(&mut self, v: &str, max_enum: usize) {
        let len = v.chars().count() as u32;
        if self.seen == 0 {
            self.min_len = len;
            self.max_len = len;
        }
        self.seen += 1;
        self.types |= value_type(v).bit();
        self.classes |= char_classes(v);
        self.min_len = self.min_len.min(len);
        self.max_len = self.max_len.max(len);
        let d = len as f64 - self.mean_len;
        self.mean_len += d / self.seen as f64;
        self.m2_len += d * (len as f64 - self.mean_len);
        if !self.open {
            if let Err(i) = self.values.binary_search_by(|x| x.as_str().cmp(v)) {
                if self.values.len() >= max_enum || v.len() > 64 {
                    self.open = true;
                    self.values.clear();
                } else {
                    self.values.insert(i, v.to_string());
                }
            }
        }
    }

    /// Standard deviation of the length.
    pub fn std_len(&self) -> f64 {
        if self.seen < 2 {
            0.0
        } else {
            (self.m2_len / (self.seen - 1) as f64).sqrt()
        }
    }

    /// Names of the types seen.
    pub fn type_names(&self) -> Vec<&'static str> {
        ValueType::ALL
            .iter()
            .filter(|t| self.types & t.bit() != 0)
            .map(|t| t.name())
            .collect()
    }

    fn conforms(&self, t: ValueType) -> bool {
        self.types & t.bit() != 0
            || t.generalizations()
                .iter()
                .any(|g| self.types & g.bit() != 0)
    }
}

/// One endpoint's profile.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointProfile {
    /// Requests seen.
    pub requests: u64,
    /// Parameters by location (`query:id`, `form:name`, `json:/a/b`…).
    pub params: BTreeMap<String, ParamProfile>,
}

/// How unusual a request's values are, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileScore {
    /// Score in `[0, 1]` (0: ordinary or unknown endpoint).
    pub score: f32,
    /// The reasons, strongest first (at most 5).
    pub reasons: Vec<String>,
}

/// The application's learned normal traffic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppProfile {
    /// Settings it was learned and is scored with.
    pub config: ProfileConfig,
    /// Requests learned from.
    pub requests: u64,
    /// Requests to endpoints beyond the endpoint limit.
    pub unprofiled: u64,
    /// Endpoints by key (see [`endpoint_key`]).
    pub endpoints: BTreeMap<String, EndpointProfile>,
}

/// Errors reading or writing a profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// I/O.
    #[error("cannot access {path}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Not a profile.
    #[error("{path} is not a profile")]
    Format {
        /// File.
        path: String,
        /// Cause.
        source: serde_json::Error,
    },
}

impl AppProfile {
    /// An empty profile.
    pub fn new(config: ProfileConfig) -> Self {
        AppProfile {
            config,
            ..Default::default()
        }
    }

    /// Learns from one normal request: its method, path and parameter values.
    pub fn observe(&mut self, method: &str, path: &str, params: &[(String, String)]) {
        self.requests += 1;
        let key = endpoint_key(method, path);
        if !self.endpoints.contains_key(&key) && self.endpoints.len() >= self.config.max_endpoints {
            self.unprofiled += 1;
            return;
        }
        let (max_params, max_enum) = (
            self.config.max_params_per_endpoint,
            self.config.max_enum_values,
        );
        let e = self.endpoints.entry(key).or_default();
        e.requests += 1;
        for (name, value) in params {
            if !e.params.contains_key(name) && e.params.len() >= max_params {
                continue;
            }
            e.params
                .entry(name.clone())
                .or_default()
                .observe(value, max_enum);
        }
    }

    /// Scores a request against the profile.
    pub fn score(&self, method: &str, path: &str, params: &[(String, String)]) -> ProfileScore {
        let Some(e) = self.endpoints.get(&endpoint_key(method, path)) else {
            return ProfileScore::default();
        };
        if e.requests < self.config.min_endpoint_requests {
            return ProfileScore::default();
        }
        let mut found: Vec<(f32, String)> = Vec::new();
        for (name, value) in params {
            match e.params.get(name) {
                None => found.push((0.5, format!("unexpected parameter {name}"))),
                Some(p) if p.seen >= self.config.min_param_samples => {
                    self.score_value(name, value, p, &mut found);
                }
                Some(_) => {}
            }
        }
        found.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let score = found.first().map(|f| f.0).unwrap_or(0.0);
        ProfileScore {
            score,
            reasons: found.into_iter().take(5).map(|f| f.1).collect(),
        }
    }

    fn score_value(&self, name: &str, v: &str, p: &ParamProfile, found: &mut Vec<(f32, String)>) {
        let mut parts: Vec<(f32, String)> = Vec::new();
        let t = value_type(v);
        if !p.conforms(t) {
            parts.push((
                0.6,
                format!(
                    "{name} is {}, normally {}",
                    t.name(),
                    p.type_names().join("/")
                ),
            ));
        }
        let new = char_classes(v) & !p.classes;
        if new != 0 {
            let names: Vec<&str> = (0..13)
                .filter(|b| new & (1 << b) != 0)
                .map(|b| CLASS_NAMES[b])
                .collect();
            let dangerous = (new & DANGEROUS).count_ones();
            let s = if dangerous > 0 {
                (0.6 + 0.1 * dangerous as f32).min(0.9)
            } else {
                0.2
            };
            parts.push((
                s,
                format!("{name} has {} never seen there", names.join(", ")),
            ));
        }
        let len = v.chars().count() as u32;
        if len > p.max_len {
            let excess = (len - p.max_len) as f32 / (p.max_len as f32 + 8.0);
            let s = 0.3 + 0.5 * (excess / 2.0).min(1.0);
            parts.push((
                s,
                format!(
                    "{name} is {len} characters long, normally {}–{}",
                    p.min_len, p.max_len
                ),
            ));
        } else if len < p.min_len && p.min_len == p.max_len {
            parts.push((
                0.3,
                format!(
                    "{name} is {len} characters long, always {} before",
                    p.min_len
                ),
            ));
        }
        if !p.open
            && !p.values.is_empty()
            && p.seen >= self.config.enum_min_samples
            && p.values.binary_search_by(|x| x.as_str().cmp(v)).is_err()
        {
            parts.push((
                0.5,
                format!("{name} is not one of its {} known values", p.values.len()),
            ));
        }
        if parts.is_empty() {
            return;
        }
        // Independent oddities reinforce each other (noisy-OR), reported separately.
        let combined = 1.0 - parts.iter().fold(1.0, |acc, (s, _)| acc * (1.0 - s));
        let mut first = true;
        parts.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (s, why) in parts {
            found.push((if first { combined } else { s }, why));
            first = false;
        }
    }

    /// Parameters profiled over all endpoints.
    pub fn param_count(&self) -> usize {
        self.endpoints.values().map(|e| e.params.len()).sum()
    }

    /// Reads a profile written by [`AppProfile::save`].
    pub fn load(path: &Path) -> Result<Self, ProfileError> {
        let text = std::fs::read(path).map_err(|source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| ProfileError::Format {
            path: path.display().to_string(),
            source,
        })
    }

    /// Writes the profile as JSON, atomically (temporary file, fsync, rename).
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        let io = |source| ProfileError::Io {
            path: path.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| ProfileError::Format {
            path: path.display().to_string(),
            source,
        })?;
        crate::fsutil::write_atomic(path, &bytes).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn types_and_templates() {
        assert_eq!(value_type("42"), ValueType::Integer);
        assert_eq!(value_type("-3.5"), ValueType::Decimal);
        assert_eq!(value_type("deadbeef01"), ValueType::Hex);
        assert_eq!(
            value_type("123e4567-e89b-12d3-a456-426614174000"),
            ValueType::Uuid
        );
        assert_eq!(value_type("ann.o'brien@example.org"), ValueType::Text);
        assert_eq!(value_type("ann.obrien@example.org"), ValueType::Email);
        assert_eq!(value_type("Zürich"), ValueType::Alpha);
        assert_eq!(value_type("red shoes, size 9"), ValueType::Text);
        assert_eq!(value_type("1' or '1'='1"), ValueType::Other);
        assert_eq!(
            endpoint_key("get", "/users/1234/orders/9f8e7d6c5b4a"),
            "GET /users/{}/orders/{}"
        );
        assert_eq!(endpoint_key("GET", "/shop/cart.jsp"), "GET /shop/cart.jsp");
    }

    #[test]
    fn learned_profile_flags_unusual_values_on_known_endpoints() {
        let mut prof = AppProfile::new(ProfileConfig::default());
        for i in 0..200 {
            let qty = (i % 9 + 1).to_string();
            let name = format!(
                "{} {}",
                ["Ann", "Bo", "Carla", "Dev"][i % 4],
                ["Smith", "Li", "Núñez", "Patel", "O'Brien"][i % 5]
            ) + &"e".repeat(i % 7);
            let sort = ["asc", "desc"][i % 2];
            prof.observe(
                "POST",
                &format!("/cart/{}", 1000 + i),
                &p(&[
                    ("form:qty", &qty),
                    ("form:name", &name),
                    ("query:sort", sort),
                ]),
            );
        }
        let ok = prof.score(
            "POST",
            "/cart/77",
            &p(&[
                ("form:qty", "3"),
                ("form:name", "Eve Adams"),
                ("query:sort", "asc"),
            ]),
        );
        assert_eq!(ok.score, 0.0, "{:?}", ok.reasons);
        let sqli = prof.score(
            "POST",
            "/cart/77",
            &p(&[
                ("form:qty", "1' OR '1'='1"),
                ("form:name", "Eve"),
                ("query:sort", "asc"),
            ]),
        );
        assert!(sqli.score >= 0.8, "{sqli:?}");
        assert!(sqli.reasons[0].contains("form:qty"), "{sqli:?}");
        let enum_miss = prof.score(
            "POST",
            "/cart/1",
            &p(&[("form:qty", "2"), ("query:sort", "sideways")]),
        );
        assert!(
            enum_miss.score >= 0.5 && enum_miss.reasons[0].contains("known values"),
            "{enum_miss:?}"
        );
        let extra = prof.score("POST", "/cart/1", &p(&[("form:debug", "1")]));
        assert_eq!(extra.score, 0.5);
        // Endpoints it never learned are not judged.
        assert_eq!(
            prof.score("GET", "/elsewhere", &p(&[("q", "<script>")]))
                .score,
            0.0
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let mut prof = AppProfile::new(ProfileConfig::default());
        prof.observe("GET", "/a", &p(&[("query:x", "1")]));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("profile.json");
        prof.save(&f).unwrap();
        assert_eq!(AppProfile::load(&f).unwrap(), prof);
        std::fs::write(&f, b"{").unwrap();
        assert!(matches!(
            AppProfile::load(&f),
            Err(ProfileError::Format { .. })
        ));
    }
}
