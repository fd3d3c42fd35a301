//! The reports of `billrun collect …` as text or JSON.

use crate::cli::output::{self, Ctx};
use crate::domain::collect::IDEMPOTENCY_KEY_TRUSTED_HOURS;
use crate::domain::payfile::Unsuitable;
use crate::ops::collect::{
    ChargeReport, FileRunReport, NothingNew, Restored, ResultsReport, SyncReport,
};

fn unsuitable(ctx: &Ctx, unsuitable: &[Unsuitable]) {
    if !unsuitable.is_empty() {
        ctx.warn(&format!(
            "{} invoice(s) left out: bank details do not suit the format (fix them and run collect again):",
            unsuitable.len()
        ));
        for u in unsuitable {
            crate::errln!("  - {u}");
        }
    }
}

fn collected_less(ctx: &Ctx, less: &[crate::domain::invoice::CollectedLess]) {
    if !less.is_empty() {
        ctx.say(&format!(
            "{} invoice(s) collected for less than they stated: payments arrived after production",
            less.len()
        ));
        for l in less {
            ctx.say(&format!("  - {l}"));
        }
    }
}

/// Files of interrupted payment runs that are now in place.
fn restored(ctx: &Ctx, restored: &[Restored]) {
    for r in restored {
        let what = if r.was_there {
            "was in place; its record is finished"
        } else {
            "was not in place (an interrupted run); it is now, with the recorded bytes"
        };
        ctx.say(&format!(
            "payment run {}: its file {} {what} (SHA-256 {}); submit it if it was not submitted",
            r.payment_run,
            r.file.display(),
            r.sha256
        ));
    }
}

fn nothing_new(ctx: &Ctx, n: &NothingNew) -> anyhow::Result<()> {
    restored(ctx, &n.restored);
    ctx.say(&format!(
        "nothing new to collect by {} for run {}: every invoice with an amount due is in a payment run \
         (see `billrun collect list`; --retry-failed retries failed collections)",
        if n.kind == "dd" { "Direct Debit" } else { "card" },
        n.run
    ));
    if ctx.json {
        output::print_json(n)?;
    }
    Ok(())
}

/// `collect dd` and `collect card --out F`.
pub fn file_run(ctx: &Ctx, report: &FileRunReport) -> anyhow::Result<()> {
    let w = match report {
        FileRunReport::NothingNew(n) => return nothing_new(ctx, n),
        FileRunReport::Written(w) => w,
    };
    restored(ctx, &w.restored);
    unsuitable(ctx, &w.unsuitable);
    collected_less(ctx, &w.collected_less);
    if let (Some(from), Some(to)) = (w.moved_from, w.debit_date) {
        ctx.warn(&format!(
            "the submission deadline for debiting on {from} (the due date's working day) has \
             passed: moved to {to}, the earliest possible date; the invoices' advance notice \
             said {from}"
        ));
    }
    if let (Some(debit), Some(cal)) = (w.debit_date, w.calendar) {
        ctx.say(&format!("customers are debited on {debit} ({cal})"));
    }
    ctx.say(&format!(
        "payment run {}: {} {} file {} (mode 0600): {} invoice(s), total {}{}",
        w.payment_run,
        w.kind,
        w.format,
        w.file.display(),
        w.items,
        w.total,
        w.collection_date
            .map(|d| format!(", date in the file {d}"))
            .unwrap_or_default()
    ));
    ctx.say(&format!(
        "next: submit the file, then `billrun collect results RESULTS.csv`; `billrun collect show {}`",
        w.payment_run
    ));
    if ctx.json {
        output::print_json(report)?;
    }
    Ok(())
}

