//! Emailing a run's invoices (docs/commands.md#email): one message per invoice of an
//! `email`/`both` customer, its PDF attached.
//!
//! At most once: each attempt is committed as `in_flight` (its own write
//! transaction) BEFORE the message is handed to the server, then recorded
//! `sent` or `failed` (`store::email`). An attempt whose outcome is unknown
//! (the connection broke after the data was sent) stays in flight and is
//! reported as needing the operator; it is sent again only when named with
//! `resend`. A dry run writes one `NUMBER.eml` per invoice and records
//! nothing.
//!
//! One sending `email` at a time per database: an OS lock on
//! `<db>.files/email.lock` (`std::fs::File::try_lock`; the kernel releases
//! it when the process ends, even on `kill -9`, so there is no stale lock to
//! clear). A second `email` while one is sending stops at once with exit 3
//! and says so, instead of reading the first one's in-flight attempts as
//! messages that "may have gone". The in-flight commits are made with
//! `synchronous=FULL`, so an attempt recorded before a power cut is still
//! recorded after it (at most once survives the cut).

use super::{Clock, Progress};
use crate::domain::invoice_email::{self, Content};
use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::domain::settings::{Settings, currency_symbol};
use crate::error::{Result, bad_input, external, precondition};
use crate::gateway::email::{
    InvoiceEmail, Mailer, Security, SendOutcome, SmtpSettings, build_message, header_text,
    write_eml,
};
use crate::store::audit::Actor;
use crate::store::email::{self as records, Candidate, NewAttempt, Outcome, Target};
use crate::store::{Store, runs};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod credits;

/// How long to wait for the SMTP server at each step of the dialogue.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// What to email.
#[derive(Debug, Clone, Default)]
pub struct EmailOptions {
    /// The run (id or name); it must be completed.
    pub run: String,
    /// Write one `NUMBER.eml` per invoice into this directory instead of
    /// sending; records nothing.
    pub dry_run: Option<PathBuf>,
    /// Send these invoices again (after the operator checked the mailbox),
    /// whatever their state.
    pub resend: Vec<String>,
    /// Send at most this many messages (the rest stay for the next time).
    pub limit: Option<usize>,
    /// The SMTP password (`BILLRUN_SMTP_PASSWORD`; never stored or printed).
    pub password: Option<String>,
}

/// An invoice the server accepted.
#[derive(Debug, Clone, Serialize)]
pub struct SentItem {
    pub number: String,
    pub account: String,
    pub to: String,
    pub message_id: String,
    pub reply: String,
}

/// An invoice that was not sent (recorded as failed; a re-run tries again).
#[derive(Debug, Clone, Serialize)]
pub struct FailedItem {
    pub number: String,
    pub account: String,
    pub to: Option<String>,
    pub reason: String,
}

/// An invoice interrupted mid-send: it may have gone.
#[derive(Debug, Clone, Serialize)]
pub struct WaitingItem {
    pub number: String,
    pub account: String,
    pub to: Option<String>,
    pub message_id: Option<String>,
    pub since: String,
}

/// A message written by a dry run.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenItem {
    pub number: String,
    pub account: String,
    pub to: String,
    pub file: String,
}

/// What one `email` did (the JSON of `billrun email`).
#[derive(Debug, Default, Serialize)]
pub struct EmailReport {
    pub run: i64,
    pub dry_run: Option<String>,
    pub sent: Vec<SentItem>,
    pub written: Vec<WrittenItem>,
    pub failed: Vec<FailedItem>,
    pub needs_operator: Vec<WaitingItem>,
    pub already_sent: usize,
    pub left_for_later: usize,
    /// The run's name.
    #[serde(skip)]
    pub run_name: String,
    /// The SMTP server could not be reached: nothing was handed to it, every
    /// invoice to send was recorded as failed (in `failed`), and this says
    /// why and what to do.
    #[serde(skip)]
    pub not_connected: Option<String>,
}

/// What the settings say about the sender.
pub(crate) struct Sender {
    company: String,
    company_email: Option<String>,
    symbol: String,
    /// The Direct Debit calendar: the advance notice states the debit date.
    debit_calendar: Option<crate::domain::calendar::Calendar>,
    /// `"Company" <address>` (or the bare address).
    pub(crate) from: String,
    pub(crate) from_address: String,
}

