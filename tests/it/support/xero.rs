//! A fake Xero (identity server and Accounting API) on 127.0.0.1 for tests.
//!
//! It answers as Xero documents (XeroAPI/Xero-OpenAPI `xero_accounting.yaml`
//! and the custom-connection guide) and asserts what a real Xero would
//! refuse:
//! - `POST /connect/token`: `Authorization: Basic base64(id:secret)`, a form
//!   body `grant_type=client_credentials`; else 400 `invalid_client`;
//! - every API call: `Authorization: Bearer <token issued>` (401 otherwise)
//!   and `Accept: application/json` (Xero answers XML otherwise: 406 here);
//! - writes: `Content-Type: application/json`, `summarizeErrors=false`, an
//!   `Idempotency-Key` of at most 128 characters; a repeated key gets the
//!   stored answer again without doing anything;
//! - `PUT /Invoices`: `Type` ACCREC, `Status` AUTHORISED, `LineAmountTypes`
//!   Exclusive, a known `Contact.ContactID`, dates `YYYY-MM-DD`, line items
//!   with `AccountCode` and an active `TaxType`; a number already used is a
//!   per-item validation error (Xero: "Invoice # must be unique");
//! - `PUT /CreditNotes`: the same checks with `Type` ACCRECCREDIT (no
//!   due date needed); `GET /CreditNotes?where=CreditNoteNumber=="…"`;
//!   `GET /CreditNotes/{CreditNoteID}` with its `Allocations`;
//! - `PUT /CreditNotes/{CreditNoteID}/Allocations` (xero_accounting.yaml
//!   `createCreditNoteAllocation`: `{"Allocations": [{"Invoice":
//!   {"InvoiceID"}, "Amount", "Date"}]}`): a known invoice of the same
//!   contact, a date `YYYY-MM-DD`, an amount at most what is left on both
//!   the credit note and the invoice (else 400 with a ValidationException,
//!   as Xero answers);
//! - 429 with `Retry-After` and `X-Rate-Limit-Problem` when scripted.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tiny_http::{Header, Response, Server};

pub const CLIENT_ID: &str = "TESTCLIENTID0001";
pub const CLIENT_SECRET: &str = "test-secret-never-printed";

#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub idempotency_key: Option<String>,
    pub if_modified_since: Option<String>,
    pub body: String,
    pub replayed: bool,
    pub at: std::time::Instant,
}

#[derive(Default)]
pub struct State {
    pub token: Option<String>,
    pub tokens_issued: usize,
    pub contacts: Vec<Value>,
    pub invoices: Vec<Value>,
    pub credit_notes: Vec<Value>,
    /// Allocations made: (CreditNoteID, InvoiceID, amount).
    pub allocations: Vec<(String, String, rust_decimal::Decimal)>,
    /// Invoice creations per number (a second one would be a duplicate).
    pub created: HashMap<String, usize>,
    pub payments: Vec<Value>,
    pub stored: HashMap<String, (u16, String)>,
    pub seen: Vec<Seen>,
    /// Refuse these invoice numbers with this message.
    pub invalid: HashMap<String, String>,
    /// Answer the next N `PUT /Invoices` with 429 (minute, Retry-After 1).
    pub throttle_puts: usize,
    /// After this many more API calls, answer 429 day.
    pub day_limit_after: Option<usize>,
    /// Do the next N `PUT /Invoices` (their answer stored under the key)
    /// but answer 503, as if the answer were lost on the way back.
    pub lose_put_answers: usize,
    /// The access token expires after this many more API calls.
    pub token_expires_after: Option<usize>,
    /// Answer 403 (a scope the connection lacks) on this route, e.g. `/Payments`.
    pub forbidden: Option<&'static str>,
}

pub struct FakeXero {
    pub base: String,
    server: Arc<Server>,
    pub state: Arc<Mutex<State>>,
}

impl FakeXero {
    pub fn start() -> FakeXero {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind fake Xero"));
        let port = server.server_addr().to_ip().expect("TCP").port();
        let state = Arc::new(Mutex::new(State::default()));
        let (srv, st) = (Arc::clone(&server), Arc::clone(&state));
        std::thread::spawn(move || {
            for r in srv.incoming_requests() {
                handle(&st, r);
            }
        });
        FakeXero {
            base: format!("http://127.0.0.1:{port}"),
            server,
            state,
        }
    }

