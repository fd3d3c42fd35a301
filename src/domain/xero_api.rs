//! What billrun sends to and reads from Xero's Accounting API (`xero push`,
//! `payments fetch` in `xero.mode = api`). Pure: values in, JSON values out,
//! response text in, values out.
//!
//! Shapes follow Xero's OpenAPI description (github.com/XeroAPI/Xero-OpenAPI,
//! `xero_accounting.yaml`: schemas `Contact`, `Address`, `Invoice`,
//! `LineItem`, `Payment`, `ValidationError`; parameters `summarizeErrors`,
//! `Idempotency-Key` (at most 128 characters), `If-Modified-Since`,
//! `InvoiceNumbers`; the `/Payments` example with `/Date(…)/` dates).
//!
//! Decisions (README "Xero through its API"):
//! - a contact is matched by `ContactNumber` = the customer's account; it
//!   carries the name, the email address and the postal address (`POBOX`);
//! - an invoice is `ACCREC`, `AUTHORISED`, `LineAmountTypes` `Exclusive`,
//!   one line item per invoice line (quantity 1, the line's amount ex-tax),
//!   the invoice's number, date and due date, `Reference` = the account;
//!   amounts are sent as exact JSON numbers (never through a float);
//! - tax types are Xero's codes (`OUTPUT2`, …): `xero.tax_type` and
//!   `xero.exempt_tax_type` may name the rate as Xero lists it (the CSV
//!   import's display name) or give the code; [`resolve_tax_type`] maps a
//!   name to its code from Xero's `/TaxRates`;
//! - at most [`BATCH`] elements per request;
//! - a credit note is `ACCRECCREDIT` with the same fields as an invoice but
//!   no due date (schema `CreditNote`); once the invoice that brought it
//!   forward is in Xero too, it is allocated to that invoice for its total
//!   (`PUT /CreditNotes/{CreditNoteID}/Allocations`, schema `Allocation`:
//!   `Invoice.InvoiceID`, `Amount`, `Date`).

use crate::domain::xero::Invoice;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::str::FromStr;

/// Elements per create/update request. Xero documents a 3.5 MB body limit
/// and recommends batches of at most 50 elements
/// (developer.xero.com/documentation/api/accounting/requests-and-responses).
pub const BATCH: usize = 50;

/// Invoice numbers (or contact numbers) per look-up request: keeps the
/// query string short.
pub const LOOKUP_BATCH: usize = 25;

/// A kind of document billrun pushes: invoices today; credit notes use the
/// same path (`/CreditNotes`, `CreditNoteID`, `CreditNoteNumber`, type
/// `ACCRECCREDIT`) through [`DocKind::CREDIT_NOTE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocKind {
    /// Stored in `xero_pushes.kind`.
    pub kind: &'static str,
    /// Endpoint and the JSON array's name.
    pub endpoint: &'static str,
    pub id_field: &'static str,
    pub number_field: &'static str,
    /// The `Type` sent.
    pub xero_type: &'static str,
    /// What the operator reads (progress, messages).
    pub label: &'static str,
}

impl DocKind {
    pub const INVOICE: DocKind = DocKind {
        kind: "invoice",
        endpoint: "Invoices",
        id_field: "InvoiceID",
        number_field: "InvoiceNumber",
        xero_type: "ACCREC",
        label: "invoices",
    };
    pub const CREDIT_NOTE: DocKind = DocKind {
        kind: "credit_note",
        endpoint: "CreditNotes",
        id_field: "CreditNoteID",
        number_field: "CreditNoteNumber",
        xero_type: "ACCRECCREDIT",
        label: "credit notes",
    };

    /// The query that finds documents by number.
    pub fn lookup_query(&self, numbers: &[&str]) -> String {
        if self.endpoint == "Invoices" {
            format!("InvoiceNumbers={}", encode(&numbers.join(",")))
        } else {
            let terms: Vec<String> = numbers
                .iter()
                .map(|n| format!("{}==\"{}\"", self.number_field, quote(n)))
                .collect();
            format!("where={}", encode(&terms.join(" OR ")))
        }
    }
}

/// An exact decimal as a JSON number (`30.00`), never through a float.
#[derive(Debug)]
pub struct Amount(Box<RawValue>);

