//! Cross-site scripting signatures.

use std::sync::LazyLock;

use regex::Regex;
use sentinel_schema::ThreatClass::Xss;

use super::{SigInput, Signature};
use crate::lex::Lex;
use crate::lexicon::{self, word, Group};

/// `on<event>=` preceded by a tag, a quote, a slash or a space.
static HANDLER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s"'`/;<>]|\x0c)(on[a-z]{3,40})\s*="#).unwrap_or_else(|e| panic!("{e}"))
});

/// True when an attribute named like a DOM event handler is being set,
/// inside a tag or after a quote that breaks out of an attribute value.
fn event_handler(input: &SigInput<'_>) -> bool {
    let text = input.text;
    HANDLER.captures_iter(text).any(|c| {
        let name = c.get(1).map_or("", |m| m.as_str());
        if lexicon::word_class(name) & word::EVENT_HANDLER == 0 {
            return false;
        }
        let start = c.get(0).map_or(0, |m| m.start());
        let before = &text[..start];
        // In a tag (`<x ... on...=`) or after a quote break (`" onfocus=`).
        let in_tag = before
            .rfind('<')
            .is_some_and(|lt| !before[lt..].contains('>'));
        let after_quote = before.trim_end().ends_with(['"', '\'', '`']) || before.is_empty();
        let value = &text[c.get(0).map_or(0, |m| m.end())..];
        let value_is_code = value
            .trim_start_matches(['"', '\'', '`', ' '])
            .chars()
            .take(120)
            .any(|ch| matches!(ch, '(' | '`' | '.' | '=' | '[' | ':' | ';'));
        in_tag || (after_quote && value_is_code)
    })
}

static BREAKOUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(['"`])\s*/?\s*>\s*<\s*[a-z!/]"#).unwrap_or_else(|e| panic!("{e}"))
});

/// `"><tag` where the quote closes an attribute opened *outside* the value
/// (an even number of the same quote before it), unlike well-formed markup
/// (`<a href="x"><b>`) where the quote closes one opened inside.
fn attribute_breakout(input: &SigInput<'_>) -> bool {
    let text = input.text;
    BREAKOUT.captures_iter(text).any(|c| {
        let (Some(q), Some(all)) = (c.get(1), c.get(0)) else {
            return false;
        };
        let quote = q.as_str().chars().next().unwrap_or('"');
        text[..all.start()].matches(quote).count() % 2 == 0
    })
}

static CLOSER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<\s*/\s*(title|textarea|style|noscript|iframe|template|xmp|noembed|noframes)\s*>")
        .unwrap_or_else(|e| panic!("{e}"))
});

/// A closing raw-text tag with no opening tag of the same name before it.
fn context_closer(input: &SigInput<'_>) -> bool {
    let text = input.text;
    CLOSER.captures_iter(text).any(|c| {
        let (Some(name), Some(all)) = (c.get(1), c.get(0)) else {
            return false;
        };
        !text[..all.start()].contains(&format!("<{}", name.as_str()))
    })
}

fn tagish(l: &Lex) -> bool {
    l.lt > 0
}

