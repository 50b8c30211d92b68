//! `sentinel rules`: review generated rules in a rules directory — list,
//! show, approve, reject, roll back (retract). Every decision is a new
//! rule version, audited, and optionally published to the rule topic so
//! that Kafka-fed gatekeepers see it too.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use comfy_table::Cell;

use sentinel_operators::gatekeeper::review;
use sentinel_schema::{RuleAction, RuleStatus, WafRule, SCHEMA_VERSION};
use sentinel_sinks::kafka::{KafkaProducer, ProducerSettings};
use sentinel_sinks::RulesDir;

use super::DataDir;
use crate::summary::table;

/// Arguments of `sentinel rules`.
#[derive(clap::Args, Debug)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

/// Where the rules are.
#[derive(clap::Args, Debug, Clone)]
struct RulesLocation {
    /// The rules directory (written by `sentinel replay --rules-dir`).
    #[arg(long, value_name = "DIR", default_value = "sentinel-rules")]
    dir: PathBuf,
}

/// A review decision's options.
#[derive(clap::Args, Debug, Clone)]
struct Decision {
    #[command(flatten)]
    rules: RulesLocation,
    #[command(flatten)]
    data: DataDir,
    /// The rule: its rule id (or a unique prefix) or its ModSecurity id.
    rule: String,
    /// Who decides (recorded in the audit log).
    #[arg(long, env = "USER", default_value = "analyst")]
    actor: String,
    /// Why (recorded in the audit log).
    #[arg(long, default_value = "")]
    reason: String,
    /// Also publish the new version to this Kafka cluster's rule topic.
    #[arg(long)]
    brokers: Option<String>,
    /// The rule topic.
    #[arg(long, default_value = "events.rule_generated")]
    topic: String,
}

#[derive(clap::Subcommand, Debug)]
enum RulesCommand {
    /// The newest version of every rule.
    ///
    /// Example: sentinel rules list --dir sentinel-rules --status proposed
    List {
        #[command(flatten)]
        rules: RulesLocation,
        /// Only rules with this status (auto_applied, proposed, log_only, approved, rejected, retracted).
        #[arg(long)]
        status: Option<String>,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One rule: its newest version and history.
    ///
    /// Example: sentinel rules show 4213377
    Show {
        #[command(flatten)]
        rules: RulesLocation,
        /// Rule id (or unique prefix) or ModSecurity id.
        rule: String,
    },
    /// Approve a proposed rule: the gatekeeper applies it.
    ///
    /// Example: sentinel rules approve 4213377 --action block
    Approve {
        #[command(flatten)]
        decision: Decision,
        /// The action once approved (default: the rule's own).
        #[arg(long, value_enum)]
        action: Option<ActionArg>,
    },
    /// Reject a rule: the gatekeeper never applies it.
    Reject {
        #[command(flatten)]
        decision: Decision,
    },
    /// Roll a rule back: publish a retraction that gatekeepers honour.
    ///
    /// Example: sentinel rules rollback 4213377 --reason "blocks the search box"
    Rollback {
        #[command(flatten)]
        decision: Decision,
    },
}

/// `--action` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ActionArg {
    Block,
    Challenge,
    Tag,
}

impl From<ActionArg> for RuleAction {
    fn from(a: ActionArg) -> Self {
        match a {
            ActionArg::Block => RuleAction::Block,
            ActionArg::Challenge => RuleAction::Challenge,
            ActionArg::Tag => RuleAction::Tag,
        }
    }
}

fn find(
    latest: &std::collections::BTreeMap<String, WafRule>,
    key: &str,
) -> anyhow::Result<WafRule> {
    let by_modsec: Vec<&WafRule> = match key.parse::<u64>() {
        Ok(n) => latest.values().filter(|r| r.modsec_id == n).collect(),
        Err(_) => Vec::new(),
    };
    let found: Vec<&WafRule> = if by_modsec.is_empty() {
        latest
            .values()
            .filter(|r| r.rule_id.starts_with(key))
            .collect()
    } else {
        by_modsec
    };
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => bail!("no rule {key:?}"),
        many => bail!(
            "{key:?} matches {} rules; give more of the rule id",
            many.len()
        ),
    }
}