    pub fn api_base(&self) -> String {
        format!("{}/api.xro/2.0", self.base)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

impl Drop for FakeXero {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn header(r: &tiny_http::Request, name: &str) -> Option<String> {
    r.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_owned())
}

fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

struct Out {
    status: u16,
    body: String,
    headers: Vec<(&'static str, String)>,
}

fn out(status: u16, body: Value) -> Out {
    Out {
        status,
        body: body.to_string(),
        headers: vec![],
    }
}

fn query(path: &str) -> HashMap<String, String> {
    path.split_once('?')
        .map(|(_, q)| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// The quoted values of `Field=="v"` terms of a `where` filter.
fn where_values(w: &str, field: &str) -> Vec<String> {
    let pat = format!("{field}==\"");
    w.split(" OR ")
        .filter_map(|t| t.trim().strip_prefix(&pat))
        .map(|v| v.trim_end_matches('"').replace("\\\"", "\""))
        .collect()
}

const TAX: &[(&str, &str)] = &[
    ("20% (VAT on Income)", "OUTPUT2"),
    ("No VAT", "NONE"),
    ("Zero Rated Income", "ZERORATEDOUTPUT"),
];

fn handle(state: &Mutex<State>, mut r: tiny_http::Request) {
    let mut body = String::new();
    let _ = r.as_reader().read_to_string(&mut body);
    let method = r.method().as_str().to_owned();
    let path = r.url().to_owned();
    let mut st = state.lock().unwrap();
    let seen = Seen {
        method: method.clone(),
        path: path.clone(),
        idempotency_key: header(&r, "Idempotency-Key"),
        if_modified_since: header(&r, "If-Modified-Since"),
        body: body.clone(),
        replayed: false,
        at: std::time::Instant::now(),
    };
    let o = if path == "/connect/token" {
        let basic = format!("Basic {}", b64(&format!("{CLIENT_ID}:{CLIENT_SECRET}")));
        let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        if method != "POST"
            || header(&r, "Authorization").as_deref() != Some(basic.as_str())
            || form.get("grant_type").map(String::as_str) != Some("client_credentials")
            || !header(&r, "Content-Type")
                .unwrap_or_default()
                .starts_with("application/x-www-form-urlencoded")
        {
            out(400, json!({"error": "invalid_client"}))
        } else {
            st.tokens_issued += 1;
            let t = format!("tok-{}", st.tokens_issued);
            st.token = Some(t.clone());
            out(
                200,
                json!({"access_token": t, "expires_in": 1800, "token_type": "Bearer",
                       "scope": "accounting.invoices accounting.payments accounting.contacts accounting.settings.read"}),
            )
        }
    } else if let Some(p) = path.strip_prefix("/api.xro/2.0") {
        api(&mut st, &r, &method, p, &body, seen.idempotency_key.clone())
    } else {
        out(404, json!({"Message": "not found"}))
    };
    let replayed = o.headers.iter().any(|(h, _)| *h == "X-Replayed");
    st.seen.push(Seen { replayed, ..seen });
    drop(st);
    let mut resp = Response::from_string(o.body)
        .with_status_code(o.status)
        .with_header(Header::from_bytes("Content-Type", "application/json").unwrap());
    for (h, v) in o.headers {
        resp = resp.with_header(Header::from_bytes(h, v.as_bytes()).unwrap());
    }
    let _ = r.respond(resp);
}

fn api(
    st: &mut State,
    r: &tiny_http::Request,
    method: &str,
    path: &str,
    body: &str,
    key: Option<String>,
) -> Out {
    let bearer = st.token.as_ref().map(|t| format!("Bearer {t}"));
    if bearer.is_none() || header(r, "Authorization") != bearer {
        return out(
            401,
            json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "AuthenticationUnsuccessful"}),
        );
    }
    if let Some(n) = st.token_expires_after.as_mut() {
        if *n == 0 {
            st.token_expires_after = None;
            st.token = None;
            return out(
                401,
                json!({"Type": null, "Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired"}),
            );
        }
        *n -= 1;
    }
    if st
        .forbidden
        .is_some_and(|f| path.split('?').next() == Some(f))
    {
        return out(
            403,
            json!({"Type": null, "Title": "Forbidden", "Status": 403, "Detail": "AuthorizationUnsuccessful"}),
        );
    }
    if header(r, "Accept").as_deref() != Some("application/json") {
        return out(
            406,
            json!({"Message": "this fake speaks JSON only: send Accept"}),
        );
    }
    if let Some(n) = st.day_limit_after.as_mut() {
        if *n == 0 {
            return Out {
                status: 429,
                body: String::new(),
                headers: vec![
                    ("Retry-After", "3600".into()),
                    ("X-Rate-Limit-Problem", "day".into()),
                    ("X-DayLimit-Remaining", "0".into()),
                ],
            };
        }
        *n -= 1;
    }
    let route = path.split('?').next().unwrap_or("");
    let q = query(path);
    let write = method == "PUT" || method == "POST";
    if write {
        // Batch endpoints take summarizeErrors; an allocation is one element.
        if !route.ends_with("/Allocations")
            && q.get("summarizeErrors").map(String::as_str) != Some("false")
        {
            return out(
                400,
                json!({"Message": "test: summarizeErrors=false expected"}),
            );
        }
        if header(r, "Content-Type").as_deref() != Some("application/json") {
            return out(415, json!({"Message": "test: JSON body expected"}));
        }
        match &key {
            Some(k) if k.len() <= 128 => {
                if let Some((s, b)) = st.stored.get(k) {
                    return Out {
                        status: *s,
                        body: b.clone(),
                        headers: vec![("X-Replayed", "true".into())],
                    };
                }
            }
            _ => {
                return out(
                    400,
                    json!({"Message": "test: Idempotency-Key expected (<= 128)"}),
                );
            }
        }
        if method == "PUT" && route == "/Invoices" && st.throttle_puts > 0 {
            st.throttle_puts -= 1;
            return Out {
                status: 429,
                body: String::new(),
                headers: vec![
                    ("Retry-After", "1".into()),
                    ("X-Rate-Limit-Problem", "minute".into()),
                ],
            };
        }
    }
    let o = match (method, route) {
        ("GET", "/TaxRates") => out(
            200,
            json!({"TaxRates": TAX.iter().map(|(n, t)| json!({"Name": n, "TaxType": t, "Status": "ACTIVE"})).collect::<Vec<_>>()}),
        ),
        ("GET", "/Contacts") => {
            let w = q.get("where").map(String::as_str).unwrap_or("");
            let numbers = where_values(w, "ContactNumber");
            let names = where_values(w, "Name");
            let found: Vec<Value> = st
                .contacts
                .iter()
                .filter(|c| {
                    numbers.iter().any(|n| c["ContactNumber"] == n.as_str())
                        || names.iter().any(|n| c["Name"] == n.as_str())
                })
                .cloned()
                .collect();
            out(200, json!({"Contacts": found}))
        }
        ("POST", "/Contacts") => {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let mut results = Vec::new();
            for c in v["Contacts"].as_array().cloned().unwrap_or_default() {
                let number = c["ContactNumber"].as_str().unwrap_or("").to_string();
                let mut errors = Vec::new();
                if c["Name"].as_str().unwrap_or("").is_empty() {
                    errors.push("Contact name must be specified");
                }
                let existing = match c.get("ContactID").and_then(Value::as_str) {
                    Some(id) => st.contacts.iter().position(|x| x["ContactID"] == id),
                    None => {
                        if st
                            .contacts
                            .iter()
                            .any(|x| x["ContactNumber"] == number.as_str())
                        {
                            errors.push("test: a contact with this ContactNumber exists; send its ContactID");
                        }
                        None
                    }
                };
                // Xero: a contact name is unique across active contacts.
                let name = c["Name"].as_str().unwrap_or("");
                let own = existing.map(|i| st.contacts[i]["ContactID"].clone());
                if st
                    .contacts
                    .iter()
                    .any(|x| x["Name"] == name && Some(x["ContactID"].clone()) != own)
                {
                    errors.push("The contact name is already assigned to another contact. The contact name must be unique across all active contacts.");
                }
                if !errors.is_empty() {
                    results.push(json!({"ContactNumber": number, "StatusAttributeString": "ERROR",
                        "ValidationErrors": errors.iter().map(|m| json!({"Message": m})).collect::<Vec<_>>()}));
                    continue;
                }
                let mut stored = c.clone();
                match existing {
                    Some(i) => {
                        let id = st.contacts[i]["ContactID"].clone();
                        stored["ContactID"] = id;
                        st.contacts[i] = stored.clone();
                    }
                    None => {
                        stored["ContactID"] = json!(format!(
                            "c0ffee00-0000-4000-8000-{:012}",
                            st.contacts.len() + 1
                        ));
                        st.contacts.push(stored.clone());
                    }
                }
                stored["StatusAttributeString"] = json!("OK");
                results.push(stored);
            }
            out(200, json!({"Id": "x", "Status": "OK", "Contacts": results}))
        }
        ("GET", "/Invoices") => {
            let wanted: Vec<String> = q
                .get("InvoiceNumbers")
                .map(|s| s.split(',').map(String::from).collect())
                .unwrap_or_default();
            let found: Vec<Value> = st
                .invoices
                .iter()
                .filter(|i| wanted.iter().any(|w| i["InvoiceNumber"] == w.as_str()))
                .cloned()
                .collect();
            out(200, json!({"Invoices": found}))
        }
        ("PUT", "/Invoices") => {
            let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let mut results = Vec::new();
            for i in v["Invoices"].as_array().cloned().unwrap_or_default() {
                let number = i["InvoiceNumber"].as_str().unwrap_or("").to_string();
                let mut errors: Vec<String> = Vec::new();
                for (f, want) in [
                    ("Type", "ACCREC"),
                    ("Status", "AUTHORISED"),
                    ("LineAmountTypes", "Exclusive"),
                ] {
                    if i[f] != want {
                        errors.push(format!("test: {f} must be {want}"));
                    }
                }
                let cid = i["Contact"]["ContactID"].as_str().unwrap_or("");
                if !st.contacts.iter().any(|c| c["ContactID"] == cid) {
                    errors.push("test: unknown ContactID".into());
                }
                for f in ["Date", "DueDate"] {
                    let d = i[f].as_str().unwrap_or("");
                    if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                        errors.push(format!("test: {f} '{d}' is not YYYY-MM-DD"));
                    }
                }
                let lines = i["LineItems"].as_array().cloned().unwrap_or_default();
                if lines.is_empty() {
                    errors.push("test: no line items".into());
                }
                let mut total = rust_decimal::Decimal::ZERO;
                for l in &lines {
                    if l["AccountCode"].as_str().unwrap_or("").is_empty() {
                        errors.push("test: line without AccountCode".into());
                    }
                    if !TAX.iter().any(|(_, t)| l["TaxType"] == *t) {
                        errors.push(format!("test: TaxType {} unknown", l["TaxType"]));
                    }
                    let amount: rust_decimal::Decimal =
                        l["LineAmount"].to_string().parse().unwrap_or_default();
                    let rate = if l["TaxType"] == "OUTPUT2" {
                        rust_decimal::Decimal::new(120, 2)
                    } else {
                        rust_decimal::Decimal::ONE
                    };
                    total += (amount * rate).round_dp(2);
                }
                if let Some(m) = st.invalid.get(&number) {
                    errors.push(m.clone());
                }
                if st
                    .invoices
                    .iter()
                    .any(|x| x["InvoiceNumber"] == number.as_str())
                {
                    errors.push("Invoice # must be unique.".into());
                }
                if !errors.is_empty() {
                    results.push(json!({"InvoiceID": "00000000-0000-0000-0000-000000000000",
                        "InvoiceNumber": number, "StatusAttributeString": "ERROR", "HasErrors": true,
                        "ValidationErrors": errors.iter().map(|m| json!({"Message": m})).collect::<Vec<_>>()}));
                    continue;
                }
                let mut stored = i.clone();
                stored["InvoiceID"] = json!(format!(
                    "1a1a0000-0000-4000-8000-{:012}",
                    st.invoices.len() + 1
                ));
                stored["Total"] = serde_json::from_str(&total.to_string()).unwrap();
                st.invoices.push(stored.clone());
                *st.created.entry(number.clone()).or_default() += 1;
                stored["StatusAttributeString"] = json!("OK");
                stored["ValidationErrors"] = json!([]);
                results.push(stored);
            }
            out(200, json!({"Id": "x", "Status": "OK", "Invoices": results}))
        }
        ("GET", "/CreditNotes") => {
            let w = q.get("where").map(String::as_str).unwrap_or("");
            let numbers = where_values(w, "CreditNoteNumber");
            let found: Vec<Value> = st
                .credit_notes
                .iter()
                .filter(|n| numbers.iter().any(|w| n["CreditNoteNumber"] == w.as_str()))
                .cloned()
                .collect();
            out(200, json!({"CreditNotes": found}))
        }
        ("PUT", "/CreditNotes") => put_credit_notes(st, body),
        ("GET", r) if r.starts_with("/CreditNotes/") => {
            let id = &r["/CreditNotes/".len()..];
            match st.credit_notes.iter().find(|n| n["CreditNoteID"] == id) {
                Some(n) => {
                    let mut n = n.clone();
                    n["Allocations"] = json!(
                        st.allocations
                            .iter()
                            .filter(|(c, _, _)| c == id)
                            .map(|(_, i, a)| json!({"Amount": serde_json::from_str::<Value>(&a.to_string()).unwrap(),
                                "Invoice": {"InvoiceID": i}}))
                            .collect::<Vec<_>>()
                    );
                    out(200, json!({"CreditNotes": [n]}))
                }
                None => out(
                    404,
                    json!({"Message": "The resource you're looking for cannot be found"}),
                ),
            }
        }
        ("PUT", r) if r.starts_with("/CreditNotes/") && r.ends_with("/Allocations") => {
            let id = &r["/CreditNotes/".len()..r.len() - "/Allocations".len()];
            allocate(st, id, body)
        }
        ("GET", "/Payments") => {
            let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let since = header(r, "If-Modified-Since")
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok());
            let list: Vec<Value> = st
                .payments
                .iter()
                .filter(|p| {
                    since.is_none_or(|s| {
                        chrono::DateTime::parse_from_rfc3339(
                            p["UpdatedDateUTCString"].as_str().unwrap_or(""),
                        )
                        .is_ok_and(|u| u >= s)
                    })
                })
                .skip((page - 1) * 100)
                .take(100)
                .cloned()
                .collect();
            out(200, json!({"Payments": list}))
        }
        _ => out(
            404,
            json!({"Message": format!("test: no route {method} {route}")}),
        ),
    };
    if write && let Some(k) = key {
        st.stored.insert(k, (o.status, o.body.clone()));
    }
    if method == "PUT" && st.lose_put_answers > 0 {
        st.lose_put_answers -= 1;
        return out(503, json!({"Message": "Service Unavailable"}));
    }
    Out {
        headers: {
            let mut h = o.headers;
            h.push(("X-DayLimit-Remaining", "4000".into()));
            h
        },
        ..o
    }
}

/// A payment as `GET /Payments` lists it (the yaml's example shape).
pub fn payment(
    id: &str,
    invoice: &str,
    account: &str,
    amount: &str,
    date_ms: i64,
    updated: &str,
    bank: &str,
) -> Value {
    json!({
        "PaymentID": id,
        "Date": format!("/Date({date_ms}+0000)/"),
        "Amount": serde_json::from_str::<Value>(amount).unwrap(),
        "Reference": "",
        "PaymentType": "ACCRECPAYMENT",
        "Status": "AUTHORISED",
        "UpdatedDateUTCString": updated,
        "Account": {"AccountID": "5690f1e8", "Code": "090", "Name": bank},
        "Invoice": {"Type": "ACCREC", "InvoiceNumber": invoice,
                    "Contact": {"ContactID": "x", "ContactNumber": account, "Name": "n"}}
    })
}

fn dec(v: &Value) -> rust_decimal::Decimal {
    v.to_string().parse().unwrap_or_default()
}

fn put_credit_notes(st: &mut State, body: &str) -> Out {
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let mut results = Vec::new();
    for n in v["CreditNotes"].as_array().cloned().unwrap_or_default() {
        let number = n["CreditNoteNumber"].as_str().unwrap_or("").to_string();
        let mut errors: Vec<String> = Vec::new();
        for (f, want) in [
            ("Type", "ACCRECCREDIT"),
            ("Status", "AUTHORISED"),
            ("LineAmountTypes", "Exclusive"),
        ] {
            if n[f] != want {
                errors.push(format!("test: {f} must be {want}"));
            }
        }
        if number.is_empty() {
            errors.push("test: no CreditNoteNumber".into());
        }
        let cid = n["Contact"]["ContactID"].as_str().unwrap_or("");
        if !st.contacts.iter().any(|c| c["ContactID"] == cid) {
            errors.push("test: unknown ContactID".into());
        }
        let d = n["Date"].as_str().unwrap_or("");
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            errors.push(format!("test: Date '{d}' is not YYYY-MM-DD"));
        }
        let lines = n["LineItems"].as_array().cloned().unwrap_or_default();
        if lines.is_empty() {
            errors.push("test: no line items".into());
        }
        let mut total = rust_decimal::Decimal::ZERO;
        for l in &lines {
            if l["AccountCode"].as_str().unwrap_or("").is_empty() {
                errors.push("test: line without AccountCode".into());
            }
            if !TAX.iter().any(|(_, t)| l["TaxType"] == *t) {
                errors.push(format!("test: TaxType {} unknown", l["TaxType"]));
            }
            let amount = dec(&l["LineAmount"]);
            if amount <= rust_decimal::Decimal::ZERO {
                errors.push("test: a credit note's lines are positive".into());
            }
            let rate = if l["TaxType"] == "OUTPUT2" {
                rust_decimal::Decimal::new(120, 2)
            } else {
                rust_decimal::Decimal::ONE
            };
            total += (amount * rate).round_dp(2);
        }
        if st
            .credit_notes
            .iter()
            .any(|x| x["CreditNoteNumber"] == number.as_str())
        {
            errors.push("test: CreditNoteNumber already used".into());
        }
        if !errors.is_empty() {
            results.push(json!({"CreditNoteID": "00000000-0000-0000-0000-000000000000",
                "CreditNoteNumber": number, "StatusAttributeString": "ERROR", "HasErrors": true,
                "ValidationErrors": errors.iter().map(|m| json!({"Message": m})).collect::<Vec<_>>()}));
            continue;
        }
        let mut stored = n.clone();
        stored["CreditNoteID"] = json!(format!(
            "c4ed1700-0000-4000-8000-{:012}",
            st.credit_notes.len() + 1
        ));
        stored["Total"] = serde_json::from_str(&total.to_string()).unwrap();
        st.credit_notes.push(stored.clone());
        *st.created.entry(number.clone()).or_default() += 1;
        stored["StatusAttributeString"] = json!("OK");
        stored["ValidationErrors"] = json!([]);
        results.push(stored);
    }
    out(
        200,
        json!({"Id": "x", "Status": "OK", "CreditNotes": results}),
    )
}