impl Amount {
    pub fn new(d: Decimal) -> Amount {
        let text = crate::domain::money::fmt(d);
        Amount(RawValue::from_string(text).expect("a formatted decimal is a JSON number"))
    }
}

impl Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub address_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// A contact as sent (`POST /Contacts`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Contact {
    #[serde(rename = "ContactID", skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    pub contact_number: String,
    pub name: String,
    /// Sent empty to clear an address removed in billrun.
    pub email_address: String,
    pub addresses: Vec<Address>,
}

/// The contact of an invoice's customer; `contact_id` when Xero's id is known.
pub fn contact(inv: &Invoice, contact_id: Option<&str>) -> Contact {
    Contact {
        contact_id: contact_id.map(String::from),
        contact_number: inv.account.clone(),
        name: inv.contact_name.clone(),
        email_address: inv.email.clone().unwrap_or_default(),
        addresses: vec![Address {
            address_type: "POBOX",
            address_line1: inv.address1.clone(),
            address_line2: inv.address2.clone(),
            city: inv.town.clone(),
            region: inv.region.clone(),
            postal_code: inv.postcode.clone(),
        }],
    }
}

/// A fingerprint of what a contact sends: unchanged customers are not sent again.
pub fn contact_fingerprint(inv: &Invoice) -> String {
    use sha2::{Digest, Sha256};
    let c = contact(inv, None);
    let text = serde_json::to_string(&c).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[derive(Debug, Serialize)]
pub struct ContactRef {
    #[serde(rename = "ContactID")]
    pub contact_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LineItem {
    pub description: String,
    pub quantity: Amount,
    pub unit_amount: Amount,
    pub line_amount: Amount,
    pub account_code: String,
    pub tax_type: String,
}

/// An invoice (or credit note) as sent.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Document {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub contact: ContactRef,
    /// Serialised under the kind's number field (see [`documents_body`]).
    #[serde(skip)]
    pub number: String,
    pub reference: String,
    pub date: String,
    /// Invoices only: a credit note has no due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    pub status: &'static str,
    pub line_amount_types: &'static str,
    pub currency_code: String,
    pub line_items: Vec<LineItem>,
}

/// Account code and tax type codes for API line items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCodes {
    pub account_code: String,
    pub tax_type: String,
    pub exempt_tax_type: String,
}

/// The document Xero gets for `inv` (lines as in the CSV export: one per
/// invoice line, the service in front of the description).
pub fn document(kind: DocKind, inv: &Invoice, contact_id: &str, codes: &ApiCodes) -> Document {
    let taxed = !inv.tax.is_zero();
    let line_items = inv
        .lines
        .iter()
        .map(|l| LineItem {
            description: crate::domain::xero::line_description(l),
            quantity: Amount(RawValue::from_string("1".into()).expect("a JSON number")),
            unit_amount: Amount::new(l.amount),
            line_amount: Amount::new(l.amount),
            account_code: codes.account_code.clone(),
            tax_type: if taxed && l.taxable {
                codes.tax_type.clone()
            } else {
                codes.exempt_tax_type.clone()
            },
        })
        .collect();
    Document {
        kind: kind.xero_type,
        contact: ContactRef {
            contact_id: contact_id.to_string(),
        },
        number: inv.number.clone(),
        reference: inv.account.clone(),
        date: inv.invoice_date.to_string(),
        due_date: (kind == DocKind::INVOICE).then(|| inv.due_date.to_string()),
        status: "AUTHORISED",
        line_amount_types: "Exclusive",
        currency_code: inv.currency.clone(),
        line_items,
    }
}

/// The request body `{"Invoices": [...]}` (or `CreditNotes`), each element
/// with its number under the kind's number field.
pub fn documents_body(kind: DocKind, docs: &[Document]) -> String {
    let parts: Vec<String> = docs
        .iter()
        .map(|d| {
            let text = serde_json::to_string(d).unwrap_or_default();
            let number = serde_json::to_string(&d.number).unwrap_or_default();
            // The number field goes first, in front of the typed fields
            // (which keep their exact amounts).
            format!("{{\"{}\":{number},{}", kind.number_field, &text[1..])
        })
        .collect();
    format!("{{\"{}\":[{}]}}", kind.endpoint, parts.join(","))
}

/// The request body `{"Contacts": [...]}`.
pub fn contacts_body(contacts: &[Contact]) -> String {
    serde_json::json!({ "Contacts": contacts }).to_string()
}