/// The XSS signatures.
pub fn signatures() -> Vec<Signature> {
    vec![
        Signature::rx(
            "xss.script_tag",
            Xss,
            0.97,
            "a <script> element (opening or closing)",
            tagish,
            r"<\s*/?\s*script\b",
        ),
        Signature::func(
            "xss.event_handler",
            Xss,
            0.95,
            "a DOM event-handler attribute (onerror=, onload=, ...) in a tag or after a quote break",
            |l| l.count(word::EVENT_HANDLER) > 0 && l.equals > 0,
            event_handler,
        ),
        Signature::rx(
            "xss.js_uri",
            Xss,
            0.88,
            "a javascript:/vbscript: URI or a scriptable data: URI",
            |l| l.group(Group::JsUri) > 0,
            r"(?:javascript|vbscript|livescript|mocha)\s*:\s*\S*?[(`=\[.\\/]|data:(?:text/html|image/svg\+xml|application/(?:x-)?(?:javascript|ecmascript|xhtml))[;,]",
        ),
        Signature::rx(
            "xss.dangerous_tag",
            Xss,
            0.8,
            "an element that loads or runs content (<iframe>, <svg>, <object>, <embed>, <base>, <meta refresh>, ...)",
            tagish,
            r"<\s*(?:iframe|frame|frameset|object|embed|applet|svg|math|base|meta|link|isindex|xss|marquee|portal|bgsound|layer|ilayer|xmp|plaintext|noscript|style|template|animate|handler|listener|vmlframe|event-source|image)\b|<\?\s*(?:import|xml:namespace)\b",
        ),
        Signature::rx(
            "xss.tag_with_source",
            Xss,
            0.72,
            "an element with an attribute that loads, submits or animates script (formaction=, srcdoc=, xlink:href=, <form action=, <object data=)",
            |l| tagish(l) && l.equals > 0,
            r#"<\s*[a-z][a-z0-9:-]{0,20}\b[^>]*?[\s/"'](?:data|datasrc|datafld|dataformatas|action|formaction|srcdoc|background|dynsrc|lowsrc|xlink:href|poster|codebase|classid|values|attributename|autofocus|href\s*=\s*['"]?\s*(?:javascript|vbscript|data):|src\s*=\s*['"]?\s*(?:javascript|vbscript|data):)\s*="#,
        ),
        Signature::func(
            "xss.attribute_breakout",
            Xss,
            0.87,
            "a quote that was not opened in the value closes an attribute and a new tag starts (\"><img, '><svg)",
            |l| tagish(l) && l.gt > 0 && l.quotes() > 0,
            attribute_breakout,
        ),
        Signature::func(
            "xss.context_closer",
            Xss,
            0.8,
            "closes a raw-text element that the value never opened (</title>, </textarea>, </style>)",
            tagish,
            context_closer,
        ),
        Signature::rx(
            "xss.js_call",
            Xss,
            0.55,
            "a JavaScript dialog or evaluation call (alert(1), eval(...), setTimeout`...`)",
            |l| l.count(word::JS) > 0 && (l.parens > 0 || l.backticks > 0),
            r#"\b(?:alert|prompt|confirm|eval|settimeout|setinterval|execscript|fromcharcode|atob|import)\s*(?:`|\(\s*(?:\)|-?\d|['"`/]|document\b|window\b|this\b|top\b|self\b|location\b|string\b|atob\b|[a-z_$][\w$.]*\s*[(\[+)]))"#,
        ),
        Signature::rx(
            "xss.dom_sink",
            Xss,
            0.75,
            "access to DOM sinks (document.cookie, document.write, location=, .innerHTML=)",
            |l| l.count(word::JS) > 0,
            r"\bdocument\s*\.\s*(?:cookie|domain|write|writeln|location)\b|\bwindow\s*\.\s*(?:location|open|name)\b|\.\s*(?:inner|outer)html\s*=|\blocation\s*\.\s*(?:href|hash|search|replace|assign)\b|\b(?:self|top|parent|window|globalthis|frames)\s*\[\s*['`]",
        ),
        Signature::rx(
            "xss.css_expression",
            Xss,
            0.75,
            "script in CSS (expression(), -moz-binding, behavior:url, url(javascript:))",
            |l| l.parens > 0 || l.count(word::JS) > 0,
            r#"\bexpression\s*\(|-moz-binding\s*:|\bbehaviou?r\s*:\s*url|\bbinding\s*:\s*url|url\s*\(\s*['"]?\s*(?:javascript|vbscript):|@import\s+['"]?\s*(?:javascript|https?:|//)"#,
        ),
        Signature::rx(
            "xss.constructor_gadget",
            Xss,
            0.7,
            "constructor-based code evaluation gadgets",
            |l| l.count(word::JS) > 0,
            r#"\bconstructor\s*\(|\[\s*['"`]constructor['"`]\s*\]|\.constructor\s*\.\s*constructor|\bfunction\s*\(\s*\)\s*\{.{0,80}\}\s*\(\s*\)"#,
        ),
        Signature::rx(
            "xss.html_comment_breakout",
            Xss,
            0.6,
            "an HTML comment or CDATA section closed to inject markup",
            tagish,
            r"(?:--!?|\]\])>\s*<\s*[a-z/]",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_class, assert_clean};
    use sentinel_schema::ThreatClass::Xss;

    #[test]
    fn attacks_match() {
        for p in [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "\"><svg/onload=alert`1`>",
            "javascript:alert(document.cookie)",
            "%3Cscript%3Ealert(1)%3C/script%3E",
            "&lt;img src=x onerror=prompt(1)&gt;",
            "\" onmouseover=\"alert(1)",
            "' autofocus onfocus='alert(1)",
            "<iframe src=\"data:text/html,<script>alert(1)</script>\">",
            "<body onload=alert(1)>",
            "</title><script>alert(1)</script>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<div style=\"background:url(javascript:alert(1))\">",
            "<ScRiPt>prompt(1)</sCrIpT>",
            "<details open ontoggle=confirm(1)>",
            "';alert(String.fromCharCode(88,83,83))//",
        ] {
            assert_class(p, Xss);
        }
    }

    #[test]
    fn hard_negatives_stay_clean() {
        for p in [
            "I <3 you",
            "a < b and c > d",
            "Learning JavaScript: the good parts",
            "one=1&two=2",
            "Please confirm your order",
            "Please confirm (yes/no) before Friday",
            "<b>bold</b> text",
            "x => x * 2",
            "if (a < b) { return a; }",
            "online=true",
            "https://example.com/path?query=1",
            "{\"name\": \"value\"}",
            "<?xml version=\"1.0\"?><movies><movie><title>PHP</title><rating type=\"thumbs\">7</rating></movie></movies>",
            "<a href=\"https://example.com\">link</a>",
        ] {
            assert_clean(p);
        }
    }
}
