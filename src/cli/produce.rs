//! `produce RUN`: create the run's invoices (one transaction), then render
//! every missing PDF, then complete the run. Re-running resumes.
//!
//! PDFs are rendered on every core: the main thread loads invoices from the
//! database and records finished PDFs; worker threads render and write.
//! Each PDF is written to a temporary file beside `NUMBER.pdf` and renamed
//! to it (`whole_file`); a batch of renamed PDFs is then made durable with
//! one `syncfs` (on another thread, so rendering goes on meanwhile) and only
//! then recorded, so a kill or power cut at any moment leaves either no
//! record (the PDF is rendered again on resume, to the same bytes) or a
//! complete file on disk.

use super::output::{self, Ctx};
use crate::domain::money;
use crate::render::document::{self, Letterhead};
use crate::render::invoice_pdf::{Fonts, InvoiceDoc, render_invoice};
use crate::store::audit::Actor;
use crate::store::{self, Store, invoices, production, runs, settings};
use crate::whole_file;
use anyhow::Context;
use clap::Args as ClapArgs;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Run id or name.
    pub run: String,
}

/// Settings printed on invoices.
pub fn letterhead(conn: &rusqlite::Connection) -> anyhow::Result<Letterhead> {
    let get =
        |k: &str| -> anyhow::Result<String> { Ok(settings::get(conn, k)?.unwrap_or_default()) };
    let rate = settings::get_or(conn, "tax.rate", "0.20")?;
    Ok(Letterhead::new(
        &get("company.name")?,
        &get("company.address")?,
        &get("company.email")?,
        &get("company.tax_id")?,
        &settings::get_or(conn, "tax.name", "VAT")?,
        money::parse(&rate).map_err(anyhow::Error::msg)?,
    ))
}

/// The document of one stored invoice.
pub fn load_doc(
    conn: &rusqlite::Connection,
    head: &Letterhead,
    id: i64,
) -> anyhow::Result<InvoiceDoc> {
    let inv = invoices::get(conn, id)?;
    let lines = invoices::lines(conn, id)?;
    let calls = invoices::calls(conn, id)?;
    Ok(document::document(head, &inv, &lines, &calls))
}

/// Where a run's PDFs live.
pub fn pdf_dir(db: &Path, run_name: &str) -> PathBuf {
    store::files_dir(db).join("invoices").join(run_name)
}

/// Make the files `written` (by `whole_file::write`, `Sync::Later`) in
/// `dir`, and their names, durable. On Linux: one `syncfs` of the file system holding `dir`, through
/// `dir_fd` (it waits for every dirty page and the journal, a single flush
/// for the whole batch). `dir_fd` is opened once, before the first PDF is
/// written, and reused: a write-back error (Linux 5.8 and later) is reported
/// to each open descriptor once, so a descriptor opened later could miss an
/// error that happened before it. Elsewhere each file, then the directory,
/// is synced.
fn make_durable(dir_fd: &std::fs::File, written: &[Done]) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let _ = written;
        rustix::fs::syncfs(dir_fd)?;
    }
    #[cfg(not(target_os = "linux"))]
    {
        for w in written {
            std::fs::File::open(&w.path)?.sync_all()?;
        }
        // A directory can be synced on Unix; std offers no way to on
        // Windows, so there only the files are synced.
        #[cfg(unix)]
        dir_fd.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir_fd;
    }
    Ok(())
}

/// PDFs made durable and recorded per batch: at most this many...
const BATCH: usize = 250;
/// ...and at least this often while PDFs are coming in, so a kill loses
/// little work.
const BATCH_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

struct Done {
    id: i64,
    path: PathBuf,
    sha256: String,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, db: &Path, a: Args) -> anyhow::Result<()> {
    let run = runs::resolve(&store.conn, &a.run)?;
    produce(ctx, store, actor, db, &run)
}

