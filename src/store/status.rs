//! Gathers the facts the checklist is computed from (`domain::checklist`).
//! Each feature adds its own facts here; nothing is stored as a step flag.

use super::{runs, settings};
use crate::domain::checklist::Facts;
use crate::error::Result;
use rusqlite::Connection;

pub fn facts(conn: &Connection, run: &runs::Run) -> Result<Facts> {
    Ok(Facts {
        run_id: run.id,
        status: Some(run.status),
        dates_set: run.invoice_date.is_some() && run.cutoff_date.is_some(),
        invoice_date: run.invoice_date.map(|d| d.to_string()),
        cutoff_date: run.cutoff_date.map(|d| d.to_string()),
        expert_by: run.expert_by.clone(),
        confirmed: runs::confirmations(conn, run.id)?,
        xero_enabled: settings::get_bool(conn, "xero.enabled")?,
        wholesale_fees: settings::get_bool(conn, "features.wholesale_fees")?,
        prebill_done: runs::prebill_snapshot(conn, run.id)?.is_some(),
        cdr: super::cdrs::cdr_facts(conn, run)?,
        open_errors: super::cdrs::open_error_counts(conn)?,
        ..Default::default()
    })
}
