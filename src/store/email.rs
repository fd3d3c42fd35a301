//! Email delivery records (docs/commands.md#email): one `email_attempts` row per attempt.
//!
//! At most once: `ops::email` commits the `in_flight` row [`start`] writes
//! BEFORE the message is handed to the SMTP server; [`finish`] then records
//! `sent` (with the server's reply) or `failed` (with the reason). An
//! invoice whose last attempt is still `in_flight` was interrupted between
//! sending and recording; it is reported as needing the operator and never
//! re-sent without `--resend`.
//!
//! Each write is called inside the caller's write transaction, with the
//! caller's time as stored in `*_at` columns (RFC 3339, UTC).
//!
//! For `invoices --json` (`emailed`): [`state_for`] gives one invoice's
//! [`EmailState`], [`states_for_run`] a map for a whole run.

use super::audit::{self, Actor};
use crate::domain::checklist::InvoiceFacts;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
#[cfg(test)]
use std::collections::HashMap;

/// The last attempt to email an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub id: i64,
    pub attempt: i64,
    pub state: String,
    pub recipient: Option<String>,
    pub message_id: Option<String>,
    pub reply: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

/// An invoice of a run that is delivered by email (`email` or `both`).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub invoice_id: i64,
    pub number: String,
    pub account: String,
    pub customer_name: String,
    /// The customer's address today (fixing it and re-running works).
    pub email: Option<String>,
    pub invoice_date: String,
    pub due_date: String,
    pub amount_due_minor: i64,
    pub cutoff_date: String,
    /// Payments received since the cutoff, and what the invoice asks to be
    /// collected (`invoices.received_since_minor`, `to_collect_minor`).
    pub received_since_minor: i64,
    pub to_collect_minor: i64,
    pub payment_method: String,
    pub message: String,
    pub pdf_path: Option<String>,
    /// The itemised-calls file produced beside the PDF, if any.
    pub calls_path: Option<String>,
    pub last: Option<Attempt>,
}

/// Whether an invoice has been emailed, for listings (`invoices --json`
/// `emailed`). Serialises as `{"state": "sent", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EmailState {
    /// The invoice is delivered by print only.
    NotByEmail,
    /// Never attempted.
    Unsent,
    /// Interrupted between send and record: the operator must check the
    /// mailbox, then `email RUN --resend NUMBER` if it did not go.
    InFlight { since: String },
    /// Accepted by the SMTP server.
    Sent { at: String, reply: String },
    /// The last attempt failed; a re-run tries again.
    Failed { reason: String },
}

impl EmailState {
    /// One word: `not_by_email`, `unsent`, `in_flight`, `sent`, `failed`.
    #[cfg(test)]
    pub fn as_str(&self) -> &'static str {
        match self {
            EmailState::NotByEmail => "not_by_email",
            EmailState::Unsent => "unsent",
            EmailState::InFlight { .. } => "in_flight",
            EmailState::Sent { .. } => "sent",
            EmailState::Failed { .. } => "failed",
        }
    }

    fn from_parts(delivery: &str, last: Option<Attempt>) -> EmailState {
        if delivery == "print" {
            return EmailState::NotByEmail;
        }
        match last {
            None => EmailState::Unsent,
            Some(a) => match a.state.as_str() {
                "sent" => EmailState::Sent {
                    at: a.finished_at.unwrap_or(a.started_at),
                    reply: a.reply.unwrap_or_default(),
                },
                "failed" => EmailState::Failed {
                    reason: a.reply.unwrap_or_default(),
                },
                _ => EmailState::InFlight {
                    since: a.started_at,
                },
            },
        }
    }
}

const ATTEMPT_COLS: &str =
    "id, attempt, state, recipient, message_id, reply, started_at, finished_at";

fn attempt_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: r.get(0)?,
        attempt: r.get(1)?,
        state: r.get(2)?,
        recipient: r.get(3)?,
        message_id: r.get(4)?,
        reply: r.get(5)?,
        started_at: r.get(6)?,
        finished_at: r.get(7)?,
    })
}

/// The last attempt for an invoice, if any.
pub fn last_attempt(conn: &Connection, invoice_id: i64) -> Result<Option<Attempt>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {ATTEMPT_COLS} FROM email_attempts WHERE invoice_id = ?1
                 ORDER BY attempt DESC LIMIT 1"
            ),
            [invoice_id],
            attempt_row,
        )
        .optional()?)
}

/// One invoice's email state (for `invoices`).
pub fn state_for(conn: &Connection, invoice_id: i64) -> Result<EmailState> {
    let delivery: String = conn.query_row(
        "SELECT delivery FROM invoices WHERE id = ?1",
        [invoice_id],
        |r| r.get(0),
    )?;
    Ok(EmailState::from_parts(
        &delivery,
        last_attempt(conn, invoice_id)?,
    ))
}

