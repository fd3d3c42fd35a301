//! `billrun xero export RUN --out F [--all]`: Xero's sales-invoice import
//! file (`domain::xero`), split into files of at most 500 invoices.
//!
//! The work is `ops::xero`: invoices already exported are left out unless
//! `--all`, zero and negative invoices are left out and listed, and an
//! existing output file is never overwritten.
//!
//! `BILLRUN_XERO_MAX_PER_FILE` lowers the 500-invoice limit (for tests, or a
//! Xero plan with a smaller import limit).

use super::output::{self, Ctx};
use crate::domain::xero::MAX_INVOICES_PER_FILE;
use crate::error::bad_input;
use crate::ops::xero::{ExportOptions, ExportReport};
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
