//! Xero's Accounting API as a custom connection (`xero.mode = api`).
//!
//! - The token: client-credentials grant, `POST {identity_base}/connect/token`
//!   with `Authorization: Basic base64(client_id:client_secret)` and
//!   `grant_type=client_credentials` (Xero's "Custom connections" guide;
//!   no `scope`: the token gets the scopes the connection was authorised
//!   for). The access token lives in memory only, and is fetched again on
//!   expiry or a 401. A custom connection is one organisation, so no
//!   `xero-tenant-id` header is needed.
//! - Every API request sends `Accept: application/json` (Xero answers XML
//!   otherwise) and, for writes, the caller's `Idempotency-Key`; each retry
//!   re-sends the same key.
//! - Rate limits (developer.xero.com/documentation/guides/oauth2/limits):
//!   a 429 names the limit in `X-Rate-Limit-Problem`; `minute`,
//!   `appminute` and `concurrent` are waited out (`Retry-After` seconds,
//!   up to [`MAX_WAIT`]) and the request sent again; `day` (or
//!   `X-DayLimit-Remaining: 0` seen on an earlier answer) stops with
//!   [`Fault::DayLimit`] before anything else is sent.
//! - 5xx and network failures are retried twice with the same key.
//!
//! Secrets never appear in `Debug`, errors or messages.

use crate::domain::xero_api::{self, Throttle};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::time::{Duration, Instant};

/// The longest `Retry-After` waited out; a longer one stops like the day limit.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// Why a request did not get an answer to work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The organisation's daily call limit is used up; resets in this many seconds.
    DayLimit(u64),
    /// Xero refused the client id/secret, or the token (401), or a scope (403).
    Refused(String),
    /// No usable answer after the retries (network, 5xx, long throttling).
    Unavailable(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::DayLimit(0) => f.write_str(
                "Xero's daily API call limit for this organisation is used up (a rolling 24-hour limit)",
            ),
            Fault::DayLimit(s) => write!(
                f,
                "Xero's daily API call limit for this organisation is used up (it resets in about {} h {} min)",
                s / 3600,
                (s % 3600) / 60
            ),
            Fault::Refused(m) | Fault::Unavailable(m) => f.write_str(m),
        }
    }
}

/// An answer: the status and body (2xx and 4xx other than 401/403/429).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A blocking Xero client for one command.
pub struct XeroClient {
    identity: String,
    api: String,
    client_id: String,
    secret: String,
    agent: ureq::Agent,
    token: RefCell<Option<(String, Instant)>>,
    day_remaining: Cell<Option<u64>>,
    /// Requests sent (tests and the report).
    pub calls: Cell<u64>,
}

impl fmt::Debug for XeroClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XeroClient")
            .field("identity", &self.identity)
            .field("api", &self.api)
            .field("client_id", &"***")
            .field("secret", &"***")
            .finish()
    }
}

/// A request.
pub struct Request<'a> {
    pub method: &'a str,
    /// Path and query under the API base, e.g. `/Invoices?summarizeErrors=false`.
    pub path: &'a str,
    pub body: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    /// RFC 3339 UTC.
    pub if_modified_since: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn get(path: &'a str) -> Request<'a> {
        Request {
            method: "GET",
            path,
            body: None,
            idempotency_key: None,
            if_modified_since: None,
        }
    }

    /// A create or update request with its body and Idempotency-Key.
    pub fn write(
        method: &'static str,
        path: &'a str,
        body: &'a str,
        idempotency_key: &'a str,
    ) -> Request<'a> {
        Request {
            method,
            path,
            body: Some(body),
            idempotency_key: Some(idempotency_key),
            if_modified_since: None,
        }
    }
}