pub(crate) fn sender(settings: &Settings) -> Result<Sender> {
    let company = settings.company.name.clone();
    let company_email = settings.company.email.clone();
    let from_address = settings
        .smtp
        .from
        .clone()
        .or_else(|| company_email.clone())
        .ok_or_else(|| {
            precondition(
                "no sender address: set one with `billrun config set smtp.from billing@example.com`",
            )
        })?;
    // A company name stored before `config set` refused control characters
    // must not break the From header (every message would fail).
    let name = header_text(&company).replace(['"', '\\'], "");
    let from = if from_address.contains('<') || name.is_empty() {
        from_address.clone()
    } else {
        format!("\"{name}\" <{from_address}>")
    };
    Ok(Sender {
        company,
        company_email,
        symbol: currency_symbol(&settings.currency).to_string(),
        debit_calendar: debit_calendar(settings)?,
        from,
        from_address,
    })
}

/// The calendar of `dd.format` with `dd.holidays` (`None` if the format
/// is not one billrun writes).
pub(crate) fn debit_calendar(
    settings: &Settings,
) -> Result<Option<crate::domain::calendar::Calendar>> {
    match settings.dd.format.parse() {
        Ok(f) => Ok(Some(crate::ops::collect::dd_calendar(settings, f)?)),
        Err(_) => Ok(None),
    }
}

pub(crate) fn smtp_settings(
    settings: &Settings,
    password: Option<&str>,
    from: &str,
) -> Result<SmtpSettings> {
    let smtp = &settings.smtp;
    let host = smtp.host.clone().ok_or_else(|| {
        precondition("no SMTP server: set it with `billrun config set smtp.host HOST` (and smtp.port, smtp.security)")
    })?;
    let security = match smtp.security.as_str() {
        "none" => Security::None,
        "tls" => Security::Tls,
        _ => Security::StartTls,
    };
    Ok(SmtpSettings {
        host,
        port: smtp.port,
        security,
        username: smtp.username.clone(),
        password: password.filter(|p| !p.is_empty()).map(String::from),
        from: from.to_string(),
        timeout: SMTP_TIMEOUT,
    })
}

/// The message for one invoice (the attachment read from its PDF).
fn invoice_email(
    s: &Sender,
    c: &Candidate,
    to: &str,
    message_id: &str,
) -> std::result::Result<InvoiceEmail, String> {
    let pdf_path = c
        .pdf_path
        .as_deref()
        .ok_or_else(|| "the invoice has no PDF yet: run `billrun produce RUN`".to_string())?;
    let pdf = std::fs::read(pdf_path).map_err(|e| format!("cannot read PDF {pdf_path}: {e}"))?;
    let calls = itemised_calls(c, pdf.len() as u64)?;
    let date = |d: &str| {
        d.parse::<chrono::NaiveDate>()
            .map_err(|e| format!("bad date {d}: {e}"))
    };
    let composed = invoice_email::compose(&Content {
        number: c.number.clone(),
        company: s.company.clone(),
        company_email: s.company_email.clone(),
        customer_name: c.customer_name.clone(),
        invoice_date: date(&c.invoice_date)?,
        due_date: date(&c.due_date)?,
        debit_date: match (&s.debit_calendar, c.payment_method.as_str()) {
            (Some(cal), "direct_debit") => {
                Some(crate::domain::calendar::debit_date(cal, date(&c.due_date)?))
            }
            _ => None,
        },
        currency_symbol: s.symbol.clone(),
        amount_due: money::from_minor(c.amount_due_minor),
        cutoff_date: date(&c.cutoff_date)?,
        received_since_minor: c.received_since_minor,
        to_collect_minor: c.to_collect_minor,
        payment_method: c.payment_method.clone(),
        message: c.message.clone(),
    });
    Ok(InvoiceEmail {
        to: to.to_string(),
        to_name: Some(c.customer_name.clone()),
        subject: composed.subject,
        text_body: composed.text,
        html_body: composed.html,
        attachment_name: format!("{}.pdf", c.number),
        attachment: pdf,
        calls,
        message_id: message_id.to_string(),
    })
}

