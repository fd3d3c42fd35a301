//! Exporting a run to Xero: Xero's sales-invoice import file
//! (`domain::xero`), split into files of at most 500 invoices.
//!
//! Invoices already exported are left out unless `all`. Zero and negative
//! invoices are left out and listed (Xero refuses them). Each file is
//! written first (through a temporary file, never replacing an existing
//! file), then its invoices are recorded in one transaction, so a crash in
//! between only means the same invoices are written again next time.

use super::Clock;
use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::domain::settings::Settings;
use crate::domain::xero::{self, Codes, MAX_INVOICES_PER_FILE};
use crate::error::{Result, external, precondition};
use crate::store::audit::Actor;
use crate::store::{Store, runs};
use crate::whole_file;
use serde::Serialize;
use std::path::PathBuf;

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The run (id or name); it must be completed.
    pub run: String,
    /// The output file; more than `max_per_file` invoices are split into
    /// F-1.csv, F-2.csv, …
    pub out: PathBuf,
    /// Export every invoice of the run again, not only those never exported.
    pub all: bool,
    /// Invoices per file, 1 to [`MAX_INVOICES_PER_FILE`].
    pub max_per_file: usize,
}

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct FileItem {
    pub file: String,
    pub invoices: usize,
    pub rows: usize,
    pub first: String,
    pub last: String,
}

/// An invoice left out because Xero refuses it.
#[derive(Debug, Clone, Serialize)]
pub struct ExcludedItem {
    pub number: String,
    pub account: String,
    pub total_charges: String,
    pub reason: String,
}

/// What one export did (the JSON of `billrun xero export`).
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    pub run: i64,
    pub files: Vec<FileItem>,
    pub exported: usize,
    pub already_exported: usize,
    pub excluded: Vec<ExcludedItem>,
    /// The run's name.
    #[serde(skip)]
    pub run_name: String,
}

/// Write a completed run's invoices (those not exported yet, or `all`) to
/// Xero import files and record them. Refuses, writing nothing, when any of
/// the files it would write exists.
pub fn export(
    store: &mut Store,
    actor: &Actor,
    opts: &ExportOptions,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<ExportReport> {
    let run = runs::resolve(&store.conn, &opts.run)?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}, not completed: export to Xero once production has completed",
            run.name,
            run.status.as_str()
        )));
    }
    let limit = opts.max_per_file.clamp(1, MAX_INVOICES_PER_FILE);
    let codes = Codes {
        account_code: settings.xero.account_code.clone(),
        tax_type: settings.xero.tax_type.clone(),
        exempt_tax_type: settings.xero.exempt_tax_type.clone(),
    };
    let mut already = 0;
    let mut chosen = Vec::new();
    for (inv, exported) in crate::store::xero::invoices(&store.conn, run.id)? {
        if exported && !opts.all {
            already += 1;
        } else {
            chosen.push(inv);
        }
    }
    let (ok, excluded) = xero::partition(chosen);
    let chunks: Vec<&[xero::Invoice]> = ok.chunks(limit).collect();
    let names = xero::file_names(&opts.out, chunks.len());
    if let Some(p) = names.iter().find(|p| p.exists()) {
        return Err(precondition(format!(
            "{} already exists: choose another --out (earlier exports are kept)",
            p.display()
        )));
    }
    let mut files = Vec::new();
    for (chunk, path) in chunks.iter().zip(&names) {
        let bytes = xero::csv(chunk, &codes);
        whole_file::write_new(path, &bytes)
            .map_err(|e| external(format!("cannot write {}: {e}", path.display())))?;
        let ids: Vec<(i64, &str)> = chunk.iter().map(|i| (i.id, i.number.as_str())).collect();
        let file = path.display().to_string();
        let now = clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let tx = store.write()?;
        crate::store::xero::record(&tx, actor, run.id, &file, &ids, &now)?;
        tx.commit()?;
        files.push(FileItem {
            file,
            invoices: chunk.len(),
            rows: chunk.iter().map(|i| i.lines.len()).sum(),
            first: chunk.first().map(|i| i.number.clone()).unwrap_or_default(),
            last: chunk.last().map(|i| i.number.clone()).unwrap_or_default(),
        });
    }
    Ok(ExportReport {
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
        run_name: run.name,
    })
}
