//! `billrun autopilot [--dry-run]`: the month-end run driven from cron
//! (`ops::autopilot`). Exit 0 when nothing waits on a person, 3 when
//! something does, 5 when an outside service failed.

use super::output::{self, Ctx};
use crate::domain::autopilot::StopKind;
use crate::ops::autopilot::{self as op, AutopilotOptions, AutopilotReport};
use crate::ops::{Clock, SystemClock};
use crate::store::{Store, settings};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Say what would be done and why; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The clock: the machine's. Debug builds (the tests) only:
/// `BILLRUN_TEST_NOW` (`YYYY-MM-DD`, taken as noon UTC, or an RFC 3339
/// instant) stops it there.
fn clock() -> anyhow::Result<Box<dyn Clock>> {
    #[cfg(debug_assertions)]
    if let Ok(v) = std::env::var("BILLRUN_TEST_NOW") {
        let at = match v.parse::<chrono::NaiveDate>() {
            Ok(d) => d.and_hms_opt(12, 0, 0).map(|t| t.and_utc()),
            Err(_) => chrono::DateTime::parse_from_rfc3339(&v)
                .ok()
                .map(|t| t.with_timezone(&chrono::Utc)),
        };
        let at = at.ok_or_else(|| {
            crate::error::Error::Usage(format!(
                "BILLRUN_TEST_NOW={v}: expected YYYY-MM-DD or RFC 3339"
            ))
        })?;
        return Ok(Box::new(crate::ops::StoppedClock(at)));
    }
    Ok(Box::new(SystemClock))
}

/// `cdr fetch`'s settle interval (as `billrun cdr fetch`).
fn settle() -> Duration {
    let ms = std::env::var("BILLRUN_FETCH_SETTLE_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

pub fn exec(ctx: &Ctx, store: &mut Store, db: &Path, a: Args) -> anyhow::Result<ExitCode> {
    let clock = clock()?;
    run_with(ctx, store, db, a.dry_run, clock.as_ref())
}

/// Run and print with `clock` (the demo's second act passes its month's).
pub(crate) fn run_with(
    ctx: &Ctx,
    store: &mut Store,
    db: &Path,
    dry_run: bool,
    clock: &dyn Clock,
) -> anyhow::Result<ExitCode> {
    let settings = settings::load(&store.conn)?;
    let opts = AutopilotOptions {
        db,
        dry_run,
        settle: settle(),
        stripe_key: std::env::var("STRIPE_API_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        smtp_password: std::env::var(super::email::PASSWORD_ENV).ok(),
        gocardless_token: std::env::var("GOCARDLESS_ACCESS_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        xero: settings
            .xero
            .api
            .then(|| super::xero::client(&settings).map_err(|e| e.to_string())),
    };
    let report = op::run(
        store,
        &opts,
        &settings,
        clock,
        &super::progress::Bar::new(ctx),
    )?;
    if ctx.json {
        output::print_json(&report)?;
    } else {
        print(ctx, &report)?;
    }
    Ok(ExitCode::from(report.exit_code()))
}

fn print(ctx: &Ctx, r: &AutopilotReport) -> anyhow::Result<()> {
    if let Some(why) = &r.locked {
        ctx.say(why);
        return Ok(());
    }
    let verb = if r.dry_run { "would create" } else { "created" };
    for name in &r.created_runs {
        ctx.say(&format!("{verb} run {name} (cycles tick)"));
    }
    if !r.actions.is_empty() {
        let mut t = ctx.table(&["run", "step", "done", "policy"]);
        for a in &r.actions {
            t.add_row(vec![
                a.run.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                a.step.clone(),
                a.detail.clone(),
                a.rule.clone(),
            ]);
        }
        output::print_table(ctx, &t)?;
    } else {
        ctx.say(if r.dry_run {
            "nothing would be done"
        } else {
            "nothing done"
        });
    }
    for w in &r.waiting {
        let line = format!(
            "run {} '{}' stops at {}: {} — {}",
            w.run, w.run_name, w.step, w.why, w.command
        );
        match w.kind {
            StopKind::Person => ctx.say(&ctx.yellow(&format!("needs a person: {line}"))),
            StopKind::Later => ctx.say(&format!("waiting: {line}")),
        }
    }
    for f in &r.failures {
        crate::errln!(
            "error: {}{}: {} — {}",
            f.run.map(|r| format!("run {r}, ")).unwrap_or_default(),
            f.step,
            f.why,
            f.command
        );
    }
    for id in &r.completed {
        ctx.say(&format!("run {id}: Run complete"));
    }
    for n in &r.notes {
        ctx.warn(n);
    }
    if let Some(n) = &r.notified {
        ctx.say(&format!("summary to {}: {} ({})", n.to, n.state, n.subject));
    }
    Ok(())
}