/// One element of a create/update answer (`summarizeErrors=false`).
#[derive(Debug, Clone, PartialEq)]
pub struct ItemResult {
    /// Our number (invoice number, or contact number).
    pub number: String,
    /// Xero's id, when created.
    pub id: Option<String>,
    /// Xero's validation messages (empty: accepted).
    pub errors: Vec<String>,
    /// Xero's total (documents), exact.
    pub total: Option<Decimal>,
}

#[derive(Deserialize)]
struct VError {
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// Read the elements of an answer: `{"Invoices": [{InvoiceID, InvoiceNumber,
/// StatusAttributeString, ValidationErrors: [{Message}], Total}]}`.
pub fn item_results(
    body: &str,
    array: &str,
    id_field: &str,
    number_field: &str,
) -> Result<Vec<ItemResult>, String> {
    let v: std::collections::HashMap<String, Box<RawValue>> =
        serde_json::from_str(body).map_err(|e| format!("unreadable answer from Xero: {e}"))?;
    let Some(arr) = v.get(array) else {
        return Err(format!("Xero's answer has no {array}"));
    };
    let items: Vec<std::collections::HashMap<String, Box<RawValue>>> =
        serde_json::from_str(arr.get()).map_err(|e| format!("unreadable {array}: {e}"))?;
    let text = |m: &std::collections::HashMap<String, Box<RawValue>>, k: &str| -> Option<String> {
        m.get(k)
            .and_then(|r| {
                serde_json::from_str::<Option<String>>(r.get())
                    .ok()
                    .flatten()
            })
            .filter(|s| !s.is_empty())
    };
    let mut out = Vec::new();
    for m in &items {
        let errors: Vec<String> = m
            .get("ValidationErrors")
            .and_then(|r| serde_json::from_str::<Vec<VError>>(r.get()).ok())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| e.message)
            .collect();
        let failed = text(m, "StatusAttributeString").as_deref() == Some("ERROR");
        let errors = if failed && errors.is_empty() {
            vec!["refused by Xero (no message)".to_string()]
        } else {
            errors
        };
        // Xero fills the id with zeros on an element it refused.
        let id = text(m, id_field).filter(|id| errors.is_empty() && !is_zero_id(id));
        out.push(ItemResult {
            number: text(m, number_field).unwrap_or_default(),
            id,
            errors,
            total: m.get("Total").and_then(|r| decimal(r.get())),
        });
    }
    Ok(out)
}

fn is_zero_id(id: &str) -> bool {
    id.chars().all(|c| c == '0' || c == '-')
}

/// A JSON number or numeric string as an exact decimal.
pub fn decimal(raw: &str) -> Option<Decimal> {
    let t = raw.trim().trim_matches('"');
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .ok()
}

/// Xero's message of a whole-request error (`{"Message": …}` or
/// `{"Elements": [{"ValidationErrors": [{"Message": …}]}]}`), or the start of
/// the body.
pub fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Element {
        #[serde(rename = "ValidationErrors", default)]
        errors: Vec<VError>,
    }
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Message")]
        message: Option<String>,
        #[serde(rename = "Detail")]
        detail: Option<String>,
        #[serde(rename = "Elements", default)]
        elements: Vec<Element>,
    }
    match serde_json::from_str::<Body>(body) {
        Ok(b) => {
            let details: Vec<String> = b
                .elements
                .into_iter()
                .flat_map(|e| e.errors)
                .filter_map(|e| e.message)
                .collect();
            let head = b.message.or(b.detail).unwrap_or_default();
            match (head.is_empty(), details.is_empty()) {
                (_, true) => head,
                (true, false) => details.join("; "),
                (false, false) => format!("{head}: {}", details.join("; ")),
            }
        }
        Err(_) => body
            .chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

/// Xero ids found by a look-up answer: (number, id).
pub fn found(body: &str, kind: DocKind) -> Result<Vec<(String, String)>, String> {
    Ok(
        item_results(body, kind.endpoint, kind.id_field, kind.number_field)?
            .into_iter()
            .filter_map(|r| r.id.map(|id| (r.number, id)))
            .collect(),
    )
}

/// Contacts found by a look-up: (ContactNumber, ContactID).
pub fn found_contacts(body: &str) -> Result<Vec<(String, String)>, String> {
    Ok(
        item_results(body, "Contacts", "ContactID", "ContactNumber")?
            .into_iter()
            .filter_map(|r| r.id.map(|id| (r.number, id)))
            .collect(),
    )
}

/// Contacts found by a look-up by name: (Name, ContactID, ContactNumber).
pub fn found_contacts_by_name(body: &str) -> Result<Vec<(String, String, String)>, String> {
    #[derive(Deserialize)]
    struct C {
        #[serde(rename = "ContactID")]
        id: Option<String>,
        #[serde(rename = "Name")]
        name: Option<String>,
        #[serde(rename = "ContactNumber")]
        number: Option<String>,
    }
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Contacts", default)]
        contacts: Vec<C>,
    }
    let b: Body =
        serde_json::from_str(body).map_err(|e| format!("unreadable contacts from Xero: {e}"))?;
    Ok(b.contacts
        .into_iter()
        .filter_map(|c| Some((c.name?, c.id?, c.number.unwrap_or_default())))
        .collect())
}

