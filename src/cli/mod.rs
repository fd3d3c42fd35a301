//! The command line: clap types mirror the subcommand tree, one module per
//! subcommand. The database is opened once here and passed down.

pub(crate) mod allowances;
pub(crate) mod audit;
pub(crate) mod autopilot;
pub(crate) mod carriers;
pub(crate) mod cdr;
pub(crate) mod cdr_remote;
pub(crate) mod charges;
pub(crate) mod collect;
pub(crate) mod completions;
pub(crate) mod config;
pub(crate) mod credit;
pub(crate) mod cycles;
pub(crate) mod demo;
pub(crate) mod email;
pub(crate) mod errors;
pub(crate) mod fees;
pub(crate) mod invoices;
pub mod output;
pub(crate) mod payments;
pub(crate) mod postbill;
pub(crate) mod prebill;
pub(crate) mod print;
pub(crate) mod produce;
pub(crate) mod progress;
pub(crate) mod reference;
pub(crate) mod runs;
pub(crate) mod status;
pub(crate) mod stream;
pub(crate) mod xero;

use crate::store::Store;
use crate::store::audit::Actor;
use clap::{Parser, Subcommand};
use output::Ctx;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "billrun", version, about = "Month-end billing runs for telecom and ISP providers", long_about = None)]
pub struct Cli {
    /// Database file.
    #[arg(long, global = true, env = "BILLRUN_DB", default_value = "billrun.db")]
    pub db: PathBuf,
    /// Machine output: one JSON document on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Answer yes to confirmations (needed when there is no terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Quiet: only errors and requested data.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database (schema and migrations); re-running is harmless.
    Init,
    /// A fresh database with the shipped fixtures, walked through a whole run.
    Demo(demo::Args),
    /// Settings: `config set KEY VALUE`, `config get KEY`, `config list`.
    #[command(subcommand)]
    Config(config::Cmd),
    /// Customers: import (upsert) and list.
    #[command(subcommand)]
    Customers(reference::CustomersCmd),
    /// Services (the numbers CDRs carry): import and list.
    #[command(subcommand)]
    Services(reference::ServicesCmd),
    /// Plans: import and list.
    #[command(subcommand)]
    Plans(reference::PlansCmd),
    /// Tariffs (rate tables): import and list.
    #[command(subcommand)]
    Tariffs(reference::TariffsCmd),
    /// Inclusive allowances of plans (minutes, texts, data): import and list.
    #[command(subcommand)]
    Allowances(allowances::Cmd),
    /// Billing cycles: add, list, and tick (create the runs that are due; for cron).
    #[command(subcommand)]
    Cycles(cycles::Cmd),
    /// One-off charges and credits: add, list, remove (while unbilled).
    #[command(subcommand)]
    Charge(charges::Cmd),
    /// Credit notes on produced invoices: add, list, show, produce.
    #[command(subcommand)]
    Credit(credit::Cmd),
    /// Payments received: add, import (csv or Xero), list.
    #[command(subcommand)]
    Payments(payments::Cmd),
    /// Wholesale fixed fees (features.wholesale_fees): import, list, codes.
    #[command(subcommand)]
    Fees(fees::Cmd),
    /// CDR sources: add and list.
    #[command(subcommand)]
    Carriers(carriers::Cmd),
    /// CDR files: import, fetch, list, ignore, process.
    #[command(subcommand)]
    Cdr(cdr::Cmd),
    /// Billing errors: summary and drill-down; resolve, ignore, rerate.
    Errors(errors::Args),
    /// Create a billing run (status pending).
    New(runs::NewArgs),
    /// List runs with status and key figures.
    Runs,
    /// Set or clear a run's dates and message.
    SetDates(runs::SetDatesArgs),
    /// Mark a run ready (runs the pre-billing report).
    Ready(runs::RunArg),
    /// Approve a run (sign-off; runs the pre-billing report).
    Approve(runs::RunArg),
    /// The pre-billing report (keeps a snapshot on the run).
    Prebill(prebill::Args),
    /// Confirm a checklist step: setup, payments, cdrs, errors, fee-errors, prebill, postbill.
    Confirm(runs::ConfirmArgs),
    /// Cancel a run created by mistake (before bills are requested; audited).
    Cancel(runs::RunArg),
    /// Lock the run and request bills.
    Request(runs::RequestArgs),
    /// Produce (or resume producing) a requested run's invoices and PDFs.
    Produce(produce::Args),
    /// The post-billing report of a produced run.
    Postbill(postbill::Args),
    /// List invoices (of a run), or `invoices show NUMBER`.
    Invoices(invoices::Args),
    /// Print bundles: merged PDFs of print/both invoices, sorted by postcode.
    Print(print::Args),
    /// Payment runs: Direct Debit files, card charges, results (docs/collection.md).
    #[command(subcommand)]
    Collect(collect::Cmd),
    /// The next-steps checklist of a run.
    Status(status::Args),
    /// The audit log.
    Audit(audit::Args),
    /// Email a completed run's invoices (PDF attached) over SMTP.
    Email(email::Args),
    /// Xero: `xero export RUN --out F` writes Xero's sales-invoice import CSV.
    #[command(subcommand)]
    Xero(xero::Cmd),
    /// Walk every open run as far as the policy (auto.*) allows; for cron.
    Autopilot(autopilot::Args),
    /// Print shell completions (bash, zsh, fish, ...).
    Completions(completions::Args),
}