fn decide(d: &Decision, status: RuleStatus, action: Option<RuleAction>) -> anyhow::Result<i32> {
    let dir = RulesDir::open(&d.rules.dir).map_err(anyhow::Error::msg)?;
    let latest = dir.latest().map_err(anyhow::Error::msg)?;
    let current = find(&latest, &d.rule)?;
    if current.status == status && action.is_none_or(|a| a == current.action) {
        println!(
            "rule {} (id {}) is already {} in version {}",
            current.rule_id,
            current.modsec_id,
            status.as_str(),
            current.version
        );
        return Ok(0);
    }
    let next = review(&current, status, action);
    let path = dir.write(&next).map_err(anyhow::Error::msg)?;
    let audit = crate::sandbox_open::open_audit(&d.data.data_dir)?;
    sentinel_schema::AuditHook::audit(
        audit.as_ref(),
        &d.actor,
        &format!("rule.{}", status.as_str()),
        &next.rule_id,
        serde_json::json!({"modsec_id": next.modsec_id, "version": next.version,
            "previous_status": current.status.as_str(), "action": next.action,
            "reason": d.reason}),
    );
    if let Some(brokers) = &d.brokers {
        let mut p = KafkaProducer::new(
            &ProducerSettings {
                brokers: brokers.clone(),
                properties: Default::default(),
            },
            SCHEMA_VERSION,
        )?;
        p.send(
            &d.topic,
            "waf_rule",
            0,
            &next.rule_id,
            &serde_json::to_vec(&next)?,
        )
        .context("publishing the rule version")?;
        p.flush(Duration::from_secs(30))
            .context("publishing the rule version")?;
    }
    println!(
        "rule {} (id {}) is now {} (version {}, action {:?}): {}",
        next.rule_id,
        next.modsec_id,
        status.as_str(),
        next.version,
        next.action,
        path.display()
    );
    Ok(0)
}

/// Runs the command.
pub fn run(a: RulesArgs) -> anyhow::Result<i32> {
    match a.command {
        RulesCommand::List {
            rules,
            status,
            json,
        } => {
            let dir = RulesDir::open(&rules.dir).map_err(anyhow::Error::msg)?;
            let mut latest: Vec<WafRule> = dir
                .latest()
                .map_err(anyhow::Error::msg)?
                .into_values()
                .filter(|r| status.as_deref().is_none_or(|s| r.status.as_str() == s))
                .collect();
            latest.sort_by_key(|r| r.modsec_id);
            let mut out = std::io::stdout().lock();
            if json {
                for r in &latest {
                    writeln!(out, "{}", serde_json::to_string(r)?)?;
                }
                return Ok(0);
            }
            let mut t = table(&[
                "id",
                "rule",
                "v",
                "class",
                "status",
                "action",
                "conf",
                "variables",
                "pattern",
            ]);
            for r in &latest {
                t.add_row(vec![
                    Cell::new(r.modsec_id),
                    Cell::new(&r.rule_id[..12.min(r.rule_id.len())]),
                    Cell::new(r.version),
                    Cell::new(r.class.as_str()),
                    Cell::new(r.status.as_str()),
                    Cell::new(format!("{:?}", r.action).to_lowercase()),
                    Cell::new(format!("{:.2}", r.confidence)),
                    Cell::new(r.variables.join("|")),
                    Cell::new(r.pattern.chars().take(48).collect::<String>()),
                ]);
            }
            writeln!(out, "{t}")?;
            Ok(0)
        }
        RulesCommand::Show { rules, rule } => {
            let dir = RulesDir::open(&rules.dir).map_err(anyhow::Error::msg)?;
            let all = dir.load_all().map_err(anyhow::Error::msg)?;
            let latest = sentinel_sinks::latest_versions(all.clone());
            let r = find(&latest, &rule)?;
            let mut history: Vec<&WafRule> =
                all.iter().filter(|x| x.rule_id == r.rule_id).collect();
            history.sort_by_key(|x| x.version);
            println!("{}", serde_json::to_string_pretty(&r)?);
            println!("\nhistory:");
            for h in history {
                println!(
                    "  v{} {} {:?} confidence {:.2}",
                    h.version,
                    h.status.as_str(),
                    h.action,
                    h.confidence
                );
            }
            Ok(0)
        }
        RulesCommand::Approve { decision, action } => decide(
            &decision,
            RuleStatus::Approved,
            action.map(RuleAction::from),
        ),
        RulesCommand::Reject { decision } => decide(&decision, RuleStatus::Rejected, None),
        RulesCommand::Rollback { decision } => decide(&decision, RuleStatus::Retracted, None),
    }
}
