//! Collection rules (docs/collection.md), as pure functions: which invoices a new
//! payment run takes and at which attempt, the Direct Debit sequence of an
//! item and the collection date, the items a payment run records
//! ([`plan`], [`card_items`]), what a bank/gateway result does to an item
//! ([`effect`], [`record_outcome`], [`dishonour_fee`]), how an invoice
//! stands for the checklist, and reading the results file.
//!
//! Decisions (where the documented rules were silent):
//! - An invoice's collection history is its list of payment items, oldest
//!   first. Only the latest item matters for what happens next.
//! - `refer` items are retried by the next payment run of their kind
//!   automatically (docs/collection.md: "retried in the next payment run"), as long as
//!   fewer than `collect.max_retries` retries were made. `--retry-failed`
//!   also retries declined, dishonoured and failed items, within the same
//!   limit. Approved and live items are never collected again.
//! - Attempt 1 carries the invoice number as its reference; a retry carries
//!   `NUMBER-R1`, `NUMBER-R2` …, so every item (and the payment it records)
//!   has a reference of its own, and results match one item exactly.
//! - A result for an item that already has the same state is accepted and
//!   changes nothing (re-importing a results file is harmless). A dishonour
//!   or decline of an *approved* item is a late return: the payment is
//!   reversed. Any other change of a final state is refused as bad input.

use crate::domain::bank::{self, BankDetails};
use crate::domain::csvfile::{self, Problem, Table};
use crate::domain::money;
use crate::domain::payfile::{DebitItem, PayFile, PayFileError, Sequence, Unsuitable};
use crate::domain::redact;
use chrono::NaiveDate;
use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

/// What a payment run collects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dd,
    Card,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dd => "dd",
            Kind::Card => "card",
        }
    }
    /// The invoice `payment_method` this kind collects, which is also the
    /// `payments.method` of what it records.
    pub fn method(self) -> &'static str {
        match self {
            Kind::Dd => "direct_debit",
            Kind::Card => "card",
        }
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Kind, String> {
        match s {
            "dd" => Ok(Kind::Dd),
            "card" => Ok(Kind::Card),
            _ => Err(format!("unknown payment run kind '{s}'")),
        }
    }
}

/// The Direct Debit file format (`dd.format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdFormat {
    Bacs18,
    Aba,
    Sepa,
}

impl DdFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DdFormat::Bacs18 => "bacs18",
            DdFormat::Aba => "aba",
            DdFormat::Sepa => "sepa",
        }
    }
    /// The scheme whose working days the format's dates follow.
    pub fn scheme(self) -> super::calendar::Scheme {
        match self {
            DdFormat::Bacs18 => super::calendar::Scheme::Bacs,
            DdFormat::Aba => super::calendar::Scheme::Becs,
            DdFormat::Sepa => super::calendar::Scheme::Sepa,
        }
    }
    /// File name extension of the default output path.
    pub fn extension(self) -> &'static str {
        match self {
            DdFormat::Bacs18 => "txt",
            DdFormat::Aba => "aba",
            DdFormat::Sepa => "xml",
        }
    }
}

impl FromStr for DdFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<DdFormat, String> {
        match s {
            "bacs18" => Ok(DdFormat::Bacs18),
            "aba" => Ok(DdFormat::Aba),
            "sepa" => Ok(DdFormat::Sepa),
            _ => Err(format!("dd.format '{s}' is not one of bacs18, aba, sepa")),
        }
    }
}

/// A payment item's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// In a file or sent to the gateway; no final result yet.
    Live,
    Approved,
    Declined,
    Dishonoured,
    /// Returned "refer to payer": may be presented again.
    Refer,
    /// Never reached the bank or gateway, or cannot complete there.
    Failed,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Live => "live",
            ItemState::Approved => "approved",
            ItemState::Declined => "declined",
            ItemState::Dishonoured => "dishonoured",
            ItemState::Refer => "refer",
            ItemState::Failed => "failed",
        }
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemState {
    type Err = String;
    fn from_str(s: &str) -> Result<ItemState, String> {
        Ok(match s {
            "live" => ItemState::Live,
            "approved" => ItemState::Approved,
            "declined" => ItemState::Declined,
            "dishonoured" => ItemState::Dishonoured,
            "refer" => ItemState::Refer,
            "failed" => ItemState::Failed,
            _ => return Err(format!("unknown item state '{s}'")),
        })
    }
}

/// A status in the results file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    Approved,
    Declined,
    Dishonoured,
    Refer,
}

pub const RESULT_STATUSES: &[&str] = &["approved", "declined", "dishonoured", "refer"];

impl ResultStatus {
    pub fn state(self) -> ItemState {
        match self {
            ResultStatus::Approved => ItemState::Approved,
            ResultStatus::Declined => ItemState::Declined,
            ResultStatus::Dishonoured => ItemState::Dishonoured,
            ResultStatus::Refer => ItemState::Refer,
        }
    }
}

impl FromStr for ResultStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<ResultStatus, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "approved" => ResultStatus::Approved,
            "declined" => ResultStatus::Declined,
            "dishonoured" | "dishonored" => ResultStatus::Dishonoured,
            "refer" => ResultStatus::Refer,
            _ => {
                return Err(format!(
                    "'{s}' is not one of {}",
                    RESULT_STATUSES.join(", ")
                ));
            }
        })
    }
}