/// The invoice's itemised-calls file (name, bytes) when it has one, checked
/// with the PDF against the size mail servers accept.
fn itemised_calls(
    c: &Candidate,
    pdf_len: u64,
) -> std::result::Result<Option<(String, Vec<u8>)>, String> {
    use crate::domain::itemised::check_email;
    let Some(path) = c.calls_path.as_deref() else {
        return check_email(&c.number, pdf_len, None).map(|()| None);
    };
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read itemised calls {path}: {e}"))?
        .len();
    check_email(&c.number, pdf_len, Some((&name, len)))?;
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot read itemised calls {path}: {e}"))?;
    Ok(Some((name, bytes)))
}

const NO_ADDRESS: &str =
    "no email address on file for the customer: add it (customers import), then re-run email";

/// Email a completed run's invoices (or write them, on a dry run).
///
/// Invoices never attempted or whose last attempt failed are sent; those
/// sent are counted as `already_sent`; those interrupted mid-send are listed
/// in `needs_operator` and left alone unless named in `resend`.
pub fn send(
    store: &mut Store,
    actor: &Actor,
    opts: &EmailOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<EmailReport> {
    let run = runs::resolve(&store.conn, &opts.run)?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}, not completed: invoices are emailed once production has completed \
             (see `billrun status {}`)",
            run.name,
            run.status.as_str(),
            run.id
        )));
    }
    let s = sender(settings)?;
    // Held until the report is returned; taken before the candidates are
    // read, so they cannot include another run's attempts in flight.
    let _lock = match &opts.dry_run {
        Some(_) => None,
        None => lock(store, actor, &run.name, clock)?,
    };
    let all = records::candidates(&store.conn, run.id)?;
    let mut report = EmailReport {
        run: run.id,
        run_name: run.name.clone(),
        dry_run: opts.dry_run.as_ref().map(|d| d.display().to_string()),
        ..Default::default()
    };
    let credit_numbers = credits::numbers(&store.conn)?;
    let todo = choose(&all, opts, &run.name, &credit_numbers, &mut report)?;
    if let Some(dir) = &opts.dry_run {
        dry_run(&s, dir, &todo, progress, &mut report)?;
    } else {
        let job = Job {
            actor,
            sender: &s,
            settings,
            password: opts.password.as_deref(),
            run_id: run.id,
            resend: !opts.resend.is_empty(),
            clock,
            progress,
        };
        deliver(store, &job, &todo, &mut report)?;
    }
    if report.not_connected.is_none() {
        let c = credits::Ctx {
            sender: &s,
            opts,
            settings,
            actor,
            clock,
            progress,
        };
        credits::send(store, &c, &mut report)?;
    }
    Ok(report)
}

/// `email RUN --arrived NUMBER…`: the operator checked the mailbox and an
/// invoice email interrupted mid-send did arrive; its `in_flight` attempt
/// is recorded as sent (audited), nothing is sent. Only an interrupted
/// attempt can be marked so.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArrivedReport {
    pub run: i64,
    /// The invoices recorded as delivered.
    pub arrived: Vec<String>,
}

pub fn mark_arrived(
    store: &mut Store,
    actor: &Actor,
    run: &str,
    numbers: &[String],
    clock: &dyn Clock,
) -> Result<ArrivedReport> {
    let run = runs::resolve(&store.conn, run)?;
    // Not while an `email` of this database is sending (its attempts in
    // flight are its own).
    let _lock = lock(store, actor, &run.name, clock)?;
    let all = records::candidates(&store.conn, run.id)?;
    let mut rows: Vec<(i64, &str)> = Vec::new();
    for number in numbers {
        let c = all.iter().find(|c| &c.number == number).ok_or_else(|| {
            bad_input(format!(
                "--arrived {number}: not an invoice of run {} delivered by email; nothing was changed",
                run.name
            ))
        })?;
        match &c.last {
            Some(l) if l.state == "in_flight" => {
                if !rows.iter().any(|(id, _)| *id == l.id) {
                    rows.push((l.id, number));
                }
            }
            last => {
                return Err(bad_input(format!(
                    "--arrived {number}: its email was not interrupted mid-send (last attempt: {}); nothing was changed",
                    last.as_ref().map_or("none", |l| l.state.as_str())
                )));
            }
        }
    }
    let now = clock.stamp();
    let reply = format!(
        "arrived: {} checked the mailbox (email --arrived)",
        actor.operator
    );
    let tx = store.write()?;
    for (id, number) in &rows {
        records::finish(
            &tx,
            actor,
            run.id,
            *id,
            number,
            &Outcome::Sent {
                reply: reply.clone(),
            },
            &now,
        )?;
    }
    tx.commit()?;
    Ok(ArrivedReport {
        run: run.id,
        arrived: rows.iter().map(|(_, n)| (*n).to_string()).collect(),
    })
}

