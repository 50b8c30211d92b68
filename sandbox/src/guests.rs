//! The built-in guests, built from `sandbox/guests/` by `build.rs`.

/// The threat-twin guest (`sandbox/guests/twin-guest`) for
/// `wasm32-unknown-unknown`: SQL, XSS, command/code, path and XXE twins.
pub static TWIN_GUEST_WASM: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/sentinel_twin_guest.wasm"));

/// The twin's name for a Sentinel class, when there is a twin for it.
pub fn twin_name(class: &str) -> Option<&'static str> {
    match class {
        "sqli" => Some("sql"),
        "xss" => Some("xss"),
        "cmdi" | "code_injection" => Some("cmd"),
        "path_traversal" => Some("path"),
        "xxe" => Some("xxe"),
        _ => None,
    }
}
