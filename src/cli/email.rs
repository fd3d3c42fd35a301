//! `billrun email RUN [--dry-run DIR] [--resend NUMBER…] [--limit N]` (SPEC §10).
//!
//! One message per invoice of an `email`/`both` customer, PDF attached. Each
//! attempt is committed as `in_flight` before the message goes to the server,
//! then recorded `sent` or `failed` (see `store::email`). Exit 0 when every
//! message went; 5 when any failed (the others still went); 3 when nothing
//! failed but some invoices were interrupted mid-send earlier and need the
//! operator.

use super::output::{self, Ctx};
use crate::domain::invoice_email::{self, Content};
use crate::domain::lifecycle::RunStatus;
use crate::domain::{money, settings as catalogue};
use crate::error::{bad_input, precondition};
use crate::gateway::email::{
    InvoiceEmail, Mailer, Security, SendOutcome, SmtpSettings, build_message, write_eml,
};
use crate::store::audit::Actor;
use crate::store::email::{self as records, Candidate, Outcome, Target};
use crate::store::{Store, runs, settings};
use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Environment variable holding the SMTP password (never stored or printed).
pub const PASSWORD_ENV: &str = "BILLRUN_SMTP_PASSWORD";

/// How long to wait for the SMTP server at each step of the dialogue.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run (id or name); it must be completed.
    pub run: String,
    /// Write one NUMBER.eml per invoice into DIR instead of sending; records nothing.
    #[arg(long, value_name = "DIR")]
    pub dry_run: Option<PathBuf>,
    /// Send these invoices again (after checking the mailbox), whatever their state.
    #[arg(long, value_name = "NUMBER", num_args = 1..)]
    pub resend: Vec<String>,
    /// Send at most N messages this time (the rest stay for the next run).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct SentItem {
    number: String,
    account: String,
    to: String,
    message_id: String,
    reply: String,
}

#[derive(Debug, Serialize)]
struct FailedItem {
    number: String,
    account: String,
    to: Option<String>,
    reason: String,
}

#[derive(Debug, Serialize)]
struct WaitingItem {
    number: String,
    account: String,
    to: Option<String>,
    message_id: Option<String>,
    since: String,
}

#[derive(Debug, Serialize)]
struct WrittenItem {
    number: String,
    account: String,
    to: String,
    file: String,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    run: i64,
    dry_run: Option<String>,
    sent: Vec<SentItem>,
    written: Vec<WrittenItem>,
    failed: Vec<FailedItem>,
    needs_operator: Vec<WaitingItem>,
    already_sent: usize,
    left_for_later: usize,
}

/// What the settings say about the sender and the server.
struct Setup {
    company: String,
    company_email: Option<String>,
    symbol: String,
    from: String,
    from_address: String,
}

fn setup(store: &Store) -> anyhow::Result<Setup> {
    let conn = &store.conn;
    let company = settings::get_or(conn, "company.name", "")?;
    let company_email = settings::get(conn, "company.email")?;
    let currency = settings::get_or(conn, "currency", "GBP")?;
    let from_address = settings::get(conn, "smtp.from")?
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
    Ok(Setup {
        company,
        company_email,
        symbol: catalogue::currency_symbol(&currency).to_string(),
        from,
        from_address,
    })
}

fn smtp_settings(store: &Store, from: &str) -> anyhow::Result<SmtpSettings> {
    let conn = &store.conn;
    let host = settings::get(conn, "smtp.host")?.ok_or_else(|| {
        precondition("no SMTP server: set it with `billrun config set smtp.host HOST` (and smtp.port, smtp.security)")
    })?;
    let port: u16 = settings::get_or(conn, "smtp.port", "587")?
        .parse()
        .map_err(|_| bad_input("smtp.port is not a port number"))?;
    let security = match settings::get_or(conn, "smtp.security", "starttls")?.as_str() {
        "none" => Security::None,
        "tls" => Security::Tls,
        _ => Security::StartTls,
    };
    let password = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    Ok(SmtpSettings {
        host,
        port,
        security,
        username: settings::get(conn, "smtp.username")?,
        password,
        from: from.to_string(),
        timeout: SMTP_TIMEOUT,
    })
}

