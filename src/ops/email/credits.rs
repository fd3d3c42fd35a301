//! Credit notes delivered by `email` (docs/commands.md#credit-notes): every
//! credit note of an `email`/`both` customer not sent yet is sent by the next
//! `email` (any run), once, its PDF attached, with the same at-most-once rule
//! as invoices: the attempt is committed in flight (`synchronous=FULL`)
//! before the message is handed to the server; an unknown outcome stays in
//! flight and is listed for the operator, never sent again automatically.
//! A dry run writes `NUMBER.eml` beside the invoices' and records nothing.

use super::*;
use crate::domain::credit;
use crate::store::credits::{self, CreditNote};

/// The message for one credit note.
fn message(
    s: &Sender,
    n: &CreditNote,
    to: &str,
    message_id: &str,
) -> std::result::Result<InvoiceEmail, String> {
    let pdf_path = n.pdf_path.as_deref().ok_or_else(|| {
        "the credit note has no PDF yet: run `billrun credit produce`".to_string()
    })?;
    let pdf = std::fs::read(pdf_path).map_err(|e| format!("cannot read PDF {pdf_path}: {e}"))?;
    let total = format!("{}{}", s.symbol, money::fmt_minor(n.total_minor));
    let effect = credit::effect_text(&total, &n.invoice, &n.payment_method);
    let (subject, text_body, html_body) =
        credit::email(&s.company, &n.name, &n.number, &n.invoice, &total, &effect);
    Ok(InvoiceEmail {
        to: to.to_string(),
        to_name: Some(n.name.clone()),
        subject,
        text_body,
        html_body,
        attachment_name: format!("{}.pdf", n.number),
        attachment: pdf,
        calls: None,
        message_id: message_id.to_string(),
    })
}

/// What `email` does for credit notes (after the run's invoices).
pub(super) struct Ctx<'a> {
    pub sender: &'a Sender,
    pub opts: &'a EmailOptions,
    pub settings: &'a Settings,
    pub actor: &'a Actor,
    pub clock: &'a dyn Clock,
    pub progress: &'a dyn Progress,
}

/// The numbers of every credit note emailed (email/both delivery): `email
/// --resend` may name them.
pub(super) fn numbers(conn: &rusqlite::Connection) -> Result<std::collections::HashSet<String>> {
    Ok(credits::email_candidates(conn)?
        .into_iter()
        .map(|(n, _)| n.number)
        .collect())
}

