//! Card collection through Stripe's PaymentIntents API (docs/collection.md, `collect card`).
//!
//! One call creates and confirms a PaymentIntent off-session for a saved card
//! (`pm_…`). Every request carries the caller's `Idempotency-Key` (one per
//! invoice and attempt), and every retry re-sends the *same* key, so Stripe
//! returns the first result instead of charging again: a retry after a timeout,
//! a 5xx, a 429 or a crash never charges twice.
//!
//! The result is always a [`ChargeOutcome`] value, never a Rust error, so a
//! payment run records each invoice's result and goes on with the next.
//! The API key is sent only in the `Authorization` header; it is never put in
//! an outcome, an error message or `Debug` output.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// One charge to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// Amount in minor units (pence, cents); must be positive.
    pub amount_minor: i64,
    /// ISO 4217 code, lowercase as Stripe wants it (`gbp`); lowercased if not.
    pub currency: String,
    /// The customer's saved payment method (card token, `pm_…`).
    pub payment_method: String,
    /// Stripe customer id (`cus_…`) the payment method belongs to, if any.
    pub customer: Option<String>,
    /// Shown in the Stripe dashboard, e.g. `Invoice INV-000123`.
    pub description: String,
    /// One key per invoice and attempt; re-sent unchanged on every retry.
    pub idempotency_key: String,
    /// Sent as `metadata[KEY]=VALUE` (e.g. `invoice`, `account`).
    pub metadata: Vec<(String, String)>,
}

/// What became of a charge: a domain value (`domain::collect`), since
/// what it does to a payment item is a collection rule.
pub use crate::domain::collect::ChargeOutcome;

/// How often and how patiently to retry 409, 429, 5xx and network failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, including the first (at least 1).
    pub attempts: u32,
    /// Pause before the second attempt; doubled for each later one.
    pub first_delay: Duration,
    /// Upper bound of any one pause.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, pausing 0.5 s then 1 s (at most 4 s).
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(4),
        }
    }
}

/// A blocking client for `POST /v1/payment_intents`.
#[derive(Clone)]
pub struct StripeClient {
    base: String,
    api_key: String,
    agent: ureq::Agent,
    retry: RetryPolicy,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient")
            .field("base", &self.base)
            .field("api_key", &"***")
            .field("retry", &self.retry)
            .finish()
    }
}

/// What one HTTP attempt led to.
enum Step {
    Done(ChargeOutcome),
    /// Worth another attempt with the same key; the text says why.
    Retry(String),
}