/// The `where` filter finding contacts by name (a contact created by
/// uploading the CSV import file has a name but no number).
pub fn contacts_by_name_query(names: &[&str]) -> String {
    let terms: Vec<String> = names
        .iter()
        .map(|n| format!("Name==\"{}\"", quote(n)))
        .collect();
    format!("where={}", encode(&terms.join(" OR ")))
}

/// The `where` filter finding contacts by number.
pub fn contacts_query(numbers: &[&str]) -> String {
    let terms: Vec<String> = numbers
        .iter()
        .map(|n| format!("ContactNumber==\"{}\"", quote(n)))
        .collect();
    format!("where={}", encode(&terms.join(" OR ")))
}

/// A text inside a `where` string literal.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Percent-encoding of a query value (RFC 3986 unreserved kept).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One of Xero's tax rates (`GET /TaxRates`).
#[derive(Debug, Clone, Deserialize)]
pub struct TaxRate {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "TaxType")]
    pub tax_type: String,
    #[serde(rename = "Status", default)]
    pub status: Option<String>,
}

/// Read `{"TaxRates": [...]}`.
pub fn tax_rates(body: &str) -> Result<Vec<TaxRate>, String> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "TaxRates")]
        rates: Vec<TaxRate>,
    }
    serde_json::from_str::<Body>(body)
        .map(|b| b.rates)
        .map_err(|e| format!("unreadable tax rates from Xero: {e}"))
}

/// The tax type code for a setting's value: a code Xero knows as it is,
/// else the code of the active rate of that name (ignoring case).
pub fn resolve_tax_type(setting: &str, value: &str, rates: &[TaxRate]) -> Result<String, String> {
    let active = |r: &&TaxRate| r.status.as_deref().is_none_or(|s| s == "ACTIVE");
    if let Some(r) = rates.iter().filter(active).find(|r| r.tax_type == value) {
        return Ok(r.tax_type.clone());
    }
    if let Some(r) = rates
        .iter()
        .filter(active)
        .find(|r| r.name.eq_ignore_ascii_case(value.trim()))
    {
        return Ok(r.tax_type.clone());
    }
    let names: Vec<String> = rates
        .iter()
        .filter(active)
        .map(|r| format!("'{}' ({})", r.name, r.tax_type))
        .collect();
    Err(format!(
        "{setting} = '{value}' is not an active tax rate of this Xero organisation; \
         set it to one of {} with billrun config set {setting} NAME",
        names.join(", ")
    ))
}

/// A payment read from `GET /Payments`.
#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub id: String,
    pub date: NaiveDate,
    pub amount: Decimal,
    pub reference: Option<String>,
    /// `AUTHORISED` or `DELETED`.
    pub status: String,
    /// `ACCRECPAYMENT`, `ARCREDITPAYMENT`, …
    pub payment_type: String,
    /// The account it was paid into: its name, else its code.
    pub account: Option<String>,
    pub invoice_number: Option<String>,
    pub contact_number: Option<String>,
}