/// Every invoice of a run → its email state (for `invoices RUN`).
#[cfg(test)]
pub fn states_for_run(conn: &Connection, run_id: i64) -> Result<HashMap<i64, EmailState>> {
    let mut st = conn.prepare("SELECT id, delivery FROM invoices WHERE run_id = ?1")?;
    let ids: Vec<(i64, String)> = st
        .query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = HashMap::new();
    for (id, delivery) in ids {
        out.insert(
            id,
            EmailState::from_parts(&delivery, last_attempt(conn, id)?),
        );
    }
    Ok(out)
}

/// The run's invoices delivered by email, in invoice-number order.
pub fn candidates(conn: &Connection, run_id: i64) -> Result<Vec<Candidate>> {
    let mut st = conn.prepare(
        "SELECT i.id, i.number, i.account, c.name, c.email, i.invoice_date, i.due_date,
                i.currency, i.amount_due_minor, i.payment_method, i.message, i.pdf_path,
                i.cutoff_date, i.received_since_minor,
                COALESCE(i.to_collect_minor, MAX(0, i.amount_due_minor)),
                i.calls_path
         FROM invoices i JOIN customers c ON c.account = i.account
         WHERE i.run_id = ?1 AND i.delivery IN ('email', 'both')
         ORDER BY i.seq",
    )?;
    let mut v: Vec<Candidate> = st
        .query_map([run_id], |r| {
            Ok(Candidate {
                invoice_id: r.get(0)?,
                number: r.get(1)?,
                account: r.get(2)?,
                customer_name: r.get(3)?,
                email: r
                    .get::<_, Option<String>>(4)?
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty()),
                invoice_date: r.get(5)?,
                due_date: r.get(6)?,
                amount_due_minor: r.get(8)?,
                payment_method: r.get(9)?,
                message: r.get(10)?,
                pdf_path: r.get(11)?,
                cutoff_date: r.get(12)?,
                received_since_minor: r.get(13)?,
                to_collect_minor: r.get(14)?,
                calls_path: r.get(15)?,
                last: None,
            })
        })?
        .collect::<Result<_, _>>()?;
    for c in &mut v {
        c.last = last_attempt(conn, c.invoice_id)?;
    }
    Ok(v)
}

/// The invoice an attempt is for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub run_id: i64,
    pub invoice_id: i64,
    pub number: &'a str,
    /// Sent again on the operator's `--resend` (audited as such).
    pub resend: bool,
}

/// A started attempt: the row to finish and the Message-ID to send with.
#[derive(Debug, Clone)]
pub struct Started {
    pub row_id: i64,
    /// The attempt's number for this invoice (1, 2, …).
    #[cfg(test)]
    pub attempt: i64,
    pub message_id: String,
}

/// An attempt about to start.
#[derive(Debug, Clone, Copy)]
pub struct NewAttempt<'a> {
    pub target: Target<'a>,
    pub recipient: &'a str,
    /// The attempt number the caller saw (None: none).
    pub expected_last: Option<i64>,
    /// As stored in `started_at` (RFC 3339, UTC).
    pub started_at: &'a str,
}

/// Record an `in_flight` attempt (the caller commits it before anything is
/// sent).
///
/// If another invocation has attempted the invoice since the caller looked
/// (`expected_last`), nothing is recorded and `None` is returned, so two
/// racing `email` runs never both send it. `message_id` builds the
/// Message-ID from the new attempt number.
pub fn start(
    conn: &Connection,
    actor: &Actor,
    a: &NewAttempt<'_>,
    message_id: impl Fn(i64) -> String,
) -> Result<Option<Started>> {
    let NewAttempt {
        target:
            Target {
                run_id,
                invoice_id,
                number,
                resend,
            },
        recipient,
        expected_last,
        started_at,
    } = *a;
    let current: Option<i64> = conn.query_row(
        "SELECT MAX(attempt) FROM email_attempts WHERE invoice_id = ?1",
        [invoice_id],
        |r| r.get(0),
    )?;
    if current != expected_last {
        return Ok(None);
    }
    let attempt = current.unwrap_or(0) + 1;
    let mid = message_id(attempt);
    conn.execute(
        "INSERT INTO email_attempts (invoice_id, attempt, state, recipient, message_id,
                                     resend, started_at, operator)
         VALUES (?1, ?2, 'in_flight', ?3, ?4, ?5, ?6, ?7)",
        params![
            invoice_id,
            attempt,
            recipient,
            mid,
            resend,
            started_at,
            actor.operator
        ],
    )?;
    let row_id = conn.last_insert_rowid();
    if resend {
        audit::log(
            conn,
            actor,
            Some(run_id),
            "email resend",
            &format!("{number} to {recipient} (attempt {attempt})"),
        )?;
    }
    Ok(Some(Started {
        row_id,
        #[cfg(test)]
        attempt,
        message_id: mid,
    }))
}

