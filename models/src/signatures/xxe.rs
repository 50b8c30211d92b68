//! XML external entity and entity-expansion signatures.

use sentinel_schema::ThreatClass::Xxe;

use super::{SigInput, Signature};
use crate::lex::Lex;
use crate::lexicon::Group;

fn markup_decl(l: &Lex) -> bool {
    l.group(Group::XmlEntity) + l.group(Group::XmlDoctype) > 0
}

/// The XXE signatures.
pub fn signatures() -> Vec<Signature> {
    vec![
        Signature::rx(
            "xxe.external_entity",
            Xxe,
            0.98,
            "an entity declared with a SYSTEM or PUBLIC identifier (external entity)",
            |l| l.group(Group::XmlEntity) > 0,
            r#"<!entity\s+(?:%\s*)?[a-z0-9_:.-]+\s+(?:system|public)\s+['"]"#,
        ),
        Signature::rx(
            "xxe.parameter_entity",
            Xxe,
            0.95,
            "a parameter entity declaration or reference (<!ENTITY % x ...>, %x;)",
            |l| l.group(Group::XmlEntity) > 0 || (l.group(Group::XmlDoctype) > 0 && l.percents > 0),
            r"<!entity\s+%\s*[a-z0-9_:.-]+|%[a-z_][a-z0-9_.-]*;",
        ),
        Signature::rx(
            "xxe.entity_declaration",
            Xxe,
            0.9,
            "an internal entity declaration (the building block of expansion bombs)",
            |l| l.group(Group::XmlEntity) > 0,
            r#"<!entity\s+[a-z0-9_:.-]+\s+['"]"#,
        ),
        Signature::rx(
            "xxe.doctype_subset",
            Xxe,
            0.85,
            "a DOCTYPE with an internal subset or an external identifier",
            markup_decl,
            r#"<!doctype\s+[a-z0-9_:.-]+\s*(?:\[|(?:system|public)\s+['"])"#,
        ),
        Signature::func(
            "xxe.expansion_bomb",
            Xxe,
            0.97,
            "several entity declarations that reference each other (billion laughs)",
            |l| l.group(Group::XmlEntity) >= 3,
            |i: &SigInput<'_>| {
                i.text.matches("<!entity").count() >= 3 && i.text.matches('&').count() >= 3
            },
        ),
        Signature::rx(
            "xxe.xinclude",
            Xxe,
            0.9,
            "XInclude or XSLT document access",
            |l| l.group(Group::XmlExternal) > 0,
            r#"<xi:include\b|xmlns:xi\s*=\s*['"]http://www\.w3\.org/2001/xinclude|<xsl:(?:value-of|copy-of|include|import)\b[^>]*(?:document\s*\(|unparsed-text|system-property)"#,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_class, assert_clean};
    use sentinel_schema::ThreatClass::Xxe;

    #[test]
    fn attacks_match() {
        for p in [
            "<?xml version=\"1.0\"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
            "<!DOCTYPE r [<!ENTITY % remote SYSTEM \"http://x/e.dtd\">%remote;]>",
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;\">]><lolz>&lol3;</lolz>",
            "<foo xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include parse=\"text\" href=\"file:///etc/passwd\"/></foo>",
        ] {
            assert_class(p, Xxe);
        }
    }

    #[test]
    fn hard_negatives_stay_clean() {
        for p in [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><order><item id=\"1\">Vino</item></order>",
            "<!DOCTYPE html>",
            "100%; 50%;",
        ] {
            assert_clean(p);
        }
    }
}
