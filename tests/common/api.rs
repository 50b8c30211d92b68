//! A running `sentinel serve` for black-box tests (requests made with curl).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The tokens of the test configuration, one per role.
pub const TOKENS: &[(&str, &str)] = &[
    ("viewer", "tok-viewer-7f3a"),
    ("analyst", "tok-analyst-19be"),
    ("operator", "tok-operator-c04d"),
    ("admin", "tok-admin-55e1"),
];

/// TLS material for the client side of a request.
#[derive(Clone, Debug, Default)]
pub struct ClientTls {
    /// CA that signed the server certificate.
    pub ca: Option<PathBuf>,
    /// Client certificate and key (mTLS).
    pub cert: Option<(PathBuf, PathBuf)>,
}

/// A server process, killed on drop.
pub struct Server {
    child: Child,
    /// Base URL.
    pub base: String,
    /// TLS settings for requests.
    pub tls: ClientTls,
    /// The configuration file.
    pub config: PathBuf,
}

fn sha256_hex(s: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["serve", "--hash-token", s])
        .output()
        .expect("hash token");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes a configuration with the four role tokens and `extra` TOML.
pub fn write_config(dir: &Path, data_dir: &Path, port: u16, extra: &str) -> PathBuf {
    let mut toml = format!(
        "data_dir = {:?}\n[api]\nlisten = \"127.0.0.1:{port}\"\nmax_body_bytes = 65536\n{extra}\n",
        data_dir.display().to_string()
    );
    for (role, token) in TOKENS {
        toml.push_str(&format!(
            "[[api.tokens]]\nname = \"{role}-user\"\nrole = \"{role}\"\nsha256 = \"{}\"\n",
            sha256_hex(token)
        ));
    }
    let path = dir.join("sentinel.toml");
    std::fs::write(&path, toml).expect("write config");
    path
}

impl Server {
    /// Starts `sentinel serve -c config` and waits for `/healthz`.
    pub fn start(config: &Path, port: u16, tls: ClientTls) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
            .args(["serve", "-c", config.to_str().expect("utf-8")])
            .current_dir(super::root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sentinel serve");
        let scheme = if tls.ca.is_some() { "https" } else { "http" };
        let s = Server {
            child,
            base: format!("{scheme}://127.0.0.1:{port}"),
            tls,
            config: config.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if s.request("GET", "/healthz", None, None).0 == 200 {
                return s;
            }
            assert!(Instant::now() < deadline, "sentinel serve did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Sends a request; returns (status, body). Status 0: no HTTP response
    /// (connection or TLS failure), with curl's exit code in the body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, String) {
        self.request_with(method, path, token, body, &self.tls)
    }

    /// [`Server::request`] with explicit client TLS settings.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        tls: &ClientTls,
    ) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args([
            "-s",
            "-S",
            "-X",
            method,
            "--max-time",
            "60",
            "-w",
            "\n%{http_code}",
        ]);
        if let Some(t) = token {
            c.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        if let Some(b) = body {
            c.args(["-H", "Content-Type: application/json", "--data-binary", b]);
        }
        if let Some(ca) = &tls.ca {
            c.args(["--cacert", ca.to_str().expect("utf-8")]);
        }
        if let Some((cert, key)) = &tls.cert {
            c.args(["--cert", cert.to_str().expect("utf-8")]);
            c.args(["--key", key.to_str().expect("utf-8")]);
        }
        c.arg(format!("{}{path}", self.base));
        let out = c.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            return (
                0,
                format!(
                    "curl exit {:?}: {}",
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ),
            );
        }
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// A request that must succeed with 2xx; returns the JSON body.
    pub fn json(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> serde_json::Value {
        let (status, text) = self.request(method, path, Some(token), body);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token of a role.
pub fn token(role: &str) -> &'static str {
    TOKENS
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, t)| *t)
        .expect("role")
}
