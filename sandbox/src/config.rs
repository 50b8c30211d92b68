//! Sandbox limits and knobs.

use serde::{Deserialize, Serialize};

/// Limits applied to every simulation, and the engine's pool size.
///
/// In the configuration file this is the `[sandbox]` table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Wall-clock deadline of one simulation, ms (epoch interruption).
    pub timeout_ms: u64,
    /// Fuel budget of one simulation (about one unit per WebAssembly instruction).
    pub fuel: u64,
    /// Largest linear memory a guest may have, bytes.
    pub memory_limit_bytes: usize,
    /// Largest table a guest may have, elements.
    pub table_elements: usize,
    /// WebAssembly stack limit, bytes (deep recursion traps).
    pub max_stack_bytes: usize,
    /// Largest input (class + payload) passed to a guest, bytes.
    pub max_input_bytes: usize,
    /// Largest result a guest may return, bytes.
    pub max_output_bytes: usize,
    /// Instances that may run at once (pooling allocator slots).
    pub pool_slots: u32,
    /// Epoch tick, ms: how often running guests check the deadline and the panic button.
    pub tick_ms: u64,
    /// Freed instance slots whose memory is returned to the OS together
    /// (one TLB shootdown per batch instead of one per simulation).
    pub decommit_batch: usize,
    /// Dirty bytes of a freed linear memory restored in place (`memcpy` of
    /// the initial image, `memset` elsewhere) instead of being returned to
    /// the OS, so that the slot's next simulation does not page-fault them
    /// in again and no TLB shootdown is needed. With `pagemap_scan` the
    /// host finds the pages a guest actually wrote and restores only those
    /// (up to this many bytes); without it, the first this-many bytes of
    /// the memory are zeroed whether written or not. Unset: 4 MiB with the
    /// scan (more than the twins write in one simulation), 0 without it.
    pub memory_keep_resident_bytes: Option<usize>,
    /// Find the pages a guest wrote with Linux's `PAGEMAP_SCAN` ioctl
    /// (kernel 6.7 or later) when a slot is reset; ignored where the
    /// kernel lacks it.
    pub pagemap_scan: bool,
    /// The same for tables.
    pub table_keep_resident_bytes: usize,
    /// Simulation outcomes kept for reuse, keyed by class and payload
    /// (least recently used evicted; 0 turns the cache off). A payload seen
    /// again — scanners and botnets repeat theirs — is not run again: the
    /// outcome of the same module on the same input under the same limits
    /// is deterministic. Outcomes that depend on the moment (deadline, panic
    /// button, full pool) are never kept.
    pub result_cache_entries: usize,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            timeout_ms: 5_000,
            fuel: 200_000_000,
            memory_limit_bytes: 64 << 20,
            table_elements: 10_000,
            max_stack_bytes: 512 << 10,
            max_input_bytes: 64 << 10,
            max_output_bytes: 64 << 10,
            pool_slots: 128,
            tick_ms: 2,
            decommit_batch: 32,
            memory_keep_resident_bytes: None,
            pagemap_scan: true,
            table_keep_resident_bytes: 64 << 10,
            result_cache_entries: 16_384,
        }
    }
}

/// [`SandboxConfig::memory_keep_resident_bytes`] when unset and the
/// `PAGEMAP_SCAN` ioctl is used.
pub const SCANNED_KEEP_RESIDENT_BYTES: usize = 4 << 20;

impl SandboxConfig {
    /// Whether slot resets find written pages with `PAGEMAP_SCAN` (enabled
    /// and supported by the kernel).
    pub fn scans_pagemap(&self) -> bool {
        self.pagemap_scan && wasmtime::PoolingAllocationConfig::is_pagemap_scan_available()
    }

    /// The linear-memory bytes kept resident, after defaults.
    pub fn effective_memory_keep_resident(&self) -> usize {
        match self.memory_keep_resident_bytes {
            Some(bytes) => bytes,
            None if self.scans_pagemap() => SCANNED_KEEP_RESIDENT_BYTES,
            None => 0,
        }
    }

    /// Checks that the limits make sense.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout_ms == 0 || self.fuel == 0 || self.tick_ms == 0 {
            return Err("sandbox timeout_ms, fuel and tick_ms must be positive".into());
        }
        if self.memory_limit_bytes < (1 << 16) {
            return Err("sandbox memory_limit_bytes must be at least one 64 KiB page".into());
        }
        if self.pool_slots == 0 {
            return Err("sandbox pool_slots must be positive".into());
        }
        if self.max_stack_bytes < (64 << 10) {
            return Err("sandbox max_stack_bytes must be at least 64 KiB".into());
        }
        Ok(())
    }
}
