//! `prebill RUN [--csv F] [--json]`: the pre-billing report (docs/commands.md#prebill).
//! Computed without changing any billing data; before bills are requested
//! the run keeps a snapshot of it (the `prebill` step), which `ready` and
//! `approve` also take.

use super::output::{self, Ctx};
use crate::domain::csvfile::safe_cell;
use crate::domain::prebill::{CustomerRow, Report};
use crate::ops::prebill::PrebillOptions;
use crate::ops::{self, SystemClock};
use crate::store::audit::Actor;
use crate::store::runs::Run;
use crate::store::{Store, settings};
use anyhow::Context;
use clap::Args as ClapArgs;
use std::path::PathBuf;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Run id or name.
    pub run: String,
    /// Also write the per-customer rows as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, a: Args) -> anyhow::Result<()> {
    let settings = settings::load(&store.conn)?;
    let opts = PrebillOptions { run: a.run };
    let report = ops::prebill::prebill(
        store,
        actor,
        &opts,
        &settings,
        &SystemClock,
        &super::progress::Bar::new(ctx),
    )?;
    if let Some(path) = &a.csv {
        write_csv(path, &report).with_context(|| format!("writing {}", path.display()))?;
        ctx.say(&format!("wrote {}", path.display()));
    }
    if ctx.json {
        return output::print_json(&report);
    }
    print(ctx, &report)
}

/// The figures of a customer row, as both the CSV and the table show them
/// (`none` stands for a missing previous total or change).
fn cells(c: &CustomerRow, none: &str) -> Vec<String> {
    vec![
        c.account.clone(),
        c.name.clone(),
        c.usage.to_string(),
        c.fixed.to_string(),
        c.one_off.to_string(),
        c.wholesale.to_string(),
        c.charges_ex_tax.to_string(),
        c.tax.to_string(),
        c.total.to_string(),
        c.previous_total
            .map_or_else(|| none.to_owned(), |p| p.to_string()),
        c.change_percent
            .map_or_else(|| none.to_owned(), |p| p.to_string()),
    ]
}

fn write_csv(path: &std::path::Path, r: &Report<Run>) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "account",
        "name",
        "usage",
        "fixed",
        "one_off",
        "wholesale",
        "charges_ex_tax",
        "tax",
        "total",
        "previous_total",
        "change_percent",
        "outcome",
        "flags",
    ])?;
    for c in &r.customers {
        let mut row = cells(c, "");
        row.push(c.outcome.to_owned());
        row.push(c.flags.join(" "));
        // Text cells (account, name, outcome, flags) are made safe for
        // spreadsheets; the figures are written as they are.
        for i in [0, 1, row.len() - 2, row.len() - 1] {
            row[i] = safe_cell(&row[i]).into_owned();
        }
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

fn print(ctx: &Ctx, r: &Report<Run>) -> anyhow::Result<()> {
    ctx.say(&ctx.bold(&format!(
        "Pre-billing report — run {} '{}', cutoff {}",
        r.run.id,
        r.run.name,
        r.run.cutoff_date.map(|d| d.to_string()).unwrap_or_default()
    )));
    let mut t = ctx.table(&[
        "account",
        "name",
        "usage",
        "fixed",
        "one-off",
        "wholesale",
        "ex tax",
        "tax",
        "total",
        "previous",
        "change %",
        "flags",
    ]);
    for c in &r.customers {
        let flags = match c.outcome {
            "invoice" => c.flags.join(" "),
            other => format!("NOT PRODUCED ({other}) {}", c.flags.join(" ")),
        };
        let mut row = cells(c, "-");
        row.push(flags.trim().to_owned());
        t.add_row(row);
    }
    output::print_table(ctx, &t)?;
    let s = &r.totals;
    let mut t = ctx.table(&["charge type", "amount"]);
    for (k, v) in [
        ("usage", s.usage),
        ("fixed", s.fixed),
        ("one-off", s.one_off),
        ("wholesale", s.wholesale),
        ("total ex tax", s.charges_ex_tax),
        ("tax", s.tax),
        ("total", s.total),
    ] {
        t.add_row(vec![k.to_owned(), v.to_string()]);
    }
    output::print_table(ctx, &t)?;
    if !r.by_carrier.is_empty() {
        let mut t = ctx.table(&["carrier", "CDRs", "usage"]);
        for c in &r.by_carrier {
            t.add_row(vec![
                c.carrier.clone(),
                c.cdrs.to_string(),
                c.usage.to_string(),
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    print_allowances(ctx, r)?;
    ctx.say(&format!(
        "{} customers: {} invoices, {} empty, {} below the minimum (held over)",
        s.customers, s.invoices, s.empty, s.too_low
    ));
    ctx.say(&format!(
        "CDRs: {} to bill, {} waiting for a later run; {} open billing errors",
        r.unbilled_cdrs, r.waiting_cdrs, r.open_errors
    ));
    print_setup(ctx, r)
}

/// Inclusive allowances per service (or pool), when any customer has one.
fn print_allowances(ctx: &Ctx, r: &Report<Run>) -> anyhow::Result<()> {
    if r.customers.iter().all(|c| c.allowances.is_empty()) {
        return Ok(());
    }
    let mut t = ctx.table(&[
        "account",
        "service",
        "allowance",
        "unit",
        "included",
        "used",
        "remaining",
    ]);
    for c in &r.customers {
        for a in &c.allowances {
            t.add_row(vec![
                c.account.clone(),
                a.holder(),
                a.name.clone(),
                a.unit.to_owned(),
                a.included.clone(),
                a.used.clone(),
                a.remaining.clone(),
            ]);
        }
    }
    output::print_table(ctx, &t)
}

/// Customers that cannot be billed, delivered or collected as set up.
fn print_setup(ctx: &Ctx, r: &Report<Run>) -> anyhow::Result<()> {
    if r.setup_problems.is_empty() {
        ctx.say("Customer setup: every customer can be billed, delivered and collected as set up");
        return Ok(());
    }
    ctx.say(&ctx.yellow(&format!(
        "Customer setup: {} problems (billrun confirm {} setup accepts them)",
        r.setup_problems.len(),
        r.run.id
    )));
    let mut t = ctx.table(&["account", "name", "problem", "fix"]);
    for p in &r.setup_problems {
        t.add_row(vec![
            p.account.clone(),
            p.name.clone(),
            p.problem.clone(),
            p.fix.clone(),
        ]);
    }
    output::print_table(ctx, &t)
}
