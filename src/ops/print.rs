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
    progress.start("merging print bundles", Some(todo.len() as u64));
    for chunk in todo.chunks(opts.bundle_size.max(1) as usize) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::FixedClock;
    use crate::ops::progress_log::Log;
    use crate::render::invoice_pdf::{Fonts, render_invoice, tests::sample};
    use crate::store::email::seed;

    #[test]
    fn print_reports_the_invoices_merged_bundle_by_bundle() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::memory().unwrap();
        seed::run(&s);
        // C2 (both) and C3 (print) are printed; C1 (email) is not.
        let pdf = dir.path().join("invoice.pdf");
        std::fs::write(
            &pdf,
            render_invoice(&sample(1), Fonts::shared().unwrap()).unwrap(),
        )
        .unwrap();
        for (seq, account, delivery) in [(1, "C1", "email"), (2, "C2", "both"), (3, "C3", "print")]
        {
            let id = seed::invoice(&s, seq, account, delivery, 1200);
            s.conn
                .execute(
                    "UPDATE invoices SET pdf_path = ?1 WHERE id = ?2",
                    rusqlite::params![pdf.to_str().unwrap(), id],
                )
                .unwrap();
        }
        let opts = PrintOptions {
            run: "1".into(),
            out: dir.path().join("print"),
            bundle_size: 1,
            reprint: false,
        };
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let log = Log::default();
        let r = write_bundles(&mut s, &Actor::test(), &opts, &clock, &log).unwrap();
        assert_eq!(r.bundles.len(), 2);
        // Counted in invoices, one update per bundle written.
        let p = log.phase("merging print bundles");
        assert_eq!((p.total, p.done, p.incs), (Some(2), 2, 2));
        log.check_complete();

        // Nothing left to print: an empty phase.
        let log = Log::default();
        let r = write_bundles(&mut s, &Actor::test(), &opts, &clock, &log).unwrap();
        assert!(r.bundles.is_empty());
        assert_eq!(log.phase("merging print bundles").total, Some(0));
        log.check_complete();
    }
}