/// The reference of an item: the invoice number, `-R<n>` for the n-th retry.
pub fn item_reference(invoice_number: &str, attempt: u32) -> String {
    if attempt <= 1 {
        invoice_number.to_string()
    } else {
        format!("{invoice_number}-R{}", attempt - 1)
    }
}

/// The gateway idempotency key of an item: one per database, invoice and
/// attempt. `prefix` is the database's own random prefix (table `meta`),
/// so a test and a live database sharing a gateway account never send the
/// same key for their (equally numbered) invoices.
pub fn idempotency_key(prefix: &str, invoice_number: &str, attempt: u32) -> String {
    format!("billrun-{prefix}-{invoice_number}-{attempt}")
}

/// The `reference` of a GoCardless payment for item `reference`: sent
/// only when GoCardless accepts it for every scheme's limits we use —
/// Bacs allows at most 10 characters (letters, digits, space, `&-./`);
/// otherwise `None` and GoCardless makes its own (the invoice number and
/// item reference travel in `metadata` anyway).
pub fn gocardless_reference(reference: &str) -> Option<String> {
    let ok = !reference.is_empty()
        && reference.chars().count() <= 10
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " &-./".contains(c));
    ok.then(|| reference.to_owned())
}

/// How long after its first use an idempotency key is trusted for a resend.
/// Stripe keeps a key's result for at least 24 hours and may prune it after
/// that; a resend with a pruned key is a new charge. An hour of margin.
pub const IDEMPOTENCY_KEY_TRUSTED_HOURS: i64 = 23;

/// Whether a charge that got no recorded answer may be re-sent with its
/// idempotency key: only while the gateway surely still remembers the key
/// (the item was created, and its first request sent, at `created`).
pub fn may_resend(
    created: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    now - created < chrono::Duration::hours(IDEMPOTENCY_KEY_TRUSTED_HOURS)
}

/// Whether `base` may be used as the card gateway's API base
/// (`stripe.api_base`): the secret key travels in every request, so the
/// URL must be `https://`, except to this machine (`http://` to
/// `127.0.0.1`, `::1` or `localhost`, for a local test gateway). A user
/// name or password in the URL is refused (it would be a secret in a
/// setting). The error says why.
pub fn check_api_base(base: &str) -> Result<(), String> {
    let b = base.trim();
    let lower = b.to_ascii_lowercase();
    let (secure, rest) = if let Some(r) = lower.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = lower.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("'{b}' is not an https:// URL"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "'{b}' has a user name or password in it: secrets never go in settings"
        ));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err(format!("'{b}' has no host"));
    }
    if secure || matches!(host, "127.0.0.1" | "::1" | "localhost") {
        Ok(())
    } else {
        Err(format!(
            "'{b}' is not https: the API key would travel unencrypted; use https:// \
             (plain http:// only to 127.0.0.1, ::1 or localhost)"
        ))
    }
}

/// The reference of the payment an approved item records: the item's
/// reference in a namespace of its own (`DD:`/`CARD:`), so it can never
/// clash with a payment the customer made quoting the invoice number.
pub fn payment_reference(kind: Kind, item_reference: &str) -> String {
    let space = match kind {
        Kind::Dd => "DD",
        Kind::Card => "CARD",
    };
    format!("{space}:{item_reference}")
}

/// The reference of the reversal payment of an item's payment.
pub fn reversal_reference(kind: Kind, item_reference: &str) -> String {
    format!("{}-REV", payment_reference(kind, item_reference))
}

/// One earlier item of an invoice: its state and attempt number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Past {
    pub state: ItemState,
    pub attempt: u32,
}

/// The attempt number a new payment run would collect an invoice at, or
/// `None` when it must not be collected now. `history` is oldest first.
pub fn next_attempt(
    outstanding_minor: i64,
    history: &[Past],
    max_retries: u32,
    retry_failed: bool,
) -> Option<u32> {
    if outstanding_minor <= 0 {
        return None;
    }
    let Some(last) = history.last() else {
        return Some(1);
    };
    let retries_left = last.attempt.saturating_sub(1) < max_retries;
    match last.state {
        ItemState::Live | ItemState::Approved => None,
        ItemState::Refer if retries_left => Some(last.attempt + 1),
        ItemState::Declined | ItemState::Dishonoured | ItemState::Failed
            if retry_failed && retries_left =>
        {
            Some(last.attempt + 1)
        }
        _ => None,
    }
}

/// How an invoice stands for the checklist's collect steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Nothing (more) to collect: paid, zero, or in a live item.
    Settled,
    /// Amount due and not in a payment run (or a referral waiting for the next one).
    Uncollected,
    /// The last attempt failed and will not be retried without the operator.
    Failed,
}

pub fn standing(outstanding_minor: i64, history: &[Past], max_retries: u32) -> Standing {
    if outstanding_minor <= 0 {
        return Standing::Settled;
    }
    match history.last() {
        None => Standing::Uncollected,
        Some(p) => match p.state {
            ItemState::Live | ItemState::Approved => Standing::Settled,
            ItemState::Refer if p.attempt.saturating_sub(1) < max_retries => Standing::Uncollected,
            _ => Standing::Failed,
        },
    }
}

/// The Direct Debit sequence of an item: a retry is a re-presentation; else
/// the mandate's first collection (no earlier approved or live item under
/// the same mandate) or a regular one.
pub fn dd_sequence(first_for_mandate: bool, attempt: u32) -> Sequence {
    if attempt > 1 {
        Sequence::Represent
    } else if first_for_mandate {
        Sequence::First
    } else {
        Sequence::Recurring
    }
}

