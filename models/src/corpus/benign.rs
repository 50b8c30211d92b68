//! Benign values, including hard negatives.

use rand::Rng;

use super::{pick, CorpusRng};

const FIRST: &[&str] = &[
    "James",
    "María",
    "José",
    "Zoë",
    "Łukasz",
    "Seán",
    "Müller",
    "Ngọc Ánh",
    "Åsa",
    "Dmitri",
    "Дмитрий",
    "李小龙",
    "محمد",
    "Aiko",
    "Chloé",
    "François",
    "Björn",
    "Søren",
    "Ömer",
    "Priya",
    "Oluwaseun",
    "Ana Luísa",
    "Jürgen",
    "Håkon",
    "Zeynep",
    "Kwame",
];
const LAST: &[&str] = &[
    "O'Brien",
    "D'Angelo",
    "García",
    "Wiśniewski",
    "Ó Súilleabháin",
    "Öberg",
    "Smith-Jones",
    "van der Berg",
    "de la Cruz",
    "Nguyễn",
    "Müller",
    "O'Neil",
    "Kowalski",
    "Dubois",
    "Tanaka",
    "Okafor",
    "Иванов",
    "Papadopoulos",
    "MacDonald",
    "St. John",
];
const STREETS: &[&str] = &[
    "Baker St.",
    "Calle de Alcalá",
    "Rue de l'Église",
    "Königsallee",
    "Via dei Fori Imperiali",
    "c/ caridad s/n",
    "Main Street",
    "ul. Marszałkowska",
    "Avenida Paulista",
    "Prinsengracht",
    "Nørregade",
    "Strandvägen",
    "Old Kent Road",
    "Rua Augusta",
];
const CITIES: &[&str] = &[
    "London",
    "Madrid",
    "Liège",
    "Düsseldorf",
    "Roma",
    "Warszawa",
    "São Paulo",
    "Amsterdam",
    "København",
    "Stockholm",
    "Zürich",
    "Kraków",
    "Tōkyō",
];
const WORDS: &[&str] = &[
    "del",
    "perl",
    "cat",
    "id",
    "ping",
    "ruby",
    "python",
    "echo",
    "find",
    "type",
    "more",
    "set",
    "select",
    "union",
    "order",
    "drop",
    "red",
    "shoes",
    "size",
    "winter",
    "jacket",
    "cheap",
    "flights",
    "to",
    "new",
    "york",
    "laptop",
    "with",
    "the",
    "best",
    "battery",
    "gift",
    "for",
    "mum",
    "organic",
    "coffee",
    "beans",
    "wireless",
    "headphones",
    "garden",
    "chair",
    "running",
    "kids",
    "book",
];
const PROSE: &[&str] = &[
    "Please select the best option from the menu",
    "I'd like to update my order and drop the old address",
    "Union Station is where we meet at 5",
    "Where are you from?",
    "Order by phone or online, whichever you prefer",
    "Insert coin to continue",
    "Select a size from the list below",
    "You can delete from your cart anytime",
    "We union-ized last year; it's been great",
    "The table is made from solid oak",
    "He said \"hello\" and left",
    "it's 5 o'clock somewhere",
    "Rock 'n' roll and blues all night",
    "Wait... what? That can't be right!",
    "Tom & Jerry; Laurel & Hardy",
    "I <3 this shop :-)",
    "50% off everything -- today only",
    "Terms & conditions apply*",
    "Call me at (555) 123-4567 or email me",
    "Can you echo my message back?",
    "The cat sat on the mat; the dog did not",
    "Sleep well and ping me tomorrow",
    "Find the script in the drama section",
    "Is there an alert when the price drops?",
    "My password reset email never arrived",
    "Where is the admin of this group?",
    "The user id is on the back of the card",
    "Drop-off at the back door, please",
    "1 or 2 items, not more",
    "Please confirm (yes/no) before Friday",
];
const CODE: &[&str] = &[
    "if (a < b) { return a; }",
    "for (int i = 0; i < n; i++) sum += i;",
    "x => x * 2",
    "<b>bold</b> and <i>italic</i>",
    "a && b || !c",
    "const total = price * qty;",
    "SELECT is an SQL keyword",
    "def add(a, b): return a + b",
    "**bold** _italic_ `code`",
    "<p>Hello, <em>world</em></p>",
    "println!(\"{}\", x);",
    "$price = 10; // dollars",
    "a < b > c",
    "see section 3.2.1 (page 14)",
    "C:/Users/Public/Documents",
    "user@host:~$ ls",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (compatible; Konqueror/3.5; Linux) KHTML/3.5.8 (like Gecko)",
    "curl/8.5.0",
    "python-requests/2.32.3",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
];