/// The message for one invoice (the attachment read from its PDF).
fn invoice_email(
    s: &Setup,
    c: &Candidate,
    to: &str,
    message_id: &str,
) -> Result<InvoiceEmail, String> {
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

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, a: Args) -> anyhow::Result<ExitCode> {
    let run = runs::resolve(&store.conn, &a.run)?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}, not completed: invoices are emailed once production has completed \
             (see `billrun status {}`)",
            run.name,
            run.status.as_str(),
            run.id
        ))
        .into());
    }
    let s = setup(store)?;
    let all = records::candidates(&store.conn, run.id)?;
    let mut summary = Summary {
        run: run.id,
        dry_run: a.dry_run.as_ref().map(|d| d.display().to_string()),
        ..Default::default()
    };

    // What to send this time.
    let mut todo: Vec<&Candidate> = Vec::new();
    if !a.resend.is_empty() {
        for number in &a.resend {
            let c = all.iter().find(|c| &c.number == number).ok_or_else(|| {
                bad_input(format!(
                    "--resend {number}: not an invoice of run {} delivered by email",
                    run.name
                ))
            })?;
            if !todo.iter().any(|t| t.invoice_id == c.invoice_id) {
                todo.push(c);
            }
        }
    } else {
        for c in &all {
            match c.last.as_ref().map(|l| l.state.as_str()) {
                None | Some("failed") => todo.push(c),
                Some("sent") => summary.already_sent += 1,
                Some(_) => {
                    let l = c.last.as_ref().expect("checked above");
                    summary.needs_operator.push(WaitingItem {
                        number: c.number.clone(),
                        account: c.account.clone(),
                        to: l.recipient.clone(),
                        message_id: l.message_id.clone(),
                        since: l.started_at.clone(),
                    })
                }
            }
        }
    }
    if let Some(n) = a.limit
        && todo.len() > n
    {
        summary.left_for_later = todo.len() - n;
        todo.truncate(n);
    }
    let resend = !a.resend.is_empty();

    if let Some(dir) = &a.dry_run {
        dry_run(&s, dir, &todo, &mut summary)?;
    } else {
        let job = Job {
            setup: &s,
            run_id: run.id,
            resend,
        };
        send(ctx, store, actor, &job, &todo, &mut summary)?;
    }
    report(ctx, &run, &summary)
}

fn dry_run(
    s: &Setup,
    dir: &Path,
    todo: &[&Candidate],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
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
            summary.failed.push(fail(NO_ADDRESS.into(), None));
            continue;
        };
        let mid = invoice_email::message_id(&c.number, 0, "dry-run", &s.from_address);
        let msg = invoice_email(s, c, to, &mid)
            .and_then(|e| build_message(&settings, &e).map_err(|e| e.to_string()));
        match msg {
            Ok(m) => {
                let path = dir.join(format!("{}.eml", c.number));
                crate::whole_file::write(&path, &write_eml(&m), crate::whole_file::Sync::Later)
                    .with_context(|| format!("writing {}", path.display()))?;
                summary.written.push(WrittenItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: to.clone(),
                    file: path.display().to_string(),
                });
            }
            Err(reason) => summary.failed.push(fail(reason, Some(to))),
        }
    }
    Ok(())
}

/// What one `email` invocation sends with.
struct Job<'a> {
    setup: &'a Setup,
    run_id: i64,
    /// The invoices were named with `--resend`.
    resend: bool,
}

