//! `billrun xero export RUN --out F [--all]`: Xero's sales-invoice import
//! file (`domain::xero`), split into files of at most 500 invoices.
//!
//! Invoices already exported are left out unless `--all`. Zero and negative
//! invoices are left out and listed (Xero refuses them). Each file is
//! written first (through a temporary file and a rename), then its invoices
//! are recorded in one transaction, so a crash in between
//! only means the same invoices are written again next time. An existing
//! output file is never overwritten.
//!
//! `BILLRUN_XERO_MAX_PER_FILE` lowers the 500-invoice limit (for tests, or a
//! Xero plan with a smaller import limit).

use super::output::{self, Ctx};
use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::domain::xero::{self, Codes, MAX_INVOICES_PER_FILE};
use crate::error::{bad_input, external, precondition};
use crate::store::audit::Actor;
use crate::store::{Store, runs, settings};
use crate::whole_file;
use serde::Serialize;
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

#[derive(Debug, Serialize)]
struct FileItem {
    file: String,
    invoices: usize,
    rows: usize,
    first: String,
    last: String,
}

#[derive(Debug, Serialize)]
struct ExcludedItem {
    number: String,
    account: String,
    total_charges: String,
    reason: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    run: i64,
    files: Vec<FileItem>,
    exported: usize,
    already_exported: usize,
    excluded: Vec<ExcludedItem>,
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
    let run = runs::resolve(&store.conn, &a.run)?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}, not completed: export to Xero once production has completed",
            run.name,
            run.status.as_str()
        ))
        .into());
    }
    let limit = max_per_file()?;
    let codes = Codes {
        account_code: settings::get_or(&store.conn, "xero.account_code", "200")?,
        tax_type: settings::get_or(&store.conn, "xero.tax_type", "OUTPUT2")?,
        exempt_tax_type: settings::get_or(&store.conn, "xero.exempt_tax_type", "NONE")?,
    };
    let all = crate::store::xero::invoices(&store.conn, run.id)?;
    let mut already = 0;
    let mut chosen = Vec::new();
    for (inv, exported) in all {
        if exported && !a.all {
            already += 1;
        } else {
            chosen.push(inv);
        }
    }
    let (ok, excluded) = xero::partition(chosen);
    let chunks: Vec<&[xero::Invoice]> = ok.chunks(limit).collect();
    let names = xero::file_names(&a.out, chunks.len());
    if let Some(p) = names.iter().find(|p| p.exists()) {
        return Err(precondition(format!(
            "{} already exists: choose another --out (earlier exports are kept)",
            p.display()
        ))
        .into());
    }
    let mut files = Vec::new();
    for (chunk, path) in chunks.iter().zip(&names) {
        let bytes = xero::csv(chunk, &codes);
        whole_file::write_new(path, &bytes)
            .map_err(|e| external(format!("cannot write {}: {e}", path.display())))?;
        let ids: Vec<(i64, &str)> = chunk.iter().map(|i| (i.id, i.number.as_str())).collect();
        crate::store::xero::record(store, actor, run.id, &path.display().to_string(), &ids)?;
        files.push(FileItem {
            file: path.display().to_string(),
            invoices: chunk.len(),
            rows: chunk.iter().map(|i| i.lines.len()).sum(),
            first: chunk.first().map(|i| i.number.clone()).unwrap_or_default(),
            last: chunk.last().map(|i| i.number.clone()).unwrap_or_default(),
        });
    }
    let summary = Summary {
        run: run.id,
        exported: ok.len(),
        files,
        already_exported: already,
        excluded: excluded
            .into_iter()
            .map(|e| ExcludedItem {
                number: e.number,
                account: e.account,
                total_charges: money::fmt(e.total_charges),
                reason: e.reason,
            })
            .collect(),
    };
    if ctx.json {
        return output::print_json(&summary);
    }
    if summary.files.is_empty() {
        ctx.say(&format!(
            "nothing new to export for run {} ({} invoices exported earlier; --all exports them again)",
            run.name, already
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
