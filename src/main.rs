//! `sentinel` — streaming threat analysis: WAF logs and HTTP evidence in,
//! verdicts and WAF rules out. See `sentinel --help`.

mod cli;
mod config;
mod learner;
mod models_open;
mod progress;
mod sandbox_open;
mod serve;
mod summary;

use clap::Parser;

/// mimalloc: the graph allocates many small, short-lived records; glibc's
/// allocator took a quarter of the replay profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Operational logs go to standard error; RUST_LOG overrides the level.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
