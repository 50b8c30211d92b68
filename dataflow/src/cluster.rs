//! Timely cluster mode: several processes (on one or many machines), each
//! with its worker threads, form one dataflow. Process `i` of `n` listens on
//! the `i`-th address of the host file; records are exchanged between
//! processes exactly as between threads (serialized). Membership is fixed:
//! when a process fails the others stop (fail-stop), and a restart resumes
//! from committed Kafka offsets.

use std::path::Path;

use anyhow::{bail, Context};

/// The processes of a cluster and which one this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterConfig {
    /// This process's index, `0..addresses.len()`.
    pub process: usize,
    /// `host:port` of every process, in order.
    pub addresses: Vec<String>,
}

impl ClusterConfig {
    /// Reads a host file (one `host:port` per line; `#` comments and blank
    /// lines ignored) and checks that it names `processes` processes and
    /// that `process` is one of them.
    pub fn from_hostfile(path: &Path, processes: usize, process: usize) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the host file {}", path.display()))?;
        let addresses: Vec<String> = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        Self::new(addresses, processes, process)
            .with_context(|| format!("host file {}", path.display()))
    }

    /// Checks and builds a configuration.
    pub fn new(addresses: Vec<String>, processes: usize, process: usize) -> anyhow::Result<Self> {
        if processes == 0 {
            bail!("--processes must be at least 1");
        }
        if addresses.len() < processes {
            bail!(
                "{processes} processes need {processes} addresses, the host file has {}",
                addresses.len()
            );
        }
        if process >= processes {
            bail!("--process {process} is not below --processes {processes}");
        }
        for a in &addresses {
            if !a.contains(':') {
                bail!("{a:?} is not host:port");
            }
        }
        Ok(ClusterConfig {
            process,
            addresses: addresses.into_iter().take(processes).collect(),
        })
    }
}

/// The timely configuration for `workers` threads in this process, alone or
/// as part of `cluster`.
pub fn timely_config(workers: usize, cluster: Option<&ClusterConfig>) -> timely::Config {
    match cluster {
        Some(c) if c.addresses.len() > 1 => timely::Config {
            communication: timely::CommunicationConfig::Cluster {
                threads: workers,
                process: c.process,
                addresses: c.addresses.clone(),
                report: false,
                zerocopy: false,
            },
            worker: timely::WorkerConfig::default(),
        },
        _ => timely::Config::process(workers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_files() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        std::fs::write(&p, "# cluster\n127.0.0.1:2101\n\n127.0.0.1:2102 # second\n").unwrap();
        let c = ClusterConfig::from_hostfile(&p, 2, 1).unwrap();
        assert_eq!(c.addresses, ["127.0.0.1:2101", "127.0.0.1:2102"]);
        assert!(ClusterConfig::from_hostfile(&p, 3, 0).is_err());
        assert!(ClusterConfig::from_hostfile(&p, 2, 2).is_err());
        assert!(ClusterConfig::new(vec!["nohost".into()], 1, 0).is_err());
        assert!(matches!(
            timely_config(2, Some(&c)).communication,
            timely::CommunicationConfig::Cluster {
                threads: 2,
                process: 1,
                ..
            }
        ));
        assert!(matches!(
            timely_config(3, None).communication,
            timely::CommunicationConfig::Process(3)
        ));
    }

    proptest::proptest! {
        #[test]
        fn host_files_never_panic(text in "\\PC{0,200}", n in 0usize..4, i in 0usize..4) {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("hosts");
            std::fs::write(&p, &text).unwrap();
            if let Ok(c) = ClusterConfig::from_hostfile(&p, n, i) {
                proptest::prop_assert!(c.process < c.addresses.len());
                proptest::prop_assert_eq!(c.addresses.len(), n);
            }
        }
    }
}
