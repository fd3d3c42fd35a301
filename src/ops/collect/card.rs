//! Card charges through Stripe (`collect card RUN`).

use super::produced_run;
use crate::domain::collect::{self as rules, ChargeOutcome, ChargeRecord, ItemState, Kind};
use crate::domain::money;
use crate::domain::payfile::Unsuitable;
use crate::domain::settings::Settings;
use crate::error::{Result, precondition};
use crate::gateway::stripe::{ChargeRequest, StripeClient};
use crate::ops::{Clock, Progress};
use crate::store::{Store, audit::Actor, collect as store};
use chrono::NaiveDate;
use rusqlite::Connection;
use serde::Serialize;
use std::time::Duration;

/// `collect card RUN` (without `--out`).
#[derive(Debug, Clone)]
pub struct ChargeOptions {
    /// Run id or name; its invoices must be produced.
    pub run: String,
    /// Also retry declined and failed charges.
    pub retry_failed: bool,
    /// The Stripe secret key (`STRIPE_API_KEY`; never a setting).
    pub api_key: Option<String>,
}

/// One charge's line for the report.
#[derive(Debug, Clone, Serialize)]
pub struct Charged {
    pub reference: String,
    pub account: String,
    /// The card, masked.
    pub card: String,
    pub amount: String,
    pub state: &'static str,
    pub reason: Option<String>,
    pub gateway_id: Option<String>,
}

/// A charge that got no recorded answer and whose idempotency key is too
/// old to re-send safely: the operator must find its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Expired {
    pub reference: String,
    pub amount: String,
    pub idempotency_key: String,
    /// When the key was first used (RFC 3339).
    pub created_at: String,
}

/// What `collect card RUN` did. The JSON is `payment_run`, `charges` and
/// `unsuitable`.
#[derive(Debug, Clone, Serialize)]
pub struct ChargeReport {
    /// The payment run created for new charges, if any.
    pub payment_run: Option<i64>,
    /// Every charge sent (resumed ones first), in order.
    pub charges: Vec<Charged>,
    /// Invoices left out (no card token).
    pub unsuitable: Vec<Unsuitable>,
    /// Invoices charged less than they stated (payments since production).
    pub collected_less: Vec<crate::domain::invoice::CollectedLess>,
    /// The billing run.
    #[serde(skip)]
    pub run: i64,
    /// `stripe.api_base`.
    #[serde(skip)]
    pub api_base: String,
    /// Unanswered charges left to the operator (not re-sent).
    #[serde(skip)]
    pub expired: Vec<Expired>,
    /// Unanswered charges re-sent with their original keys.
    #[serde(skip)]
    pub resumed: usize,
    /// Charges to send: resumed and new. 0 when there was nothing new.
    #[serde(skip)]
    pub to_charge: usize,
    /// Charges that got no answer this time (a re-run retries them).
    #[serde(skip)]
    pub unanswered: u32,
    /// Stripe refused the API key (HTTP 401/403; the reason, masked): the
    /// batch stopped there, and the charges not made stay live for a
    /// re-run with the right key.
    pub key_refused: Option<String>,
}

impl ChargeReport {
    /// Charges approved.
    pub fn approved(&self) -> usize {
        self.charges
            .iter()
            .filter(|l| l.state == ItemState::Approved.as_str())
            .count()
    }
    /// Charges left live without a gateway answer: not reached (after a
    /// refused key) or unanswered. A re-run sends them with their keys.
    pub fn waiting(&self) -> usize {
        self.to_charge.saturating_sub(self.charges.len())
            + self
                .charges
                .iter()
                .filter(|l| l.state == ItemState::Live.as_str() && l.gateway_id.is_none())
                .count()
    }
    /// Charges declined or failed.
    pub fn failed(&self) -> usize {
        self.charges
            .iter()
            .filter(|l| matches!(l.state, "declined" | "failed"))
            .count()
    }
}

