//! Invoice production (SPEC §9), the storage half: creating every invoice of
//! a run in one transaction, and recording each PDF once it is complete.
//!
//! Crash safety: the invoices, their numbers, the marks on what they bill
//! and the run's `running` status are one transaction, so after a crash
//! either all invoices exist or none do. PDFs are rendered afterwards; an
//! invoice's `pdf_path` is set only after its file was written to a temporary
//! name, renamed and synced, so `produce` resumes with the invoices whose
//! PDF is missing.

use super::audit::{self, Actor};
use super::billing::{self, BillCustomer};
use super::runs::{self, Run};
use super::{charges, fees, payments, settings};
use crate::domain::invoice::{self, Draft, Outcome};
use crate::domain::lifecycle::{RunStatus, Transition};
use crate::error::{Result, precondition};
use rusqlite::{Connection, params};

/// What creating a run's invoices did.
#[derive(Debug, Clone, Default)]
pub struct Created {
    pub invoices: u64,
    pub empty: u64,
    pub too_low: u64,
    pub first_number: Option<String>,
    pub last_number: Option<String>,
}

/// The invoice number for a sequence number: prefix + zero-padded number.
pub fn number(prefix: &str, seq: i64) -> String {
    format!("{prefix}{seq:06}")
}

/// The message printed on a customer's invoice: the run's override, else the
/// customer's own, else `invoice.default_message`.
pub fn message(run: &Run, customer: &BillCustomer, default: Option<&str>) -> String {
    run.invoice_message
        .as_deref()
        .filter(|m| !m.is_empty())
        .or(customer
            .invoice_message
            .as_deref()
            .filter(|m| !m.is_empty()))
        .or(default)
        .unwrap_or("")
        .to_owned()
}

/// Start (or resume) production: the run moves to `running`; on the first
/// call every invoice is created. Must run inside one write transaction.
pub fn start(conn: &Connection, actor: &Actor, run: &Run) -> Result<Option<Created>> {
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
    let existing: i64 = conn.query_row(
        "SELECT (SELECT COUNT(*) FROM invoices WHERE run_id = ?1) +
                (SELECT COUNT(*) FROM not_produced WHERE run_id = ?1)",
        [run.id],
        |r| r.get(0),
    )?;
    if existing > 0 {
        return Ok(None);
    }
    create_invoices(conn, actor, run).map(Some)
}