fn send(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    job: &Job<'_>,
    todo: &[&Candidate],
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let Job {
        setup: s,
        run_id,
        resend,
    } = *job;
    fn target(run_id: i64, c: &Candidate, resend: bool) -> Target<'_> {
        Target {
            run_id,
            invoice_id: c.invoice_id,
            number: &c.number,
            resend,
        }
    }
    // Invoices with no address fail without a connection.
    let mut with_address: Vec<(&Candidate, &String)> = Vec::new();
    for c in todo {
        match &c.email {
            Some(to) => with_address.push((c, to)),
            None => {
                records::record_failed(store, actor, &target(run_id, c, resend), None, NO_ADDRESS)?;
                summary.failed.push(FailedItem {
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
    let smtp = smtp_settings(store, &s.from)?;
    let mailer = match Mailer::connect(&smtp) {
        Ok(m) => m,
        Err(e) => {
            // Nothing was handed to the server: record every invoice as failed
            // with the reason, so `status` shows it, and stop (exit 5).
            let reason = e.to_string();
            for (c, to) in &with_address {
                records::record_failed(
                    store,
                    actor,
                    &target(run_id, c, resend),
                    Some(to),
                    &reason,
                )?;
                summary.failed.push(FailedItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: Some((*to).clone()),
                    reason: reason.clone(),
                });
            }
            let _ = report_json_only(ctx, summary);
            return Err(crate::error::external(format!(
                "{reason}; {} invoices not sent (recorded as failed; re-run `billrun email {run_id}` once the server is fixed)",
                with_address.len()
            ))
            .into());
        }
    };
    let bar = progress(ctx, with_address.len());
    for (c, to) in &with_address {
        bar.set_message(c.number.clone());
        let expected = c.last.as_ref().map(|l| l.attempt);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.f").to_string();
        let started = records::start(
            store,
            actor,
            &target(run_id, c, resend),
            to,
            expected,
            |n| invoice_email::message_id(&c.number, n, &stamp, &s.from_address),
        )?;
        let Some(started) = started else {
            // Another invocation attempted it meanwhile: leave it to that one.
            bar.inc(1);
            continue;
        };
        let outcome = match invoice_email(s, c, to, &started.message_id)
            .and_then(|e| build_message(&smtp, &e).map_err(|e| e.to_string()))
        {
            Err(reason) => Outcome::Failed { reason },
            Ok(msg) => match mailer.send(&msg) {
                SendOutcome::Sent { reply } => Outcome::Sent { reply },
                SendOutcome::Failed { reason, .. } => Outcome::Failed { reason },
                SendOutcome::Unknown { reason } => {
                    // It may have gone: the attempt stays in flight, for the
                    // operator to check and `--resend` (never automatic).
                    bar.suspend(|| ctx.warn(&format!("{}: outcome unknown ({reason})", c.number)));
                    summary.needs_operator.push(WaitingItem {
                        number: c.number.clone(),
                        account: c.account.clone(),
                        to: Some((*to).clone()),
                        message_id: Some(started.message_id.clone()),
                        since: crate::store::now_stamp(),
                    });
                    bar.inc(1);
                    continue;
                }
            },
        };
        records::finish(store, actor, run_id, started.row_id, &c.number, &outcome)?;
        match outcome {
            Outcome::Sent { reply } => summary.sent.push(SentItem {
                number: c.number.clone(),
                account: c.account.clone(),
                to: (*to).clone(),
                message_id: started.message_id,
                reply,
            }),
            Outcome::Failed { reason } => {
                bar.suspend(|| ctx.warn(&format!("{}: not sent to {to}: {reason}", c.number)));
                summary.failed.push(FailedItem {
                    number: c.number.clone(),
                    account: c.account.clone(),
                    to: Some((*to).clone()),
                    reason,
                })
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(())
}

/// A progress bar on a terminal only (hidden otherwise).
fn progress(ctx: &Ctx, n: usize) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !ctx.tty || ctx.json || ctx.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(n as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("emailing {bar:30} {pos}/{len} {msg}")
    {
        bar.set_style(style);
    }
    bar
}

fn report_json_only(ctx: &Ctx, summary: &Summary) -> anyhow::Result<()> {
    if ctx.json {
        output::print_json(summary)?;
    }
    Ok(())
}

fn report(ctx: &Ctx, run: &runs::Run, summary: &Summary) -> anyhow::Result<ExitCode> {
    if ctx.json {
        output::print_json(summary)?;
    } else {
        if summary.dry_run.is_some() {
            ctx.say(&format!(
                "dry run: {} messages written to {} (nothing sent, nothing recorded)",
                summary.written.len(),
                summary.dry_run.as_deref().unwrap_or("")
            ));
        } else {
            ctx.say(&format!(
                "run {}: {} sent, {} failed, {} already sent earlier",
                run.name,
                ctx.green(&summary.sent.len().to_string()),
                if summary.failed.is_empty() {
                    "0".to_string()
                } else {
                    ctx.red(&summary.failed.len().to_string())
                },
                summary.already_sent
            ));
        }
        if !summary.failed.is_empty() {
            let mut t = ctx.table(&["invoice", "account", "to", "reason"]);
            for f in &summary.failed {
                t.add_row(vec![
                    f.number.clone(),
                    f.account.clone(),
                    f.to.clone().unwrap_or_default(),
                    f.reason.clone(),
                ]);
            }
            output::print_table(ctx, &t)?;
        }
        if summary.left_for_later > 0 {
            ctx.say(&format!(
                "{} left for a later `billrun email {}` (--limit)",
                summary.left_for_later, run.id
            ));
        }
    }
    for w in &summary.needs_operator {
        ctx.warn(&format!(
            "{} ({}) was interrupted while being sent to {} at {} (Message-ID {}): \
             it may have gone. Check the mail server's log or the mailbox, then \
             `billrun email {} --resend {}` if it did not arrive",
            w.number,
            w.account,
            w.to.as_deref().unwrap_or("?"),
            w.since,
            w.message_id.as_deref().unwrap_or("?"),
            run.id,
            w.number
        ));
    }
    if summary.dry_run.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    if !summary.failed.is_empty() {
        eprintln!(
            "error: {} invoices could not be emailed (recorded; a re-run tries them again)",
            summary.failed.len()
        );
        return Ok(ExitCode::from(5));
    }
    if !summary.needs_operator.is_empty() {
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
