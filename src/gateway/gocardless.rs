//! Direct Debit through GoCardless's API (docs/collection.md,
//! `dd.provider gocardless`).
//!
//! Request and response shapes as GoCardless documents them
//! (developer.gocardless.com/api-reference, and the official clients
//! gocardless-pro-ruby / -python): JSON bodies wrapped in the resource name
//! (`{"payments": {...}}`), headers `Authorization: Bearer TOKEN`,
//! `GoCardless-Version: 2015-07-06`, `Idempotency-Key` on creation. A
//! repeated key is answered HTTP 409 with `error.type` `invalid_state` and
//! `error.errors[0].reason` `idempotent_creation_conflict`, the existing
//! payment's id in `error.errors[0].links.conflicting_resource_id`: the
//! clients then read that payment, and so does this one (never a second
//! creation). 429 carries `RateLimit-Reset` (an HTTP date or seconds):
//! waited for, within bounds, a bounded number of times.
//!
//! Results are values, never Rust errors; the token is never in one.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// The API version sent with every request.
pub const API_VERSION: &str = "2015-07-06";

/// One payment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// Pence (cents), positive.
    pub amount_minor: i64,
    /// ISO 4217, upper case (`GBP`).
    pub currency: String,
    /// `YYYY-MM-DD`.
    pub charge_date: String,
    /// The mandate (`MD…`).
    pub mandate: String,
    /// Shown on the customer's bank statement (Bacs: at most 10
    /// characters); `None`: not sent (GoCardless makes one).
    pub reference: Option<String>,
    /// `metadata` (GoCardless: at most 3 keys).
    pub metadata: Vec<(String, String)>,
    /// Recorded with the item before the request.
    pub idempotency_key: String,
}

/// What a create or a read led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// GoCardless has the payment (`PM…`) in `status`.
    Created { id: String, status: String },
    /// Refused (4xx other than 409/429): will not succeed as sent.
    Refused { reason: String },
    /// No answer (network, 5xx, 429 after the retries): the same key may
    /// be sent again.
    Unanswered { reason: String },
    /// HTTP 401/403: the token is wrong or lacks permission; nothing was
    /// created and no other request can succeed.
    TokenRefused { reason: String },
}

/// One event of `GET /events`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub id: String,
    pub created_at: String,
    pub resource_type: String,
    pub action: String,
    #[serde(default)]
    pub links: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub details: EventDetails,
}

/// An event's `details`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
pub struct EventDetails {
    pub cause: Option<String>,
    pub description: Option<String>,
    pub reason_code: Option<String>,
}

/// A blocking GoCardless client.
#[derive(Clone)]
pub struct GoCardlessClient {
    base: String,
    token: String,
    agent: ureq::Agent,
    /// Attempts per request (429, 5xx, network), at least 1.
    attempts: u32,
    /// Longest wait for a `RateLimit-Reset`, and the pause after a 5xx.
    max_wait: Duration,
}

impl fmt::Debug for GoCardlessClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoCardlessClient")
            .field("base", &self.base)
            .field("token", &"***")
            .finish()
    }
}

enum Step {
    Done(u16, String),
    Retry(String, Duration),
}

