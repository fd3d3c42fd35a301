//! Producing a requested run: invoices, numbers, PDFs, resume after a kill
//! (docs/rating.md#invoices).
//!
//! [`produce`] = [`begin`] then [`Production::finish`]; the CLI calls the two
//! halves itself so it can say what was created before the PDFs render.
//!
//! - [`begin`] takes the run's production lock (an OS lock on
//!   `<pdf dir>/.produce.lock`, released by the kernel if the process is
//!   killed), then in ONE write transaction moves the run to `running` and,
//!   the first time, creates every invoice: numbers from
//!   `invoice.next_number` (read inside that transaction), gap-free and never
//!   reused, the marks on everything they bill, the new
//!   `invoice.next_number` and the audit entry. A crash leaves all invoices
//!   or none. On a resume it forgets every recorded PDF that is missing or
//!   changed on disk, so it is rendered again.
//! - [`Production::finish`] renders every missing PDF on every core: the
//!   calling thread loads invoices from the database and records finished
//!   PDFs; worker threads render and write. Each PDF is written to a
//!   temporary file beside `NUMBER.pdf` and renamed to it (`whole_file`); a
//!   batch of renamed PDFs is then made durable with one `syncfs` (on another
//!   thread, so rendering goes on meanwhile) and only then recorded, so a
//!   kill or power cut at any moment leaves either no record (the PDF is
//!   rendered again on resume, to the same bytes) or a complete file on
//!   disk. When every PDF is recorded the run is `completed`.
//! - An invoice with more calls than `invoice.itemise_max_lines` gets a
//!   usage summary in its PDF, and its calls are streamed from the store
//!   into `NUMBER-calls.csv` (`.csv.gz` over 5 MB) beside it by the calling
//!   thread before the PDF is rendered (module `calls_file`); the file is made
//!   durable and recorded with the PDF, and checked on resume like it.
//!   Memory per invoice is bounded by the setting (at most 20,000 calls are
//!   ever held), not by the account's calls.

use super::{Clock, Progress};
use crate::domain::invoice::{self, Issued, Numbering, Outcome};
use crate::domain::itemised;
use crate::domain::lifecycle::{RunStatus, Transition};
use crate::domain::settings::Settings;
use crate::error::{Result, bad_input, external, precondition};
use crate::render::document::{self, Letterhead};
use crate::render::invoice_pdf::{
    Fonts, InvoiceDoc, UsageSummary, render_invoice, render_invoice_summarised,
};
use crate::store::audit::{self, Actor};
use crate::store::production::{self, NewInvoice, Recorded};
use crate::store::runs::{self, Run};
use crate::store::{self, Store, billing, charges, credits, fees, invoices, payments};
use crate::whole_file;
use rusqlite::Connection;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

mod calls_file;

/// What to produce.
#[derive(Debug, Clone, Copy)]
pub struct ProduceOptions<'a> {
    /// The database file: PDFs go under `<db>.files/invoices/<run name>/`.
    pub db: &'a Path,
    /// The run (requested, or running when resuming).
    pub run_id: i64,
}

/// What creating a run's invoices did (`created` in `produce --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Created {
    pub invoices: u64,
    pub empty: u64,
    pub too_low: u64,
    #[serde(rename = "first")]
    pub first_number: Option<String>,
    #[serde(rename = "last")]
    pub last_number: Option<String>,
}

/// Where production stands at the end of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Every invoice has its PDF; the run is complete.
    Completed,
    /// Some PDFs are still missing; `produce` again to finish.
    Running,
}

/// The outcome of `produce`; serialises as `produce --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProduceReport {
    pub run: i64,
    pub status: State,
    /// Invoices of the run.
    pub invoices: u64,
    /// Invoices whose PDF is recorded.
    pub pdfs_ready: u64,
    /// Where the PDFs are (absolute).
    pub pdf_dir: PathBuf,
    /// What this call created; `None` when it resumed.
    pub created: Option<Created>,
    /// PDFs rendered and recorded by this call.
    #[serde(skip)]
    pub pdfs_rendered: usize,
    /// Recorded PDFs found missing or changed on disk, rendered again.
    #[serde(skip)]
    pub pdfs_recovered: usize,
}

/// Where a run's PDFs live.
pub fn pdf_dir(db: &Path, run_name: &str) -> PathBuf {
    store::files_dir(db).join("invoices").join(run_name)
}

