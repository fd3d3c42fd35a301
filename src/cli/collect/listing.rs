//! `billrun collect list` and `collect show` as text or JSON.

use crate::cli::output::{self, Ctx};
use crate::ops::collect::{RunView, ShowReport};

/// `collect list`.
pub fn list(ctx: &Ctx, all: &[RunView]) -> anyhow::Result<()> {
    if ctx.json {
        return output::print_json(all);
    }
    if all.is_empty() {
        ctx.say("no payment runs yet: `billrun collect dd RUN` or `billrun collect card RUN`");
        return Ok(());
    }
    let mut t = ctx.table(&[
        "id", "run", "kind", "format", "date", "debit", "state", "items", "total", "approved",
        "failed", "refer", "live", "file",
    ]);
    for p in all {
        t.add_row(vec![
            p.id.to_string(),
            p.run_name.clone(),
            p.kind.clone(),
            p.format.clone(),
            p.collection_date.clone().unwrap_or_default(),
            p.debit_date.clone().unwrap_or_default(),
            p.state.clone(),
            p.items.to_string(),
            p.total.clone(),
            p.approved.to_string(),
            p.failed.to_string(),
            p.refer.to_string(),
            p.live.to_string(),
            match (&p.file, &p.placed_at) {
                (Some(f), None) => format!("{f} (NOT IN PLACE: run collect again)"),
                (f, _) => f.clone().unwrap_or_default(),
            },
        ]);
    }
    output::print_table(ctx, &t)
}

/// `collect show ID`.
pub fn show(ctx: &Ctx, r: &ShowReport) -> anyhow::Result<()> {
    if ctx.json {
        return output::print_json(r);
    }
    let p = &r.run;
    crate::outln!(
        "{}",
        ctx.bold(&format!(
            "Payment run {} — {} {} for run {} '{}' — {}",
            p.id, p.kind, p.format, p.run, p.run_name, p.state
        ))
    );
    if let Some(d) = &p.collection_date {
        crate::outln!("date in the file {d}");
    }
    if let Some(d) = &p.debit_date {
        crate::outln!("customers debited on {d}");
    }
    if let Some(f) = &p.file {
        crate::outln!("file {f} (sha256 {})", p.sha256.as_deref().unwrap_or("-"));
    }
    crate::outln!(
        "{} items, total {} {}; approved {} ({}), failed {}, refer {}, live {}",
        p.items,
        p.total,
        p.currency,
        p.approved,
        p.approved_total,
        p.failed,
        p.refer,
        p.live
    );
    let mut t = ctx.table(&[
        "reference",
        "invoice",
        "account",
        "payee",
        "amount",
        "seq",
        "attempt",
        "state",
        "reason",
    ]);
    for i in &r.items_detail {
        let state = match i.state {
            "approved" => ctx.green(i.state),
            "live" => i.state.to_string(),
            _ => ctx.red(i.state),
        };
        t.add_row(vec![
            i.reference.clone(),
            i.invoice.clone(),
            i.account.clone(),
            i.payee.clone(),
            i.amount.clone(),
            i.sequence.clone().unwrap_or_default(),
            i.attempt.to_string(),
            state,
            i.reason.clone().unwrap_or_default(),
        ]);
    }
    output::print_table(ctx, &t)
}
