//! Direct Debit through GoCardless (`collect dd RUN` with `dd.provider
//! gocardless`; docs/collection.md).
//!
//! One payment per invoice. Each item is committed with its idempotency
//! key (and the payment run with its charge date) BEFORE its request; the
//! answer is recorded after it in a transaction of its own. Items left
//! without an answer (a kill, a network failure) are re-sent first with
//! their key: GoCardless answers 409 `idempotent_creation_conflict` with
//! the existing payment, which is read and recorded — never a second
//! payment. The outcome of each payment arrives later, through `collect
//! sync` (GoCardless events).

use super::card::Expired;
use super::produced_run;
use crate::domain::collect::{self as rules, ItemState, Kind, NewItem};
use crate::domain::invoice::CollectedLess;
use crate::domain::money;
use crate::domain::payfile::Unsuitable;
use crate::domain::settings::Settings;
use crate::error::{Result, precondition};
use crate::gateway::gocardless::{GoCardlessClient, PaymentOutcome, PaymentRequest};
use crate::ops::{Clock, Progress};
use crate::store::{Store, audit::Actor, collect as store};
use chrono::NaiveDate;
use serde::Serialize;
use std::time::Duration;

/// `collect dd RUN` through GoCardless.
#[derive(Debug, Clone)]
pub struct GcOptions {
    pub run: String,
    /// The debit date (default: the invoices' latest due date, or today).
    pub date: Option<NaiveDate>,
    pub retry_failed: bool,
    /// `GOCARDLESS_ACCESS_TOKEN` (never a setting).
    pub token: Option<String>,
}

/// One payment's line.
#[derive(Debug, Clone, Serialize)]
pub struct Submitted {
    pub reference: String,
    pub account: String,
    pub mandate: String,
    pub amount: String,
    pub state: &'static str,
    pub reason: Option<String>,
    /// The GoCardless payment (`PM…`), once it answered.
    pub gateway_id: Option<String>,
}

/// What `collect dd RUN` did through GoCardless.
#[derive(Debug, Clone, Serialize)]
pub struct GcReport {
    /// The payment run created for new payments, if any.
    pub payment_run: Option<i64>,
    /// The charge date asked for the new payments.
    pub charge_date: Option<NaiveDate>,
    /// Every payment sent (resumed ones first).
    pub payments: Vec<Submitted>,
    /// Invoices left out (no GoCardless mandate).
    pub unsuitable: Vec<Unsuitable>,
    pub collected_less: Vec<CollectedLess>,
    /// Payments that got no answer this time (a re-run resends them).
    pub unanswered: usize,
    /// Unanswered payments whose key is too old to re-send safely.
    pub expired: Vec<Expired>,
    /// GoCardless refused the token (HTTP 401/403): the batch stopped.
    pub token_refused: Option<String>,
    #[serde(skip)]
    pub run: i64,
}

