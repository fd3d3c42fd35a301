//! `billrun payments fetch` (`xero.mode = api`): the payments Xero recorded
//! against invoices since the last successful fetch.
//!
//! `GET /Payments?where=PaymentType=="ACCRECPAYMENT"&page=N` with
//! `If-Modified-Since` = the start of the last successful fetch less
//! `FETCH_OVERLAP_MINUTES` (none the first time), 100 per page. Each payment is recorded once, by Xero's
//! PaymentID, with:
//! - the account: the contact's number, else the account of the billrun
//!   invoice it paid;
//! - the reference: Xero's reference, else the invoice number (as the
//!   import of Xero's export does); a payment already imported from that
//!   export (same account, reference, date and amount) is linked to its
//!   Xero id instead of recorded again; a reference this account already
//!   used for another payment gets the Xero id appended;
//! - the method from the account it was paid into (`domain::payments::
//!   xero_method`), that account's name kept as Xero's type;
//! - the number of the invoice it paid in Xero.
//!
//! Payments of contacts that are not billrun customers are skipped and
//! listed; a payment deleted in Xero after it was recorded is listed for
//! the operator (nothing is reversed automatically). All new payments are
//! stored in one transaction with the fetch time, so a failed fetch
//! records nothing and the next one asks again.

use super::{Clock, Progress};
use crate::domain::money;
use crate::domain::payments::{NewPayment, xero_method};
use crate::domain::settings::Settings;
use crate::domain::xero_api::{self as api, Payment};
use crate::error::{Result, external, precondition};
use crate::gateway::xero::{Fault, Request, XeroClient};
use crate::store::audit::Actor;
use crate::store::{Store, payments as paystore, xero_api as st};
use serde::Serialize;
use std::collections::HashSet;

/// Xero's page size for `/Payments`.
const PAGE: usize = 100;

/// A payment not recorded, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub payment_id: String,
    pub invoice: Option<String>,
    pub amount: String,
    pub reason: String,
}

/// What a fetch did (the JSON of `billrun payments fetch`).
#[derive(Debug, Clone, Serialize)]
pub struct FetchReport {
    /// The `If-Modified-Since` sent (`null`: everything).
    pub since: Option<String>,
    pub fetched: usize,
    pub recorded: usize,
    /// Payments imported earlier from Xero's export, now linked to their id.
    pub linked: usize,
    pub already_recorded: usize,
    /// The sum recorded, two decimals.
    pub total: String,
    pub skipped: Vec<Skipped>,
    /// Recorded payments Xero now shows as deleted: reverse them by hand.
    pub deleted_in_xero: Vec<Skipped>,
    /// This fetch's time, the next fetch's `If-Modified-Since`.
    pub fetched_at: String,
}

fn fault(e: Fault) -> crate::error::Error {
    external(format!(
        "{e}; no payment of this fetch was recorded: run `billrun payments fetch` again"
    ))
}

