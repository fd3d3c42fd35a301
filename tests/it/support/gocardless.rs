//! A fake GoCardless API on 127.0.0.1 for tests (`tiny_http`), built from
//! GoCardless's API reference and its official clients
//! (gocardless-pro-ruby: `idempotent_creation_conflict` →
//! `errors[0].links.conflicting_resource_id`, fetched on conflict):
//!
//! - every request must carry `Authorization: Bearer TOKEN` (else 401
//!   `invalid_api_usage`/`authentication_failed`) and `GoCardless-Version:
//!   2015-07-06` (else 400 `missing_version_header`);
//! - `POST /payments` wants `Content-Type: application/json`, an
//!   `Idempotency-Key`, and `{"payments": {amount > 0 (integer pence),
//!   currency "GBP", charge_date YYYY-MM-DD, links.mandate of a known
//!   mandate, reference <= 10 characters (Bacs) if sent, metadata <= 3
//!   keys}}` (else 422 `validation_failed` naming the field); it answers
//!   201 `{"payments": {... "status": "pending_submission"}}`. A key used
//!   before gets 409 `invalid_state` `idempotent_creation_conflict` with
//!   the existing payment's id — and creates nothing;
//! - `GET /payments/:id`; `GET /events` newest first, filtered by
//!   `created_at[gte]`, paged by `limit` and `after` with `meta.cursors`;
//! - [`FakeGoCardless::rate_limit_next`] answers the next requests 429 with
//!   `RateLimit-Reset`; [`FakeGoCardless::set_down`] answers 500 (type
//!   `gocardless`) until it is back.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tiny_http::{Header, Response, Server};

/// One request as received.
#[derive(Debug, Clone)]
pub struct GcRequest {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub version: Option<String>,
    pub idempotency_key: Option<String>,
    pub content_type: String,
    pub body: Value,
    pub status: u16,
}

#[derive(Default)]
struct State {
    token: String,
    mandates: Vec<String>,
    payments: Vec<Value>,
    keys: HashMap<String, String>,
    events: Vec<Value>,
    requests: Vec<GcRequest>,
    rate_limited: u32,
    /// Down: every request is answered 500 (and nothing is done).
    down: bool,
    clock: u32,
}

/// Handle to a running fake; stops when dropped.
pub struct FakeGoCardless {
    base_url: String,
    server: Arc<Server>,
    state: Arc<Mutex<State>>,
}

impl FakeGoCardless {
    /// Start, accepting `token`, with these mandates (`MD…`).
    pub fn start(token: &str, mandates: &[&str]) -> FakeGoCardless {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind fake GoCardless"));
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            token: token.to_owned(),
            mandates: mandates.iter().map(|m| m.to_string()).collect(),
            ..State::default()
        }));
        let (srv, st) = (Arc::clone(&server), Arc::clone(&state));
        std::thread::spawn(move || {
            for request in srv.incoming_requests() {
                handle(&st, request);
            }
        });
        FakeGoCardless {
            base_url: format!("http://127.0.0.1:{port}"),
            server,
            state,
        }
    }

    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn requests(&self) -> Vec<GcRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every payment created (never more than one per key).
    pub fn payments(&self) -> Vec<Value> {
        self.state.lock().unwrap().payments.clone()
    }

    /// An outage: while `down`, every request gets 500 with the error type
    /// `gocardless` (GoCardless's API reference, "Errors": an internal
    /// error on their side) and nothing is created.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// Answer the next `n` requests 429 (`RateLimit-Reset` now).
    pub fn rate_limit_next(&self, n: u32) {
        self.state.lock().unwrap().rate_limited = n;
    }

    /// Add an event (`resource_type` payments|mandates, `action`) about
    /// `id` (a `PM…` or `MD…`), with a cause and description; returns its id.
    pub fn event(&self, resource_type: &str, action: &str, id: &str, cause: &str) -> String {
        let mut st = self.state.lock().unwrap();
        st.clock += 1;
        let n = st.clock;
        let ev_id = format!("EV{n:06}");
        let link = if resource_type == "payments" {
            "payment"
        } else {
            "mandate"
        };
        // Fixed date, one second apart; the payment's status follows.
        let created = format!("2026-12-15T10:{:02}:{:02}.000Z", n / 60, n % 60);
        st.events.push(json!({
            "id": ev_id, "created_at": created, "resource_type": resource_type,
            "action": action, "links": { link: id },
            "details": { "origin": "bank", "cause": cause, "description": format!("The payment was {action}."),
                         "scheme": "bacs", "reason_code": "ARUDD-0" },
            "metadata": {}
        }));
        if let Some(p) = st.payments.iter_mut().find(|p| p["id"] == id) {
            p["status"] = json!(action);
        }
        ev_id
    }
}

