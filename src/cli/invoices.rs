//! `invoices [RUN] [--json]` and `invoices show NUMBER`.

use super::output::{self, Ctx};
use super::stream;
use crate::domain::money::fmt_minor;
use crate::store::{Store, collect, credits, email, invoices, runs};
use clap::{Args as ClapArgs, Subcommand};
use serde_json::{Value, json};

#[derive(Debug, ClapArgs)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// Run id or name (default: every run).
    pub run: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// One invoice with its lines.
    Show {
        /// Invoice number, e.g. INV000123.
        number: String,
    },
}

/// One invoice as `invoices --json` prints it (docs/json.md).
pub fn invoice_json(store: &Store, inv: &invoices::Invoice) -> anyhow::Result<Value> {
    let lines: Vec<Value> = credits::invoice_lines(&store.conn, inv.id)?
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "credited_by": l.credited_by,
                "category": l.category,
                "service": l.service,
                "description": l.description,
                "quantity": l.quantity,
                "amount": fmt_minor(l.amount_minor),
            })
        })
        .collect();
    Ok(json!({
        "number": inv.number,
        "run": inv.run_id,
        "account": inv.account,
        "name": inv.name,
        "invoice_date": inv.invoice_date.to_string(),
        "due_date": inv.due_date.to_string(),
        "currency": inv.currency,
        "opening_balance": fmt_minor(inv.opening_balance_minor),
        "payments": fmt_minor(inv.payments_minor),
        "credit_notes": fmt_minor(inv.credits_minor),
        "charges_ex_tax": fmt_minor(inv.charges_ex_tax_minor),
        "tax": fmt_minor(inv.tax_minor),
        "total_charges": fmt_minor(inv.total_charges_minor),
        "amount_due": fmt_minor(inv.amount_due_minor),
        "received_since_cutoff": fmt_minor(inv.received_since_minor),
        "to_collect": fmt_minor(inv.to_collect_minor),
        "delivery": inv.delivery,
        "payment_method": inv.payment_method,
        "pdf": inv.pdf_path,
        "calls_file": inv.calls_path,
        "emailed": serde_json::to_value(email::state_for(&store.conn, inv.id)?)?,
        "printed": inv.printed,
        "collection": collect::latest_for_invoice(&store.conn, inv.id)?,
        "lines": lines,
        "allowances": crate::store::allowances::invoice_allowances(&store.conn, inv.id)?,
    }))
}

pub fn exec(ctx: &Ctx, store: &Store, a: Args) -> anyhow::Result<()> {
    if let Some(Cmd::Show { number }) = a.cmd {
        return show(ctx, store, &number);
    }
    let run_id = match &a.run {
        Some(r) => Some(runs::resolve(&store.conn, r)?.id),
        None => None,
    };
    // Streamed: a run of 50,000 invoices is printed without being held.
    if ctx.json {
        let mut j = stream::Json::array();
        invoices::each(&store.conn, run_id, |i| j.item(&invoice_json(store, &i)?))?;
        j.end_array_document();
        return Ok(());
    }
    // Two passes: the column widths, then the rows.
    let mut widths = stream::Widths::of(&LIST_HEADER);
    invoices::each(&store.conn, run_id, |i| {
        widths.fit(&list_cells(&i));
        anyhow::Ok(())
    })?;
    let t = stream::Table::start(&LIST_HEADER, &widths);
    let mut n = 0u64;
    invoices::each(&store.conn, run_id, |i| {
        t.row(&list_cells(&i));
        n += 1;
        anyhow::Ok(())
    })?;
    t.finish();
    ctx.say(&format!("{n} invoices"));
    Ok(())
}

const LIST_HEADER: [&str; 12] = [
    "number",
    "account",
    "name",
    "date",
    "due",
    "charges",
    "tax",
    "total",
    "amount due",
    "delivery",
    "pay by",
    "PDF",
];

fn list_cells(i: &invoices::Invoice) -> Vec<String> {
    vec![
        i.number.clone(),
        i.account.clone(),
        i.name.clone(),
        i.invoice_date.to_string(),
        i.due_date.to_string(),
        fmt_minor(i.charges_ex_tax_minor),
        fmt_minor(i.tax_minor),
        fmt_minor(i.total_charges_minor),
        fmt_minor(i.amount_due_minor),
        i.delivery.clone(),
        i.payment_method.clone(),
        if i.pdf_path.is_some() {
            "ready"
        } else {
            "missing"
        }
        .into(),
    ]
}

fn show(ctx: &Ctx, store: &Store, number: &str) -> anyhow::Result<()> {
    let inv = invoices::by_number(&store.conn, number)?;
    if ctx.json {
        return output::print_json(&invoice_json(store, &inv)?);
    }
    ctx.say(&ctx.bold(&format!(
        "Invoice {} — {} {} (run {})",
        inv.number, inv.account, inv.name, inv.run_id
    )));
    ctx.say(&format!(
        "date {}, due {}, cutoff {}, {} by {}",
        inv.invoice_date, inv.due_date, inv.cutoff_date, inv.delivery, inv.payment_method
    ));
    let mut t = ctx.table(&[
        "line",
        "category",
        "service",
        "description",
        "quantity",
        "amount",
        "credited",
    ]);
    for l in credits::invoice_lines(&store.conn, inv.id)? {
        t.add_row(vec![
            l.id.to_string(),
            l.category,
            l.service.unwrap_or_default(),
            l.description,
            l.quantity,
            fmt_minor(l.amount_minor),
            l.credited_by.unwrap_or_default(),
        ]);
    }
    output::print_table(ctx, &t)?;
    let mut t = ctx.table(&["", "amount"]);
    for (k, v) in [
        ("opening balance", inv.opening_balance_minor),
        ("payments", inv.payments_minor.saturating_neg()),
        ("credit notes", inv.credits_minor.saturating_neg()),
        ("charges ex tax", inv.charges_ex_tax_minor),
        ("tax", inv.tax_minor),
        ("total charges", inv.total_charges_minor),
        ("amount due", inv.amount_due_minor),
        (
            "received since cutoff",
            inv.received_since_minor.saturating_neg(),
        ),
        ("to collect", inv.to_collect_minor),
    ] {
        t.add_row(vec![k.to_owned(), fmt_minor(v)]);
    }
    output::print_table(ctx, &t)?;
    let allowances = crate::store::allowances::invoice_allowances(&store.conn, inv.id)?;
    if !allowances.is_empty() {
        let mut t = ctx.table(&[
            "service",
            "allowance",
            "unit",
            "included",
            "used",
            "remaining",
        ]);
        for a in allowances {
            t.add_row(vec![
                a.holder(),
                a.name,
                a.unit.to_owned(),
                a.included,
                a.used,
                a.remaining,
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    if let Some(p) = &inv.pdf_path {
        ctx.say(&format!("PDF: {p}"));
    }
    for n in credits::list(&store.conn, Some(inv.run_id))?
        .iter()
        .filter(|n| n.invoice_id == inv.id)
    {
        ctx.say(&format!(
            "credited by {} on {}: {} ({})",
            n.number,
            n.credit_date,
            fmt_minor(n.total_minor),
            n.reason
        ));
    }
    Ok(())
}
