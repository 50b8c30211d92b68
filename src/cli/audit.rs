//! `sentinel audit`: verify and read the hash-chained audit log.

use std::io::Write;

use sentinel_sinks::audit_log::{segments, verify};

use super::DataDir;

/// Arguments of `sentinel audit`.
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: AuditCommand,
}

#[derive(clap::Subcommand, Debug)]
enum AuditCommand {
    /// Verify the whole chain: exit 0 when intact, 2 naming the first bad record.
    ///
    /// Example: sentinel audit verify
    Verify {
        #[command(flatten)]
        data: DataDir,
    },
    /// Print the last records (JSON Lines).
    ///
    /// Example: sentinel audit tail -n 20
    Tail {
        #[command(flatten)]
        data: DataDir,
        /// How many records.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
}

/// Runs the command.
pub fn run(a: AuditArgs) -> anyhow::Result<i32> {
    match a.command {
        AuditCommand::Verify { data } => {
            let dir = crate::sandbox_open::audit_dir(&data.data_dir);
            match verify(&dir) {
                Ok(s) => {
                    println!(
                        "ok: {} records in {} segment{}, chain intact (last hash {})",
                        s.records,
                        s.segments,
                        if s.segments == 1 { "" } else { "s" },
                        s.last_hash
                    );
                    Ok(0)
                }
                Err(f) => {
                    println!("TAMPERED: {f}");
                    Ok(2)
                }
            }
        }
        AuditCommand::Tail { data, lines } => {
            let dir = crate::sandbox_open::audit_dir(&data.data_dir);
            let mut all: Vec<String> = Vec::new();
            for seg in segments(&dir)? {
                all.extend(std::fs::read_to_string(&seg)?.lines().map(String::from));
            }
            let mut out = std::io::stdout().lock();
            for l in &all[all.len().saturating_sub(lines)..] {
                writeln!(out, "{l}")?;
            }
            Ok(0)
        }
    }
}
