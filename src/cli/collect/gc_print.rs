//! `collect dd` through GoCardless: the report as text or JSON.

use crate::cli::output::{self, Ctx};
use crate::domain::collect::IDEMPOTENCY_KEY_TRUSTED_HOURS;
use crate::ops::collect::GcReport;

pub fn gocardless(ctx: &Ctx, r: &GcReport) -> anyhow::Result<()> {
    for it in &r.expired {
        ctx.warn(&format!(
            "{}: its GoCardless payment of {} got no recorded answer and its idempotency key {} was \
             first used at {}, more than {} hours ago: it is not re-sent. Find the payment with \
             metadata reference {} in the GoCardless dashboard and record its outcome with \
             `billrun collect results FILE`",
            it.reference,
            it.amount,
            it.idempotency_key,
            it.created_at,
            IDEMPOTENCY_KEY_TRUSTED_HOURS,
            it.reference
        ));
    }
    if !r.unsuitable.is_empty() {
        ctx.warn(&format!(
            "{} invoice(s) left out (fix the customer and run collect again):",
            r.unsuitable.len()
        ));
        for u in &r.unsuitable {
            crate::errln!("  - {u}");
        }
    }
    for l in &r.collected_less {
        ctx.say(&format!("  - {l}"));
    }
    match (r.payment_run, r.charge_date) {
        (Some(pid), Some(d)) => ctx.say(&format!(
            "payment run {pid}: GoCardless payments for run {}, charge date {d}",
            r.run
        )),
        _ if r.payments.is_empty() => ctx.say(&format!(
            "nothing new to collect by Direct Debit for run {}",
            r.run
        )),
        _ => {}
    }
    if !ctx.json {
        for p in &r.payments {
            ctx.say(&format!(
                "  {} {} {} {} {}{}",
                p.reference,
                p.mandate,
                p.amount,
                p.state,
                p.gateway_id.as_deref().unwrap_or("-"),
                p.reason
                    .as_deref()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default()
            ));
        }
    }
    if !r.payments.is_empty() {
        ctx.say("next: `billrun collect sync` records what GoCardless reports");
    }
    if ctx.json {
        output::print_json(r)?;
    }
    Ok(())
}
