//! A fake Stripe PaymentIntents endpoint on 127.0.0.1 for tests (`tiny_http`).
//!
//! Like Stripe it checks the API key (401), the method and path (404), the
//! form encoding and required fields (400), and it keeps the result of every
//! request that reached "the endpoint" under its `Idempotency-Key`: a repeated
//! key gets the stored response again (with `Idempotent-Replayed: true`)
//! without consuming the script, so nothing is charged twice. Scripted 409,
//! 429 and 5xx replies stand for failures before the endpoint ran and are not
//! stored, so a retry with the same key proceeds to the next scripted reply.
//!
//! A repeated key with *different* parameters is answered as Stripe
//! documents it (docs.stripe.com/api/idempotent-requests, "compares incoming
//! parameters to those of the original request and errors if they're not
//! the same"; docs.stripe.com/error-low-level: HTTP 400, type
//! `idempotency_error`). `GET /v1/payment_intents/:id` answers the intent as
//! last created or as set with [`FakeStripe::set_intent`] (404
//! `resource_missing` otherwise). A PaymentMethod registered with
//! [`FakeStripe::attach`] can only be charged with its Customer, as on
//! Stripe.
//!
//! Used by the unit tests of `src/gateway/stripe.rs` (through `#[path]`) and
//! by integration tests (`mod support;` with `pub mod stripe;`).
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tiny_http::{Header, Response, Server};

/// A scripted HTTP reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

impl Reply {
    /// 200 with a PaymentIntent in `status`.
    pub fn intent(id: &str, status: &str) -> Reply {
        let body = serde_json::json!({
            "id": id,
            "object": "payment_intent",
            "status": status,
        });
        Reply {
            status: 200,
            body: body.to_string(),
        }
    }

    /// 402 `card_error` with the PaymentIntent it created.
    pub fn card_declined(id: &str, code: &str, decline_code: Option<&str>, message: &str) -> Reply {
        let body = serde_json::json!({
            "error": {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": message,
                "payment_intent": { "id": id, "status": "requires_payment_method" },
            }
        });
        Reply {
            status: 402,
            body: body.to_string(),
        }
    }

    /// Any error status with Stripe's error shape.
    pub fn error(status: u16, kind: &str, message: &str) -> Reply {
        let body = serde_json::json!({ "error": { "type": kind, "message": message } });
        Reply {
            status,
            body: body.to_string(),
        }
    }
}

impl Reply {
    /// 401 as Stripe answers a wrong key: its documented error body, the
    /// key shown as `sk_test_****` and its last 4 characters (from the
    /// `Authorization` header sent).
    pub fn invalid_api_key(authorization: &str) -> Reply {
        let key = authorization.strip_prefix("Bearer ").unwrap_or("");
        let prefix: String = key.split('_').take(2).map(|p| format!("{p}_")).collect();
        let last4 = &key[key.len().saturating_sub(4)..];
        Reply::error(
            401,
            "invalid_request_error",
            &format!("Invalid API Key provided: {prefix}****{last4}"),
        )
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// `Content-Type` header ("" when absent).
    pub content_type: String,
    /// The decoded form body, in order.
    pub form: Vec<(String, String)>,
    /// Whether the answer was a stored result for a repeated key.
    pub replayed: bool,
}

impl RecordedRequest {
    /// The value of a form field, if sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    api_key: String,
    script: VecDeque<Reply>,
    /// Per idempotency key: the form first sent and the stored reply.
    stored: HashMap<String, (Vec<(String, String)>, Reply)>,
    /// PaymentIntents by id: their current JSON.
    intents: HashMap<String, String>,
    /// PaymentMethod -> the Customer it is attached to.
    attached: HashMap<String, String>,
    requests: Vec<RecordedRequest>,
    charges: usize,
}

/// Handle to a running fake; stops the server when dropped.
pub struct FakeStripe {
    base_url: String,
    server: Arc<Server>,
    state: Arc<Mutex<State>>,
}

impl FakeStripe {
    /// Start on a free port, accepting `api_key`, answering new requests with
    /// `script` in order (500 once the script is used up).
    pub fn start(api_key: &str, script: Vec<Reply>) -> FakeStripe {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind fake Stripe"));
        let port = server.server_addr().to_ip().expect("TCP address").port();
        let state = Arc::new(Mutex::new(State {
            api_key: api_key.to_owned(),
            script: script.into(),
            stored: HashMap::new(),
            intents: HashMap::new(),
            attached: HashMap::new(),
            requests: Vec::new(),
            charges: 0,
        }));
        let (srv, st) = (Arc::clone(&server), Arc::clone(&state));
        std::thread::spawn(move || {
            for request in srv.incoming_requests() {
                handle(&st, request);
            }
        });
        FakeStripe {
            base_url: format!("http://127.0.0.1:{port}"),
            server,
            state,
        }
    }

