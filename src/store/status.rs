//! Gathers the facts the checklist is computed from (`domain::checklist`).
//! Each feature adds its own facts here; nothing is stored as a step flag.

use super::{email, fees, payments, runs, xero};
use crate::domain::checklist::Facts;
use crate::domain::settings::Settings;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// The facts of `run` at `now` (the Xero payments' staleness depends on it).
pub fn facts(
    conn: &Connection,
    run: &runs::Run,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Facts> {
    let (payments_now, payments_prev) = payments::check_payments(conn, run)?;
    let prebill = runs::prebill_snapshot(conn, run.id)?;
    let mut facts = Facts {
        run_id: run.id,
        status: Some(run.status),
        dates_set: run.invoice_date.is_some() && run.cutoff_date.is_some(),
        invoice_date: run.invoice_date.map(|d| d.to_string()),
        cutoff_date: run.cutoff_date.map(|d| d.to_string()),
        expert_by: run.expert_by.clone(),
        confirmed: runs::confirmations(conn, run.id)?,
        xero_enabled: settings.xero.enabled,
        wholesale_fees: settings.wholesale_fees,
        payments_now,
        payments_prev,
        xero_payments_stale: crate::domain::payments::xero_stale_in(
            settings.xero.api,
            settings.xero.enabled,
            settings.payments_stale_days,
            xero_payments_at(conn, settings.xero.api)?.as_deref(),
            now,
        ),
        open_fee_errors: fees::open_errors(conn)?,
        prebill_done: prebill.is_some(),
        postbill_done: run.postbill_at.is_some(),
        setup_problems: crate::domain::setup_check::check(
            &super::reference::setup_customers(conn, &run.cycle)?,
            &settings.dd.format,
        ),
        expected_invoices: Some(match prebill.as_deref().and_then(snapshot_invoices) {
            Some(n) => n,
            None => super::reference::cycle_customers(conn, &run.cycle)?,
        }),
        cdr: super::cdrs::cdr_facts(conn, run)?,
        open_errors: super::cdrs::open_error_counts(conn)?,
        ..Default::default()
    };
    let (total, pdf_ready, print_unprinted) = super::invoices::facts(conn, run.id)?;
    facts.invoices.total = total;
    facts.invoices.pdf_ready = pdf_ready;
    facts.invoices.print_unprinted = print_unprinted;
    super::collect::facts(
        conn,
        run.id,
        settings.collect.max_retries,
        &mut facts.invoices,
    )?;
    email::fill_facts(conn, run.id, &mut facts.invoices)?;
    if settings.xero.api {
        super::xero_api::fill_facts(conn, run.id, &mut facts.invoices)?;
    } else {
        xero::fill_facts(conn, run.id, &mut facts.invoices)?;
    }
    Ok(facts)
}

/// When Xero's payments were last brought in: in API mode the last
/// successful `payments fetch`, else the last import of Xero's export.
fn xero_payments_at(conn: &Connection, api: bool) -> Result<Option<String>> {
    if api {
        super::xero_api::last_sync(conn, "payments")
    } else {
        payments::last_import(conn, "xero")
    }
}

/// The invoices a pre-billing snapshot (JSON, `domain::prebill::Report`)
/// expects.
fn snapshot_invoices(json: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()?
        .pointer("/totals/invoices")?
        .as_u64()
}