/// The lock file of sending `email` runs on this database.
pub fn lock_path(db: &Path) -> PathBuf {
    crate::store::files_dir(db).join("email.lock")
}

/// Take the email lock (see the module documentation); `None` for an
/// in-memory database. The file says who holds it, for the message another
/// `email` gives.
fn lock(
    store: &Store,
    actor: &Actor,
    run_name: &str,
    clock: &dyn Clock,
) -> Result<Option<std::fs::File>> {
    use std::io::{Seek, Write};
    let Some(db) = store.conn.path().filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let path = lock_path(Path::new(db));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| external(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(&path).map_err(|e| {
        external(format!(
            "cannot open the email lock {}: {e}",
            path.display()
        ))
    })?;
    match f.try_lock() {
        Ok(()) => {
            // Best effort: the lock is the OS lock, this only names its holder.
            let holder = format!(
                "pid {} ({}), run {run_name}, since {}\n",
                std::process::id(),
                actor.operator,
                clock.stamp()
            );
            let _ = f
                .set_len(0)
                .and_then(|()| f.rewind())
                .and_then(|()| f.write_all(holder.as_bytes()));
            Ok(Some(f))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            Err(precondition(format!(
                "another `billrun email` is in progress on this database{}: this one sent nothing. \
                 Wait for it to finish, then see `billrun status` (re-run `billrun email RUN` only if invoices are left to send)",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" ({holder})")
                }
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(external(format!("cannot lock {}: {e}", path.display())))
        }
    }
}

/// What to send this time.
fn choose<'a>(
    all: &'a [Candidate],
    opts: &EmailOptions,
    run_name: &str,
    credit_numbers: &std::collections::HashSet<String>,
    report: &mut EmailReport,
) -> Result<Vec<&'a Candidate>> {
    let mut todo: Vec<&Candidate> = Vec::new();
    if !opts.resend.is_empty() {
        for number in &opts.resend {
            if credit_numbers.contains(number) {
                continue; // a credit note: `credits::send` resends it
            }
            let c = all.iter().find(|c| &c.number == number).ok_or_else(|| {
                bad_input(format!(
                    "--resend {number}: not an invoice of run {run_name} delivered by email"
                ))
            })?;
            if !todo.iter().any(|t| t.invoice_id == c.invoice_id) {
                todo.push(c);
            }
        }
    } else {
        for c in all {
            match &c.last {
                None => todo.push(c),
                Some(l) if l.state == "failed" => todo.push(c),
                Some(l) if l.state == "sent" => report.already_sent += 1,
                Some(l) => report.needs_operator.push(WaitingItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: l.recipient.clone(),
                    message_id: l.message_id.clone(),
                    since: l.started_at.clone(),
                }),
            }
        }
    }
    if let Some(n) = opts.limit
        && todo.len() > n
    {
        report.left_for_later = todo.len() - n;
        todo.truncate(n);
    }
    Ok(todo)
}

fn dry_run(
    s: &Sender,
    dir: &Path,
    todo: &[&Candidate],
    progress: &dyn Progress,
    report: &mut EmailReport,
) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| external(format!("creating {}: {e}", dir.display())))?;
    let settings = SmtpSettings {
        host: String::new(),
        port: 0,
        security: Security::None,
        username: None,
        password: None,
        from: s.from.clone(),
        timeout: SMTP_TIMEOUT,
    };
    progress.start("writing messages", Some(todo.len() as u64));
    for c in todo {
        progress.inc(1);
        let fail = |reason: String, to: Option<&String>| FailedItem {
            number: c.number.clone(),
            account: c.account.clone(),
            to: to.cloned(),
            reason,
        };
        let Some(to) = &c.email else {
            report.failed.push(fail(NO_ADDRESS.into(), None));
            continue;
        };
        let mid = invoice_email::message_id(&c.number, 0, "dry-run", &s.from_address);
        let msg = invoice_email(s, c, to, &mid)
            .and_then(|e| build_message(&settings, &e).map_err(|e| e.to_string()));
        match msg {
            Ok(m) => {
                let path = dir.join(format!("{}.eml", c.number));
                crate::whole_file::write(&path, &write_eml(&m), crate::whole_file::Sync::Later)
                    .map_err(|e| external(format!("writing {}: {e}", path.display())))?;
                report.written.push(WrittenItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: to.clone(),
                    file: path.display().to_string(),
                });
            }
            Err(reason) => report.failed.push(fail(reason, Some(to))),
        }
    }
    progress.finish();
    Ok(())
}

