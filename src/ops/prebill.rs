//! `prebill`: the pre-billing report (computed from the same invoice drafts
//! production will create; no billing data changes). Before bills are
//! requested the run keeps it as its snapshot (the `prebill` step), which
//! `ready` and `approve` also take.

use crate::domain::invoice;
use crate::domain::prebill::{self, CarrierRow, CustomerFacts, Minor, Report};
use crate::domain::settings::Settings;
use crate::error::{Result, bad_input, precondition};
use crate::store::audit::{self, Actor};
use crate::store::runs::{self, Run};
use crate::store::{Store, billing};
use rusqlite::Connection;

use super::{Clock, NoProgress, Progress};

/// `billrun prebill RUN`.
#[derive(Debug, Clone)]
pub struct PrebillOptions {
    /// Run id or name.
    pub run: String,
}

/// The report of the run (which needs its dates), kept as its snapshot
/// while it is not locked.
pub fn prebill(
    store: &mut Store,
    actor: &Actor,
    opts: &PrebillOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Report<Run>> {
    let run = runs::resolve(&store.conn, &opts.run)?;
    if run.cutoff_date.is_none() {
        return Err(precondition(format!(
            "run {}: set dates first (billrun set-dates {} --invoice-date D --cutoff D)",
            run.id, run.id
        )));
    }
    snapshot_with(store, actor, &run, settings, clock, progress)
}

/// Compute the report and, while the run is not locked, keep it as the
/// run's snapshot (audited), in one transaction; the unbilled CDRs read
/// are reported to `progress`.
pub fn snapshot_with(
    store: &mut Store,
    actor: &Actor,
    run: &Run,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<Report<Run>> {
    let tx = store.write()?;
    let report = report_with(&tx, run, settings, progress)?;
    save_snapshot(&tx, actor, run, &report, clock)?;
    tx.commit()?;
    Ok(report)
}

/// Keep `report` (computed already) as the run's snapshot, audited, while
/// the run is not locked.
pub fn save_snapshot(
    conn: &Connection,
    actor: &Actor,
    run: &Run,
    report: &Report<Run>,
    clock: &dyn Clock,
) -> Result<()> {
    if !run.status.is_locked() {
        let json = serde_json::to_string(report).expect("a report serialises");
        runs::save_prebill(conn, run.id, &json, clock.now())?;
        audit::log(
            conn,
            actor,
            Some(run.id),
            "prebill",
            &format!(
                "{} invoices, total {}",
                report.totals.invoices, report.totals.total
            ),
        )?;
    }
    Ok(())
}

/// The pre-billing report of a run: computed, nothing changed.
pub fn report(conn: &Connection, run: &Run, settings: &Settings) -> Result<Report<Run>> {
    report_with(conn, run, settings, &NoProgress)
}

/// [`report`], reporting the unbilled CDRs read to `progress` (one phase,
/// "unbilled CDRs", of unknown length: counting them would be another pass).
pub fn report_with(
    conn: &Connection,
    run: &Run,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<Report<Run>> {
    let tax_rate = settings.tax.rate;
    progress.start("unbilled CDRs", None);
    let data = billing::gather_report(conn, run, settings, &|n| progress.inc(n));
    progress.finish();
    let data = data?;
    let allowance_by_carrier = &data.allowance_by_carrier;
    let customers = data
        .gathered
        .iter()
        .map(|(c, inputs)| -> Result<_> {
            let facts = CustomerFacts {
                account: c.account.clone(),
                name: c.name.clone(),
                wants_email: c.delivery != "print",
                has_email: c.email.is_some(),
                has_bank_details: c.has_bank_details,
                previous_total_minor: c.previous.map(|p| p.total_charges_minor),
            };
            let draft = invoice::draft(inputs, tax_rate).map_err(bad_input)?;
            let mut row = prebill::row(&facts, &draft, settings.prebill_change_percent);
            row.allowances = inputs.allowances.clone();
            Ok(row)
        })
        .collect::<Result<Vec<_>>>()?;
    let totals = prebill::totals(&customers).map_err(bad_input)?;
    let by_carrier = data
        .by_carrier
        .into_iter()
        .map(|(carrier, cdrs, m)| CarrierRow {
            // Usage after allowances, as the customers' usage lines.
            usage: Minor(
                m.saturating_add(allowance_by_carrier.get(&carrier).copied().unwrap_or(0)),
            ),
            carrier,
            cdrs,
        })
        .collect();
    Ok(Report {
        run: run.clone(),
        customers,
        totals,
        by_carrier,
        unbilled_cdrs: data.unbilled_cdrs,
        waiting_cdrs: data.waiting_cdrs,
        open_errors: data.open_errors,
        setup_problems: crate::domain::setup_check::check(
            &crate::store::reference::setup_customers(conn, &run.cycle)?,
            &settings.dd.format,
        ),
    })
}