const XML_ROOTS: &[&str] = &[
    "order",
    "userInfo",
    "stockCheck",
    "request",
    "invoice",
    "catalog",
    "note",
    "feed",
    "person",
    "GetCapabilities",
];
const XML_FIELDS: &[&str] = &[
    "productId",
    "firstName",
    "lastName",
    "email",
    "quantity",
    "price",
    "title",
    "to",
    "from",
    "body",
    "id",
    "name",
    "city",
];
const TLDS: &[&str] = &[
    "com", "net", "org", "es", "cat", "de", "fr", "io", "co.uk", "com.br", "nc", "mv", "as", "tv",
    "info", "eu",
];
const FILES: &[&str] = &[
    "index.html",
    "login.php",
    "install.php",
    "db.php",
    "app.js",
    "style.css",
    "report.pdf",
    "data.csv",
    "readme.txt",
    "main.py",
    "config.json",
    "photo.jpg",
];
const DIRS: &[&str] = &[
    "admin",
    "static",
    "docs",
    "api/v2",
    "images",
    "blog/2026",
    "downloads",
    "cgi-bin",
    "assets",
];
const TECH: &[&str] = &[
    "The version parameter is set to _<> in the HTTP request.",
    "Use the cat command to print a file",
    "Set the id attribute on the div",
    "Python and Perl are scripting languages",
    "The && operator short-circuits",
    "Press Ctrl+C to copy; Ctrl+V to paste",
    "Ping pong tournament on Friday",
    "Please delete my account (user id 4411)",
    "SELECT statements read data FROM tables",
    "Add <br> tags for line breaks",
    "Our XML API returns <order> elements",
    "email me at j.doe [at] example [dot] com",
];

fn xml_doc(rng: &mut CorpusRng) -> String {
    let root = pick(rng, XML_ROOTS);
    let prolog = pick(
        rng,
        &[
            "<?xml version=\"1.0\"?>",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<?xml version = \"1.0\"?>",
            "<?xml version='1.0' standalone='yes'?>",
            "",
        ],
    );
    let ns = pick(
        rng,
        &[
            "",
            " xmlns=\"http://www.example.com/schema\"",
            " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"",
        ],
    );
    let n = rng.gen_range(1..5);
    let mut body = String::new();
    for _ in 0..n {
        let f = pick(rng, XML_FIELDS);
        let v = match rng.gen_range(0..3) {
            0 => format!("{}", rng.gen_range(1..10_000)),
            1 => pick(rng, WORDS).to_string(),
            _ => format!("{} {}", pick(rng, FIRST), pick(rng, LAST)),
        };
        body.push_str(&format!("<{f}>{v}</{f}>"));
    }
    if rng.gen_bool(0.3) {
        return format!("{prolog}<soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body><{root}{ns}>{body}</{root}></soap:Body></soap:Envelope>");
    }
    format!("{prolog}<{root}{ns}>{body}</{root}>")
}