/// What happened to a started attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    Sent { reply: String },
    Failed { reason: String },
}

/// Record the outcome of a started attempt (and audit it).
pub fn finish(
    conn: &Connection,
    actor: &Actor,
    run_id: i64,
    row_id: i64,
    number: &str,
    outcome: &Outcome,
    now: &str,
) -> Result<()> {
    let (state, text) = match outcome {
        Outcome::Sent { reply } => ("sent", reply),
        Outcome::Failed { reason } => ("failed", reason),
    };
    conn.execute(
        "UPDATE email_attempts SET state = ?2, reply = ?3, finished_at = ?4 WHERE id = ?1",
        params![row_id, state, text, now],
    )?;
    audit::log(
        conn,
        actor,
        Some(run_id),
        &format!("email {state}"),
        &format!("{number}: {text}"),
    )?;
    Ok(())
}

/// Record a failure where nothing was handed to the server (no address on
/// file, unreadable PDF, no connection): one `failed` attempt, audited.
pub fn record_failed(
    conn: &Connection,
    actor: &Actor,
    t: &Target<'_>,
    recipient: Option<&str>,
    reason: &str,
    now: &str,
) -> Result<()> {
    let Target {
        run_id,
        invoice_id,
        number,
        resend,
    } = *t;
    let attempt: i64 = conn.query_row(
        "SELECT COALESCE(MAX(attempt), 0) + 1 FROM email_attempts WHERE invoice_id = ?1",
        [invoice_id],
        |r| r.get(0),
    )?;
    conn.execute(
        "INSERT INTO email_attempts (invoice_id, attempt, state, recipient, reply, resend,
                                     started_at, finished_at, operator)
         VALUES (?1, ?2, 'failed', ?3, ?4, ?5, ?6, ?6, ?7)",
        params![
            invoice_id,
            attempt,
            recipient,
            reason,
            resend,
            now,
            actor.operator
        ],
    )?;
    audit::log(
        conn,
        actor,
        Some(run_id),
        "email failed",
        &format!("{number}: {reason}"),
    )?;
    Ok(())
}