/// What one `email` invocation sends with.
struct Job<'a> {
    actor: &'a Actor,
    sender: &'a Sender,
    settings: &'a Settings,
    password: Option<&'a str>,
    run_id: i64,
    /// The invoices were named with `resend`.
    resend: bool,
    clock: &'a dyn Clock,
    progress: &'a dyn Progress,
}

impl Job<'_> {
    fn target<'c>(&self, c: &'c Candidate) -> Target<'c> {
        Target {
            run_id: self.run_id,
            invoice_id: c.invoice_id,
            number: &c.number,
            resend: self.resend,
        }
    }

    /// Now, as stored in `*_at` columns.
    fn stamp(&self) -> String {
        self.clock.stamp()
    }

    /// Record a failure where nothing was handed to the server.
    fn record_failed(
        &self,
        store: &mut Store,
        c: &Candidate,
        to: Option<&str>,
        reason: &str,
    ) -> Result<()> {
        let tx = store.write()?;
        records::record_failed(&tx, self.actor, &self.target(c), to, reason, &self.stamp())?;
        tx.commit()?;
        Ok(())
    }
}

fn deliver(
    store: &mut Store,
    job: &Job<'_>,
    todo: &[&Candidate],
    report: &mut EmailReport,
) -> Result<()> {
    // Invoices with no address fail without a connection.
    let mut with_address: Vec<(&Candidate, &String)> = Vec::new();
    for c in todo {
        match &c.email {
            Some(to) => with_address.push((c, to)),
            None => {
                job.record_failed(store, c, None, NO_ADDRESS)?;
                report.failed.push(FailedItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: None,
                    reason: NO_ADDRESS.into(),
                });
            }
        }
    }
    if with_address.is_empty() {
        return Ok(());
    }
    let smtp = smtp_settings(job.settings, job.password, &job.sender.from)?;
    let mailer = match Mailer::connect(&smtp) {
        Ok(m) => m,
        Err(e) => {
            // Nothing was handed to the server: record every invoice as failed
            // with the reason, so `status` shows it, and stop.
            let reason = e.to_string();
            for (c, to) in &with_address {
                job.record_failed(store, c, Some(to), &reason)?;
                report.failed.push(FailedItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: Some((*to).clone()),
                    reason: reason.clone(),
                });
            }
            report.not_connected = Some(format!(
                "{reason}; {} invoices not sent (recorded as failed; re-run `billrun email {}` once the server is fixed)",
                with_address.len(),
                job.run_id
            ));
            return Ok(());
        }
    };
    // Each in-flight commit must be on disk before its message is handed
    // to the server (the store's default, NORMAL, leaves the WAL's sync to
    // the next checkpoint: a power cut could forget an attempt that went).
    store.conn.pragma_update(None, "synchronous", "FULL")?;
    let session = Session {
        job,
        smtp: &smtp,
        mailer: &mailer,
    };
    job.progress
        .start("emailing", Some(with_address.len() as u64));
    for (c, to) in &with_address {
        session.send_one(store, c, to, report)?;
        job.progress.inc(1);
    }
    job.progress.finish();
    Ok(())
}

/// A connection to the SMTP server.
struct Session<'a> {
    job: &'a Job<'a>,
    smtp: &'a SmtpSettings,
    mailer: &'a Mailer,
}

