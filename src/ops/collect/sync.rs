//! `collect sync`: ask the gateways what became of collections they
//! accepted but had not finished, and record it exactly as the collecting
//! command would have (docs/collection.md, "collect sync").
//!
//! Stripe: every live card item that has a PaymentIntent id (Stripe
//! answered `processing` or `requires_capture`) is read with
//! `GET /v1/payment_intents/:id`; `succeeded`, a decline and
//! `requires_action` are recorded as `collect card` records them; an intent
//! still pending stays live. A lookup that fails (network, 5xx, unknown
//! id) changes nothing and is reported.
//!
//! GoCardless: the events created since the stored cursor (the newest
//! event recorded; `created_at[gte]`, then page by page with `after`),
//! oldest first. Payments: `confirmed`/`paid_out` → approved with a
//! payment; `failed`/`charged_back` → dishonoured (dishonour fee; a
//! charge-back of an approved item reverses its payment, as a late
//! return in a results file does); `cancelled` → failed. Mandates:
//! `cancelled`/`failed`/`expired` → the customer's mandate status and
//! date. Each event is recorded with the cursor in one transaction, so a
//! kill loses nothing and repeats nothing (an event seen twice changes
//! nothing the second time).

use super::card::apply;
use crate::domain::collect::{self as rules, ChargeOutcome, ChargeRecord};
use crate::domain::money;
use crate::domain::settings::Settings;
use crate::error::{Result, precondition};
use crate::gateway::stripe::StripeClient;
use crate::ops::{Clock, Progress};
use crate::store::{Store, audit::Actor, collect as store};
use serde::Serialize;
use std::time::Duration;

/// Secrets for `collect sync` (from the environment; never settings).
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// `STRIPE_API_KEY`.
    pub stripe_api_key: Option<String>,
    /// `GOCARDLESS_ACCESS_TOKEN`.
    pub gocardless_token: Option<String>,
}

/// One item whose outcome was asked for.
#[derive(Debug, Clone, Serialize)]
pub struct Synced {
    pub gateway: &'static str,
    pub reference: String,
    pub account: String,
    pub amount: String,
    /// The item's state after the sync (`live` when still pending).
    pub state: &'static str,
    pub reason: Option<String>,
    pub gateway_id: Option<String>,
    /// Whether this sync changed the item.
    pub changed: bool,
}

/// What `collect sync` did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SyncReport {
    /// Every item asked about, in order.
    pub items: Vec<Synced>,
    /// Lookups that failed (nothing changed for them): the reason, masked.
    pub errors: Vec<String>,
    /// Gateways skipped and why (e.g. no key set while nothing waits).
    pub skipped: Vec<String>,
    /// GoCardless events read (0 when GoCardless is not used).
    pub events: usize,
}

impl SyncReport {
    /// Items this sync changed.
    pub fn changed(&self) -> usize {
        self.items.iter().filter(|i| i.changed).count()
    }
}