fn allocate(st: &mut State, note_id: &str, body: &str) -> Out {
    let invalid = |m: &str| {
        out(
            400,
            json!({"ErrorNumber": 10, "Type": "ValidationException",
                "Message": "A validation exception occurred",
                "Elements": [{"ValidationErrors": [{"Message": m}]}]}),
        )
    };
    let Some(note) = st
        .credit_notes
        .iter()
        .find(|n| n["CreditNoteID"] == note_id)
        .cloned()
    else {
        return out(
            404,
            json!({"Message": "The resource you're looking for cannot be found"}),
        );
    };
    let v: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let list = v["Allocations"].as_array().cloned().unwrap_or_default();
    if list.len() != 1 {
        return invalid("test: one allocation per request expected");
    }
    let a = &list[0];
    let inv_id = a["Invoice"]["InvoiceID"].as_str().unwrap_or("");
    let Some(inv) = st
        .invoices
        .iter()
        .find(|i| i["InvoiceID"] == inv_id)
        .cloned()
    else {
        return invalid("test: unknown InvoiceID");
    };
    if inv["Contact"]["ContactID"] != note["Contact"]["ContactID"] {
        return invalid("test: the invoice is another contact's");
    }
    let d = a["Date"].as_str().unwrap_or("");
    if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
        return invalid(&format!("test: Date '{d}' is not YYYY-MM-DD"));
    }
    let amount = dec(&a["Amount"]);
    let used = |pick: &dyn Fn(&(String, String, rust_decimal::Decimal)) -> bool| {
        st.allocations
            .iter()
            .filter(|x| pick(x))
            .map(|x| x.2)
            .sum::<rust_decimal::Decimal>()
    };
    let note_left = dec(&note["Total"]) - used(&|x| x.0 == note_id);
    let due = dec(&inv["Total"]) - used(&|x| x.1 == inv_id);
    if amount <= rust_decimal::Decimal::ZERO {
        return invalid("test: Amount must be positive");
    }
    if amount > note_left {
        return invalid("The amount being allocated exceeds the remaining credit");
    }
    if amount > due {
        return invalid("The amount being allocated exceeds the amount due on the invoice");
    }
    st.allocations
        .push((note_id.to_string(), inv_id.to_string(), amount));
    out(
        200,
        json!({"Id": "x", "Status": "OK", "Allocations": [{
            "Amount": serde_json::from_str::<Value>(&amount.to_string()).unwrap(),
            "Date": "/Date(1551744000000+0000)/",
            "Invoice": {"InvoiceID": inv_id}, "CreditNote": {"CreditNoteID": note_id},
            "ValidationErrors": []}]}),
    )
}