fn create_invoices(conn: &Connection, actor: &Actor, run: &Run) -> Result<Created> {
    let (Some(invoice_date), Some(cutoff)) = (run.invoice_date, run.cutoff_date) else {
        return Err(precondition(format!(
            "run {}: set dates first (billrun set-dates {} --invoice-date D --cutoff D)",
            run.id, run.id
        )));
    };
    let terms = billing::terms(conn)?;
    let due_days: u32 = settings::get_or(conn, "invoice.due_days", "14")?
        .parse()
        .unwrap_or(14);
    let due_date = run
        .effective_due(due_days)
        .unwrap_or(invoice_date + chrono::Duration::days(14));
    let prefix = settings::get_or(conn, "invoice.prefix", "INV")?;
    let default_message = settings::get(conn, "invoice.default_message")?;
    let currency = settings::get_or(conn, "currency", "GBP")?;
    let mut seq: i64 = settings::get_or(conn, "invoice.next_number", "1")?
        .parse()
        .unwrap_or(1);
    // Never reuse a number, even if the setting was lowered by hand.
    let max_seq: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM invoices", [], |r| {
        r.get(0)
    })?;
    seq = seq.max(max_seq + 1);
    let bound = billing::cutoff_bound(cutoff);
    let stamp = super::now_stamp();

    let mut created = Created::default();
    let mut ins_invoice = conn.prepare_cached(
        "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date, cutoff_date,
            currency, opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor,
            total_charges_minor, amount_due_minor, message, delivery, payment_method, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    let mut ins_line = conn.prepare_cached(
        "INSERT INTO invoice_lines (invoice_id, position, category, service, description,
            quantity, amount_minor, taxable, period_start, period_end)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    // Invoiced accounts, whose usage is marked in one pass at the end.
    let mut invoiced: Vec<(String, i64)> = Vec::new();
    let mut ins_not = conn.prepare_cached(
        "INSERT INTO not_produced (run_id, account, reason, amount_minor) VALUES (?1, ?2, ?3, ?4)",
    )?;

    for (customer, inputs) in billing::gather(conn, run)? {
        let d: Draft = invoice::draft(&inputs, terms.tax_rate);
        match d.outcome {
            Outcome::Empty | Outcome::TooLow => {
                ins_not.execute(params![
                    run.id,
                    d.account,
                    d.outcome.as_str(),
                    d.total_charges_minor
                ])?;
                if d.outcome == Outcome::Empty {
                    created.empty += 1;
                } else {
                    created.too_low += 1;
                }
                continue;
            }
            Outcome::Invoice => {}
        }
        let num = number(&prefix, seq);
        ins_invoice.execute(params![
            run.id,
            num,
            seq,
            d.account,
            invoice_date.to_string(),
            due_date.to_string(),
            cutoff.to_string(),
            currency,
            d.opening_balance_minor,
            d.payments_minor,
            d.charges_ex_tax_minor,
            d.tax_minor,
            d.total_charges_minor,
            d.amount_due_minor,
            message(run, &customer, default_message.as_deref()),
            customer.delivery,
            customer.payment_method,
            stamp,
        ])?;
        let invoice_id = conn.last_insert_rowid();
        for (i, l) in d.lines.iter().enumerate() {
            ins_line.execute(params![
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
        invoiced.push((d.account.clone(), invoice_id));
        let ids = |items: &[invoice::Item]| items.iter().map(|i| i.id).collect::<Vec<_>>();
        charges::mark_billed(conn, &ids(&inputs.one_offs), invoice_id)?;
        fees::mark_billed(conn, &ids(&inputs.wholesale), invoice_id)?;
        let paid: Vec<i64> = inputs.payments.iter().map(|p| p.0).collect();
        payments::mark_billed(conn, &paid, invoice_id)?;
        created.first_number.get_or_insert_with(|| num.clone());
        created.last_number = Some(num);
        created.invoices += 1;
        seq += 1;
    }
    mark_usage(conn, &invoiced, bound)?;
    conn.execute(
        "INSERT INTO settings (key, value) VALUES ('invoice.next_number', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [seq.to_string()],
    )?;
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

/// Give every rated, unbilled CDR starting before `bound` of an invoiced
/// account's services that account's new invoice: the CDRs the usage lines
/// summed (`billing::gather`, same conditions). One pass over the range of
/// the unbilled-CDR index (keyed by start), not one per account, so the
/// cost is bounded by the open period whatever the history.
fn mark_usage(conn: &Connection, invoiced: &[(String, i64)], bound: i64) -> Result<()> {
    if invoiced.is_empty() {
        return Ok(());
    }
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS produced_accounts
            (account TEXT PRIMARY KEY, invoice_id INTEGER NOT NULL);
         DELETE FROM temp.produced_accounts;",
    )?;
    {
        let mut ins = conn
            .prepare("INSERT INTO temp.produced_accounts (account, invoice_id) VALUES (?1, ?2)")?;
        for (account, id) in invoiced {
            ins.execute(params![account, id])?;
        }
    }
    conn.execute(
        "UPDATE cdrs SET invoice_id = (SELECT p.invoice_id FROM services s
                JOIN temp.produced_accounts p ON p.account = s.account WHERE s.service = cdrs.service)
         WHERE state = 1 AND invoice_id IS NULL AND start < ?1
           AND service IN (SELECT s.service FROM services s
                JOIN temp.produced_accounts p ON p.account = s.account)",
        [bound],
    )?;
    conn.execute_batch("DROP TABLE temp.produced_accounts")?;
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

/// PDFs recorded for a run: (invoice id, path, sha256).
pub fn recorded_pdfs(conn: &Connection, run_id: i64) -> Result<Vec<(i64, String, String)>> {
    let mut st = conn.prepare(
        "SELECT id, pdf_path, COALESCE(pdf_sha256, '') FROM invoices
         WHERE run_id = ?1 AND pdf_path IS NOT NULL ORDER BY seq",
    )?;
    let rows = st.query_map([run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Forget an invoice's PDF (its file is missing or not the one recorded), so
/// production renders it again.
pub fn forget_pdf(conn: &Connection, invoice_id: i64) -> Result<()> {
    conn.execute(
        "UPDATE invoices SET pdf_path = NULL, pdf_sha256 = NULL WHERE id = ?1",
        [invoice_id],
    )?;
    Ok(())
}

/// Record a complete PDF (written, renamed into place and synced to disk).
pub fn record_pdf(conn: &Connection, invoice_id: i64, path: &str, sha256: &str) -> Result<()> {
    conn.execute(
        "UPDATE invoices SET pdf_path = ?2, pdf_sha256 = ?3 WHERE id = ?1",
        params![invoice_id, path, sha256],
    )?;
    Ok(())
}

/// Finish production when every PDF is ready: `running` → `completed`.
pub fn finish(conn: &Connection, actor: &Actor, run: &Run) -> Result<bool> {
    if !missing_pdfs(conn, run.id)?.is_empty() {
        return Ok(false);
    }
    runs::transition(
        conn,
        actor,
        run,
        Transition::Complete,
        "every invoice and PDF produced",
    )?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_prefix_and_six_digits() {
        assert_eq!(number("INV", 1), "INV000001");
        assert_eq!(number("AB-", 1234567), "AB-1234567");
    }
}