pub(super) fn send(store: &mut Store, c: &Ctx<'_>, report: &mut EmailReport) -> Result<()> {
    let resend = &c.opts.resend;
    let mut todo = Vec::new();
    for (n, last) in credits::email_candidates(&store.conn)? {
        if !resend.is_empty() {
            // Only the credit notes named, whatever their state (the
            // operator checked the mailbox).
            if resend.contains(&n.number) {
                todo.push((n, last.map(|l| l.attempt)));
            }
            continue;
        }
        match &last {
            None => todo.push((n, None)),
            Some(l) if l.state == "failed" => todo.push((n, Some(l.attempt))),
            Some(l) if l.state == "sent" => {}
            Some(l) => report.needs_operator.push(WaitingItem {
                number: n.number.clone(),
                account: n.account.clone(),
                to: l.recipient.clone(),
                message_id: l.message_id.clone(),
                since: l.started_at.clone(),
            }),
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    if let Some(dir) = &c.opts.dry_run {
        return dry_run(c.sender, dir, &todo, c.progress, report);
    }
    let fail = |report: &mut EmailReport, n: &CreditNote, to: Option<&str>, reason: &str| {
        report.failed.push(FailedItem {
            number: n.number.clone(),
            account: n.account.clone(),
            to: to.map(String::from),
            reason: reason.to_string(),
        });
    };
    let record = |store: &mut Store,
                  n: &CreditNote,
                  row: Option<i64>,
                  to: Option<&str>,
                  sent: bool,
                  text: &str|
     -> Result<()> {
        let tx = store.write()?;
        credits::email_finish(
            &tx,
            c.actor,
            n.id,
            &n.number,
            row,
            to,
            sent,
            text,
            &c.clock.stamp(),
        )?;
        tx.commit()?;
        Ok(())
    };
    let smtp = smtp_settings(c.settings, c.opts.password.as_deref(), &c.sender.from)?;
    let mailer = match Mailer::connect(&smtp) {
        Ok(m) => m,
        Err(e) => {
            let reason = e.to_string();
            for (n, _) in &todo {
                record(store, n, None, n.email.as_deref(), false, &reason)?;
                fail(report, n, n.email.as_deref(), &reason);
            }
            return Ok(());
        }
    };
    store.conn.pragma_update(None, "synchronous", "FULL")?;
    c.progress
        .start("emailing credit notes", Some(todo.len() as u64));
    for (n, expected) in &todo {
        c.progress.inc(1);
        let Some(to) = n.email.as_deref() else {
            record(store, n, None, None, false, NO_ADDRESS)?;
            fail(report, n, None, NO_ADDRESS);
            continue;
        };
        let stamp = c.clock.now().format("%Y%m%dT%H%M%S%.f").to_string();
        let tx = store.write()?;
        let started =
            credits::email_start(&tx, c.actor, n.id, to, *expected, &c.clock.stamp(), |a| {
                invoice_email::message_id(&n.number, a, &stamp, &c.sender.from_address)
            })?;
        tx.commit()?;
        let Some((row, mid)) = started else {
            continue;
        };
        let outcome = message(c.sender, n, to, &mid)
            .and_then(|e| build_message(&smtp, &e).map_err(|e| e.to_string()));
        let (sent, text) = match outcome {
            Err(reason) => (false, reason),
            Ok(msg) => match mailer.send(&msg) {
                SendOutcome::Sent { reply } => (true, reply),
                SendOutcome::Failed { reason, .. } => (false, reason),
                SendOutcome::Unknown { .. } => {
                    report.needs_operator.push(WaitingItem {
                        number: n.number.clone(),
                        account: n.account.clone(),
                        to: Some(to.to_string()),
                        message_id: Some(mid),
                        since: c.clock.stamp(),
                    });
                    continue;
                }
            },
        };
        record(store, n, Some(row), Some(to), sent, &text)?;
        if sent {
            report.sent.push(SentItem {
                number: n.number.clone(),
                account: n.account.clone(),
                to: to.to_string(),
                message_id: mid,
                reply: text,
            });
        } else {
            fail(report, n, Some(to), &text);
        }
    }
    c.progress.finish();
    Ok(())
}

fn dry_run(
    s: &Sender,
    dir: &Path,
    todo: &[(CreditNote, Option<i64>)],
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
    progress.start("writing credit note messages", Some(todo.len() as u64));
    for (n, _) in todo {
        progress.inc(1);
        let Some(to) = n.email.as_deref() else {
            report.failed.push(FailedItem {
                number: n.number.clone(),
                account: n.account.clone(),
                to: None,
                reason: NO_ADDRESS.into(),
            });
            continue;
        };
        let mid = invoice_email::message_id(&n.number, 0, "dry-run", &s.from_address);
        match message(s, n, to, &mid)
            .and_then(|e| build_message(&settings, &e).map_err(|e| e.to_string()))
        {
            Ok(m) => {
                let path = dir.join(format!("{}.eml", n.number));
                crate::whole_file::write(&path, &write_eml(&m), crate::whole_file::Sync::Later)
                    .map_err(|e| external(format!("writing {}: {e}", path.display())))?;
                report.written.push(WrittenItem {
                    number: n.number.clone(),
                    account: n.account.clone(),
                    to: to.to_string(),
                    file: path.display().to_string(),
                });
            }
            Err(reason) => report.failed.push(FailedItem {
                number: n.number.clone(),
                account: n.account.clone(),
                to: Some(to.to_string()),
                reason,
            }),
        }
    }
    progress.finish();
    Ok(())
}
