//! What billrun knows of Xero through its API (migration 17): contacts,
//! documents pushed (with the idempotency key stored before each request),
//! the last payments fetch, payments recorded by Xero id.

use crate::domain::checklist::InvoiceFacts;
use crate::error::Result;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{HashMap, HashSet};

/// Xero contact id and the fingerprint last sent, by account.
pub fn contacts(conn: &Connection) -> Result<HashMap<String, (String, String)>> {
    let mut st = conn.prepare("SELECT account, contact_id, fingerprint FROM xero_contacts")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Record a customer's Xero contact (inside a write transaction).
pub fn save_contact(
    conn: &Connection,
    account: &str,
    contact_id: &str,
    fingerprint: &str,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO xero_contacts (account, contact_id, fingerprint, sent_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(account) DO UPDATE SET contact_id = ?2, fingerprint = ?3, sent_at = ?4",
        params![account, contact_id, fingerprint, now],
    )?;
    Ok(())
}

/// A document's push state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    pub key: String,
    pub xero_id: Option<String>,
    pub error: Option<String>,
}

/// The push state of documents of `kind`, by document id.
pub fn pushes(conn: &Connection, kind: &str) -> Result<HashMap<i64, Push>> {
    let mut st = conn.prepare(
        "SELECT doc_id, idempotency_key, xero_id, error FROM xero_pushes WHERE kind = ?1",
    )?;
    let rows = st.query_map([kind], |r| {
        Ok((
            r.get(0)?,
            Push {
                key: r.get(1)?,
                xero_id: r.get(2)?,
                error: r.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Store the idempotency key of the request about to send these documents
/// (inside a write transaction committed durably before the request).
pub fn begin(
    conn: &Connection,
    kind: &str,
    run_id: Option<i64>,
    docs: &[(i64, &str)],
    key: &str,
    now: &str,
) -> Result<()> {
    let mut st = conn.prepare(
        "INSERT INTO xero_pushes (kind, doc_id, number, run_id, idempotency_key, attempted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(kind, doc_id) DO UPDATE SET idempotency_key = ?5, attempted_at = ?6
         WHERE xero_id IS NULL",
    )?;
    for (id, number) in docs {
        st.execute(params![kind, id, number, run_id, key, now])?;
    }
    Ok(())
}

/// Xero confirmed a document (its answer or a look-up).
pub fn confirm(conn: &Connection, kind: &str, doc_id: i64, xero_id: &str, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE xero_pushes SET xero_id = ?3, confirmed_at = ?4, error = NULL
         WHERE kind = ?1 AND doc_id = ?2",
        params![kind, doc_id, xero_id, now],
    )?;
    Ok(())
}

/// A document found in Xero that billrun had not sent (uploaded by hand
/// from an export, say): recorded as confirmed.
pub fn adopt(
    conn: &Connection,
    kind: &str,
    run_id: Option<i64>,
    doc: (i64, &str),
    xero_id: &str,
    now: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO xero_pushes (kind, doc_id, number, run_id, idempotency_key, attempted_at, xero_id, confirmed_at)
         VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?5)
         ON CONFLICT(kind, doc_id) DO UPDATE SET xero_id = ?6, confirmed_at = ?5, error = NULL",
        params![kind, doc.0, doc.1, run_id, now, xero_id],
    )?;
    Ok(())
}

/// Xero refused a document: keep its messages.
pub fn refuse(conn: &Connection, kind: &str, doc_id: i64, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE xero_pushes SET error = ?3 WHERE kind = ?1 AND doc_id = ?2 AND xero_id IS NULL",
        params![kind, doc_id, error],
    )?;
    Ok(())
}

/// The checklist's Xero facts in API mode: invoices Xero accepts (new
/// charges above zero) that Xero has not confirmed, the customers of the
/// run's invoices without a Xero contact, and invoices Xero refused.
pub fn fill_facts(conn: &Connection, run_id: i64, f: &mut InvoiceFacts) -> Result<()> {
    let (unsent, refused): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COALESCE(SUM(p.error IS NOT NULL), 0) FROM invoices i
         LEFT JOIN xero_pushes p ON p.kind = 'invoice' AND p.doc_id = i.id
         WHERE i.run_id = ?1 AND i.total_charges_minor > 0 AND p.xero_id IS NULL",
        [run_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let customers: i64 = conn.query_row(
        "SELECT COUNT(DISTINCT i.account) FROM invoices i
         WHERE i.run_id = ?1 AND i.total_charges_minor > 0
           AND NOT EXISTS (SELECT 1 FROM xero_contacts c WHERE c.account = i.account)",
        [run_id],
        |r| r.get(0),
    )?;
    f.xero_unsent = u64::try_from(unsent).unwrap_or(0);
    f.xero_refused = u64::try_from(refused).unwrap_or(0);
    f.xero_customers_unsent = Some(u64::try_from(customers).unwrap_or(0));
    // The credit notes `xero push RUN` sends (see
    // `store::xero::credit_notes_to_push`) that Xero has not confirmed.
    let credits: i64 = conn.query_row(
        "SELECT COUNT(*) FROM credit_notes n JOIN invoices i ON i.id = n.invoice_id
         WHERE (i.run_id = ?1
                OR n.applied_invoice_id IN (SELECT id FROM invoices WHERE run_id = ?1))
           AND NOT EXISTS (SELECT 1 FROM xero_pushes p
                           WHERE p.kind = 'credit_note' AND p.doc_id = n.id
                             AND p.xero_id IS NOT NULL)",
        [run_id],
        |r| r.get(0),
    )?;
    f.xero_credits_unsent = u64::try_from(credits).unwrap_or(0);
    Ok(())
}

/// When `what` (e.g. `payments`) was last fetched successfully.
pub fn last_sync(conn: &Connection, what: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT at FROM xero_sync WHERE what = ?1", [what], |r| {
            r.get(0)
        })
        .optional()?)
}

