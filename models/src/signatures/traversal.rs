//! Path traversal and file inclusion signatures.

use std::sync::LazyLock;

use regex::Regex;
use sentinel_schema::ThreatClass::PathTraversal;

use super::{SigInput, Signature};
use crate::lex::Lex;
use crate::lexicon::Group;

fn traversal(l: &Lex) -> bool {
    l.group(Group::Traversal) > 0
}

/// The "path skeleton" of a value: what a broken decoder could make of it.
///
/// Traversal fuzzers (dotdotpwn and friends) wrap `../etc/passwd` in every
/// encoding some server once mis-decoded: invalid escapes (`%c0%qf`,
/// `%c1%pc`), textual hex (`0x2e0x2e0x2f`), Unicode slashes (`∕`, `∖`),
/// control bytes between dots. The skeleton keeps letters, digits, `.`, `-`
/// and `_`, turns textual hex dots and slashes back into `.` and `/`, and
/// turns everything else — any left-over `%XX` or `%uXXXX`, any other
/// character — into a `/` (runs collapsed).
pub fn path_skeleton(text: &[u8]) -> String {
    let b = text;
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    let push_sep = |out: &mut String| {
        if !out.ends_with('/') {
            out.push('/');
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'0' && b.get(i + 1) == Some(&b'x') && i + 3 < b.len() {
            match &b[i + 2..i + 4] {
                b"2e" => {
                    out.push('.');
                    i += 4;
                    continue;
                }
                b"2f" | b"5c" => {
                    push_sep(&mut out);
                    i += 4;
                    continue;
                }
                _ => {}
            }
        }
        if c == b'%' {
            // Encoded control bytes (`%00`, `%01`) vanish, like the decoded ones.
            if i + 2 < b.len()
                && b[i + 1] <= b'1'
                && b[i + 1] >= b'0'
                && b[i + 2].is_ascii_hexdigit()
            {
                i += 3;
                continue;
            }
            let unicode = matches!(b.get(i + 1), Some(b'u'))
                && i + 5 < b.len()
                && b[i + 2..i + 6].iter().all(u8::is_ascii_alphanumeric);
            let short = i + 2 < b.len() && b[i + 1..i + 3].iter().all(u8::is_ascii_alphanumeric);
            if unicode || short {
                push_sep(&mut out);
                i += if unicode { 6 } else { 3 };
                continue;
            }
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_') {
            out.push(c.to_ascii_lowercase() as char);
        } else if c < 0x20 {
            // Control characters vanish.
        } else if !(0x80..0xC0).contains(&c) {
            // ASCII punctuation, controls, or the start of a non-ASCII character.
            push_sep(&mut out);
        }
        i += 1;
    }
    out
}

static SKELETON_TARGET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|/)(?:etc/(?:passwd|shadow|group|hosts|issue|motd)|boot\.ini|win\.ini|system\.ini|desktop\.ini|windows/system32|winnt/|proc/self/environ|web-inf/web\.xml|global\.asa|\.htpasswd|id_rsa)")
        .unwrap_or_else(|e| panic!("{e}"))
});

static SKELETON_DOTDOT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|/)\.{2,}/").unwrap_or_else(|e| panic!("{e}")));

/// A sensitive file reached through parent steps or encoding noise, seen in
/// the skeleton of the normalized or of the raw value.
fn skeleton_target(input: &SigInput<'_>) -> bool {
    input.skeletons().iter().any(|sk| {
        SKELETON_TARGET.find_iter(sk).any(|m| {
            // Parent steps, a root or noise must lead to the target.
            let before = &sk[..m.start()];
            SKELETON_DOTDOT.is_match(before)
                || before.len() >= 2
                || sk[m.start()..].starts_with('/')
        })
    })
}

/// Several parent steps in the skeleton (`.%00.%c0/.%00.%c0/`).
fn skeleton_dotdots(input: &SigInput<'_>) -> bool {
    input
        .skeletons()
        .iter()
        .any(|sk| SKELETON_DOTDOT.find_iter(sk).count() >= 2)
}

