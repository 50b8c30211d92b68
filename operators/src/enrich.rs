//! Enrichment from CIDR list files: country, ASN and reputation lists.
//!
//! File format (one entry per line, `#` comments and blank lines ignored):
//!
//! * geo: `CIDR,CC` (e.g. `203.0.113.0/24,NL`)
//! * asn: `CIDR,ASN[,name]` (e.g. `198.51.100.0/22,64500,Example Transit`)
//! * reputation: `CIDR[,label]` — the list's name is given in the configuration.
//!
//! Lookups are longest-prefix matches.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use sentinel_schema::Enrichment;

/// A longest-prefix-match table from networks to values.
#[derive(Clone, Debug)]
pub struct CidrTable<T> {
    /// `(prefix length, is_v6)` → masked network → value, longest prefixes first.
    levels: Vec<((u8, bool), HashMap<u128, T>)>,
    len: usize,
}

impl<T> Default for CidrTable<T> {
    fn default() -> Self {
        CidrTable {
            levels: Vec::new(),
            len: 0,
        }
    }
}

fn key(ip: IpAddr, prefix: u8) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => {
            let v = u32::from(a);
            let masked = if prefix == 0 {
                0
            } else {
                v & (u32::MAX << (32 - u32::from(prefix)))
            };
            (u128::from(masked), false)
        }
        IpAddr::V6(a) => {
            let v = u128::from(a);
            let masked = if prefix == 0 {
                0
            } else {
                v & (u128::MAX << (128 - u32::from(prefix)))
            };
            (masked, true)
        }
    }
}

impl<T> CidrTable<T> {
    /// Adds a network (a later duplicate replaces an earlier one).
    pub fn insert(&mut self, net: IpNet, value: T) {
        let prefix = net.prefix_len();
        let (k, v6) = key(net.network(), prefix);
        let pos = self.levels.iter().position(|(l, _)| *l == (prefix, v6));
        let map = match pos {
            Some(p) => &mut self.levels[p].1,
            None => {
                self.levels.push(((prefix, v6), HashMap::new()));
                self.levels.sort_by_key(|l| std::cmp::Reverse(l.0 .0));
                let p = self
                    .levels
                    .iter()
                    .position(|(l, _)| *l == (prefix, v6))
                    .unwrap_or(0);
                &mut self.levels[p].1
            }
        };
        if map.insert(k, value).is_none() {
            self.len += 1;
        }
    }

    /// The value of the longest matching prefix.
    pub fn lookup(&self, ip: IpAddr) -> Option<&T> {
        let v6 = ip.is_ipv6();
        self.levels
            .iter()
            .filter(|((_, is6), _)| *is6 == v6)
            .find_map(|((prefix, _), map)| map.get(&key(ip, *prefix).0))
    }

    /// Number of networks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A CIDR list file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not `CIDR[,value]`.
    #[error("{path}:{line}: {why}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        why: String,
    },
}

/// Parses `CIDR[,value...]` lines, calling `add` for each.
fn read_list(
    path: &Path,
    mut add: impl FnMut(IpNet, &str) -> Result<(), String>,
) -> Result<(), EnrichError> {
    let text = std::fs::read_to_string(path).map_err(|source| EnrichError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (cidr, rest) = line.split_once(',').unwrap_or((line, ""));
        let parse_err = |why: String| EnrichError::Parse {
            path: path.to_path_buf(),
            line: i + 1,
            why,
        };
        let cidr = cidr.trim();
        let net: IpNet = cidr
            .parse()
            .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| parse_err(format!("{cidr:?} is not a CIDR network or address")))?;
        add(net, rest.trim()).map_err(parse_err)?;
    }
    Ok(())
}

/// The loaded enrichment lists.
#[derive(Clone, Debug, Default)]
pub struct EnrichmentTables {
    geo: CidrTable<String>,
    asn: CidrTable<u32>,
    reputation: Vec<(String, CidrTable<()>)>,
}

