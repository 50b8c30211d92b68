//! Builds the threat-twin guest (`sandbox/guests/twin-guest`) from source
//! for `wasm32-unknown-unknown` and places the module in `OUT_DIR`, where
//! `src/guests.rs` embeds it.
//!
//! The guest is built by a nested `cargo build` in its own target directory
//! (`target/wasm-guests`), so it never contends for the outer build's lock,
//! with the workspace's `wasm-guest` profile (`opt-level = 3`, LTO) and the
//! workspace's `Cargo.lock` (`--locked`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const GUEST: &str = "sentinel-twin-guest";
const ARTIFACT: &str = "sentinel_twin_guest.wasm";
const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.parent().expect("workspace root").to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for dir in ["sandbox/guests/twin-guest", "sandbox/guests/twins"] {
        watch(&workspace.join(dir));
    }
    // The lock file pins the guest's dependencies; the workspace manifest
    // holds its profile (`wasm-guest`).
    for file in ["Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", workspace.join(file).display());
    }
    println!("cargo:rerun-if-env-changed=SENTINEL_GUEST_WASM");

    // An explicit prebuilt module (e.g. for cross builds) wins.
    if let Ok(p) = env::var("SENTINEL_GUEST_WASM") {
        std::fs::copy(&p, out_dir.join(ARTIFACT)).unwrap_or_else(|e| panic!("copy {p}: {e}"));
        return;
    }

    let target_dir = target_root(&out_dir).join("wasm-guests");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--locked", "-p", GUEST, "--target", TARGET])
        .args(["--profile", "wasm-guest", "--target-dir"])
        .arg(&target_dir);
    // The outer build's flags (coverage, sanitizers, target features) are
    // not meant for the guest.
    for (k, _) in env::vars() {
        if k == "RUSTFLAGS"
            || k == "CARGO_ENCODED_RUSTFLAGS"
            || k == "CARGO_TARGET_DIR"
            || k == "CARGO_BUILD_TARGET"
            || k == "RUSTC_WRAPPER"
            || k == "RUSTC_WORKSPACE_WRAPPER"
            || k.starts_with("CARGO_PROFILE_")
            || k.starts_with("CARGO_CFG_")
            || k.starts_with("CARGO_FEATURE_")
        {
            cmd.env_remove(&k);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo for the guest: {e}"));
    if !status.success() {
        panic!(
            "building the threat-twin guest for {TARGET} failed ({status}). \
             Is the target installed? Run: rustup target add {TARGET}"
        );
    }
    let built = target_dir.join(TARGET).join("wasm-guest").join(ARTIFACT);
    std::fs::copy(&built, out_dir.join(ARTIFACT))
        .unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
}

/// `target/` of the outer build (OUT_DIR is `target/<profile>/build/<pkg>/out`
/// or `target/<triple>/<profile>/build/<pkg>/out`).
fn target_root(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(|b| b.parent()) // <profile>
        .and_then(|p| p.parent()) // target or target/<triple>
        .map(Path::to_path_buf)
        .unwrap_or_else(|| out_dir.join("guest-target"))
}

fn watch(dir: &Path) {
    for file in ["Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={}", dir.join(file).display());
    }
    let src = dir.join("src");
    if let Ok(entries) = std::fs::read_dir(&src) {
        for e in entries.flatten() {
            println!("cargo:rerun-if-changed={}", e.path().display());
        }
    }
    println!("cargo:rerun-if-changed={}", src.display());
}