/// The code stored for an item's sequence, as the file carries it.
pub fn sequence_code(format: DdFormat, s: Sequence) -> &'static str {
    match format {
        DdFormat::Bacs18 => crate::domain::payfile::bacs18::transaction_code(s),
        DdFormat::Aba => "13",
        DdFormat::Sepa => match s {
            Sequence::First => "FRST",
            Sequence::Recurring | Sequence::Represent => "RCUR",
        },
    }
}

/// An invoice that a new payment run would collect, with what its file or
/// charge needs (read by `store::collect::candidates`).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub invoice_id: i64,
    /// Invoice number.
    pub number: String,
    /// Customer account.
    pub account: String,
    pub due_date: Option<NaiveDate>,
    pub currency: String,
    pub outstanding_minor: i64,
    /// The attempt this run makes ([`next_attempt`]).
    pub attempt: u32,
    /// Direct Debit: the customer's bank account in the run format's scheme.
    pub bank: Option<BankDetails>,
    pub mandate_ref: Option<String>,
    pub mandate_date: Option<NaiveDate>,
    pub card_token: Option<String>,
    /// The Stripe Customer (`cus_…`) the card token belongs to.
    pub stripe_customer: Option<String>,
    /// The GoCardless mandate (`MD…`), for `dd.provider gocardless`.
    pub gocardless_mandate: Option<String>,
    /// No earlier approved or live DD item under the same mandate.
    pub first_for_mandate: bool,
}

/// A payment item to record (state `live`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    pub invoice_id: i64,
    pub account: String,
    pub reference: String,
    pub amount_minor: i64,
    /// The sequence code the file carries (`01`, `FRST` …); DD only.
    pub sequence: Option<String>,
    pub mandate_ref: Option<String>,
    pub attempt: u32,
    pub idempotency_key: Option<String>,
    /// The payer for display, masked.
    pub payee_masked: String,
    /// Gateway items: the card token charged, kept for an identical resend.
    pub card_token: Option<String>,
    /// Gateway items: the Stripe Customer charged, kept likewise.
    pub stripe_customer: Option<String>,
}

/// The payer of a candidate for display, masked: the card token, or the
/// bank account.
pub fn payee(c: &Candidate, kind: Kind) -> String {
    match (kind, &c.bank) {
        (Kind::Card, _) => c
            .card_token
            .as_deref()
            .map(bank::mask_token)
            .unwrap_or_default(),
        (Kind::Dd, Some(b)) => b.masked(),
        (Kind::Dd, None) => String::new(),
    }
}

/// The collection date of a Direct Debit run: the date asked for, else the
/// latest due date of its invoices, but not before `today`.
pub fn collection_date(
    asked: Option<NaiveDate>,
    due_dates: impl IntoIterator<Item = Option<NaiveDate>>,
    today: NaiveDate,
) -> NaiveDate {
    asked.unwrap_or_else(|| {
        due_dates
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(today)
            .max(today)
    })
}

/// The items of a payment file for `cands`, in order, each with its
/// Direct Debit sequence: a mandate's first collection is marked first
/// only once, even when the run collects two of its invoices.
pub fn debit_items(cands: &[Candidate]) -> Vec<DebitItem> {
    let mut seen_mandates = HashSet::new();
    cands
        .iter()
        .map(|c| {
            let first = c.first_for_mandate
                && seen_mandates.insert((c.account.clone(), c.mandate_ref.clone()));
            DebitItem {
                reference: item_reference(&c.number, c.attempt),
                account: c.account.clone(),
                bank: c.bank.clone(),
                mandate_ref: c.mandate_ref.clone(),
                mandate_date: c.mandate_date,
                card_token: c.card_token.clone(),
                amount: money::from_minor(c.outstanding_minor),
                sequence: dd_sequence(first, c.attempt),
            }
        })
        .collect()
}

/// A file-based payment run, planned: its file and the items it records.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub file: PayFile,
    /// One per invoice the file includes.
    pub items: Vec<NewItem>,
}

/// Plan a file-based payment run of `kind` (Direct Debit in `format`, or a
/// card batch with `format` `None`): write the file of `cands` with
/// `write`, and keep as items the invoices the file includes.
pub fn plan(
    cands: &[Candidate],
    kind: Kind,
    format: Option<DdFormat>,
    write: impl FnOnce(&[DebitItem]) -> Result<PayFile, PayFileError>,
) -> Result<Planned, PayFileError> {
    let debit = debit_items(cands);
    let file = write(&debit)?;
    let by_ref: std::collections::HashMap<&str, usize> = debit
        .iter()
        .enumerate()
        .map(|(i, d)| (d.reference.trim(), i))
        .rev() // the first item of a reference wins, as `position` did
        .collect();
    let mut items = Vec::new();
    for r in &file.included {
        let Some(&i) = by_ref.get(r.as_str()) else {
            continue;
        };
        let c = &cands[i];
        items.push(NewItem {
            invoice_id: c.invoice_id,
            account: c.account.clone(),
            reference: debit[i].reference.clone(),
            amount_minor: c.outstanding_minor,
            sequence: format.map(|f| sequence_code(f, debit[i].sequence).to_string()),
            mandate_ref: if kind == Kind::Dd {
                c.mandate_ref.clone()
            } else {
                None
            },
            attempt: c.attempt,
            idempotency_key: None,
            payee_masked: payee(c, kind),
            card_token: None,
            stripe_customer: None,
        });
    }
    Ok(Planned { file, items })
}

