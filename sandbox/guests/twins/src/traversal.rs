//! The traversal twin: a file server that serves `/var/www/app/public/` +
//! the requested name, in the variants real servers got wrong: joining
//! blindly, honouring absolute paths (`os.path.join`), Windows separators,
//! a filter that strips `../` once, Tomcat's `;` path parameters, overlong
//! UTF-8 and full-width characters decoded by lenient decoders, C-string
//! truncation at NUL, and `file://`/PHP stream wrappers.
//!
//! Exploited when the resolved path leaves the public root, or names a
//! sensitive system location directly.

use crate::{Family, Outcome};

/// The public root.
pub const ROOT: &str = "/var/www/app/public";

/// System locations whose files the twin would hand out.
const SENSITIVE: &[&str] = &[
    "/etc",
    "/proc",
    "/root",
    "/home",
    "/var/log",
    "/var/lib",
    "/usr",
    "/bin",
    "/sbin",
    "/boot",
    "/dev",
    "/sys",
    "/tmp",
    "/opt",
    "/srv",
    "/var/www/app/config",
    "/var/www/app/web-inf",
    "/windows",
    "/winnt",
    "/inetpub",
    "/boot.ini",
    "/c:/windows",
    "/c:/winnt",
    "/c:/inetpub",
    "/c:/boot.ini",
    "/c:/users/administrator",
    "/c:/programdata",
    "/c:/system volume information",
];

/// Server variants: how the name is mangled before joining.
pub const VARIANTS: &[&str] = &[
    "join",
    "windows",
    "strip-dotdot-once",
    "tomcat-path-parameters",
    "lenient-unicode",
    "absolute-allowed",
    "wrappers",
];

fn lenient_unicode(v: &str) -> String {
    v.replace("\u{c0}\u{af}", "/")
        .replace("\u{c0}\u{ae}", ".")
        .replace("\u{c1}\u{9c}", "\\")
        .replace("\u{c1}\u{1c}", "/")
        .replace("\u{e0}\u{80}\u{af}", "/")
        .replace(['\u{ff0f}', '\u{2215}', '\u{2044}'], "/")
        .replace(['\u{ff3c}', '\u{2216}'], "\\")
        .replace('\u{ff0e}', ".")
}

/// Resolves `.` and `..` in an absolute path; `None` when `..` climbs above `/`.
fn normalize(path: &str) -> (String, bool) {
    let mut parts: Vec<&str> = Vec::new();
    let mut climbed_out = false;
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    climbed_out = true;
                }
            }
            s => parts.push(s),
        }
    }
    (format!("/{}", parts.join("/")), climbed_out)
}

fn sensitive(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    SENSITIVE
        .iter()
        .any(|s| p == *s || p.starts_with(&format!("{s}/")))
}

/// Resolves a name in one server variant: the path served, and whether it escaped.
fn resolve(variant: &str, name: &str) -> Option<(String, bool)> {
    // C strings end at NUL: `../../etc/passwd%00.png`.
    let name = name.split('\0').next().unwrap_or("");
    let mut n = name.to_string();
    match variant {
        "windows" => n = n.replace('\\', "/"),
        "strip-dotdot-once" => n = n.replace("../", "").replace("..\\", ""),
        "tomcat-path-parameters" => {
            n = n
                .split('/')
                .map(|seg| seg.split(';').next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("/");
        }
        "lenient-unicode" => n = lenient_unicode(&n).replace('\\', "/"),
        "absolute-allowed" => {
            let w = n.replace('\\', "/");
            let is_abs = w.starts_with('/') || (w.len() > 2 && w.as_bytes()[1] == b':');
            if is_abs {
                let lower = w.to_ascii_lowercase();
                let rooted = if lower.starts_with('/') {
                    lower
                } else {
                    format!("/{lower}")
                };
                let (p, _) = normalize(&rooted);
                return Some((p.clone(), sensitive(&p)));
            }
        }
        "wrappers" => {
            let lower = n.to_ascii_lowercase();
            for scheme in [
                "file://",
                "php://filter",
                "php://input",
                "zip://",
                "phar://",
                "expect://",
                "data://",
                "jar:file:",
            ] {
                if let Some(rest) = lower.strip_prefix(scheme) {
                    let target = rest.trim_start_matches("localhost").replace('\\', "/");
                    let target = if target.starts_with('/') {
                        target
                    } else {
                        format!("/{target}")
                    };
                    let target = target.as_str();
                    let escaped = scheme != "file://"
                        || sensitive(&normalize(target).0)
                        || target.contains("..");
                    return Some((format!("{scheme}{rest}"), escaped));
                }
            }
            return None;
        }
        _ => {}
    }
    let (p, climbed) = normalize(&format!("{ROOT}/{n}"));
    let inside = p == ROOT || p.starts_with(&format!("{ROOT}/"));
    Some((p.clone(), climbed || !inside))
}

/// Runs an (already URL-decoded) payload in every server variant.
pub fn run(payload: &str) -> Option<Outcome> {
    if payload.len() > 4096 {
        return None;
    }
    for variant in VARIANTS {
        if let Some((path, true)) = resolve(variant, payload) {
            return Some(Outcome {
                family: Family::Traversal,
                context: variant,
                evidence: format!("serves {path}"),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        for p in [
            "../../etc/passwd",
            "..\\..\\windows\\win.ini",
            "....//....//etc/hosts",
            "..;/..;/etc/passwd",
            "\u{c0}\u{ae}\u{c0}\u{ae}\u{c0}\u{af}\u{c0}\u{ae}\u{c0}\u{ae}\u{c0}\u{af}etc/passwd",
            "/etc/passwd",
            "C:\\boot.ini",
            "file:///etc/passwd",
            "php://filter/convert.base64-encode/resource=index.php",
            "../../../etc/passwd\0.png",
            "img/../../../../proc/self/environ",
        ] {
            assert!(run(p).is_some(), "{p}");
        }
    }

    #[test]
    fn ordinary_names_stay_inside() {
        for p in [
            "logo.png",
            "css/site.css",
            "a/../b.txt",
            "/products/42",
            "report 2026.pdf",
            "https://example.com/x",
            "..hidden",
            "v1.2..3",
            "",
        ] {
            assert!(run(p).is_none(), "{p}: {:?}", run(p));
        }
    }
}
