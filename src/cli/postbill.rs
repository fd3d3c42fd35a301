//! `postbill RUN [--csv F] [--json]`: the post-billing report (docs/commands.md#prebill).

use super::output::{self, Ctx};
use crate::domain::csvfile::safe_cell;
use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::ops;
use crate::ops::postbill::{Postbill, PostbillOptions};
use crate::store::audit::Actor;
use crate::store::invoices::Invoice;
use crate::store::{Store, settings};
use anyhow::Context;
use clap::Args as ClapArgs;
use std::path::PathBuf;

#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Run id or name.
    pub run: String,
    /// Also write the produced invoices as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

pub fn exec(ctx: &Ctx, store: &mut Store, actor: &Actor, a: Args) -> anyhow::Result<()> {
    let settings = settings::load(&store.conn)?;
    let opts = PostbillOptions {
        run: a.run,
        with_invoices: a.csv.is_some(),
    };
    let Postbill {
        report: r,
        invoices,
    } = ops::postbill::postbill(store, &opts, &settings)?;
    // `confirm RUN postbill` needs the report of the produced run seen.
    if r.run.status == RunStatus::Completed {
        ops::postbill::record_run(store, actor, r.run.id, &ops::SystemClock)?;
    }
    if let Some(path) = &a.csv {
        write_csv(path, &invoices).with_context(|| format!("writing {}", path.display()))?;
        ctx.say(&format!("wrote {}", path.display()));
    }
    if ctx.json {
        return output::print_json(&r);
    }
    let run = &r.run;
    ctx.say(&ctx.bold(&format!(
        "Post-billing report — run {} '{}' ({})",
        run.id, run.name, run.status
    )));
    ctx.say(&format!(
        "Produced: {} invoices, ex tax {}, tax {}, total {}",
        r.produced.count, r.produced.charges_ex_tax, r.produced.tax, r.produced.total
    ));
    let mut t = ctx.table(&["charge type", "ex tax"]);
    for (k, v) in &r.by_charge_type {
        t.add_row(vec![k.clone(), v.to_string()]);
    }
    output::print_table(ctx, &t)?;
    for (title, map) in [
        ("delivery", &r.by_delivery),
        ("payment method", &r.by_payment_method),
    ] {
        let mut t = ctx.table(&[title, "invoices", "ex tax", "tax", "total"]);
        for (k, s) in map {
            t.add_row(vec![
                k.clone(),
                s.count.to_string(),
                s.charges_ex_tax.to_string(),
                s.tax.to_string(),
                s.total.to_string(),
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    ctx.say(&ctx.bold(&format!("Not produced: {}", r.not_produced.len())));
    if !r.not_produced.is_empty() {
        let mut t = ctx.table(&["account", "name", "reason", "charges"]);
        for n in &r.not_produced {
            let why = match n.reason.as_str() {
                "empty" => "nothing to bill, zero balance",
                "too_low" => "below the minimum: held over to the next run",
                other => other,
            };
            t.add_row(vec![
                n.account.clone(),
                n.name.clone(),
                why.into(),
                n.amount.to_string(),
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    ctx.say(&ctx.bold(&format!(
        "Unpaid amounts carried from earlier invoices: {}",
        r.carried.len()
    )));
    if !r.carried.is_empty() {
        let mut t = ctx.table(&["invoice", "account", "name", "unpaid"]);
        for c in &r.carried {
            t.add_row(vec![
                c.number.clone(),
                c.account.clone(),
                c.name.clone(),
                c.unpaid.to_string(),
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    ctx.say(&ctx.bold(&format!("Credit notes: {}", r.credit_notes.len())));
    if !r.credit_notes.is_empty() {
        let mut t = ctx.table(&[
            "credit note",
            "date",
            "invoice",
            "account",
            "total",
            "reason",
            "brought forward on",
        ]);
        for c in &r.credit_notes {
            t.add_row(vec![
                c.number.clone(),
                c.date.clone(),
                c.invoice.clone(),
                c.account.clone(),
                c.total.to_string(),
                c.reason.clone(),
                c.brought_forward_on.clone().unwrap_or_default(),
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    ctx.say(&ctx.bold(&format!("Anomalies: {}", r.anomalies.len())));
    if !r.anomalies.is_empty() {
        let mut t = ctx.table(&[
            "invoice",
            "account",
            "name",
            "total",
            "mean of last 3",
            "change",
            "%",
        ]);
        for x in &r.anomalies {
            t.add_row(vec![
                x.number.clone(),
                x.account.clone(),
                x.name.clone(),
                x.total.to_string(),
                x.mean_previous.to_string(),
                x.change.to_string(),
                x.change_percent.to_string(),
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    match &r.snapshot_differences {
        None => ctx.say("No pre-billing snapshot to compare with (the run was requested with --expert before a report)"),
        Some(d) if d.is_empty() => ctx.say("Invoices match the pre-billing snapshot."),
        Some(d) => {
            ctx.say(&ctx.yellow(&format!(
                "{} customers differ from the pre-billing snapshot:",
                d.len()
            )));
            let mut t = ctx.table(&["account", "pre-billing total", "produced total"]);
            for x in d {
                t.add_row(vec![
                    x.account.clone(),
                    x.prebill_total.clone().unwrap_or_else(|| "-".into()),
                    x.produced_total.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            output::print_table(ctx, &t)?;
        }
    }
    Ok(())
}

fn write_csv(path: &std::path::Path, invoices: &[Invoice]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    w.write_record([
        "number",
        "account",
        "name",
        "delivery",
        "payment_method",
        "opening_balance",
        "payments",
        "charges_ex_tax",
        "tax",
        "total_charges",
        "amount_due",
    ])?;
    for i in invoices {
        // Text cells are made safe for spreadsheets; figures as they are.
        w.write_record([
            safe_cell(&i.number).into_owned(),
            safe_cell(&i.account).into_owned(),
            safe_cell(&i.name).into_owned(),
            safe_cell(&i.delivery).into_owned(),
            safe_cell(&i.payment_method).into_owned(),
            money::fmt_minor(i.opening_balance_minor),
            money::fmt_minor(i.payments_minor),
            money::fmt_minor(i.charges_ex_tax_minor),
            money::fmt_minor(i.tax_minor),
            money::fmt_minor(i.total_charges_minor),
            money::fmt_minor(i.amount_due_minor),
        ])?;
    }
    w.flush()?;
    Ok(())
}