/// Produce (or resume producing) a requested or running run.
pub fn produce(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    run: &runs::Run,
) -> anyhow::Result<()> {
    // One producer per run: an OS lock, released by the kernel if killed.
    let dir = pdf_dir(db, &run.name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::external(format!("cannot create {}: {e}", dir.display())))?;
    // Record absolute paths, so `email` and `print` find the PDFs from any
    // working directory.
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| crate::error::external(format!("cannot resolve {}: {e}", dir.display())))?;
    let lock = std::fs::File::create(dir.join(".produce.lock")).map_err(|e| {
        crate::error::external(format!("cannot create a lock in {}: {e}", dir.display()))
    })?;
    if lock.try_lock().is_err() {
        return Err(crate::error::precondition(format!(
            "run {} is being produced by another billrun process; wait for it (billrun status {})",
            run.id, run.id
        ))
        .into());
    }
    let tx = store.write()?;
    let created = production::start(&tx, actor, run)?;
    tx.commit()?;
    match &created {
        Some(c) => ctx.say(&format!(
            "run {}: {} invoices created ({} to {}); not produced: {} empty, {} below the minimum",
            run.id,
            c.invoices,
            c.first_number.as_deref().unwrap_or("-"),
            c.last_number.as_deref().unwrap_or("-"),
            c.empty,
            c.too_low
        )),
        None => ctx.say(&format!("run {}: resuming production", run.id)),
    }
    let run = runs::resolve(&store.conn, &run.id.to_string())?;
    if created.is_none() {
        let bad = check_recorded(store, run.id)?;
        if bad > 0 {
            ctx.say(&format!(
                "run {}: {bad} recorded PDFs are missing or changed on disk; rendering them again",
                run.id
            ));
        }
    }
    let missing = production::missing_pdfs(&store.conn, run.id)?;
    // Under the lock no other producer writes here: a temporary file of a
    // PDF still to render is what a killed producer left mid-write.
    let to_render: std::collections::HashSet<String> =
        missing.iter().map(|(_, n)| format!("{n}.pdf")).collect();
    whole_file::remove_leftovers(&dir, |n| to_render.contains(n), None).map_err(|e| {
        crate::error::external(format!(
            "cannot clear {} of temporary files: {e}",
            dir.display()
        ))
    })?;
    let rendered = render_all(ctx, store, &dir, &missing)?;
    let tx = store.write()?;
    let done = production::finish(&tx, actor, &run)?;
    tx.commit()?;
    let (total, ready) = invoices::pdf_progress(&store.conn, run.id)?;
    if done {
        ctx.say(&format!(
            "run {}: completed — {total} invoices, {rendered} PDFs written to {}",
            run.id,
            dir.display()
        ));
    } else {
        ctx.say(&format!(
            "run {}: {ready} of {total} PDFs ready; run billrun produce {} to finish",
            run.id, run.id
        ));
    }
    if ctx.json {
        output::print_json(&serde_json::json!({
            "run": run.id,
            "status": if done { "completed" } else { "running" },
            "invoices": total,
            "pdfs_ready": ready,
            "pdf_dir": &dir,
            "created": created.as_ref().map(|c| serde_json::json!({
                "invoices": c.invoices, "empty": c.empty, "too_low": c.too_low,
                "first": c.first_number, "last": c.last_number})),
        }))?;
    }
    Ok(())
}

/// On resume: forget every recorded PDF whose file is missing or does not
/// have the recorded SHA-256, so it is rendered again. Returns how many.
fn check_recorded(store: &mut Store, run_id: i64) -> anyhow::Result<usize> {
    let bad: Vec<i64> = production::recorded_pdfs(&store.conn, run_id)?
        .into_iter()
        .filter(|(_, path, sha)| {
            std::fs::read(path).map_or(true, |b| hex::encode(Sha256::digest(&b)) != *sha)
        })
        .map(|(id, _, _)| id)
        .collect();
    if !bad.is_empty() {
        let tx = store.write()?;
        for id in &bad {
            production::forget_pdf(&tx, *id)?;
        }
        tx.commit()?;
    }
    Ok(bad.len())
}