/// The path traversal signatures.
pub fn signatures() -> Vec<Signature> {
    vec![
        Signature::func(
            "path.dotdot_chain",
            PathTraversal,
            0.93,
            "two or more parent-directory steps (../../, ..\\..\\, ....//)",
            |l| l.group(Group::Traversal) >= 2,
            |_| true,
        ),
        Signature::rx(
            "path.dotdot_sensitive",
            PathTraversal,
            0.97,
            "a parent-directory step towards a sensitive file (../etc/passwd, ..\\win.ini)",
            |l| traversal(l) && l.group(Group::SensitiveFile) > 0,
            r"\.\.[/\\].*?(?:etc[/\\](?:passwd|shadow|group|hosts|issue|motd|sudoers|crontab)|proc[/\\]self|win(?:dows|nt)?[/\\]|(?:win|boot|system)\.ini|web-inf|meta-inf|\.htpasswd|\.htaccess|\.git[/\\]|\.ssh[/\\]|id_rsa|\.env\b|wp-config|php\.ini|my\.cnf|httpd\.conf|var[/\\](?:log|www)|inetpub|system32)",
        ),
        Signature::rx(
            "path.dotdot_single",
            PathTraversal,
            0.55,
            "one parent-directory step at a path boundary",
            traversal,
            r"(?:^|[/\\=:])\.\.[/\\;]",
        ),
        Signature::rx(
            "path.absolute_sensitive",
            PathTraversal,
            0.88,
            "an absolute path or drive path to a sensitive file (/etc/passwd, c:\\windows\\win.ini, /proc/self/environ)",
            |l| l.group(Group::SensitiveFile) > 0,
            r"(?:^|[\s=:;|&'\x22(]|file:/+)(?:/|[a-z]:[/\\])(?:[a-z0-9_.-]+[/\\])*?(?:etc[/\\](?:passwd|shadow|group|hosts|issue|sudoers|crontab)|proc[/\\](?:self|version|cpuinfo|\d+)[/\\]?|windows[/\\](?:win\.ini|system32|system\.ini|repair)|winnt[/\\]|boot\.ini|inetpub[/\\]|var[/\\]log[/\\])",
        ),
        Signature::rx(
            "path.sensitive_relative",
            PathTraversal,
            0.7,
            "a well-known sensitive file requested by relative path (WEB-INF/web.xml, .git/config, .env)",
            |l| l.group(Group::SensitiveFile) > 0,
            r"(?:^|[/\\])(?:web-inf[/\\](?:web|struts|applicationcontext)[a-z-]*\.xml|meta-inf[/\\]|\.git[/\\](?:config|head|index)|\.svn[/\\]entries|\.htpasswd|\.htaccess|\.env$|\.ssh[/\\](?:id_rsa|authorized_keys)|\.bash_history|wp-config\.php|etc[/\\](?:passwd|shadow))",
        ),
        Signature::rx(
            "path.stream_wrapper",
            PathTraversal,
            0.9,
            "a file or stream wrapper used for inclusion (php://filter, file:///, zip://, phar://, expect://)",
            |l| l.group(Group::Wrapper) > 0,
            r"\bphp://(?:filter|input|fd|memory|temp|stdin)|\bfile:/{1,3}[a-z/\\]|\b(?:zip|phar|expect|glob|jar|netdoc)://|\bdata://text/|\bgopher://|\bdict://",
        ),
        Signature::func(
            "path.skeleton_target",
            PathTraversal,
            0.9,
            "a sensitive file reached through encoding noise (..%c0%qf..%c0%qfetc%c0%qfpasswd, 0x2e0x2e0x2fboot.ini)",
            |l| l.group(Group::FileName) > 0,
            skeleton_target,
        ),
        Signature::func(
            "path.skeleton_dotdots",
            PathTraversal,
            0.8,
            "repeated parent steps hidden in encoding noise (.%00.%c0/.%00.%c0/)",
            |l| l.specials >= 4 && (l.percents > 0 || l.letters + l.digits < l.specials * 4),
            skeleton_dotdots,
        ),
        Signature::rx(
            "path.null_byte_extension",
            PathTraversal,
            0.6,
            "a file name followed by an encoded null byte and an extension (file.php%00.jpg)",
            |l| l.percents > 0,
            r"\.[a-z0-9]{1,5}%00\.?[a-z0-9]*",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_class, assert_clean};
    use sentinel_schema::ThreatClass::PathTraversal;

    #[test]
    fn attacks_match() {
        for p in [
            "../../../etc/passwd",
            "..%2f..%2f..%2fetc%2fpasswd",
            "%252e%252e%252fetc%252fpasswd",
            "..\\..\\windows\\win.ini",
            "....//....//etc/passwd",
            "/etc/passwd",
            "file:///etc/passwd",
            "php://filter/convert.base64-encode/resource=index.php",
            "..%c0%af..%c0%afetc/passwd",
            "/proc/self/environ",
            "WEB-INF/web.xml",
            "c:\\windows\\win.ini",
            "..;/manager/html",
            "..%01%c1%pc..%01%c1%pcetc%c1%pcpasswd",
            "0x2e0x2e%c1%afetc%c1%afpasswd",
            "%f8%80%80%80%ae%f8%80%80%80%ae%c1%8setc%c1%8spasswd",
            ".%00.%c0%9v.%00.%c0%9vetc%c0%9vpasswd",
            ".?%u2215.?%u2215windows%u2215system32%u2215drivers%u2215etc%u2215hosts",
        ] {
            assert_class(p, PathTraversal);
        }
    }

    #[test]
    fn skeleton() {
        assert_eq!(
            super::path_skeleton(b"..%01%c1%pcetc%c1%pcpasswd"),
            "../etc/passwd"
        );
        assert_eq!(super::path_skeleton(b"0x2e0x2e0x2fboot.ini"), "../boot.ini");
        assert_eq!(super::path_skeleton(b".%00.%c0%9vetc"), "../etc");
    }

    #[test]
    fn hard_negatives_stay_clean() {
        for p in [
            "/tienda1/publico/anadir.jsp",
            "Wait... what?",
            "version 1.2..3",
            "https://example.com/a/b/c",
            "etc. and so on",
            "passwords must be long",
            "images/logo.png",
            "passwd",
            "the issue with hosts",
        ] {
            assert_clean(p);
        }
    }
}
