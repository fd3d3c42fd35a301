//! `billrun email RUN [--dry-run DIR] [--resend NUMBER…] [--limit N] [--arrived NUMBER…]` (docs/commands.md#email).
//!
//! The work is `ops::email`. Exit 0 when every message went; 5 when any
//! failed (the others still went); 3 when nothing failed but some invoices
//! were interrupted mid-send earlier and need the operator.

use super::output::{self, Ctx};
use super::progress::Bar;
use crate::ops::email::{EmailOptions, EmailReport};
use crate::ops::{self, SystemClock};
use crate::store::Store;
use crate::store::audit::Actor;
use std::path::PathBuf;
use std::process::ExitCode;

/// Environment variable holding the SMTP password (never stored or printed).
pub const PASSWORD_ENV: &str = "BILLRUN_SMTP_PASSWORD";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (id or name); it must be completed.
    pub run: String,
    /// Write one NUMBER.eml per invoice into DIR instead of sending; records nothing.
    #[arg(long, value_name = "DIR")]
    pub dry_run: Option<PathBuf>,
    /// Send these invoices again (after checking the mailbox), whatever their state.
    #[arg(long, value_name = "NUMBER", num_args = 1..)]
    pub resend: Vec<String>,
    /// Send at most N messages this time (the rest stay for the next run).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Record that these emails, interrupted mid-send, did arrive (after checking the mailbox); nothing is sent.
    #[arg(long, value_name = "NUMBER", num_args = 1.., conflicts_with_all = ["resend", "dry_run", "limit"])]
    pub arrived: Vec<String>,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, a: Args) -> anyhow::Result<ExitCode> {
    if !a.arrived.is_empty() {
        let r = ops::email::mark_arrived(store, actor, &a.run, &a.arrived, &SystemClock)?;
        if ctx.json {
            output::print_json(&r)?;
        } else {
            ctx.say(&format!(
                "run {}: recorded as arrived (nothing sent): {}",
                r.run,
                r.arrived.join(", ")
            ));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let settings = crate::store::settings::load(&store.conn)?;
    let opts = EmailOptions {
        run: a.run,
        dry_run: a.dry_run,
        resend: a.resend,
        limit: a.limit,
        password: std::env::var(PASSWORD_ENV).ok(),
    };
    let report = ops::email::send(store, actor, &opts, &settings, &SystemClock, &Bar::new(ctx))?;
    if let Some(why) = &report.not_connected {
        if ctx.json {
            output::print_json(&report)?;
        }
        return Err(crate::error::external(why.clone()).into());
    }
    print(ctx, &report)
}

fn print(ctx: &Ctx, r: &EmailReport) -> anyhow::Result<ExitCode> {
    if ctx.json {
        output::print_json(r)?;
    } else {
        if r.dry_run.is_some() {
            ctx.say(&format!(
                "dry run: {} messages written to {} (nothing sent, nothing recorded)",
                r.written.len(),
                r.dry_run.as_deref().unwrap_or("")
            ));
        } else {
            ctx.say(&format!(
                "run {}: {} sent, {} failed, {} already sent earlier",
                r.run_name,
                ctx.green(&r.sent.len().to_string()),
                if r.failed.is_empty() {
                    "0".to_string()
                } else {
                    ctx.red(&r.failed.len().to_string())
                },
                r.already_sent
            ));
        }
        if !r.failed.is_empty() {
            let mut t = ctx.table(&["invoice", "account", "to", "reason"]);
            for f in &r.failed {
                t.add_row(vec![
                    f.number.clone(),
                    f.account.clone(),
                    f.to.clone().unwrap_or_default(),
                    f.reason.clone(),
                ]);
            }
            output::print_table(ctx, &t)?;
        }
        if r.left_for_later > 0 {
            ctx.say(&format!(
                "{} left for a later `billrun email {}` (--limit)",
                r.left_for_later, r.run
            ));
        }
    }
    for w in &r.needs_operator {
        ctx.warn(&format!(
            "{} ({}) was interrupted while being sent to {} at {} (Message-ID {}): \
             it may have gone. Check the mail server's log or the mailbox, then \
             `billrun email {} --resend {}` if it did not arrive",
            w.number,
            w.account,
            w.to.as_deref().unwrap_or("?"),
            w.since,
            w.message_id.as_deref().unwrap_or("?"),
            r.run,
            w.number
        ));
    }
    if r.dry_run.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    if !r.failed.is_empty() {
        crate::errln!(
            "error: {} invoices could not be emailed (recorded; a re-run tries them again)",
            r.failed.len()
        );
        return Ok(ExitCode::from(5));
    }
    if !r.needs_operator.is_empty() {
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