    /// `http://127.0.0.1:PORT`, to use as `stripe.api_base`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Set what `GET /v1/payment_intents/ID` answers: a PaymentIntent with
    /// `status` (e.g. a `processing` intent that has since succeeded).
    pub fn set_intent(&self, reply: Reply) {
        let id = serde_json::from_str::<serde_json::Value>(&reply.body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        self.state.lock().unwrap().intents.insert(id, reply.body);
    }

    /// Attach `payment_method` to `customer`: a PaymentIntent for it must
    /// then name that Customer (Stripe answers 400 otherwise).
    pub fn attach(&self, payment_method: &str, customer: &str) {
        self.state
            .lock()
            .unwrap()
            .attached
            .insert(payment_method.to_owned(), customer.to_owned());
    }

    /// How many requests were answered 2xx by "the endpoint" (not counting
    /// replays of a stored result): the number of charges made.
    pub fn charges(&self) -> usize {
        self.state.lock().unwrap().charges
    }
}

impl Drop for FakeStripe {
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

fn handle(state: &Mutex<State>, mut request: tiny_http::Request) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let mut recorded = RecordedRequest {
        method: request.method().as_str().to_owned(),
        path: request.url().to_owned(),
        authorization: header(&request, "Authorization"),
        idempotency_key: header(&request, "Idempotency-Key"),
        content_type: header(&request, "Content-Type").unwrap_or_default(),
        form: form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect(),
        replayed: false,
    };

    let mut st = state.lock().unwrap();
    let auth_ok =
        recorded.authorization.as_deref() == Some(format!("Bearer {}", st.api_key).as_str());
    let get_id = recorded
        .path
        .strip_prefix("/v1/payment_intents/")
        .filter(|id| !id.is_empty() && !id.contains(['/', '?']))
        .map(str::to_owned);
    let reply = if recorded.method == "GET" && get_id.is_some() {
        let id = get_id.unwrap_or_default();
        if !auth_ok {
            Reply::invalid_api_key(recorded.authorization.as_deref().unwrap_or(""))
        } else if recorded.idempotency_key.is_some() || !body.is_empty() {
            Reply::error(
                400,
                "invalid_request_error",
                "fake Stripe: a GET carries no key or body",
            )
        } else {
            match st.intents.get(&id) {
                Some(intent) => Reply {
                    status: 200,
                    body: intent.clone(),
                },
                None => {
                    let body = serde_json::json!({ "error": {
                        "type": "invalid_request_error", "code": "resource_missing",
                        "param": "intent",
                        "message": format!("No such payment_intent: '{id}'"),
                    }});
                    Reply {
                        status: 404,
                        body: body.to_string(),
                    }
                }
            }
        }
    } else if recorded.method != "POST" || recorded.path != "/v1/payment_intents" {
        Reply::error(404, "invalid_request_error", "Unrecognized request URL")
    } else if !auth_ok {
        Reply::invalid_api_key(recorded.authorization.as_deref().unwrap_or(""))
    } else if !recorded
        .content_type
        .starts_with("application/x-www-form-urlencoded")
    {
        Reply::error(400, "invalid_request_error", "Expected a form-encoded body")
    } else if let Some(missing) = ["amount", "currency", "payment_method", "confirm"]
        .into_iter()
        .find(|f| recorded.field(f).is_none())
    {
        Reply::error(
            400,
            "invalid_request_error",
            &format!("Missing required param: {missing}."),
        )
    } else if let Some((form, stored)) = recorded
        .idempotency_key
        .as_ref()
        .and_then(|k| st.stored.get(k))
        .cloned()
    {
        if form == recorded.form {
            recorded.replayed = true;
            stored
        } else {
            let key = recorded.idempotency_key.clone().unwrap_or_default();
            Reply::error(
                400,
                "idempotency_error",
                &format!(
                    "Keys for idempotent requests can only be used with the same parameters they \
                     were first used with. Try using a key other than '{key}' if you meant to \
                     execute a different request."
                ),
            )
        }
    } else if let Some(pm) = recorded.field("payment_method").filter(|pm| {
        st.attached
            .get(*pm)
            .is_some_and(|owner| recorded.field("customer") != Some(owner.as_str()))
    }) {
        Reply::error(
            400,
            "invalid_request_error",
            &format!(
                "The provided PaymentMethod {pm} belongs to a Customer; pass that Customer as \
                 `customer` to use it."
            ),
        )
    } else {
        let reply = st
            .script
            .pop_front()
            .unwrap_or_else(|| Reply::error(500, "api_error", "fake Stripe: script exhausted"));
        let before_endpoint = matches!(reply.status, 409 | 429) || reply.status >= 500;
        if !before_endpoint {
            if reply.status < 300 {
                st.charges += 1;
                if let Some(id) = serde_json::from_str::<serde_json::Value>(&reply.body)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_owned))
                {
                    st.intents.entry(id).or_insert_with(|| reply.body.clone());
                }
            }
            if let Some(key) = &recorded.idempotency_key {
                st.stored
                    .insert(key.clone(), (recorded.form.clone(), reply.clone()));
            }
        }
        reply
    };
    let replayed = recorded.replayed;
    st.requests.push(recorded);
    drop(st);

    let mut response = Response::from_string(reply.body)
        .with_status_code(reply.status)
        .with_header(Header::from_bytes("Content-Type", "application/json").unwrap());
    if replayed {
        response = response.with_header(Header::from_bytes("Idempotent-Replayed", "true").unwrap());
    }
    let _ = request.respond(response);
}
