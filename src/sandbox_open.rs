//! Opening the audit log and the threat-twin sandbox of a data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use sentinel_operators::rule_guard::{RuleGuard, RuleGuardConfig};
use sentinel_operators::simulate::Simulator;
use sentinel_sandbox::{Sandbox, SandboxConfig};
use sentinel_schema::AuditHook;
use sentinel_sinks::AuditLog;

/// Audit segments rotate at this size.
pub const AUDIT_ROTATE_BYTES: u64 = 16 << 20;

/// The audit directory of a data directory.
pub fn audit_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("audit")
}

/// Opens (creating) the hash-chained audit log of `data_dir`. Refuses a
/// log whose chain does not verify.
pub fn open_audit(data_dir: &Path) -> anyhow::Result<Arc<AuditLog>> {
    let dir = audit_dir(data_dir);
    AuditLog::open(&dir, AUDIT_ROTATE_BYTES)
        .map(Arc::new)
        .with_context(|| format!("cannot open the audit log in {}", dir.display()))
}

/// Builds the benign-corpus rule guard (normalizing the generated benign
/// values and any configured files).
pub fn open_rule_guard(config: &RuleGuardConfig) -> anyhow::Result<Arc<RuleGuard>> {
    RuleGuard::from_config(config)
        .map(Arc::new)
        .context("cannot read the benign corpus for the rule guard")
}

/// Starts a sandbox and loads the twins (or a user `module`, `.wasm` or
/// `.wat`), compiling once and caching the compiled module in
/// `data_dir/sandbox/cache`.
pub fn open_simulator(
    data_dir: &Path,
    config: &SandboxConfig,
    module: Option<&Path>,
    audit: Arc<dyn AuditHook>,
    quiet: bool,
) -> anyhow::Result<Arc<Simulator>> {
    let sandbox = Sandbox::new(config.clone(), audit).context("cannot start the sandbox")?;
    let cache = data_dir.join("sandbox").join("cache");
    let bar = crate::models_open::spinner(quiet);
    bar.set_message("loading the threat twins (compiled once, then cached)");
    let loaded = match module {
        None => sandbox.twins(Some(&cache)),
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "module".into());
            sandbox.load(&name, &bytes, Some(&cache))
        }
    };
    bar.finish_and_clear();
    let module = loaded?;
    Ok(Simulator::new(sandbox, module))
}