/// The company details and tax printed on every invoice.
pub fn letterhead(s: &Settings) -> Letterhead {
    Letterhead::new(
        &s.company.name,
        s.company.address.as_deref().unwrap_or(""),
        s.company.email.as_deref().unwrap_or(""),
        s.company.tax_id.as_deref().unwrap_or(""),
        &s.tax.name,
        s.tax.rate,
    )
}

/// What a worker renders for one invoice.
struct Job {
    id: i64,
    number: String,
    doc: InvoiceDoc,
    /// Set when the invoice's calls are in a file beside the PDF: the
    /// summary printed instead, and the file (written already).
    itemised: Option<(UsageSummary, calls_file::Written)>,
}

/// Load one stored invoice to render. An invoice with at most `max_lines`
/// calls gets them in its document; above, its calls are streamed into
/// `NUMBER-calls.csv` in `dir` now and its document gets a usage summary.
/// The outer error is the database's; the inner one, writing the file.
fn load_job(
    conn: &Connection,
    head: &Letterhead,
    dir: &Path,
    max_lines: u32,
    id: i64,
    number: &str,
) -> Result<std::result::Result<Job, String>> {
    let stored = invoices::get(conn, id)?;
    let by_email = matches!(stored.delivery.as_str(), "email" | "both");
    let inv = issued(stored);
    let lines = invoices::lines(conn, id)?;
    let count = invoices::call_count(conn, id)?;
    let allowances = store::allowances::invoice_allowances(conn, id)?;
    let job = |doc, itemised| Job {
        id,
        number: number.to_owned(),
        doc,
        itemised,
    };
    if itemised::in_pdf(count, max_lines) {
        if let Err(e) = calls_file::remove_stale(dir, number) {
            return Ok(Err(e));
        }
        let calls = invoices::calls(conn, id)?;
        return Ok(Ok(job(
            document::document(head, &inv, &lines, &calls, &allowances),
            None,
        )));
    }
    let file = match calls_file::write(conn, dir, number, id) {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    let note = itemised::note(&file.name, count, by_email);
    let summary = document::usage_summary(&invoices::usage_summary(conn, id)?, note);
    let doc = document::document(head, &inv, &lines, &[], &allowances);
    Ok(Ok(job(doc, Some((summary, file)))))
}

/// A stored invoice as its document prints it.
fn issued(i: invoices::Invoice) -> Issued {
    Issued {
        number: i.number,
        account: i.account,
        name: i.name,
        address: i.address,
        postcode: i.postcode,
        invoice_date: i.invoice_date,
        due_date: i.due_date,
        cutoff_date: i.cutoff_date,
        currency: i.currency,
        opening_balance_minor: i.opening_balance_minor,
        payments_minor: i.payments_minor,
        credits_minor: i.credits_minor,
        charges_ex_tax_minor: i.charges_ex_tax_minor,
        tax_minor: i.tax_minor,
        total_charges_minor: i.total_charges_minor,
        amount_due_minor: i.amount_due_minor,
        received_since_minor: i.received_since_minor,
        to_collect_minor: i.to_collect_minor,
        payment_method: i.payment_method,
        message: i.message,
    }
}

/// Check that every invoice of the run can be computed from the data as it
/// is now (the invoice maths of production, nothing written): `request`
/// calls it in its transaction before locking the run, so an absurd stored
/// amount refuses the request (exit 4, naming the customer or CDR) instead
/// of leaving a locked run that cannot be produced. Production itself is
/// one transaction: if it still fails, no invoice, number or mark is kept.
pub fn check_invoices(conn: &Connection, run: &Run, settings: &Settings) -> Result<()> {
    for (_, inputs) in billing::gather_with(conn, run, settings)? {
        invoice::draft(&inputs, settings.tax.rate).map_err(bad_input)?;
    }
    Ok(())
}

/// The customers' inputs that [`check_invoices_for_production`] gathered
/// and checked, for [`begin_checked`] to create the invoices from instead
/// of reading every unbilled CDR again (issue 16): used only when nothing
/// can have changed in between (the same run and settings, and no other
/// connection has committed since; `store::data_version`), else gathered
/// again as [`begin`] does.
#[derive(Debug)]
pub struct Checked {
    run_id: i64,
    data_version: i64,
    settings: Settings,
    gathered: Vec<(billing::BillCustomer, invoice::Inputs)>,
}

/// [`check_invoices`] for a request that production follows on the same
/// connection: gathers as production does (the allowances' outcome per CDR
/// kept for `allowances::record_charged`), checks with `settings` as
/// [`check_invoices`] does, and keeps what it gathered. `conn` is the
/// request's write transaction.
pub fn check_invoices_for_production(
    conn: &Connection,
    run: &Run,
    settings: &Settings,
) -> Result<Checked> {
    // Production gathers with the settings stored (read in its
    // transaction); so does this, so that what it keeps is what production
    // would gather.
    let stored = store::settings::load(conn)?;
    let gathered = billing::gather_for_production(conn, run, &stored)?;
    if &stored == settings {
        for (_, inputs) in &gathered {
            invoice::draft(inputs, settings.tax.rate).map_err(bad_input)?;
        }
    } else {
        check_invoices(conn, run, settings)?;
    }
    Ok(Checked {
        run_id: run.id,
        data_version: store::data_version(conn)?,
        settings: stored,
        gathered,
    })
}

/// Produce (or resume producing) a requested or running run: [`begin`],
/// then [`Production::finish`].
#[cfg(test)]
pub fn produce(
    store: &mut Store,
    actor: &Actor,
    opts: &ProduceOptions<'_>,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<ProduceReport> {
    begin(store, actor, opts, clock)?.finish(store, actor, settings, progress)
}

/// A production under way: the lock is held until it is finished (or dropped).
#[derive(Debug)]
pub struct Production {
    run: Run,
    dir: PathBuf,
    _lock: std::fs::File,
    created: Option<Created>,
    recovered: usize,
}

impl Production {
    pub fn run_id(&self) -> i64 {
        self.run.id
    }
    /// What [`begin`] created; `None` when it resumed.
    pub fn created(&self) -> Option<&Created> {
        self.created.as_ref()
    }
    /// Recorded PDFs found missing or changed on disk (resume only).
    pub fn recovered(&self) -> usize {
        self.recovered
    }
}

/// Lock the run for production, then move it to `running` and create its
/// invoices (the first time), or prepare a resume.
pub fn begin(
    store: &mut Store,
    actor: &Actor,
    opts: &ProduceOptions<'_>,
    clock: &dyn Clock,
) -> Result<Production> {
    begin_checked(store, actor, opts, clock, None)
}

/// [`begin`], creating the invoices from what the request's check gathered
/// when it is still what the store holds (see [`Checked`]).
pub fn begin_checked(
    store: &mut Store,
    actor: &Actor,
    opts: &ProduceOptions<'_>,
    clock: &dyn Clock,
    checked: Option<Checked>,
) -> Result<Production> {
    let run = runs::resolve(&store.conn, &opts.run_id.to_string())?;
    // One producer per run: an OS lock, released by the kernel if killed.
    let dir = pdf_dir(opts.db, &run.name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| external(format!("cannot create {}: {e}", dir.display())))?;
    // Record absolute paths, so `email` and `print` find the PDFs from any
    // working directory.
    let dir = std::fs::canonicalize(&dir)
        .map_err(|e| external(format!("cannot resolve {}: {e}", dir.display())))?;
    let lock = std::fs::File::create(dir.join(".produce.lock"))
        .map_err(|e| external(format!("cannot create a lock in {}: {e}", dir.display())))?;
    if lock.try_lock().is_err() {
        return Err(precondition(format!(
            "run {} is being produced by another billrun process; wait for it (billrun status {})",
            run.id, run.id
        )));
    }
    production::tune_for_production(&store.conn)?;
    let tx = store.write()?;
    let created = start(&tx, actor, &run, clock, checked)?;
    tx.commit()?;
    let run = runs::resolve(&store.conn, &run.id.to_string())?;
    let recovered = if created.is_none() {
        check_recorded(store, run.id)?
    } else {
        0
    };
    Ok(Production {
        run,
        dir,
        _lock: lock,
        created,
        recovered,
    })
}

/// Inside the production transaction: `requested` → `running`; on the first
/// call every invoice is created.
fn start(
    conn: &Connection,
    actor: &Actor,
    run: &Run,
    clock: &dyn Clock,
    checked: Option<Checked>,
) -> Result<Option<Created>> {
    match run.status {
        RunStatus::Requested => {
            runs::transition(conn, actor, run, Transition::StartProduction, "")?;
        }
        RunStatus::Running => {}
        other => {
            return Err(precondition(format!(
                "run {} is {other}: production needs a requested run (billrun request {})",
                run.id, run.id
            )));
        }
    }
    if production::created(conn, run.id)? {
        return Ok(None);
    }
    create_invoices(conn, actor, run, clock, checked).map(Some)
}

fn create_invoices(
    conn: &Connection,
    actor: &Actor,
    run: &Run,
    clock: &dyn Clock,
    checked: Option<Checked>,
) -> Result<Created> {
    let (Some(invoice_date), Some(cutoff)) = (run.invoice_date, run.cutoff_date) else {
        return Err(precondition(format!(
            "run {}: set dates first (billrun set-dates {} --invoice-date D --cutoff D)",
            run.id, run.id
        )));
    };
    // Read inside the transaction that moves `invoice.next_number` on.
    let s = store::settings::load(conn)?;
    let due_date = invoice::due_date(invoice_date, run.due_date, s.invoice.due_days);
    let next_number = i64::try_from(s.invoice.next_number).unwrap_or(i64::MAX);
    let mut numbers = Numbering::new(
        &s.invoice.prefix,
        next_number,
        production::highest_seq(conn)?,
    );
    let bound = billing::cutoff_bound(cutoff);
    let stamp = clock.stamp();

    let mut created = Created::default();
    // Invoiced accounts, whose usage is marked in one pass at the end.
    let mut invoiced: Vec<(String, i64)> = Vec::new();
    // What the request's check gathered, if nothing changed since; else
    // gathered now.
    let reuse = match checked {
        Some(c)
            if c.run_id == run.id
                && c.settings == s
                && c.data_version == store::data_version(conn)? =>
        {
            Some(c.gathered)
        }
        _ => None,
    };
    let gathered = match reuse {
        Some(g) => g,
        None => billing::gather_for_production(conn, run, &s)?,
    };
    for (customer, inputs) in gathered {
        let d = invoice::draft(&inputs, s.tax.rate).map_err(bad_input)?;
        match d.outcome {
            Outcome::Empty | Outcome::TooLow => {
                production::insert_not_produced(
                    conn,
                    run.id,
                    &d.account,
                    d.outcome.as_str(),
                    d.total_charges_minor,
                )?;
                if d.outcome == Outcome::Empty {
                    created.empty += 1;
                } else {
                    created.too_low += 1;
                }
                continue;
            }
            Outcome::Invoice => {}
        }
        let (seq, number) = numbers.take().map_err(precondition)?;
        let message = invoice::message(
            run.invoice_message.as_deref(),
            customer.invoice_message.as_deref(),
            s.invoice.default_message.as_deref(),
        );
        let invoice_id = production::insert_invoice(
            conn,
            &NewInvoice {
                run_id: run.id,
                number: &number,
                seq,
                account: &d.account,
                invoice_date,
                due_date,
                cutoff_date: cutoff,
                currency: &s.currency,
                opening_balance_minor: d.opening_balance_minor,
                payments_minor: d.payments_minor,
                charges_ex_tax_minor: d.charges_ex_tax_minor,
                tax_minor: d.tax_minor,
                total_charges_minor: d.total_charges_minor,
                amount_due_minor: d.amount_due_minor,
                received_since_minor: d.received_since_minor,
                to_collect_minor: d.to_collect_minor,
                message: &message,
                delivery: &customer.delivery,
                payment_method: &customer.payment_method,
                created_at: &stamp,
            },
        )?;
        production::insert_lines(conn, invoice_id, &d.lines)?;
        store::allowances::insert_invoice_allowances(conn, invoice_id, &inputs.allowances)?;
        invoiced.push((d.account, invoice_id));
        let ids = |items: &[invoice::Item]| items.iter().map(|i| i.id).collect::<Vec<_>>();
        charges::mark_billed(conn, &ids(&inputs.one_offs), invoice_id)?;
        fees::mark_billed(conn, &ids(&inputs.wholesale), invoice_id)?;
        let paid: Vec<i64> = inputs.payments.iter().map(|p| p.0).collect();
        payments::mark_billed(conn, &paid, invoice_id)?;
        credits::apply(conn, invoice_id, &inputs.credits)?;
        created.first_number.get_or_insert_with(|| number.clone());
        created.last_number = Some(number);
        created.invoices += 1;
    }
    production::mark_usage(conn, &invoiced, bound)?;
    store::allowances::record_charged(conn)?;
    production::save_next_number(conn, numbers.next_seq())?;
    audit::log(
        conn,
        actor,
        Some(run.id),
        "produce",
        &format!(
            "{} invoices created ({}–{}); {} empty, {} too low",
            created.invoices,
            created.first_number.as_deref().unwrap_or("-"),
            created.last_number.as_deref().unwrap_or("-"),
            created.empty,
            created.too_low
        ),
    )?;
    Ok(created)
}

/// On resume: forget every recorded PDF whose file — or whose itemised-calls
/// file — is missing or does not have the recorded SHA-256, so both are
/// rendered again (to the same bytes). Returns how many.
fn check_recorded(store: &mut Store, run_id: i64) -> Result<usize> {
    let intact = |r: &Recorded| calls_file::sha256_of(&r.path).is_some_and(|h| h == r.sha256);
    let bad: Vec<i64> = production::recorded_pdfs(&store.conn, run_id)?
        .into_iter()
        .filter(|f| !intact(&f.pdf) || f.calls.as_ref().is_some_and(|c| !intact(c)))
        .map(|f| f.invoice_id)
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

impl Production {
    /// Render every missing PDF, then complete the run if none is missing.
    pub fn finish(
        self,
        store: &mut Store,
        actor: &Actor,
        settings: &Settings,
        progress: &dyn Progress,
    ) -> Result<ProduceReport> {
        let Production {
            run,
            dir,
            _lock,
            created,
            recovered,
        } = self;
        let missing = production::missing_pdfs(&store.conn, run.id)?;
        // Under the lock no other producer writes here: a temporary file of a
        // PDF still to render is what a killed producer left mid-write.
        let to_render: std::collections::HashSet<String> = missing
            .iter()
            .flat_map(|(_, n)| {
                [
                    format!("{n}.pdf"),
                    itemised::file_name(n, false),
                    itemised::file_name(n, true),
                ]
            })
            .collect();
        whole_file::remove_leftovers(&dir, |n| to_render.contains(n), None).map_err(|e| {
            external(format!(
                "cannot clear {} of temporary files: {e}",
                dir.display()
            ))
        })?;
        let rendered = render_all(store, settings, &dir, &missing, progress)?;
        let tx = store.write()?;
        let done = production::missing_pdfs(&tx, run.id)?.is_empty();
        if done {
            runs::transition(
                &tx,
                actor,
                &run,
                Transition::Complete,
                "every invoice and PDF produced",
            )?;
        }
        tx.commit()?;
        let (total, ready) = invoices::pdf_progress(&store.conn, run.id)?;
        Ok(ProduceReport {
            run: run.id,
            status: if done {
                State::Completed
            } else {
                State::Running
            },
            invoices: total,
            pdfs_ready: ready,
            pdf_dir: dir,
            created,
            pdfs_rendered: rendered,
            pdfs_recovered: recovered,
        })
    }
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
            for r in std::iter::once(&w.pdf).chain(&w.calls) {
                std::fs::File::open(&r.path)?.sync_all()?;
            }
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
    pdf: Recorded,
    /// The itemised-calls file written with the PDF, if any.
    calls: Option<Recorded>,
}

/// Render, write, sync and record the PDFs of `missing` (id, number);
/// returns how many were recorded.
fn render_all(
    store: &mut Store,
    settings: &Settings,
    dir: &Path,
    missing: &[(i64, String)],
    progress: &dyn Progress,
) -> Result<usize> {
    if missing.is_empty() {
        return Ok(0);
    }
    let mut head = letterhead(settings);
    head.debit_calendar = super::email::debit_calendar(settings)?;
    let fonts =
        Fonts::shared().map_err(|e| external(format!("loading the embedded invoice font: {e}")))?;
    progress.start("PDFs", Some(missing.len() as u64));
    let max_lines = settings.invoice.itemise_max_lines;
    let result = render_with(store, &head, fonts, dir, max_lines, missing, progress);
    progress.finish();
    result
}

fn render_with(
    store: &mut Store,
    head: &Letterhead,
    fonts: &'static Fonts,
    dir: &Path,
    max_lines: u32,
    missing: &[(i64, String)],
    progress: &dyn Progress,
) -> Result<usize> {
    // Opened before any PDF is written (see make_durable).
    let dir_fd = std::fs::File::open(dir)
        .map_err(|e| external(format!("cannot open {}: {e}", dir.display())))?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(workers * 8);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Result<Done, String>>();
    let mut recorded = 0usize;
    std::thread::scope(|s| {
        for _ in 0..workers {
            let rx = Arc::clone(&job_rx);
            let tx = done_tx.clone();
            s.spawn(move || {
                loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(job) = job else { break };
                    let out = render_job(job, fonts, dir, max_lines);
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
         -> Result<()> {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    failure.get_or_insert(e);
                    return Ok(());
                }
            };
            let tx = store.write()?;
            for d in &batch {
                production::record_pdf(&tx, d.id, &d.pdf, d.calls.as_ref())?;
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
                        progress.inc(1);
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
            match load_job(&store.conn, head, dir, max_lines, *id, number)? {
                Ok(job) => {
                    job_tx.send(job).ok();
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
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
            Some(e) => Err(external(format!(
                "{e}; the other PDFs are kept — fix the cause and run billrun produce again"
            ))),
            None => Ok(()),
        }
    })?;
    Ok(recorded)
}

/// Render one invoice's PDF, check its size and write it beside its
/// itemised-calls file, if any (removed again if the PDF is refused).
fn render_job(
    job: Job,
    fonts: &Fonts,
    dir: &Path,
    max_lines: u32,
) -> std::result::Result<Done, String> {
    let Job {
        id,
        number,
        doc,
        itemised,
    } = job;
    let rendered = match &itemised {
        Some((summary, _)) => render_invoice_summarised(&doc, summary, fonts),
        None => render_invoice(&doc, fonts),
    };
    let written = rendered
        .map_err(|e| format!("invoice {number}: {e}"))
        .and_then(|bytes| {
            itemised::check_pdf(&number, bytes.len() as u64, max_lines)?;
            let path = dir.join(format!("{number}.pdf"));
            whole_file::write(&path, &bytes, whole_file::Sync::Later)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok(Recorded {
                path: path.to_string_lossy().into_owned(),
                sha256: hex::encode(Sha256::digest(&bytes)),
            })
        });
    let calls = itemised.map(|(_, f)| f);
    match written {
        Ok(pdf) => Ok(Done {
            id,
            pdf,
            calls: calls.map(|f| Recorded {
                path: f.path.to_string_lossy().into_owned(),
                sha256: f.sha256,
            }),
        }),
        Err(e) => {
            if let Some(f) = calls {
                let _ = std::fs::remove_file(&f.path);
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{FixedClock, NoProgress};
    use chrono::NaiveDate;

    fn clock() -> FixedClock {
        FixedClock::on(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap())
    }

    /// Customers A1..A3 with a charge each, A4 with nothing to bill, A5
    /// below its minimum; one requested run named `name`.
    fn setup(s: &Store) {
        s.conn
            .execute_batch(
                "INSERT INTO customers (account, name, delivery, payment_method, address1, postcode,
                    min_invoice, created_at)
                 VALUES ('A1', 'One Ltd', 'print', 'manual', '1 Mill Lane', 'LS1 1AA', NULL, 'x'),
                        ('A2', 'Two Ltd', 'email', 'direct_debit', '2 Mill Lane', 'LS1 1AB', NULL, 'x'),
                        ('A3', 'Three Ltd', 'both', 'card', '3 Mill Lane', 'LS1 1AC', NULL, 'x'),
                        ('A4', 'Four Ltd', 'print', 'manual', '4 Mill Lane', 'LS1 1AD', NULL, 'x'),
                        ('A5', 'Five Ltd', 'print', 'manual', '5 Mill Lane', 'LS1 1AE', '50', 'x');
                 INSERT INTO charges (account, date, description, amount_minor, created_at, created_by)
                 VALUES ('A1', '2026-11-10', 'Router', 5000, 'x', 't'),
                        ('A2', '2026-11-11', 'Install', 2500, 'x', 't'),
                        ('A3', '2026-11-12', 'Cable', 1000, 'x', 't'),
                        ('A5', '2026-11-13', 'Adapter', 100, 'x', 't');
                 INSERT INTO settings (key, value) VALUES ('invoice.next_number', '7');",
            )
            .unwrap();
        add_run(s, "2026-11", "2026-12-01", "2026-11-30");
    }

    fn add_run(s: &Store, name: &str, invoice_date: &str, cutoff: &str) -> i64 {
        s.conn
            .execute(
                "INSERT INTO runs (name, cycle, status, invoice_date, cutoff_date, created_at)
                 VALUES (?1, 'monthly', 'requested', ?2, ?3, 'x')",
                [name, invoice_date, cutoff],
            )
            .unwrap();
        s.conn.last_insert_rowid()
    }

    fn numbers(s: &Store, run_id: i64) -> Vec<String> {
        invoices::list(&s.conn, Some(run_id))
            .unwrap()
            .into_iter()
            .map(|i| i.number)
            .collect()
    }

    fn next_number(s: &Store) -> u64 {
        store::settings::load(&s.conn).unwrap().invoice.next_number
    }

    #[test]
    fn produces_gap_free_numbers_and_pdfs_and_a_resume_creates_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut s = Store::memory().unwrap();
        setup(&s);
        let opts = ProduceOptions { db: &db, run_id: 1 };
        let settings = store::settings::load(&s.conn).unwrap();

        // A kill right after the invoices were created: nothing rendered.
        let started = begin(&mut s, &Actor::test(), &opts, &clock()).unwrap();
        let created = started.created().cloned().unwrap();
        assert_eq!(
            created,
            Created {
                invoices: 3,
                empty: 1,
                too_low: 1,
                first_number: Some("INV000007".into()),
                last_number: Some("INV000009".into()),
            }
        );
        // Another producer of the same run is refused while this one lives.
        let err = begin(&mut s, &Actor::test(), &opts, &clock()).unwrap_err();
        assert!(
            err.to_string().contains("being produced by another"),
            "{err}"
        );
        drop(started);
        assert_eq!(
            runs::resolve(&s.conn, "1").unwrap().status,
            RunStatus::Running
        );
        assert_eq!(next_number(&s), 10);

        // The resume creates nothing and renders every PDF.
        let r = produce(
            &mut s,
            &Actor::test(),
            &opts,
            &settings,
            &clock(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(r.created, None);
        assert_eq!(r.status, State::Completed);
        assert_eq!((r.invoices, r.pdfs_ready, r.pdfs_rendered), (3, 3, 3));
        assert_eq!(numbers(&s, 1), ["INV000007", "INV000008", "INV000009"]);
        assert_eq!(next_number(&s), 10);
        assert_eq!(
            runs::resolve(&s.conn, "1").unwrap().status,
            RunStatus::Completed
        );
        for inv in invoices::list(&s.conn, Some(1)).unwrap() {
            let path = inv.pdf_path.expect("recorded");
            assert!(path.starts_with(&*r.pdf_dir.to_string_lossy()), "{path}");
            let bytes = std::fs::read(&path).unwrap();
            assert!(bytes.starts_with(b"%PDF"));
            assert_eq!(inv.pdf_sha256.unwrap(), hex::encode(Sha256::digest(&bytes)));
        }
        let a1 = invoices::by_number(&s.conn, "INV000007").unwrap();
        assert_eq!((a1.account.as_str(), a1.amount_due_minor), ("A1", 6000));
        assert_eq!(a1.due_date, NaiveDate::from_ymd_opt(2026, 12, 15).unwrap());
        let stamp: String = s
            .conn
            .query_row("SELECT created_at FROM invoices WHERE seq = 7", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(stamp, "2026-12-01T12:00:00Z");
        let unbilled: i64 = s
            .conn
            .query_row(
                "SELECT COUNT(*) FROM charges WHERE invoice_id IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unbilled, 1, "only the held-over charge stays unbilled");

        // A completed run is not produced again.
        let err = produce(
            &mut s,
            &Actor::test(),
            &opts,
            &settings,
            &clock(),
            &NoProgress,
        )
        .unwrap_err();
        assert!(err.to_string().contains("is completed"), "{err}");
    }

    #[test]
    fn the_next_run_continues_the_numbers_and_never_reuses_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut s = Store::memory().unwrap();
        setup(&s);
        let settings = store::settings::load(&s.conn).unwrap();
        let first = ProduceOptions { db: &db, run_id: 1 };
        produce(
            &mut s,
            &Actor::test(),
            &first,
            &settings,
            &clock(),
            &NoProgress,
        )
        .unwrap();
        // The setting lowered by hand: numbers still continue after 9.
        s.conn
            .execute(
                "UPDATE settings SET value = '2' WHERE key = 'invoice.next_number'",
                [],
            )
            .unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO charges (account, date, description, amount_minor, created_at, created_by)
                 VALUES ('A4', '2026-12-10', 'Router', 4000, 'x', 't');",
            )
            .unwrap();
        let run = add_run(&s, "2026-12", "2027-01-01", "2026-12-31");
        let second = ProduceOptions {
            db: &db,
            run_id: run,
        };
        let r = produce(
            &mut s,
            &Actor::test(),
            &second,
            &settings,
            &clock(),
            &NoProgress,
        )
        .unwrap();
        let c = r.created.unwrap();
        // A1..A3 owe their first invoices; A4 has a charge; A5 is still too low.
        assert_eq!((c.invoices, c.too_low), (4, 1));
        assert_eq!(
            numbers(&s, run),
            ["INV000010", "INV000011", "INV000012", "INV000013"]
        );
        assert_eq!(next_number(&s), 14);
    }

    /// `n` calls billed on invoice `invoice_id` (inserted directly).
    fn bill_calls(s: &Store, invoice_id: i64, n: u32) {
        s.conn
            .execute_batch(&format!(
                "INSERT OR IGNORE INTO carriers VALUES ('t', 'billrun', NULL, 'x');
                 INSERT OR IGNORE INTO cdr_files (id, carrier, name, sha256, state, imported_at)
                 VALUES (1, 't', 't.csv', 'x', 'processed', 'x');
                 DELETE FROM cdrs;
                 WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < {n})
                 INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units,
                                   state, billable, charge_minor, invoice_id)
                 SELECT 1, i + 1, '01610000001', 1793520000 + i * 20, printf('447700%06d', i),
                        i % 2, 5 + i % 1795, 1, 5 + i % 1795, 3 + i % 40, {invoice_id}
                 FROM k;"
            ))
            .unwrap();
    }

    #[test]
    fn a_calls_file_over_the_limit_is_gzipped_and_the_same_calls_give_the_same_bytes() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut s = Store::memory().unwrap();
        setup(&s);
        let settings = store::settings::load(&s.conn).unwrap();
        let opts = ProduceOptions { db: &db, run_id: 1 };
        let r = produce(
            &mut s,
            &Actor::test(),
            &opts,
            &settings,
            &clock(),
            &NoProgress,
        )
        .unwrap();
        let inv = invoices::by_number(&s.conn, "INV000007").unwrap();
        let out = &r.pdf_dir;

        // 3,000 calls: a CSV of about 200 KB, over a limit of 100 KB
        // (5 MB in production: `itemised::GZIP_ABOVE_BYTES`).
        const LIMIT: u64 = 100_000;
        let write =
            |s: &Store| calls_file::write_gzip_above(&s.conn, out, "INV000007", inv.id, LIMIT);
        bill_calls(&s, inv.id, 3_000);
        let big = write(&s).unwrap();
        assert_eq!(big.name, "INV000007-calls.csv.gz");
        assert!(!out.join("INV000007-calls.csv").exists());
        let gz = std::fs::read(&big.path).unwrap();
        assert!(gz.len() < 100_000, "{}", gz.len());
        assert_eq!(big.sha256, hex::encode(Sha256::digest(&gz)));
        let mut csv = String::new();
        flate2::read::GzDecoder::new(gz.as_slice())
            .read_to_string(&mut csv)
            .unwrap();
        assert!(csv.len() as u64 > LIMIT, "{}", csv.len());
        assert_eq!(csv.lines().count(), 3_001);
        assert!(
            csv.starts_with("service,date,time,destination,"),
            "{csv:.80}"
        );
        let again = write(&s).unwrap();
        assert_eq!(again.sha256, big.sha256, "deterministic");
        assert_eq!(std::fs::read(&again.path).unwrap(), gz);

        // Fewer calls: a plain CSV, and the compressed one is gone.
        bill_calls(&s, inv.id, 10);
        let small = write(&s).unwrap();
        assert_eq!(small.name, "INV000007-calls.csv");
        assert!(!big.path.exists());
        let text = std::fs::read_to_string(&small.path).unwrap();
        assert_eq!(text.lines().count(), 11);
        assert!(
            text.lines()
                .nth(1)
                .unwrap()
                .starts_with("01610000001,2026-11-01,08:00:00,447700000000,"),
            "{text}"
        );
        calls_file::remove_stale(out, "INV000007").unwrap();
        assert!(!small.path.exists());
        // No temporary file is left behind.
        let names: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }

    #[test]
    fn refuses_a_run_that_is_not_requested() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut s = Store::memory().unwrap();
        setup(&s);
        s.conn
            .execute("UPDATE runs SET status = 'approved'", [])
            .unwrap();
        let opts = ProduceOptions { db: &db, run_id: 1 };
        let err = begin(&mut s, &Actor::test(), &opts, &clock()).unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("needs a requested run"), "{err}");
        assert!(numbers(&s, 1).is_empty());
    }
}
