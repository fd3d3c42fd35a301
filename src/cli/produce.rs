//! `produce RUN`: create the run's invoices, render every missing PDF,
//! complete the run (`ops::produce`). Re-running resumes.

use super::output::{self, Ctx};
use super::progress::Bar;
use crate::ops::SystemClock;
use crate::ops::produce::{self as op, ProduceOptions, ProduceReport, State};
use crate::store::audit::Actor;
use crate::store::{Store, runs, settings};
use clap::Args as ClapArgs;
use std::path::Path;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Run id or name.
    pub run: String,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, db: &Path, a: Args) -> anyhow::Result<()> {
    let run = runs::resolve(&store.conn, &a.run)?;
    produce(ctx, store, actor, db, &run)
}

/// Produce (or resume producing) a requested or running run, saying what
/// was created before the PDFs render.
pub fn produce(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    run: &runs::Run,
) -> anyhow::Result<()> {
    produce_checked(ctx, store, actor, db, run, None)
}

/// [`produce`] after `request`, with what its check gathered.
pub fn produce_checked(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    run: &runs::Run,
    checked: Option<op::Checked>,
) -> anyhow::Result<()> {
    let opts = ProduceOptions { db, run_id: run.id };
    let started = op::begin_checked(store, actor, &opts, &SystemClock, checked)?;
    let id = started.run_id();
    match started.created() {
        Some(c) => ctx.say(&format!(
            "run {id}: {} invoices created ({} to {}); not produced: {} empty, {} below the minimum",
            c.invoices,
            c.first_number.as_deref().unwrap_or("-"),
            c.last_number.as_deref().unwrap_or("-"),
            c.empty,
            c.too_low
        )),
        None => ctx.say(&format!("run {id}: resuming production")),
    }
    if started.recovered() > 0 {
        ctx.say(&format!(
            "run {id}: {} recorded PDFs are missing or changed on disk; rendering them again",
            started.recovered()
        ));
    }
    let settings = settings::load(&store.conn)?;
    let report = started.finish(store, actor, &settings, &Bar::new(ctx))?;
    closing_line(ctx, &report);
    let auto = if report.status == State::Completed && settings.collect.auto {
        Some(auto_collect(ctx, store, actor, db, id, &settings)?)
    } else {
        None
    };
    if ctx.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(a) = auto {
            v["auto_collection"] = serde_json::to_value(&a)?;
        }
        output::print_json(&v)?;
    }
    Ok(())
}

/// `collect.auto`: submit the completed run's collections and say what
/// happened (problems on stderr; the checklist shows what is left).
fn auto_collect(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    run: i64,
    settings: &crate::domain::settings::Settings,
) -> anyhow::Result<crate::ops::collect::AutoReport> {
    use crate::ops::collect::{self as collect, AutoOptions, FileRunReport, Secrets};
    let opts = AutoOptions {
        run_id: run,
        db: db.to_path_buf(),
        secrets: Secrets {
            stripe_api_key: std::env::var("STRIPE_API_KEY").ok(),
            gocardless_token: std::env::var("GOCARDLESS_ACCESS_TOKEN").ok(),
        },
    };
    let r = collect::submit_run(store, actor, &opts, settings, &SystemClock, &Bar::new(ctx))?;
    if let Some(FileRunReport::Written(w)) = &r.dd_file {
        ctx.say(&format!(
            "auto-collection: Direct Debit payment run {}: {} file {} ({} invoice(s), total {}) — submit it to the bank",
            w.payment_run,
            w.format,
            w.file.display(),
            w.items,
            w.total
        ));
    }
    if let Some(g) = &r.dd_gocardless {
        ctx.say(&format!(
            "auto-collection: {} GoCardless payment(s) created{}",
            g.payments.iter().filter(|p| p.gateway_id.is_some()).count(),
            g.charge_date
                .map(|d| format!(", charge date {d}"))
                .unwrap_or_default()
        ));
    }
    if let Some(c) = &r.card {
        ctx.say(&format!(
            "auto-collection: {} card charge(s) sent to Stripe: {} approved, {} declined or failed",
            c.charges.len(),
            c.approved(),
            c.failed()
        ));
    }
    for p in &r.problems {
        ctx.warn(&format!("auto-collection: {p}"));
    }
    Ok(r)
}

/// The closing line (the report as JSON is printed by the caller, with
/// `auto_collection` when `collect.auto` submitted the collections).
fn closing_line(ctx: &Ctx, r: &ProduceReport) {
    match r.status {
        State::Completed => ctx.say(&format!(
            "run {}: completed — {} invoices, {} PDFs written to {}",
            r.run,
            r.invoices,
            r.pdfs_rendered,
            r.pdf_dir.display()
        )),
        State::Running => ctx.say(&format!(
            "run {}: {} of {} PDFs ready; run billrun produce {} to finish",
            r.run, r.pdfs_ready, r.invoices, r.run
        )),
    }
}
