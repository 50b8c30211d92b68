//! A real nginx with ModSecurity (Debian's `nginx` and
//! `libnginx-mod-http-modsecurity`) on a loopback port, for tests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The ModSecurity connector module of Debian's package.
pub const MODSEC_MODULE: &str = "/usr/lib/nginx/modules/ngx_http_modsecurity_module.so";

/// A running nginx whose ModSecurity loads `rules.conf`; stopped on drop.
pub struct Nginx {
    /// Its private directory (config, pid, logs, doc root, rules file).
    pub dir: tempfile::TempDir,
    /// The loopback port it listens on.
    pub port: u16,
}

fn nginx_bin() -> &'static str {
    for p in ["/usr/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!(
        "nginx is not installed: run ./scripts/test.sh (apt-get install nginx libnginx-mod-http-modsecurity)"
    );
}

impl Nginx {
    /// Writes the configuration (empty rules file) and starts nginx.
    pub fn start() -> Nginx {
        assert!(
            Path::new(MODSEC_MODULE).exists(),
            "{MODSEC_MODULE} is missing: run ./scripts/test.sh (apt-get install libnginx-mod-http-modsecurity)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        // Worker processes run as an unprivileged user when nginx starts as root.
        std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        std::fs::create_dir_all(d.join("www")).expect("mkdir");
        std::fs::write(d.join("www/index.html"), "ok\n").expect("write");
        std::fs::write(d.join("rules.conf"), "").expect("write");
        std::fs::write(
            d.join("modsec.conf"),
            format!(
                "SecRuleEngine On\nSecRequestBodyAccess On\nSecAuditEngine Off\nInclude {}\n",
                d.join("rules.conf").display()
            ),
        )
        .expect("write");
        let port = super::kafka::free_port();
        let conf = format!(
            r#"load_module {MODSEC_MODULE};
pid {d}/nginx.pid;
error_log {d}/error.log notice;
events {{ worker_connections 64; }}
worker_processes 1;
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    modsecurity on;
    modsecurity_rules_file {d}/modsec.conf;
    location / {{ root {d}/www; try_files $uri /index.html; }}
  }}
}}
"#,
            d = d.display()
        );
        std::fs::write(d.join("nginx.conf"), conf).expect("write");
        let n = Nginx { dir, port };
        let out = Command::new(nginx_bin())
            .args(["-c", n.conf().to_str().expect("utf-8")])
            .output()
            .expect("run nginx");
        assert!(
            out.status.success(),
            "nginx did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    /// The nginx configuration file.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// The ModSecurity rules file the gatekeeper maintains.
    pub fn rules_file(&self) -> PathBuf {
        self.dir.path().join("rules.conf")
    }

    /// The validation command for the gatekeeper.
    pub fn validate_cmd(&self) -> String {
        format!("{} -t -q -c {}", nginx_bin(), self.conf().display())
    }

    /// The reload command for the gatekeeper.
    pub fn reload_cmd(&self) -> String {
        format!("{} -s reload -c {}", nginx_bin(), self.conf().display())
    }

    /// Validates an arbitrary ModSecurity rules file with `nginx -t` (it is
    /// swapped in for the real one and back). Returns nginx's output.
    pub fn test_rules(&self, rules: &str) -> (bool, String) {
        let keep = std::fs::read_to_string(self.rules_file()).unwrap_or_default();
        std::fs::write(self.rules_file(), rules).expect("write");
        let out = Command::new(nginx_bin())
            .args(["-t", "-c", self.conf().to_str().expect("utf-8")])
            .output()
            .expect("run nginx -t");
        std::fs::write(self.rules_file(), keep).expect("write");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The last lines of nginx's error log (ModSecurity logs its denials there).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(12)..].join("\n")
    }

    /// The status of `GET path_and_query`. Retries briefly while a reload
    /// replaces the workers.
    pub fn get(&self, path_and_query: &str) -> u16 {
        let mut last = String::new();
        for _ in 0..50 {
            match self.try_get(path_and_query) {
                Ok(s) => return s,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("GET {path_and_query}: {last}");
    }

    fn try_get(&self, path_and_query: &str) -> Result<u16, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok();
        write!(
            s,
            "GET {path_and_query} HTTP/1.1\r\nHost: shop.example\r\nUser-Agent: test\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        let head = String::from_utf8_lossy(&buf);
        head.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("no status line in {head:?}"))
    }

    /// Waits until the workers run the newest configuration: a reload is
    /// asynchronous, and an old worker keeps accepting until it has seen
    /// its signal (on a loaded machine, after a new one already answers),
    /// so until `probe` answers `status` 20 times in a row and the master
    /// has one worker left (the old ones exit once they stop accepting).
    pub fn wait_for(&self, probe: &str, status: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut streak = 0;
        while streak < 20 {
            if self.get(probe) == status {
                streak += 1;
            } else {
                streak = 0;
                std::thread::sleep(Duration::from_millis(50));
            }
            assert!(
                Instant::now() < deadline,
                "{probe} never settled on {status}"
            );
        }
        while self.workers() != 1 {
            assert!(
                Instant::now() < deadline,
                "nginx's old workers did not exit after the reload ({} workers)",
                self.workers()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// How many child processes the master has (`worker_processes 1` and
    /// no cache: its workers, old and new).
    fn workers(&self) -> usize {
        let Some(master) = std::fs::read_to_string(self.dir.path().join("nginx.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        else {
            return 0;
        };
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return 0;
        };
        procs
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|stat| {
                // `pid (comm) state ppid …`: the fields after the command's
                // closing parenthesis.
                stat.rsplit_once(") ")
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                    .and_then(|ppid| ppid.parse::<u32>().ok())
                    == Some(master)
            })
            .count()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new(nginx_bin())
            .args(["-s", "stop", "-c", self.conf().to_str().unwrap_or("")])
            .output();
    }
}