pub fn set_sync(conn: &Connection, what: &str, at: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO xero_sync (what, at) VALUES (?1, ?2)
         ON CONFLICT(what) DO UPDATE SET at = ?2",
        params![what, at],
    )?;
    Ok(())
}

/// Xero payment ids already recorded.
pub fn recorded_payments(conn: &Connection) -> Result<HashSet<String>> {
    let mut st =
        conn.prepare("SELECT xero_payment_id FROM payments WHERE xero_payment_id IS NOT NULL")?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Mark a stored payment as Xero payment `xero_id` (the same payment
/// imported earlier from Xero's export) and the invoice it paid.
pub fn link_payment(
    conn: &Connection,
    payment_id: i64,
    xero_id: &str,
    invoice: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE payments SET xero_payment_id = ?2, xero_invoice = COALESCE(?3, xero_invoice)
         WHERE id = ?1",
        params![payment_id, xero_id, invoice],
    )?;
    Ok(())
}

/// A payment already stored under an account and reference.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub date: String,
    pub amount_minor: i64,
    pub source: String,
    pub xero_payment_id: Option<String>,
}

/// The payment stored for (account, reference), if any.
pub fn payment_by_reference(
    conn: &Connection,
    account: &str,
    reference: &str,
) -> Result<Option<Stored>> {
    Ok(conn
        .query_row(
            "SELECT id, date, amount_minor, source, xero_payment_id FROM payments
             WHERE account = ?1 AND reference = ?2",
            params![account, reference],
            |r| {
                Ok(Stored {
                    id: r.get(0)?,
                    date: r.get(1)?,
                    amount_minor: r.get(2)?,
                    source: r.get(3)?,
                    xero_payment_id: r.get(4)?,
                })
            },
        )
        .optional()?)
}

