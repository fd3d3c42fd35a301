//! `billrun xero export RUN --out F [--all]`: Xero's sales-invoice import
//! file (`domain::xero`), split into files of at most 500 invoices.
//!
//! The work is `ops::xero`: invoices already exported are left out unless
//! `--all`, zero and negative invoices are left out and listed, and an
//! existing output file is never overwritten.
//!
//! `billrun xero push RUN` (`xero.mode = api`) sends the run's customers and
//! invoices through Xero's API instead (`ops::xero_push`).
//!
//! `BILLRUN_XERO_MAX_PER_FILE` lowers the 500-invoice limit (for tests, or a
//! Xero plan with a smaller import limit).

use super::output::{self, Ctx};
use crate::domain::settings::Settings;
use crate::domain::xero::MAX_INVOICES_PER_FILE;
use crate::error::bad_input;
use crate::gateway::xero::XeroClient;
use crate::ops::xero::{ExportOptions, ExportReport};
use crate::ops::xero_push::PushReport;
use crate::ops::{self, SystemClock};
use crate::store::Store;
use crate::store::audit::Actor;
use std::path::PathBuf;

/// Environment variable lowering the invoices-per-file limit.
pub const MAX_PER_FILE_ENV: &str = "BILLRUN_XERO_MAX_PER_FILE";

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Write Xero's sales-invoice import CSV for a completed run.
    Export(ExportArgs),
    /// Send a completed run's customers and invoices to Xero through its API (xero.mode api).
    Push {
        /// The run (id or name); it must be completed.
        run: String,
    },
}

/// The Xero client of a command in API mode: the credentials come only
/// from `XERO_CLIENT_ID` and `XERO_CLIENT_SECRET`.
pub fn client(settings: &Settings) -> Result<XeroClient, crate::error::Error> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                crate::error::precondition(format!(
                    "{name} is not set: billrun reads the Xero custom connection's client id and \
                     secret from XERO_CLIENT_ID and XERO_CLIENT_SECRET (README \"Xero through its API\")"
                ))
            })
    };
    // Checked again here: a value edited into the database by hand must not
    // send the secret over plain http.
    for (key, base) in [
        ("xero.identity_base", &settings.xero.identity_base),
        ("xero.api_base", &settings.xero.api_base),
    ] {
        crate::domain::collect::check_api_base(base).map_err(|e| {
            crate::error::precondition(format!(
                "{key} {e}; nothing was sent: set it with `billrun config set {key} URL`"
            ))
        })?;
    }
    Ok(XeroClient::new(
        &settings.xero.identity_base,
        &settings.xero.api_base,
        var("XERO_CLIENT_ID")?,
        var("XERO_CLIENT_SECRET")?,
        std::time::Duration::from_secs(60),
    ))
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The run (id or name); it must be completed.
    pub run: String,
    /// Output file; more than 500 invoices are split into F-1.csv, F-2.csv, …
    #[arg(long, value_name = "F")]
    pub out: PathBuf,
    /// Export every invoice of the run again, not only those never exported.
    #[arg(long)]
    pub all: bool,
}

fn max_per_file() -> Result<usize, crate::error::Error> {
    match std::env::var(MAX_PER_FILE_ENV) {
        Err(_) => Ok(MAX_INVOICES_PER_FILE),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_INVOICES_PER_FILE).contains(&n) => Ok(n),
            _ => Err(bad_input(format!(
                "{MAX_PER_FILE_ENV}={v}: expected a number from 1 to {MAX_INVOICES_PER_FILE}"
            ))),
        },
    }
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Export(a) => export(ctx, store, actor, a),
        Cmd::Push { run } => push(ctx, store, actor, &run),
    }
}

fn export(ctx: &Ctx, store: &mut Store, actor: &Actor, a: ExportArgs) -> anyhow::Result<()> {
    let settings = crate::store::settings::load(&store.conn)?;
    let opts = ExportOptions {
        run: a.run,
        out: a.out,
        all: a.all,
        max_per_file: max_per_file()?,
    };
    let report = ops::xero::export(
        store,
        actor,
        &opts,
        &settings,
        &SystemClock,
        &super::progress::Bar::new(ctx),
    )?;
    print(ctx, &report)
}

