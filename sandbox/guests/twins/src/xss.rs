//! The XSS twin: a page that reflects the payload into HTML, tokenized as
//! a browser would (WHATWG tokenizer with script/raw-text state switching).
//! Exploited when script can run: a `<script>` element, an event-handler
//! attribute, a `javascript:`/`vbscript:`/`data:text/html` URL in a URL
//! attribute, an `iframe srcdoc`, a `meta refresh` to script, or a script
//! string the payload breaks out of.

use html5gum::{DefaultEmitter, Token, Tokenizer};

use crate::{Family, Outcome};

/// Markup after the reflection point, as real pages have (quotes and tags
/// that an injected, still-open attribute or tag runs into).
const TAIL: &str = "<p class=\"note\" title='tip'>ok</p><a href=\"/next\">next</a></body></html>";

/// A script-string context: the quote and the code after the string.
pub type ScriptString = (char, &'static str);

/// Reflection contexts (`{}` is the payload): name, page, and for script
/// strings the quote and the code that follows the string in the template.
pub const CONTEXTS: &[(&str, &str, Option<ScriptString>)] = &[
    ("body", "<html><body><div>{}</div>{TAIL}", None),
    (
        "attribute-double-quoted",
        "<html><body><input value=\"{}\">{TAIL}",
        None,
    ),
    (
        "attribute-single-quoted",
        "<html><body><input value='{}'>{TAIL}",
        None,
    ),
    (
        "attribute-unquoted",
        "<html><body><input value={}>{TAIL}",
        None,
    ),
    ("url", "<html><body><a href=\"{}\">link</a>{TAIL}", None),
    (
        "textarea",
        "<html><body><textarea>{}</textarea>{TAIL}",
        None,
    ),
    (
        "title",
        "<html><head><title>{}</title></head><body>{TAIL}",
        None,
    ),
    (
        "style",
        "<html><head><style>body { color: {} }</style></head><body>{TAIL}",
        None,
    ),
    ("comment", "<html><body><!-- {} -->{TAIL}", None),
    (
        "script-string-double",
        "<html><body><script>var q = \"{}\";</script>{TAIL}",
        Some(('"', ";")),
    ),
    (
        "script-string-single",
        "<html><body><script>var q = '{}';</script>{TAIL}",
        Some(('\'', ";")),
    ),
    (
        "script-call-double",
        "<html><body><script>track(\"{}\");</script>{TAIL}",
        Some(('"', ");")),
    ),
    (
        "script-call-single",
        "<html><body><script>track('{}');</script>{TAIL}",
        Some(('\'', ");")),
    ),
];

/// DOM event-handler attributes browsers honour.
const EVENT_HANDLERS: &[&str] = &[
    "onabort",
    "onactivate",
    "onafterprint",
    "onafterscriptexecute",
    "onanimationcancel",
    "onanimationend",
    "onanimationiteration",
    "onanimationstart",
    "onauxclick",
    "onbeforeactivate",
    "onbeforecopy",
    "onbeforecut",
    "onbeforedeactivate",
    "onbeforeinput",
    "onbeforepaste",
    "onbeforeprint",
    "onbeforescriptexecute",
    "onbeforetoggle",
    "onbeforeunload",
    "onbegin",
    "onblur",
    "onbounce",
    "oncancel",
    "oncanplay",
    "oncanplaythrough",
    "onchange",
    "onclick",
    "onclose",
    "oncontentvisibilityautostatechange",
    "oncontextlost",
    "oncontextmenu",
    "oncontextrestored",
    "oncopy",
    "oncuechange",
    "oncut",
    "ondblclick",
    "ondeactivate",
    "ondrag",
    "ondragend",
    "ondragenter",
    "ondragexit",
    "ondragleave",
    "ondragover",
    "ondragstart",
    "ondrop",
    "ondurationchange",
    "onemptied",
    "onend",
    "onended",
    "onerror",
    "onfinish",
    "onfocus",
    "onfocusin",
    "onfocusout",
    "onformdata",
    "onfullscreenchange",
    "onhashchange",
    "oninput",
    "oninvalid",
    "onkeydown",
    "onkeypress",
    "onkeyup",
    "onload",
    "onloadeddata",
    "onloadedmetadata",
    "onloadend",
    "onloadstart",
    "onmessage",
    "onmousedown",
    "onmouseenter",
    "onmouseleave",
    "onmousemove",
    "onmouseout",
    "onmouseover",
    "onmouseup",
    "onmousewheel",
    "onmozfullscreenchange",
    "onpagehide",
    "onpageshow",
    "onpaste",
    "onpause",
    "onplay",
    "onplaying",
    "onpointercancel",
    "onpointerdown",
    "onpointerenter",
    "onpointerleave",
    "onpointermove",
    "onpointerout",
    "onpointerover",
    "onpointerrawupdate",
    "onpointerup",
    "onpopstate",
    "onprogress",
    "onratechange",
    "onrepeat",
    "onreset",
    "onresize",
    "onscroll",
    "onscrollend",
    "onsearch",
    "onsecuritypolicyviolation",
    "onseeked",
    "onseeking",
    "onselect",
    "onselectionchange",
    "onselectstart",
    "onshow",
    "onslotchange",
    "onstalled",
    "onstart",
    "onstorage",
    "onsubmit",
    "onsuspend",
    "ontimeupdate",
    "ontoggle",
    "ontouchcancel",
    "ontouchend",
    "ontouchmove",
    "ontouchstart",
    "ontransitioncancel",
    "ontransitionend",
    "ontransitionrun",
    "ontransitionstart",
    "onunhandledrejection",
    "onunload",
    "onvolumechange",
    "onwaiting",
    "onwebkitanimationend",
    "onwebkitanimationiteration",
    "onwebkitanimationstart",
    "onwebkittransitionend",
    "onwheel",
];

const URL_ATTRIBUTES: &[&[u8]] = &[
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"data",
    b"xlink:href",
    b"background",
    b"poster",
    b"lowsrc",
    b"dynsrc",
    b"code",
    b"codebase",
];

/// Decodes HTML character references as a lenient application would:
/// the basic named ones, and decimal or hex ones with or without `;`.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match entity(after) {
            Some((c, used)) => {
                out.push(c);
                rest = &after[used..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One reference after `&`: the character and the bytes consumed.
fn entity(after: &str) -> Option<(char, usize)> {
    if let Some(num) = after.strip_prefix('#') {
        let (hex, digits) = match num.strip_prefix(['x', 'X']) {
            Some(h) => (true, h),
            None => (false, num),
        };
        let len = digits
            .bytes()
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if len == 0 || len > 10 {
            return None;
        }
        let v = u32::from_str_radix(&digits[..len], if hex { 16 } else { 10 }).ok()?;
        let c = char::from_u32(v)?;
        let mut used = 1 + usize::from(hex) + len;
        if after[used..].starts_with(';') {
            used += 1;
        }
        return Some((c, used));
    }
    for (name, c) in [
        ("lt", '<'),
        ("gt", '>'),
        ("quot", '"'),
        ("amp", '&'),
        ("apos", '\''),
        ("colon", ':'),
        ("sol", '/'),
        ("lpar", '('),
        ("rpar", ')'),
        ("Tab", '\t'),
        ("NewLine", '\n'),
    ] {
        if let Some(r) = after.strip_prefix(name) {
            let used = name.len() + usize::from(r.starts_with(';'));
            if r.starts_with(';') || matches!(name, "lt" | "gt" | "quot" | "amp") {
                return Some((c, used));
            }
        }
    }
    None
}

fn scheme_runs_script(value: &str) -> bool {
    let v: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    v.starts_with("javascript:")
        || v.starts_with("vbscript:")
        || v.starts_with("data:text/html")
        || v.starts_with("data:image/svg+xml")
}

/// Where script would run in a document, if anywhere.
pub fn script_in(document: &str, template_scripts: usize) -> Option<String> {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut scripts = 0usize;
    for token in Tokenizer::new_with_emitter(document, emitter).flatten() {
        if let Token::StartTag(tag) = token {
            let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
            if name == "script" {
                scripts += 1;
            }
            for (k, v) in &tag.attributes {
                let key = String::from_utf8_lossy(k).to_ascii_lowercase();
                let value = String::from_utf8_lossy(&v.value).into_owned();
                if EVENT_HANDLERS.contains(&key.as_str()) {
                    return Some(format!("<{name} {key}=…> runs an event handler"));
                }
                if URL_ATTRIBUTES.contains(&key.as_bytes()) && scheme_runs_script(&value) {
                    return Some(format!("<{name} {key}=\"{value}\"> navigates to script"));
                }
                if name == "iframe" && key == "srcdoc" && value.to_ascii_lowercase().contains('<') {
                    return Some("<iframe srcdoc> renders attacker markup".into());
                }
                if name == "meta"
                    && key == "content"
                    && value.to_ascii_lowercase().contains("javascript:")
                {
                    return Some("<meta refresh> to javascript:".into());
                }
                if (name == "svg" || name == "animate" || name == "set")
                    && (key == "values" || key == "to")
                    && scheme_runs_script(&value)
                {
                    return Some(format!("<{name} {key}> animates to script"));
                }
            }
        }
    }
    if scripts > template_scripts {
        return Some("a <script> element".into());
    }
    None
}

/// True when a JavaScript fragment ends outside any string, template or
/// comment (a fragment that leaves a string open is a syntax error:
/// nothing runs).
fn balanced_js(code: &str) -> bool {
    let mut chars = code.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => match c {
                '\\' => {
                    chars.next();
                }
                '\n' if q != '`' => return false,
                c if c == q => quote = None,
                _ => {}
            },
            None => match c {
                '\'' | '"' | '`' => quote = Some(c),
                '/' if chars.peek() == Some(&'/') => return true,
                '/' if chars.peek() == Some(&'*') => {
                    chars.next();
                    let mut prev = ' ';
                    let mut closed = false;
                    for d in chars.by_ref() {
                        if prev == '*' && d == '/' {
                            closed = true;
                            break;
                        }
                        prev = d;
                    }
                    if !closed {
                        return false;
                    }
                }
                _ => {}
            },
        }
    }
    quote.is_none()
}

/// True when the payload, placed in a script string literal, ends the
/// literal and leaves code that runs: what follows the literal continues
/// the program (an operator, `;`, `)`), contains code beyond the template's
/// own `suffix`, and the whole remainder is balanced JavaScript.
fn breaks_out_of_string(payload: &str, quote: char, suffix: &str) -> bool {
    let mut chars = payload.char_indices();
    let mut close = None;
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '\n' => return false,
            c if c == quote => {
                close = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(close) = close else { return false };
    // What the script reads after the literal: the payload's rest, then the
    // template's closing quote and suffix.
    let rest = format!("{}{quote}{suffix}", &payload[close + 1..]);
    let continues = rest.trim_start().starts_with([
        ';', '+', '-', '*', '/', ',', '?', ':', '|', '&', '^', '%', '<', '>', '=', '.', '[', '(',
        ')', '}',
    ]);
    let code = payload[close + 1..].trim();
    continues
        && code
            .chars()
            .any(|c| c.is_alphanumeric() || c == '(' || c == '`')
        && balanced_js(&rest)
}

/// Runs an (already URL-decoded) payload in every context, as reflected
/// and as reflected by an application that decodes HTML entities first.
pub fn run(payload: &str) -> Option<Outcome> {
    if payload.len() > 16_384 {
        return None;
    }
    let decoded = decode_entities(payload);
    let values: Vec<(&str, &str)> = if decoded == payload {
        vec![(payload, "")]
    } else {
        vec![(payload, ""), (&decoded, " after HTML-entity decoding")]
    };
    for (value, how) in values {
        for (context, template, script) in CONTEXTS {
            let page = template.replace("{TAIL}", TAIL);
            let doc = page.replace("{}", value);
            let template_scripts = usize::from(script.is_some());
            if let Some(what) = script_in(&doc, template_scripts) {
                return Some(Outcome {
                    family: Family::Xss,
                    context,
                    evidence: format!("{what}{how}"),
                });
            }
            if let Some((quote, suffix)) = script {
                let in_script = !value.to_ascii_lowercase().contains("</script");
                if in_script && breaks_out_of_string(value, *quote, suffix) {
                    return Some(Outcome {
                        family: Family::Xss,
                        context,
                        evidence: format!("the payload breaks out of a script string{how}"),
                    });
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_runs() {
        for p in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "\"><svg onload=alert(1)>",
            "' autofocus onfocus='alert(1)",
            "javascript:alert(document.cookie)",
            " JaVaScRiPt:alert(1)",
            "</textarea><script>alert(1)</script>",
            "\";alert(1);//",
            "';alert(1)//",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "<iframe srcdoc=\"<script>alert(1)</script>\">",
            "--><img src=x onerror=alert(1)>",
        ] {
            assert!(run(p).is_some(), "{p}");
        }
    }

    #[test]
    fn markup_and_text_are_harmless() {
        for p in [
            "it's 5 o'clock",
            "say \"hi\"",
            "hello",
            "<b>bold</b> and <i>italic</i>",
            "a < b && c > d",
            "O'Brien",
            "tom \"the cat\"",
            "see https://example.com/a?b=c",
            "x = y * 2;",
            "5 > 3",
            "",
        ] {
            assert!(run(p).is_none(), "{p}: {:?}", run(p));
        }
    }
}
