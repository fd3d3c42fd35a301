//! Invoice production (docs/rating.md#invoices), the storage half: the rows production
//! writes (invoices, their lines, customers not produced, the next invoice
//! number) and the PDF records. The rules (numbering, message, due date, the
//! one transaction) are `domain::invoice` and `ops::produce`.
//!
//! Crash safety: the invoices, their numbers, the marks on what they bill
//! and the run's `running` status are one transaction (`ops::produce`), so
//! after a crash either all invoices exist or none do. PDFs are rendered
//! afterwards; an invoice's `pdf_path` is set only after its file was written
//! to a temporary name, renamed and synced, so `produce` resumes with the
//! invoices whose PDF is missing.

use crate::domain::invoice::Line;
use crate::error::Result;
use chrono::NaiveDate;
use rusqlite::{Connection, params};

/// One invoice row to insert (its lines go in with [`insert_lines`]).
#[derive(Debug, Clone)]
pub struct NewInvoice<'a> {
    pub run_id: i64,
    pub number: &'a str,
    pub seq: i64,
    pub account: &'a str,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub cutoff_date: NaiveDate,
    pub currency: &'a str,
    pub opening_balance_minor: i64,
    pub payments_minor: i64,
    pub charges_ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_charges_minor: i64,
    pub amount_due_minor: i64,
    /// Payments received since the cutoff, recorded by production (net).
    pub received_since_minor: i64,
    /// What the invoice asks to be collected (`invoice::to_collect`).
    pub to_collect_minor: i64,
    pub message: &'a str,
    pub delivery: &'a str,
    pub payment_method: &'a str,
    /// RFC 3339 (`store::now_stamp`'s format).
    pub created_at: &'a str,
}

/// Whether production already created this run's invoices: any invoice or
/// not-produced customer recorded for it.
pub fn created(conn: &Connection, run_id: i64) -> Result<bool> {
    let n: i64 = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM invoices WHERE run_id = ?1) +
                (SELECT COUNT(*) FROM not_produced WHERE run_id = ?1)",
        [run_id],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// The highest invoice sequence number ever issued (0 for none).
pub fn highest_seq(conn: &Connection) -> Result<i64> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM invoices", [], |r| {
            r.get(0)
        })?,
    )
}

/// Insert an invoice; returns its id.
pub fn insert_invoice(conn: &Connection, inv: &NewInvoice<'_>) -> Result<i64> {
    let mut st = conn.prepare_cached(
        "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date, cutoff_date,
            currency, opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor,
            total_charges_minor, amount_due_minor, message, delivery, payment_method, created_at,
            received_since_minor, to_collect_minor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
            ?19, ?20)",
    )?;
    st.execute(params![
        inv.run_id,
        inv.number,
        inv.seq,
        inv.account,
        inv.invoice_date.to_string(),
        inv.due_date.to_string(),
        inv.cutoff_date.to_string(),
        inv.currency,
        inv.opening_balance_minor,
        inv.payments_minor,
        inv.charges_ex_tax_minor,
        inv.tax_minor,
        inv.total_charges_minor,
        inv.amount_due_minor,
        inv.message,
        inv.delivery,
        inv.payment_method,
        inv.created_at,
        inv.received_since_minor,
        inv.to_collect_minor,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Insert an invoice's lines, numbered from 1 in order.
pub fn insert_lines(conn: &Connection, invoice_id: i64, lines: &[Line]) -> Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO invoice_lines (invoice_id, position, category, service, description,
            quantity, amount_minor, taxable, period_start, period_end)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for (i, l) in lines.iter().enumerate() {
        st.execute(params![
            invoice_id,
            i as i64 + 1,
            l.category.as_str(),
            l.service,
            l.description,
            l.quantity,
            l.amount_minor,
            l.taxable,
            l.period.map(|p| p.from.to_string()),
            l.period.map(|p| p.to.to_string()),
        ])?;
    }
    Ok(())
}

/// Record a customer of the run that gets no invoice, and why (`empty`,
/// `too_low`).
pub fn insert_not_produced(
    conn: &Connection,
    run_id: i64,
    account: &str,
    reason: &str,
    amount_minor: i64,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO not_produced (run_id, account, reason, amount_minor) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![run_id, account, reason, amount_minor])?;
    Ok(())
}

/// Store `invoice.next_number` (as production moves it on; not audited
/// apart from production's own audit entry).
pub fn save_next_number(conn: &Connection, next: i64) -> Result<()> {
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('invoice.next_number', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [next.to_string()],
    )?;
    Ok(())
}