impl StripeClient {
    /// A client for `api_base` (`stripe.api_base`, e.g. [`DEFAULT_API_BASE`];
    /// a trailing `/` is ignored) with the secret key from `STRIPE_API_KEY`.
    /// `timeout` bounds each attempt as a whole (connect, send, response).
    pub fn new(api_base: &str, api_key: String, timeout: Duration) -> StripeClient {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("billrun/", env!("CARGO_PKG_VERSION")))
            .build();
        StripeClient {
            base: api_base.trim_end_matches('/').to_owned(),
            api_key,
            agent: config.into(),
            retry: RetryPolicy::default(),
        }
    }

    /// Replace the retry policy (tests use millisecond pauses).
    #[cfg(test)]
    pub fn with_retry(mut self, retry: RetryPolicy) -> StripeClient {
        self.retry = retry;
        self
    }

    /// Create and confirm a PaymentIntent off-session for `req`.
    ///
    /// 409, 429, 5xx and network failures are retried with the same
    /// idempotency key, pausing with exponential backoff, up to the policy's
    /// attempts; after that the outcome is `Failed { retryable: true }`.
    pub fn create_payment_intent(&self, req: &ChargeRequest) -> ChargeOutcome {
        if let Some(problem) = invalid(req) {
            return ChargeOutcome::Failed {
                reason: problem,
                retryable: false,
            };
        }
        let url = format!("{}/v1/payment_intents", self.base);
        let form = form_fields(req);
        self.with_retries(|| self.attempt(&url, Some((&req.idempotency_key, &form))))
    }

    /// Read a PaymentIntent (`GET /v1/payment_intents/:id`), for `collect
    /// sync`: its status is mapped exactly as the answer to the charge
    /// would have been. Retries as [`Self::create_payment_intent`] (a GET
    /// changes nothing).
    pub fn retrieve_payment_intent(&self, id: &str) -> ChargeOutcome {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return ChargeOutcome::Failed {
                reason: format!("'{id}' is not a PaymentIntent id"),
                retryable: false,
            };
        }
        let url = format!("{}/v1/payment_intents/{id}", self.base);
        self.with_retries(|| self.attempt(&url, None))
    }

    /// Run `attempt` up to the policy's attempts, pausing with exponential
    /// backoff; after that the outcome is `Failed { retryable: true }`.
    fn with_retries(&self, attempt: impl Fn() -> Step) -> ChargeOutcome {
        let attempts = self.retry.attempts.max(1);
        let mut delay = self.retry.first_delay;
        let mut last = String::new();
        for n in 1..=attempts {
            match attempt() {
                Step::Done(outcome) => return outcome,
                Step::Retry(reason) => last = reason,
            }
            if n < attempts {
                std::thread::sleep(delay);
                delay = (delay * 2).min(self.retry.max_delay);
            }
        }
        ChargeOutcome::Failed {
            reason: format!("{last} (gave up after {attempts} attempts)"),
            retryable: true,
        }
    }

    /// One HTTP request and its classification: a POST of `form` with its
    /// idempotency key, or (`None`) a GET.
    fn attempt(&self, url: &str, post: Option<(&str, &[(String, String)])>) -> Step {
        let auth = format!("Bearer {}", self.api_key);
        let sent = match post {
            Some((key, form)) => self
                .agent
                .post(url)
                .header("Authorization", &auth)
                .header("Idempotency-Key", key)
                .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
            None => self.agent.get(url).header("Authorization", &auth).call(),
        };
        let mut response = match sent {
            Ok(response) => response,
            Err(e) if is_transient(&e) => return Step::Retry(format!("network error: {e}")),
            Err(e) => {
                return Step::Done(ChargeOutcome::Failed {
                    reason: format!("cannot reach Stripe at {}: {e}", self.base),
                    retryable: false,
                });
            }
        };
        let status = response.status().as_u16();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("true"));
        let body = match response.body_mut().read_to_string() {
            Ok(body) => body,
            // The request reached Stripe; a retry with the same key returns
            // the stored result instead of charging again.
            Err(e) => return Step::Retry(format!("HTTP {status}, reading the response: {e}")),
        };
        classify(status, should_retry, &body)
    }
}

/// Refuse requests that must never be sent (no key means no protection
/// against charging twice).
fn invalid(req: &ChargeRequest) -> Option<String> {
    if req.idempotency_key.trim().is_empty() {
        Some("refusing to charge without an idempotency key".to_owned())
    } else if req.amount_minor <= 0 {
        Some(format!(
            "amount must be positive, got {} minor units",
            req.amount_minor
        ))
    } else if req.payment_method.trim().is_empty() {
        Some("no payment method (card token) for this customer".to_owned())
    } else {
        None
    }
}

/// The form body of the request, in a fixed order.
fn form_fields(req: &ChargeRequest) -> Vec<(String, String)> {
    let mut form = vec![
        ("amount".to_owned(), req.amount_minor.to_string()),
        ("currency".to_owned(), req.currency.to_ascii_lowercase()),
        ("payment_method".to_owned(), req.payment_method.clone()),
    ];
    if let Some(customer) = &req.customer {
        form.push(("customer".to_owned(), customer.clone()));
    }
    form.push(("confirm".to_owned(), "true".to_owned()));
    form.push(("off_session".to_owned(), "true".to_owned()));
    form.push(("description".to_owned(), req.description.clone()));
    for (key, value) in &req.metadata {
        form.push((format!("metadata[{key}]"), value.clone()));
    }
    form
}

