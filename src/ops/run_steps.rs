//! A run's steps: `new`, `runs`, `set-dates`, `ready`/`approve`, `confirm`
//! and the locking part of `request`. Every step's precondition is checked
//! inside the write transaction that makes the change, on facts read there.

use super::Clock;
use crate::domain::checklist::{self, StepKey};
use crate::domain::lifecycle::{RunStatus, Transition};
use crate::domain::money::fmt_minor;
use crate::domain::settings::Settings;
use crate::error::{Error, Result, bad_input, precondition};
use crate::store::runs::{self, Fields, Run};
use crate::store::{Store, audit::Actor, cdrs, invoices, status};
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
            let next_step = if r.status.is_cancelled() {
                "Cancelled".to_string()
            } else {
                let cl = checklist::compute(&status::facts(conn, r, settings, clock.now())?);
                cl.next
                    .and_then(|k| cl.steps.iter().find(|s| s.key == k))
                    .map(|s| s.title.to_string())
                    .unwrap_or_else(|| "Run complete".into())
            };
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
/// (`ops::prebill::snapshot_with`) of the returned run, as `ready`/`approve` do.
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
    /// `cdrs` only: carriers that sent no file this period, acknowledged
    /// (audited) with `reason`.
    pub missing: Vec<String>,
    pub reason: Option<String>,
    /// `errors` only: the operator agreed to confirm with this many billing
    /// errors open (asked with [`confirm_risk`]); more open now is refused.
    pub accept_open_errors: Option<u64>,
}

impl Confirm {
    /// Confirm `step` of `run`, with nothing acknowledged.
    pub fn step(run: &str, step: StepKey) -> Confirm {
        Confirm {
            run: run.to_string(),
            step,
            missing: Vec::new(),
            reason: None,
            accept_open_errors: None,
        }
    }
}

/// What confirming a step knowingly accepts (open billing errors): the
/// question to ask, and the count to pass as `accept_open_errors`.
#[derive(Debug, Clone, Serialize)]
pub struct Risk {
    pub open_errors: u64,
    pub carrier_cost: String,
    pub question: String,
}

