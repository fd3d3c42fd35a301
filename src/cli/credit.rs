//! `billrun credit add | list | show | produce`: credit notes (docs/commands.md#credit-notes).

use super::output::{self, Ctx};
use crate::domain::money::fmt_minor;
use crate::ops::{self, SystemClock, credit::View};
use crate::store::{Store, audit::Actor, settings};
use clap::Subcommand;
use serde_json::{Value, json};
use std::path::Path;

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Credit a produced invoice: an amount ex tax, or one whole line (audited).
    Add(AddArgs),
    /// List credit notes (of the invoices of a run, or all).
    List {
        /// Run id or name (default: every run).
        run: Option<String>,
    },
    /// One credit note with its lines.
    Show {
        /// Credit note number, e.g. CN000001.
        number: String,
    },
    /// Render the PDF of every credit note that has none (after a kill).
    Produce,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["amount", "line"])))]
pub struct AddArgs {
    /// The invoice number, e.g. INV000123.
    pub invoice: String,
    /// Amount to credit, ex tax (tax is added as on invoices), e.g. 12.50.
    #[arg(long, allow_hyphen_values = true)]
    pub amount: Option<String>,
    /// Credit one whole invoice line: its id from `billrun invoices show NUMBER`.
    #[arg(long)]
    pub line: Option<i64>,
    /// Why the invoice is credited (printed on the credit note).
    #[arg(long)]
    pub reason: String,
}

/// One credit note as `credit list --json` / `credit show --json` print it (docs/json.md).
pub fn credit_json(v: &View) -> Value {
    let n = &v.note;
    json!({
        "number": n.number,
        "invoice": n.invoice,
        "run": n.run_id,
        "account": n.account,
        "name": n.name,
        "date": n.credit_date,
        "currency": n.currency,
        "reason": n.reason,
        "amount_ex_tax": fmt_minor(n.ex_tax_minor),
        "tax": fmt_minor(n.tax_minor),
        "total": fmt_minor(n.total_minor),
        "tax_rate": n.tax_rate,
        "payment_method": n.payment_method,
        "delivery": n.delivery,
        "brought_forward_on": n.applied_invoice,
        "pdf": n.pdf_path,
        "created_at": n.created_at,
        "created_by": n.created_by,
        "lines": v.lines.iter().map(|l| json!({
            "invoice_line": l.invoice_line_id,
            "service": l.service,
            "description": l.description,
            "quantity": l.quantity,
            "amount": fmt_minor(l.amount_minor),
        })).collect::<Vec<_>>(),
    })
}

pub fn exec(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    cmd: Cmd,
) -> anyhow::Result<()> {
    match cmd {
        Cmd::Add(a) => {
            let settings = settings::load(&store.conn)?;
            let opts = ops::credit::AddOptions {
                db,
                invoice: a.invoice,
                amount: a.amount,
                line: a.line,
                reason: a.reason,
            };
            let r = ops::credit::add(store, actor, &opts, &settings, &SystemClock)?;
            if r.pdfs_recovered > 0 {
                ctx.say(&format!(
                    "{} credit note PDFs left by an interrupted command rendered",
                    r.pdfs_recovered
                ));
            }
            let n = &r.credit_note.note;
            ctx.say(&format!(
                "credit note {} on invoice {} ({}): {} ex tax + {} tax = {}",
                n.number,
                n.invoice,
                n.account,
                fmt_minor(n.ex_tax_minor),
                fmt_minor(n.tax_minor),
                fmt_minor(n.total_minor)
            ));
            if let Some(p) = &n.pdf_path {
                ctx.say(&format!("PDF: {p}"));
            }
            if ctx.json {
                output::print_json(&credit_json(&r.credit_note))?;
            }
            Ok(())
        }
        Cmd::List { run } => {
            let all = ops::credit::list(store, run.as_deref())?;
            if ctx.json {
                let v: Vec<Value> = all.iter().map(credit_json).collect();
                return output::print_json(&v);
            }
            let mut t = ctx.table(&[
                "number", "date", "invoice", "account", "name", "ex tax", "tax", "total", "reason",
                "PDF",
            ]);
            let mut total = 0i64;
            for v in &all {
                let n = &v.note;
                total = total.saturating_add(n.total_minor);
                t.add_row(vec![
                    n.number.clone(),
                    n.credit_date.clone(),
                    n.invoice.clone(),
                    n.account.clone(),
                    n.name.clone(),
                    fmt_minor(n.ex_tax_minor),
                    fmt_minor(n.tax_minor),
                    fmt_minor(n.total_minor),
                    n.reason.clone(),
                    if n.pdf_path.is_some() {
                        "ready"
                    } else {
                        "missing (billrun credit produce)"
                    }
                    .into(),
                ]);
            }
            output::print_table(ctx, &t)?;
            ctx.say(&format!(
                "{} credit notes, total {}",
                all.len(),
                fmt_minor(total)
            ));
            Ok(())
        }
        Cmd::Show { number } => {
            let v = ops::credit::show(store, &number)?;
            if ctx.json {
                return output::print_json(&credit_json(&v));
            }
            let n = &v.note;
            ctx.say(&ctx.bold(&format!(
                "Credit note {} — {} {} (invoice {}, run {})",
                n.number, n.account, n.name, n.invoice, n.run_id
            )));
            ctx.say(&format!(
                "date {}, reason: {}, by {}",
                n.credit_date, n.reason, n.created_by
            ));
            let mut t = ctx.table(&[
                "invoice line",
                "service",
                "description",
                "quantity",
                "amount",
            ]);
            for l in &v.lines {
                t.add_row(vec![
                    l.invoice_line_id.map(|i| i.to_string()).unwrap_or_default(),
                    l.service.clone().unwrap_or_default(),
                    l.description.clone(),
                    l.quantity.clone(),
                    fmt_minor(l.amount_minor),
                ]);
            }
            output::print_table(ctx, &t)?;
            ctx.say(&format!(
                "ex tax {}, tax {} (rate {}), total {}",
                fmt_minor(n.ex_tax_minor),
                fmt_minor(n.tax_minor),
                n.tax_rate,
                fmt_minor(n.total_minor)
            ));
            match &n.applied_invoice {
                Some(i) => ctx.say(&format!("brought forward on invoice {i}")),
                None => ctx.say("not yet brought forward (the next invoice shows it)"),
            }
            match &n.pdf_path {
                Some(p) => ctx.say(&format!("PDF: {p}")),
                None => ctx.say("PDF: missing — run billrun credit produce"),
            }
            Ok(())
        }
        Cmd::Produce => {
            let settings = settings::load(&store.conn)?;
            let r = ops::credit::produce(store, db, &settings)?;
            ctx.say(&format!(
                "{} credit note PDFs rendered in {}",
                r.rendered,
                r.pdf_dir.display()
            ));
            if ctx.json {
                output::print_json(&r)?;
            }
            Ok(())
        }
    }
}