impl Drop for FakeGoCardless {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn header(request: &tiny_http::Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_owned())
}

fn error(status: u16, kind: &str, reason: &str, message: &str, extra: Value) -> (u16, Value) {
    let mut e = json!({ "reason": reason, "message": message });
    if let (Some(e), Some(x)) = (e.as_object_mut(), extra.as_object()) {
        for (k, v) in x {
            e.insert(k.clone(), v.clone());
        }
    }
    (
        status,
        json!({ "error": {
            "message": message, "type": kind, "code": status, "request_id": "fake",
            "documentation_url": format!("https://developer.gocardless.com/api-reference#{reason}"),
            "errors": [e],
        }}),
    )
}

fn invalid(field: &str, message: &str) -> (u16, Value) {
    (
        422,
        json!({ "error": {
            "message": "Validation failed", "type": "validation_failed", "code": 422,
            "request_id": "fake",
            "documentation_url": "https://developer.gocardless.com/api-reference#validation_failed",
            "errors": [{ "field": field, "message": message,
                         "request_pointer": format!("/payments/{field}") }],
        }}),
    )
}

fn query(url: &str) -> HashMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn create(st: &mut State, key: Option<&str>, body: &Value) -> (u16, Value) {
    let Some(key) = key else {
        return invalid(
            "idempotency_key",
            "fake: billrun always sends an Idempotency-Key",
        );
    };
    if let Some(id) = st.keys.get(key) {
        return error(
            409,
            "invalid_state",
            "idempotent_creation_conflict",
            "A resource has already been created with this idempotency key",
            json!({ "links": { "conflicting_resource_id": id } }),
        );
    }
    let p = &body["payments"];
    if p["amount"].as_i64().is_none_or(|a| a <= 0) {
        return invalid("amount", "must be a positive integer (pence)");
    }
    if p["currency"] != "GBP" {
        return invalid("currency", "must be GBP for a Bacs mandate");
    }
    if p["charge_date"]
        .as_str()
        .is_none_or(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err())
    {
        return invalid("charge_date", "must be a date YYYY-MM-DD");
    }
    let mandate = p["links"]["mandate"].as_str().unwrap_or("");
    if !st.mandates.iter().any(|m| m == mandate) {
        return invalid("links.mandate", "not found");
    }
    if let Some(r) = p.get("reference")
        && r.as_str().is_none_or(|r| r.chars().count() > 10)
    {
        return invalid("reference", "is too long (maximum is 10 characters)");
    }
    if p["metadata"].as_object().is_some_and(|m| m.len() > 3) {
        return invalid("metadata", "has too many keys (maximum is 3)");
    }
    let id = format!("PM{:06}", st.payments.len() + 1);
    let payment = json!({
        "id": id, "created_at": "2026-12-02T09:00:00.000Z", "charge_date": p["charge_date"],
        "amount": p["amount"], "currency": "GBP", "status": "pending_submission",
        "reference": p.get("reference"), "metadata": p["metadata"],
        "links": { "mandate": mandate, "creditor": "CR000001" },
    });
    st.keys.insert(key.to_owned(), id);
    st.payments.push(payment.clone());
    (201, json!({ "payments": payment }))
}

