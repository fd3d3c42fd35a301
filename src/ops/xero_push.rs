//! `billrun xero push RUN` (`xero.mode = api`): a completed run's customers
//! and invoices into Xero through its API.
//!
//! Order of work:
//! 1. Xero's tax rates, to turn `xero.tax_type` / `xero.exempt_tax_type`
//!    (names as Xero lists them, or codes) into codes;
//! 2. contacts first: customers never sent, or changed since, are looked
//!    up by `ContactNumber` (= account), else by name among contacts
//!    without a number (made by uploading the CSV file), and created or
//!    updated (an adopted contact gets its number);
//! 3. every invoice Xero has not confirmed is looked up by number first (a
//!    document sent before a crash, or uploaded from an export, is then
//!    only recorded); the rest go in batches of [`BATCH`]: for each, a new
//!    `Idempotency-Key` is committed durably (`synchronous=FULL`) with the
//!    batch's invoices *before* the request, and Xero's answer is recorded
//!    after it. A crash in between leaves the key; the next push finds the
//!    invoices by number and never creates them twice.
//!
//! Per-item validation errors are kept and listed with the invoice number;
//! the rest go through. Xero's daily limit stops the push (exit 5) with
//! everything done so far recorded: the next push carries on.
//!
//! 4. credit notes (those crediting the run's invoices, and those its
//!    invoices brought forward) the same way through `/CreditNotes` as
//!    `ACCRECCREDIT` (positive amounts, their own numbers, ids and keys);
//! 5. a credit note an invoice brought forward is allocated to that
//!    invoice in Xero (`PUT /CreditNotes/{id}/Allocations`) once both are
//!    there: the allocation's key is committed before the request; when a
//!    key is found (a request that may have reached Xero), Xero's
//!    allocations of the credit note are read first and a found one is
//!    only recorded. A refused allocation is listed and the push goes on.

use super::{Clock, Progress};
use crate::domain::lifecycle::RunStatus;
use crate::domain::settings::Settings;
use crate::domain::xero::{self, Invoice};
use crate::domain::xero_api::{self as api, ApiCodes, BATCH, DocKind, LOOKUP_BATCH};
use crate::error::{Error, Result, external, precondition};
use crate::gateway::xero::{Answer, Fault, Request, XeroClient};
use crate::store::audit::{self, Actor};
use crate::store::{Store, runs, xero_api as st};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// An invoice (or customer) Xero refused, with Xero's message.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub number: String,
    pub account: String,
    pub message: String,
}

/// What one push did (the JSON of `billrun xero push`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct PushReport {
    pub run: i64,
    pub contacts_created: usize,
    pub contacts_updated: usize,
    /// Invoices Xero created now.
    pub invoices_sent: usize,
    /// Invoices found in Xero by number (sent before a crash, or uploaded
    /// from an export) and recorded.
    pub invoices_found: usize,
    /// Invoices Xero had confirmed before this push.
    pub already_in_xero: usize,
    pub refused: Vec<Refused>,
    /// Zero and negative invoices (Xero refuses them).
    pub excluded: Vec<Refused>,
    /// Invoices whose total in Xero differs from billrun's (tax rounding).
    pub total_differs: Vec<Refused>,
    /// Credit notes Xero created now, found in Xero by number, and
    /// confirmed before this push.
    pub credit_notes_sent: usize,
    pub credit_notes_found: usize,
    pub credit_notes_already_in_xero: usize,
    /// Credit notes allocated now to the invoice that brought them forward
    /// (`CREDIT-NOTE -> INVOICE`).
    pub allocated: Vec<String>,
    /// API calls made.
    pub calls: u64,
    #[serde(skip)]
    pub run_name: String,
}

impl PushReport {
    /// The counters of `kind`'s documents: (sent now, found in Xero,
    /// confirmed before this push).
    fn counts(&mut self, kind: DocKind) -> (&mut usize, &mut usize, &mut usize) {
        if kind == DocKind::CREDIT_NOTE {
            (
                &mut self.credit_notes_sent,
                &mut self.credit_notes_found,
                &mut self.credit_notes_already_in_xero,
            )
        } else {
            (
                &mut self.invoices_sent,
                &mut self.invoices_found,
                &mut self.already_in_xero,
            )
        }
    }