/// Ask Stripe about pending card items (and GoCardless for its events)
/// and record the outcomes.
pub fn sync(
    store: &mut Store,
    actor: &Actor,
    opts: &SyncOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<SyncReport> {
    let mut report = SyncReport::default();
    sync_stripe(store, actor, opts, settings, clock, progress, &mut report)?;
    sync_gocardless(store, actor, opts, settings, progress, &mut report)?;
    Ok(report)
}

fn sync_stripe(
    store: &mut Store,
    actor: &Actor,
    opts: &SyncOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
    report: &mut SyncReport,
) -> Result<()> {
    let pending = store::pending_stripe_items(&store.conn)?;
    if pending.is_empty() {
        return Ok(());
    }
    let Some(key) = opts.stripe_api_key.clone().filter(|k| !k.trim().is_empty()) else {
        return Err(precondition(format!(
            "{} card charge(s) wait for Stripe's outcome but STRIPE_API_KEY is not set: export \
             your Stripe secret key and run `billrun collect sync` again; nothing was changed",
            pending.len()
        )));
    };
    let base = settings.stripe_api_base.clone();
    rules::check_api_base(&base).map_err(|e| {
        precondition(format!(
            "stripe.api_base {e}; nothing was asked: set it with `billrun config set stripe.api_base https://api.stripe.com`"
        ))
    })?;
    let client = StripeClient::new(&base, key, Duration::from_secs(30));
    let fee = money::to_minor(settings.collect.dishonour_fee).map_err(precondition)?;
    progress.start("asking Stripe", Some(pending.len() as u64));
    for item in pending {
        progress.inc(1);
        let id = item.gateway_id.clone().unwrap_or_default();
        let outcome = client.retrieve_payment_intent(&id);
        let final_outcome = matches!(
            outcome,
            ChargeOutcome::Succeeded { .. }
                | ChargeOutcome::Declined { .. }
                | ChargeOutcome::RequiresAction { .. }
        );
        if let ChargeOutcome::Failed { reason, .. } | ChargeOutcome::KeyRefused { reason } =
            &outcome
        {
            report.errors.push(format!(
                "{} ({id}): {}",
                item.reference,
                crate::domain::redact::secrets(reason)
            ));
        }
        let tx = store.write()?;
        // Re-read: a racing invocation may have recorded it already.
        let Some(cur) = store::item(&tx, item.id)? else {
            continue;
        };
        let mut changed = false;
        if final_outcome && cur.state == rules::ItemState::Live {
            let rec = rules::record_outcome(&outcome);
            if !matches!(rec, ChargeRecord::KeepLive { .. }) {
                apply(&tx, actor, &cur, &rec, fee, clock.today())?;
                changed = true;
            }
        }
        let after = store::item(&tx, item.id)?.unwrap_or(cur);
        tx.commit()?;
        report.items.push(Synced {
            gateway: "stripe",
            reference: after.reference.clone(),
            account: after.account.clone(),
            amount: money::fmt_minor(after.amount_minor),
            state: after.state.as_str(),
            reason: after.reason.clone(),
            gateway_id: after.gateway_id.clone(),
            changed,
        });
        if matches!(outcome, ChargeOutcome::KeyRefused { .. }) {
            break;
        }
    }
    progress.finish();
    Ok(())
}

fn sync_gocardless(
    store: &mut Store,
    actor: &Actor,
    opts: &SyncOptions,
    settings: &Settings,
    progress: &dyn Progress,
    report: &mut SyncReport,
) -> Result<()> {
    use rules::{Effect, ItemState, ResultStatus};
    let used =
        settings.dd_provider == "gocardless" || store::has_format(&store.conn, "gocardless")?;
    if !used {
        return Ok(());
    }
    let Some(token) = opts
        .gocardless_token
        .clone()
        .filter(|k| !k.trim().is_empty())
    else {
        return Err(precondition(
            "GOCARDLESS_ACCESS_TOKEN is not set (dd.provider is gocardless or GoCardless payments \
             exist): export your GoCardless access token and run `billrun collect sync` again; \
             nothing was changed",
        ));
    };
    let client = super::gocardless::client(settings, token)?;
    let since = store::cursor(&store.conn, "gocardless")?;
    progress.start("asking GoCardless for events", None);
    let events = client.events_since(since.as_deref());
    progress.finish();
    let events = match events {
        Ok(e) => e,
        Err(reason) => {
            report.errors.push(format!("GoCardless events: {reason}"));
            return Ok(());
        }
    };
    let fee = money::to_minor(settings.collect.dishonour_fee).map_err(precondition)?;
    report.events += events.len();
    progress.start("recording GoCardless events", Some(events.len() as u64));
    for ev in events {
        progress.inc(1);
        let date = ev
            .created_at
            .get(..10)
            .and_then(|d| d.parse::<chrono::NaiveDate>().ok());
        let tx = store.write()?;
        match (ev.resource_type.as_str(), date) {
            ("payments", Some(date)) => {
                let Some(pm) = ev.links.get("payment") else {
                    store::set_cursor(&tx, "gocardless", &ev.created_at, &actor.stamp())?;
                    tx.commit()?;
                    continue;
                };
                let status = match ev.action.as_str() {
                    "confirmed" | "paid_out" => Some(ResultStatus::Approved),
                    "failed" | "charged_back" => Some(ResultStatus::Dishonoured),
                    _ => None,
                };
                if let Some(item) = store::item_by_gateway_id(&tx, "gocardless", pm)? {
                    let reason = gc_reason(&ev);
                    let before = item.state;
                    if ev.action == "cancelled" && item.state == ItemState::Live {
                        store::fail(
                            &tx,
                            actor,
                            &item,
                            &store::Failure {
                                state: ItemState::Failed,
                                reason: Some(&reason),
                                gateway_id: None,
                                date,
                                fee_minor: 0,
                            },
                        )?;
                    } else if let Some(st) = status {
                        match rules::effect(item.state, st) {
                            Ok(Effect::Approve) => {
                                store::approve(&tx, actor, &item, date, None, Some(&reason))?;
                            }
                            Ok(Effect::Fail { .. }) => store::fail(
                                &tx,
                                actor,
                                &item,
                                &store::Failure {
                                    state: st.state(),
                                    reason: Some(&reason),
                                    gateway_id: None,
                                    date,
                                    fee_minor: rules::dishonour_fee(st.state(), fee),
                                },
                            )?,
                            // Unchanged, or a step back (paid_out after
                            // a charge-back is recorded): nothing.
                            _ => {}
                        }
                    }
                    let after = store::item(&tx, item.id)?.unwrap_or(item);
                    report.items.push(Synced {
                        gateway: "gocardless",
                        reference: after.reference.clone(),
                        account: after.account.clone(),
                        amount: money::fmt_minor(after.amount_minor),
                        state: after.state.as_str(),
                        reason: after.reason.clone(),
                        gateway_id: after.gateway_id.clone(),
                        changed: after.state != before,
                    });
                }
            }
            ("mandates", Some(date))
                if matches!(ev.action.as_str(), "cancelled" | "failed" | "expired") =>
            {
                if let Some(md) = ev.links.get("mandate") {
                    store::set_gocardless_mandate_status(&tx, actor, md, &ev.action, date)?;
                }
            }
            _ => {}
        }
        store::set_cursor(&tx, "gocardless", &ev.created_at, &actor.stamp())?;
        tx.commit()?;
    }
    progress.finish();
    Ok(())
}

/// An event's reason for the item: its action, cause and description
/// (masked), e.g. `GoCardless failed (insufficient_funds): The customer's
/// account had insufficient funds`.
fn gc_reason(ev: &crate::gateway::gocardless::Event) -> String {
    let mut r = format!("GoCardless {}", ev.action);
    if let Some(c) = &ev.details.cause {
        r.push_str(&format!(" ({c})"));
    }
    if let Some(d) = &ev.details.description {
        r.push_str(&format!(": {d}"));
    }
    crate::domain::redact::secrets(&r)
}