fn print(ctx: &Ctx, summary: &ExportReport) -> anyhow::Result<()> {
    if ctx.json {
        return output::print_json(summary);
    }
    let already = summary.already_exported;
    if summary.files.is_empty() {
        ctx.say(&format!(
            "nothing new to export for run {} ({} invoices exported earlier; --all exports them again)",
            summary.run_name, already
        ));
    }
    for f in &summary.files {
        ctx.say(&format!(
            "wrote {}: {} invoices ({}…{}), {} lines",
            f.file, f.invoices, f.first, f.last, f.rows
        ));
    }
    if let Some(f) = &summary.credit_notes_file {
        ctx.say(&format!(
            "wrote {f}: {} credit notes (import them in Xero under Credit notes › Import)",
            summary.credit_notes
        ));
    }
    if already > 0 && !summary.files.is_empty() {
        ctx.say(&format!(
            "{already} invoices exported earlier were left out (--all to include them)"
        ));
    }
    if !summary.excluded.is_empty() {
        ctx.warn(&format!(
            "{} invoices left out: Xero refuses zero and negative invoices",
            summary.excluded.len()
        ));
        let mut t = ctx.table(&["invoice", "account", "new charges", "reason"]);
        for e in &summary.excluded {
            t.add_row(vec![
                e.number.clone(),
                e.account.clone(),
                e.total_charges.clone(),
                e.reason.clone(),
            ]);
        }
        if !ctx.quiet {
            output::print_table(ctx, &t)?;
        }
    }
    Ok(())
}

fn push(ctx: &Ctx, store: &mut Store, actor: &Actor, run: &str) -> anyhow::Result<()> {
    let settings = crate::store::settings::load(&store.conn)?;
    if !settings.xero.api {
        // The op says what to do; no credentials are needed to hear it.
        let c = XeroClient::new("", "", String::new(), String::new(), Default::default());
        ops::xero_push::push(
            store,
            actor,
            run,
            &settings,
            &c,
            &SystemClock,
            &ops::NoProgress,
        )?;
        return Ok(());
    }
    let c = client(&settings)?;
    let bar = super::progress::Bar::new(ctx);
    let report = ops::xero_push::push(store, actor, run, &settings, &c, &SystemClock, &bar)?;
    print_push(ctx, &report)?;
    if !report.refused.is_empty() {
        return Err(crate::error::bad_input(format!(
            "Xero refused {} of run {} (listed above); fix them (customer details, or the \
             xero.account_code / xero.tax_type settings) and run `billrun xero push {}` again",
            report.refused.len(),
            report.run_name,
            report.run
        ))
        .into());
    }
    Ok(())
}

fn print_push(ctx: &Ctx, r: &PushReport) -> anyhow::Result<()> {
    if ctx.json {
        return output::print_json(r);
    }
    ctx.say(&format!(
        "run {}: {} contacts created, {} updated; {} invoices sent to Xero, {} found already there, {} confirmed earlier ({} API calls)",
        r.run_name,
        r.contacts_created,
        r.contacts_updated,
        r.invoices_sent,
        r.invoices_found,
        r.already_in_xero,
        r.calls
    ));
    if r.credit_notes_sent + r.credit_notes_found + r.credit_notes_already_in_xero > 0
        || !r.allocated.is_empty()
    {
        ctx.say(&format!(
            "credit notes: {} sent to Xero, {} found already there, {} confirmed earlier; {} allocated to the invoice that brought them forward{}",
            r.credit_notes_sent,
            r.credit_notes_found,
            r.credit_notes_already_in_xero,
            r.allocated.len(),
            if r.allocated.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.allocated.join(", "))
            }
        ));
    }
    for (title, list) in [
        ("refused by Xero", &r.refused),
        (
            "left out: Xero refuses zero and negative invoices",
            &r.excluded,
        ),
        ("total in Xero differs from billrun's", &r.total_differs),
    ] {
        if list.is_empty() {
            continue;
        }
        ctx.warn(&format!("{} {title}", list.len()));
        let mut t = ctx.table(&["invoice", "account", "message"]);
        for e in list {
            t.add_row(vec![e.number.clone(), e.account.clone(), e.message.clone()]);
        }
        if !ctx.quiet {
            output::print_table(ctx, &t)?;
        }
    }
    Ok(())
}
