//! `billrun collect dd | card | results | list | show`: payment runs (docs/collection.md).
//!
//! The workflows are in [`crate::ops::collect`]; this module parses the
//! arguments, calls them, prints their reports (`print`) and maps their
//! outcomes to exit codes.

mod gc_print;
mod listing;
mod print;

use super::output::{self, Ctx};
use super::progress::Bar;
use crate::error::{external, precondition};
use crate::ops::SystemClock;
use crate::ops::collect::{
    self as ops, CardFileOptions, ChargeOptions, ChargeReport, DdOptions, GcOptions,
    ResultsOptions, SyncOptions,
};
use crate::store::{Store, audit::Actor, settings};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Direct Debit payment run of a billing run, as a file in `dd.format`.
    Dd(DdArgs),
    /// Card payment run: charge through Stripe, or `--out F` for a gateway batch CSV.
    Card(CardArgs),
    /// Import results: billrun CSV (reference, status, reason), Bacs ARUDD/ADDACS, SEPA pain.002 or ABA returns.
    Results(ResultsArgs),
    /// Ask Stripe / GoCardless what became of collections not yet finished, and record it.
    Sync,
    /// List payment runs.
    List,
    /// One payment run with its items.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct DdArgs {
    /// Run id or name.
    pub run: String,
    /// Payment file to write (default: next to the database,
    /// `collect-<payment run>-<format>.<ext>`). Never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Debit date: a working day of the format's calendar whose submission
    /// deadline has not passed (default: the invoices' due date, or the next
    /// working day; moved to the earliest possible date when too late).
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Also retry declined, dishonoured and failed collections (up to collect.max_retries).
    #[arg(long)]
    pub retry_failed: bool,
}

#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// Run id or name.
    pub run: String,
    /// Write a gateway batch CSV instead of charging through Stripe.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also retry declined and failed charges (up to collect.max_retries).
    #[arg(long)]
    pub retry_failed: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResultsArgs {
    /// CSV with columns reference, status (approved|declined|dishonoured|refer), reason.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Payment run id.
    pub id: i64,
}

pub fn exec(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    cmd: Cmd,
) -> anyhow::Result<ExitCode> {
    let bar = Bar::new(ctx);
    match cmd {
        Cmd::Dd(a) if settings::load(&store.conn)?.dd_provider == "gocardless" => {
            let opts = GcOptions {
                run: a.run,
                date: a.date,
                retry_failed: a.retry_failed,
                token: std::env::var("GOCARDLESS_ACCESS_TOKEN").ok(),
            };
            let settings = settings::load(&store.conn)?;
            let report = ops::gocardless_dd(store, actor, &opts, &settings, &SystemClock, &bar)?;
            gc_print::gocardless(ctx, &report)?;
            if let Some(why) = &report.token_refused {
                return Err(external(format!(
                    "GoCardless refused the access token ({why}): check GOCARDLESS_ACCESS_TOKEN \
                     (live or sandbox, to match gocardless.api_base), then run `billrun collect dd {}` \
                     again; the payments not made wait for that re-run",
                    report.run
                ))
                .into());
            }
            if report.unanswered > 0 {
                return Err(external(format!(
                    "{} GoCardless payment(s) got no answer; run `billrun collect dd {}` again to \
                     resend them with the same idempotency keys (no payment is created twice)",
                    report.unanswered, report.run
                ))
                .into());
            }
            if !report.expired.is_empty() {
                return Err(precondition(format!(
                    "{} GoCardless payment(s) of run {} need the operator (see above)",
                    report.expired.len(),
                    report.run
                ))
                .into());
            }
        }
        Cmd::Dd(a) => {
            let opts = DdOptions {
                run: a.run,
                out: a.out,
                date: a.date,
                retry_failed: a.retry_failed,
                db: db.to_path_buf(),
                out_dir: None,
            };
            let settings = settings::load(&store.conn)?;
            let report = ops::dd(store, actor, &opts, &settings, &crate::ops::DdClock, &bar)?;
            print::file_run(ctx, &report)?;
        }
        Cmd::Card(a) if a.out.is_some() => {
            let opts = CardFileOptions {
                run: a.run,
                out: a.out,
                retry_failed: a.retry_failed,
                db: db.to_path_buf(),
            };
            let settings = settings::load(&store.conn)?;
            let report = ops::card_file(store, actor, &opts, &settings, &SystemClock, &bar)?;
            print::file_run(ctx, &report)?;
        }
        Cmd::Card(a) => {
            let opts = ChargeOptions {
                run: a.run,
                retry_failed: a.retry_failed,
                api_key: std::env::var("STRIPE_API_KEY").ok(),
            };
            let settings = settings::load(&store.conn)?;
            let report = ops::charge(store, actor, &opts, &settings, &SystemClock, &bar)?;
            print::charges(ctx, &report)?;
            return charge_outcome(&report);
        }
        Cmd::Results(a) => {
            let opts = ResultsOptions {
                label: output::file_label(&a.file),
                contents: output::read_input(&a.file)?,
            };
            let settings = settings::load(&store.conn)?;
            let report = ops::results(store, actor, &opts, &settings, &SystemClock, &bar)?;
            print::results(ctx, &report)?;
            if !report.unknown.is_empty() {
                return Ok(ExitCode::from(4));
            }
        }
        Cmd::Sync => {
            let opts = SyncOptions {
                stripe_api_key: std::env::var("STRIPE_API_KEY").ok(),
                gocardless_token: std::env::var("GOCARDLESS_ACCESS_TOKEN").ok(),
            };
            let settings = settings::load(&store.conn)?;
            let report = ops::sync(store, actor, &opts, &settings, &SystemClock, &bar)?;
            print::sync(ctx, &report)?;
            if !report.errors.is_empty() {
                return Err(external(format!(
                    "{} gateway lookup(s) failed (listed above); nothing was changed for them: run \
                     `billrun collect sync` again later",
                    report.errors.len()
                ))
                .into());
            }
        }
        Cmd::List => listing::list(ctx, &ops::list(store)?)?,
        Cmd::Show(a) => listing::show(ctx, &ops::show(store, a.id)?)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The exit of `collect card`: charges that got no answer are an external
/// failure (exit 5; a re-run retries them), charges too old to re-send
/// need the operator (exit 3).
fn charge_outcome(r: &ChargeReport) -> anyhow::Result<ExitCode> {
    if let Some(why) = &r.key_refused {
        let waiting = r.waiting();
        return Err(external(format!(
            "Stripe refused the API key ({why}): check STRIPE_API_KEY — a secret key (sk_live_… for \
             real charges) or a restricted key (rk_…) allowed to write PaymentIntents, of the right \
             Stripe account — then run `billrun collect card {}` again; the batch stopped, \
             {waiting} charge(s) were not made and wait for that re-run",
            r.run
        ))
        .into());
    }
    if r.unanswered > 0 {
        return Err(external(format!(
            "{} charge(s) got no answer from Stripe; nothing is lost: run `billrun collect card {}` again \
             to retry them with the same idempotency keys (no card is charged twice)",
            r.unanswered, r.run
        ))
        .into());
    }
    if !r.expired.is_empty() {
        return Err(precondition(format!(
            "{} card charge(s) of run {} need the operator (see above): their outcome is unknown \
             and too old to re-send safely",
            r.expired.len(),
            r.run
        ))
        .into());
    }
    Ok(ExitCode::SUCCESS)
}
