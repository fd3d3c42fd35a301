//! Credit notes as stored (`credit_notes`, `credit_note_lines`): issuing,
//! reading, their PDFs, and bringing them forward onto the next invoice.
//! The rules (how much, what tax, the number) are `domain::credit`'s.

use crate::domain::credit::Room;
use crate::error::{Result, bad_input};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use std::collections::HashMap;

/// A credit note to insert.
#[derive(Debug, Clone)]
pub struct NewCredit<'a> {
    pub number: &'a str,
    pub seq: i64,
    pub invoice_id: i64,
    pub account: &'a str,
    pub credit_date: &'a str,
    pub currency: &'a str,
    pub reason: &'a str,
    pub ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub tax_rate: &'a str,
    pub delivery: &'a str,
    pub payment_method: &'a str,
    pub created_at: &'a str,
    pub created_by: &'a str,
}

/// One line of a credit note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditLine {
    /// The invoice line credited whole (`credit add --line ID`), if any.
    pub invoice_line_id: Option<i64>,
    pub service: Option<String>,
    pub description: String,
    pub quantity: String,
    pub amount_minor: i64,
}

/// A credit note with everything its PDF, listings, email and a Xero
/// export or push need, read in one query.
#[derive(Debug, Clone, Serialize)]
pub struct CreditNote {
    pub id: i64,
    pub number: String,
    pub seq: i64,
    /// The invoice credited, its run and date.
    pub invoice_id: i64,
    pub invoice: String,
    pub run_id: i64,
    pub invoice_date: String,
    pub account: String,
    pub credit_date: String,
    pub currency: String,
    pub reason: String,
    pub ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub tax_rate: String,
    pub delivery: String,
    pub payment_method: String,
    /// The invoice that brought it forward, if one has.
    pub applied_invoice: Option<String>,
    pub pdf_path: Option<String>,
    pub pdf_sha256: Option<String>,
    pub xero_id: Option<String>,
    pub created_at: String,
    pub created_by: String,
    /// Customer details at the time of reading.
    pub name: String,
    pub email: Option<String>,
    pub address: Vec<String>,
    pub postcode: String,
}

const COLS: &str = "n.id, n.number, n.seq, n.invoice_id, i.number, i.run_id, i.invoice_date,
    n.account, n.credit_date, n.currency, n.reason, n.amount_ex_tax_minor, n.tax_minor,
    n.total_minor, n.tax_rate, n.delivery, n.payment_method,
    (SELECT a.number FROM invoices a WHERE a.id = n.applied_invoice_id),
    n.pdf_path, n.pdf_sha256, n.xero_id, n.created_at, n.created_by,
    c.name, c.email, c.address1, c.address2, c.town, c.region, c.postcode";

const FROM: &str = "FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id
    JOIN customers c ON c.account = n.account";

fn row(r: &Row<'_>) -> rusqlite::Result<CreditNote> {
    let address: Vec<String> = (25..=28)
        .filter_map(|i| r.get::<_, Option<String>>(i).ok().flatten())
        .filter(|s| !s.trim().is_empty())
        .collect();
    Ok(CreditNote {
        id: r.get(0)?,
        number: r.get(1)?,
        seq: r.get(2)?,
        invoice_id: r.get(3)?,
        invoice: r.get(4)?,
        run_id: r.get(5)?,
        invoice_date: r.get(6)?,
        account: r.get(7)?,
        credit_date: r.get(8)?,
        currency: r.get(9)?,
        reason: r.get(10)?,
        ex_tax_minor: r.get(11)?,
        tax_minor: r.get(12)?,
        total_minor: r.get(13)?,
        tax_rate: r.get(14)?,
        delivery: r.get(15)?,
        payment_method: r.get(16)?,
        applied_invoice: r.get(17)?,
        pdf_path: r.get(18)?,
        pdf_sha256: r.get(19)?,
        xero_id: r.get(20)?,
        created_at: r.get(21)?,
        created_by: r.get(22)?,
        name: r.get(23)?,
        email: r
            .get::<_, Option<String>>(24)?
            .filter(|e| !e.trim().is_empty()),
        address,
        postcode: r.get::<_, Option<String>>(29)?.unwrap_or_default(),
    })
}