impl XeroClient {
    /// A client for the settings' bases (checked https-or-loopback by the
    /// settings) with the credentials from the environment.
    pub fn new(
        identity_base: &str,
        api_base: &str,
        client_id: String,
        secret: String,
        timeout: Duration,
    ) -> XeroClient {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("billrun/", env!("CARGO_PKG_VERSION")))
            .build();
        XeroClient {
            identity: identity_base.trim_end_matches('/').to_owned(),
            api: api_base.trim_end_matches('/').to_owned(),
            client_id,
            secret,
            agent: config.into(),
            token: RefCell::new(None),
            day_remaining: Cell::new(None),
            calls: Cell::new(0),
        }
    }

    fn token(&self, renew: bool) -> Result<String, Fault> {
        if !renew
            && let Some((t, until)) = self.token.borrow().as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let url = format!("{}/connect/token", self.identity);
        let basic = xero_api::base64(format!("{}:{}", self.client_id, self.secret).as_bytes());
        let mut last = String::new();
        for attempt in 0..3 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500 * attempt));
            }
            self.calls.set(self.calls.get() + 1);
            let sent = self
                .agent
                .post(&url)
                .header("Authorization", &format!("Basic {basic}"))
                .header("Accept", "application/json")
                .send_form([("grant_type", "client_credentials")]);
            let mut r = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = format!("cannot reach Xero's identity server {}: {e}", self.identity);
                    continue;
                }
            };
            let status = r.status().as_u16();
            let body = r.body_mut().read_to_string().unwrap_or_default();
            if status >= 500 || status == 429 {
                last = format!("Xero's identity server answered HTTP {status}");
                continue;
            }
            if status != 200 {
                let why = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(String::from))
                    .unwrap_or_else(|| format!("HTTP {status}"));
                return Err(Fault::Refused(format!(
                    "Xero refused the custom connection's credentials ({why}): check \
                     XERO_CLIENT_ID and XERO_CLIENT_SECRET (Xero developer portal, the \
                     app's Configuration page) and that the connection is authorised"
                )));
            }
            #[derive(serde::Deserialize)]
            struct Tok {
                access_token: String,
                expires_in: Option<u64>,
            }
            let tok: Tok = serde_json::from_str(&body).map_err(|e| {
                Fault::Unavailable(format!("unreadable token answer from Xero: {e}"))
            })?;
            // Renew a minute before Xero's expiry (30 minutes today).
            let life = tok.expires_in.unwrap_or(1800).saturating_sub(60).max(1);
            *self.token.borrow_mut() = Some((
                tok.access_token.clone(),
                Instant::now() + Duration::from_secs(life),
            ));
            return Ok(tok.access_token);
        }
        Err(Fault::Unavailable(last))
    }

    /// Send `req`, honouring rate limits and retrying failures with the
    /// same idempotency key.
    pub fn send(&self, req: &Request<'_>) -> Result<Answer, Fault> {
        let url = format!("{}{}", self.api, req.path);
        let mut renewed = false;
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            if self.day_remaining.get() == Some(0) {
                return Err(Fault::DayLimit(0));
            }
            let token = self.token(false)?;
            self.calls.set(self.calls.get() + 1);
            let mut b = ureq::http::Request::builder()
                .method(req.method)
                .uri(&url)
                .header("Authorization", format!("Bearer {token}"))
                .header("Accept", "application/json");
            if let Some(k) = req.idempotency_key {
                b = b.header("Idempotency-Key", k);
            }
            if let Some(t) = req.if_modified_since {
                b = b.header("If-Modified-Since", t);
            }
            let sent = match req.body {
                Some(body) => b
                    .header("Content-Type", "application/json")
                    .body(body.to_owned())
                    .map_err(|e| Fault::Unavailable(format!("bad request: {e}")))
                    .and_then(|r| {
                        self.agent
                            .run(r)
                            .map_err(|e| Fault::Unavailable(e.to_string()))
                    }),
                None => b
                    .body(())
                    .map_err(|e| Fault::Unavailable(format!("bad request: {e}")))
                    .and_then(|r| {
                        self.agent
                            .run(r)
                            .map_err(|e| Fault::Unavailable(e.to_string()))
                    }),
            };
            let mut r = match sent {
                Ok(r) => r,
                Err(Fault::Unavailable(e)) if failures < 2 => {
                    failures += 1;
                    std::thread::sleep(Duration::from_millis(500 << failures));
                    let _ = e;
                    continue;
                }
                Err(e) => {
                    return Err(Fault::Unavailable(format!(
                        "cannot reach Xero at {}: {e}",
                        self.api
                    )));
                }
            };
            let status = r.status().as_u16();
            let header = |n: &str| {
                r.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(String::from)
            };
            if let Some(n) = header("X-DayLimit-Remaining").and_then(|v| v.trim().parse().ok()) {
                self.day_remaining.set(Some(n));
            }
            let problem = header("X-Rate-Limit-Problem");
            let retry_after = header("Retry-After");
            let body = r.body_mut().read_to_string().unwrap_or_default();
            match status {
                429 => match xero_api::throttle(problem.as_deref(), retry_after.as_deref()) {
                    Throttle::Day(s) => return Err(Fault::DayLimit(s)),
                    Throttle::Wait(s) if Duration::from_secs(s) <= MAX_WAIT && throttled < 5 => {
                        throttled += 1;
                        std::thread::sleep(Duration::from_secs(s));
                    }
                    Throttle::Wait(s) => {
                        return Err(Fault::Unavailable(format!(
                            "Xero keeps refusing requests (HTTP 429, {} limit; retry after {s} s)",
                            problem.as_deref().unwrap_or("rate")
                        )));
                    }
                },
                401 if !renewed => {
                    renewed = true;
                    self.token(true)?;
                }
                401 | 403 => {
                    return Err(Fault::Refused(format!(
                        "Xero refused {} {} (HTTP {status}: {}): check that the custom \
                         connection is authorised with the scopes billrun needs (README \
                         \"Xero through its API\")",
                        req.method,
                        req.path.split('?').next().unwrap_or(""),
                        xero_api::error_message(&body)
                    )));
                }
                s if s >= 500 && failures < 2 => {
                    failures += 1;
                    std::thread::sleep(Duration::from_millis(500 << failures));
                }
                s if s >= 500 => {
                    return Err(Fault::Unavailable(format!(
                        "Xero answered HTTP {s} ({})",
                        xero_api::error_message(&body)
                    )));
                }
                _ => return Ok(Answer { status, body }),
            }
        }
    }
}

#[cfg(test)]
#[path = "../../tests/it/support/xero.rs"]
pub(crate) mod fake_xero;