impl Session<'_> {
    /// Start (commit in flight), send and record one invoice.
    fn send_one(
        &self,
        store: &mut Store,
        c: &Candidate,
        to: &String,
        report: &mut EmailReport,
    ) -> Result<()> {
        let job = self.job;
        let s = job.sender;
        let msg_stamp = job.clock.now().format("%Y%m%dT%H%M%S%.f").to_string();
        let started_at = job.stamp();
        // The at-most-once rule: the attempt is committed before the message
        // goes anywhere.
        let tx = store.write()?;
        let started = records::start(
            &tx,
            job.actor,
            &NewAttempt {
                target: job.target(c),
                recipient: to,
                expected_last: c.last.as_ref().map(|l| l.attempt),
                started_at: &started_at,
            },
            |n| invoice_email::message_id(&c.number, n, &msg_stamp, &s.from_address),
        )?;
        tx.commit()?;
        let Some(started) = started else {
            // Another invocation attempted it meanwhile: leave it to that one.
            return Ok(());
        };
        let outcome = match invoice_email(s, c, to, &started.message_id)
            .and_then(|e| build_message(self.smtp, &e).map_err(|e| e.to_string()))
        {
            Err(reason) => Outcome::Failed { reason },
            Ok(msg) => match self.mailer.send(&msg) {
                SendOutcome::Sent { reply } => Outcome::Sent { reply },
                SendOutcome::Failed { reason, .. } => Outcome::Failed { reason },
                SendOutcome::Unknown { reason } => {
                    // It may have gone: the attempt stays in flight, for the
                    // operator to check and resend (never automatic).
                    job.progress
                        .note(&format!("{}: outcome unknown ({reason})", c.number));
                    report.needs_operator.push(WaitingItem {
                        number: c.number.clone(),
                        account: c.account.clone(),
                        to: Some(to.clone()),
                        message_id: Some(started.message_id.clone()),
                        since: job.stamp(),
                    });
                    return Ok(());
                }
            },
        };
        let tx = store.write()?;
        records::finish(
            &tx,
            job.actor,
            job.run_id,
            started.row_id,
            &c.number,
            &outcome,
            &job.stamp(),
        )?;
        tx.commit()?;
        match outcome {
            Outcome::Sent { reply } => report.sent.push(SentItem {
                number: c.number.clone(),
                account: c.account.clone(),
                to: to.clone(),
                message_id: started.message_id,
                reply,
            }),
            Outcome::Failed { reason } => {
                job.progress
                    .note(&format!("{}: not sent to {to}: {reason}", c.number));
                report.failed.push(FailedItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: Some(to.clone()),
                    reason,
                })
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::mailbox::SmtpServer;
    use crate::ops::{FixedClock, NoProgress};
    use crate::store::email::seed;

    fn clock() -> FixedClock {
        FixedClock::on("2026-12-02".parse().unwrap())
    }

    /// Run 1 (completed) with INV-1 (C1, email), INV-2 (C2, both, no
    /// address) and INV-3 (C3, print), their PDFs in `dir`.
    fn store(dir: &Path) -> Store {
        seeded(Store::memory().unwrap(), dir)
    }

    fn seeded(s: Store, dir: &Path) -> Store {
        seed::run(&s);
        for (seq, account, delivery) in [(1, "C1", "email"), (2, "C2", "both"), (3, "C3", "print")]
        {
            let id = seed::invoice(&s, seq, account, delivery, 1200);
            let pdf = dir.join(format!("INV-{seq}.pdf"));
            std::fs::write(&pdf, format!("%PDF-1.4 invoice {seq}")).unwrap();
            s.conn
                .execute(
                    "UPDATE invoices SET pdf_path = ?1 WHERE id = ?2",
                    rusqlite::params![pdf.to_str().unwrap(), id],
                )
                .unwrap();
        }
        s
    }

    fn settings(port: u16) -> Settings {
        let mut s = Settings::defaults();
        s.company.name = "Example Telecom Ltd".into();
        s.smtp.host = Some("127.0.0.1".into());
        s.smtp.port = port;
        s.smtp.security = "none".into();
        s.smtp.from = Some("billing@example.com".into());
        s
    }

    fn opts() -> EmailOptions {
        EmailOptions {
            run: "1".into(),
            ..Default::default()
        }
    }

    /// (number, attempt, state, started_at) of every attempt, in order.
    fn attempts(s: &Store) -> Vec<(String, i64, String, String)> {
        let mut st = s
            .conn
            .prepare(
                "SELECT i.number, a.attempt, a.state, a.started_at FROM email_attempts a
                 JOIN invoices i ON i.id = a.invoice_id ORDER BY a.id",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    #[test]
    fn sends_each_invoice_once_and_records_every_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let server = SmtpServer::start().unwrap();
        let mut s = store(dir.path());
        let actor = Actor::test();
        let set = settings(server.port());
        let r = send(&mut s, &actor, &opts(), &set, &clock(), &NoProgress).unwrap();
        assert_eq!(r.run, 1);
        assert_eq!(r.sent.len(), 1);
        assert_eq!(r.sent[0].number, "INV-1");
        assert_eq!(r.sent[0].to, "one@example.com");
        assert!(r.sent[0].reply.starts_with("250 "), "{:?}", r.sent);
        assert_eq!(r.failed.len(), 1, "C2 has no address");
        assert_eq!(r.failed[0].number, "INV-2");
        assert_eq!(r.failed[0].reason, NO_ADDRESS);
        assert!(r.not_connected.is_none());

        let got = server.messages();
        assert_eq!(
            got.len(),
            1,
            "print-only and address-less invoices are not sent"
        );
        assert_eq!(got[0].to, vec!["one@example.com".to_string()]);
        let data = String::from_utf8_lossy(&got[0].data);
        assert!(data.contains("Subject: Invoice INV-1 from Example Telecom Ltd"));
        assert!(
            data.contains(&r.sent[0].message_id),
            "the Message-ID recorded is the one sent"
        );
        let at = "2026-12-02T12:00:00Z".to_string();
        assert_eq!(
            attempts(&s),
            vec![
                ("INV-2".into(), 1, "failed".into(), at.clone()),
                ("INV-1".into(), 1, "sent".into(), at.clone()),
            ]
        );

        assert_eq!(
            s.conn
                .pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0))
                .unwrap(),
            2,
            "in-flight commits are made with synchronous=FULL"
        );

        // Again: the sent one is not sent twice; the failed one is retried.
        let r = send(&mut s, &actor, &opts(), &set, &clock(), &NoProgress).unwrap();
        assert_eq!((r.sent.len(), r.already_sent, r.failed.len()), (0, 1, 1));
        assert_eq!(server.messages().len(), 1);
        assert_eq!(attempts(&s).len(), 3);
    }

    #[test]
    fn an_attempt_in_flight_is_left_for_the_operator_until_resent() {
        let dir = tempfile::tempdir().unwrap();
        let server = SmtpServer::start().unwrap();
        let mut s = store(dir.path());
        s.conn
            .execute(
                "INSERT INTO email_attempts (invoice_id, attempt, state, recipient, message_id,
                    started_at, operator)
                 SELECT id, 1, 'in_flight', 'one@example.com', 'm1@example.com',
                    '2026-12-01T09:00:00Z', 'tester' FROM invoices WHERE number = 'INV-1'",
                [],
            )
            .unwrap();
        let actor = Actor::test();
        let set = settings(server.port());
        let r = send(&mut s, &actor, &opts(), &set, &clock(), &NoProgress).unwrap();
        assert!(r.sent.is_empty());
        assert_eq!(r.needs_operator.len(), 1);
        assert_eq!(r.needs_operator[0].number, "INV-1");
        assert_eq!(r.needs_operator[0].since, "2026-12-01T09:00:00Z");
        assert!(server.messages().is_empty(), "never re-sent on its own");

        let resend = EmailOptions {
            resend: vec!["INV-1".into()],
            ..opts()
        };
        let r = send(&mut s, &actor, &resend, &set, &clock(), &NoProgress).unwrap();
        assert_eq!(r.sent.len(), 1);
        assert_eq!(server.messages().len(), 1);
        let last = attempts(&s).pop().unwrap();
        assert_eq!(
            (last.0.as_str(), last.1, last.2.as_str()),
            ("INV-1", 2, "sent")
        );

        let bad = EmailOptions {
            resend: vec!["INV-3".into()],
            ..opts()
        };
        let e = send(&mut s, &actor, &bad, &set, &clock(), &NoProgress).unwrap_err();
        assert_eq!(e.exit_code(), 4, "a print-only invoice: {e}");
    }

    #[test]
    fn no_server_records_every_invoice_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        // A port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let r = send(
            &mut s,
            &Actor::test(),
            &opts(),
            &settings(port),
            &clock(),
            &NoProgress,
        )
        .unwrap();
        assert!(r.sent.is_empty());
        assert_eq!(r.failed.len(), 2);
        let why = r.not_connected.unwrap();
        assert!(why.contains("1 invoices not sent"), "{why}");
        assert!(attempts(&s).iter().all(|a| a.2 == "failed"));
    }

    #[test]
    fn dry_run_writes_eml_files_and_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        let out = dir.path().join("outbox");
        let o = EmailOptions {
            dry_run: Some(out.clone()),
            ..opts()
        };
        // No SMTP server is needed (nor set).
        let mut set = Settings::defaults();
        set.company.email = Some("billing@example.com".into());
        let r = send(&mut s, &Actor::test(), &o, &set, &clock(), &NoProgress).unwrap();
        assert_eq!(r.written.len(), 1);
        assert_eq!(r.failed.len(), 1, "no address");
        let eml = std::fs::read_to_string(out.join("INV-1.eml")).unwrap();
        assert!(eml.contains("Subject: Invoice INV-1 from Example Telecom Ltd"));
        assert!(eml.contains("To: \"One Ltd\" <one@example.com>"), "{eml}");
        assert!(!out.join("INV-3.eml").exists(), "print only");
        assert!(attempts(&s).is_empty());
    }

    #[test]
    fn needs_a_completed_run_and_a_sender() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        let e = send(
            &mut s,
            &Actor::test(),
            &opts(),
            &Settings::defaults(),
            &clock(),
            &NoProgress,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no sender address"), "{e}");
        s.conn
            .execute("UPDATE runs SET status = 'running'", [])
            .unwrap();
        let e = send(
            &mut s,
            &Actor::test(),
            &opts(),
            &settings(1),
            &clock(),
            &NoProgress,
        )
        .unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(e.to_string().contains("not completed"), "{e}");
    }

    /// While another process holds the email lock, `email` sends nothing,
    /// records nothing and says why (exit 3); a dry run is not held up.
    #[test]
    fn a_second_email_run_stops_at_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let mut s = seeded(Store::open(&db).unwrap(), dir.path());
        let server = SmtpServer::start().unwrap();
        let set = settings(server.port());
        let path = lock_path(&db);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            "pid 4242 (other), run 2026-11, since 2026-12-02T11:00:00Z\n",
        )
        .unwrap();
        let held = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        held.lock().unwrap();
        let e = send(&mut s, &Actor::test(), &opts(), &set, &clock(), &NoProgress).unwrap_err();
        assert_eq!(e.exit_code(), 3, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("another `billrun email` is in progress"),
            "{msg}"
        );
        assert!(msg.contains("pid 4242 (other)"), "{msg}");
        assert!(!msg.contains("may have"), "{msg}");
        assert!(attempts(&s).is_empty());
        assert!(server.messages().is_empty());
        let dry = EmailOptions {
            dry_run: Some(dir.path().join("outbox")),
            ..opts()
        };
        assert_eq!(
            send(&mut s, &Actor::test(), &dry, &set, &clock(), &NoProgress)
                .unwrap()
                .written
                .len(),
            1
        );
        held.unlock().unwrap();
        drop(held);
        let r = send(&mut s, &Actor::test(), &opts(), &set, &clock(), &NoProgress).unwrap();
        assert_eq!(r.sent.len(), 1);
        let holder = std::fs::read_to_string(&path).unwrap();
        assert!(
            holder.starts_with(&format!("pid {} (tester)", std::process::id())),
            "{holder}"
        );
    }

    #[test]
    fn sending_and_a_dry_run_report_each_message() {
        let dir = tempfile::tempdir().unwrap();
        let server = SmtpServer::start().unwrap();
        let mut s = store(dir.path());
        let set = settings(server.port());
        let dry = EmailOptions {
            dry_run: Some(dir.path().join("outbox")),
            ..opts()
        };
        let log = crate::ops::progress_log::Log::default();
        let r = send(&mut s, &Actor::test(), &dry, &set, &clock(), &log).unwrap();
        // INV-1 written, INV-2 (no address) failed: both counted.
        assert_eq!((r.written.len(), r.failed.len()), (1, 1));
        let p = log.phase("writing messages");
        assert_eq!((p.total, p.done), (Some(2), 2));
        log.check_complete();

        let log = crate::ops::progress_log::Log::default();
        let r = send(&mut s, &Actor::test(), &opts(), &set, &clock(), &log).unwrap();
        assert_eq!(r.sent.len(), 1);
        let p = log.phase("emailing");
        assert_eq!((p.total, p.done), (Some(1), 1));
        // Nothing failed: no note for the operator.
        assert!(log.notes().is_empty(), "{:?}", log.notes());
        log.check_complete();
    }
}