/// Network-level failures worth retrying with the same idempotency key.
pub(crate) fn is_transient(e: &ureq::Error) -> bool {
    matches!(
        e,
        ureq::Error::Io(_)
            | ureq::Error::Timeout(_)
            | ureq::Error::ConnectionFailed
            | ureq::Error::HostNotFound
            | ureq::Error::Protocol(_)
            | ureq::Error::BodyStalled
    )
}

#[derive(Deserialize)]
struct Intent {
    id: String,
    status: String,
    last_payment_error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ApiError,
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    message: Option<String>,
    payment_intent: Option<IntentRef>,
}

#[derive(Deserialize)]
struct IntentRef {
    id: String,
}

/// Turn one HTTP response into an outcome or a reason to retry.
fn classify(status: u16, should_retry: Option<bool>, body: &str) -> Step {
    if (200..300).contains(&status) {
        return Step::Done(match serde_json::from_str::<Intent>(body) {
            Ok(intent) => intent_outcome(intent),
            // Stripe answered 2xx, so a charge may exist: a later attempt with
            // the same key gets the stored result.
            Err(e) => ChargeOutcome::Failed {
                reason: format!("HTTP {status} with an unreadable PaymentIntent: {e}"),
                retryable: true,
            },
        });
    }
    let error = serde_json::from_str::<ErrorBody>(body)
        .ok()
        .map(|b| b.error);
    let reason = describe(status, error.as_ref(), body);
    if status == 402 {
        let error = error.unwrap_or(ApiError {
            kind: None,
            code: None,
            decline_code: None,
            message: None,
            payment_intent: None,
        });
        return Step::Done(ChargeOutcome::Declined {
            code: error.code.unwrap_or_else(|| "card_declined".to_owned()),
            decline_code: error.decline_code,
            message: error.message.unwrap_or(reason),
            id: error.payment_intent.map(|p| p.id),
        });
    }
    // 401: the key is wrong, revoked or of another account; 403: a
    // restricted key without the permission. Stripe handles neither as a
    // request (no charge, no idempotent result), and no other charge with
    // this key can succeed: the caller stops the batch.
    if status == 401 || status == 403 {
        return Step::Done(ChargeOutcome::KeyRefused { reason });
    }
    let busy = status == 409 || status == 429 || status >= 500;
    match (should_retry.unwrap_or(busy), busy) {
        (true, _) => Step::Retry(reason),
        (false, busy) => Step::Done(ChargeOutcome::Failed {
            reason,
            retryable: busy,
        }),
    }
}

/// `HTTP 400 invalid_request_error: No such PaymentMethod: 'pm_x'`, with
/// anything that looks like a secret masked (`domain::redact`).
fn describe(status: u16, error: Option<&ApiError>, body: &str) -> String {
    crate::domain::redact::secrets(&describe_raw(status, error, body))
}

fn describe_raw(status: u16, error: Option<&ApiError>, body: &str) -> String {
    match error {
        Some(e) => {
            let kind = e.kind.as_deref().unwrap_or("error");
            let code = e
                .code
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            let message = e.message.as_deref().unwrap_or("no message");
            format!("HTTP {status} {kind}{code}: {message}")
        }
        None => {
            let snippet: String = body.chars().take(200).collect();
            format!("HTTP {status}: {}", snippet.trim())
        }
    }
}

/// Map a PaymentIntent's status to an outcome.
fn intent_outcome(intent: Intent) -> ChargeOutcome {
    match intent.status.as_str() {
        "succeeded" => ChargeOutcome::Succeeded { id: intent.id },
        "requires_action" => ChargeOutcome::RequiresAction { id: intent.id },
        "processing" | "requires_capture" => ChargeOutcome::Pending {
            id: intent.id,
            status: intent.status,
        },
        "requires_payment_method" => {
            let e = intent.last_payment_error;
            ChargeOutcome::Declined {
                code: e
                    .as_ref()
                    .and_then(|e| e.code.clone())
                    .unwrap_or_else(|| "requires_payment_method".to_owned()),
                decline_code: e.as_ref().and_then(|e| e.decline_code.clone()),
                message: e
                    .and_then(|e| e.message)
                    .unwrap_or_else(|| "the payment method was refused".to_owned()),
                id: Some(intent.id),
            }
        }
        other => ChargeOutcome::Failed {
            reason: format!("PaymentIntent {} has unexpected status {other}", intent.id),
            retryable: false,
        },
    }
}

