//! `billrun new | runs | set-dates | ready | approve | confirm | request | cancel`.

use super::output::{self, Ctx};
use crate::domain::checklist::StepKey;
use crate::domain::lifecycle::Transition;
use crate::error::bad_input;
use crate::ops::{self, SystemClock, run_steps};
use crate::store::{Store, audit::Actor, runs, settings};
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
    /// setup, payments, cdrs, errors, fee-errors, prebill, postbill
    #[arg(value_parser = ["setup", "payments", "cdrs", "errors", "fee-errors", "prebill", "postbill"])]
    pub step: String,
    /// `cdrs`: acknowledge that CARRIER sent no file this period (repeatable; needs --reason).
    #[arg(long, value_name = "CARRIER")]
    pub missing: Vec<String>,
    /// Why no file is expected from the --missing carriers (kept in the audit log).
    #[arg(long, value_name = "TEXT", requires = "missing")]
    pub reason: Option<String>,
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
    let settings = settings::load(&store.conn)?;
    let opts = run_steps::NewRun {
        name: a.name,
        cycle: a.cycle,
        invoice_date: a.invoice_date,
        cutoff: a.cutoff,
        due: a.due,
        message: a.message,
    };
    let r = run_steps::new(store, actor, &opts, &settings, &SystemClock)?;
    ctx.say(&format!(
        "created run {} '{}' (pending); next: billrun status {}",
        r.id, r.name, r.id
    ));
    if ctx.json {
        output::print_json(&r)?;
    }
    Ok(())
}

pub fn list(ctx: &Ctx, store: &Store) -> anyhow::Result<()> {
    let settings = settings::load(&store.conn)?;
    let all = run_steps::list(store, &settings, &SystemClock)?;
    // The CDR files banner, as `status` shows it (stderr under --json).
    let banner = ops::status::banner(store)?;
    if banner.unfinished() > 0 {
        if ctx.json {
            ctx.warn(&banner.detail);
        } else {
            crate::outln!("{}", ctx.yellow(&format!("⚠ {}", banner.detail)));
        }
    }
    if ctx.json {
        let v: Vec<_> = all.iter().map(|l| &l.run).collect();
        return output::print_json(&v);
    }
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
    let show = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "-".into());
    for l in all {
        let r = l.run;
        t.add_row(vec![
            r.id.to_string(),
            r.name,
            r.cycle,
            r.status.to_string(),
            show(r.invoice_date),
            show(r.cutoff_date),
            show(r.due_date),
            r.invoices.to_string(),
            r.total_charges,
            l.next_step,
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
    let fields = runs::Fields {
        invoice_date: pick(a.invoice_date, "invoice-date"),
        cutoff_date: pick(a.cutoff, "cutoff"),
        due_date: pick(a.due, "due"),
        invoice_message: if clear("message") {
            Some(None)
        } else {
            a.message.map(Some)
        },
    };
    let settings = settings::load(&store.conn)?;
    let opts = run_steps::SetDates { run: a.run, fields };
    let r = run_steps::set_dates(store, actor, &opts, &settings)?;
    if let Some(was) = r.withdrawn {
        ctx.warn(&format!(
            "run {} was {was}: the change withdrew the sign-off; it is pending again",
            r.run.id
        ));
    }
    ctx.say(&format!(
        "run {} updated; next: billrun status {}",
        r.run.id, r.run.id
    ));
    if ctx.json {
        output::print_json(&r.run)?;
    }
    Ok(())
}

/// `ready` and `approve`: sign off, then take the pre-billing snapshot.
pub fn sign_off(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    a: RunArg,
    t: Transition,
) -> anyhow::Result<()> {
    let settings = settings::load(&store.conn)?;
    let opts = run_steps::SignOff {
        run: a.run.clone(),
        transition: t,
    };
    let run = run_steps::sign_off(store, actor, &opts)?;
    ctx.say(&format!("run {} is {}", run.id, run.status));
    let report = ops::prebill::snapshot_with(
        store,
        actor,
        &run,
        &settings,
        &SystemClock,
        &super::progress::Bar::new(ctx),
    )?;
    ctx.say(&format!(
        "pre-billing report taken: {} invoices, total {} (billrun prebill {} to review)",
        report.totals.invoices, report.totals.total, run.id
    ));
    if ctx.json {
        output::print_json(&run_steps::view(store, &a.run, &settings)?)?;
    }
    Ok(())
}

pub fn confirm(ctx: &Ctx, store: &mut Store, actor: &Actor, a: ConfirmArgs) -> anyhow::Result<()> {
    let step = StepKey::from_confirm_arg(&a.step)
        .ok_or_else(|| bad_input(format!("unknown step '{}'", a.step)))?;
    let settings = settings::load(&store.conn)?;
    let mut opts = run_steps::Confirm::step(&a.run, step);
    opts.missing = a.missing;
    opts.reason = a.reason;
    // Open billing errors are confirmed knowingly: ask (or --yes).
    if let Some(risk) = run_steps::confirm_risk(store, &opts, &settings, &SystemClock)? {
        ctx.confirm(&risk.question)?;
        opts.accept_open_errors = Some(risk.open_errors);
    }
    let r = run_steps::confirm(store, actor, &opts, &settings, &SystemClock)?;
    for carrier in &opts.missing {
        ctx.say(&format!(
            "run {}: no CDR file from {carrier} acknowledged",
            r.run
        ));
    }
    ctx.say(&if r.newly {
        format!("run {}: {} confirmed", r.run, a.step)
    } else {
        format!("run {}: {} was already confirmed", r.run, a.step)
    });
    if ctx.json {
        output::print_json(&r)?;
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
    let settings = settings::load(&store.conn)?;
    let opts = run_steps::Request {
        run: a.run.clone(),
        expert: a.expert,
        os_user: Actor::os_user(),
    };
    let run = run_steps::request_preflight(store, &opts, &settings, &SystemClock)?;
    ctx.confirm(&format!(
        "Request bills for run {} '{}'? This locks the run",
        run.id, run.name
    ))?;
    let (run, checked) = if a.no_produce {
        (
            run_steps::request(store, actor, &opts, &settings, &SystemClock)?,
            None,
        )
    } else {
        let (run, checked) =
            run_steps::request_for_production(store, actor, &opts, &settings, &SystemClock)?;
        (run, Some(checked))
    };
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
            output::print_json(&run_steps::RunView::of(&store.conn, &run, &settings)?)?;
        }
        return Ok(());
    }
    super::produce::produce_checked(ctx, store, actor, db, &run, checked)
}

/// `billrun cancel RUN`: only before bills are requested; asks first.
pub fn cancel(ctx: &Ctx, store: &mut Store, actor: &Actor, a: RunArg) -> anyhow::Result<()> {
    let settings = settings::load(&store.conn)?;
    let run = run_steps::view(store, &a.run, &settings)?;
    ctx.confirm(&format!(
        "Cancel run {} '{}' ({})? It stays listed as cancelled and cannot be used again",
        run.id, run.name, run.status
    ))?;
    let r = run_steps::cancel(store, actor, &run.id.to_string(), &settings)?;
    ctx.say(&format!("run {} '{}' cancelled", r.id, r.name));
    if ctx.json {
        output::print_json(&r)?;
    }
    Ok(())
}