/// Fetch and record Xero's payments.
pub fn fetch(
    store: &mut Store,
    actor: &Actor,
    settings: &Settings,
    client: &XeroClient,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<FetchReport> {
    if !settings.xero.api {
        return Err(precondition(
            "xero.mode is csv: import Xero's payments export with `billrun payments import FILE --format xero`, or set up the API (README \"Xero through its API\")",
        ));
    }
    let since = st::last_sync(&store.conn, "payments")?
        .as_deref()
        .and_then(api::modified_since);
    let started = clock.stamp();
    let mut all: Vec<Payment> = Vec::new();
    progress.start("fetching payments from Xero", None);
    for page in 1.. {
        let path = format!(
            "/Payments?where={}&page={page}",
            api::encode("PaymentType==\"ACCRECPAYMENT\"")
        );
        let a = client
            .send(&Request {
                if_modified_since: since.as_deref(),
                ..Request::get(&path)
            })
            .map_err(fault)?;
        if a.status == 304 {
            break;
        }
        if !a.ok() {
            return Err(external(format!(
                "Xero refused GET /Payments (HTTP {}: {})",
                a.status,
                api::error_message(&a.body)
            )));
        }
        let got = api::payments(&a.body).map_err(external)?;
        let n = got.len();
        all.extend(got);
        progress.inc(n as u64);
        if n < PAGE {
            break;
        }
    }
    let tx = store.write()?;
    let mut seen = st::recorded_payments(&tx)?;
    let known = paystore::known(&tx)?;
    let mut new: Vec<(NewPayment, String, Option<String>)> = Vec::new();
    let mut report = FetchReport {
        since: since.clone(),
        fetched: all.len(),
        recorded: 0,
        linked: 0,
        already_recorded: 0,
        total: String::new(),
        skipped: Vec::new(),
        deleted_in_xero: Vec::new(),
        fetched_at: started.clone(),
    };
    let mut refs: HashSet<(String, String)> = known.references.clone();
    progress.start("recording payments", Some(all.len() as u64));
    for p in all {
        progress.inc(1);
        let skipped = |reason: &str| Skipped {
            payment_id: p.id.clone(),
            invoice: p.invoice_number.clone(),
            amount: money::fmt(p.amount),
            reason: reason.to_string(),
        };
        if p.status != "AUTHORISED" {
            if seen.contains(&p.id) {
                report
                    .deleted_in_xero
                    .push(skipped("deleted in Xero after it was recorded: reverse it by hand if the money did not arrive"));
            }
            continue;
        }
        if seen.contains(&p.id) {
            report.already_recorded += 1;
            continue;
        }
        if p.payment_type != "ACCRECPAYMENT" {
            report
                .skipped
                .push(skipped("not a payment of a sales invoice"));
            continue;
        }
        let account = match p
            .contact_number
            .clone()
            .filter(|a| known.accounts.contains(a))
        {
            Some(a) => Some(a),
            None => match &p.invoice_number {
                Some(n) => st::invoice_account(&tx, n)?,
                None => None,
            },
        };
        let Some(account) = account else {
            report.skipped.push(skipped(
                "neither its contact nor its invoice is a billrun customer's",
            ));
            continue;
        };
        let Ok(amount_minor) = money::to_minor(p.amount) else {
            report.skipped.push(skipped("amount out of range"));
            continue;
        };
        if amount_minor <= 0 {
            report.skipped.push(skipped("not a positive amount"));
            continue;
        }
        let base = p
            .reference
            .clone()
            .or_else(|| p.invoice_number.clone())
            .unwrap_or_else(|| format!("Xero {}", p.id));
        // The same payment imported earlier from Xero's export: link it.
        if let Some(old) = st::payment_by_reference(&tx, &account, &base)?
            && old.source == "xero"
            && old.xero_payment_id.is_none()
            && old.date == p.date.to_string()
            && old.amount_minor == amount_minor
        {
            st::link_payment(&tx, old.id, &p.id, p.invoice_number.as_deref())?;
            seen.insert(p.id.clone());
            report.linked += 1;
            continue;
        }
        let reference = if refs.contains(&(account.clone(), base.clone())) {
            format!("{base} (Xero {})", p.id)
        } else {
            base
        };
        refs.insert((account.clone(), reference.clone()));
        let method = p
            .account
            .as_deref()
            .and_then(xero_method)
            .unwrap_or("xero")
            .to_string();
        seen.insert(p.id.clone());
        new.push((
            NewPayment {
                line: 0,
                account,
                date: p.date,
                amount_minor,
                method,
                reference,
                xero_type: p.account.clone(),
            },
            p.id.clone(),
            p.invoice_number.clone(),
        ));
    }
    let rows: Vec<NewPayment> = new.iter().map(|n| n.0.clone()).collect();
    let ids = paystore::insert(&tx, actor, &rows, "xero", None, &started)?;
    for (id, (_, xero_id, invoice)) in ids.iter().zip(&new) {
        st::link_payment(&tx, *id, xero_id, invoice.as_deref())?;
    }
    st::set_sync(&tx, "payments", &started)?;
    tx.commit()?;
    progress.finish();
    report.recorded = rows.len();
    report.total = money::fmt_minor(rows.iter().map(|p| p.amount_minor).sum());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::xero::fake_xero::{CLIENT_ID, CLIENT_SECRET, FakeXero, payment};
    use crate::ops::FixedClock;
    use crate::ops::progress_log::Log;
    use crate::store::email::seed;

    #[test]
    fn fetch_reports_payments_fetched_then_recorded() {
        let x = FakeXero::start();
        let mut s = Store::memory().unwrap();
        seed::run(&s);
        seed::invoice(&s, 1, "C1", "email", 1200);
        x.with(|st| {
            for (id, amount) in [("pay-1", "12.00"), ("pay-2", "3.00")] {
                st.payments.push(payment(
                    id,
                    "INV-1",
                    "C1",
                    amount,
                    1_796_428_800_000,
                    "2026-12-05T10:00:00Z",
                    "Business Bank Account",
                ));
            }
        });
        let (identity, api) = (x.base.clone(), x.api_base());
        let settings = Settings::from_stored(|k| match k {
            "xero.enabled" => Some("true".into()),
            "xero.mode" => Some("api".into()),
            "xero.identity_base" => Some(identity.clone()),
            "xero.api_base" => Some(api.clone()),
            _ => None,
        })
        .unwrap();
        let client = XeroClient::new(
            &identity,
            &api,
            CLIENT_ID.into(),
            CLIENT_SECRET.into(),
            std::time::Duration::from_secs(10),
        );
        let clock = FixedClock::on("2026-12-07".parse().unwrap());
        let log = Log::default();
        let r = fetch(&mut s, &Actor::test(), &settings, &client, &clock, &log).unwrap();
        assert_eq!((r.fetched, r.recorded), (2, 2), "{r:?}");
        let fetched = log.phase("fetching payments from Xero");
        assert_eq!((fetched.total, fetched.done), (None, 2));
        let recorded = log.phase("recording payments");
        assert_eq!((recorded.total, recorded.done), (Some(2), 2));
        log.check_complete();
    }
}