/// The account of a billrun invoice number.
pub fn invoice_account(conn: &Connection, number: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT account FROM invoices WHERE number = ?1",
            [number],
            |r| r.get(0),
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::email::seed;

    #[test]
    fn a_confirmed_document_keeps_its_id_and_the_facts_count_the_rest() {
        let s = Store::memory().unwrap();
        seed::run(&s);
        let a = seed::invoice(&s, 1, "C1", "email", 1200);
        let b = seed::invoice(&s, 2, "C2", "email", 600);
        seed::invoice(&s, 3, "C3", "print", 0);
        let mut f = InvoiceFacts::default();
        fill_facts(&s.conn, 1, &mut f).unwrap();
        assert_eq!(
            (f.xero_unsent, f.xero_customers_unsent, f.xero_refused),
            (2, Some(2), 0),
            "zero invoices and their customers never count"
        );

        begin(
            &s.conn,
            "invoice",
            Some(1),
            &[(a, "INV-1"), (b, "INV-2")],
            "k1",
            "t1",
        )
        .unwrap();
        confirm(&s.conn, "invoice", a, "x-a", "t2").unwrap();
        refuse(&s.conn, "invoice", b, "bad account code").unwrap();
        save_contact(&s.conn, "C1", "c-1", "fp", "t2").unwrap();
        // A later attempt never replaces a confirmed document's key.
        begin(
            &s.conn,
            "invoice",
            Some(1),
            &[(a, "INV-1"), (b, "INV-2")],
            "k2",
            "t3",
        )
        .unwrap();
        let p = pushes(&s.conn, "invoice").unwrap();
        assert_eq!(p[&a].key, "k1");
        assert_eq!(p[&a].xero_id.as_deref(), Some("x-a"));
        assert_eq!(p[&b].key, "k2");
        assert_eq!(p[&b].error.as_deref(), Some("bad account code"));
        fill_facts(&s.conn, 1, &mut f).unwrap();
        assert_eq!(
            (f.xero_unsent, f.xero_customers_unsent, f.xero_refused),
            (1, Some(1), 1)
        );
        assert_eq!(contacts(&s.conn).unwrap()["C1"].0, "c-1");
        assert_eq!(last_sync(&s.conn, "payments").unwrap(), None);
        set_sync(&s.conn, "payments", "2026-12-03T09:00:00Z").unwrap();
        assert_eq!(
            last_sync(&s.conn, "payments").unwrap().as_deref(),
            Some("2026-12-03T09:00:00Z")
        );
    }
}

/// A credit note in Xero that an invoice in Xero brought forward, not yet
/// allocated to it (migration 26).
#[derive(Debug, Clone)]
pub struct DueAllocation {
    pub note_id: i64,
    pub note_number: String,
    pub note_xero_id: String,
    pub account: String,
    pub invoice_number: String,
    pub invoice_xero_id: String,
    pub total_minor: i64,
    /// The later of the credit note's date and the invoice's date.
    pub date: String,
    /// The key of an earlier attempt (it may have reached Xero).
    pub key: Option<String>,
}

/// Allocations due for the credit notes of run `run_id`: those crediting
/// its invoices and those its invoices brought forward.
pub fn allocations_due(conn: &Connection, run_id: i64) -> Result<Vec<DueAllocation>> {
    let mut st = conn.prepare(
        "SELECT n.id, n.number, p.xero_id, n.account, a.number, q.xero_id, n.total_minor,
                max(n.credit_date, a.invoice_date), p.alloc_key
         FROM credit_notes n
         JOIN invoices i ON i.id = n.invoice_id
         JOIN invoices a ON a.id = n.applied_invoice_id
         JOIN xero_pushes p ON p.kind = 'credit_note' AND p.doc_id = n.id
         JOIN xero_pushes q ON q.kind = 'invoice' AND q.doc_id = a.id
         WHERE p.xero_id IS NOT NULL AND q.xero_id IS NOT NULL AND p.allocated_at IS NULL
           AND (i.run_id = ?1 OR a.run_id = ?1)
         ORDER BY n.seq",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok(DueAllocation {
            note_id: r.get(0)?,
            note_number: r.get(1)?,
            note_xero_id: r.get(2)?,
            account: r.get(3)?,
            invoice_number: r.get(4)?,
            invoice_xero_id: r.get(5)?,
            total_minor: r.get(6)?,
            date: r.get(7)?,
            key: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Keep the key of an allocation request about to be sent.
pub fn begin_allocation(conn: &Connection, note_id: i64, key: &str) -> Result<()> {
    conn.execute(
        "UPDATE xero_pushes SET alloc_key = ?2 WHERE kind = 'credit_note' AND doc_id = ?1",
        params![note_id, key],
    )?;
    Ok(())
}

/// Xero confirmed the credit note's allocation.
pub fn allocated(conn: &Connection, note_id: i64, now: &str) -> Result<()> {
    conn.execute(
        "UPDATE xero_pushes SET allocated_at = ?2 WHERE kind = 'credit_note' AND doc_id = ?1",
        params![note_id, now],
    )?;
    Ok(())
}