impl GoCardlessClient {
    /// A client for `api_base` (`gocardless.api_base`) with the token from
    /// `GOCARDLESS_ACCESS_TOKEN`.
    pub fn new(api_base: &str, token: String, timeout: Duration) -> GoCardlessClient {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("billrun/", env!("CARGO_PKG_VERSION")))
            .build();
        GoCardlessClient {
            base: api_base.trim_end_matches('/').to_owned(),
            token,
            agent: config.into(),
            attempts: 3,
            max_wait: Duration::from_secs(60),
        }
    }

    /// Shorter waits (tests; debug builds only).
    #[cfg(debug_assertions)]
    pub fn with_max_wait(mut self, max_wait: Duration) -> GoCardlessClient {
        self.max_wait = max_wait;
        self
    }

    /// `POST /payments`; on a repeated key, the existing payment.
    pub fn create_payment(&self, req: &PaymentRequest) -> PaymentOutcome {
        if req.idempotency_key.trim().is_empty() || req.amount_minor <= 0 {
            return PaymentOutcome::Refused {
                reason: "refusing to create a payment without an idempotency key or amount".into(),
            };
        }
        let metadata: serde_json::Map<String, Value> = req
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let mut payment = json!({
            "amount": req.amount_minor,
            "currency": req.currency.to_ascii_uppercase(),
            "charge_date": req.charge_date,
            "metadata": metadata,
            "links": { "mandate": req.mandate },
        });
        if let Some(r) = &req.reference {
            payment["reference"] = json!(r);
        }
        let body = json!({ "payments": payment }).to_string();
        let url = format!("{}/payments", self.base);
        match self.request(&url, Some((&req.idempotency_key, &body))) {
            Err(reason) => PaymentOutcome::Unanswered { reason },
            Ok((status, text)) if (200..300).contains(&status) => payment_of(status, &text),
            Ok((status @ (401 | 403), text)) => PaymentOutcome::TokenRefused {
                reason: describe(status, &text),
            },
            Ok((409, text)) => match conflicting_id(&text) {
                Some(id) => self.get_payment(&id),
                None => PaymentOutcome::Refused {
                    reason: describe(409, &text),
                },
            },
            Ok((status, text)) => PaymentOutcome::Refused {
                reason: describe(status, &text),
            },
        }
    }

    /// `GET /payments/:id`.
    pub fn get_payment(&self, id: &str) -> PaymentOutcome {
        if !is_id(id) {
            return PaymentOutcome::Refused {
                reason: format!("'{id}' is not a GoCardless id"),
            };
        }
        let url = format!("{}/payments/{id}", self.base);
        match self.request(&url, None) {
            Err(reason) => PaymentOutcome::Unanswered { reason },
            Ok((status, text)) if (200..300).contains(&status) => payment_of(status, &text),
            Ok((status @ (401 | 403), text)) => PaymentOutcome::TokenRefused {
                reason: describe(status, &text),
            },
            Ok((status, text)) => PaymentOutcome::Refused {
                reason: describe(status, &text),
            },
        }
    }

    /// Every event created at or after `since` (RFC 3339; `None`: all),
    /// oldest first, following `meta.cursors.after` page by page.
    pub fn events_since(&self, since: Option<&str>) -> Result<Vec<Event>, String> {
        #[derive(Deserialize)]
        struct Page {
            events: Vec<Event>,
            meta: Meta,
        }
        #[derive(Deserialize)]
        struct Meta {
            cursors: Cursors,
        }
        #[derive(Deserialize)]
        struct Cursors {
            after: Option<String>,
        }
        let mut out: Vec<Event> = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..1000 {
            let mut url = format!("{}/events?limit=500", self.base);
            if let Some(s) = since {
                url.push_str("&created_at%5Bgte%5D=");
                url.push_str(&encode(s));
            }
            if let Some(a) = &after {
                url.push_str("&after=");
                url.push_str(&encode(a));
            }
            let (status, text) = self.request(&url, None)?;
            if !(200..300).contains(&status) {
                return Err(describe(status, &text));
            }
            let page: Page = serde_json::from_str(&text)
                .map_err(|e| format!("HTTP {status} with unreadable events: {e}"))?;
            let done = page.events.is_empty() || page.meta.cursors.after.is_none();
            out.extend(page.events);
            if done {
                break;
            }
            after = page.meta.cursors.after;
        }
        out.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    /// One request with bounded retries; `Ok((status, body))` for any
    /// answer that is not worth retrying.
    fn request(&self, url: &str, post: Option<(&str, &str)>) -> Result<(u16, String), String> {
        let mut last = String::new();
        for n in 1..=self.attempts.max(1) {
            match self.attempt(url, post) {
                Step::Done(status, body) => return Ok((status, body)),
                Step::Retry(reason, wait) => {
                    last = reason;
                    if n < self.attempts {
                        std::thread::sleep(wait.min(self.max_wait));
                    }
                }
            }
        }
        Err(format!("{last} (gave up after {} attempts)", self.attempts))
    }

    fn attempt(&self, url: &str, post: Option<(&str, &str)>) -> Step {
        let auth = format!("Bearer {}", self.token);
        let sent = match post {
            Some((key, body)) => self
                .agent
                .post(url)
                .header("Authorization", &auth)
                .header("GoCardless-Version", API_VERSION)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", key)
                .send(body),
            None => self
                .agent
                .get(url)
                .header("Authorization", &auth)
                .header("GoCardless-Version", API_VERSION)
                .header("Accept", "application/json")
                .call(),
        };
        let mut response = match sent {
            Ok(r) => r,
            Err(e) if super::stripe::is_transient(&e) => {
                return Step::Retry(format!("network error: {e}"), Duration::from_secs(1));
            }
            Err(e) => return Step::Done(0, format!("cannot reach GoCardless: {e}")),
        };
        let status = response.status().as_u16();
        let reset = response
            .headers()
            .get("ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match response.body_mut().read_to_string() {
            Ok(b) => b,
            Err(e) => {
                return Step::Retry(
                    format!("HTTP {status}, reading: {e}"),
                    Duration::from_secs(1),
                );
            }
        };
        if status == 429 {
            return Step::Retry(describe(status, &body), reset_wait(reset.as_deref()));
        }
        if status >= 500 {
            return Step::Retry(describe(status, &body), Duration::from_secs(1));
        }
        Step::Done(status, body)
    }
}