#[cfg(test)]
#[path = "../../tests/it/support/stripe.rs"]
pub(crate) mod fake_stripe;

#[cfg(test)]
mod tests {
    use super::fake_stripe::{FakeStripe, Reply};
    use super::*;

    const KEY: &str = "sk_test_51SecretKeyNeverShown";

    fn fast() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(40),
        }
    }

    fn client(fake: &FakeStripe) -> StripeClient {
        StripeClient::new(&fake.base_url(), KEY.to_owned(), Duration::from_secs(5))
            .with_retry(fast())
    }

    fn request(key: &str) -> ChargeRequest {
        ChargeRequest {
            amount_minor: 1230,
            currency: "GBP".to_owned(),
            payment_method: "pm_card_visa".to_owned(),
            customer: Some("cus_123".to_owned()),
            description: "Invoice INV-000001".to_owned(),
            idempotency_key: key.to_owned(),
            metadata: vec![
                ("invoice".to_owned(), "INV-000001".to_owned()),
                ("account".to_owned(), "A100".to_owned()),
            ],
        }
    }

    #[test]
    fn succeeded_and_request_is_well_formed() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_1", "succeeded")]);
        let outcome = client(&fake).create_payment_intent(&request("INV-000001-1"));
        assert_eq!(
            outcome,
            ChargeOutcome::Succeeded {
                id: "pi_1".to_owned()
            }
        );

        let reqs = fake.requests();
        assert_eq!(reqs.len(), 1);
        let r = &reqs[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/v1/payment_intents");
        assert_eq!(
            r.authorization.as_deref(),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(r.idempotency_key.as_deref(), Some("INV-000001-1"));
        assert!(
            r.content_type
                .starts_with("application/x-www-form-urlencoded")
        );
        for (name, value) in [
            ("amount", "1230"),
            ("currency", "gbp"),
            ("payment_method", "pm_card_visa"),
            ("customer", "cus_123"),
            ("confirm", "true"),
            ("off_session", "true"),
            ("description", "Invoice INV-000001"),
            ("metadata[invoice]", "INV-000001"),
            ("metadata[account]", "A100"),
        ] {
            assert_eq!(r.field(name), Some(value), "field {name}");
        }
    }

    #[test]
    fn customer_is_optional() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_2", "succeeded")]);
        let mut req = request("k-2");
        req.customer = None;
        client(&fake).create_payment_intent(&req);
        assert_eq!(fake.requests()[0].field("customer"), None);
    }

    #[test]
    fn requires_action() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_3ds", "requires_action")]);
        let outcome = client(&fake).create_payment_intent(&request("k-3"));
        assert_eq!(
            outcome,
            ChargeOutcome::RequiresAction {
                id: "pi_3ds".to_owned()
            }
        );
    }

    #[test]
    fn processing_is_pending_not_success() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_p", "processing")]);
        let outcome = client(&fake).create_payment_intent(&request("k-p"));
        assert_eq!(
            outcome,
            ChargeOutcome::Pending {
                id: "pi_p".to_owned(),
                status: "processing".to_owned()
            }
        );
    }

    #[test]
    fn card_declined_402() {
        let fake = FakeStripe::start(
            KEY,
            vec![Reply::card_declined(
                "pi_d",
                "card_declined",
                Some("insufficient_funds"),
                "Your card has insufficient funds.",
            )],
        );
        let outcome = client(&fake).create_payment_intent(&request("k-4"));
        assert_eq!(
            outcome,
            ChargeOutcome::Declined {
                code: "card_declined".to_owned(),
                decline_code: Some("insufficient_funds".to_owned()),
                message: "Your card has insufficient funds.".to_owned(),
                id: Some("pi_d".to_owned()),
            }
        );
        assert_eq!(fake.requests().len(), 1, "a decline is not retried");
    }

    #[test]
    fn server_error_then_success_reuses_the_key() {
        let fake = FakeStripe::start(
            KEY,
            vec![
                Reply::error(500, "api_error", "Something went wrong"),
                Reply::intent("pi_5", "succeeded"),
            ],
        );
        let outcome = client(&fake).create_payment_intent(&request("INV-000005-1"));
        assert_eq!(
            outcome,
            ChargeOutcome::Succeeded {
                id: "pi_5".to_owned()
            }
        );
        let keys: Vec<_> = fake
            .requests()
            .into_iter()
            .map(|r| r.idempotency_key)
            .collect();
        assert_eq!(keys, vec![Some("INV-000005-1".to_owned()); 2]);
    }

    #[test]
    fn rate_limited_until_attempts_run_out() {
        let fake = FakeStripe::start(
            KEY,
            vec![Reply::error(429, "invalid_request_error", "Too many requests"); 5],
        );
        let outcome = client(&fake).create_payment_intent(&request("k-429"));
        match outcome {
            ChargeOutcome::Failed { reason, retryable } => {
                assert!(retryable);
                assert!(reason.contains("429"), "{reason}");
                assert!(reason.contains("3 attempts"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 3);
        assert!(
            reqs.iter()
                .all(|r| r.idempotency_key.as_deref() == Some("k-429"))
        );
    }

    #[test]
    fn same_key_again_replays_and_never_charges_twice() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_once", "succeeded")]);
        let c = client(&fake);
        let first = c.create_payment_intent(&request("INV-000007-1"));
        let again = c.create_payment_intent(&request("INV-000007-1"));
        assert_eq!(first, again);
        let reqs = fake.requests();
        assert_eq!(reqs.len(), 2);
        assert!(!reqs[0].replayed);
        assert!(
            reqs[1].replayed,
            "second answer came from the stored result"
        );
        assert_eq!(fake.charges(), 1);
    }

    #[test]
    fn bad_api_key_fails_without_retry_or_leak() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_x", "succeeded")]);
        let wrong = "sk_test_WrongKeyDoNotPrint";
        let c = StripeClient::new(&fake.base_url(), wrong.to_owned(), Duration::from_secs(5))
            .with_retry(fast());
        match c.create_payment_intent(&request("k-auth")) {
            ChargeOutcome::KeyRefused { reason } => {
                assert_eq!(
                    reason,
                    "HTTP 401 invalid_request_error: Invalid API Key provided: sk_test_****rint"
                );
                assert!(!reason.contains(wrong), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fake.requests().len(), 1);
        assert_eq!(fake.charges(), 0);
        assert!(!format!("{c:?}").contains(wrong));
    }

    #[test]
    fn a_key_without_permission_is_refused_and_echoed_secrets_are_masked() {
        let echoed = "rk_live_51RestrictedKeyEchoedBack0000";
        let fake = FakeStripe::start(
            KEY,
            vec![
                Reply::error(
                    403,
                    "invalid_request_error",
                    &format!("The provided key '{echoed}' does not have the required permissions"),
                ),
                Reply {
                    status: 400,
                    body: format!("<html>Authorization: Bearer {KEY} whsec_abc</html>"),
                },
            ],
        );
        match client(&fake).create_payment_intent(&request("k-403")) {
            ChargeOutcome::KeyRefused { reason } => {
                assert!(reason.starts_with("HTTP 403"), "{reason}");
                assert!(reason.contains("rk_live_****0000"), "{reason}");
                assert!(!reason.contains(echoed), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        match client(&fake).create_payment_intent(&request("k-400-raw")) {
            ChargeOutcome::Failed { reason, .. } => {
                assert_eq!(
                    reason,
                    "HTTP 400: <html>Authorization: Bearer **** whsec_****</html>"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fake.charges(), 0);
    }

    #[test]
    fn invalid_request_is_not_retried() {
        let fake = FakeStripe::start(
            KEY,
            vec![Reply::error(
                400,
                "invalid_request_error",
                "No such PaymentMethod: 'pm_gone'",
            )],
        );
        match client(&fake).create_payment_intent(&request("k-400")) {
            ChargeOutcome::Failed { reason, retryable } => {
                assert!(!retryable);
                assert!(reason.contains("No such PaymentMethod"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fake.requests().len(), 1);
    }

    #[test]
    fn unreachable_gateway_is_retryable_failure() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = StripeClient::new(
            &format!("http://127.0.0.1:{port}/"),
            KEY.to_owned(),
            Duration::from_secs(2),
        )
        .with_retry(fast());
        match c.create_payment_intent(&request("k-net")) {
            ChargeOutcome::Failed { reason, retryable } => {
                assert!(retryable, "{reason}");
                assert!(!reason.contains(KEY));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_to_send_without_idempotency_key() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_x", "succeeded")]);
        let outcome = client(&fake).create_payment_intent(&request(" "));
        assert!(matches!(
            outcome,
            ChargeOutcome::Failed {
                retryable: false,
                ..
            }
        ));
        assert!(fake.requests().is_empty());
    }

    #[test]
    fn a_reused_key_with_other_parameters_is_refused_and_a_replay_is_stored() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_r", "succeeded")]);
        let c = client(&fake);
        let first = c.create_payment_intent(&request("k-same"));
        assert_eq!(first, ChargeOutcome::Succeeded { id: "pi_r".into() });
        // The same request again: Stripe's stored answer, no new charge.
        assert_eq!(c.create_payment_intent(&request("k-same")), first);
        assert!(fake.requests()[1].replayed);
        // The same key with another amount: 400 idempotency_error, no charge.
        let mut other = request("k-same");
        other.amount_minor = 999;
        match c.create_payment_intent(&other) {
            ChargeOutcome::Failed { reason, retryable } => {
                assert!(!retryable, "{reason}");
                assert!(reason.contains("HTTP 400 idempotency_error"), "{reason}");
            }
            o => panic!("{o:?}"),
        }
        assert_eq!(fake.charges(), 1);
    }

    #[test]
    fn an_attached_card_needs_its_customer() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_c", "succeeded")]);
        fake.attach("pm_card_visa", "cus_123");
        let mut without = request("k-c1");
        without.customer = None;
        match client(&fake).create_payment_intent(&without) {
            ChargeOutcome::Failed { reason, .. } => {
                assert!(reason.contains("belongs to a Customer"))
            }
            o => panic!("{o:?}"),
        }
        let with = client(&fake).create_payment_intent(&request("k-c2"));
        assert_eq!(with, ChargeOutcome::Succeeded { id: "pi_c".into() });
        let r = &fake.requests()[1];
        assert_eq!(r.field("customer"), Some("cus_123"));
        assert_eq!(r.field("off_session"), Some("true"));
        assert_eq!(r.field("confirm"), Some("true"));
    }

    #[test]
    fn retrieve_maps_status_like_the_charge() {
        let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_s", "processing")]);
        let c = client(&fake);
        c.create_payment_intent(&request("k-s"));
        assert_eq!(
            c.retrieve_payment_intent("pi_s"),
            ChargeOutcome::Pending {
                id: "pi_s".into(),
                status: "processing".into()
            }
        );
        fake.set_intent(Reply::intent("pi_s", "succeeded"));
        assert_eq!(
            c.retrieve_payment_intent("pi_s"),
            ChargeOutcome::Succeeded { id: "pi_s".into() }
        );
        let get = &fake.requests()[2];
        assert_eq!(get.method, "GET");
        assert_eq!(get.path, "/v1/payment_intents/pi_s");
        assert_eq!(
            get.authorization.as_deref(),
            Some(format!("Bearer {KEY}").as_str())
        );
        assert_eq!(get.idempotency_key, None);
        match c.retrieve_payment_intent("pi_unknown") {
            ChargeOutcome::Failed { reason, retryable } => {
                assert!(!retryable);
                assert!(reason.contains("resource_missing"), "{reason}");
            }
            o => panic!("{o:?}"),
        }
        // Not an id: never sent.
        let n = fake.requests().len();
        assert!(matches!(
            c.retrieve_payment_intent("pi_x/../../v1/charges"),
            ChargeOutcome::Failed {
                retryable: false,
                ..
            }
        ));
        assert_eq!(fake.requests().len(), n);
    }
}
