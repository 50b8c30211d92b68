//! The wasmtime host: one engine, modules compiled once, an instance per
//! simulation, and every limit enforced by wasmtime rather than trusted to
//! the guest.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sentinel_schema::{AuditHook, NoAudit};
use serde_json::json;
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, ResourceLimiter, Store, Trap, UpdateDeadline,
};

use crate::abi::{self, check_module, encode_input, parse_report, unpack_result, GuestReport};
use crate::block_on::block_on;
use crate::cache::load_cached;
use crate::control::{Control, SandboxHealth};
use crate::SandboxConfig;

/// Why a simulation did not produce a report. Every variant is a contained
/// failure: the host keeps serving.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimFailure {
    /// The panic button is pressed; nothing new starts until re-armed.
    #[error("refused: the sandbox panic button is pressed")]
    Refused,
    /// Stopped by the panic button while running.
    #[error("interrupted by the panic button")]
    Interrupted,
    /// The wall-clock deadline passed.
    #[error("timed out after {0} ms")]
    Timeout(u64),
    /// The fuel budget ran out.
    #[error("fuel budget of {0} exhausted")]
    OutOfFuel(u64),
    /// The guest tried to grow its memory beyond the limit.
    #[error("memory limit of {0} bytes reached")]
    MemoryLimit(usize),
    /// The guest tried to grow a table beyond the limit.
    #[error("table limit of {0} elements reached")]
    TableLimit(usize),
    /// The guest's call stack exceeded the stack limit.
    #[error("stack limit exceeded (unbounded recursion)")]
    StackOverflow,
    /// The guest trapped (`unreachable`, out-of-bounds access, a Rust panic, ...).
    #[error("guest trapped: {0}")]
    Trap(String),
    /// The input exceeds `max_input_bytes`.
    #[error("input of {0} bytes exceeds the limit of {1}")]
    InputTooLarge(usize, usize),
    /// The guest returned more than `max_output_bytes`.
    #[error("guest output of {0} bytes exceeds the limit of {1}")]
    OutputTooLarge(usize, usize),
    /// The guest broke the ABI (bad pointers, invalid JSON, error return).
    #[error("guest broke the ABI: {0}")]
    BadOutput(String),
    /// No instance could be created (pool exhausted, ...).
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
}

impl SimFailure {
    /// Whether the same module, input and limits always fail this way
    /// (fuel, memory, table and stack limits, traps, size limits, ABI
    /// breaks), as opposed to failures that depend on the moment: the
    /// panic button, the wall-clock deadline, a full instance pool.
    pub fn is_deterministic(&self) -> bool {
        !matches!(
            self,
            SimFailure::Refused
                | SimFailure::Interrupted
                | SimFailure::Timeout(_)
                | SimFailure::Instantiate(_)
        )
    }

    /// A short machine-readable kind (`timeout`, `fuel`, `memory`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            SimFailure::Refused => "refused",
            SimFailure::Interrupted => "interrupted",
            SimFailure::Timeout(_) => "timeout",
            SimFailure::OutOfFuel(_) => "fuel",
            SimFailure::MemoryLimit(_) => "memory",
            SimFailure::TableLimit(_) => "table",
            SimFailure::StackOverflow => "stack",
            SimFailure::Trap(_) => "trap",
            SimFailure::InputTooLarge(..) => "input_too_large",
            SimFailure::OutputTooLarge(..) => "output_too_large",
            SimFailure::BadOutput(_) => "abi",
            SimFailure::Instantiate(_) => "instantiate",
        }
    }
}

/// One simulation's outcome with its cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    /// The guest's report, or why there is none.
    pub report: Result<GuestReport, SimFailure>,
    /// Wall time including instantiation.
    pub duration: Duration,
    /// Fuel the guest consumed (deterministic for a given module and input).
    pub fuel_used: u64,
}

/// A module that passed the ABI check, ready to instantiate.
#[derive(Clone)]
pub struct GuestModule {
    name: String,
    sha256: String,
    pre: InstancePre<StoreState>,
}

impl std::fmt::Debug for GuestModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestModule")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl GuestModule {
    /// The module's name (`twins` for the built-in guest, else the file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// SHA-256 of the module bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// What stopped a guest, recorded by the host side before the trap unwinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Panic,
    Timeout,
    Memory,
    Table,
}

/// Per-instance host state: resource limits and the reason for a stop.
struct StoreState {
    memory_limit: usize,
    table_limit: usize,
    stop: Option<Stop>,
    just_yielded: bool,
}

impl ResourceLimiter for StoreState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.stop = Some(Stop::Memory);
            wasmtime::bail!("memory limit reached");
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_limit {
            self.stop = Some(Stop::Table);
            wasmtime::bail!("table limit reached");
        }
        Ok(true)
    }
}

struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The sandbox host. Cheap to clone; every clone shares the engine, the
/// limits, the panic button and the counters.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
    linker: Arc<Linker<StoreState>>,
    config: Arc<SandboxConfig>,
    control: Arc<Control>,
    audit: Arc<dyn AuditHook>,
    _ticker: Arc<Mutex<Ticker>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("config", &self.config)
            .field("health", &self.health())
            .finish()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Sandbox {
    /// A sandbox with `config`, reporting lifecycle events to `audit`.
    pub fn new(config: SandboxConfig, audit: Arc<dyn AuditHook>) -> anyhow::Result<Sandbox> {
        config.validate().map_err(anyhow::Error::msg)?;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(config.pool_slots)
            .total_memories(config.pool_slots)
            .total_tables(config.pool_slots)
            .total_stacks(config.pool_slots)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .max_memory_size(config.memory_limit_bytes)
            .table_elements(config.table_elements)
            // Every madvise of a freed slot flushes the TLB of every CPU
            // running the process (an IPI): with simulations on two workers
            // that cost 7 % of each worker's time. With PAGEMAP_SCAN the
            // pages a guest wrote are restored in place and nothing is
            // returned to the OS; without it, decommits are batched.
            .decommit_batch_size(config.decommit_batch.max(1))
            .pagemap_scan(if config.scans_pagemap() {
                Enabled::Yes
            } else {
                Enabled::No
            })
            .linear_memory_keep_resident(config.effective_memory_keep_resident())
            .table_keep_resident(config.table_keep_resident_bytes);
        let mut wc = Config::new();
        wc.consume_fuel(true)
            .epoch_interruption(true)
            .max_wasm_stack(config.max_stack_bytes)
            .async_stack_size(config.max_stack_bytes + (256 << 10))
            .memory_reservation(config.memory_limit_bytes as u64)
            .memory_reservation_for_growth(0)
            .memory_guard_size(64 << 10)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wc)
            .map_err(anyhow::Error::from)
            .context("creating the wasmtime engine")?;
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (engine, stop, tick) = (
                engine.clone(),
                stop.clone(),
                Duration::from_millis(config.tick_ms),
            );
            std::thread::Builder::new()
                .name("sandbox-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(tick);
                        engine.increment_epoch();
                    }
                })
                .context("starting the epoch ticker")?
        };
        // No host functions at all: the linker stays empty, so a module can
        // only be instantiated when it imports nothing.
        let linker = Linker::new(&engine);
        // The configuration, and how freed slots are reset on this host
        // (the scan depends on the kernel).
        let mut started = serde_json::to_value(&config).unwrap_or_default();
        if let Some(fields) = started.as_object_mut() {
            fields.insert("pagemap_scan_active".into(), config.scans_pagemap().into());
            fields.insert(
                "memory_keep_resident_effective".into(),
                config.effective_memory_keep_resident().into(),
            );
        }
        audit.audit("sandbox", "sandbox.started", "engine", started);
        Ok(Sandbox {
            engine,
            linker: Arc::new(linker),
            config: Arc::new(config),
            control: Arc::new(Control::default()),
            audit,
            _ticker: Arc::new(Mutex::new(Ticker {
                stop,
                handle: Some(handle),
            })),
        })
    }

    /// A sandbox with default limits and no audit log.
    pub fn with_defaults() -> anyhow::Result<Sandbox> {
        Sandbox::new(SandboxConfig::default(), Arc::new(NoAudit))
    }

    /// The limits in force.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Compiles (or loads from `cache_dir`) and checks a module: it must
    /// import nothing, export the ABI and answer the ABI version. Accepts
    /// binary WebAssembly or the text format.
    pub fn load(
        &self,
        name: &str,
        wasm: &[u8],
        cache_dir: Option<&Path>,
    ) -> anyhow::Result<GuestModule> {
        let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(wasm));
        let result = self.load_checked(name, wasm, cache_dir);
        match &result {
            Ok((_, cached)) => self.audit.audit(
                "sandbox",
                "sandbox.module_loaded",
                name,
                json!({"sha256": sha256, "from_cache": cached}),
            ),
            Err(e) => self.audit.audit(
                "sandbox",
                "sandbox.module_refused",
                name,
                json!({"sha256": sha256, "reason": format!("{e:#}")}),
            ),
        }
        let (pre, _) = result?;
        Ok(GuestModule {
            name: name.to_string(),
            sha256,
            pre,
        })
    }

    fn load_checked(
        &self,
        name: &str,
        wasm: &[u8],
        cache_dir: Option<&Path>,
    ) -> anyhow::Result<(InstancePre<StoreState>, bool)> {
        let (module, cached) = match cache_dir {
            Some(dir) => load_cached(&self.engine, wasm, dir)?,
            None => (
                Module::new(&self.engine, wasm).map_err(anyhow::Error::from)?,
                false,
            ),
        };
        check_module(&module).with_context(|| format!("module {name} refused"))?;
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("module {name} refused"))?;
        // The version handshake runs under the same limits as a simulation.
        let mut store = self.store();
        let version = block_on(async {
            let instance = pre.instantiate_async(&mut store).await?;
            let f = instance.get_typed_func::<(), i32>(&mut store, abi::exports::VERSION)?;
            f.call_async(&mut store, ()).await
        })
        .map_err(anyhow::Error::from)
        .with_context(|| format!("module {name}: ABI version handshake failed"))?;
        if version != abi::ABI_VERSION {
            anyhow::bail!(
                "module {name} speaks ABI version {version}; this host speaks {}",
                abi::ABI_VERSION
            );
        }
        Ok((pre, cached))
    }

    /// The built-in threat twins (compiled once; cached in `cache_dir` when given).
    pub fn twins(&self, cache_dir: Option<&Path>) -> anyhow::Result<GuestModule> {
        self.load("twins", crate::guests::TWIN_GUEST_WASM, cache_dir)
    }

    fn store(&self) -> Store<StoreState> {
        let mut store = Store::new(
            &self.engine,
            StoreState {
                memory_limit: self.config.memory_limit_bytes,
                table_limit: self.config.table_elements,
                stop: None,
                just_yielded: false,
            },
        );
        store.limiter(|s| s as &mut dyn ResourceLimiter);
        // Fuel is always enabled on this engine; the budget is per store.
        let _ = store.set_fuel(self.config.fuel);
        let generation = self.control.generation();
        let control = self.control.clone();
        let started = Instant::now();
        let timeout = Duration::from_millis(self.config.timeout_ms);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            if control.generation() != generation {
                ctx.data_mut().stop = Some(Stop::Panic);
                return Ok(UpdateDeadline::Interrupt);
            }
            if started.elapsed() >= timeout {
                ctx.data_mut().stop = Some(Stop::Timeout);
                return Ok(UpdateDeadline::Interrupt);
            }
            // Wasmtime sets the new deadline relative to the epoch when the
            // guest *resumes*. Yielding with a zero delta makes the first
            // check after resuming come back here, so a panic pressed while
            // the guest was suspended stops it at once instead of one tick
            // later; that second visit then continues for a full tick.
            let state = ctx.data_mut();
            state.just_yielded = !state.just_yielded;
            Ok(if state.just_yielded {
                UpdateDeadline::Yield(0)
            } else {
                UpdateDeadline::Continue(1)
            })
        });
        store
    }

    /// Runs `payload` as `class` in a fresh instance of `module`, on this
    /// thread. See [`Sandbox::simulate_async`].
    pub fn simulate(&self, module: &GuestModule, class: &str, payload: &[u8]) -> Simulation {
        block_on(self.simulate_async(module, class, payload))
    }

    /// Runs `payload` as `class` in a fresh instance of `module`. Guests
    /// yield to the executor at every epoch tick, so many simulations can
    /// share a few threads and the panic button reaches all of them at once.
    pub async fn simulate_async(
        &self,
        module: &GuestModule,
        class: &str,
        payload: &[u8],
    ) -> Simulation {
        let t0 = Instant::now();
        // The store captures the panic generation before the armed check,
        // so a press between the two still interrupts this simulation.
        let mut store = self.store();
        if !self.control.armed() {
            self.control.refused();
            return Simulation {
                report: Err(SimFailure::Refused),
                duration: t0.elapsed(),
                fuel_used: 0,
            };
        }
        let input = encode_input(class, payload);
        if input.len() > self.config.max_input_bytes {
            return Simulation {
                report: Err(SimFailure::InputTooLarge(
                    input.len(),
                    self.config.max_input_bytes,
                )),
                duration: t0.elapsed(),
                fuel_used: 0,
            };
        }
        self.control.start();
        let outcome = self.run(module, &mut store, &input).await;
        let fuel_used = self
            .config
            .fuel
            .saturating_sub(store.get_fuel().unwrap_or(0));
        let report = outcome.map_err(|e| self.classify(e, store.data().stop));
        let interrupted = matches!(report, Err(SimFailure::Interrupted));
        self.control
            .finish(report.as_ref().ok().map(|r| r.exploit), interrupted);
        if let Err(f) = &report {
            if !interrupted {
                self.audit.audit(
                    "sandbox",
                    "sandbox.contained",
                    module.name(),
                    json!({"kind": f.kind(), "error": f.to_string(), "class": class,
                           "module_sha256": module.sha256(), "fuel_used": fuel_used}),
                );
            }
        }
        Simulation {
            report,
            duration: t0.elapsed(),
            fuel_used,
        }
    }

    async fn run(
        &self,
        module: &GuestModule,
        store: &mut Store<StoreState>,
        input: &[u8],
    ) -> Result<GuestReport, RunError> {
        let instance = module
            .pre
            .instantiate_async(&mut *store)
            .await
            .map_err(RunError::Instantiate)?;
        let memory = instance
            .get_memory(&mut *store, abi::exports::MEMORY)
            .ok_or_else(|| RunError::Abi("no memory export".into()))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut *store, abi::exports::ALLOC)
            .map_err(|e| RunError::Abi(e.to_string()))?;
        let run = instance
            .get_typed_func::<(i32, i32), i64>(&mut *store, abi::exports::RUN)
            .map_err(|e| RunError::Abi(e.to_string()))?;
        let len = i32::try_from(input.len()).map_err(|_| RunError::Abi("input too long".into()))?;
        let ptr = alloc
            .call_async(&mut *store, len)
            .await
            .map_err(RunError::Wasm)?;
        if ptr == 0 && len > 0 {
            return Err(RunError::Abi("sentinel_alloc returned 0".into()));
        }
        memory
            .write(&mut *store, ptr as u32 as usize, input)
            .map_err(|_| RunError::Abi("sentinel_alloc returned a buffer outside memory".into()))?;
        let ret = run
            .call_async(&mut *store, (ptr, len))
            .await
            .map_err(RunError::Wasm)?;
        let (p, n) = unpack_result(ret)
            .ok_or_else(|| RunError::Abi(format!("sentinel_run returned error {ret}")))?;
        let n = n as usize;
        if n > self.config.max_output_bytes {
            return Err(RunError::OutputTooLarge(n));
        }
        let mut buf = vec![0u8; n];
        memory
            .read(&*store, p as usize, &mut buf)
            .map_err(|_| RunError::Abi("result outside the guest's memory".into()))?;
        parse_report(&buf).map_err(RunError::Abi)
    }

    fn classify(&self, e: RunError, stop: Option<Stop>) -> SimFailure {
        match stop {
            Some(Stop::Panic) => return SimFailure::Interrupted,
            Some(Stop::Timeout) => return SimFailure::Timeout(self.config.timeout_ms),
            Some(Stop::Memory) => return SimFailure::MemoryLimit(self.config.memory_limit_bytes),
            Some(Stop::Table) => return SimFailure::TableLimit(self.config.table_elements),
            None => {}
        }
        match e {
            RunError::Abi(m) => SimFailure::BadOutput(m),
            RunError::OutputTooLarge(n) => {
                SimFailure::OutputTooLarge(n, self.config.max_output_bytes)
            }
            RunError::Instantiate(e) => SimFailure::Instantiate(format!("{e:#}")),
            RunError::Wasm(e) => match e.downcast_ref::<Trap>() {
                Some(Trap::StackOverflow) => SimFailure::StackOverflow,
                Some(Trap::OutOfFuel) => SimFailure::OutOfFuel(self.config.fuel),
                Some(Trap::Interrupt) => SimFailure::Timeout(self.config.timeout_ms),
                Some(t) => SimFailure::Trap(t.to_string()),
                None => SimFailure::Trap(format!("{e:#}")),
            },
        }
    }

    /// Presses the panic button: every running simulation is interrupted at
    /// its next epoch check (immediately: the epoch is advanced now) and new
    /// ones are refused until [`Sandbox::rearm`]. Returns how many were running.
    pub fn panic(&self, actor: &str) -> i64 {
        let running = self.control.health().running;
        self.control.press(now_ms());
        self.engine.increment_epoch();
        self.audit.audit(
            actor,
            "sandbox.panic",
            "sandbox",
            json!({"running": running}),
        );
        running
    }

    /// Re-arms the sandbox after a panic.
    pub fn rearm(&self, actor: &str) {
        if self.control.rearm() {
            self.audit
                .audit(actor, "sandbox.rearmed", "sandbox", json!({}));
        }
    }

    /// Waits until no simulation is running, up to `limit`; how long it took.
    pub fn wait_idle(&self, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        while self.control.health().running > 0 {
            if t0.elapsed() > limit {
                return None;
            }
            std::thread::yield_now();
        }
        Some(t0.elapsed())
    }

    /// False while the panic button is pressed (until re-armed).
    pub fn armed(&self) -> bool {
        self.control.armed()
    }

    /// Counts and state.
    pub fn health(&self) -> SandboxHealth {
        self.control.health()
    }
}

/// An error inside one run, before classification.
enum RunError {
    Instantiate(wasmtime::Error),
    Wasm(wasmtime::Error),
    Abi(String),
    OutputTooLarge(usize),
}