/// Read-only, before asking the operator: the risk of confirming, if any.
/// `confirm` checks it again inside its transaction.
pub fn confirm_risk(
    store: &Store,
    opts: &Confirm,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<Option<Risk>> {
    let run = runs::resolve(&store.conn, &opts.run)?;
    let facts = status::facts(&store.conn, &run, settings, clock.now())?;
    let cost = crate::domain::money::fmt(cdrs::open_errors_cost(&store.conn)?);
    Ok(match checklist::confirm_risk(&facts, opts.step, &cost) {
        Some(checklist::Refusal::ErrorsOpen { open, cost, .. }) => Some(Risk {
            question: format!(
                "Confirm the errors step of run {} with {open} billing errors open (carrier cost {cost} at risk; their calls will not be billed)?",
                run.id
            ),
            open_errors: open,
            carrier_cost: cost,
        }),
        _ => None,
    })
}

/// Record `opts.missing` acknowledgements (inside the caller's
/// transaction): each must be a carrier without a file this period.
fn acknowledge(
    conn: &Connection,
    actor: &Actor,
    run: &Run,
    opts: &Confirm,
    facts: &checklist::Facts,
    clock: &dyn Clock,
) -> Result<()> {
    if opts.missing.is_empty() {
        if opts.reason.is_some() {
            return Err(Error::Usage(
                "--reason goes with --missing CARRIER (confirm RUN cdrs --missing CARRIER --reason TEXT)"
                    .into(),
            ));
        }
        return Ok(());
    }
    if opts.step != StepKey::CheckCdrs {
        return Err(Error::Usage(
            "--missing CARRIER acknowledges a carrier without a CDR file: it goes with `confirm RUN cdrs`"
                .into(),
        ));
    }
    let reason = opts.reason.as_deref().map(str::trim).unwrap_or("");
    if reason.is_empty() {
        return Err(Error::Usage(
            "--missing CARRIER needs --reason TEXT (why no file is expected), kept in the audit log"
                .into(),
        ));
    }
    if let Some(c) = reason.chars().find(|c| c.is_control()) {
        return Err(bad_input(format!(
            "--reason must be one line of text (it contains {c:?})"
        )));
    }
    for carrier in &opts.missing {
        cdrs::carrier_required(conn, carrier)?;
        if !facts.cdr.carriers_without_file.contains(carrier) {
            return Err(bad_input(format!(
                "carrier {carrier} has CDR files for run {}'s period (or files waiting to be processed): nothing to acknowledge",
                run.id
            )));
        }
        runs::acknowledge_missing(conn, actor, run.id, carrier, reason, clock.now())?;
    }
    Ok(())
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
    let arg = opts.step.confirm_arg().unwrap_or(opts.step.as_str());
    let refuse = |why: checklist::Refusal| precondition(format!("cannot confirm {arg}: {why}"));
    let facts = status::facts(&tx, &run, settings, clock.now())?;
    if !opts.missing.is_empty() {
        // The step must be open before anything is acknowledged.
        if let Err(
            why @ (checklist::Refusal::Cancelled { .. }
            | checklist::Refusal::PreBillingClosed { .. }
            | checklist::Refusal::SetDatesFirst { .. }),
        ) = checklist::can_confirm(&facts, opts.step)
        {
            return Err(refuse(why));
        }
    }
    acknowledge(&tx, actor, &run, opts, &facts, clock)?;
    let facts = status::facts(&tx, &run, settings, clock.now())?;
    checklist::can_confirm(&facts, opts.step).map_err(refuse)?;
    let cost = crate::domain::money::fmt(cdrs::open_errors_cost(&tx)?);
    if let Some(risk) = checklist::confirm_risk(&facts, opts.step, &cost) {
        let accepted = match risk {
            checklist::Refusal::ErrorsOpen { open, .. } => {
                opts.accept_open_errors.is_some_and(|n| n >= open)
            }
            _ => false,
        };
        if !accepted {
            return Err(refuse(risk));
        }
    }
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
    /// The OS user running the command (`Actor::os_user`): `--expert` is
    /// allowed only to the users of `expert.users` when it is set.
    pub os_user: String,
}

fn check_request(
    conn: &Connection,
    run: &Run,
    opts: &Request,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<()> {
    if opts.expert && !checklist::expert_allowed(settings.expert_users.as_deref(), &opts.os_user) {
        return Err(precondition(format!(
            "request --expert is allowed only to {} (setting expert.users), not to OS user {}: complete the checklist (billrun status {}) or ask one of them",
            settings.expert_users.as_deref().unwrap_or_default(),
            opts.os_user,
            run.id
        )));
    }
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
    Ok(request_with(store, actor, opts, settings, clock, false)?.0)
}

/// [`request`] when production follows at once on the same store: also
/// returns what the check gathered, for `produce::begin_checked` to create
/// the invoices from (one read of the unbilled CDRs instead of two).
pub fn request_for_production(
    store: &mut Store,
    actor: &Actor,
    opts: &Request,
    settings: &Settings,
    clock: &dyn Clock,
) -> Result<(Run, super::produce::Checked)> {
    let (run, checked) = request_with(store, actor, opts, settings, clock, true)?;
    Ok((run, checked.expect("kept when asked")))
}

fn request_with(
    store: &mut Store,
    actor: &Actor,
    opts: &Request,
    settings: &Settings,
    clock: &dyn Clock,
    keep: bool,
) -> Result<(Run, Option<super::produce::Checked>)> {
    let tx = store.write()?;
    let run = runs::resolve(&tx, &opts.run)?;
    check_request(&tx, &run, opts, settings, clock)?;
    // Never lock a run whose invoices cannot be computed (issue 15 item 4).
    let checked = if keep {
        Some(super::produce::check_invoices_for_production(
            &tx, &run, settings,
        )?)
    } else {
        super::produce::check_invoices(&tx, &run, settings)?;
        None
    };
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
    Ok((runs::resolve(&store.conn, &opts.run)?, checked))
}

/// Cancel a run created by mistake (only before bills are requested): it
/// keeps its row, status `cancelled`, audited; its name and invoice date
/// are free again.
pub fn cancel(store: &mut Store, actor: &Actor, key: &str, settings: &Settings) -> Result<RunView> {
    let tx = store.write()?;
    let run = runs::resolve(&tx, key)?;
    runs::transition(&tx, actor, &run, Transition::Cancel, "")?;
    tx.commit()?;
    RunView::of(
        &store.conn,
        &runs::resolve(&store.conn, &run.id.to_string())?,
        settings,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::FixedClock;
    use crate::ops::prebill::{PrebillOptions, prebill};

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn setup() -> (Store, Actor, Settings, FixedClock) {
        (
            Store::memory().unwrap(),
            Actor::test(),
            Settings::defaults(),
            FixedClock::on(d("2026-12-02")),
        )
    }

    fn confirm_step(
        store: &mut Store,
        actor: &Actor,
        step: &str,
        settings: &Settings,
        clock: &FixedClock,
    ) -> Result<ConfirmReport> {
        let opts = Confirm::step("2026-11", StepKey::from_confirm_arg(step).unwrap());
        confirm(store, actor, &opts, settings, clock)
    }

    #[test]
    fn new_run_then_set_dates() {
        let (mut store, actor, settings, clock) = setup();
        let opts = NewRun {
            name: Some("late".into()),
            cycle: "monthly".into(),
            ..Default::default()
        };
        let r = new(&mut store, &actor, &opts, &settings, &clock).unwrap();
        assert_eq!((r.name.as_str(), r.status), ("late", RunStatus::Pending));
        assert_eq!((r.invoice_date, r.due_date), (None, None));

        let nothing = SetDates {
            run: "late".into(),
            fields: Fields::default(),
        };
        let e = set_dates(&mut store, &actor, &nothing, &settings).unwrap_err();
        assert_eq!(e.exit_code(), 2);

        let change = SetDates {
            run: r.id.to_string(),
            fields: Fields {
                invoice_date: Some(Some(d("2026-12-01"))),
                cutoff_date: Some(Some(d("2026-11-30"))),
                ..Default::default()
            },
        };
        let s = set_dates(&mut store, &actor, &change, &settings).unwrap();
        assert_eq!(s.withdrawn, None);
        assert_eq!(s.run.cutoff_date, Some(d("2026-11-30")));
        assert_eq!(
            s.run.due_date,
            Some(d("2026-12-15")),
            "invoice date + 14 days"
        );
        let listed = list(&store, &settings, &clock).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].next_step, "Check payments");

        // A change after sign-off withdraws it.
        let signed = SignOff {
            run: "late".into(),
            transition: Transition::Ready,
        };
        assert_eq!(
            sign_off(&mut store, &actor, &signed).unwrap().status,
            RunStatus::Ready
        );
        let due = SetDates {
            run: "late".into(),
            fields: Fields {
                due_date: Some(Some(d("2026-12-20"))),
                ..Default::default()
            },
        };
        let s = set_dates(&mut store, &actor, &due, &settings).unwrap();
        assert_eq!(s.withdrawn, Some(RunStatus::Ready));
        assert_eq!(s.run.status, RunStatus::Pending);
    }

    #[test]
    fn confirm_in_order_then_request_locks() {
        let (mut store, actor, settings, clock) = setup();
        let opts = NewRun {
            cycle: "monthly".into(),
            invoice_date: Some(d("2026-12-01")),
            cutoff: Some(d("2026-11-30")),
            ..Default::default()
        };
        let r = new(&mut store, &actor, &opts, &settings, &clock).unwrap();
        assert_eq!(r.name, "2026-11");

        // Out of order: refused, exit 3, nothing stored.
        let e = confirm_step(&mut store, &actor, "errors", &settings, &clock).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(
            e.to_string(),
            format!(
                "cannot confirm errors: confirm the CDR check first (billrun confirm {} cdrs)",
                r.id
            )
        );
        assert!(runs::confirmations(&store.conn, r.id).unwrap().is_empty());

        // Requesting now names the first open step.
        let req = Request {
            run: "2026-11".into(),
            expert: false,
            os_user: "tester".into(),
        };
        let e = request_preflight(&store, &req, &settings, &clock).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert!(
            e.to_string()
                .starts_with(&format!("run {}: step 'Check payments' is not done", r.id)),
            "{e}"
        );

        for step in ["payments", "cdrs", "errors"] {
            let c = confirm_step(&mut store, &actor, step, &settings, &clock).unwrap();
            assert!(c.newly, "{step}");
        }
        let again = confirm_step(&mut store, &actor, "payments", &settings, &clock).unwrap();
        assert!(!again.newly);
        let e = confirm_step(&mut store, &actor, "prebill", &settings, &clock).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot confirm prebill: run the pre-billing report first (billrun prebill {})",
                r.id
            )
        );
        let report = prebill(
            &mut store,
            &actor,
            &PrebillOptions {
                run: "2026-11".into(),
            },
            &settings,
            &clock,
            &crate::ops::NoProgress,
        )
        .unwrap();
        assert_eq!(report.totals.invoices, 0);
        confirm_step(&mut store, &actor, "prebill", &settings, &clock).unwrap();

        let run = request_preflight(&store, &req, &settings, &clock).unwrap();
        assert_eq!(run.status, RunStatus::Pending);
        let run = request(&mut store, &actor, &req, &settings, &clock).unwrap();
        assert_eq!(run.status, RunStatus::Requested);
        assert_eq!(run.expert_by, None);

        // Locked: a second request and pre-billing confirmations are refused.
        let e = request(&mut store, &actor, &req, &settings, &clock).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(
            e.to_string(),
            format!("run {} is requested: bills were already requested", r.id)
        );
        let e = confirm_step(&mut store, &actor, "cdrs", &settings, &clock).unwrap_err();
        assert!(
            e.to_string().contains("pre-billing steps are closed"),
            "{e}"
        );
        let e = confirm_step(&mut store, &actor, "postbill", &settings, &clock).unwrap_err();
        assert!(e.to_string().contains("comes after production"), "{e}");
    }

    #[test]
    fn expert_request_skips_the_checks_and_names_the_operator() {
        let (mut store, actor, settings, clock) = setup();
        let opts = NewRun {
            cycle: "monthly".into(),
            invoice_date: Some(d("2026-12-01")),
            cutoff: Some(d("2026-11-30")),
            ..Default::default()
        };
        new(&mut store, &actor, &opts, &settings, &clock).unwrap();
        let req = Request {
            run: "2026-11".into(),
            expert: true,
            os_user: "tester".into(),
        };
        let run = request(&mut store, &actor, &req, &settings, &clock).unwrap();
        assert_eq!(run.status, RunStatus::Requested);
        assert_eq!(run.expert_by.as_deref(), Some(actor.operator.as_str()));
    }
}
