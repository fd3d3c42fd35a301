//! A run's steps: `new`, `runs`, `set-dates`, `ready`/`approve`, `confirm`
//! and the locking part of `request`. Every step's precondition is checked
//! inside the write transaction that makes the change, on facts read there.

use super::Clock;
use crate::domain::checklist::{self, StepKey};
use crate::domain::lifecycle::{RunStatus, Transition};
use crate::domain::money::fmt_minor;
use crate::domain::settings::Settings;
use crate::error::{Error, Result, precondition};
use crate::store::runs::{self, Fields, Run};
use crate::store::{Store, audit::Actor, invoices, status};
use chrono::NaiveDate;
use rusqlite::Connection;
use serde::Serialize;

/// A run as `status --json`, `runs --json` and the run steps print it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunView {
    pub id: i64,
    pub name: String,
    pub cycle: String,
    pub status: RunStatus,
    pub invoice_date: Option<NaiveDate>,
    pub cutoff_date: Option<NaiveDate>,
    /// Set explicitly, else the invoice date + `invoice.due_days`.
    pub due_date: Option<NaiveDate>,
    pub invoice_message: Option<String>,
    pub invoices: u64,
    pub total_charges: String,
    pub amount_due: String,
}

impl RunView {
    /// The view of `run` with its invoice totals.
    pub fn of(conn: &Connection, run: &Run, settings: &Settings) -> Result<RunView> {
        let (invoices, total, due) = invoices::run_totals(conn, run.id)?;
        Ok(RunView {
            id: run.id,
            name: run.name.clone(),
            cycle: run.cycle.clone(),
            status: run.status,
            invoice_date: run.invoice_date,
            cutoff_date: run.cutoff_date,
            due_date: run.effective_due(settings.invoice.due_days),
            invoice_message: run.invoice_message.clone(),
            invoices,
            total_charges: fmt_minor(total),
            amount_due: fmt_minor(due),
        })
    }
}

/// The view of the run named by `key` (id or name), as stored now.
pub fn view(store: &Store, key: &str, settings: &Settings) -> Result<RunView> {
    RunView::of(&store.conn, &runs::resolve(&store.conn, key)?, settings)
}

/// `billrun new`.
#[derive(Debug, Clone, Default)]
pub struct NewRun {
    /// Default: the cutoff month, e.g. 2026-11.
    pub name: Option<String>,
    pub cycle: String,
    pub invoice_date: Option<NaiveDate>,
    pub cutoff: Option<NaiveDate>,
    pub due: Option<NaiveDate>,
    pub message: Option<String>,
}