fn render_all(
    ctx: &Ctx,
    store: &mut Store,
    dir: &Path,
    missing: &[(i64, String)],
) -> anyhow::Result<usize> {
    if missing.is_empty() {
        return Ok(0);
    }
    let head = letterhead(&store.conn)?;
    let fonts = Fonts::shared().context("loading the embedded invoice font")?;
    let bar = if ctx.tty && !ctx.quiet && !ctx.json {
        let b = indicatif::ProgressBar::new(missing.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} PDFs {eta}")
                .expect("valid template"),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Opened before any PDF is written (see make_durable).
    let dir_fd = std::fs::File::open(dir)
        .map_err(|e| crate::error::external(format!("cannot open {}: {e}", dir.display())))?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (job_tx, job_rx) = mpsc::sync_channel::<(i64, String, InvoiceDoc)>(workers * 8);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Result<Done, String>>();
    let mut recorded = 0usize;
    let result: anyhow::Result<()> = std::thread::scope(|s| {
        for _ in 0..workers {
            let rx = Arc::clone(&job_rx);
            let tx = done_tx.clone();
            s.spawn(move || {
                loop {
                    let job = rx.lock().expect("job queue").recv();
                    let Ok((id, number, doc)) = job else { break };
                    let out = render_invoice(&doc, fonts)
                        .map_err(|e| format!("invoice {number}: {e}"))
                        .and_then(|bytes| {
                            let path = dir.join(format!("{number}.pdf"));
                            whole_file::write(&path, &bytes, whole_file::Sync::Later)
                                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                            Ok(Done {
                                id,
                                path,
                                sha256: hex::encode(Sha256::digest(&bytes)),
                            })
                        });
                    if tx.send(out).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        // The syncer makes each batch of written PDFs durable and hands it
        // back; only then is it recorded.
        let (sync_tx, sync_rx) = mpsc::channel::<Vec<Done>>();
        let (durable_tx, durable_rx) = mpsc::channel::<Result<Vec<Done>, String>>();
        // After one failed sync nothing more is recorded: a sync covers
        // files of later batches too, and a write-back error is reported only
        // once, so a later sync that succeeds proves nothing about them. The
        // unrecorded PDFs are rendered again by the next `produce`.
        s.spawn(move || {
            let mut failed = false;
            for batch in sync_rx {
                let out = if failed {
                    Err(format!(
                        "{} PDFs not recorded after the failed sync in {}",
                        batch.len(),
                        dir.display()
                    ))
                } else {
                    make_durable(&dir_fd, &batch).map(|()| batch).map_err(|e| {
                        failed = true;
                        format!("cannot sync the PDFs in {}: {e}", dir.display())
                    })
                };
                if durable_tx.send(out).is_err() {
                    break;
                }
            }
        });
        let mut failure: Option<String> = None;
        let mut record = |store: &mut Store,
                          batch: Result<Vec<Done>, String>,
                          failure: &mut Option<String>|
         -> anyhow::Result<()> {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    failure.get_or_insert(e);
                    return Ok(());
                }
            };
            let tx = store.write()?;
            for d in &batch {
                production::record_pdf(&tx, d.id, &d.path.to_string_lossy(), &d.sha256)?;
            }
            tx.commit()?;
            recorded += batch.len();
            Ok(())
        };
        let mut pending: Vec<Done> = Vec::with_capacity(BATCH);
        let last_batch = std::cell::Cell::new(std::time::Instant::now());
        let collect =
            |msg: Result<Done, String>, pending: &mut Vec<Done>, failure: &mut Option<String>| {
                match msg {
                    Ok(d) => {
                        bar.inc(1);
                        pending.push(d);
                    }
                    Err(e) => {
                        failure.get_or_insert(e);
                    }
                }
                if pending.len() >= BATCH
                    || (!pending.is_empty() && last_batch.get().elapsed() >= BATCH_WAIT)
                {
                    sync_tx.send(std::mem::take(pending)).ok();
                    last_batch.set(std::time::Instant::now());
                }
            };
        for (id, number) in missing {
            let doc = load_doc(&store.conn, &head, *id)?;
            job_tx.send((*id, number.clone(), doc)).ok();
            while let Ok(m) = done_rx.try_recv() {
                collect(m, &mut pending, &mut failure);
            }
            while let Ok(b) = durable_rx.try_recv() {
                record(store, b, &mut failure)?;
            }
        }
        drop(job_tx);
        for m in done_rx.iter() {
            collect(m, &mut pending, &mut failure);
        }
        if !pending.is_empty() {
            sync_tx.send(std::mem::take(&mut pending)).ok();
        }
        drop(sync_tx);
        for b in durable_rx.iter() {
            record(store, b, &mut failure)?;
        }
        match failure {
            Some(e) => Err(crate::error::external(format!(
                "{e}; the other PDFs are kept — fix the cause and run billrun produce again"
            ))
            .into()),
            None => Ok(()),
        }
    });
    bar.finish_and_clear();
    result?;
    Ok(recorded)
}
