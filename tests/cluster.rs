//! Timely cluster mode: two processes on loopback produce exactly the
//! outputs of one process (replay), byte for byte.

mod common;

use std::process::{Command, Stdio};

use common::kafka::free_port;

#[test]
fn two_processes_replay_byte_identical_to_one() {
    common::models_ready();
    let dir = tempfile::tempdir().unwrap();
    let inputs = ["examples/sample.jsonl", "examples/formats/access.log"];
    let single = common::replay(&inputs, 2, &[]);
    let hosts = dir.path().join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", free_port(), free_port()),
    )
    .unwrap();
    let children: Vec<_> = (0..2)
        .map(|i| {
            let out = dir.path().join(format!("out{i}"));
            Command::new(env!("CARGO_BIN_EXE_sentinel"))
                .current_dir(common::root())
                .env("SENTINEL_DATA_DIR", common::data_dir())
                .args(["replay", "--quiet", "--workers", "2", "--processes", "2"])
                .args([
                    "--process",
                    &i.to_string(),
                    "--hostfile",
                    hosts.to_str().unwrap(),
                ])
                .args(["--out", out.to_str().unwrap()])
                .args(inputs)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start a cluster process")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for f in [
        "verdicts.jsonl",
        "rules.jsonl",
        "rules.conf",
        "evidence_ready.jsonl",
        "dead_letters.jsonl",
        "sim_results.jsonl",
    ] {
        let a = std::fs::read(single.path().join(f)).unwrap();
        let b = std::fs::read(dir.path().join("out0").join(f)).unwrap();
        assert!(!a.is_empty(), "{f} is empty");
        assert!(a == b, "{f} differs between 1 and 2 processes");
    }
}