/// Charge a produced run's card invoices through Stripe. The item, with
/// its idempotency key, is committed before each request; the outcome is
/// recorded after it in a transaction of its own. Items that got no answer
/// (a crash, a network failure) are re-sent with their recorded key first:
/// Stripe replays the first result, so nothing is charged twice; those
/// whose key Stripe may have forgotten are left to the operator
/// ([`ChargeReport::expired`]).
pub fn charge(
    store: &mut Store,
    actor: &Actor,
    opts: &ChargeOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<ChargeReport> {
    let run = produced_run(store, &opts.run)?;
    let key = opts
        .api_key
        .clone()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            precondition(
                "STRIPE_API_KEY is not set: export your Stripe secret key (it is never stored as a setting), \
                 or write a gateway batch file with `billrun collect card RUN --out FILE`",
            )
        })?;
    let base = settings.stripe_api_base.clone();
    // Also checked by `config set`; a value stored before that check (or
    // by hand) must not carry the key unencrypted either.
    rules::check_api_base(&base).map_err(|e| {
        precondition(format!(
            "stripe.api_base {e}; nothing was charged: set it with `billrun config set stripe.api_base https://api.stripe.com`"
        ))
    })?;
    let client = StripeClient::new(&base, key, Duration::from_secs(30));

    // Charges that got no recorded answer are re-sent with their key, but
    // only while Stripe surely remembers it; older ones need the operator.
    let now = clock.now();
    let (mut todo, expired): (Vec<_>, Vec<_>) =
        store::unanswered_gateway_items(&store.conn, run.id)?
            .into_iter()
            .partition(|it| {
                chrono::DateTime::parse_from_rfc3339(&it.created_at)
                    .is_ok_and(|t| rules::may_resend(t.to_utc(), now))
            });
    let mut report = ChargeReport {
        payment_run: None,
        charges: Vec::new(),
        unsuitable: Vec::new(),
        collected_less: Vec::new(),
        run: run.id,
        api_base: base,
        expired: expired
            .into_iter()
            .map(|it| Expired {
                reference: it.reference,
                amount: money::fmt_minor(it.amount_minor),
                idempotency_key: it.idempotency_key.unwrap_or_default(),
                created_at: it.created_at,
            })
            .collect(),
        resumed: todo.len(),
        to_charge: 0,
        unanswered: 0,
        key_refused: None,
    };
    {
        let tx = store.write()?;
        let wanted = store::Wanted {
            run_id: run.id,
            kind: Kind::Card,
            format: None,
            max_retries: settings.collect.max_retries,
            retry_failed: opts.retry_failed,
        };
        let cands = store::candidates(&tx, &wanted)?;
        let prefix = store::idempotency_prefix(&tx)?;
        let (items, unsuitable) = rules::card_items(&cands, &prefix);
        report.unsuitable = unsuitable;
        if !items.is_empty() {
            let nr = store::NewRun {
                run_id: run.id,
                kind: Kind::Card,
                format: "stripe".into(),
                collection_date: None,
                currency: settings.currency.clone(),
                file: None,
                sha256: None,
                contents: None,
            };
            let pid = store::create(&tx, actor, &nr, &items)?;
            report.collected_less = crate::store::invoices::collected_less(
                &tx,
                items.iter().map(|i| (i.invoice_id, i.amount_minor)),
            )?;
            tx.commit()?;
            report.payment_run = Some(pid);
            todo.extend(store::items(&store.conn, pid)?);
        }
    }
    report.to_charge = todo.len();
    if todo.is_empty() {
        return Ok(report);
    }
    let fee = money::to_minor(settings.collect.dishonour_fee).map_err(precondition)?;
    progress.start("charging cards", Some(todo.len() as u64));
    for item in &todo {
        let req = ChargeRequest {
            amount_minor: item.amount_minor,
            currency: item.currency.to_ascii_lowercase(),
            payment_method: item.card_token.clone().unwrap_or_default(),
            customer: item.stripe_customer.clone(),
            description: format!("Invoice {}", item.invoice),
            idempotency_key: item.idempotency_key.clone().unwrap_or_default(),
            metadata: vec![
                ("invoice".into(), item.invoice.clone()),
                ("account".into(), item.account.clone()),
                ("reference".into(), item.reference.clone()),
            ],
        };
        let outcome = client.create_payment_intent(&req);
        let tx = store.write()?;
        // Re-read: a racing invocation may have recorded it already.
        let Some(cur) = store::item(&tx, item.id)? else {
            progress.inc(1);
            continue;
        };
        let (state, reason, gateway_id) =
            if cur.state != ItemState::Live || cur.gateway_id.is_some() {
                (
                    cur.state.as_str(),
                    cur.reason.clone(),
                    cur.gateway_id.clone(),
                )
            } else {
                let rec = rules::record_outcome(&outcome);
                apply(&tx, actor, &cur, &rec, fee, clock.today())?;
                if matches!(
                    rec,
                    ChargeRecord::KeepLive {
                        unanswered: true,
                        ..
                    }
                ) {
                    report.unanswered += 1;
                }
                (
                    rec.state().as_str(),
                    rec.reason().map(String::from),
                    rec.gateway_id().map(String::from),
                )
            };
        tx.commit()?;
        report.charges.push(Charged {
            reference: cur.reference.clone(),
            account: cur.account.clone(),
            card: cur.payee.clone(),
            amount: money::fmt_minor(cur.amount_minor),
            state,
            reason,
            gateway_id,
        });
        progress.inc(1);
        if let ChargeOutcome::KeyRefused { reason } = &outcome {
            // No charge with this key can succeed: stop, leaving the rest
            // live (unsent) for a re-run with the right key.
            report.key_refused = Some(reason.clone());
            break;
        }
    }
    progress.finish();
    Ok(report)
}

/// Record what a gateway outcome does to a live item.
pub(super) fn apply(
    conn: &Connection,
    actor: &Actor,
    item: &store::Item,
    rec: &ChargeRecord,
    fee_minor: i64,
    today: NaiveDate,
) -> Result<()> {
    match rec {
        ChargeRecord::Approve { gateway_id } => {
            store::approve(conn, actor, item, today, Some(gateway_id), None)?;
        }
        ChargeRecord::Fail {
            state,
            reason,
            gateway_id,
        } => store::fail(
            conn,
            actor,
            item,
            &store::Failure {
                state: *state,
                reason: Some(reason),
                gateway_id: gateway_id.as_deref(),
                date: today,
                fee_minor: rules::dishonour_fee(*state, fee_minor),
            },
        )?,
        ChargeRecord::KeepLive {
            reason, gateway_id, ..
        } => store::note_live(conn, actor, item, reason, gateway_id.as_deref())?,
    }
    Ok(())
}