/// The items of a card payment run through the gateway: each candidate
/// with a card token, with its idempotency key; the others are left out.
pub fn card_items(cands: &[Candidate], key_prefix: &str) -> (Vec<NewItem>, Vec<Unsuitable>) {
    let mut items = Vec::new();
    let mut unsuitable = Vec::new();
    for c in cands {
        let token = c.card_token.as_deref().map(str::trim).unwrap_or("");
        if token.is_empty() {
            unsuitable.push(Unsuitable {
                reference: c.number.clone(),
                reason: "no card token".into(),
            });
            continue;
        }
        items.push(NewItem {
            invoice_id: c.invoice_id,
            account: c.account.clone(),
            reference: item_reference(&c.number, c.attempt),
            amount_minor: c.outstanding_minor,
            sequence: None,
            mandate_ref: None,
            attempt: c.attempt,
            idempotency_key: Some(idempotency_key(key_prefix, &c.number, c.attempt)),
            payee_masked: payee(c, Kind::Card),
            card_token: c.card_token.clone(),
            stripe_customer: c.stripe_customer.clone(),
        });
    }
    (items, unsuitable)
}

/// What became of a card charge at the gateway (`gateway::stripe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The card was charged (PaymentIntent status `succeeded`).
    Succeeded {
        /// PaymentIntent id (`pi_…`).
        id: String,
    },
    /// The bank wants the customer to authenticate (3-D Secure): this charge
    /// cannot complete off-session; the customer must be asked.
    RequiresAction {
        /// PaymentIntent id (`pi_…`).
        id: String,
    },
    /// Stripe accepted the charge but it has not finished (`processing`,
    /// `requires_capture`): money may still move, so do not charge again;
    /// look the PaymentIntent up later.
    Pending {
        /// PaymentIntent id (`pi_…`).
        id: String,
        /// Stripe's status word.
        status: String,
    },
    /// The card was declined (HTTP 402 `card_error`, or a PaymentIntent back
    /// in `requires_payment_method`).
    Declined {
        /// Stripe's error code, e.g. `card_declined`, `expired_card`,
        /// `authentication_required`.
        code: String,
        /// The issuer's reason, e.g. `insufficient_funds`, when given.
        decline_code: Option<String>,
        /// Stripe's human-readable message.
        message: String,
        /// The PaymentIntent Stripe created, when it says.
        id: Option<String>,
    },
    /// Stripe refused the API key (HTTP 401, or 403 for a restricted key
    /// without the permission): no charge was made, and no other charge
    /// with this key can succeed, so the batch stops.
    KeyRefused {
        /// HTTP status and Stripe's message (secrets masked).
        reason: String,
    },
    /// No charge was made, or none is known to have been made.
    Failed {
        /// What went wrong (HTTP status and Stripe's message, or the network
        /// problem). Never contains the API key.
        reason: String,
        /// `true` when trying again later may work (network trouble, Stripe
        /// overloaded or down); `false` for errors that need a person (bad
        /// API key, invalid request).
        retryable: bool,
    },
}

/// What a gateway outcome does to a live card item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeRecord {
    /// Charged: record the payment.
    Approve { gateway_id: String },
    /// The item takes `state` (declined or failed) with `reason`.
    Fail {
        state: ItemState,
        reason: String,
        gateway_id: Option<String>,
    },
    /// The item stays live with a note; `unanswered` when the gateway gave
    /// no answer (a re-run retries it with the same key).
    KeepLive {
        reason: String,
        gateway_id: Option<String>,
        unanswered: bool,
    },
}

impl ChargeRecord {
    /// The item's state afterwards.
    pub fn state(&self) -> ItemState {
        match self {
            ChargeRecord::Approve { .. } => ItemState::Approved,
            ChargeRecord::Fail { state, .. } => *state,
            ChargeRecord::KeepLive { .. } => ItemState::Live,
        }
    }
    /// The reason recorded on the item.
    pub fn reason(&self) -> Option<&str> {
        match self {
            ChargeRecord::Approve { .. } => None,
            ChargeRecord::Fail { reason, .. } | ChargeRecord::KeepLive { reason, .. } => {
                Some(reason)
            }
        }
    }
    /// The gateway's id of the charge, when it gave one.
    pub fn gateway_id(&self) -> Option<&str> {
        match self {
            ChargeRecord::Approve { gateway_id } => Some(gateway_id),
            ChargeRecord::Fail { gateway_id, .. } | ChargeRecord::KeepLive { gateway_id, .. } => {
                gateway_id.as_deref()
            }
        }
    }
}

/// What a gateway outcome does to a live card item. Every text from the
/// gateway is masked ([`redact::secrets`]) before it is recorded or shown.
pub fn record_outcome(outcome: &ChargeOutcome) -> ChargeRecord {
    match unmasked_record(outcome) {
        ChargeRecord::Approve { gateway_id } => ChargeRecord::Approve {
            gateway_id: redact::secrets(&gateway_id),
        },
        ChargeRecord::Fail {
            state,
            reason,
            gateway_id,
        } => ChargeRecord::Fail {
            state,
            reason: redact::secrets(&reason),
            gateway_id: gateway_id.map(|g| redact::secrets(&g)),
        },
        ChargeRecord::KeepLive {
            reason,
            gateway_id,
            unanswered,
        } => ChargeRecord::KeepLive {
            reason: redact::secrets(&reason),
            gateway_id: gateway_id.map(|g| redact::secrets(&g)),
            unanswered,
        },
    }
}