/// Read `{"Payments": [...]}`. A payment without an id, date or amount is an
/// error naming it (nothing of the page is recorded).
pub fn payments(body: &str) -> Result<Vec<Payment>, String> {
    #[derive(Deserialize)]
    struct Acc {
        #[serde(rename = "Name")]
        name: Option<String>,
        #[serde(rename = "Code")]
        code: Option<String>,
    }
    #[derive(Deserialize)]
    struct C {
        #[serde(rename = "ContactNumber")]
        number: Option<String>,
    }
    #[derive(Deserialize)]
    struct Inv {
        #[serde(rename = "InvoiceNumber")]
        number: Option<String>,
        #[serde(rename = "Contact")]
        contact: Option<C>,
    }
    #[derive(Deserialize)]
    struct P {
        #[serde(rename = "PaymentID")]
        id: Option<String>,
        #[serde(rename = "Date")]
        date: Option<String>,
        #[serde(rename = "Amount")]
        amount: Option<Box<RawValue>>,
        #[serde(rename = "Reference")]
        reference: Option<String>,
        #[serde(rename = "Status")]
        status: Option<String>,
        #[serde(rename = "PaymentType")]
        payment_type: Option<String>,
        #[serde(rename = "Account")]
        account: Option<Acc>,
        #[serde(rename = "Invoice")]
        invoice: Option<Inv>,
    }
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Payments", default)]
        payments: Vec<P>,
    }
    let b: Body =
        serde_json::from_str(body).map_err(|e| format!("unreadable payments from Xero: {e}"))?;
    let nonempty = |s: Option<String>| s.filter(|s| !s.trim().is_empty());
    b.payments
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let id = nonempty(p.id).ok_or_else(|| format!("payment {} has no PaymentID", i + 1))?;
            let date = p
                .date
                .as_deref()
                .and_then(ms_date)
                .ok_or_else(|| format!("payment {id}: unreadable Date {:?}", p.date))?;
            let amount = p
                .amount
                .as_deref()
                .and_then(|r| decimal(r.get()))
                .ok_or_else(|| format!("payment {id}: unreadable Amount"))?;
            let (invoice_number, contact_number) = match p.invoice {
                Some(inv) => (
                    nonempty(inv.number),
                    nonempty(inv.contact.and_then(|c| c.number)),
                ),
                None => (None, None),
            };
            Ok(Payment {
                id,
                date,
                amount,
                reference: nonempty(p.reference),
                status: p.status.unwrap_or_else(|| "AUTHORISED".into()),
                payment_type: p.payment_type.unwrap_or_default(),
                account: p
                    .account
                    .and_then(|a| nonempty(a.name).or(nonempty(a.code))),
                invoice_number,
                contact_number,
            })
        })
        .collect()
}

/// Xero's JSON date `/Date(1543449600000+0000)/` (milliseconds since the
/// epoch, UTC) or an ISO date `2018-11-29T00:00:00`, as a date.
pub fn ms_date(s: &str) -> Option<NaiveDate> {
    if let Some(inner) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        let digits: String = inner
            .chars()
            .enumerate()
            .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '-'))
            .map(|(_, c)| c)
            .collect();
        let ms: i64 = digits.parse().ok()?;
        return chrono::DateTime::from_timestamp_millis(ms).map(|d| d.date_naive());
    }
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// Overlap of consecutive payments fetches: clocks differ, and a payment
/// saved in Xero while the last fetch ran must not be missed. Payments seen
/// twice are recorded once (by PaymentID).
pub const FETCH_OVERLAP_MINUTES: i64 = 10;

/// The `If-Modified-Since` of a fetch after one that started at `last`
/// (RFC 3339): [`FETCH_OVERLAP_MINUTES`] earlier. An unreadable time sends
/// none (everything is fetched again; nothing is recorded twice).
pub fn modified_since(last: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(last).ok()?;
    let t = t.with_timezone(&chrono::Utc) - chrono::Duration::minutes(FETCH_OVERLAP_MINUTES);
    Some(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Standard base64 (RFC 4648, with padding): the Basic credentials of the
/// token request.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a 429 answer asks for (Xero's `X-Rate-Limit-Problem`: `minute`,
/// `appminute`, `concurrent` or `day`; `Retry-After` in seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttle {
    /// Wait this many seconds, then send the same request again.
    Wait(u64),
    /// The organisation's daily limit: stop; this many seconds until it resets.
    Day(u64),
}

pub fn throttle(problem: Option<&str>, retry_after: Option<&str>) -> Throttle {
    let secs = retry_after
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(60);
    match problem.map(|p| p.trim().to_ascii_lowercase()) {
        Some(p) if p == "day" => Throttle::Day(secs),
        _ => Throttle::Wait(secs),
    }
}

/// The body of `PUT /CreditNotes/{CreditNoteID}/Allocations`: the whole
/// credit note (`amount`, tax included) against one invoice on `date`.
pub fn allocation_body(invoice_id: &str, amount: Decimal, date: NaiveDate) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct InvoiceRef<'a> {
        #[serde(rename = "InvoiceID")]
        invoice_id: &'a str,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Allocation<'a> {
        invoice: InvoiceRef<'a>,
        amount: Amount,
        date: String,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Body<'a> {
        allocations: Vec<Allocation<'a>>,
    }
    serde_json::to_string(&Body {
        allocations: vec![Allocation {
            invoice: InvoiceRef { invoice_id },
            amount: Amount::new(amount),
            date: date.to_string(),
        }],
    })
    .unwrap_or_default()
}

