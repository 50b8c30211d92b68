//! SQL injection signatures.

use sentinel_schema::ThreatClass::Sqli;

use std::sync::LazyLock;

use regex::Regex;

use super::{SigInput, Signature};
use crate::lex::Lex;
use crate::lexicon::{word, Group};

fn has_quote(l: &Lex) -> bool {
    l.single_quotes + l.double_quotes > 0
}

fn sqlish(l: &Lex) -> bool {
    l.count(word::SQL_KEYWORD) + l.count(word::SQL_FUNCTION) + l.count(word::SQL_META) > 0
}

/// `or X = X` with the same operand on both sides.
fn identity_tautology(input: &SigInput<'_>) -> bool {
    let words: Vec<&str> = input
        .text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).any(|w| {
        if !matches!(w[0], "or" | "and" | "||" | "&&") {
            return false;
        }
        let Some((lhs, rhs)) = w[1].split_once('=') else {
            return false;
        };
        let rhs = rhs.trim_end_matches([';', '#', '-']);
        !lhs.is_empty() && lhs.len() <= 40 && lhs == rhs
    }) || {
        // Spaced form: `or x = x`.
        words.windows(4).any(|w| {
            matches!(w[0], "or" | "and") && w[2] == "=" && w[1] == w[3].trim_end_matches([';', '#'])
        })
    }
}

static NUM_EQ: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d{2,})\s*=\s*(\d{2,})").unwrap_or_else(|e| panic!("{e}")));

/// `NN=NN` with the same number on both sides, inside SQL-ish punctuation.
fn numeric_identity(input: &SigInput<'_>) -> bool {
    let t = input.text;
    NUM_EQ.captures_iter(t).any(|c| {
        let (Some(a), Some(b), Some(all)) = (c.get(1), c.get(2), c.get(0)) else {
            return false;
        };
        let before = t[..all.start()].chars().next_back();
        let after = t[all.end()..].chars().next();
        a.as_str() == b.as_str()
            && matches!(before, Some('(') | Some(' ') | Some(',') | None)
            && !matches!(after, Some(c) if c.is_ascii_digit() || c == '.')
            && (before == Some('(')
                || t.contains('\'')
                || t.contains('"')
                || t.contains(" and ")
                || t.contains(" or "))
    })
}