fn password(rng: &mut CorpusRng) -> String {
    const P: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*?._-";
    let n = rng.gen_range(6..16);
    (0..n)
        .map(|_| P[rng.gen_range(0..P.len())] as char)
        .collect()
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn token(rng: &mut CorpusRng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

fn words(rng: &mut CorpusRng, n: usize) -> String {
    (0..n)
        .map(|_| pick(rng, WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A hard negative: benign text with SQL, shell or markup vocabulary.
pub fn hard_negative(rng: &mut CorpusRng) -> String {
    match rng.gen_range(0..6) {
        0 | 1 => pick(rng, PROSE).to_string(),
        2 => pick(rng, CODE).to_string(),
        3 => pick(rng, TECH).to_string(),
        4 => xml_doc(rng),
        _ => format!("{} {}", pick(rng, FIRST), pick(rng, LAST)),
    }
}

/// One benign value.
pub fn generate(rng: &mut CorpusRng) -> String {
    match rng.gen_range(0..32) {
        24 | 25 => xml_doc(rng),
        26 => password(rng),
        27 => {
            let user: String = (0..rng.gen_range(3..10)).map(|_| (b'a' + rng.gen_range(0..26)) as char).collect();
            let dom: String = (0..rng.gen_range(2..8)).map(|_| (b'a' + rng.gen_range(0..26)) as char).collect();
            format!("{user}{}@{dom}.{}", pick(rng, &["", "3", ".x", "-p", "_9"]), pick(rng, TLDS))
        }
        28 => format!("/{}/{}", pick(rng, DIRS), pick(rng, FILES)),
        29 => pick(rng, FILES).to_string(),
        30 => pick(rng, TECH).to_string(),
        31 => format!("{} {} {}/{}", pick(rng, &["san", "sant", "la", "el", "villa"]), pick(rng, CITIES), pick(rng, &["del", "de la", "d'"]), pick(rng, CITIES)),
        0 => format!("{} {}", pick(rng, FIRST), pick(rng, LAST)),
        1 => {
            let f = pick(rng, &["john", "maria", "j.smith", "o.brien", "zoe", "anna.k", "li.wei", "m_garcia"]);
            format!("{f}{}@{}", pick(rng, &["", "+shop", "1984", "_work"]), pick(rng, &["example.com", "mail.example.org", "uni.example.edu", "example.co.uk"]))
        }
        2 => format!("{} {}, {} {}", rng.gen_range(1..300), pick(rng, STREETS), rng.gen_range(1000..99999), pick(rng, CITIES)),
        3 => format!("{}", rng.gen_range(0..100_000)),
        4 => format!("{}.{:02}", rng.gen_range(0..5000), rng.gen_range(0..100)),
        5 => format!("2026-{:02}-{:02}{}", rng.gen_range(1..13), rng.gen_range(1..29), pick(rng, &["", "T10:00:00Z", " 14:30", "T08:15:00+01:00"])),
        6 => format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", rng.gen::<u32>(), rng.gen::<u16>(), rng.gen::<u16>(), rng.gen::<u16>(), rng.gen::<u64>() & 0xffff_ffff_ffff),
        7 => {
            let n = 4 * rng.gen_range(4..16);
            format!("{}==", token(rng, B64, n))
        }
        8 => format!("eyJ{}.{}.{}", token(rng, B64, 20), token(rng, B64, 40), token(rng, B64, 30)).replace(['+', '/'], "_"),
        9 => format!("https://shop.example/{}?id={}&sort={}", pick(rng, &["products", "search", "cart", "blog/2026/01"]), rng.gen_range(1..999), pick(rng, &["price", "name", "date"])),
        10 => format!("/{}/{}.{}", pick(rng, &["static/js", "images", "docs", "assets/css"]), pick(rng, &["app.min", "logo", "report-2026", "main"]), pick(rng, &["js", "png", "pdf", "css"])),
        11 | 12 => {
            let n = rng.gen_range(1..6);
            words(rng, n)
        }
        13 | 14 => hard_negative(rng),
        15 => serde_json::json!({"name": format!("{} {}", pick(rng, FIRST), pick(rng, LAST)), "qty": rng.gen_range(1..9), "tags": [pick(rng, WORDS)]}).to_string(),
        16 => pick(rng, AGENTS).to_string(),
        17 => format!("+{} {} {} {} {}", rng.gen_range(1..99), rng.gen_range(10..99), rng.gen_range(100..999), rng.gen_range(10..99), rng.gen_range(10..99)),
        18 => pick(rng, &["on", "off", "true", "false", "yes", "no", "1", "0", "A%F1adir+al+carrito", "Vino+Rioja", "entrar", "Espa%F1a"]).to_string(),
        19 => format!("#{} #{} @{}", pick(rng, WORDS), pick(rng, WORDS), pick(rng, &["alice", "bob", "shop_news"])),
        20 => format!("{} ({}) v{}.{}", pick(rng, &["report", "photo", "invoice", "CV"]), pick(rng, &["final", "draft", "copy"]), rng.gen_range(1..5), rng.gen_range(0..10)),
        21 => format!("{}{}", token(rng, b"0123456789ABCDEF", 32), ""),
        22 => format!("{} {}", pick(rng, PROSE), words(rng, 2)),
        _ => format!("{}-{}", pick(rng, &["SKU", "ORD", "INV", "REF"]), rng.gen_range(10_000..999_999)),
    }
}