/// `collect card` through Stripe.
pub fn charges(ctx: &Ctx, r: &ChargeReport) -> anyhow::Result<()> {
    for it in &r.expired {
        ctx.warn(&format!(
            "{}: its charge of {} got no recorded answer and its idempotency key {} was first used at {}, \
             more than {} hours ago: Stripe may have forgotten the key, so it is not re-sent (that could \
             charge the card twice). Find the PaymentIntent with metadata reference {} in the Stripe \
             dashboard and record its outcome with `billrun collect results FILE` (reference,status,reason)",
            it.reference,
            it.amount,
            it.idempotency_key,
            it.created_at,
            IDEMPOTENCY_KEY_TRUSTED_HOURS,
            it.reference,
        ));
    }
    if r.resumed > 0 {
        ctx.say(&format!(
            "resuming {} charge(s) that got no recorded answer, with their original idempotency keys",
            r.resumed
        ));
    }
    unsuitable(ctx, &r.unsuitable);
    collected_less(ctx, &r.collected_less);
    if r.to_charge == 0 {
        return nothing_new(
            ctx,
            &NothingNew {
                payment_run: None,
                items: 0,
                restored: Vec::new(),
                run: r.run,
                kind: "card",
            },
        );
    }
    if let Some(pid) = r.payment_run {
        ctx.say(&format!(
            "payment run {pid}: charging {} card invoice(s) through {}",
            r.to_charge, r.api_base
        ));
    }
    if !ctx.json {
        for l in &r.charges {
            ctx.say(&format!(
                "  {} {} {} {} {}{}",
                l.reference,
                l.account,
                l.card,
                l.amount,
                l.state,
                l.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ));
        }
    }
    let (approved, failed) = (r.approved(), r.failed());
    ctx.say(&format!(
        "{approved} charged, {failed} failed (shown in `billrun status {}`), {} awaiting an answer",
        r.run,
        r.charges.len() - approved - failed
    ));
    if ctx.json {
        output::print_json(r)?;
    }
    Ok(())
}

/// `collect results F`.
pub fn results(ctx: &Ctx, r: &ResultsReport) -> anyhow::Result<()> {
    if let Some(when) = &r.already_imported {
        ctx.say(&format!(
            "{}: this {} report was read already on {when} (same SHA-256): nothing changed",
            r.file, r.format
        ));
        if ctx.json {
            output::print_json(r)?;
        }
        return Ok(());
    }
    if ctx.json {
        output::print_json(r)?;
    } else if !ctx.quiet {
        let mut t = ctx.table(&[
            "line",
            "reference",
            "account",
            "amount",
            "was",
            "now",
            "effect",
        ]);
        for x in &r.applied {
            t.add_row(vec![
                x.line.to_string(),
                x.reference.clone(),
                x.account.clone(),
                x.amount.clone(),
                x.from.to_string(),
                x.to.to_string(),
                x.effect.to_string(),
            ]);
        }
        output::print_table(ctx, &t)?;
        for m in &r.mandates {
            ctx.say(&format!(
                "line {}: {} mandate {}: {} from {} ({}){}",
                m.line,
                m.account,
                m.mandate_ref,
                m.to,
                m.on,
                m.reason,
                if m.from.as_deref() == Some(m.to) {
                    " - unchanged"
                } else {
                    ""
                }
            ));
        }
        for i in &r.info {
            ctx.say(&format!("{i}: nothing to change"));
        }
    }
    ctx.say(&format!(
        "{}: {} approved, {} declined, {} dishonoured, {} referred, {} unchanged",
        r.file,
        r.moved_to("approved"),
        r.moved_to("declined"),
        r.moved_to("dishonoured"),
        r.moved_to("refer"),
        r.unchanged()
    ));
    if !r.unknown.is_empty() {
        for u in &r.unknown {
            match &u.why {
                None => crate::errln!(
                    "error: {}:{}: reference '{}' is not in any payment run; nothing changed for it",
                    r.file,
                    u.line,
                    u.reference
                ),
                Some(why) => crate::errln!(
                    "error: {}:{}: '{}': {why}; nothing changed for it",
                    r.file,
                    u.line,
                    u.reference
                ),
            }
        }
        crate::errln!(
            "error: {} unknown reference(s); the other rows were applied (importing the file again is harmless)",
            r.unknown.len()
        );
    }
    Ok(())
}

/// `collect sync`.
pub fn sync(ctx: &Ctx, r: &SyncReport) -> anyhow::Result<()> {
    for s in &r.skipped {
        ctx.say(s);
    }
    if r.items.is_empty() && r.errors.is_empty() {
        ctx.say("nothing waits for a gateway's outcome");
    } else {
        ctx.say(&format!(
            "asked about {} item(s): {} changed, {} still waiting",
            r.items.len(),
            r.changed(),
            r.items.iter().filter(|i| i.state == "live").count()
        ));
    }
    if !ctx.json {
        for i in &r.items {
            ctx.say(&format!(
                "  {} {} {} {} {}{}",
                i.gateway,
                i.reference,
                i.amount,
                i.state,
                i.gateway_id.as_deref().unwrap_or(""),
                i.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ));
        }
    }
    for e in &r.errors {
        ctx.warn(&format!("not answered, nothing changed: {e}"));
    }
    if ctx.json {
        output::print_json(r)?;
    }
    Ok(())
}
