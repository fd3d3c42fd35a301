//! Gathers the facts the checklist is computed from (`domain::checklist`).
//! Each feature adds its own facts here; nothing is stored as a step flag.

use super::{email, fees, payments, runs, settings, xero};
use crate::domain::checklist::Facts;
use crate::error::Result;
use rusqlite::Connection;

pub fn facts(conn: &Connection, run: &runs::Run) -> Result<Facts> {
    let (payments_now, payments_prev) = payments::check_payments(conn, run)?;
    let mut facts = Facts {
        run_id: run.id,
        status: Some(run.status),
        dates_set: run.invoice_date.is_some() && run.cutoff_date.is_some(),
        invoice_date: run.invoice_date.map(|d| d.to_string()),
        cutoff_date: run.cutoff_date.map(|d| d.to_string()),
        expert_by: run.expert_by.clone(),
        confirmed: runs::confirmations(conn, run.id)?,
        xero_enabled: settings::get_bool(conn, "xero.enabled")?,
        wholesale_fees: settings::get_bool(conn, "features.wholesale_fees")?,
        payments_now,
        payments_prev,
        xero_payments_stale: crate::domain::payments::xero_stale(
            settings::get_bool(conn, "xero.enabled")?,
            settings::get_or(conn, "payments.stale_days", "3")?
                .parse()
                .unwrap_or(3),
            payments::last_import(conn, "xero")?.as_deref(),
            chrono::Utc::now(),
        ),
        open_fee_errors: fees::open_errors(conn)?,
        prebill_done: runs::prebill_snapshot(conn, run.id)?.is_some(),
        cdr: super::cdrs::cdr_facts(conn, run)?,
        open_errors: super::cdrs::open_error_counts(conn)?,
        ..Default::default()
    };
    let (total, pdf_ready, print_unprinted) = super::invoices::facts(conn, run.id)?;
    facts.invoices.total = total;
    facts.invoices.pdf_ready = pdf_ready;
    facts.invoices.print_unprinted = print_unprinted;
    super::collect::facts(conn, run.id, &mut facts.invoices)?;
    email::fill_facts(conn, run.id, &mut facts.invoices)?;
    xero::fill_facts(conn, run.id, &mut facts.invoices)?;
    Ok(facts)
}
