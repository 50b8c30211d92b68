//! On-disk cache of compiled modules.
//!
//! Compiling the twin guest takes a second or more; the compiled artifact is
//! stored under `DIR/<sha256>.cwasm`, keyed by the module bytes and the
//! engine's compatibility hash (wasmtime version, target, settings), and
//! reused by later processes. Files are written atomically; an unreadable
//! or incompatible entry is recompiled and replaced.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// The cache key of `wasm` compiled by `engine`.
pub fn cache_key(engine: &Engine, wasm: &[u8]) -> String {
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    h.0.update(b"\0sentinel-sandbox-cache-v1\0");
    h.0.update(wasm);
    hex::encode(h.0.finalize())
}

/// Where `wasm`'s compiled form lives in `dir`.
pub fn cache_path(dir: &Path, engine: &Engine, wasm: &[u8]) -> PathBuf {
    dir.join(format!("{}.cwasm", cache_key(engine, wasm)))
}

/// Loads `wasm` compiled, from `dir` when cached, else compiles and stores it.
/// Returns the module and whether it came from the cache.
pub fn load_cached(engine: &Engine, wasm: &[u8], dir: &Path) -> anyhow::Result<(Module, bool)> {
    let path = cache_path(dir, engine, wasm);
    // Read into memory rather than mapping the file: a file truncated or
    // rewritten while mapped would crash the process (SIGBUS).
    if let Ok(bytes) = std::fs::read(&path) {
        // SAFETY: the file was written by `Module::serialize` of this very
        // engine configuration (the key includes its compatibility hash) into
        // Sentinel's own data directory; wasmtime additionally checks the
        // header. A corrupt entry fails to load and is rebuilt below.
        if let Ok(m) = unsafe { Module::deserialize(engine, &bytes) } {
            return Ok((m, true));
        }
    }
    let module = Module::new(engine, wasm).map_err(anyhow::Error::from)?;
    if std::fs::create_dir_all(dir).is_ok() {
        if let Ok(bytes) = module.serialize() {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            if std::fs::write(&tmp, &bytes).is_ok() && std::fs::rename(&tmp, &path).is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
        }
    }
    Ok((module, false))
}
