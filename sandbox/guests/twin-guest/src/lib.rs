//! # sentinel-twin-guest
//!
//! The threat twins ([`sentinel_twins`]) as a WebAssembly guest for
//! Sentinel's sandbox. Built by `sandbox/build.rs` for
//! `wasm32-unknown-unknown`; the module has **no imports** (no WASI, no host
//! functions) and implements ABI version 1:
//!
//! | export | signature | meaning |
//! |---|---|---|
//! | `memory` | memory | the guest's linear memory |
//! | `sentinel_abi_version` | `() -> i32` | `1` |
//! | `sentinel_alloc` | `(len: i32) -> i32` | a buffer of `len` bytes for the input (0 = no memory) |
//! | `sentinel_run` | `(ptr: i32, len: i32) -> i64` | runs the input; `(result_ptr << 32) \| result_len`, negative on error |
//!
//! The input is `CLASS "\n" PAYLOAD` (the class name as in Sentinel's
//! verdicts, then the payload's bytes); the result is UTF-8 JSON:
//! `{"exploit": bool, "context": string|null, "contexts": [string], "evidence": [string]}`.
//!
//! Every simulation runs in a fresh instance, so the guest never frees.

use sentinel_twins::Family;

/// The allocator: dlmalloc, which takes the free part of the initial memory
/// before it grows the memory (see `build.rs`).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// ABI version implemented by this guest.
pub const ABI_VERSION: i32 = 1;

/// The twin family for a Sentinel class name (`code_injection` shares the
/// command twin, which also runs template, eval and Log4j sinks).
pub fn family_for(class: &str) -> Option<Family> {
    match class {
        "sqli" => Some(Family::Sql),
        "xss" => Some(Family::Xss),
        "cmdi" | "code_injection" => Some(Family::Command),
        "path_traversal" => Some(Family::Traversal),
        "xxe" => Some(Family::Xxe),
        _ => None,
    }
}

/// Runs one ABI input (`CLASS\nPAYLOAD`) and returns the JSON result.
pub fn simulate(input: &[u8]) -> String {
    let (class, payload) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => (input, &[][..]),
    };
    let class = String::from_utf8_lossy(class);
    let payload = String::from_utf8_lossy(payload);
    let Some(family) = family_for(class.trim()) else {
        return serde_json::json!({
            "exploit": false,
            "context": null,
            "contexts": [],
            "evidence": [format!("no twin for class {:?}", class.trim())],
        })
        .to_string();
    };
    let contexts = sentinel_twins::contexts(family);
    let outcome = sentinel_twins::run(family, &payload);
    serde_json::json!({
        "exploit": outcome.is_some(),
        "context": outcome.as_ref().map(|o| o.context),
        "contexts": contexts,
        "evidence": outcome.map(|o| vec![o.evidence]).unwrap_or_default(),
    })
    .to_string()
}

/// ABI: the version this guest implements.
#[no_mangle]
pub extern "C" fn sentinel_abi_version() -> i32 {
    ABI_VERSION
}

/// ABI: a buffer of `len` bytes the host writes the input into.
#[no_mangle]
pub extern "C" fn sentinel_alloc(len: i32) -> i32 {
    let Ok(len) = usize::try_from(len) else {
        return 0;
    };
    let buf: &'static mut [u8] = Vec::leak(vec![0u8; len]);
    buf.as_mut_ptr() as usize as i32
}

/// ABI: runs the input at `ptr..ptr+len`; returns the result's pointer and
/// length packed as `(ptr << 32) | len`, or -1 for an invalid buffer.
///
/// # Safety
/// `ptr..ptr+len` must be a buffer returned by [`sentinel_alloc`]; the host
/// guarantees it (and anything else can only corrupt this instance's own
/// memory, never the host's).
#[no_mangle]
pub unsafe extern "C" fn sentinel_run(ptr: i32, len: i32) -> i64 {
    let (Ok(p), Ok(n)) = (usize::try_from(ptr), usize::try_from(len)) else {
        return -1;
    };
    if p == 0 && n > 0 {
        return -1;
    }
    // SAFETY: the host wrote `len` bytes at `ptr`, inside memory this guest allocated.
    let input = unsafe { std::slice::from_raw_parts(p as *const u8, n) };
    let out = simulate(input).into_bytes().leak();
    ((out.as_ptr() as usize as i64) << 32) | out.len() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_tautology_is_confirmed() {
        let r: serde_json::Value = serde_json::from_str(&simulate(b"sqli\n1' OR '1'='1")).unwrap();
        assert_eq!(r["exploit"], true);
        assert!(r["contexts"].as_array().unwrap().len() >= 3);
        assert!(r["context"].is_string());
    }

    #[test]
    fn benign_and_unknown_classes() {
        let r: serde_json::Value = serde_json::from_str(&simulate(b"xss\nhello world")).unwrap();
        assert_eq!(r["exploit"], false);
        let r: serde_json::Value = serde_json::from_str(&simulate(b"csrf\nx")).unwrap();
        assert_eq!(r["exploit"], false);
        assert_eq!(r["contexts"].as_array().unwrap().len(), 0);
        let r: serde_json::Value = serde_json::from_str(&simulate(b"no newline")).unwrap();
        assert_eq!(r["exploit"], false);
    }
}