fn unmasked_record(outcome: &ChargeOutcome) -> ChargeRecord {
    match outcome {
        ChargeOutcome::Succeeded { id } => ChargeRecord::Approve {
            gateway_id: id.clone(),
        },
        ChargeOutcome::RequiresAction { id } => ChargeRecord::Fail {
            state: ItemState::Failed,
            reason: "requires_action: the bank wants the customer to authenticate (3-D Secure); \
                     ask them to pay online"
                .to_string(),
            gateway_id: Some(id.clone()),
        },
        ChargeOutcome::Declined {
            code,
            decline_code,
            message,
            id,
        } => ChargeRecord::Fail {
            state: ItemState::Declined,
            reason: match decline_code {
                Some(d) => format!("{code} ({d}): {message}"),
                None => format!("{code}: {message}"),
            },
            gateway_id: id.clone(),
        },
        ChargeOutcome::Pending { id, status } => ChargeRecord::KeepLive {
            reason: format!(
                "Stripe status {status}: not finished; `billrun collect sync` asks Stripe again (or record the result with `billrun collect results`)"
            ),
            gateway_id: Some(id.clone()),
            unanswered: false,
        },
        ChargeOutcome::KeyRefused { reason } => ChargeRecord::KeepLive {
            reason: format!(
                "not charged: {reason}; fix STRIPE_API_KEY and run `billrun collect card` again"
            ),
            gateway_id: None,
            unanswered: false,
        },
        ChargeOutcome::Failed {
            reason,
            retryable: true,
        } => ChargeRecord::KeepLive {
            reason: format!("no answer: {reason}; re-run to retry with the same key"),
            gateway_id: None,
            unanswered: true,
        },
        ChargeOutcome::Failed {
            reason,
            retryable: false,
        } => ChargeRecord::Fail {
            state: ItemState::Failed,
            reason: reason.clone(),
            gateway_id: None,
        },
    }
}

/// The fee an item's new state charges the customer: `collect.dishonour_fee`
/// for a dishonour (a returned debit), nothing for a decline, a failure or
/// a referral (docs/collection.md).
pub fn dishonour_fee(state: ItemState, fee_minor: i64) -> i64 {
    if state == ItemState::Dishonoured && fee_minor > 0 {
        fee_minor
    } else {
        0
    }
}

/// What a result does to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Same state again: nothing to do.
    Unchanged,
    /// Record a payment.
    Approve,
    /// Mark declined/dishonoured; `reverse` when a payment was recorded.
    Fail { reverse: bool },
    /// Mark refer (retried by the next payment run).
    Refer,
}

impl Effect {
    /// What the effect means for the invoice, as the results report says it.
    pub fn describe(self) -> &'static str {
        match self {
            Effect::Unchanged => "unchanged",
            Effect::Approve => "payment recorded",
            Effect::Fail { reverse: true } => "payment reversed",
            Effect::Fail { reverse: false } => "invoice stays due",
            Effect::Refer => "retried by the next payment run",
        }
    }
}

/// The effect of `status` on an item in `current`, or why it is refused.
pub fn effect(current: ItemState, status: ResultStatus) -> Result<Effect, String> {
    use ItemState as S;
    use ResultStatus as R;
    if current == status.state() {
        return Ok(Effect::Unchanged);
    }
    match (current, status) {
        (S::Live, R::Approved) => Ok(Effect::Approve),
        (S::Live, R::Declined | R::Dishonoured) => Ok(Effect::Fail { reverse: false }),
        (S::Live, R::Refer) => Ok(Effect::Refer),
        (S::Approved, R::Declined | R::Dishonoured) => Ok(Effect::Fail { reverse: true }),
        (S::Refer, _) => Err(
            "the item was referred; its retry is a new item with its own reference (NUMBER-R1 …)"
                .into(),
        ),
        (cur, st) => Err(format!(
            "the item is already {cur}; it cannot become {}",
            st.state()
        )),
    }
}

/// One row of a results file.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    pub line: u64,
    pub reference: String,
    pub status: ResultStatus,
    pub reason: Option<String>,
}

/// Read a results file (`reference, status, reason`): every bad row is a
/// problem (`file:line:col`), and a reference may appear only once. A
/// reason is gateway text: anything in it that looks like a secret key is
/// masked (`redact::secrets`).
pub fn parse_results(file: &str, bytes: &[u8]) -> Result<Vec<ResultRow>, Vec<Problem>> {
    let table = Table::read(
        file,
        bytes,
        &["reference", "status"],
        &["reference", "status", "reason"],
    )?;
    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    for i in 0..table.rows.len() {
        let mut r = table.row(i, &mut problems);
        let reference = r.req("reference");
        let status = r.parse_req("status", |s| s.parse::<ResultStatus>());
        // Gateway text, stored on the item and shown: secrets masked.
        let reason = r.opt("reason").map(|t| redact::secrets(&t));
        if !reference.is_empty() && !seen.insert(reference.clone()) {
            r.problem(
                "reference",
                format!("'{reference}' appears twice in the file"),
            );
            continue;
        }
        if let Some(status) = status
            && !reference.is_empty()
        {
            rows.push(ResultRow {
                line: r.line,
                reference,
                status,
                reason,
            });
        }
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(problems)
    }
}

