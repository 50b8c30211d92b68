//! A real S3-compatible server (moto) for tests.
#![allow(dead_code)]

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `moto_server`, killed on drop.
pub struct S3Server {
    child: Child,
    /// Port it listens on.
    pub port: u16,
}

impl S3Server {
    /// Starts `moto_server` on a free loopback port. `./scripts/test.sh`
    /// installs it (`pip install 'moto[server]'`); a test never silently skips.
    pub fn start() -> S3Server {
        let port = super::kafka::free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "moto_server is not installed: run ./scripts/test.sh (pip install 'moto[server]')",
            );
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        S3Server { child, port }
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket.
    pub fn create_bucket(&self, name: &str) {
        let status = Command::new("curl")
            .args(["-sf", "-X", "PUT", &format!("{}/{name}", self.endpoint())])
            .stdout(Stdio::null())
            .status()
            .expect("curl");
        assert!(status.success(), "cannot create bucket {name}");
    }

    /// The `[evidence_store.s3]` TOML for this server.
    pub fn toml(&self) -> String {
        format!(
            "[evidence_store.s3]\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\nallow_http = true\n",
            self.endpoint()
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
