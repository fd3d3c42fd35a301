//! `postbill`: the post-billing report of a produced run.

use crate::domain::lifecycle::RunStatus;
use crate::domain::postbill::{self, NotProduced, Report};
use crate::domain::prebill::Minor;
use crate::domain::settings::Settings;
use crate::error::{Result, precondition};
use crate::store::Store;
use crate::store::invoices::{self, Invoice};
use crate::store::runs::{self, Run};
use serde::Serialize;

/// `billrun postbill RUN`.
#[derive(Debug, Clone, Default)]
pub struct PostbillOptions {
    /// Run id or name.
    pub run: String,
    /// Also return the run's invoices (for the CSV).
    pub with_invoices: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Postbill {
    pub report: Report<Run>,
    /// The run's invoices in number order, when asked for.
    #[serde(skip)]
    pub invoices: Vec<Invoice>,
}

/// The report of a run being or done producing.
pub fn postbill(store: &Store, opts: &PostbillOptions, settings: &Settings) -> Result<Postbill> {
    let run = runs::resolve(&store.conn, &opts.run)?;
    if !matches!(run.status, RunStatus::Running | RunStatus::Completed) {
        return Err(precondition(format!(
            "run {} is {}: the post-billing report comes after production (billrun request {})",
            run.id, run.status, run.id
        )));
    }
    let report = build(store, &run, settings)?;
    let invoices = if opts.with_invoices {
        invoices::list(&store.conn, Some(run.id))?
    } else {
        Vec::new()
    };
    Ok(Postbill { report, invoices })
}

/// Record that the post-billing report of `run_id` was run (audited):
/// `confirm RUN postbill` needs it.
pub fn record_run(
    store: &mut Store,
    actor: &crate::store::audit::Actor,
    run_id: i64,
    clock: &dyn super::Clock,
) -> Result<()> {
    let tx = store.write()?;
    runs::mark_postbill(&tx, actor, run_id, clock.now())?;
    tx.commit()?;
    Ok(())
}

/// The post-billing report of `run`.
pub fn build(store: &Store, run: &Run, settings: &Settings) -> Result<Report<Run>> {
    let conn = &store.conn;
    let produced = invoices::for_postbill(conn, run.id)?;
    let not_produced = invoices::not_produced(conn, run.id)?
        .into_iter()
        .map(|(account, name, reason, m)| NotProduced {
            account,
            name,
            reason,
            amount: Minor(m),
        })
        .collect();
    let snapshot = runs::prebill_snapshot(conn, run.id)?
        .map(|json| {
            postbill::snapshot_rows(&json)
                .map_err(|e| precondition(format!("reading the run's pre-billing snapshot: {e}")))
        })
        .transpose()?;
    let mut report = postbill::report(
        run.clone(),
        &produced,
        not_produced,
        snapshot,
        settings.postbill_min_change,
    );
    report.credit_notes = crate::store::credits::for_postbill(conn, run.id)?
        .into_iter()
        .map(|n| postbill::CreditNoteRow {
            number: n.number,
            date: n.credit_date,
            invoice: n.invoice,
            account: n.account,
            name: n.name,
            reason: n.reason,
            amount_ex_tax: Minor(n.ex_tax_minor),
            tax: Minor(n.tax_minor),
            total: Minor(n.total_minor),
            brought_forward_on: n.applied_invoice,
        })
        .collect();
    Ok(report)
}
