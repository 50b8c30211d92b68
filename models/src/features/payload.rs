//! Payload features: one vector per extracted value.

use super::feature_table;

/// Version of the payload feature table.
pub const VERSION: &str = "payload-v1";

feature_table!(
    /// Index of a payload feature.
    P, SPECS, [
    LenRaw => "len_raw": "Length of the raw value in bytes (before decoding).",
    LenNorm => "len_norm": "Length of the normalized value in bytes.",
    Entropy => "entropy": "Shannon entropy of the normalized value, bits per byte.",
    RatioAlpha => "ratio_alpha": "Share of letters in the normalized value.",
    RatioDigit => "ratio_digit": "Share of digits in the normalized value.",
    RatioSpace => "ratio_space": "Share of spaces in the normalized value.",
    RatioSpecial => "ratio_special": "Share of punctuation and symbols in the normalized value.",
    RatioUpperRaw => "ratio_upper_raw": "Share of upper-case ASCII letters in the raw value (case-mixing evasion).",
    RatioNonprintableRaw => "ratio_nonprintable_raw": "Share of control and non-ASCII bytes in the raw value.",
    PctEscapes => "pct_escapes": "Percent escapes (%XX, %uXXXX) in the raw value.",
    DecodeDepth => "decode_depth": "URL-decoding layers that changed the value (double encoding > 1).",
    NullBytes => "null_bytes": "Null bytes removed during normalization.",
    UnicodeEscapes => "unicode_escapes": "%uXXXX, \\uXXXX, \\xHH and &#...; escapes decoded.",
    BlockComments => "block_comments": "/* */ comments removed (keyword splitting evasion).",
    Quotes => "quotes": "Quote characters (' \" `).",
    Parens => "parens": "Parentheses.",
    AngleBrackets => "angle_brackets": "< and > characters.",
    Words => "words": "Word tokens.",
    MaxWordLen => "max_word_len": "Longest word token (long random tokens suggest encoded data).",
    SqlKeywords => "sql_keywords": "SQL keywords (select, union, where, ...).",
    SqlBooleans => "sql_booleans": "SQL boolean connectives as words (or, and, xor, not).",
    SqlFunctions => "sql_functions": "SQL functions (sleep, concat, char, substring, ...).",
    SqlMeta => "sql_meta": "SQL catalog names (information_schema, sysobjects, ...).",
    SqlOperators => "sql_operators": "SQL operators and literals (||, &&, <>, !=, @@, 0x).",
    SqlComments => "sql_comments": "SQL line-comment markers (--, #).",
    XssTags => "xss_tags": "HTML element names opened with <.",
    XssHandlers => "xss_handlers": "DOM event-handler names (onerror, onload, ...).",
    XssJsUri => "xss_js_uri": "javascript:/vbscript:/data: URIs.",
    XssJsWords => "xss_js_words": "JavaScript sinks and calls (alert, eval, document, cookie, ...).",
    ShellMetachars => "shell_metachars": "Shell metacharacters (; | & ` $).",
    ShellCommands => "shell_commands": "Shell command names (strong and weak lists).",
    ShellSubstitution => "shell_substitution": "Command substitution markers ($(, `, ${IFS}).",
    CodeFunctions => "code_functions": "Server-side code execution functions (system, exec, __import__, ...).",
    JndiShellshock => "jndi_shellshock": "Log4j lookup and Shellshock markers (${jndi:, () {).",
    TemplateMarkers => "template_markers": "Template and code-island markers ({{, <?php, <%=, #{).",
    TraversalSeqs => "traversal_seqs": "Parent-directory steps (../, ..\\, ..;/).",
    SensitiveFiles => "sensitive_files": "Sensitive file names (etc/passwd, win.ini, web-inf, ...).",
    Wrappers => "uri_wrappers": "Stream wrappers and file schemes (file://, php://, zip://).",
    XmlDoctype => "xml_doctype": "XML prolog and DOCTYPE declarations.",
    XmlEntities => "xml_entities": "XML markup declarations (<!ENTITY, <!ELEMENT, <!ATTLIST).",
    XmlExternal => "xml_external": "External identifiers and inclusion (SYSTEM \", PUBLIC \", xi:include).",
    Truncated => "truncated": "1 when a size limit cut the value.",
    SigSqli => "sig_sqli": "Strongest matching SQL-injection signature weight (0 when none).",
    SigXss => "sig_xss": "Strongest matching XSS signature weight.",
    SigCmdi => "sig_cmdi": "Strongest matching command/code-injection signature weight.",
    SigPath => "sig_path": "Strongest matching path-traversal signature weight.",
    SigXxe => "sig_xxe": "Strongest matching XXE signature weight.",
]);

/// Number of payload features.
pub const N: usize = SPECS.len();