/// Where the enrichment lists are.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentConfig {
    /// `CIDR,CC` file.
    #[serde(default)]
    pub geo: Option<PathBuf>,
    /// `CIDR,ASN[,name]` file.
    #[serde(default)]
    pub asn: Option<PathBuf>,
    /// Reputation lists: name → `CIDR[,label]` file.
    #[serde(default)]
    pub reputation: std::collections::BTreeMap<String, PathBuf>,
}

impl EnrichmentTables {
    /// Loads the configured lists.
    pub fn load(config: &EnrichmentConfig) -> Result<Self, EnrichError> {
        let mut t = EnrichmentTables::default();
        if let Some(p) = &config.geo {
            read_list(p, |net, v| {
                let cc = v.split(',').next().unwrap_or("").trim();
                if cc.is_empty() || cc.len() > 8 {
                    return Err(format!("country code {cc:?} is not valid"));
                }
                t.geo.insert(net, cc.to_ascii_uppercase());
                Ok(())
            })?;
        }
        if let Some(p) = &config.asn {
            read_list(p, |net, v| {
                let n = v
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_start_matches("AS");
                let asn = n
                    .parse::<u32>()
                    .map_err(|_| format!("ASN {n:?} is not a number"))?;
                t.asn.insert(net, asn);
                Ok(())
            })?;
        }
        for (name, p) in &config.reputation {
            let mut table = CidrTable::default();
            read_list(p, |net, _| {
                table.insert(net, ());
                Ok(())
            })?;
            t.reputation.push((name.clone(), table));
        }
        Ok(t)
    }

    /// True when no list is loaded.
    pub fn is_empty(&self) -> bool {
        self.geo.is_empty() && self.asn.is_empty() && self.reputation.is_empty()
    }

    /// What the lists say about an address (`None` when nothing).
    pub fn lookup(&self, ip: IpAddr) -> Option<Enrichment> {
        let e = Enrichment {
            country: self.geo.lookup(ip).cloned(),
            asn: self.asn.lookup(ip).copied(),
            reputation: self
                .reputation
                .iter()
                .filter(|(_, t)| t.lookup(ip).is_some())
                .map(|(n, _)| n.clone())
                .collect(),
        };
        (e.country.is_some() || e.asn.is_some() || !e.reputation.is_empty()).then_some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        let mut t = CidrTable::default();
        t.insert("10.0.0.0/8".parse().unwrap(), "wide");
        t.insert("10.1.0.0/16".parse().unwrap(), "narrow");
        t.insert("2001:db8::/32".parse().unwrap(), "v6");
        assert_eq!(t.lookup("10.1.2.3".parse().unwrap()), Some(&"narrow"));
        assert_eq!(t.lookup("10.2.2.3".parse().unwrap()), Some(&"wide"));
        assert_eq!(t.lookup("2001:db8::1".parse().unwrap()), Some(&"v6"));
        assert_eq!(t.lookup("192.0.2.1".parse().unwrap()), None);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn loads_lists_and_reports_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let geo = dir.path().join("geo.csv");
        let asn = dir.path().join("asn.csv");
        let tor = dir.path().join("tor.txt");
        std::fs::write(&geo, "# comment\n203.0.113.0/24,nl\n").unwrap();
        std::fs::write(&asn, "203.0.113.0/24,AS64500,Example\n").unwrap();
        std::fs::write(&tor, "203.0.113.7\n").unwrap();
        let mut cfg = EnrichmentConfig {
            geo: Some(geo),
            asn: Some(asn.clone()),
            ..Default::default()
        };
        cfg.reputation.insert("tor-exit".into(), tor);
        let t = EnrichmentTables::load(&cfg).unwrap();
        let e = t.lookup("203.0.113.7".parse().unwrap()).unwrap();
        assert_eq!(e.country.as_deref(), Some("NL"));
        assert_eq!(e.asn, Some(64500));
        assert_eq!(e.reputation, vec!["tor-exit"]);
        assert!(t
            .lookup("203.0.113.8".parse().unwrap())
            .unwrap()
            .reputation
            .is_empty());
        std::fs::write(&asn, "not-a-network,1\n").unwrap();
        let err = EnrichmentTables::load(&cfg).unwrap_err().to_string();
        assert!(err.contains(":1:"), "{err}");
    }
}