/// The checklist's email facts: invoices still to email (never attempted or
/// last attempt failed), of which failed, and those interrupted in flight.
pub fn fill_facts(conn: &Connection, run_id: i64, f: &mut InvoiceFacts) -> Result<()> {
    let (unsent, failed, in_flight): (i64, i64, i64) = conn.query_row(
        "WITH last AS (
             SELECT a.invoice_id, a.state FROM email_attempts a
             WHERE a.attempt = (SELECT MAX(b.attempt) FROM email_attempts b
                                WHERE b.invoice_id = a.invoice_id))
         SELECT COALESCE(SUM(l.state IS NULL OR l.state = 'failed'), 0),
                COALESCE(SUM(l.state = 'failed'), 0),
                COALESCE(SUM(l.state = 'in_flight'), 0)
         FROM invoices i LEFT JOIN last l ON l.invoice_id = i.id
         WHERE i.run_id = ?1 AND i.delivery IN ('email', 'both')",
        [run_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    f.email_unsent = unsent as u64;
    f.email_failed = failed as u64;
    f.email_in_flight = in_flight as u64;
    Ok(())
}

/// Test support: seed a completed run with invoices by SQL (production is
/// another module). Shared by the unit tests of `store::email` and `store::xero`.
#[cfg(test)]
pub(crate) mod seed {
    use crate::store::Store;
    use rusqlite::params;

    /// A completed run 1 and customers C1 (email), C2 (both, no address), C3 (print).
    pub fn run(s: &Store) {
        let c = &s.conn;
        c.execute_batch(
            "INSERT INTO runs (id, name, cycle, status, invoice_date, cutoff_date, created_at)
               VALUES (1, '2026-11', 'monthly', 'completed', '2026-12-01', '2026-11-30', 'now');
             INSERT INTO customers (account, name, email, delivery, payment_method, created_at)
               VALUES ('C1', 'One Ltd', 'one@example.com', 'email', 'direct_debit', 'now'),
                      ('C2', 'Two, Ltd', NULL, 'both', 'card', 'now'),
                      ('C3', 'Three Ltd', NULL, 'print', 'manual', 'now');",
        )
        .unwrap();
    }

    /// An invoice of run 1; returns its id.
    pub fn invoice(s: &Store, seq: i64, account: &str, delivery: &str, total_minor: i64) -> i64 {
        s.conn
            .execute(
                "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date,
                    cutoff_date, currency, opening_balance_minor, payments_minor,
                    charges_ex_tax_minor, tax_minor, total_charges_minor, amount_due_minor,
                    delivery, payment_method, pdf_path, created_at)
                 VALUES (1, ?1, ?2, ?3, '2026-12-01', '2026-12-15', '2026-11-30', 'GBP', 0, 0,
                    ?4, ?5, ?6, ?6, ?7, 'direct_debit', '/tmp/x.pdf', 'now')",
                params![
                    format!("INV-{seq}"),
                    seq,
                    account,
                    total_minor * 5 / 6,
                    total_minor - total_minor * 5 / 6,
                    total_minor,
                    delivery
                ],
            )
            .unwrap();
        let id = s.conn.last_insert_rowid();
        s.conn
            .execute(
                "INSERT INTO invoice_lines (invoice_id, position, category, service, description,
                    quantity, amount_minor) VALUES (?1, 1, 'fixed', '441130000001', 'Monthly fee', '1', ?2)",
                params![id, total_minor * 5 / 6],
            )
            .unwrap();
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    const NOW: &str = "2026-12-02T09:00:00Z";

    fn facts(s: &Store) -> InvoiceFacts {
        let mut f = InvoiceFacts::default();
        fill_facts(&s.conn, 1, &mut f).unwrap();
        f
    }

    #[test]
    fn attempts_drive_the_state_and_the_facts() {
        let s = Store::memory().unwrap();
        seed::run(&s);
        let a = seed::invoice(&s, 1, "C1", "email", 1200);
        let b = seed::invoice(&s, 2, "C2", "both", 600);
        let p = seed::invoice(&s, 3, "C3", "print", 600);
        let actor = Actor::test();
        assert_eq!(state_for(&s.conn, p).unwrap(), EmailState::NotByEmail);
        assert_eq!(state_for(&s.conn, a).unwrap(), EmailState::Unsent);
        let f = facts(&s);
        assert_eq!(
            (f.email_unsent, f.email_failed, f.email_in_flight),
            (2, 0, 0)
        );

        let ta = Target {
            run_id: 1,
            invoice_id: a,
            number: "INV-1",
            resend: false,
        };
        let new = |recipient| NewAttempt {
            target: ta,
            recipient,
            expected_last: None,
            started_at: NOW,
        };
        let st = start(&s.conn, &actor, &new("one@example.com"), |n| {
            format!("INV-1.{n}@x")
        })
        .unwrap()
        .unwrap();
        assert_eq!(st.attempt, 1);
        assert_eq!(st.message_id, "INV-1.1@x");
        assert!(matches!(
            state_for(&s.conn, a).unwrap(),
            EmailState::InFlight { .. }
        ));
        let f = facts(&s);
        assert_eq!(
            (f.email_unsent, f.email_failed, f.email_in_flight),
            (1, 0, 1)
        );
        // A racing invocation that saw no attempt does not start a second one.
        assert!(
            start(&s.conn, &actor, &new("x@y"), |_| "m".into())
                .unwrap()
                .is_none()
        );
        finish(
            &s.conn,
            &actor,
            1,
            st.row_id,
            "INV-1",
            &Outcome::Sent {
                reply: "250 ok".into(),
            },
            NOW,
        )
        .unwrap();
        assert!(matches!(
            state_for(&s.conn, a).unwrap(),
            EmailState::Sent { reply, .. } if reply == "250 ok"
        ));

        let tb = Target {
            run_id: 1,
            invoice_id: b,
            number: "INV-2",
            resend: false,
        };
        record_failed(&s.conn, &actor, &tb, None, "no email address", NOW).unwrap();
        let f = facts(&s);
        assert_eq!(
            (f.email_unsent, f.email_failed, f.email_in_flight),
            (1, 1, 0)
        );
        let map = states_for_run(&s.conn, 1).unwrap();
        assert_eq!(map[&b].as_str(), "failed");
        assert_eq!(map[&p].as_str(), "not_by_email");
        let json = serde_json::to_value(&map[&b]).unwrap();
        assert_eq!(json["state"], "failed");
        assert_eq!(json["reason"], "no email address");

        let c = candidates(&s.conn, 1).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].last.as_ref().unwrap().state, "sent");
        assert_eq!(c[1].email, None);
        let audit: i64 = s
            .conn
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE action LIKE 'email %'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(audit, 2);
    }
}
