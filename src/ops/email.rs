//! Emailing a run's invoices (SPEC §10): one message per invoice of an
//! `email`/`both` customer, its PDF attached.
//!
//! At most once: each attempt is committed as `in_flight` (its own write
//! transaction) BEFORE the message is handed to the server, then recorded
//! `sent` or `failed` (`store::email`). An attempt whose outcome is unknown
//! (the connection broke after the data was sent) stays in flight and is
//! reported as needing the operator; it is sent again only when named with
//! `resend`. A dry run writes one `NUMBER.eml` per invoice and records
//! nothing.

use super::{Clock, Progress};
use crate::domain::invoice_email::{self, Content};
use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::domain::settings::{Settings, currency_symbol};
use crate::error::{Result, bad_input, external, precondition};
use crate::gateway::email::{
    InvoiceEmail, Mailer, Security, SendOutcome, SmtpSettings, build_message, write_eml,
};
use crate::store::audit::Actor;
use crate::store::email::{self as records, Candidate, NewAttempt, Outcome, Target};
use crate::store::{Store, runs};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

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
struct Sender {
    company: String,
    company_email: Option<String>,
    symbol: String,
    /// `"Company" <address>` (or the bare address).
    from: String,
    from_address: String,
}

fn sender(settings: &Settings) -> Result<Sender> {
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
    let name = company.replace(['"', '\\'], "");
    let from = if from_address.contains('<') || name.is_empty() {
        from_address.clone()
    } else {
        format!("\"{name}\" <{from_address}>")
    };
    Ok(Sender {
        company,
        company_email,
        symbol: currency_symbol(&settings.currency).to_string(),
        from,
        from_address,
    })
}

fn smtp_settings(settings: &Settings, password: Option<&str>, from: &str) -> Result<SmtpSettings> {
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
        currency_symbol: s.symbol.clone(),
        amount_due: money::from_minor(c.amount_due_minor),
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
        message_id: message_id.to_string(),
    })
}

const NO_ADDRESS: &str =
    "no email address on file for the customer: add it (customers import), then re-run email";

/// A time as stored in `*_at` columns.
fn stamp(clock: &dyn Clock) -> String {
    clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Email a completed run's invoices (or write them, on a dry run).
///
/// Invoices never attempted or whose last attempt failed are sent; those
/// sent are counted as `already_sent`; those interrupted mid-send are listed
/// in `needs_operator` and left alone unless named in `resend`.
pub fn email(
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
    let all = records::candidates(&store.conn, run.id)?;
    let mut report = EmailReport {
        run: run.id,
        run_name: run.name.clone(),
        dry_run: opts.dry_run.as_ref().map(|d| d.display().to_string()),
        ..Default::default()
    };
    let todo = choose(&all, opts, &run.name, &mut report)?;
    if let Some(dir) = &opts.dry_run {
        dry_run(&s, dir, &todo, &mut report)?;
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
        send(store, &job, &todo, &mut report)?;
    }
    Ok(report)
}

/// What to send this time.
fn choose<'a>(
    all: &'a [Candidate],
    opts: &EmailOptions,
    run_name: &str,
    report: &mut EmailReport,
) -> Result<Vec<&'a Candidate>> {
    let mut todo: Vec<&Candidate> = Vec::new();
    if !opts.resend.is_empty() {
        for number in &opts.resend {
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

fn dry_run(s: &Sender, dir: &Path, todo: &[&Candidate], report: &mut EmailReport) -> Result<()> {
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
    for c in todo {
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
        stamp(self.clock)
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

fn send(
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