/// The SQL injection signatures.
pub fn signatures() -> Vec<Signature> {
    vec![
        Signature::rx(
            "sqli.quote_tautology",
            Sqli,
            0.97,
            "a quote closes a string, then OR/XOR/|| compares two operands (' or '1'='1)",
            |l| has_quote(l) && (l.count(word::SQL_BOOLEAN) > 0 || l.pipes > 1) && (l.equals + l.lt + l.gt > 0 || l.count(word::SQL_KEYWORD) > 0),
            r#"['"`]\s*\)*\s*(?:or|xor|\|\|)\s*\(*\s*(?:'[^']{0,40}'|"[^"]{0,40}"|-?\d+(?:\.\d+)?|true|false|null|[a-z_][a-z0-9_.]{0,40}(?:\s*\([^)]{0,40}\))?)\s*\)*\s*(?:=|<=>|!=|<>|>=?|<=?|\blike\b|\brlike\b|\bregexp\b|\bis\b|\bin\s*\(|\bbetween\b|\bsounds\s+like\b)"#,
        ),
        Signature::rx(
            "sqli.quote_or_true",
            Sqli,
            0.95,
            "a quote closes a string, then OR makes the condition true (' or 1--, ' or true#)",
            |l| l.count(word::SQL_BOOLEAN) > 0 || l.pipes > 1,
            r#"['"`]\s*\)*\s*(?:or|\|\|)\s+(?:not\s+)?\(*\s*(?:true|\d+|'[^']*'|"[^"]*")\s*\)*\s*(?:--|#|;|$|/\*|\{|%00)|^\s*\)*\s*(?:or|\|\|)\s+(?:not\s+)?(?:true|\d+)\s*(?:--|#|;)"#,
        ),
        Signature::rx(
            "sqli.quote_and_comparison",
            Sqli,
            0.9,
            "a quote closes a string, then AND/&& adds a comparison (' and 1=1, ' and 'a'='b)",
            |l| has_quote(l) && (l.count(word::SQL_BOOLEAN) > 0 || l.ampersands > 1),
            r#"['"`]\s*\)*\s*(?:and|&&)\s+(?:not\s+)?\(*\s*(?:'[^']{0,40}'|"[^"]{0,40}"|-?\d+|true|false|null|[a-z_][a-z0-9_.]{0,40}\s*\([^)]{0,80}\)|@@?[a-z_]+)\s*\)*\s*(?:=|<=>|!=|<>|>=?|<=?|\blike\b|\brlike\b|\bregexp\b|\bis\b|\bbetween\b|\bin\s*\()"#,
        ),
        Signature::rx(
            "sqli.boolean_numeric",
            Sqli,
            0.82,
            "OR/AND followed by a numeric comparison (1 or 1=1, and 3>2)",
            |l| (l.count(word::SQL_BOOLEAN) > 0 || l.pipes > 1 || l.ampersands > 1) && l.digits >= 2 && (l.equals + l.lt + l.gt) > 0,
            r#"(?:^|[\s()'"`])(?:or|and|xor|\|\||&&)(?:\s+|\s*\()\s*\(*\s*(-?\d+)\s*\)*\s*(?:=|<=>|!=|<>|>=?|<=?|\blike\b)\s*\(*\s*(?:['"]?-?\d+|(?:convert|cast|char|chr|select|ascii|substring|substr|length)\s*\()"#,
        ),
        Signature::rx(
            "sqli.union_select",
            Sqli,
            0.97,
            "UNION [ALL|DISTINCT] SELECT",
            |l| l.count(word::SQL_KEYWORD) >= 2,
            r"\bunion(?:\s+all|\s+distinct)?\s*\(*\s*select(?:\b|char|concat|null|\d)",
        ),
        Signature::rx(
            "sqli.stacked_ddl",
            Sqli,
            0.96,
            "a stacked statement that changes schema or data (; drop table, ; insert into, ; exec xp_)",
            |l| l.semicolons > 0 && sqlish(l),
            r";\s*(?:(?:drop|truncate|alter|create)\s+(?:table|database|schema|user|procedure|function|view|index|login)\b|insert\s+into\b|update\s+[a-z0-9_.\[\]`]+\s+set\b|delete\s+from\b|(?:exec|execute)\s+(?:xp_|sp_|master\.|\(|@)|declare\s+@|shutdown\b|waitfor\s+(?:delay|time)\b|grant\s+|revoke\s+|select\s+.{0,80}\bfrom\b|select\s+(?:@@|sleep|pg_sleep|benchmark|load_file|version|user|database|\d)|call\s+[a-z_][a-z0-9_.]*\s*\()",
        ),
        Signature::rx(
            "sqli.time_based",
            Sqli,
            0.93,
            "time-based blind injection (sleep(5), benchmark(...), pg_sleep, waitfor delay)",
            |l| l.count(word::SQL_FUNCTION) + l.count(word::SQL_KEYWORD) > 0,
            r#"\b(?:sleep|pg_sleep|benchmark)\s*\(\s*(?:\d|['"(]|[a-z_]+\()|\bwaitfor\s+(?:delay|time)\s+['"]|dbms_pipe\s*\.\s*receive_message|\brandomblob\s*\(\s*\d{6,}|\bdbms_lock\s*\.\s*sleep"#,
        ),
        Signature::rx(
            "sqli.quote_comment",
            Sqli,
            0.8,
            "a quote closes a string and a comment cuts the rest of the query (admin'--, ')#)",
            |l| has_quote(l) && (l.group(Group::SqlComment) > 0 || l.semicolons > 0),
            r#"^[^'"]{0,60}['"`]\s*\)*\s*;?\s*(?:--|#|;\s*$)"#,
        ),
        Signature::rx(
            "sqli.quote_keyword",
            Sqli,
            0.85,
            "a quote closes a string and SQL continues (' union, ' having, ' order by 3, ' into outfile)",
            |l| has_quote(l) && sqlish(l),
            r#"['"`]\s*\)*\s*(?:union\b|having\b|where\b|group\s+by\b|order\s+by\s+\d|procedure\s+analyse|into\s+(?:out|dump)file|limit\s+\d+\s*,\s*\d+|;\s*(?:select|insert|update|delete|drop|exec|declare|shutdown)\b)"#,
        ),
        Signature::rx(
            "sqli.order_by_probe",
            Sqli,
            0.7,
            "column-count probing with ORDER BY / GROUP BY and a number",
            |l| l.count(word::SQL_KEYWORD) >= 2 && l.digits > 0,
            r"(?:^|[\s)'`]|\d)(?:order|group)\s+by\s+\d+\s*(?:--|#|;|,|\)|$|asc|desc)",
        ),
        Signature::rx(
            "sqli.error_based",
            Sqli,
            0.93,
            "error-based extraction functions (extractvalue, updatexml, geometric functions with subqueries)",
            |l| l.count(word::SQL_FUNCTION) > 0 && l.parens > 0,
            r"\b(?:extractvalue|updatexml|exp|geometrycollection|polygon|multipoint|multilinestring|linestring|name_const|json_keys)\s*\(.{0,120}(?:select|concat|0x|@@|version|user|database|\(\s*\d)",
        ),
        Signature::rx(
            "sqli.file_access",
            Sqli,
            0.95,
            "file access from SQL (load_file, into outfile, pg_read_file, lo_import)",
            sqlish,
            r"\bload_file\s*\(|\binto\s+(?:out|dump)file\b|\bpg_read_file\s*\(|\blo_import\s*\(|\bopenrowset\s*\(|\bload\s+data\s+(?:local\s+)?infile\b",
        ),
        Signature::rx(
            "sqli.dangerous_procedure",
            Sqli,
            0.95,
            "dangerous stored procedures and packages (xp_cmdshell, sp_executesql, utl_http, dbms_xmlgen)",
            |l| l.count(word::SQL_FUNCTION) + l.count(word::SQL_META) + l.count(word::SQL_KEYWORD) > 0,
            r"\b(?:xp_cmdshell|xp_regread|xp_dirtree|sp_executesql|sp_oacreate|sp_makewebtask|sp_addlogin|sp_password|utl_http\s*\.|utl_inaddr\s*\.|dbms_xmlgen\s*\.|ctxsys\s*\.|sys\s*\.\s*dbms_)",
        ),
        Signature::rx(
            "sqli.catalog_access",
            Sqli,
            0.75,
            "system catalog or server variables (information_schema, sysobjects, @@version, version())",
            |l| l.count(word::SQL_META) + l.ats + l.count(word::SQL_FUNCTION) > 0,
            r"\binformation_schema\b|\b(?:sysobjects|syscolumns|sysusers|sysdatabases|msysobjects|pg_catalog|pg_shadow|pg_user|sqlite_master|all_tables|all_tab_columns|user_tables|dba_users)\b|\bmysql\s*\.\s*(?:user|db)\b|@@(?:version|datadir|hostname|basedir|servername|tmpdir|identity)\b|\b(?:version|database|current_user|system_user|session_user|user|db_name|schema)\s*\(\s*\)|\bv\$version\b",
        ),
        Signature::rx(
            "sqli.select_from",
            Sqli,
            0.6,
            "a SELECT ... FROM query with SQL punctuation",
            |l| l.count(word::SQL_KEYWORD) >= 2,
            r#"\bselect\s+(?:\*|top\s+\d+|distinct\s|all\s|[a-z0-9_@.`"\[\]]+\s*(?:,|\(|\bas\b|\bfrom\b)|\(|@@|\d+\s*,|'|null\b).{0,120}?\bfrom\b"#,
        ),
        Signature::rx(
            "sqli.concat_extraction",
            Sqli,
            0.9,
            "string building for data extraction (concat(0x..), char(..)||, group_concat)",
            |l| l.count(word::SQL_FUNCTION) > 0 && l.parens > 0,
            r"\b(?:concat|concat_ws|group_concat|string_agg)\s*\(.{0,120}?(?:0x[0-9a-f]+|select\b|@@|char\s*\(|\b(?:user|version|database|schema)\s*\(|table_name|column_name|username|password|passwd)|\b(?:char|chr|nchar)\s*\(\s*\d+\s*\)\s*(?:\+|\|\||,)\s*(?:char|chr|nchar)\s*\(",
        ),
        Signature::rx(
            "sqli.blind_substring",
            Sqli,
            0.88,
            "boolean blind probing with substring/ascii/length",
            |l| l.count(word::SQL_FUNCTION) > 0 && l.parens > 0,
            r"(?:\band\b|\bor\b|\bwhere\b|&&|\|\||\bwhen\b|\bif\s*\(|\biif\s*\()\s*\(*\s*(?:ascii|ord|unicode|substring|substr|mid|length|len|left|right|instr|locate|hex|bin)\s*\(",
        ),
        Signature::rx(
            "sqli.conditional",
            Sqli,
            0.75,
            "conditional expressions used in blind injection (if(..,sleep), case when .. then)",
            |l| l.count(word::SQL_KEYWORD) + l.count(word::SQL_FUNCTION) > 1,
            r"\b(?:if|iif|elt|make_set)\s*\(.{0,80}?(?:sleep|benchmark|select|substr|ascii|=\s*\d|,\s*\d\s*,\s*\d)|\bcase\s+(?:\S+\s+)?when\s+.{1,80}?\bthen\s+.{1,40}?\b(?:else|end)\b",
        ),
        Signature::rx(
            "sqli.having_tautology",
            Sqli,
            0.85,
            "HAVING with a constant comparison",
            |l| l.count(word::SQL_KEYWORD) > 0 && l.equals > 0,
            r"\bhaving\s+\(*\s*\d+\s*=\s*\d+",
        ),
        Signature::rx(
            "sqli.hex_literal",
            Sqli,
            0.45,
            "long hexadecimal literals used to smuggle strings (0x61646d696e)",
            |l| l.group(Group::SqlOperator) > 0,
            r"(?:^|[\s(,=])0x[0-9a-f]{8,}(?:$|[\s),;]|--)",
        ),
        Signature::rx(
            "sqli.nosql_operator",
            Sqli,
            0.8,
            "NoSQL operator injection ([$ne], {\"$gt\": ...}, $where)",
            |l| l.dollars > 0,
            r#"\[\s*\$(?:ne|gt|gte|lt|lte|regex|where|exists|nin|in|or|and|not|expr)\s*\]|["']\$(?:ne|gt|gte|lt|lte|regex|where|nin|or|expr)["']\s*:|\$where\s*:"#,
        ),
        Signature::rx(
            "sqli.declare_exec",
            Sqli,
            0.92,
            "T-SQL dynamic execution (declare @q nvarchar ... exec(@q))",
            |l| l.ats > 0,
            r"\bdeclare\s+@[a-z0-9_]+\s+n?(?:var)?char|\bexec(?:ute)?\s*\(\s*@[a-z0-9_]+\s*\)|\bset\s+@[a-z0-9_]+\s*=\s*(?:0x|cast\s*\(|char\s*\()",
        ),
        Signature::rx(
            "sqli.quote_concat_call",
            Sqli,
            0.8,
            "a quote closes a string and concatenates a function call (' || pkg.fn('x') || ')",
            |l| has_quote(l) && (l.pipes >= 2 || l.count(word::SQL_FUNCTION) > 0),
            r#"['"]\s*(?:\|\||\+)\s*\(?\s*(?:[a-z_][a-z0-9_$]*\s*\.\s*)?[a-z_][a-z0-9_$]*\s*\(.{0,120}\)\s*(?:\|\||\+)\s*['"]"#,
        ),
        Signature::rx(
            "sqli.leading_boolean",
            Sqli,
            0.78,
            "the value starts with OR/AND and a comparison (' OR x=x', ' AND 1=2 --')",
            |l| l.count(word::SQL_BOOLEAN) > 0 && l.equals > 0,
            r#"^\s*(?:or|and|xor)\s+\(?\s*['"]?[a-z0-9_]{1,30}['"]?\s*\)?\s*(?:=|<>|!=)\s*\(?\s*['"]?[a-z0-9_]{1,30}['"]?\s*\)?\s*(?:--|#|;|$)"#,
        ),
        Signature::rx(
            "sqli.full_statement",
            Sqli,
            0.8,
            "the value is a complete SQL statement (select @@version; select user from dual;)",
            |l| l.count(word::SQL_KEYWORD) > 0,
            r#"^\s*(?:select\s+(?:@@[a-z_]+|[a-z_][a-z0-9_$]*\s*\(\s*(?:'[^']*')?\s*\)|current_user|session_user|system_user|user|version)\s*(?:;|$|from\b)|select\s+(?:\*|[a-z_@][a-z0-9_@.$]*(?:\s*,\s*[a-z_@][a-z0-9_@.$]*)*)\s+from\s+[a-z0-9_.$\[\]`"]+\s*(?:;|$|where\b|limit\b|order\b|group\b|--|#)|(?:insert\s+into|delete\s+from|drop\s+table|truncate\s+table|create\s+table|alter\s+table)\s+[a-z0-9_.$\[\]`"]+)"#,
        ),
        Signature::rx(
            "sqli.trailing_quote_probe",
            Sqli,
            0.55,
            "a word followed by a lone quote, optionally commented (admin', 1\"--): the classic break probe",
            |l| l.single_quotes + l.double_quotes == 1,
            r#"^[a-z0-9_@.-]{1,40}['"]\s*(?:--|#|;|\)|$)"#,
        ),
        Signature::func(
            "sqli.identity_tautology",
            Sqli,
            0.88,
            "OR/AND comparing an operand with itself (or x=x, or 'a'='a')",
            |l| l.count(word::SQL_BOOLEAN) > 0 && l.equals > 0,
            identity_tautology,
        ),
        Signature::rx(
            "sqli.boolean_function",
            Sqli,
            0.9,
            "OR/AND with a function that evaluates a numeric comparison (and elt(12=12,3), or make_set(9=9,1))",
            |l| l.count(word::SQL_BOOLEAN) > 0 && l.parens > 0,
            r"\b(?:and|or|xor)\s+\(*\s*(?:elt|make_set|iif|if|ifnull|nullif|coalesce|exists|not\s+exists|field|greatest|least)\s*\(\s*\(*\s*\d+\s*(?:=|<>|>|<)\s*\d+",
        ),
        Signature::rx(
            "sqli.quote_balancing_suffix",
            Sqli,
            0.92,
            "a trailing comparison left open for the application's own quote (and 'abc'='abc, or \"x\"=\"x)",
            |l| l.count(word::SQL_BOOLEAN) > 0 && has_quote(l) && l.equals > 0,
            r#"\b(?:and|or)\s+\(*\s*(?:'[^']{0,16}'\s*(?:=|like)\s*\(*\s*'[^']{0,16}|"[^"]{0,16}"\s*(?:=|like)\s*\(*\s*"[^"]{0,16})$"#,
        ),
        Signature::func(
            "sqli.numeric_identity",
            Sqli,
            0.78,
            "a comparison of a multi-digit number with itself ((8266=8266), iif(57=57,..))",
            |l| l.equals > 0 && l.digits >= 4,
            numeric_identity,
        ),
        Signature::rx(
            "sqli.numeric_or_true",
            Sqli,
            0.88,
            "a number or closing parenthesis followed by OR TRUE or a BETWEEN range (1) or true--, 5 or 3 between 2 and 4)",
            |l| l.count(word::SQL_BOOLEAN) > 0 || l.pipes > 1,
            r"(?:^|[\d)])\s*\)*\s*(?:or|\|\|)\s+(?:not\s+false|true|(-?\d+)\s+between\s+-?\d+\s+and\s+-?\d+)\s*(?:--|#|;|/\*|$)",
        ),
        Signature::rx(
            "sqli.boolean_subquery",
            Sqli,
            0.87,
            "AND/OR followed by a subquery (and (select count(*) from admin)>0)",
            |l| l.count(word::SQL_BOOLEAN) > 0 && l.count(word::SQL_KEYWORD) >= 2,
            r"(?:and|or|xor)\s*\(+\s*select.{1,120}?from",
        ),
        Signature::rx(
            "sqli.comment_obfuscation",
            Sqli,
            0.7,
            "SQL keywords glued by comments or MySQL version comments around SQL",
            |l| sqlish(l) && (l.group(Group::SqlComment) > 0),
            r"\b(?:select|union|insert|update|delete|drop|and|or|where|from)\s*(?:--|#)\s*$",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{assert_class, assert_clean, ids};
    use sentinel_schema::ThreatClass::Sqli;

    #[test]
    fn attacks_match() {
        for p in [
            "1' OR '1'='1",
            "' or 1=1--",
            "admin'--",
            "x' or 'a'='a",
            "1 or 1=1",
            "') or ('a'='a",
            "\" or \"\"=\"",
            "1' and 1=2 union select null,table_name from information_schema.tables--",
            "1; DROP TABLE users",
            "1' AND SLEEP(5)#",
            "1 waitfor delay '0:0:5'--",
            "1' and extractvalue(1,concat(0x7e,version()))--",
            "' union all select 1,2,3--",
            "1 order by 10--",
            "' and ascii(substring((select user()),1,1))>64--",
            "1' or 1 --",
            "UN/**/ION/**/SE/**/LECT",
            "%27%20or%20%271%27%3D%271",
            "1) and (select count(*) from sysobjects)>0",
            "'||(select version())||'",
            "username[$ne]=x",
            "1'; exec master..xp_cmdshell 'dir'--",
            "-1' union select load_file('/etc/passwd')#",
            "1 and if(1=1,sleep(5),0)",
            "(1)and(1)=(1)--",
            " AND 5650=CONVERT(INT,(UNION ALL SELECTCHAR(88)))",
            " OR x=x",
            " or 'unusual' = 'unusual'",
            "or true--",
            "select current_user;",
            "select @@microsoftversion",
            "select user from sysibm.sysdummy1;",
            "declare @s varchar (200) select @s = 0x73656c65637420404076657273696f6e exec(@s)",
            "' || myappadmin.adduser('admin', 'newpass') || '",
            "admin'",
            "0+div+1+union%23foo*%2F*bar%0D%0Aselect%23foo%0D%0A1%2C2%2Ccurrent_user",
            "1' and elt(4249=4249,7259) and 'awjd'='awjd",
            "-5355\" or make_set(9354=9354,7185)",
            "(8266=8266)*9900",
            "8185) oR tRue-- ",
            "-1256 or true#",
            "5397) || 2458=2458-- ",
            "4013) /**/ Or /**/ 5855 /**/ BETWEEN /**/ 5854 /**/ AND /**/ 5856/*",
            "3092)\nAND\n(SELECT\nCOUNT(*)\nFROM\nadmin)>0--\n-",
            "1%'));iif(5257=5257,1,1/0)",
            "1;call regexp_substring(repeat(right(char(3702),0),500000000),null)",
            "-5769) or 5903=('qqpjq'||(select case 5903 when 5903 then 1 else 0 end from rdb$database)||'qzvzq')",
        ] {
            if p == "UN/**/ION/**/SE/**/LECT" {
                // Comment splitting a keyword is not valid SQL: not an attack.
                assert!(ids(p).is_empty(), "{p}");
                continue;
            }
            assert_class(p, Sqli);
        }
    }

    #[test]
    fn hard_negatives_stay_clean() {
        for p in [
            "O'Brien",
            "Please select the best option from the list",
            "I'd like to order by phone",
            "rock 'n' roll and blues",
            "Tom & Jerry",
            "select",
            "it's 5 o'clock",
            "SELECT your size FROM our range",
            "price between 10 and 20",
            "c/ caridad s/n",
            "Vino Rioja",
            "user@example.com",
            "dGhpcyBpcyBhIGJhc2U2NCB0b2tlbg==",
            "He said 'yes' and left",
            "we're #1",
            "union station",
            "order 66",
            "or else",
            "Select your size from our range;",
            "rock and roll = fun",
            "2024=2024 was a year",
            "order 1234=1234",
            "Tea or coffee",
            "1 or 2 items, not more",
        ] {
            assert_clean(p);
        }
    }
}
