//! Link settings of the WebAssembly guest.
//!
//! The module's initial linear memory is 4 MiB instead of the linker's
//! default (stack, data and nothing more), and the guest's allocator
//! (`dlmalloc`, see `src/lib.rs`) uses that room before it grows the memory,
//! so a simulation does not call `memory.grow`. Each growth made the host
//! change the slot's protection (`mprotect`) and take it back when the slot
//! was reused, and taking protection away flushes the TLB of every CPU
//! running the process. Pages the guest never touches cost nothing.

/// The guest's initial linear memory, bytes (a multiple of 64 KiB).
const INITIAL_MEMORY: u32 = 4 << 20;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--initial-memory={INITIAL_MEMORY}");
    }
}
