//! Print bundles: merged PDFs of the invoices of `print`/`both` customers,
//! sorted by postcode for the mail house, each recorded so the `print` step
//! resolves and a re-run writes only what was not printed yet.
//!
//! Each bundle is recorded, written (synced) and audited in one write
//! transaction: a failed write records nothing.

use super::{Clock, Progress};
use crate::domain::lifecycle::RunStatus;
use crate::error::{Error, Result, external, precondition};
use crate::render::merge_pdfs;
use crate::store::audit::{self, Actor};
use crate::store::{Store, invoices, print, runs};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// What to print.
#[derive(Debug, Clone)]
pub struct PrintOptions {
    /// Run id or name; it must be completed.
    pub run: String,
    /// Directory to write the bundles into (created if missing).
    pub out: PathBuf,
    /// Invoices per bundle (at least 1).
    pub bundle_size: u32,
    /// Print again invoices already in a bundle.
    pub reprint: bool,
}

/// One bundle written and recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    pub bundle: i64,
    pub path: PathBuf,
    pub invoices: usize,
    pub pages: usize,
    pub numbers: Vec<String>,
}

/// What one `print` did: the bundles written, in order (the JSON of
/// `billrun print` is this list).
#[derive(Debug, Default, Serialize)]
#[serde(transparent)]
pub struct PrintReport {
    pub bundles: Vec<Bundle>,
    /// The run's id.
    #[serde(skip)]
    pub run: i64,
    /// Why the op stopped before the last bundle; the bundles above were
    /// written and recorded.
    #[serde(skip)]
    pub stopped: Option<Error>,
}

/// Write the run's print bundles (those not printed yet, or all with
/// `reprint`).
///
/// A failure before the first bundle is an error; a failure after some
/// bundles were written is returned in [`PrintReport::stopped`] with them.
pub fn write_bundles(
    store: &mut Store,
    actor: &Actor,
    opts: &PrintOptions,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<PrintReport> {
    let run = runs::resolve(&store.conn, &opts.run)?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}: print bundles need every PDF (billrun produce {})",
            run.id, run.status, run.id
        )));
    }
    let mut todo: Vec<invoices::Invoice> = invoices::list(&store.conn, Some(run.id))?
        .into_iter()
        .filter(|i| matches!(i.delivery.as_str(), "print" | "both"))
        .filter(|i| opts.reprint || !i.printed)
        .collect();
    todo.sort_by(|x, y| {
        (x.postcode.to_uppercase(), x.seq).cmp(&(y.postcode.to_uppercase(), y.seq))
    });
    std::fs::create_dir_all(&opts.out)
        .map_err(|e| external(format!("cannot create {}: {e}", opts.out.display())))?;
    let mut report = PrintReport {
        run: run.id,
        ..Default::default()
    };
    let chunks: Vec<&[invoices::Invoice]> = todo.chunks(opts.bundle_size.max(1) as usize).collect();
    progress.start("merging print bundles", Some(todo.len() as u64));
    for chunk in chunks {
        match bundle(store, actor, opts, &run, chunk, clock) {
            Ok(b) => report.bundles.push(b),
            Err(e) if report.bundles.is_empty() => return Err(e),
            Err(e) => {
                report.stopped = Some(e);
                break;
            }
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish();
    Ok(report)
}

/// Merge, record, write and audit one bundle.
fn bundle(
    store: &mut Store,
    actor: &Actor,
    opts: &PrintOptions,
    run: &runs::Run,
    chunk: &[invoices::Invoice],
    clock: &dyn Clock,
) -> Result<Bundle> {
    let mut pdfs = Vec::with_capacity(chunk.len());
    for i in chunk {
        let path = i
            .pdf_path
            .as_deref()
            .ok_or_else(|| precondition(format!("invoice {} has no PDF yet", i.number)))?;
        pdfs.push(std::fs::read(path).map_err(|e| external(format!("cannot read {path}: {e}")))?);
    }
    let merged =
        merge_pdfs(&pdfs).map_err(|e| external(format!("merging the bundle's PDFs: {e}")))?;
    let pages = lopdf::Document::load_mem(&merged)
        .map(|d| d.get_pages().len())
        .unwrap_or(0);
    let ids: Vec<i64> = chunk.iter().map(|i| i.id).collect();
    let now = clock.stamp();
    let tx = store.write()?;
    let (bundle_id, path) = print::record_bundle(
        &tx,
        &print::NewBundle {
            run_id: run.id,
            invoice_ids: &ids,
            pages,
            sha256: &hex::encode(Sha256::digest(&merged)),
            operator: &actor.operator,
            created_at: &now,
        },
        |id| {
            opts.out
                .join(format!("{}-bundle-{id:03}.pdf", run.name))
                .to_string_lossy()
                .into_owned()
        },
    )?;
    let path = PathBuf::from(path);
    crate::whole_file::write(&path, &merged, crate::whole_file::Sync::Now)
        .map_err(|e| external(format!("cannot write {}: {e}", path.display())))?;
    audit::log(
        &tx,
        actor,
        Some(run.id),
        "print",
        &format!(
            "{}: {} invoices, {pages} pages{}",
            path.display(),
            chunk.len(),
            if opts.reprint { " (reprint)" } else { "" }
        ),
    )?;
    tx.commit()?;
    Ok(Bundle {
        bundle: bundle_id,
        path,
        invoices: chunk.len(),
        pages,
        numbers: chunk.iter().map(|i| i.number.clone()).collect(),
    })
}