/// Create a run (pending).
pub fn new(
    store: &mut Store,
    actor: &Actor,
    opts: &NewRun,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<RunView> {
    let tx = store.write()?;
    let f = Fields {
        invoice_date: Some(opts.invoice_date),
        cutoff_date: Some(opts.cutoff),
        due_date: Some(opts.due),
        invoice_message: Some(opts.message.clone()),
    };
    let r = runs::create(
        &tx,
        actor,
        opts.name.as_deref(),
        &opts.cycle,
        &f,
        clock.now(),
    )?;
    tx.commit()?;
    RunView::of(&store.conn, &r, settings)
}

/// One row of `billrun runs`.
#[derive(Debug, Clone, Serialize)]
pub struct RunListing {
    pub run: RunView,
    /// The title of the run's next step, or "Run complete".
    pub next_step: String,
}

/// Every run with its key figures and next step.
pub fn list(store: &Store, settings: &Settings, clock: &dyn Clock) -> Result<Vec<RunListing>> {
    let conn = &store.conn;
    runs::list(conn)?
        .iter()
        .map(|r| {
            let cl = checklist::compute(&status::facts(conn, r, settings, clock.now())?);
            let next_step = cl
                .next
                .and_then(|k| cl.steps.iter().find(|s| s.key == k))
                .map(|s| s.title.to_string())
                .unwrap_or_else(|| "Run complete".into());
            Ok(RunListing {
                run: RunView::of(conn, r, settings)?,
                next_step,
            })
        })
        .collect()
}

/// `billrun set-dates`: the run and the fields to change.
#[derive(Debug, Clone, Default)]
pub struct SetDates {
    pub run: String,
    pub fields: Fields,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetDatesReport {
    pub run: RunView,
    /// The sign-off the change withdrew (the run is pending again).
    pub withdrawn: Option<RunStatus>,
}

/// Change a run's dates and message (refused once bills are requested).
pub fn set_dates(
    store: &mut Store,
    actor: &Actor,
    opts: &SetDates,
    settings: &Settings,
) -> Result<SetDatesReport> {
    if opts.fields.is_empty() {
        return Err(Error::Usage(
            "nothing to set: give --invoice-date, --cutoff, --due, --message or --clear".into(),
        ));
    }
    let tx = store.write()?;
    let run = runs::resolve(&tx, &opts.run)?;
    let r = runs::set_fields(&tx, actor, &run, &opts.fields)?;
    tx.commit()?;
    Ok(SetDatesReport {
        run: RunView::of(&store.conn, &r, settings)?,
        withdrawn: (run.status != r.status).then_some(run.status),
    })
}

/// `billrun ready` / `billrun approve`.
#[derive(Debug, Clone)]
pub struct SignOff {
    pub run: String,
    /// `Ready` or `Approve`.
    pub transition: Transition,
}

/// Sign a run off. The caller then takes the pre-billing snapshot
/// (`ops::prebill::snapshot`) of the returned run, as `ready`/`approve` do.
pub fn sign_off(store: &mut Store, actor: &Actor, opts: &SignOff) -> Result<Run> {
    let tx = store.write()?;
    let run = runs::resolve(&tx, &opts.run)?;
    if run.invoice_date.is_none() || run.cutoff_date.is_none() {
        return Err(precondition(format!(
            "run {}: set dates first (billrun set-dates {} --invoice-date D --cutoff D)",
            run.id, run.id
        )));
    }
    runs::transition(&tx, actor, &run, opts.transition, "")?;
    tx.commit()?;
    runs::resolve(&store.conn, &opts.run)
}

/// `billrun confirm RUN STEP`.
#[derive(Debug, Clone)]
pub struct Confirm {
    pub run: String,
    pub step: StepKey,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfirmReport {
    pub run: i64,
    pub step: StepKey,
    pub confirmed: bool,
    /// False when the step was already confirmed.
    #[serde(skip)]
    pub newly: bool,
}

/// Confirm a checklist step, if `checklist::can_confirm` allows it on the
/// facts read inside the write transaction.
pub fn confirm(
    store: &mut Store,
    actor: &Actor,
    opts: &Confirm,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<ConfirmReport> {
    let tx = store.write()?;
    let run = runs::resolve(&tx, &opts.run)?;
    let facts = status::facts(&tx, &run, settings, clock.now())?;
    checklist::can_confirm(&facts, opts.step).map_err(|why| {
        let arg = opts.step.confirm_arg().unwrap_or(opts.step.as_str());
        precondition(format!("cannot confirm {arg}: {why}"))
    })?;
    let newly = runs::confirm(&tx, actor, run.id, opts.step.as_str(), clock.now())?;
    tx.commit()?;
    Ok(ConfirmReport {
        run: run.id,
        step: opts.step,
        confirmed: true,
        newly,
    })
}

/// `billrun request` (the locking part; production follows).
#[derive(Debug, Clone)]
pub struct Request {
    pub run: String,
    /// Skip the pre-billing confirmations (audited with the operator's name).
    pub expert: bool,
}

fn check_request(
    conn: &Connection,
    run: &Run,
    opts: &Request,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<()> {
    let facts = status::facts(conn, run, settings, clock.now())?;
    checklist::can_request(&facts, opts.expert).map_err(|r| precondition(r.to_string()))
}

/// Whether the run may be requested now (read-only: before asking the
/// operator). `request` checks again inside its transaction.
pub fn request_preflight(
    store: &Store,
    opts: &Request,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<Run> {
    let run = runs::resolve(&store.conn, &opts.run)?;
    check_request(&store.conn, &run, opts, settings, clock)?;
    Ok(run)
}

/// Lock the run: `requested`, audited (with the operator's name when the
/// checks were skipped with `--expert`). Returns the run as locked.
pub fn request(
    store: &mut Store,
    actor: &Actor,
    opts: &Request,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<Run> {
    let tx = store.write()?;
    let run = runs::resolve(&tx, &opts.run)?;
    check_request(&tx, &run, opts, settings, clock)?;
    let note = if opts.expert {
        format!("--expert: pre-billing checks skipped by {}", actor.operator)
    } else {
        String::new()
    };
    runs::transition(&tx, actor, &run, Transition::Request, &note)?;
    if opts.expert {
        runs::set_expert(&tx, run.id, &actor.operator)?;
    }
    tx.commit()?;
    runs::resolve(&store.conn, &opts.run)
}