fn events(st: &State, q: &HashMap<String, String>) -> (u16, Value) {
    let mut list: Vec<&Value> = st
        .events
        .iter()
        .filter(|e| {
            q.get("created_at[gte]")
                .is_none_or(|g| e["created_at"].as_str().unwrap_or("") >= g.as_str())
        })
        .collect();
    list.reverse(); // newest first, as GoCardless lists
    let start = match q.get("after") {
        Some(a) => list
            .iter()
            .position(|e| e["id"] == a.as_str())
            .map_or(list.len(), |i| i + 1),
        None => 0,
    };
    let limit: usize = q
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .min(2);
    let page: Vec<Value> = list
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| (*e).clone())
        .collect();
    let more = start + page.len() < list.len();
    let after = if more {
        page.last().map(|e| e["id"].clone())
    } else {
        None
    };
    (
        200,
        json!({ "events": page, "meta": { "cursors": { "before": null, "after": after }, "limit": limit } }),
    )
}

fn handle(state: &Mutex<State>, mut request: tiny_http::Request) {
    let mut text = String::new();
    let _ = request.as_reader().read_to_string(&mut text);
    let url = request.url().to_owned();
    let path = url.split('?').next().unwrap_or("").to_owned();
    let method = request.method().as_str().to_owned();
    let mut rec = GcRequest {
        method: method.clone(),
        path: url.clone(),
        authorization: header(&request, "Authorization"),
        version: header(&request, "GoCardless-Version"),
        idempotency_key: header(&request, "Idempotency-Key"),
        content_type: header(&request, "Content-Type").unwrap_or_default(),
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        status: 0,
    };
    let mut st = state.lock().unwrap();
    let mut rate_limited = false;
    let (status, body) = if rec.authorization.as_deref() != Some(&format!("Bearer {}", st.token)) {
        error(
            401,
            "invalid_api_usage",
            "authentication_failed",
            "Authentication failed",
            json!({}),
        )
    } else if rec.version.as_deref() != Some("2015-07-06") {
        error(
            400,
            "invalid_api_usage",
            "missing_version_header",
            "GoCardless-Version header missing",
            json!({}),
        )
    } else if st.down {
        error(
            500,
            "gocardless",
            "internal_server_error",
            "Uh-oh! Something went wrong on our side.",
            json!({}),
        )
    } else if st.rate_limited > 0 {
        st.rate_limited -= 1;
        rate_limited = true;
        error(
            429,
            "invalid_api_usage",
            "rate_limit_exceeded",
            "Rate limit exceeded",
            json!({}),
        )
    } else if method == "POST" && path == "/payments" {
        if !rec.content_type.starts_with("application/json") {
            error(
                415,
                "invalid_api_usage",
                "invalid_content_type",
                "Use application/json",
                json!({}),
            )
        } else {
            let body = rec.body.clone();
            create(&mut st, rec.idempotency_key.as_deref(), &body)
        }
    } else if method == "GET" && path.starts_with("/payments/") {
        let id = &path["/payments/".len()..];
        match st.payments.iter().find(|p| p["id"] == id) {
            Some(p) => (200, json!({ "payments": p })),
            None => error(
                404,
                "invalid_api_usage",
                "resource_not_found",
                "Resource not found",
                json!({}),
            ),
        }
    } else if method == "GET" && path == "/events" {
        events(&st, &query(&url))
    } else {
        error(
            404,
            "invalid_api_usage",
            "path_not_found",
            "Path not found",
            json!({}),
        )
    };
    rec.status = status;
    st.requests.push(rec);
    drop(st);
    let mut response = Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(Header::from_bytes("Content-Type", "application/json").unwrap());
    if rate_limited {
        response = response.with_header(
            Header::from_bytes("RateLimit-Reset", "Thu, 01 Jan 2015 00:00:00 GMT").unwrap(),
        );
    }
    let _ = request.respond(response);
}
