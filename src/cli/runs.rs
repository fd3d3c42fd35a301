//! `billrun new | runs | set-dates | ready | approve | confirm | request`.

use super::output::{self, Ctx};
use crate::domain::checklist::{self, State};
use crate::domain::lifecycle::{RunStatus, Transition};
use crate::domain::money::fmt_minor;
use crate::error::{Error, bad_input, precondition};
use crate::store::{Store, audit::Actor, runs, settings, status};
use chrono::NaiveDate;

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Run name (default: the cutoff month, e.g. 2026-11).
    #[arg(long)]
    pub name: Option<String>,
    /// Billing cycle whose customers the run bills.
    #[arg(long, default_value = "monthly")]
    pub cycle: String,
    #[arg(long)]
    pub invoice_date: Option<NaiveDate>,
    /// Last date charges apply (usage, fees, one-offs on or before it).
    #[arg(long)]
    pub cutoff: Option<NaiveDate>,
    /// Payment due date (default: invoice date + invoice.due_days).
    #[arg(long)]
    pub due: Option<NaiveDate>,
    /// Message printed on every invoice of the run.
    #[arg(long)]
    pub message: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct RunArg {
    /// Run id or name.
    pub run: String,
}

#[derive(Debug, clap::Args)]
pub struct SetDatesArgs {
    /// Run id or name.
    pub run: String,
    #[arg(long)]
    pub invoice_date: Option<NaiveDate>,
    #[arg(long)]
    pub cutoff: Option<NaiveDate>,
    #[arg(long)]
    pub due: Option<NaiveDate>,
    #[arg(long)]
    pub message: Option<String>,
    /// Clear fields: due, message (repeatable).
    #[arg(long, value_parser = ["invoice-date", "cutoff", "due", "message"])]
    pub clear: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConfirmArgs {
    /// Run id or name.
    pub run: String,
    /// payments, cdrs, errors, fee-errors, prebill, postbill
    #[arg(value_parser = ["payments", "cdrs", "errors", "fee-errors", "prebill", "postbill"])]
    pub step: String,
}

#[derive(Debug, clap::Args)]
pub struct RequestArgs {
    /// Run id or name.
    pub run: String,
    /// Skip the pre-billing confirmations (audited with your name).
    #[arg(long)]
    pub expert: bool,
    /// Stop at `requested`; produce later with `billrun produce RUN`.
    #[arg(long)]
    pub no_produce: bool,
}

pub fn new(ctx: &Ctx, store: &mut Store, actor: &Actor, a: NewArgs) -> anyhow::Result<()> {
    let tx = store.write()?;
    let f = runs::Fields {
        invoice_date: Some(a.invoice_date),
        cutoff_date: Some(a.cutoff),
        due_date: Some(a.due),
        invoice_message: Some(a.message),
    };
    let r = runs::create(&tx, actor, a.name.as_deref(), &a.cycle, &f)?;
    tx.commit()?;
    ctx.say(&format!(
        "created run {} '{}' (pending); next: billrun status {}",
        r.id, r.name, r.id
    ));
    if ctx.json {
        output::print_json(&run_json(store, &r)?)?;
    }
    Ok(())
}

/// The run object of `status --json` and `runs --json`.
pub fn run_json(store: &Store, r: &runs::Run) -> anyhow::Result<serde_json::Value> {
    let due_days: u32 = settings::get_or(&store.conn, "invoice.due_days", "14")?
        .parse()
        .unwrap_or(14);
    let (invoices, total, due) = crate::store::invoices::run_totals(&store.conn, r.id)?;
    Ok(serde_json::json!({
        "id": r.id, "name": r.name, "cycle": r.cycle, "status": r.status.as_str(),
        "invoice_date": r.invoice_date, "cutoff_date": r.cutoff_date,
        "due_date": r.effective_due(due_days), "invoice_message": r.invoice_message,
        "invoices": invoices, "total_charges": fmt_minor(total), "amount_due": fmt_minor(due),
    }))
}

pub fn list(ctx: &Ctx, store: &Store) -> anyhow::Result<()> {
    let all = runs::list(&store.conn)?;
    if ctx.json {
        let v: Vec<_> = all
            .iter()
            .map(|r| run_json(store, r))
            .collect::<anyhow::Result<_>>()?;
        return output::print_json(&v);
    }
    let due_days: u32 = settings::get_or(&store.conn, "invoice.due_days", "14")?
        .parse()
        .unwrap_or(14);
    let mut t = ctx.table(&[
        "id",
        "name",
        "cycle",
        "status",
        "invoice date",
        "cutoff",
        "due",
        "invoices",
        "total",
        "next step",
    ]);
    for r in &all {
        let cl = checklist::compute(&status::facts(&store.conn, r)?);
        let next = cl
            .next
            .and_then(|k| cl.steps.iter().find(|s| s.key == k))
            .map(|s| s.title.to_string())
            .unwrap_or_else(|| "Run complete".into());
        let (invoices, total, _) = crate::store::invoices::run_totals(&store.conn, r.id)?;
        let show = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
        t.add_row(vec![
            r.id.to_string(),
            r.name.clone(),
            r.cycle.clone(),
            r.status.to_string(),
            show(r.invoice_date),
            show(r.cutoff_date),
            show(r.effective_due(due_days)),
            invoices.to_string(),
            fmt_minor(total),
            next,
        ]);
    }
    output::print_table(ctx, &t)
}

pub fn set_dates(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    a: SetDatesArgs,
) -> anyhow::Result<()> {
    let clear = |f: &str| a.clear.iter().any(|c| c == f);
    let pick =
        |v: Option<NaiveDate>, name: &str| if clear(name) { Some(None) } else { v.map(Some) };
    let f = runs::Fields {
        invoice_date: pick(a.invoice_date, "invoice-date"),
        cutoff_date: pick(a.cutoff, "cutoff"),
        due_date: pick(a.due, "due"),
        invoice_message: if clear("message") {
            Some(None)
        } else {
            a.message.map(Some)
        },
    };
    if f.is_empty() {
        return Err(Error::Usage(
            "nothing to set: give --invoice-date, --cutoff, --due, --message or --clear".into(),
        )
        .into());
    }
    let tx = store.write()?;
    let run = runs::resolve(&tx, &a.run)?;
    let was = run.status;
    let r = runs::set_fields(&tx, actor, &run, &f)?;
    tx.commit()?;
    if was != r.status {
        ctx.warn(&format!(
            "run {} was {was}: the change withdrew the sign-off; it is pending again",
            r.id
        ));
    }
    ctx.say(&format!(
        "run {} updated; next: billrun status {}",
        r.id, r.id
    ));
    if ctx.json {
        output::print_json(&run_json(store, &r)?)?;
    }
    Ok(())
}

/// `ready` and `approve`.
pub fn sign_off(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    a: RunArg,
    t: Transition,
) -> anyhow::Result<()> {
    let tx = store.write()?;
    let run = runs::resolve(&tx, &a.run)?;
    if run.invoice_date.is_none() || run.cutoff_date.is_none() {
        return Err(precondition(format!(
            "run {}: set dates first (billrun set-dates {} --invoice-date D --cutoff D)",
            run.id, run.id
        ))
        .into());
    }
    let to = runs::transition(&tx, actor, &run, t, "")?;
    tx.commit()?;
    ctx.say(&format!("run {} is {to}", run.id));
    let run = runs::resolve(&store.conn, &a.run)?;
    let report = super::prebill::snapshot(store, actor, &run)?;
    ctx.say(&format!(
        "pre-billing report taken: {} invoices, total {} (billrun prebill {} to review)",
        report.totals.invoices, report.totals.total, run.id
    ));
    if ctx.json {
        output::print_json(&run_json(store, &runs::resolve(&store.conn, &a.run)?)?)?;
    }
    Ok(())
}

/// Why a step cannot be confirmed yet, naming the step to do first.
fn confirm_precondition(
    store: &Store,
    run: &runs::Run,
    key: &str,
) -> anyhow::Result<Option<String>> {
    let facts = status::facts(&store.conn, run)?;
    let post = key == "postbill";
    if !post && run.status.is_locked() {
        return Ok(Some(format!(
            "run {} is {}: pre-billing steps are closed once bills are requested",
            run.id, run.status
        )));
    }
    if post && run.status != RunStatus::Completed {
        return Ok(Some(format!(
            "run {} is {}: the post-billing report comes after production",
            run.id, run.status
        )));
    }
    let id = run.id;
    Ok(match key {
        "check_cdrs" if facts.cdr.pending_files > 0 => Some(format!(
            "{} CDR files are pending: process them (billrun cdr process) or ignore them (billrun cdr ignore FILE) first",
            facts.cdr.pending_files
        )),
        "check_errors" if !facts.confirmed.contains("check_cdrs") => Some(format!(
            "confirm the CDR check first (billrun confirm {id} cdrs)"
        )),
        "check_fee_errors" if !facts.wholesale_fees => Some(
            "wholesale fees are off (features.wholesale_fees): there is no fee-errors step".into(),
        ),
        "check_fee_errors" if facts.open_fee_errors > 0 => Some(format!(
            "{} fee errors are open: resolve or ignore them first (billrun errors {id} --kind fee_unknown_service)",
            facts.open_fee_errors
        )),
        "prebill" if !facts.dates_set => Some(format!(
            "set dates first (billrun set-dates {id} --invoice-date D --cutoff D)"
        )),
        "prebill" if !facts.prebill_done => Some(format!(
            "run the pre-billing report first (billrun prebill {id})"
        )),
        _ => None,
    })
}

pub fn confirm(ctx: &Ctx, store: &mut Store, actor: &Actor, a: ConfirmArgs) -> anyhow::Result<()> {
    let key = checklist::confirm_key(&a.step)
        .ok_or_else(|| bad_input(format!("unknown step '{}'", a.step)))?;
    let run = runs::resolve(&store.conn, &a.run)?;
    if let Some(why) = confirm_precondition(store, &run, key)? {
        return Err(precondition(format!("cannot confirm {}: {why}", a.step)).into());
    }
    let tx = store.write()?;
    let new = runs::confirm(&tx, actor, run.id, key)?;
    tx.commit()?;
    ctx.say(&if new {
        format!("run {}: {} confirmed", run.id, a.step)
    } else {
        format!("run {}: {} was already confirmed", run.id, a.step)
    });
    if ctx.json {
        output::print_json(&serde_json::json!({"run": run.id, "step": key, "confirmed": true}))?;
    }
    Ok(())
}

pub fn request(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &std::path::Path,
    a: RequestArgs,
) -> anyhow::Result<()> {
    let run = runs::resolve(&store.conn, &a.run)?;
    if run.status.is_locked() {
        return Err(precondition(format!(
            "run {} is {}: bills were already requested",
            run.id, run.status
        ))
        .into());
    }
    if run.invoice_date.is_none() || run.cutoff_date.is_none() {
        return Err(precondition(format!(
            "run {}: step 'Set dates' is not done: billrun set-dates {} --invoice-date D --cutoff D",
            run.id, run.id
        ))
        .into());
    }
    let cl = checklist::compute(&status::facts(&store.conn, &run)?);
    if !a.expert
        && let Some(s) = cl.steps.iter().find(|s| {
            s.key != "request" && s.stage == checklist::Stage::Pre && !s.state.is_settled()
        })
    {
        let how = if s.state == State::Blocked {
            "is blocked"
        } else {
            "is not done"
        };
        return Err(precondition(format!(
                "run {}: step '{}' {how} ({}). Do it first: {} — or request with --expert to skip the checks",
                run.id, s.title, s.detail, s.command
            ))
            .into());
    }
    ctx.confirm(&format!(
        "Request bills for run {} '{}'? This locks the run",
        run.id, run.name
    ))?;
    let tx = store.write()?;
    let note = if a.expert {
        format!("--expert: pre-billing checks skipped by {}", actor.operator)
    } else {
        String::new()
    };
    runs::transition(&tx, actor, &run, Transition::Request, &note)?;
    if a.expert {
        runs::set_expert(&tx, run.id, &actor.operator)?;
    }
    tx.commit()?;
    ctx.say(&format!(
        "run {}: bills requested; the run is locked",
        run.id
    ));
    if a.no_produce {
        ctx.say(&format!(
            "produce the invoices with: billrun produce {}",
            run.id
        ));
        if ctx.json {
            output::print_json(&run_json(store, &runs::resolve(&store.conn, &a.run)?)?)?;
        }
        return Ok(());
    }
    let run = runs::resolve(&store.conn, &a.run)?;
    super::produce::produce(ctx, store, actor, db, &run)
}