/// Give every rated, unbilled CDR starting before `bound` of an invoiced
/// account's services that account's new invoice: the CDRs the usage lines
/// summed (`billing::gather`, same conditions). One pass over the unbilled-CDR
/// index, not one per account, so the cost is bounded by the open period
/// whatever the history; each CDR finds its invoice with one look-up in a
/// temporary service -> invoice table (an `UPDATE ... FROM`; it was a
/// correlated subquery joining `services` and the invoiced accounts per CDR).
pub fn mark_usage(conn: &Connection, invoiced: &[(String, i64)], bound: i64) -> Result<()> {
    if invoiced.is_empty() {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS produced_accounts
            (account TEXT PRIMARY KEY, invoice_id INTEGER NOT NULL);
         DELETE FROM temp.produced_accounts;
         CREATE TEMP TABLE IF NOT EXISTS produced_services
            (service TEXT PRIMARY KEY, invoice_id INTEGER NOT NULL) WITHOUT ROWID;
         DELETE FROM temp.produced_services;",
    )?;
    {
        let mut ins = conn
            .prepare("INSERT INTO temp.produced_accounts (account, invoice_id) VALUES (?1, ?2)")?;
        for (account, id) in invoiced {
            ins.execute(params![account, id])?;
        }
    }
    conn.execute(
        "INSERT INTO temp.produced_services (service, invoice_id)
         SELECT s.service, p.invoice_id FROM services s
         JOIN temp.produced_accounts p ON p.account = s.account",
        [],
    )?;
    conn.execute(
        "UPDATE cdrs INDEXED BY cdrs_unbilled SET invoice_id = p.invoice_id
         FROM temp.produced_services p
         WHERE p.service = cdrs.service
           AND cdrs.state = 1 AND cdrs.invoice_id IS NULL AND cdrs.start < ?1",
        [bound],
    )?;
    conn.execute_batch("DROP TABLE temp.produced_accounts; DROP TABLE temp.produced_services")?;
    Ok(())
}

/// Give production room: a page cache big enough for the CDR indexes it
/// changes (marking a million CDRs inserts as many entries at scattered
/// places of `cdrs_invoice`) and for the itemised calls it reads per
/// invoice, so the marking does not spill dirty pages to the file
/// mid-transaction and the reading does not go to the file for every call.
/// Bounded (64 MiB, as the import's), so memory stays flat.
pub fn tune_for_production(conn: &Connection) -> Result<()> {
    conn.pragma_update(None, "cache_size", -65_536)?;
    Ok(())
}

/// Invoices of a run still without a complete PDF: (id, number).
pub fn missing_pdfs(conn: &Connection, run_id: i64) -> Result<Vec<(i64, String)>> {
    let mut st = conn.prepare(
        "SELECT id, number FROM invoices WHERE run_id = ?1 AND pdf_path IS NULL ORDER BY seq",
    )?;
    let rows = st.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A recorded file: its path and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub path: String,
    pub sha256: String,
}

/// The files recorded for one invoice: its PDF and, when its calls are in a
/// file beside it, that file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFiles {
    pub invoice_id: i64,
    pub pdf: Recorded,
    pub calls: Option<Recorded>,
}

/// The files recorded for a run's invoices.
pub fn recorded_pdfs(conn: &Connection, run_id: i64) -> Result<Vec<RecordedFiles>> {
    let mut st = conn.prepare(
        "SELECT id, pdf_path, COALESCE(pdf_sha256, ''), calls_path, COALESCE(calls_sha256, '')
         FROM invoices WHERE run_id = ?1 AND pdf_path IS NOT NULL ORDER BY seq",
    )?;
    let rows = st.query_map([run_id], |r| {
        Ok(RecordedFiles {
            invoice_id: r.get(0)?,
            pdf: Recorded {
                path: r.get(1)?,
                sha256: r.get(2)?,
            },
            calls: r.get::<_, Option<String>>(3)?.map(|path| Recorded {
                path,
                sha256: r.get(4).unwrap_or_default(),
            }),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Forget an invoice's files (one is missing or not the one recorded), so
/// production renders them again.
pub fn forget_pdf(conn: &Connection, invoice_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE invoices SET pdf_path = NULL, pdf_sha256 = NULL, calls_path = NULL,
                calls_sha256 = NULL
         WHERE id = ?1",
        [invoice_id],
    )?;
    Ok(())
}

/// Record a complete PDF (written, renamed into place and synced to disk),
/// and the itemised-calls file written with it, if any.
pub fn record_pdf(
    conn: &Connection,
    invoice_id: i64,
    pdf: &Recorded,
    calls: Option<&Recorded>,
) -> Result<()> {
    conn.execute(
        "UPDATE invoices SET pdf_path = ?2, pdf_sha256 = ?3, calls_path = ?4, calls_sha256 = ?5
         WHERE id = ?1",
        params![
            invoice_id,
            pdf.path,
            pdf.sha256,
            calls.map(|c| &c.path),
            calls.map(|c| &c.sha256)
        ],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Store;

    #[test]
    fn next_number_is_stored_and_read_back_typed() {
        let s = Store::memory().unwrap();
        assert_eq!(highest_seq(&s.conn).unwrap(), 0);
        save_next_number(&s.conn, 42).unwrap();
        save_next_number(&s.conn, 43).unwrap();
        let typed = crate::store::settings::load(&s.conn).unwrap();
        assert_eq!(typed.invoice.next_number, 43);
    }
}