    /// What this push did so far, for a message that stops it.
    fn so_far(&self) -> String {
        let mut s = format!(
            "this push: {} contacts created, {} updated, {} invoices sent, {} found in Xero",
            self.contacts_created, self.contacts_updated, self.invoices_sent, self.invoices_found
        );
        if self.credit_notes_sent + self.credit_notes_found + self.allocated.len() > 0 {
            s.push_str(&format!(
                ", {} credit notes sent, {} found, {} allocated",
                self.credit_notes_sent,
                self.credit_notes_found,
                self.allocated.len()
            ));
        }
        s
    }
}

/// GET `path`; a refusal is an error naming `what` Xero refused.
fn get_ok(client: &XeroClient, path: &str, what: &str, report: &PushReport) -> Result<Answer> {
    let a = client
        .send(&Request::get(path))
        .map_err(|e| fault(e, &report.so_far()))?;
    if !a.ok() {
        return Err(external(format!(
            "Xero refused {what} (HTTP {}: {})",
            a.status,
            api::error_message(&a.body)
        )));
    }
    Ok(a)
}

/// The account code and tax types to send, the tax types resolved
/// against Xero's tax rates (one request per push, made when first needed).
fn api_codes(client: &XeroClient, settings: &Settings, report: &PushReport) -> Result<ApiCodes> {
    let answer = get_ok(client, "/TaxRates", "GET /TaxRates", report)?;
    let rates = api::tax_rates(&answer.body).map_err(external)?;
    Ok(ApiCodes {
        account_code: settings.xero.account_code.clone(),
        tax_type: api::resolve_tax_type("xero.tax_type", &settings.xero.tax_type, &rates)
            .map_err(precondition)?,
        exempt_tax_type: api::resolve_tax_type(
            "xero.exempt_tax_type",
            &settings.xero.exempt_tax_type,
            &rates,
        )
        .map_err(precondition)?,
    })
}

fn fault(e: Fault, done: &str) -> Error {
    match e {
        Fault::DayLimit(_) => external(format!(
            "{e}; {done}; everything done so far is recorded: run the same command again after the reset"
        )),
        Fault::Refused(m) => external(format!("{m}; {done}")),
        Fault::Unavailable(m) => external(format!(
            "{m}; {done}; run the same command again (nothing is sent twice)"
        )),
    }
}

/// A fresh idempotency key (at most 128 characters, as Xero requires).
fn new_key(what: &str, clock: &dyn Clock) -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{what}|{}|{}|{nanos}", clock.stamp(), std::process::id());
    format!(
        "billrun-{}",
        &hex::encode(Sha256::digest(seed.as_bytes()))[..40]
    )
}

/// Push a completed run's customers and invoices to Xero.
pub fn push(
    store: &mut Store,
    actor: &Actor,
    run: &str,
    settings: &Settings,
    client: &XeroClient,
    clock: &dyn Clock,
    progress: &dyn Progress,
) -> Result<PushReport> {
    if !settings.xero.api {
        return Err(precondition(
            "xero.mode is csv: `xero push` talks to Xero's API; set it up (README \"Xero through its API\") and `billrun config set xero.mode api`, or write the import file with `billrun xero export`",
        ));
    }
    let run = runs::resolve(&store.conn, run)?;
    if run.status != RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}, not completed: push to Xero once production has completed",
            run.name,
            run.status.as_str()
        )));
    }
    let all: Vec<Invoice> = crate::store::xero::invoices(&store.conn, run.id)?
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let (ok, excluded) = xero::partition(all);
    let mut report = PushReport {
        run: run.id,
        run_name: run.name.clone(),
        excluded: excluded
            .into_iter()
            .map(|e| Refused {
                number: e.number,
                account: e.account,
                message: e.reason,
            })
            .collect(),
        ..Default::default()
    };
    let mut codes = None;
    let result = push_documents(
        store,
        actor,
        Some(run.id),
        settings,
        client,
        clock,
        progress,
        DocKind::INVOICE,
        &ok,
        &mut codes,
        &mut report,
    )
    .and_then(|()| {
        push_credit_notes(
            store,
            actor,
            run.id,
            settings,
            client,
            clock,
            progress,
            &mut codes,
            &mut report,
        )
    });
    progress.finish();
    report.calls = client.calls.get();
    let tx = store.write()?;
    audit::log(
        &tx,
        actor,
        Some(run.id),
        "xero push",
        &format!(
            "{} contacts created, {} updated; {} invoices sent, {} found in Xero; {} credit notes sent, {} found, {} allocated; {} refused{}",
            report.contacts_created,
            report.contacts_updated,
            report.invoices_sent,
            report.invoices_found,
            report.credit_notes_sent,
            report.credit_notes_found,
            report.allocated.len(),
            report.refused.len(),
            if result.is_err() { "; stopped" } else { "" }
        ),
    )?;
    tx.commit()?;
    result.map(|()| report)
}