#[derive(Deserialize)]
struct AllocationRead {
    #[serde(rename = "Invoice")]
    invoice: Option<InvoiceIdRead>,
    #[serde(rename = "ValidationErrors", default)]
    errors: Vec<VError>,
}

#[derive(Deserialize)]
struct InvoiceIdRead {
    #[serde(rename = "InvoiceID")]
    id: Option<String>,
}

/// The invoices a credit note is allocated to, from `GET
/// /CreditNotes/{CreditNoteID}` (`{"CreditNotes": [{"Allocations": [{"Invoice":
/// {"InvoiceID"}}]}]}`).
pub fn allocated_invoices(body: &str) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Note {
        #[serde(rename = "Allocations", default)]
        allocations: Vec<AllocationRead>,
    }
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "CreditNotes", default)]
        notes: Vec<Note>,
    }
    let b: Body =
        serde_json::from_str(body).map_err(|e| format!("unreadable answer from Xero: {e}"))?;
    Ok(b.notes
        .into_iter()
        .flat_map(|n| n.allocations)
        .filter_map(|a| a.invoice.and_then(|i| i.id))
        .collect())
}

/// Xero's validation messages in an allocation answer (`{"Allocations":
/// [{"ValidationErrors": [{"Message"}]}]}`); empty: accepted.
pub fn allocation_errors(body: &str) -> Result<Vec<String>, String> {
    #[derive(Deserialize)]
    struct Body {
        #[serde(rename = "Allocations")]
        allocations: Vec<AllocationRead>,
    }
    let b: Body =
        serde_json::from_str(body).map_err(|e| format!("unreadable answer from Xero: {e}"))?;
    Ok(b.allocations
        .into_iter()
        .flat_map(|a| a.errors)
        .filter_map(|e| e.message)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_shapes() {
        let b = allocation_body(
            "c45720a1-ade3-4a38-a064-d15489be6841",
            Decimal::new(1200, 2),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        );
        assert_eq!(
            b,
            r#"{"Allocations":[{"Invoice":{"InvoiceID":"c45720a1-ade3-4a38-a064-d15489be6841"},"Amount":12.00,"Date":"2027-01-01"}]}"#
        );
        // The answer of xero_accounting.yaml's createCreditNoteAllocation example.
        let ok = r#"{"Id":"7345","Status":"OK","Allocations":[{"Amount":1.0,"Date":"/Date(1551744000000+0000)/","Invoice":{"InvoiceID":"c45720a1-ade3-4a38-a064-d15489be6841","LineItems":[]},"CreditNote":{"CreditNoteID":"7be5"},"ValidationErrors":[]}]}"#;
        assert!(allocation_errors(ok).unwrap().is_empty());
        let bad = r#"{"Allocations":[{"Amount":99.0,"ValidationErrors":[{"Message":"The amount exceeds the amount due"}]}]}"#;
        assert_eq!(
            allocation_errors(bad).unwrap(),
            ["The amount exceeds the amount due"]
        );
        let got = r#"{"CreditNotes":[{"CreditNoteID":"7be5","Allocations":[{"Amount":12.0,"Invoice":{"InvoiceID":"i-1"}}]}]}"#;
        assert_eq!(allocated_invoices(got).unwrap(), ["i-1"]);
        assert!(
            allocated_invoices(r#"{"CreditNotes":[{}]}"#)
                .unwrap()
                .is_empty()
        );
        assert!(allocation_errors("<html>").is_err());
    }
    use crate::domain::xero::Line;
    use rust_decimal_macros::dec;

    fn inv() -> Invoice {
        Invoice {
            id: 1,
            number: "INV-7".into(),
            account: "C1".into(),
            contact_name: "Kiln \"&\" Co".into(),
            email: Some("kiln@example.com".into()),
            address1: Some("16 Church Lane".into()),
            address2: None,
            town: Some("Manchester".into()),
            region: None,
            postcode: Some("M1 2WD".into()),
            invoice_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            currency: "GBP".into(),
            total_charges: dec!(30.60),
            tax: dec!(5.10),
            lines: vec![
                Line {
                    service: Some("441130000001".into()),
                    description: "Calls".into(),
                    amount: dec!(30.10),
                    taxable: true,
                },
                Line {
                    service: None,
                    description: "Goodwill".into(),
                    amount: dec!(-4.60),
                    taxable: false,
                },
            ],
        }
    }

    fn codes() -> ApiCodes {
        ApiCodes {
            account_code: "200".into(),
            tax_type: "OUTPUT2".into(),
            exempt_tax_type: "NONE".into(),
        }
    }

    #[test]
    fn an_invoice_is_sent_with_exact_numbers() {
        let d = document(DocKind::INVOICE, &inv(), "c-1", &codes());
        let body = documents_body(DocKind::INVOICE, &[d]);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let i = &v["Invoices"][0];
        assert_eq!(i["InvoiceNumber"], "INV-7");
        assert_eq!(i["Type"], "ACCREC");
        assert_eq!(i["Status"], "AUTHORISED");
        assert_eq!(i["LineAmountTypes"], "Exclusive");
        assert_eq!(i["Contact"]["ContactID"], "c-1");
        assert_eq!(i["Date"], "2026-12-01");
        assert_eq!(i["DueDate"], "2026-12-15");
        assert_eq!(i["Reference"], "C1");
        assert_eq!(i["CurrencyCode"], "GBP");
        assert_eq!(i["LineItems"][0]["TaxType"], "OUTPUT2");
        assert_eq!(i["LineItems"][1]["TaxType"], "NONE", "untaxed line");
        assert_eq!(i["LineItems"][0]["AccountCode"], "200");
        assert_eq!(i["LineItems"][0]["Description"], "441130000001: Calls");
        // The text holds the amounts exactly as two-decimal numbers.
        assert!(body.contains("\"UnitAmount\":30.10"), "{body}");
        assert!(body.contains("\"LineAmount\":-4.60"), "{body}");
        assert!(body.contains("\"Quantity\":1,"), "{body}");
    }

    #[test]
    fn a_contact_carries_number_name_email_and_postal_address() {
        let c = contacts_body(&[contact(&inv(), Some("c-1"))]);
        let v: serde_json::Value = serde_json::from_str(&c).unwrap();
        let c = &v["Contacts"][0];
        assert_eq!(c["ContactID"], "c-1");
        assert_eq!(c["ContactNumber"], "C1");
        assert_eq!(c["Name"], "Kiln \"&\" Co");
        assert_eq!(c["EmailAddress"], "kiln@example.com");
        assert_eq!(c["Addresses"][0]["AddressType"], "POBOX");
        assert_eq!(c["Addresses"][0]["City"], "Manchester");
        assert!(c["Addresses"][0].get("Region").is_none());
        let mut other = inv();
        assert_eq!(contact_fingerprint(&other), contact_fingerprint(&inv()));
        other.email = None;
        assert_ne!(contact_fingerprint(&other), contact_fingerprint(&inv()));
    }

    #[test]
    fn reads_per_item_results_and_errors() {
        // Shape of xero_accounting.yaml's PUT /Invoices examples with
        // summarizeErrors=false.
        let body = r#"{"Id":"x","Status":"OK","Invoices":[
          {"InvoiceID":"a1","InvoiceNumber":"INV-1","StatusAttributeString":"OK","Total":36.00,"ValidationErrors":[]},
          {"InvoiceID":"00000000-0000-0000-0000-000000000000","InvoiceNumber":"INV-2","StatusAttributeString":"ERROR","HasErrors":true,
           "ValidationErrors":[{"Message":"Account code '999' is not a valid code for this document."}]}]}"#;
        let r = item_results(body, "Invoices", "InvoiceID", "InvoiceNumber").unwrap();
        assert_eq!(r[0].id.as_deref(), Some("a1"));
        assert_eq!(r[0].total, Some(dec!(36.00)));
        assert!(r[0].errors.is_empty());
        assert_eq!(r[1].id, None);
        assert_eq!(r[1].number, "INV-2");
        assert_eq!(
            r[1].errors,
            ["Account code '999' is not a valid code for this document."]
        );
        assert!(item_results("<html>", "Invoices", "InvoiceID", "InvoiceNumber").is_err());
        assert_eq!(
            error_message(
                r#"{"ErrorNumber":10,"Type":"ValidationException","Message":"A validation exception occurred","Elements":[{"ValidationErrors":[{"Message":"Bad date"}]}]}"#
            ),
            "A validation exception occurred: Bad date"
        );
    }

    #[test]
    fn tax_types_resolve_by_code_or_name() {
        let rates = tax_rates(
            r#"{"TaxRates":[{"Name":"20% (VAT on Income)","TaxType":"OUTPUT2","Status":"ACTIVE"},
                {"Name":"No VAT","TaxType":"NONE","Status":"ACTIVE"},
                {"Name":"Old","TaxType":"OLD","Status":"DELETED"}]}"#,
        )
        .unwrap();
        assert_eq!(
            resolve_tax_type("xero.tax_type", "20% (VAT on Income)", &rates).unwrap(),
            "OUTPUT2"
        );
        assert_eq!(
            resolve_tax_type("xero.tax_type", "OUTPUT2", &rates).unwrap(),
            "OUTPUT2"
        );
        let e = resolve_tax_type("xero.tax_type", "OLD", &rates).unwrap_err();
        assert!(
            e.contains("'No VAT' (NONE)") && e.contains("config set"),
            "{e}"
        );
    }

    #[test]
    fn reads_payments_exactly() {
        // The /Payments example of xero_accounting.yaml, trimmed.
        let body = r#"{"Payments":[{"PaymentID":"99ea7f6b","Date":"/Date(1543449600000+0000)/",
          "Amount":46.10,"Reference":"","PaymentType":"ACCRECPAYMENT","Status":"AUTHORISED",
          "Account":{"AccountID":"5690","Code":"970"},
          "Invoice":{"Type":"ACCREC","InvoiceNumber":"INV-0002","Contact":{"ContactNumber":"C1","Name":"B"}}}]}"#;
        let p = payments(body).unwrap();
        assert_eq!(p[0].amount, dec!(46.10));
        assert_eq!(p[0].date, NaiveDate::from_ymd_opt(2018, 11, 29).unwrap());
        assert_eq!(p[0].reference, None);
        assert_eq!(p[0].account.as_deref(), Some("970"));
        assert_eq!(p[0].invoice_number.as_deref(), Some("INV-0002"));
        assert_eq!(p[0].contact_number.as_deref(), Some("C1"));
        assert!(payments(r#"{"Payments":[{"PaymentID":"x","Date":"junk","Amount":1}]}"#).is_err());
    }

    #[test]
    fn small_helpers() {
        assert_eq!(
            modified_since("2026-12-03T09:05:00Z").as_deref(),
            Some("2026-12-03T08:55:00Z")
        );
        assert_eq!(modified_since("junk"), None);
        assert_eq!(base64(b"id:secret"), "aWQ6c2VjcmV0");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(throttle(Some("day"), Some("3600")), Throttle::Day(3600));
        assert_eq!(throttle(Some("minute"), Some("7")), Throttle::Wait(7));
        assert_eq!(throttle(None, None), Throttle::Wait(60));
        assert_eq!(
            contacts_query(&["C1", "a\"b"]),
            "where=ContactNumber%3D%3D%22C1%22%20OR%20ContactNumber%3D%3D%22a%5C%22b%22"
        );
        assert_eq!(
            DocKind::INVOICE.lookup_query(&["INV-1", "INV 2"]),
            "InvoiceNumbers=INV-1%2CINV%202"
        );
        assert_eq!(
            ms_date("2026-12-01T00:00:00"),
            NaiveDate::from_ymd_opt(2026, 12, 1)
        );
    }
}
