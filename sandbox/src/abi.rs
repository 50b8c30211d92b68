//! The guest ABI (version 1): exports only, no imports.
//!
//! A guest module must export `memory`, `sentinel_abi_version: () -> i32`
//! (returning 1), `sentinel_alloc: (i32) -> i32` and
//! `sentinel_run: (i32, i32) -> i64`, and must import **nothing**. The host
//! calls `sentinel_alloc(len)`, writes the input (`CLASS "\n" PAYLOAD`) at
//! the returned pointer, calls `sentinel_run(ptr, len)` and reads the UTF-8
//! JSON result at `(ret >> 32, ret & 0xffff_ffff)`:
//! `{"exploit": bool, "context": string|null, "contexts": [string], "evidence": [string]}`.

use serde::{Deserialize, Serialize};
use wasmtime::{ExternType, Module, ValType};

/// The ABI version this host speaks.
pub const ABI_VERSION: i32 = 1;

/// Export names.
pub mod exports {
    /// The guest's linear memory.
    pub const MEMORY: &str = "memory";
    /// `() -> i32`: the ABI version.
    pub const VERSION: &str = "sentinel_abi_version";
    /// `(len: i32) -> i32`: an input buffer.
    pub const ALLOC: &str = "sentinel_alloc";
    /// `(ptr: i32, len: i32) -> i64`: run; packed result pointer and length.
    pub const RUN: &str = "sentinel_run";
}

/// Why a module was refused at load time.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AbiError {
    /// The module imports something (the ABI allows no imports).
    #[error("module imports {module}::{name}; the sandbox ABI allows no imports")]
    Import {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A required export is missing or has the wrong type.
    #[error("module must export {name} as {expected}")]
    Export {
        /// Export name.
        name: &'static str,
        /// Expected type, for people.
        expected: &'static str,
    },
}

fn is_func(ty: Option<ExternType>, params: &[ValType], results: &[ValType]) -> bool {
    let Some(ExternType::Func(f)) = ty else {
        return false;
    };
    let p: Vec<ValType> = f.params().collect();
    let r: Vec<ValType> = f.results().collect();
    p.len() == params.len()
        && r.len() == results.len()
        && p.iter().zip(params).all(|(a, b)| ValType::eq(a, b))
        && r.iter().zip(results).all(|(a, b)| ValType::eq(a, b))
}

/// Checks a compiled module against the ABI: no imports, the four exports.
pub fn check_module(module: &Module) -> Result<(), AbiError> {
    if let Some(i) = module.imports().next() {
        return Err(AbiError::Import {
            module: i.module().to_string(),
            name: i.name().to_string(),
        });
    }
    if !matches!(
        module.get_export(exports::MEMORY),
        Some(ExternType::Memory(_))
    ) {
        return Err(AbiError::Export {
            name: exports::MEMORY,
            expected: "a memory",
        });
    }
    let checks: [(&'static str, &[ValType], &[ValType], &'static str); 3] = [
        (exports::VERSION, &[], &[ValType::I32], "func () -> i32"),
        (
            exports::ALLOC,
            &[ValType::I32],
            &[ValType::I32],
            "func (i32) -> i32",
        ),
        (
            exports::RUN,
            &[ValType::I32, ValType::I32],
            &[ValType::I64],
            "func (i32, i32) -> i64",
        ),
    ];
    for (name, p, r, expected) in checks {
        if !is_func(module.get_export(name), p, r) {
            return Err(AbiError::Export { name, expected });
        }
    }
    Ok(())
}

/// The input a guest receives: the class name, a newline, the payload.
pub fn encode_input(class: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(class.len() + 1 + payload.len());
    v.extend_from_slice(class.as_bytes());
    v.push(b'\n');
    v.extend_from_slice(payload);
    v
}

/// Splits `sentinel_run`'s return value into (pointer, length); `None` for
/// the error value (negative).
pub fn unpack_result(ret: i64) -> Option<(u32, u32)> {
    if ret < 0 {
        return None;
    }
    let r = ret as u64;
    Some(((r >> 32) as u32, (r & 0xffff_ffff) as u32))
}

/// A guest's verdict on one payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestReport {
    /// True when some context was exploited.
    pub exploit: bool,
    /// The context that broke.
    #[serde(default)]
    pub context: Option<String>,
    /// Every context tried.
    #[serde(default)]
    pub contexts: Vec<String>,
    /// Structured evidence (AST node kinds, injected elements, resolved paths, ...).
    #[serde(default)]
    pub evidence: Vec<String>,
}

/// Parses a guest's result bytes.
pub fn parse_report(bytes: &[u8]) -> Result<GuestReport, String> {
    serde_json::from_slice(bytes).map_err(|e| format!("guest result is not ABI JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn packing() {
        assert_eq!(unpack_result(-1), None);
        assert_eq!(unpack_result((5i64 << 32) | 7), Some((5, 7)));
        assert_eq!(encode_input("sqli", b"1 or 1=1"), b"sqli\n1 or 1=1");
    }

    #[test]
    fn reports() {
        let r = parse_report(
            br#"{"exploit":true,"context":"string","contexts":["string"],"evidence":["x"]}"#,
        )
        .unwrap();
        assert!(r.exploit);
        assert!(parse_report(b"{\"exploit\":1}").is_err());
        assert!(parse_report(br#"{"exploit":false,"extra":1}"#).is_err());
    }

    proptest! {
        #[test]
        fn parse_report_never_panics(b in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_report(&b);
        }
    }
}