/// Steps 4 and 5: the run's credit notes, then their allocations.
#[allow(clippy::too_many_arguments)]
fn push_credit_notes(
    store: &mut Store,
    actor: &Actor,
    run_id: i64,
    settings: &Settings,
    client: &XeroClient,
    clock: &dyn Clock,
    progress: &dyn Progress,
    codes: &mut Option<ApiCodes>,
    report: &mut PushReport,
) -> Result<()> {
    let notes: Vec<Invoice> = crate::store::xero::credit_notes_to_push(&store.conn, run_id)?
        .into_iter()
        .map(|n| Invoice {
            id: n.id,
            number: n.number,
            invoice_date: n.date,
            due_date: n.date,
            tax: n.tax,
            ..n.contact
        })
        .collect();
    if !notes.is_empty() {
        push_documents(
            store,
            actor,
            Some(run_id),
            settings,
            client,
            clock,
            progress,
            DocKind::CREDIT_NOTE,
            &notes,
            codes,
            report,
        )?;
    }
    let due = st::allocations_due(&store.conn, run_id)?;
    if due.is_empty() {
        return Ok(());
    }
    store.conn.pragma_update(None, "synchronous", "FULL")?;
    for a in due {
        let what = format!("{} -> {}", a.note_number, a.invoice_number);
        if a.key.is_some() {
            // An earlier request may have reached Xero: ask before sending again.
            let path = format!("/CreditNotes/{}", a.note_xero_id);
            let ans = get_ok(client, &path, &format!("GET {path}"), report)?;
            if api::allocated_invoices(&ans.body)
                .map_err(external)?
                .contains(&a.invoice_xero_id)
            {
                let tx = store.write()?;
                st::allocated(&tx, a.note_id, &clock.stamp())?;
                tx.commit()?;
                report.allocated.push(what);
                continue;
            }
        }
        let date = a.date.parse::<chrono::NaiveDate>().map_err(|e| {
            external(format!(
                "credit note {}: stored date '{}': {e}",
                a.note_number, a.date
            ))
        })?;
        let key = new_key(&format!("alloc-{}", a.note_number), clock);
        {
            let tx = store.write()?;
            st::begin_allocation(&tx, a.note_id, &key)?;
            tx.commit()?;
        }
        let body = api::allocation_body(
            &a.invoice_xero_id,
            crate::domain::money::from_minor(a.total_minor),
            date,
        );
        let path = format!("/CreditNotes/{}/Allocations", a.note_xero_id);
        let ans = client
            .send(&Request::write("PUT", &path, &body, &key))
            .map_err(|e| fault(e, &report.so_far()))?;
        test_hook_stop_after_send();
        let errors = if ans.ok() {
            api::allocation_errors(&ans.body).map_err(external)?
        } else if ans.status == 400 {
            vec![api::error_message(&ans.body)]
        } else {
            return Err(external(format!(
                "Xero refused the allocation of {what} (HTTP {}: {}); {}",
                ans.status,
                api::error_message(&ans.body),
                report.so_far()
            )));
        };
        if errors.is_empty() {
            let tx = store.write()?;
            st::allocated(&tx, a.note_id, &clock.stamp())?;
            tx.commit()?;
            report.allocated.push(what);
        } else {
            report.refused.push(Refused {
                number: a.note_number.clone(),
                account: a.account.clone(),
                message: format!(
                    "not allocated to {}: {}",
                    a.invoice_number,
                    errors.join("; ")
                ),
            });
        }
    }
    Ok(())
}