/// Credit notes (of invoices of run `run_id`, or all), in number order.
pub fn list(conn: &Connection, run_id: Option<i64>) -> Result<Vec<CreditNote>> {
    let sql = format!("SELECT {COLS} {FROM} WHERE ?1 IS NULL OR i.run_id = ?1 ORDER BY n.seq");
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([run_id], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One credit note by id.
pub fn get(conn: &Connection, id: i64) -> Result<CreditNote> {
    let sql = format!("SELECT {COLS} {FROM} WHERE n.id = ?1");
    Ok(conn.query_row(&sql, [id], row)?)
}

/// One credit note by its number.
pub fn by_number(conn: &Connection, number: &str) -> Result<CreditNote> {
    let sql = format!("SELECT {COLS} {FROM} WHERE n.number = ?1");
    conn.query_row(&sql, [number], row)
        .optional()?
        .ok_or_else(|| {
            bad_input(format!(
                "no credit note numbered '{number}': list them with billrun credit list"
            ))
        })
}

/// A credit note's lines, in order.
pub fn lines(conn: &Connection, credit_note_id: i64) -> Result<Vec<CreditLine>> {
    let mut st = conn.prepare_cached(
        "SELECT invoice_line_id, service, description, quantity, amount_minor
         FROM credit_note_lines WHERE credit_note_id = ?1 ORDER BY position",
    )?;
    let rows = st.query_map([credit_note_id], |r| {
        Ok(CreditLine {
            invoice_line_id: r.get(0)?,
            service: r.get(1)?,
            description: r.get(2)?,
            quantity: r.get(3)?,
            amount_minor: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The highest credit note sequence number ever issued (0 for none).
pub fn highest_seq(conn: &Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM credit_notes", [], |r| {
            r.get(0)
        })?,
    )
}

/// What invoice `invoice_id` has and what its credit notes took.
pub fn room(conn: &Connection, invoice_id: i64) -> Result<Room> {
    Ok(conn.query_row(
        "SELECT i.charges_ex_tax_minor, i.tax_minor,
                COALESCE((SELECT SUM(amount_ex_tax_minor) FROM credit_notes WHERE invoice_id = i.id), 0),
                COALESCE((SELECT SUM(tax_minor) FROM credit_notes WHERE invoice_id = i.id), 0)
         FROM invoices i WHERE i.id = ?1",
        [invoice_id],
        |r| {
            Ok(Room {
                invoice_ex_tax_minor: r.get(0)?,
                invoice_tax_minor: r.get(1)?,
                credited_ex_tax_minor: r.get(2)?,
                credited_tax_minor: r.get(3)?,
            })
        },
    )?)
}

/// An invoice's line as `invoices show` lists it, with its id and the
/// credit note that credited it whole, if any.
#[derive(Debug, Clone, Serialize)]
pub struct InvoiceLine {
    pub id: i64,
    pub category: String,
    pub service: Option<String>,
    pub description: String,
    pub quantity: String,
    pub amount_minor: i64,
    pub credited_by: Option<String>,
}

/// The lines of invoice `invoice_id`, in order, with their ids.
pub fn invoice_lines(conn: &Connection, invoice_id: i64) -> Result<Vec<InvoiceLine>> {
    let mut st = conn.prepare_cached(
        "SELECT l.id, l.category, l.service, l.description, l.quantity, l.amount_minor,
                (SELECT n.number FROM credit_note_lines cl JOIN credit_notes n ON n.id = cl.credit_note_id
                 WHERE cl.invoice_line_id = l.id)
         FROM invoice_lines l WHERE l.invoice_id = ?1 ORDER BY l.position",
    )?;
    let rows = st.query_map([invoice_id], |r| {
        Ok(InvoiceLine {
            id: r.get(0)?,
            category: r.get(1)?,
            service: r.get(2)?,
            description: r.get(3)?,
            quantity: r.get(4)?,
            amount_minor: r.get(5)?,
            credited_by: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Insert a credit note and its lines; returns its id.
pub fn insert(conn: &Connection, c: &NewCredit<'_>, lines: &[CreditLine]) -> Result<i64> {
    conn.execute(
        "INSERT INTO credit_notes (number, seq, invoice_id, account, credit_date, currency, reason,
            amount_ex_tax_minor, tax_minor, total_minor, tax_rate, delivery, payment_method,
            created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        params![
            c.number,
            c.seq,
            c.invoice_id,
            c.account,
            c.credit_date,
            c.currency,
            c.reason,
            c.ex_tax_minor,
            c.tax_minor,
            c.total_minor,
            c.tax_rate,
            c.delivery,
            c.payment_method,
            c.created_at,
            c.created_by,
        ],
    )?;
    let id = conn.last_insert_rowid();
    let mut st = conn.prepare_cached(
        "INSERT INTO credit_note_lines (credit_note_id, position, invoice_line_id, service,
            description, quantity, amount_minor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (i, l) in lines.iter().enumerate() {
        st.execute(params![
            id,
            i as i64 + 1,
            l.invoice_line_id,
            l.service,
            l.description,
            l.quantity,
            l.amount_minor
        ])?;
    }
    Ok(id)
}

/// Credit notes without a recorded PDF: (id, number), in number order.
pub fn missing_pdfs(conn: &Connection) -> Result<Vec<(i64, String)>> {
    let mut st =
        conn.prepare("SELECT id, number FROM credit_notes WHERE pdf_path IS NULL ORDER BY seq")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Credit notes with a recorded PDF: (id, path, SHA-256).
pub fn recorded_pdfs(conn: &Connection) -> Result<Vec<(i64, String, String)>> {
    let mut st = conn.prepare(
        "SELECT id, pdf_path, COALESCE(pdf_sha256, '') FROM credit_notes
         WHERE pdf_path IS NOT NULL ORDER BY seq",
    )?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Record a credit note's PDF (complete and durable on disk).
pub fn record_pdf(conn: &Connection, id: i64, path: &str, sha256: &str) -> Result<()> {
    conn.execute(
        "UPDATE credit_notes SET pdf_path = ?2, pdf_sha256 = ?3 WHERE id = ?1",
        params![id, path, sha256],
    )?;
    Ok(())
}

/// Forget a recorded PDF found missing or changed (rendered again).
pub fn forget_pdf(conn: &Connection, id: i64) -> Result<()> {
    conn.execute(
        "UPDATE credit_notes SET pdf_path = NULL, pdf_sha256 = NULL WHERE id = ?1",
        [id],
    )?;
    Ok(())
}

/// Credit notes no invoice has brought forward yet, per account:
/// (id, total), in number order.
pub fn unapplied(conn: &Connection) -> Result<HashMap<String, Vec<(i64, i64)>>> {
    let mut out: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    let mut st = conn.prepare(
        "SELECT account, id, total_minor FROM credit_notes
         WHERE applied_invoice_id IS NULL ORDER BY seq",
    )?;
    for r in st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
        ))
    })? {
        let (a, id, total) = r?;
        out.entry(a).or_default().push((id, total));
    }
    Ok(out)
}

/// Production: invoice `invoice_id` brings forward `credits` (id, total).
pub fn apply(conn: &Connection, invoice_id: i64, credits: &[(i64, i64)]) -> Result<()> {
    if credits.is_empty() {
        return Ok(());
    }
    let mut st = conn.prepare_cached(
        "UPDATE credit_notes SET applied_invoice_id = ?1 WHERE id = ?2 AND applied_invoice_id IS NULL",
    )?;
    let mut sum = 0i64;
    for (id, total) in credits {
        st.execute(params![invoice_id, id])?;
        sum = sum.saturating_add(*total);
    }
    conn.execute(
        "UPDATE invoices SET credits_minor = ?2 WHERE id = ?1",
        params![invoice_id, sum],
    )?;
    Ok(())
}

/// Credit notes listed by the post-billing report of run `run_id`: those
/// crediting its invoices, and those its invoices brought forward.
pub fn for_postbill(conn: &Connection, run_id: i64) -> Result<Vec<CreditNote>> {
    let sql = format!(
        "SELECT {COLS} {FROM} WHERE i.run_id = ?1
            OR n.applied_invoice_id IN (SELECT id FROM invoices WHERE run_id = ?1)
         ORDER BY n.seq"
    );
    let mut st = conn.prepare(&sql)?;
    let rows = st.query_map([run_id], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The last email attempt of a credit note.
#[derive(Debug, Clone)]
pub struct LastEmail {
    pub attempt: i64,
    pub state: String,
    pub recipient: Option<String>,
    pub message_id: Option<String>,
    pub started_at: String,
}

/// Credit notes of email/both customers (delivery at issue), with their last
/// email attempt, in number order.
pub fn email_candidates(conn: &Connection) -> Result<Vec<(CreditNote, Option<LastEmail>)>> {
    let sql = format!("SELECT {COLS} {FROM} WHERE n.delivery IN ('email', 'both') ORDER BY n.seq");
    let mut st = conn.prepare(&sql)?;
    let notes: Vec<CreditNote> = st.query_map([], row)?.collect::<rusqlite::Result<_>>()?;
    let mut last = conn.prepare_cached(
        "SELECT attempt, state, recipient, message_id, started_at FROM credit_email_attempts
         WHERE credit_note_id = ?1 ORDER BY attempt DESC LIMIT 1",
    )?;
    let mut out = Vec::with_capacity(notes.len());
    for n in notes {
        let l = last
            .query_row([n.id], |r| {
                Ok(LastEmail {
                    attempt: r.get(0)?,
                    state: r.get(1)?,
                    recipient: r.get(2)?,
                    message_id: r.get(3)?,
                    started_at: r.get(4)?,
                })
            })
            .optional()?;
        out.push((n, l));
    }
    Ok(out)
}

/// Commit-before-send: record an attempt in flight unless another one
/// started since `expected_last` was read. Returns (row id, message id).
pub fn email_start(
    conn: &Connection,
    actor: &crate::store::audit::Actor,
    id: i64,
    recipient: &str,
    expected_last: Option<i64>,
    started_at: &str,
    message_id: impl Fn(i64) -> String,
) -> Result<Option<(i64, String)>> {
    let current: Option<i64> = conn.query_row(
        "SELECT MAX(attempt) FROM credit_email_attempts WHERE credit_note_id = ?1",
        [id],
        |r| r.get(0),
    )?;
    if current != expected_last {
        return Ok(None);
    }
    let attempt = current.unwrap_or(0) + 1;
    let mid = message_id(attempt);
    conn.execute(
        "INSERT INTO credit_email_attempts (credit_note_id, attempt, state, recipient, message_id,
                                            started_at, operator)
         VALUES (?1, ?2, 'in_flight', ?3, ?4, ?5, ?6)",
        params![id, attempt, recipient, mid, started_at, actor.operator],
    )?;
    Ok(Some((conn.last_insert_rowid(), mid)))
}

/// Record the outcome of an attempt (`sent` with the server's reply, or
/// `failed` with the reason), audited; `row_id` `None` records a failure
/// where nothing was handed to the server.
#[allow(clippy::too_many_arguments)]
pub fn email_finish(
    conn: &Connection,
    actor: &crate::store::audit::Actor,
    id: i64,
    number: &str,
    row_id: Option<i64>,
    recipient: Option<&str>,
    sent: bool,
    reply: &str,
    at: &str,
) -> Result<()> {
    let state = if sent { "sent" } else { "failed" };
    match row_id {
        Some(r) => {
            conn.execute(
                "UPDATE credit_email_attempts SET state = ?2, reply = ?3, finished_at = ?4 WHERE id = ?1",
                params![r, state, reply, at],
            )?;
        }
        None => {
            conn.execute(
                "INSERT INTO credit_email_attempts (credit_note_id, attempt, state, recipient, reply,
                                                    started_at, finished_at, operator)
                 SELECT ?1, COALESCE(MAX(attempt), 0) + 1, 'failed', ?2, ?3, ?4, ?4, ?5
                 FROM credit_email_attempts WHERE credit_note_id = ?1",
                params![id, recipient, reply, at, actor.operator],
            )?;
        }
    }
    let run: Option<i64> = conn
        .query_row(
            "SELECT i.run_id FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id WHERE n.id = ?1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    crate::store::audit::log(
        conn,
        actor,
        run,
        if sent { "email sent" } else { "email failed" },
        &format!("credit note {number}: {reply}"),
    )?;
    Ok(())
}
