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
    let opts = ProduceOptions { db, run_id: run.id };
    let started = op::begin(store, actor, &opts, &SystemClock)?;
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
    print(ctx, &report)
}

/// The closing line, and the report as JSON with `--json`.
fn print(ctx: &Ctx, r: &ProduceReport) -> anyhow::Result<()> {
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
    if ctx.json {
        output::print_json(r)?;
    }
    Ok(())
}