/// Contacts, then the documents of `kind` (see the module's description).
#[allow(clippy::too_many_arguments)]
pub fn push_documents(
    store: &mut Store,
    actor: &Actor,
    run_id: Option<i64>,
    settings: &Settings,
    client: &XeroClient,
    clock: &dyn Clock,
    progress: &dyn Progress,
    kind: DocKind,
    docs: &[Invoice],
    codes: &mut Option<ApiCodes>,
    report: &mut PushReport,
) -> Result<()> {
    let _ = actor;
    let pushed = st::pushes(&store.conn, kind.kind)?;
    let contacts = st::contacts(&store.conn)?;
    let mut todo: Vec<&Invoice> = Vec::new();
    for d in docs {
        match pushed.get(&d.id) {
            Some(p) if p.xero_id.is_some() => *report.counts(kind).2 += 1,
            _ => todo.push(d),
        }
    }
    // Customers whose contact is missing or changed (one invoice stands for
    // its customer: the contact fields are the customer's).
    let mut by_account: BTreeMap<&str, &Invoice> = BTreeMap::new();
    for d in docs {
        by_account.entry(d.account.as_str()).or_insert(d);
    }
    let stale: Vec<&Invoice> = by_account
        .values()
        .filter(|d| {
            contacts
                .get(&d.account)
                .is_none_or(|(_, fp)| *fp != api::contact_fingerprint(d))
        })
        .copied()
        .collect();
    if todo.is_empty() && stale.is_empty() {
        return Ok(());
    }
    store.conn.pragma_update(None, "synchronous", "FULL")?;
    // 1. Tax codes (once per push).
    let codes: &ApiCodes = match codes {
        Some(c) => c,
        None => codes.insert(api_codes(client, settings, report)?),
    };

    // 2. Contacts.
    let mut ids: HashMap<String, String> = contacts
        .iter()
        .map(|(a, (id, _))| (a.clone(), id.clone()))
        .collect();
    let unknown: Vec<&str> = stale
        .iter()
        .filter(|d| !ids.contains_key(&d.account))
        .map(|d| d.account.as_str())
        .collect();
    progress.start("looking up customers in Xero", Some(unknown.len() as u64));
    for chunk in unknown.chunks(LOOKUP_BATCH) {
        let path = format!("/Contacts?{}", api::contacts_query(chunk));
        let a = get_ok(client, &path, "the contact look-up", report)?;
        for (number, id) in api::found_contacts(&a.body).map_err(external)? {
            ids.insert(number, id);
        }
        progress.inc(chunk.len() as u64);
    }
    // A customer not found by number may exist by name without a number
    // (created by uploading the CSV import file in `csv` mode): take that
    // contact over (the update below gives it its number) rather than
    // have Xero refuse a second contact of the same name.
    let unnamed: Vec<&Invoice> = stale
        .iter()
        .filter(|d| !ids.contains_key(&d.account))
        .copied()
        .collect();
    progress.start(
        "looking up customers in Xero by name",
        Some(unnamed.len() as u64),
    );
    for chunk in unnamed.chunks(LOOKUP_BATCH) {
        let names: Vec<&str> = chunk.iter().map(|d| d.contact_name.as_str()).collect();
        let path = format!("/Contacts?{}", api::contacts_by_name_query(&names));
        let a = get_ok(client, &path, "the contact look-up", report)?;
        let found = api::found_contacts_by_name(&a.body).map_err(external)?;
        for d in chunk {
            if let Some((_, id, _)) = found.iter().find(|(name, _, number)| {
                name.eq_ignore_ascii_case(&d.contact_name)
                    && (number.is_empty() || *number == d.account)
            }) {
                ids.insert(d.account.clone(), id.clone());
            }
        }
        progress.inc(chunk.len() as u64);
    }
    let mut refused_accounts: HashMap<String, String> = HashMap::new();
    progress.start("sending customers to Xero", Some(stale.len() as u64));
    for chunk in stale.chunks(BATCH) {
        let body = api::contacts_body(
            &chunk
                .iter()
                .map(|d| api::contact(d, ids.get(&d.account).map(String::as_str)))
                .collect::<Vec<_>>(),
        );
        // Contacts are matched by number, so a repeated request updates the
        // same contact; the key (the body's hash) lets Xero replay a retry.
        let key = {
            use sha2::{Digest, Sha256};
            format!(
                "billrun-contacts-{}",
                &hex::encode(Sha256::digest(body.as_bytes()))[..40]
            )
        };
        let a = client
            .send(&Request::write(
                "POST",
                "/Contacts?summarizeErrors=false",
                &body,
                &key,
            ))
            .map_err(|e| fault(e, &report.so_far()))?;
        if !a.ok() {
            return Err(external(format!(
                "Xero refused the contacts (HTTP {}: {})",
                a.status,
                api::error_message(&a.body)
            )));
        }
        let results = api::item_results(&a.body, "Contacts", "ContactID", "ContactNumber")
            .map_err(external)?;
        let now = clock.stamp();
        let tx = store.write()?;
        for (d, r) in chunk.iter().zip(results) {
            match r.id {
                Some(id) => {
                    if ids.contains_key(&d.account) {
                        report.contacts_updated += 1;
                    } else {
                        report.contacts_created += 1;
                    }
                    st::save_contact(&tx, &d.account, &id, &api::contact_fingerprint(d), &now)?;
                    ids.insert(d.account.clone(), id);
                }
                None => {
                    let msg = r.errors.join("; ");
                    report.refused.push(Refused {
                        number: format!("customer {}", d.account),
                        account: d.account.clone(),
                        message: msg.clone(),
                    });
                    refused_accounts.insert(d.account.clone(), msg);
                }
            }
        }
        tx.commit()?;
        progress.inc(chunk.len() as u64);
    }

    // 3. Documents: look up every unconfirmed one by number first.
    let now = clock.stamp();
    let mut found: HashMap<String, String> = HashMap::new();
    let numbers: Vec<&str> = todo.iter().map(|d| d.number.as_str()).collect();
    progress.start(
        &format!("looking up {} in Xero", kind.label),
        Some(numbers.len() as u64),
    );
    for chunk in numbers.chunks(LOOKUP_BATCH) {
        let path = format!("/{}?{}", kind.endpoint, kind.lookup_query(chunk));
        let a = get_ok(
            client,
            &path,
            &format!("the {} look-up", kind.endpoint),
            report,
        )?;
        found.extend(api::found(&a.body, kind).map_err(external)?);
        progress.inc(chunk.len() as u64);
    }
    let mut send: Vec<&Invoice> = Vec::new();
    {
        let tx = store.write()?;
        for d in &todo {
            match found.get(&d.number) {
                Some(id) => {
                    st::adopt(&tx, kind.kind, run_id, (d.id, &d.number), id, &now)?;
                    *report.counts(kind).1 += 1;
                }
                None => send.push(d),
            }
        }
        tx.commit()?;
    }
    let mut sendable = Vec::new();
    for d in send {
        match (ids.get(&d.account), refused_accounts.get(&d.account)) {
            (Some(_), _) => sendable.push(d),
            (None, why) => report.refused.push(Refused {
                number: d.number.clone(),
                account: d.account.clone(),
                message: format!(
                    "not sent: its customer is not in Xero ({})",
                    why.map(String::as_str).unwrap_or("no contact")
                ),
            }),
        }
    }
    progress.start(
        &format!("sending {} to Xero", kind.label),
        Some(sendable.len() as u64),
    );
    for chunk in sendable.chunks(BATCH) {
        let key = new_key(&chunk[0].number, clock);
        let list: Vec<(i64, &str)> = chunk.iter().map(|d| (d.id, d.number.as_str())).collect();
        {
            let tx = store.write()?;
            st::begin(&tx, kind.kind, run_id, &list, &key, &clock.stamp())?;
            tx.commit()?;
        }
        let documents: Vec<api::Document> = chunk
            .iter()
            .map(|d| api::document(kind, d, &ids[&d.account], codes))
            .collect();
        let body = api::documents_body(kind, &documents);
        let path = format!("/{}?summarizeErrors=false", kind.endpoint);
        let a = client
            .send(&Request::write("PUT", &path, &body, &key))
            .map_err(|e| fault(e, &report.so_far()))?;
        test_hook_stop_after_send();
        if !a.ok() {
            return Err(external(format!(
                "Xero refused the {} (HTTP {}: {}); {}",
                kind.endpoint,
                a.status,
                api::error_message(&a.body),
                report.so_far()
            )));
        }
        let results = api::item_results(&a.body, kind.endpoint, kind.id_field, kind.number_field)
            .map_err(external)?;
        let by_number: HashMap<&str, &api::ItemResult> =
            results.iter().map(|r| (r.number.as_str(), r)).collect();
        let now = clock.stamp();
        let tx = store.write()?;
        for d in chunk {
            match by_number.get(d.number.as_str()) {
                Some(r) if r.id.is_some() => {
                    st::confirm(&tx, kind.kind, d.id, r.id.as_deref().unwrap_or(""), &now)?;
                    *report.counts(kind).0 += 1;
                    if let Some(t) = r.total
                        && t != d.total_charges
                    {
                        report.total_differs.push(Refused {
                            number: d.number.clone(),
                            account: d.account.clone(),
                            message: format!(
                                "Xero's total {} differs from billrun's {}",
                                crate::domain::money::fmt(t),
                                crate::domain::money::fmt(d.total_charges)
                            ),
                        });
                    }
                }
                Some(r) => {
                    let msg = r.errors.join("; ");
                    st::refuse(&tx, kind.kind, d.id, &msg)?;
                    report.refused.push(Refused {
                        number: d.number.clone(),
                        account: d.account.clone(),
                        message: msg,
                    });
                }
                None => {
                    let msg = "missing from Xero's answer: the next push looks it up";
                    st::refuse(&tx, kind.kind, d.id, msg)?;
                    report.refused.push(Refused {
                        number: d.number.clone(),
                        account: d.account.clone(),
                        message: msg.into(),
                    });
                }
            }
        }
        tx.commit()?;
        progress.inc(chunk.len() as u64);
    }
    Ok(())
}

