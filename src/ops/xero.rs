//! Exporting a run to Xero: Xero's sales-invoice import file
//! (`domain::xero`), split into files of at most 500 invoices.
//!
//! Invoices already exported are left out unless `all`. Zero and negative
//! invoices are left out and listed (Xero refuses them). Each file is
//! written first (through a temporary file, never replacing an existing
//! file), then its invoices are recorded in one transaction. A crash in
//! between leaves the file unrecorded: the next export finds it holding
//! exactly what it would write and records it (a different file there is
//! refused, and so is any existing file with `all`).

use super::{Clock, Progress};
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
    /// The credit notes file (Xero's credit-note template), when any credit
    /// note of the run's invoices was written.
    pub credit_notes_file: Option<String>,
    /// Credit notes written.
    pub credit_notes: usize,
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
    progress: &dyn Progress,
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
    let notes: Vec<xero::CreditNote> = crate::store::xero::credit_notes(&store.conn, run.id)?
        .into_iter()
        .filter(|(_, exported)| opts.all || !exported)
        .map(|(n, _)| n)
        .collect();
    let credit_path = xero::credit_file_name(&opts.out);
    let chunks: Vec<&[xero::Invoice]> = ok.chunks(limit).collect();
    let names = xero::file_names(&opts.out, chunks.len());
    let contents: Vec<Vec<u8>> = chunks.iter().map(|c| xero::csv(c, &codes)).collect();
    let credit_bytes = (!notes.is_empty()).then(|| xero::credit_csv(&notes, &codes));
    // A file already there is refused, unless it holds exactly what would
    // be written now for invoices not yet recorded as exported: an export
    // killed between writing it and recording it, which is recorded now
    // rather than refused (a person would otherwise have to move it away).
    for (p, bytes) in names
        .iter()
        .zip(&contents)
        .chain(credit_bytes.as_ref().map(|b| (&credit_path, b)))
    {
        if p.exists() && (opts.all || std::fs::read(p).ok().as_ref() != Some(bytes)) {
            return Err(precondition(format!(
                "{} already exists: choose another --out (earlier exports are kept)",
                p.display()
            )));
        }
    }
    let mut files = Vec::new();
    progress.start("writing Xero import files", Some(ok.len() as u64));
    for ((chunk, path), bytes) in chunks.iter().zip(&names).zip(&contents) {
        if !path.exists() {
            whole_file::write_new(path, bytes)
                .map_err(|e| external(format!("cannot write {}: {e}", path.display())))?;
        }
        let ids: Vec<(i64, &str)> = chunk.iter().map(|i| (i.id, i.number.as_str())).collect();
        let file = path.display().to_string();
        let now = clock.stamp();
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
        progress.inc(chunk.len() as u64);
    }
    let credit_notes_file = if let Some(bytes) = &credit_bytes {
        if !credit_path.exists() {
            whole_file::write_new(&credit_path, bytes)
                .map_err(|e| external(format!("cannot write {}: {e}", credit_path.display())))?;
        }
        let ids: Vec<(i64, &str)> = notes.iter().map(|n| (n.id, n.number.as_str())).collect();
        let file = credit_path.display().to_string();
        let now = clock.stamp();
        let tx = store.write()?;
        crate::store::xero::record_credits(&tx, actor, run.id, &file, &ids, &now)?;
        tx.commit()?;
        Some(file)
    } else {
        None
    };
    progress.finish();
    Ok(ExportReport {
        run: run.id,
        credit_notes_file,
        credit_notes: notes.len(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::FixedClock;
    use crate::store::email::seed;

    /// Run 1 (completed): INV-1 12.00, INV-2 0.00, INV-3 -6.00.
    fn store() -> Store {
        let s = Store::memory().unwrap();
        seed::run(&s);
        seed::invoice(&s, 1, "C1", "email", 1200);
        seed::invoice(&s, 2, "C2", "both", 0);
        seed::invoice(&s, 3, "C3", "print", -600);
        s
    }

    fn opts(out: PathBuf, all: bool) -> ExportOptions {
        ExportOptions {
            run: "1".into(),
            out,
            all,
            max_per_file: MAX_INVOICES_PER_FILE,
        }
    }

    fn exports(s: &Store) -> Vec<(i64, String, String)> {
        let mut st = s
            .conn
            .prepare("SELECT invoice_id, file, exported_at FROM xero_exports ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn exports_a_completed_run_once_and_never_replaces_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store();
        let actor = Actor::test();
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let settings = Settings::defaults();
        let out = dir.path().join("x.csv");

        let r = export(
            &mut s,
            &actor,
            &opts(out.clone(), false),
            &settings,
            &clock,
            &crate::ops::NoProgress,
        )
        .unwrap();
        assert_eq!(r.exported, 1);
        assert_eq!(r.already_exported, 0);
        assert_eq!(r.files.len(), 1);
        assert_eq!(r.files[0].file, out.display().to_string());
        assert_eq!((r.files[0].first.as_str(), r.files[0].rows), ("INV-1", 1));
        let excluded: Vec<&str> = r.excluded.iter().map(|e| e.number.as_str()).collect();
        assert_eq!(
            excluded,
            ["INV-2", "INV-3"],
            "Xero refuses zero and negative"
        );
        let csv = std::fs::read_to_string(&out).unwrap();
        assert!(csv.contains("INV-1"), "{csv}");
        assert!(!csv.contains("INV-3"), "{csv}");
        assert_eq!(
            exports(&s),
            vec![(1, out.display().to_string(), "2026-12-02T12:00:00Z".into())]
        );

        // A second export to the same file is refused and changes nothing.
        let e = export(
            &mut s,
            &actor,
            &opts(out.clone(), true),
            &settings,
            &clock,
            &crate::ops::NoProgress,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), csv);
        assert_eq!(exports(&s).len(), 1);

        // Elsewhere, nothing new: no file is written.
        let other = dir.path().join("y.csv");
        let r = export(
            &mut s,
            &actor,
            &opts(other.clone(), false),
            &settings,
            &clock,
            &crate::ops::NoProgress,
        )
        .unwrap();
        assert!(r.files.is_empty());
        assert_eq!((r.exported, r.already_exported), (0, 1));
        assert!(!other.exists());
    }

    #[test]
    fn a_file_written_but_not_recorded_is_recorded_next_time_not_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store();
        let actor = Actor::test();
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let settings = Settings::defaults();
        let out = dir.path().join("x.csv");
        let run = |s: &mut Store, out: &PathBuf| {
            export(
                s,
                &actor,
                &opts(out.clone(), false),
                &settings,
                &clock,
                &crate::ops::NoProgress,
            )
        };
        run(&mut s, &out).unwrap();
        let csv = std::fs::read(&out).unwrap();
        // A kill between the file and its record: the file, no record.
        s.conn.execute("DELETE FROM xero_exports", []).unwrap();
        let r = run(&mut s, &out).unwrap();
        assert_eq!((r.exported, r.files.len()), (1, 1));
        assert_eq!(std::fs::read(&out).unwrap(), csv, "not rewritten");
        assert_eq!(exports(&s).len(), 1, "recorded once");
        // A different file at that path is never taken for it.
        s.conn.execute("DELETE FROM xero_exports", []).unwrap();
        std::fs::write(&out, b"someone else's file").unwrap();
        let e = run(&mut s, &out).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"someone else's file");
        assert!(exports(&s).is_empty());
    }

    #[test]
    fn splits_files_and_needs_a_completed_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::memory().unwrap();
        seed::run(&s);
        seed::invoice(&s, 1, "C1", "email", 1200);
        seed::invoice(&s, 2, "C2", "both", 600);
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let o = ExportOptions {
            max_per_file: 1,
            ..opts(dir.path().join("x.csv"), false)
        };
        let r = export(
            &mut s,
            &Actor::test(),
            &o,
            &Settings::defaults(),
            &clock,
            &crate::ops::NoProgress,
        )
        .unwrap();
        let files: Vec<String> = r.files.iter().map(|f| f.file.clone()).collect();
        let name = |n: &str| dir.path().join(n).display().to_string();
        assert_eq!(files, [name("x-1.csv"), name("x-2.csv")]);
        assert!(!dir.path().join("x.csv").exists());

        s.conn
            .execute("UPDATE runs SET status = 'running'", [])
            .unwrap();
        let e = export(
            &mut s,
            &Actor::test(),
            &o,
            &Settings::defaults(),
            &clock,
            &crate::ops::NoProgress,
        )
        .unwrap_err();
        assert!(e.to_string().contains("not completed"), "{e}");
    }

    #[test]
    fn export_reports_invoices_written_file_by_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::memory().unwrap();
        seed::run(&s);
        // An invoice for each of the three seeded customers, all exportable.
        for (seq, account) in [(1, "C1"), (2, "C2"), (3, "C3")] {
            seed::invoice(&s, seq, account, "email", 100 * seq);
        }
        let mut s = s;
        let o = ExportOptions {
            max_per_file: 2,
            ..opts(dir.path().join("x.csv"), false)
        };
        let log = crate::ops::progress_log::Log::default();
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let r = export(
            &mut s,
            &Actor::test(),
            &o,
            &Settings::defaults(),
            &clock,
            &log,
        )
        .unwrap();
        assert_eq!((r.exported, r.files.len()), (3, 2));
        // One update per file written (2 + 1 invoices), after it is recorded.
        let p = log.phase("writing Xero import files");
        assert_eq!((p.total, p.done, p.incs), (Some(3), 3, 2));
        log.check_complete();
    }
}