/// Dispatch. Returns the exit code for non-fatal outcomes (e.g. `status --check`).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx::new(cli.json, cli.quiet, cli.yes);
    let actor = Actor::from_env();
    // Commands that need no database.
    match &cli.command {
        Command::Completions(a) => return completions::exec(a),
        Command::Demo(a) => return demo::exec(&ctx, a),
        _ => {}
    }
    let mut store = open(&cli.db)?;
    match cli.command {
        Command::Init => {
            let v = store.schema_version()?;
            ctx.say(&format!(
                "database {} ready (schema version {v})",
                cli.db.display()
            ));
            if ctx.json {
                output::print_json(&serde_json::json!({"db": cli.db, "schema_version": v}))?;
            }
        }
        Command::Config(c) => config::exec(&ctx, &mut store, &actor, c)?,
        Command::Customers(c) => reference::customers(&ctx, &mut store, &actor, c)?,
        Command::Services(c) => reference::services(&ctx, &mut store, &actor, c)?,
        Command::Plans(c) => reference::plans(&ctx, &mut store, &actor, c)?,
        Command::Tariffs(c) => reference::tariffs(&ctx, &mut store, &actor, c)?,
        Command::Allowances(c) => allowances::run(&ctx, &mut store, &actor, c)?,
        Command::Cycles(c) => cycles::exec(&ctx, &mut store, &actor, c)?,
        Command::Charge(c) => charges::exec(&ctx, &mut store, &actor, c)?,
        Command::Credit(c) => credit::exec(&ctx, &mut store, &actor, &cli.db, c)?,
        Command::Payments(c) => payments::exec(&ctx, &mut store, &actor, c)?,
        Command::Fees(c) => fees::exec(&ctx, &mut store, &actor, c)?,
        Command::Carriers(c) => carriers::exec(&ctx, &mut store, &actor, c)?,
        Command::Cdr(c) => cdr::exec(&ctx, &mut store, &actor, &cli.db, c)?,
        Command::Errors(a) => errors::exec(&ctx, &mut store, &actor, a)?,
        Command::New(a) => runs::new(&ctx, &mut store, &actor, a)?,
        Command::Runs => runs::list(&ctx, &store)?,
        Command::SetDates(a) => runs::set_dates(&ctx, &mut store, &actor, a)?,
        Command::Ready(a) => runs::sign_off(
            &ctx,
            &mut store,
            &actor,
            a,
            crate::domain::lifecycle::Transition::Ready,
        )?,
        Command::Approve(a) => runs::sign_off(
            &ctx,
            &mut store,
            &actor,
            a,
            crate::domain::lifecycle::Transition::Approve,
        )?,
        Command::Prebill(a) => prebill::exec(&ctx, &mut store, &actor, a)?,
        Command::Confirm(a) => runs::confirm(&ctx, &mut store, &actor, a)?,
        Command::Cancel(a) => runs::cancel(&ctx, &mut store, &actor, a)?,
        Command::Request(a) => runs::request(&ctx, &mut store, &actor, &cli.db, a)?,
        Command::Produce(a) => produce::exec(&ctx, &mut store, &actor, &cli.db, a)?,
        Command::Postbill(a) => postbill::exec(&ctx, &mut store, &actor, a)?,
        Command::Invoices(a) => invoices::exec(&ctx, &store, a)?,
        Command::Print(a) => print::exec(&ctx, &mut store, &actor, a)?,
        Command::Collect(c) => return collect::exec(&ctx, &mut store, &actor, &cli.db, c),
        Command::Status(a) => return status::exec(&ctx, &store, a),
        Command::Audit(a) => audit::exec(&ctx, &store, a)?,
        Command::Email(a) => return email::exec(&ctx, &mut store, &actor, a),
        Command::Xero(c) => xero::exec(&ctx, &mut store, &actor, c)?,
        Command::Autopilot(a) => return autopilot::exec(&ctx, &mut store, &cli.db, a),
        Command::Completions(_) | Command::Demo(_) => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

/// Open (and migrate) the database.
pub fn open(path: &std::path::Path) -> anyhow::Result<Store> {
    use anyhow::Context;
    Store::open(path).with_context(|| format!("opening database {}", path.display()))
}