/// Debug builds only: `BILLRUN_TEST_XERO_STOP_AFTER_SEND=1` ends the process
/// right after Xero answered a create request, before the answer is
/// recorded, as a kill there would. Tests use it to check that the next
/// push finds the invoices instead of creating them again.
#[allow(clippy::exit, reason = "simulates a kill; debug builds only")]
fn test_hook_stop_after_send() {
    #[cfg(debug_assertions)]
    if std::env::var_os("BILLRUN_TEST_XERO_STOP_AFTER_SEND").is_some_and(|v| v == "1") {
        std::process::exit(137);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::xero::fake_xero::{CLIENT_ID, CLIENT_SECRET, FakeXero};
    use crate::ops::FixedClock;
    use crate::ops::progress_log::Log;
    use crate::store::email::seed;

    #[test]
    fn push_reports_customers_and_invoices_batch_by_batch() {
        let x = FakeXero::start();
        let mut s = Store::memory().unwrap();
        seed::run(&s);
        seed::invoice(&s, 1, "C1", "email", 1200);
        seed::invoice(&s, 2, "C2", "both", 600);
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
        let clock = FixedClock::on("2026-12-02".parse().unwrap());
        let log = Log::default();
        let r = push(
            &mut s,
            &Actor::test(),
            "1",
            &settings,
            &client,
            &clock,
            &log,
        )
        .unwrap();
        assert_eq!((r.contacts_created, r.invoices_sent), (2, 2), "{r:?}");
        assert_eq!(
            log.names(),
            [
                "looking up customers in Xero",
                "looking up customers in Xero by name",
                "sending customers to Xero",
                "looking up invoices in Xero",
                "sending invoices to Xero"
            ]
        );
        assert_eq!(log.phase("sending customers to Xero").total, Some(2));
        assert_eq!(log.phase("sending invoices to Xero").total, Some(2));
        log.check_complete();

        // Everything is in Xero: nothing to look up or send.
        let log = Log::default();
        let r = push(
            &mut s,
            &Actor::test(),
            "1",
            &settings,
            &client,
            &clock,
            &log,
        )
        .unwrap();
        assert_eq!((r.already_in_xero, r.invoices_sent), (2, 0), "{r:?}");
        assert!(log.names().is_empty(), "{:?}", log.names());
        log.check_complete();
    }
}