/// How long to wait for `RateLimit-Reset`: seconds, or an HTTP date
/// (GoCardless sends the date the limit resets).
fn reset_wait(reset: Option<&str>) -> Duration {
    let Some(r) = reset.map(str::trim) else {
        return Duration::from_secs(1);
    };
    if let Ok(secs) = r.parse::<u64>() {
        return Duration::from_secs(secs);
    }
    match chrono::DateTime::parse_from_rfc2822(r) {
        Ok(t) => (t.to_utc() - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
        Err(_) => Duration::from_secs(1),
    }
}

/// Percent-encode a query value (everything but RFC 3986 unreserved).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

fn payment_of(status: u16, text: &str) -> PaymentOutcome {
    let v: Option<Value> = serde_json::from_str(text).ok();
    let p = v.as_ref().map(|v| &v["payments"]);
    match (
        p.and_then(|p| p["id"].as_str()),
        p.and_then(|p| p["status"].as_str()),
    ) {
        (Some(id), Some(st)) => PaymentOutcome::Created {
            id: id.to_owned(),
            status: st.to_owned(),
        },
        // GoCardless answered 2xx: the payment exists; a retry with the
        // same key finds it through the 409.
        _ => PaymentOutcome::Unanswered {
            reason: format!("HTTP {status} with an unreadable payment"),
        },
    }
}

/// The existing payment's id of a 409 `idempotent_creation_conflict`.
fn conflicting_id(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    v["error"]["errors"]
        .as_array()?
        .iter()
        .find(|e| e["reason"] == "idempotent_creation_conflict")?["links"]
        ["conflicting_resource_id"]
        .as_str()
        .map(str::to_owned)
}

/// `HTTP 422 validation_failed: reference is too long`, masked.
fn describe(status: u16, text: &str) -> String {
    let v: Option<Value> = serde_json::from_str(text).ok();
    let raw = match v.as_ref().map(|v| &v["error"]) {
        Some(e) if e.is_object() => {
            let details: Vec<String> = e["errors"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| {
                            let m = x["message"].as_str()?;
                            Some(match x["field"].as_str() {
                                Some(f) => format!("{f} {m}"),
                                None => m.to_owned(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!(
                "HTTP {status} {}: {}{}",
                e["type"].as_str().unwrap_or("error"),
                e["message"].as_str().unwrap_or("no message"),
                if details.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", details.join("; "))
                }
            )
        }
        _ => format!(
            "HTTP {status}: {}",
            text.chars().take(200).collect::<String>().trim()
        ),
    };
    crate::domain::redact::secrets(&raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_id_and_descriptions() {
        let conflict = r#"{"error":{"message":"A resource has already been created with this idempotency key","documentation_url":"https://developer.gocardless.com/api-reference#idempotent_creation_conflict","type":"invalid_state","request_id":"0429","code":409,"errors":[{"reason":"idempotent_creation_conflict","message":"A resource has already been created with this idempotency key","links":{"conflicting_resource_id":"PM0001"}}]}}"#;
        assert_eq!(conflicting_id(conflict).as_deref(), Some("PM0001"));
        assert_eq!(conflicting_id("{}"), None);
        let invalid = r#"{"error":{"type":"validation_failed","message":"Validation failed","code":422,"errors":[{"field":"reference","message":"is too long","request_pointer":"/payments/reference"}]}}"#;
        assert_eq!(
            describe(422, invalid),
            "HTTP 422 validation_failed: Validation failed (reference is too long)"
        );
        assert_eq!(reset_wait(Some("2")), Duration::from_secs(2));
        assert_eq!(
            reset_wait(Some("Thu, 01 Jan 2015 00:00:00 GMT")),
            Duration::ZERO
        );
    }
}

#[cfg(test)]
#[path = "../../tests/it/support/gocardless.rs"]
pub(crate) mod fake_gocardless;
