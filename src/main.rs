//! `sentinel` — streaming threat analysis: WAF logs and HTTP evidence in,
//! verdicts and WAF rules out. See `sentinel --help`.

mod cli;
mod progress;
mod summary;

use clap::Parser;

/// mimalloc: the graph allocates many small, short-lived records; glibc's
/// allocator took a quarter of the replay profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