/// Render problems as the error text of a rejected results file.
pub fn report(problems: &[Problem]) -> String {
    csvfile::report(problems, "Fix the file and import it again.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(state: ItemState, attempt: u32) -> Past {
        Past { state, attempt }
    }

    #[test]
    fn gocardless_references_respect_the_bacs_limit() {
        assert_eq!(
            gocardless_reference("INV-000123").as_deref(),
            Some("INV-000123")
        );
        assert_eq!(gocardless_reference("INV-000123-R1"), None);
        assert_eq!(gocardless_reference("INV_1"), None);
        assert_eq!(gocardless_reference(""), None);
    }

    #[test]
    fn references_and_keys() {
        assert_eq!(item_reference("NFV-10001", 1), "NFV-10001");
        assert_eq!(item_reference("NFV-10001", 3), "NFV-10001-R2");
        assert_eq!(
            idempotency_key("a1b2c3", "NFV-1", 2),
            "billrun-a1b2c3-NFV-1-2"
        );
        assert_eq!(reversal_reference(Kind::Dd, "NFV-1-R1"), "DD:NFV-1-R1-REV");
        assert_eq!(payment_reference(Kind::Card, "NFV-2"), "CARD:NFV-2");
    }

    #[test]
    fn next_attempt_rules() {
        use ItemState::*;
        assert_eq!(next_attempt(100, &[], 2, false), Some(1));
        assert_eq!(next_attempt(0, &[], 2, false), None);
        assert_eq!(next_attempt(-5, &[], 2, true), None);
        assert_eq!(next_attempt(100, &[p(Live, 1)], 2, true), None);
        assert_eq!(next_attempt(100, &[p(Approved, 1)], 2, true), None);
        // refer: retried automatically, up to max_retries retries
        assert_eq!(next_attempt(100, &[p(Refer, 1)], 2, false), Some(2));
        assert_eq!(
            next_attempt(100, &[p(Refer, 1), p(Refer, 2)], 2, false),
            Some(3)
        );
        assert_eq!(next_attempt(100, &[p(Refer, 3)], 2, true), None);
        assert_eq!(next_attempt(100, &[p(Refer, 1)], 0, true), None);
        // declined/dishonoured/failed: only when asked
        for s in [Declined, Dishonoured, Failed] {
            assert_eq!(next_attempt(100, &[p(s, 1)], 2, false), None);
            assert_eq!(next_attempt(100, &[p(s, 1)], 2, true), Some(2));
            assert_eq!(next_attempt(100, &[p(s, 3)], 2, true), None);
        }
    }

    #[test]
    fn standing_for_the_checklist() {
        use ItemState::*;
        assert_eq!(standing(100, &[], 2), Standing::Uncollected);
        assert_eq!(standing(0, &[], 2), Standing::Settled);
        assert_eq!(standing(100, &[p(Live, 1)], 2), Standing::Settled);
        assert_eq!(standing(100, &[p(Refer, 1)], 2), Standing::Uncollected);
        assert_eq!(standing(100, &[p(Refer, 3)], 2), Standing::Failed);
        assert_eq!(standing(100, &[p(Dishonoured, 1)], 2), Standing::Failed);
        assert_eq!(standing(100, &[p(Failed, 1)], 2), Standing::Failed);
    }

    #[test]
    fn sequences() {
        assert_eq!(dd_sequence(true, 1), Sequence::First);
        assert_eq!(dd_sequence(false, 1), Sequence::Recurring);
        assert_eq!(dd_sequence(true, 2), Sequence::Represent);
        assert_eq!(sequence_code(DdFormat::Sepa, Sequence::First), "FRST");
        assert_eq!(sequence_code(DdFormat::Sepa, Sequence::Represent), "RCUR");
        assert_eq!(sequence_code(DdFormat::Bacs18, Sequence::First), "01");
        assert_eq!(sequence_code(DdFormat::Bacs18, Sequence::Recurring), "17");
        assert_eq!(sequence_code(DdFormat::Bacs18, Sequence::Represent), "18");
        assert_eq!(sequence_code(DdFormat::Aba, Sequence::First), "13");
    }

    #[test]
    fn effects_of_results() {
        use ItemState as S;
        use ResultStatus as R;
        assert_eq!(effect(S::Live, R::Approved), Ok(Effect::Approve));
        assert_eq!(
            effect(S::Live, R::Dishonoured),
            Ok(Effect::Fail { reverse: false })
        );
        assert_eq!(effect(S::Live, R::Refer), Ok(Effect::Refer));
        assert_eq!(
            effect(S::Approved, R::Dishonoured),
            Ok(Effect::Fail { reverse: true })
        );
        assert_eq!(effect(S::Approved, R::Approved), Ok(Effect::Unchanged));
        assert_eq!(effect(S::Refer, R::Refer), Ok(Effect::Unchanged));
        assert!(effect(S::Dishonoured, R::Approved).is_err());
        assert!(effect(S::Approved, R::Refer).is_err());
        assert!(effect(S::Refer, R::Approved).unwrap_err().contains("R1"));
        assert!(effect(S::Failed, R::Approved).is_err());
    }

    #[test]
    fn results_file_every_problem_reported() {
        let ok = parse_results(
            "r.csv",
            b"reference,status,reason\nINV-1,approved,\nINV-2,Dishonoured,refer to payer\n",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[1].status, ResultStatus::Dishonoured);
        assert_eq!(ok[1].reason.as_deref(), Some("refer to payer"));
        assert_eq!(ok[1].line, 3);
        let secret = parse_results(
            "r.csv",
            b"reference,status,reason\nINV-1,declined,Invalid API Key provided: sk_live_abcdefghijklmnopqrstuvwxyz\n",
        )
        .unwrap();
        assert_eq!(
            secret[0].reason.as_deref(),
            Some("Invalid API Key provided: sk_live_****wxyz")
        );
        let bad = parse_results(
            "r.csv",
            b"reference,status\nINV-1,paid\n,approved\nINV-3,refer\nINV-3,approved\n",
        )
        .unwrap_err();
        let text: Vec<String> = bad.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0].starts_with("r.csv:2:2: status:"), "{text:?}");
        assert!(text[1].starts_with("r.csv:3:1: reference:"), "{text:?}");
        assert!(text[2].contains("r.csv:5:1") && text[2].contains("twice"));
        let unknown_col = parse_results("r.csv", b"reference,status,amount\n").unwrap_err();
        assert!(unknown_col[0].to_string().contains("unknown column"));
    }

    fn cand(number: &str, account: &str, mandate: &str, attempt: u32) -> Candidate {
        Candidate {
            invoice_id: attempt.into(),
            number: number.into(),
            account: account.into(),
            due_date: None,
            currency: "GBP".into(),
            outstanding_minor: 1234,
            attempt,
            bank: Some(BankDetails::Bacs {
                sort_code: Some("20-00-00".into()),
                account: Some("31415926".into()),
                name: "A CUSTOMER".into(),
            }),
            mandate_ref: Some(mandate.into()),
            mandate_date: None,
            card_token: Some("pm_test4242424242".into()),
            stripe_customer: Some("cus_A".into()),
            gocardless_mandate: None,
            first_for_mandate: true,
        }
    }

    #[test]
    fn collection_date_is_asked_or_the_latest_due_date_not_before_today() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let today = d(12, 10);
        assert_eq!(collection_date(Some(d(1, 1)), [], today), d(1, 1));
        assert_eq!(
            collection_date(None, [Some(d(12, 15)), None, Some(d(12, 20))], today),
            d(12, 20)
        );
        assert_eq!(collection_date(None, [Some(d(12, 1))], today), today);
        assert_eq!(collection_date(None, [None], today), today);
    }

    #[test]
    fn a_mandate_is_first_only_once_and_retries_are_represented() {
        let cands = [
            cand("INV-1", "A", "M1", 1),
            cand("INV-2", "A", "M1", 1),
            cand("INV-3", "B", "M2", 2),
        ];
        let d = debit_items(&cands);
        let seqs: Vec<Sequence> = d.iter().map(|i| i.sequence).collect();
        assert_eq!(
            seqs,
            [Sequence::First, Sequence::Recurring, Sequence::Represent]
        );
        assert_eq!(d[2].reference, "INV-3-R1");
        assert_eq!(d[0].amount, rust_decimal::Decimal::new(1234, 2));
    }

    #[test]
    fn plan_keeps_the_items_the_file_includes() {
        let cands = [cand("INV-1", "A", "M1", 1), cand("INV-2", "B", "M2", 2)];
        let planned = plan(&cands, Kind::Dd, Some(DdFormat::Sepa), |items| {
            Ok(PayFile {
                contents: b"file".to_vec(),
                included: vec![items[1].reference.clone()],
                total_minor: 1234,
                unsuitable: vec![Unsuitable {
                    reference: "INV-1".into(),
                    reason: "no IBAN".into(),
                }],
            })
        })
        .unwrap();
        assert_eq!(planned.items.len(), 1);
        let it = &planned.items[0];
        assert_eq!(it.reference, "INV-2-R1");
        assert_eq!(it.sequence.as_deref(), Some("RCUR"));
        assert_eq!(it.mandate_ref.as_deref(), Some("M2"));
        assert_eq!(it.payee_masked, "20-00-00 ****5926");
        assert_eq!(it.attempt, 2);
        // A card batch records no sequence or mandate, and masks the token.
        let card = plan(&cands[..1], Kind::Card, None, |items| {
            Ok(PayFile {
                contents: Vec::new(),
                included: vec![items[0].reference.clone()],
                total_minor: 1234,
                unsuitable: Vec::new(),
            })
        })
        .unwrap();
        assert_eq!(card.items[0].sequence, None);
        assert_eq!(card.items[0].mandate_ref, None);
        assert_eq!(card.items[0].payee_masked, "pm_…4242");
        let refused = plan(&cands, Kind::Dd, Some(DdFormat::Aba), |_| {
            Err(PayFileError::Internal("x".into()))
        });
        assert!(refused.is_err());
    }

    #[test]
    fn card_items_need_a_token_and_carry_a_key_per_attempt() {
        let mut none = cand("INV-2", "B", "M2", 1);
        none.card_token = Some("  ".into());
        let (items, unsuitable) = card_items(&[cand("INV-1", "A", "M1", 2), none], "0f1e2d");
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0].idempotency_key.as_deref(),
            Some("billrun-0f1e2d-INV-1-2")
        );
        assert_eq!(items[0].stripe_customer.as_deref(), Some("cus_A"));
        assert_eq!(items[0].reference, "INV-1-R1");
        assert_eq!(items[0].card_token.as_deref(), Some("pm_test4242424242"));
        assert_eq!(unsuitable[0].to_string(), "INV-2: no card token");
    }

    #[test]
    fn a_refused_key_leaves_the_item_live_and_gateway_text_is_masked() {
        use ChargeOutcome as O;
        let r = record_outcome(&O::KeyRefused {
            reason: "HTTP 401 invalid_request_error: Invalid API Key provided: sk_test_****1234"
                .into(),
        });
        assert!(matches!(
            r,
            ChargeRecord::KeepLive {
                unanswered: false,
                gateway_id: None,
                ..
            }
        ));
        assert!(r.reason().unwrap().starts_with("not charged: HTTP 401"));
        let secret = "sk_live_51HqLyjWDarjtT1zdp7dcXlvhzxZ3bUeG";
        let r = record_outcome(&O::Declined {
            code: "card_declined".into(),
            decline_code: None,
            message: format!("key {secret} with Bearer {secret}"),
            id: Some("pi_1".into()),
        });
        let reason = r.reason().unwrap();
        assert!(!reason.contains("51HqLyj"), "{reason}");
        assert_eq!(
            reason,
            "card_declined: key sk_live_****bUeG with Bearer ****"
        );
        let r = record_outcome(&O::Failed {
            reason: format!(
                "HTTP 400: {{\"k\":\"whsec_abc\", \"r\":\"rk_live_{}\"}}",
                "x".repeat(30)
            ),
            retryable: false,
        });
        assert_eq!(
            r.reason(),
            Some("HTTP 400: {\"k\":\"whsec_****\", \"r\":\"rk_live_****xxxx\"}")
        );
    }

    #[test]
    fn the_api_base_is_https_or_this_machine() {
        for ok in [
            "https://api.stripe.com",
            "HTTPS://api.stripe.com/",
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://LOCALHOST:1/v",
            "http://[::1]:9000/",
        ] {
            assert_eq!(check_api_base(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://api.stripe.com",
            "http://127.0.0.1.evil.example",
            "http://localhost.evil.example:80",
            "http://[::2]:9000",
            "http://10.0.0.1",
            "ftp://api.stripe.com",
            "api.stripe.com",
            "https://",
            "https://user:sk_live_x@api.stripe.com",
            "http://x@127.0.0.1",
        ] {
            assert!(check_api_base(bad).is_err(), "{bad}");
        }
        assert!(
            check_api_base("http://api.example.com")
                .unwrap_err()
                .contains("unencrypted")
        );
    }

    #[test]
    fn gateway_outcomes_and_the_dishonour_fee() {
        use ChargeOutcome as O;
        let r = record_outcome(&O::Succeeded { id: "pi_1".into() });
        assert_eq!(
            (r.state(), r.reason(), r.gateway_id()),
            (ItemState::Approved, None, Some("pi_1"))
        );
        let r = record_outcome(&O::RequiresAction { id: "pi_2".into() });
        assert_eq!(r.state(), ItemState::Failed);
        assert!(r.reason().unwrap().starts_with("requires_action: "));
        assert!(r.reason().unwrap().contains("(3-D Secure); ask them"));
        let r = record_outcome(&O::Declined {
            code: "card_declined".into(),
            decline_code: Some("insufficient_funds".into()),
            message: "Your card has insufficient funds.".into(),
            id: None,
        });
        assert_eq!(r.state(), ItemState::Declined);
        assert_eq!(
            r.reason(),
            Some("card_declined (insufficient_funds): Your card has insufficient funds.")
        );
        let r = record_outcome(&O::Pending {
            id: "pi_3".into(),
            status: "processing".into(),
        });
        assert_eq!((r.state(), r.gateway_id()), (ItemState::Live, Some("pi_3")));
        let r = record_outcome(&O::Failed {
            reason: "timeout".into(),
            retryable: true,
        });
        assert!(matches!(
            r,
            ChargeRecord::KeepLive {
                unanswered: true,
                ..
            }
        ));
        assert_eq!(
            r.reason(),
            Some("no answer: timeout; re-run to retry with the same key")
        );
        let r = record_outcome(&O::Failed {
            reason: "bad key".into(),
            retryable: false,
        });
        assert_eq!(
            (r.state(), r.reason()),
            (ItemState::Failed, Some("bad key"))
        );

        assert_eq!(dishonour_fee(ItemState::Dishonoured, 1250), 1250);
        assert_eq!(dishonour_fee(ItemState::Declined, 1250), 0);
        assert_eq!(dishonour_fee(ItemState::Failed, 1250), 0);
        assert_eq!(dishonour_fee(ItemState::Dishonoured, 0), 0);
        assert_eq!(
            Effect::Fail { reverse: true }.describe(),
            "payment reversed"
        );
        assert_eq!(Effect::Refer.describe(), "retried by the next payment run");
    }

    #[test]
    fn a_charge_is_resent_only_while_its_key_is_remembered() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let created = at("2026-11-30T10:00:00Z");
        assert!(may_resend(created, at("2026-11-30T10:00:00Z")));
        assert!(may_resend(created, at("2026-12-01T08:59:59Z")));
        assert!(!may_resend(created, at("2026-12-01T09:00:00Z")), "23 h");
        assert!(!may_resend(created, at("2026-12-03T10:00:00Z")));
    }
}