/// Create the GoCardless payments of a produced run's Direct Debit invoices.
pub fn gocardless_dd(
    store: &mut Store,
    actor: &Actor,
    opts: &GcOptions,
    settings: &Settings,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<GcReport> {
    let run = produced_run(store, &opts.run)?;
    let token = opts
        .token
        .clone()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            precondition(
                "GOCARDLESS_ACCESS_TOKEN is not set (dd.provider is gocardless): export your GoCardless \
                 access token (it is never stored as a setting); nothing was collected",
            )
        })?;
    let client = client(settings, token)?;
    let now = clock.now();
    let (mut todo, expired): (Vec<_>, Vec<_>) =
        store::unanswered_gocardless_items(&store.conn, run.id)?
            .into_iter()
            .partition(|it| {
                chrono::DateTime::parse_from_rfc3339(&it.created_at)
                    .is_ok_and(|t| rules::may_resend(t.to_utc(), now))
            });
    let mut report = GcReport {
        payment_run: None,
        charge_date: None,
        payments: Vec::new(),
        unsuitable: Vec::new(),
        collected_less: Vec::new(),
        unanswered: 0,
        expired: expired
            .into_iter()
            .map(|it| Expired {
                reference: it.reference,
                amount: money::fmt_minor(it.amount_minor),
                idempotency_key: it.idempotency_key.unwrap_or_default(),
                created_at: it.created_at,
            })
            .collect(),
        token_refused: None,
        run: run.id,
    };
    {
        let tx = store.write()?;
        let wanted = store::Wanted {
            run_id: run.id,
            kind: Kind::Dd,
            format: None,
            max_retries: settings.collect.max_retries,
            retry_failed: opts.retry_failed,
        };
        let cands = store::candidates(&tx, &wanted)?;
        let prefix = store::idempotency_prefix(&tx)?;
        let mut items = Vec::new();
        for c in &cands {
            let Some(mandate) = c
                .gocardless_mandate
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
            else {
                report.unsuitable.push(Unsuitable {
                    reference: c.number.clone(),
                    reason: "no GoCardless mandate (gocardless_mandate)".into(),
                });
                continue;
            };
            // A mandate GoCardless reported cancelled, failed or expired
            // cannot be collected: left out, never sent.
            if let Some(st) = store::mandate_status(&tx, &c.account)?
                .0
                .filter(|s| matches!(s.as_str(), "cancelled" | "failed" | "expired"))
            {
                report.unsuitable.push(Unsuitable {
                    reference: c.number.clone(),
                    reason: format!("mandate {mandate} is {st}: set up a new mandate"),
                });
                continue;
            }
            items.push(NewItem {
                invoice_id: c.invoice_id,
                account: c.account.clone(),
                reference: rules::item_reference(&c.number, c.attempt),
                amount_minor: c.outstanding_minor,
                sequence: None,
                mandate_ref: Some(mandate.to_owned()),
                attempt: c.attempt,
                idempotency_key: Some(rules::idempotency_key(&prefix, &c.number, c.attempt)),
                payee_masked: mandate.to_owned(),
                card_token: None,
                stripe_customer: None,
            });
        }
        if !items.is_empty() {
            // The same date rule as a Bacs file: GoCardless's `charge_date`
            // is the day the customer is debited, a Bacs working day no
            // earlier than the submission deadline allows.
            let today = clock.today();
            let due = rules::collection_date(None, cands.iter().map(|c| c.due_date), today);
            let cal = super::dd_calendar(settings, rules::DdFormat::Bacs18)?;
            let date = super::debit_dates(&cal, opts.date, due, today)?.debit_date;
            let nr = store::NewRun {
                run_id: run.id,
                kind: Kind::Dd,
                format: "gocardless".into(),
                collection_date: Some(date),
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
            report.charge_date = Some(date);
            todo.extend(store::items(&store.conn, pid)?);
        }
    }
    if todo.is_empty() {
        return Ok(report);
    }
    progress.start("creating GoCardless payments", Some(todo.len() as u64));
    for item in &todo {
        progress.inc(1);
        let date = store::get(&store.conn, item.payment_run_id)?
            .and_then(|p| p.collection_date)
            .unwrap_or_else(|| clock.today().to_string());
        let req = PaymentRequest {
            amount_minor: item.amount_minor,
            currency: item.currency.to_ascii_uppercase(),
            charge_date: date,
            mandate: item.mandate_ref.clone().unwrap_or_default(),
            reference: rules::gocardless_reference(&item.reference),
            metadata: vec![
                ("invoice".into(), item.invoice.clone()),
                ("account".into(), item.account.clone()),
                ("reference".into(), item.reference.clone()),
            ],
            idempotency_key: item.idempotency_key.clone().unwrap_or_default(),
        };
        let outcome = client.create_payment(&req);
        test_hook_stop_after_request();
        let tx = store.write()?;
        let Some(cur) = store::item(&tx, item.id)? else {
            continue;
        };
        if cur.state == ItemState::Live && cur.gateway_id.is_none() {
            match &outcome {
                PaymentOutcome::Created { id, status } => store::note_live(
                    &tx,
                    actor,
                    &cur,
                    &format!(
                        "GoCardless payment {status}; `billrun collect sync` records its outcome"
                    ),
                    Some(id),
                )?,
                PaymentOutcome::Refused { reason } => store::fail(
                    &tx,
                    actor,
                    &cur,
                    &store::Failure {
                        state: ItemState::Failed,
                        reason: Some(reason),
                        gateway_id: None,
                        date: clock.today(),
                        fee_minor: 0,
                    },
                )?,
                PaymentOutcome::Unanswered { reason } => {
                    report.unanswered += 1;
                    store::note_live(&tx, actor, &cur, &format!("no answer: {reason}"), None)?
                }
                PaymentOutcome::TokenRefused { reason } => store::note_live(
                    &tx,
                    actor,
                    &cur,
                    &format!(
                        "not sent: {reason}; fix GOCARDLESS_ACCESS_TOKEN and run `billrun collect dd` again"
                    ),
                    None,
                )?,
            }
        }
        let after = store::item(&tx, item.id)?.unwrap_or(cur);
        tx.commit()?;
        report.payments.push(Submitted {
            reference: after.reference.clone(),
            account: after.account.clone(),
            mandate: after.mandate_ref.clone().unwrap_or_default(),
            amount: money::fmt_minor(after.amount_minor),
            state: after.state.as_str(),
            reason: after.reason.clone(),
            gateway_id: after.gateway_id.clone(),
        });
        if let PaymentOutcome::TokenRefused { reason } = outcome {
            report.token_refused = Some(reason);
            break;
        }
    }
    progress.finish();
    Ok(report)
}

/// The client for `gocardless.api_base`, checked like `stripe.api_base`
/// (HTTPS only, except to this machine).
pub(super) fn client(settings: &Settings, token: String) -> Result<GoCardlessClient> {
    let base = settings.gocardless_api_base.clone();
    rules::check_api_base(&base).map_err(|e| {
        precondition(format!(
            "gocardless.api_base {e}; nothing was sent: set it with `billrun config set gocardless.api_base https://api.gocardless.com`"
        ))
    })?;
    let client = GoCardlessClient::new(&base, token, Duration::from_secs(30));
    Ok(match std::env::var("BILLRUN_TEST_GC_MAX_WAIT_MS") {
        #[cfg(debug_assertions)]
        Ok(ms) => client.with_max_wait(Duration::from_millis(ms.parse().unwrap_or(1000))),
        _ => client,
    })
}

/// Debug builds only: `BILLRUN_TEST_STOP_AFTER_REQUEST=1` ends the process
/// right after GoCardless answered a payment, before the answer is
/// recorded, as a kill there would.
#[allow(clippy::exit, reason = "simulates a kill; debug builds only")]
fn test_hook_stop_after_request() {
    #[cfg(debug_assertions)]
    if std::env::var_os("BILLRUN_TEST_STOP_AFTER_REQUEST").is_some_and(|v| v == "1") {
        std::process::exit(137);
    }
}
