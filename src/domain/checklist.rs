//! The next-steps checklist (docs/checklist.md), computed from facts gathered from the
//! database. Nothing here is stored: only the operator's confirmations are.
//! A step that cannot be known yet is `blocked` or `waiting`, never faked as done.

use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use crate::domain::setup_check::{self, SetupProblem};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Done,
    Todo,
    Blocked,
    Waiting,
    Skipped,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Done => "done",
            State::Todo => "todo",
            State::Blocked => "blocked",
            State::Waiting => "waiting",
            State::Skipped => "skipped",
        }
    }
    /// Nothing left for the operator.
    pub fn is_settled(self) -> bool {
        matches!(self, State::Done | State::Skipped)
    }
}

/// Every step of the checklist, in the order `status` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKey {
    SetDates,
    CheckSetup,
    CheckPayments,
    CheckCdrs,
    CheckErrors,
    CheckFeeErrors,
    Prebill,
    Request,
    Postbill,
    Production,
    Xero,
    Email,
    Print,
    CollectDd,
    CollectCard,
    Complete,
}

/// Steps the operator confirms with `billrun confirm RUN STEP`: the
/// argument and the step.
pub const CONFIRMABLE: &[(&str, StepKey)] = &[
    ("setup", StepKey::CheckSetup),
    ("payments", StepKey::CheckPayments),
    ("cdrs", StepKey::CheckCdrs),
    ("errors", StepKey::CheckErrors),
    ("fee-errors", StepKey::CheckFeeErrors),
    ("prebill", StepKey::Prebill),
    ("postbill", StepKey::Postbill),
];

impl StepKey {
    /// The key as JSON shows it and the `confirmations` table stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKey::SetDates => "set_dates",
            StepKey::CheckSetup => "check_setup",
            StepKey::CheckPayments => "check_payments",
            StepKey::CheckCdrs => "check_cdrs",
            StepKey::CheckErrors => "check_errors",
            StepKey::CheckFeeErrors => "check_fee_errors",
            StepKey::Prebill => "prebill",
            StepKey::Request => "request",
            StepKey::Postbill => "postbill",
            StepKey::Production => "production",
            StepKey::Xero => "xero",
            StepKey::Email => "email",
            StepKey::Print => "print",
            StepKey::CollectDd => "collect_dd",
            StepKey::CollectCard => "collect_card",
            StepKey::Complete => "complete",
        }
    }

    /// The step a `confirm` argument names.
    pub fn from_confirm_arg(arg: &str) -> Option<StepKey> {
        CONFIRMABLE.iter().find(|(a, _)| *a == arg).map(|(_, k)| *k)
    }

    /// The `confirm` argument of a confirmable step.
    pub fn confirm_arg(self) -> Option<&'static str> {
        CONFIRMABLE
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(a, _)| *a)
    }

    /// Before or after bills are requested.
    pub fn stage(self) -> Stage {
        if self <= StepKey::Request {
            Stage::Pre
        } else {
            Stage::Post
        }
    }
}

impl std::fmt::Display for StepKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Count and sum of unallocated payments for one method.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodTotal {
    pub method: String,
    pub count: u64,
    pub sum_minor: i64,
}

/// One carrier's CDR files and lines in the run's period and in the
/// previous run's own period (the Check CDRs step, carrier by carrier).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CarrierPeriod {
    pub carrier: String,
    pub files_this: u64,
    pub lines_this: u64,
    pub files_prev: u64,
    pub lines_prev: u64,
    /// Files of the carrier still pending or processing.
    pub unprocessed_files: u64,
}

#[derive(Debug, Clone, Default)]
pub struct CdrFacts {
    pub pending_files: u64,
    pub processing_files: u64,
    pub failed_files: u64,
    pub files_this: u64,
    pub lines_this: u64,
    pub files_prev: u64,
    pub lines_prev: u64,
    pub carriers: u64,
    /// Every carrier, by name.
    pub by_carrier: Vec<CarrierPeriod>,
    /// Carriers with no CDR in the period and no file waiting.
    pub carriers_without_file: Vec<String>,
    /// Carriers without a file the operator acknowledged: carrier → reason.
    pub acknowledged_missing: BTreeMap<String, String>,
}

impl CdrFacts {
    /// Carriers without a file this period, not yet acknowledged.
    pub fn unacknowledged_missing(&self) -> Vec<String> {
        self.carriers_without_file
            .iter()
            .filter(|c| !self.acknowledged_missing.contains_key(*c))
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, Default)]
pub struct InvoiceFacts {
    /// Invoices the run will produce/has produced.
    pub total: u64,
    pub pdf_ready: u64,
    pub xero_unsent: u64,
    /// API mode (`xero.mode = api`): invoices Xero refused at the last push.
    pub xero_refused: u64,
    /// API mode: customers of the run's invoices without a Xero contact
    /// (`None` in CSV mode, where customers travel inside the file).
    pub xero_customers_unsent: Option<u64>,
    /// Credit notes of the run (crediting its invoices; in API mode also
    /// those its invoices brought forward) not yet exported (CSV mode) or
    /// not yet confirmed by Xero (API mode).
    pub xero_credits_unsent: u64,
    pub email_unsent: u64,
    pub email_failed: u64,
    pub email_in_flight: u64,
    pub print_unprinted: u64,
    pub dd_uncollected: u64,
    pub dd_failed: u64,
    pub card_uncollected: u64,
    pub card_failed: u64,
    /// Payment runs whose file is recorded but not in place (an
    /// interrupted `collect dd` / `collect card --out`): not done until
    /// the next such command puts it there.
    pub dd_unplaced: Vec<i64>,
    pub card_unplaced: Vec<i64>,
    /// GoCardless payments / Stripe charges asked for but with no recorded
    /// answer (a kill between the request and its record): not done until
    /// `collect dd` / `collect card` re-sends them with their keys.
    pub dd_unanswered: u64,
    pub card_unanswered: u64,
}

/// Everything the checklist needs to know about a run.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub run_id: i64,
    pub status: Option<RunStatus>,
    pub dates_set: bool,
    pub invoice_date: Option<String>,
    pub cutoff_date: Option<String>,
    pub expert_by: Option<String>,
    pub confirmed: BTreeSet<String>,
    pub xero_enabled: bool,
    pub wholesale_fees: bool,
    pub payments_now: Vec<MethodTotal>,
    pub payments_prev: Vec<MethodTotal>,
    pub xero_payments_stale: Option<String>,
    pub cdr: CdrFacts,
    pub open_errors: Vec<(String, u64)>,
    pub open_fee_errors: u64,
    pub prebill_done: bool,
    /// The post-billing report was run (after production).
    pub postbill_done: bool,
    /// Customers of the run that cannot be billed, delivered or collected
    /// as set up (`domain::setup_check`).
    pub setup_problems: Vec<SetupProblem>,
    /// Invoices expected before production: the pre-billing report's count,
    /// else the customers of the run's cycle.
    pub expected_invoices: Option<u64>,
    pub invoices: InvoiceFacts,
}

impl Facts {
    /// Whether the operator confirmed `key`.
    pub fn is_confirmed(&self, key: StepKey) -> bool {
        self.confirmed.contains(key.as_str())
    }
    fn status(&self) -> RunStatus {
        self.status.unwrap_or(RunStatus::Pending)
    }
    /// Bills are requested: the pre-billing steps are closed.
    fn requested(&self) -> bool {
        self.status().is_locked()
    }
    fn completed(&self) -> bool {
        self.status() == RunStatus::Completed
    }
    fn cancelled(&self) -> bool {
        self.status().is_cancelled()
    }
    fn open_errors(&self) -> u64 {
        self.open_errors.iter().map(|e| e.1).sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub key: StepKey,
    pub title: &'static str,
    pub state: State,
    pub detail: String,
    pub command: String,
    /// A warning shown under the step (e.g. stale Xero payments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// pre or post billing
    #[serde(skip)]
    pub stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pre,
    Post,
}

#[derive(Debug, Clone, Serialize)]
pub struct Checklist {
    pub steps: Vec<Step>,
    pub next: Option<StepKey>,
    pub complete: bool,
    /// The stage to show in text: pre-billing until bills are requested.
    #[serde(skip)]
    pub stage: Stage,
}

fn step(key: StepKey, title: &'static str, state: State, detail: String, command: String) -> Step {
    Step {
        key,
        title,
        state,
        detail,
        command,
        warning: None,
        stage: key.stage(),
    }
}

/// Why a step cannot be confirmed (yet). The text names what to do first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("run {run} is cancelled: nothing more can be done with it")]
    Cancelled { run: i64 },
    #[error("run {run} is {status}: pre-billing steps are closed once bills are requested")]
    PreBillingClosed { run: i64, status: RunStatus },
    #[error("run {run} is {status}: the post-billing report comes after production")]
    BeforeProduction { run: i64, status: RunStatus },
    #[error(
        "{0} CDR files are pending: process them (billrun cdr process) or ignore them (billrun cdr ignore FILE) first"
    )]
    CdrFilesPending(u64),
    #[error("{0} CDR files are being processed (billrun cdr list): wait for them to finish")]
    CdrFilesProcessing(u64),
    #[error(
        "no CDR file this period from {}: fetch or import it, or acknowledge each with billrun confirm {run} cdrs --missing CARRIER --reason TEXT",
        carriers.join(", ")
    )]
    CarriersMissing { run: i64, carriers: Vec<String> },
    #[error(
        "{open} billing errors are open (carrier cost {cost} at risk): review them (billrun errors {run}) and confirm again, answering yes (or with --yes) to bill without them"
    )]
    ErrorsOpen { run: i64, open: u64, cost: String },
    #[error("run the post-billing report first (billrun postbill {run})")]
    PostbillFirst { run: i64 },
    #[error("confirm the CDR check first (billrun confirm {run} cdrs)")]
    ConfirmCdrsFirst { run: i64 },
    #[error("wholesale fees are off (features.wholesale_fees): there is no fee-errors step")]
    WholesaleFeesOff,
    #[error(
        "{open} fee errors are open: resolve or ignore them first (billrun errors {run} --kind fee_unknown_service)"
    )]
    FeeErrorsOpen { run: i64, open: u64 },
    #[error("set dates first (billrun set-dates {run} --invoice-date D --cutoff D)")]
    SetDatesFirst { run: i64 },
    #[error("run the pre-billing report first (billrun prebill {run})")]
    PrebillFirst { run: i64 },
    #[error("step {0} is not confirmed by the operator")]
    NotConfirmable(StepKey),
    #[error("run {run} is {status}: bills were already requested")]
    AlreadyRequested { run: i64, status: RunStatus },
    #[error(
        "run {run}: step 'Set dates' is not done: billrun set-dates {run} --invoice-date D --cutoff D"
    )]
    DatesNotSet { run: i64 },
    #[error(
        "run {run}: step '{title}' {how} ({detail}). Do it first: {command} — or request with --expert to skip the checks"
    )]
    StepOpen {
        run: i64,
        title: &'static str,
        how: &'static str,
        detail: String,
        command: String,
    },
}

/// The step order: what a step waits for. A step that waits is `blocked`
/// in the checklist, and `confirm` refuses it.
fn waits_for(f: &Facts, key: StepKey) -> Option<Refusal> {
    let run = f.run_id;
    match key {
        // Payments and CDRs are counted up to the cutoff: dates first.
        StepKey::CheckPayments | StepKey::CheckCdrs | StepKey::Prebill if !f.dates_set => {
            Some(Refusal::SetDatesFirst { run })
        }
        // Errors come from the CDRs (and fee errors from the fee files
        // imported with them): the CDRs are checked first.
        StepKey::CheckErrors | StepKey::CheckFeeErrors if !f.is_confirmed(StepKey::CheckCdrs) => {
            Some(Refusal::ConfirmCdrsFirst { run })
        }
        _ => None,
    }
}

/// A step that does not apply (shown `skipped`, never confirmed).
fn not_applicable(f: &Facts, key: StepKey) -> Option<Refusal> {
    match key {
        StepKey::CheckFeeErrors if !f.wholesale_fees => Some(Refusal::WholesaleFeesOff),
        _ => None,
    }
}

/// The stage of `key` is open: pre-billing steps until bills are
/// requested, post-billing steps once the run is produced.
fn stage_open(f: &Facts, key: StepKey) -> Result<(), Refusal> {
    let (run, status) = (f.run_id, f.status());
    if f.cancelled() {
        return Err(Refusal::Cancelled { run });
    }
    match key.stage() {
        Stage::Pre if f.requested() => Err(Refusal::PreBillingClosed { run, status }),
        Stage::Post if !f.completed() => Err(Refusal::BeforeProduction { run, status }),
        _ => Ok(()),
    }
}

/// Whether the operator may confirm `key` now. Checked by `confirm` inside
/// its write transaction, on facts gathered there.
pub fn can_confirm(f: &Facts, key: StepKey) -> Result<(), Refusal> {
    if key.confirm_arg().is_none() {
        return Err(Refusal::NotConfirmable(key));
    }
    stage_open(f, key)?;
    let run = f.run_id;
    // What must be finished before the confirmation means anything.
    let unfinished = match key {
        StepKey::CheckCdrs if f.cdr.pending_files > 0 => {
            Some(Refusal::CdrFilesPending(f.cdr.pending_files))
        }
        StepKey::CheckCdrs if f.cdr.processing_files > 0 => {
            Some(Refusal::CdrFilesProcessing(f.cdr.processing_files))
        }
        StepKey::CheckCdrs if !f.cdr.unacknowledged_missing().is_empty() => {
            Some(Refusal::CarriersMissing {
                run,
                carriers: f.cdr.unacknowledged_missing(),
            })
        }
        StepKey::CheckFeeErrors if f.wholesale_fees && f.open_fee_errors > 0 => {
            Some(Refusal::FeeErrorsOpen {
                run,
                open: f.open_fee_errors,
            })
        }
        StepKey::Prebill if !f.prebill_done => Some(Refusal::PrebillFirst { run }),
        StepKey::Postbill if !f.postbill_done => Some(Refusal::PostbillFirst { run }),
        _ => None,
    };
    match not_applicable(f, key)
        .or_else(|| waits_for(f, key))
        .or(unfinished)
    {
        Some(r) => Err(r),
        None => Ok(()),
    }
}

/// What confirming `key` knowingly accepts, that the operator must agree
/// to (a prompt, or `--yes`): open billing errors for `errors`, which are
/// then not billed. `cost` is the carrier cost of the open errors.
pub fn confirm_risk(f: &Facts, key: StepKey, cost: &str) -> Option<Refusal> {
    let open = f.open_errors();
    (key == StepKey::CheckErrors && open > 0).then(|| Refusal::ErrorsOpen {
        run: f.run_id,
        open,
        cost: cost.to_string(),
    })
}

/// Whether `--expert` is allowed to `os_user`: everyone when `expert.users`
/// is unset (empty), else only the users it lists (comma-separated).
pub fn expert_allowed(expert_users: Option<&str>, os_user: &str) -> bool {
    match expert_users.map(str::trim).filter(|s| !s.is_empty()) {
        None => true,
        Some(list) => list.split(',').map(str::trim).any(|u| u == os_user),
    }
}

/// Whether bills may be requested: not yet requested, dates set, and
/// (unless `expert`) every pre-billing step above `request` settled, in
/// checklist order. Checked inside the write transaction that locks the run.
pub fn can_request(f: &Facts, expert: bool) -> Result<(), Refusal> {
    let run = f.run_id;
    if f.cancelled() {
        return Err(Refusal::Cancelled { run });
    }
    if f.requested() {
        return Err(Refusal::AlreadyRequested {
            run,
            status: f.status(),
        });
    }
    if !f.dates_set {
        return Err(Refusal::DatesNotSet { run });
    }
    if expert {
        return Ok(());
    }
    let cl = compute(f);
    match cl
        .steps
        .into_iter()
        .find(|s| s.key < StepKey::Request && !s.state.is_settled())
    {
        Some(s) => Err(Refusal::StepOpen {
            run,
            title: s.title,
            how: if s.state == State::Blocked {
                "is blocked"
            } else {
                "is not done"
            },
            detail: s.detail,
            command: s.command,
        }),
        None => Ok(()),
    }
}

fn sum_line(v: &[MethodTotal]) -> (u64, i64) {
    v.iter()
        .fold((0, 0), |(c, s), m| (c + m.count, s + m.sum_minor))
}

/// The payments table of `check_payments` as one line: for each method in
/// either run, count and sum this run beside the previous run's.
fn by_method(now: &[MethodTotal], prev: &[MethodTotal]) -> String {
    let mut methods: Vec<&str> = now.iter().chain(prev).map(|m| m.method.as_str()).collect();
    methods.sort_unstable();
    methods.dedup();
    if methods.is_empty() {
        return String::new();
    }
    let get = |v: &[MethodTotal], k: &str| {
        v.iter()
            .find(|m| m.method == k)
            .map(|m| (m.count, m.sum_minor))
            .unwrap_or((0, 0))
    };
    let parts: Vec<String> = methods
        .iter()
        .map(|k| {
            let (c, s) = get(now, k);
            let (pc, ps) = get(prev, k);
            format!(
                "{k} {c} {} (prev {pc} {})",
                money::fmt_minor(s),
                money::fmt_minor(ps)
            )
        })
        .collect();
    format!("; by method: {}", parts.join(", "))
}

/// The state of a pre-billing step the operator confirms: done when
/// confirmed, skipped once bills are requested (or when it does not
/// apply), blocked while it waits for an earlier step, else to do.
fn confirmable_state(f: &Facts, key: StepKey) -> State {
    if not_applicable(f, key).is_some() {
        State::Skipped
    } else if f.is_confirmed(key) {
        State::Done
    } else if f.requested() {
        State::Skipped
    } else if waits_for(f, key).is_some() {
        State::Blocked
    } else {
        State::Todo
    }
}

/// After an `--expert` request, an unconfirmed pre-billing step was
/// bypassed: its detail says so.
fn note_bypass(f: &Facts, mut s: Step) -> Step {
    if f.requested() && !f.is_confirmed(s.key) && not_applicable(f, s.key).is_none() {
        s.detail = format!(
            "skipped: bills requested with --expert by {}",
            f.expert_by.as_deref().unwrap_or("?")
        );
    }
    s
}

fn set_dates(f: &Facts) -> Step {
    step(
        StepKey::SetDates,
        "Set dates",
        if f.dates_set {
            State::Done
        } else {
            State::Todo
        },
        match (&f.invoice_date, &f.cutoff_date) {
            (Some(i), Some(c)) => format!("invoice date {i}, cutoff {c}"),
            (i, c) => format!(
                "missing: {}",
                [(i.is_none(), "invoice date"), (c.is_none(), "cutoff date")]
                    .iter()
                    .filter(|x| x.0)
                    .map(|x| x.1)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        format!(
            "billrun set-dates {} --invoice-date YYYY-MM-DD --cutoff YYYY-MM-DD",
            f.run_id
        ),
    )
}

/// Done when every customer can be billed, delivered and collected as set
/// up, or when the operator confirmed the problems (`confirm RUN setup`).
fn check_setup(f: &Facts) -> Step {
    let id = f.run_id;
    let problems = &f.setup_problems;
    let state = if problems.is_empty() || f.is_confirmed(StepKey::CheckSetup) {
        State::Done
    } else {
        confirmable_state(f, StepKey::CheckSetup)
    };
    let mut s = note_bypass(
        f,
        step(
            StepKey::CheckSetup,
            "Check customer setup",
            state,
            setup_check::summary(problems),
            if problems.is_empty() {
                format!("billrun prebill {id}")
            } else {
                format!(
                    "fix each customer (billrun status {id} lists them), then billrun customers import FILE; or accept: billrun confirm {id} setup"
                )
            },
        ),
    );
    if problems.is_empty() {
        s.detail = setup_check::summary(problems);
    } else if f.is_confirmed(StepKey::CheckSetup) {
        s.detail = format!(
            "confirmed by the operator: {}",
            setup_check::summary(problems)
        );
    }
    s
}

fn check_payments(f: &Facts) -> Step {
    let id = f.run_id;
    let (pc, ps) = sum_line(&f.payments_now);
    let (qc, qs) = sum_line(&f.payments_prev);
    let mut s = note_bypass(
        f,
        step(
            StepKey::CheckPayments,
            "Check payments",
            confirmable_state(f, StepKey::CheckPayments),
            format!(
                "{pc} unallocated payments, {} (previous run: {qc}, {}){}",
                money::fmt_minor(ps),
                money::fmt_minor(qs),
                by_method(&f.payments_now, &f.payments_prev)
            ),
            format!("billrun payments list --unallocated; billrun confirm {id} payments"),
        ),
    );
    s.warning = f.xero_payments_stale.clone();
    s
}

fn check_cdrs(f: &Facts) -> Step {
    let id = f.run_id;
    let c = &f.cdr;
    let mut detail = format!(
        "{} files, {} CDR lines this period (previous {} files, {} lines)",
        c.files_this, c.lines_this, c.files_prev, c.lines_prev
    );
    if c.pending_files + c.processing_files + c.failed_files > 0 {
        detail.push_str(&format!(
            "; {} pending, {} processing, {} failed",
            c.pending_files, c.processing_files, c.failed_files
        ));
    }
    let unacked = c.unacknowledged_missing();
    if !unacked.is_empty() {
        detail.push_str(&format!("; no file from {}", unacked.join(", ")));
    }
    let acked: Vec<String> = c
        .carriers_without_file
        .iter()
        .filter_map(|k| c.acknowledged_missing.get(k).map(|r| format!("{k} ({r})")))
        .collect();
    if !acked.is_empty() {
        detail.push_str(&format!("; acknowledged missing: {}", acked.join(", ")));
    }
    note_bypass(
        f,
        step(
            StepKey::CheckCdrs,
            "Check CDRs",
            confirmable_state(f, StepKey::CheckCdrs),
            detail,
            if c.pending_files > 0 {
                "billrun cdr process (or billrun cdr ignore FILE)".to_string()
            } else if !unacked.is_empty() {
                format!(
                    "billrun cdr fetch; or, if no file is due: billrun confirm {id} cdrs{}",
                    unacked
                        .iter()
                        .map(|k| format!(" --missing {k} --reason TEXT"))
                        .collect::<String>()
                )
            } else {
                format!("billrun cdr fetch; billrun cdr list; billrun confirm {id} cdrs")
            },
        ),
    )
}

/// Appears after the CDRs are confirmed.
fn check_errors(f: &Facts) -> Step {
    let id = f.run_id;
    let open = f.open_errors();
    let mut s = note_bypass(
        f,
        step(
            StepKey::CheckErrors,
            "Check billing errors",
            confirmable_state(f, StepKey::CheckErrors),
            if open == 0 {
                "no open billing errors".to_string()
            } else {
                format!(
                    "{open} open: {}",
                    f.open_errors
                        .iter()
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            format!("billrun errors {id}; billrun confirm {id} errors"),
        ),
    );
    if s.state == State::Blocked {
        s.detail = format!("confirm CDRs first; {}", s.detail);
    }
    s
}

/// Fixed fee errors: the wholesale feature only.
fn check_fee_errors(f: &Facts) -> Step {
    let id = f.run_id;
    let mut s = note_bypass(
        f,
        step(
            StepKey::CheckFeeErrors,
            "Check fixed fee errors",
            confirmable_state(f, StepKey::CheckFeeErrors),
            if !f.wholesale_fees {
                "wholesale fees are off (features.wholesale_fees)".to_string()
            } else {
                format!("{} open fee errors", f.open_fee_errors)
            },
            format!(
                "billrun errors {id} --kind fee_unknown_service; billrun confirm {id} fee-errors"
            ),
        ),
    );
    if s.state == State::Blocked {
        s.detail = format!("confirm CDRs first; {}", s.detail);
    }
    s
}

fn prebill(f: &Facts) -> Step {
    let id = f.run_id;
    note_bypass(
        f,
        step(
            StepKey::Prebill,
            "Pre-billing report",
            confirmable_state(f, StepKey::Prebill),
            if f.prebill_done {
                "report run; review it and confirm".to_string()
            } else if !f.dates_set {
                "set dates first".to_string()
            } else {
                "not run yet".to_string()
            },
            format!("billrun prebill {id}; billrun confirm {id} prebill"),
        ),
    )
}

/// Ready once every step above is settled.
fn request(f: &Facts, above: &[Step]) -> Step {
    let pre_ok = above.iter().all(|s| s.state.is_settled());
    let requested = f.requested();
    step(
        StepKey::Request,
        "Request bills",
        if requested {
            State::Done
        } else if pre_ok {
            State::Todo
        } else {
            State::Blocked
        },
        if requested {
            format!("bills requested (run {})", f.status())
        } else if pre_ok {
            "Billing run is ready!".to_string()
        } else {
            "complete the steps above first".to_string()
        },
        format!("billrun request {}", f.run_id),
    )
}

/// A post-billing step: blocked until the run is produced, then done or to do.
fn post_state(f: &Facts, done: bool) -> State {
    if stage_open(f, StepKey::Postbill).is_err() {
        State::Blocked
    } else if done {
        State::Done
    } else {
        State::Todo
    }
}

/// The detail of a post-billing step: `detail` once produced.
fn post_detail(f: &Facts, detail: impl FnOnce() -> String) -> String {
    if f.completed() {
        detail()
    } else {
        "after production".to_string()
    }
}

fn postbill(f: &Facts) -> Step {
    let id = f.run_id;
    step(
        StepKey::Postbill,
        "Post-billing report",
        post_state(f, f.is_confirmed(StepKey::Postbill)),
        post_detail(f, || {
            if f.postbill_done {
                "report run; review it and confirm".into()
            } else {
                "not run yet".into()
            }
        }),
        format!("billrun postbill {id}; billrun confirm {id} postbill"),
    )
}

fn production(f: &Facts) -> Step {
    let inv = &f.invoices;
    step(
        StepKey::Production,
        "Bill production",
        match f.status() {
            RunStatus::Completed => State::Done,
            RunStatus::Requested | RunStatus::Running => State::Waiting,
            _ => State::Blocked,
        },
        if f.requested() && inv.total > 0 {
            format!("{} of {} invoice PDFs ready", inv.pdf_ready, inv.total)
        } else {
            let expected = f
                .expected_invoices
                .map(|n| format!("{n} invoices expected"))
                .unwrap_or_else(|| "invoices not counted yet".into());
            if f.requested() {
                format!("0 PDFs ready; {expected} (pre-billing report)")
            } else {
                format!("request bills first; {expected}")
            }
        },
        format!("billrun produce {}", f.run_id),
    )
}

fn xero(f: &Facts) -> Step {
    let id = f.run_id;
    let unsent = f.invoices.xero_unsent;
    let credits = f.invoices.xero_credits_unsent;
    // "N credit notes" only when there are some (most runs have none).
    let and_credits = |what: &str| {
        if credits == 0 {
            what.to_string()
        } else {
            format!(
                "{}, {credits} credit notes",
                what.replacen(" and ", ", ", 1)
            )
        }
    };
    if let Some(customers) = f.invoices.xero_customers_unsent {
        // API mode: done only when Xero confirmed every customer and invoice.
        let mut s = step(
            StepKey::Xero,
            "Send to Xero",
            if !f.xero_enabled {
                State::Skipped
            } else {
                post_state(f, unsent == 0 && customers == 0 && credits == 0)
            },
            if !f.xero_enabled {
                "Xero is off (xero.enabled)".to_string()
            } else {
                post_detail(f, || {
                    format!(
                        "{} not yet in Xero",
                        and_credits(&format!("{customers} customers and {unsent} invoices"))
                    )
                })
            },
            format!("billrun xero push {id}"),
        );
        if f.xero_enabled && f.invoices.xero_refused > 0 && f.completed() {
            s.detail.push_str(&format!(
                "; Xero refused {} at the last push (billrun xero push {id} lists them)",
                f.invoices.xero_refused
            ));
        }
        return s;
    }
    step(
        StepKey::Xero,
        "Send to Xero",
        if !f.xero_enabled {
            State::Skipped
        } else {
            post_state(f, unsent == 0 && credits == 0)
        },
        if !f.xero_enabled {
            "Xero is off (xero.enabled)".to_string()
        } else {
            post_detail(f, || {
                format!(
                    "{} not yet sent to Xero",
                    and_credits(&format!("{unsent} invoices"))
                )
            })
        },
        format!("billrun xero export {id} --out xero-{id}.csv"),
    )
}

fn email(f: &Facts) -> Step {
    let id = f.run_id;
    let inv = &f.invoices;
    let mut detail = post_detail(f, || format!("{} invoices to email", inv.email_unsent));
    if inv.email_failed > 0 {
        detail.push_str(&format!(", {} failed", inv.email_failed));
    }
    if inv.email_in_flight > 0 {
        detail.push_str(&format!(
            ", {} interrupted mid-send: check the mail server, then `billrun email {id} --arrived NUMBER` if it went, else `billrun email {id} --resend NUMBER`",
            inv.email_in_flight
        ));
    }
    step(
        StepKey::Email,
        "Email bills",
        post_state(f, inv.email_unsent == 0 && inv.email_in_flight == 0),
        detail,
        format!("billrun email {id}"),
    )
}

fn print(f: &Facts) -> Step {
    let id = f.run_id;
    let n = f.invoices.print_unprinted;
    step(
        StepKey::Print,
        "Print bills",
        post_state(f, n == 0),
        post_detail(f, || format!("{n} invoices to print")),
        format!("billrun print {id} --out print-{id}"),
    )
}

/// What a collection step still has to do.
struct Collection<'a> {
    uncollected: u64,
    failed: u64,
    unplaced: &'a [i64],
    unanswered: u64,
    gateway: &'a str,
}

impl Collection<'_> {
    fn done(&self) -> bool {
        self.uncollected == 0 && self.unplaced.is_empty() && self.unanswered == 0
    }
}

fn collect_detail(f: &Facts, c: &Collection<'_>, again: &str, resend: &str) -> String {
    post_detail(f, || {
        let mut d = format!("{} invoices not yet in a payment run", c.uncollected);
        if c.failed > 0 {
            d.push_str(&format!(", {} failed collections", c.failed));
        }
        if !c.unplaced.is_empty() {
            let ids: Vec<String> = c.unplaced.iter().map(i64::to_string).collect();
            d.push_str(&format!(
                "; the file of payment run {} is not in place (interrupted): run `{again}` to put it there",
                ids.join(", ")
            ));
        }
        if c.unanswered > 0 {
            d.push_str(&format!(
                "; {} payments sent to {} have no recorded answer (interrupted): run `{resend}` to re-send them with the same idempotency keys (never a second payment)",
                c.unanswered, c.gateway
            ));
        }
        d
    })
}

fn collect_dd(f: &Facts) -> Step {
    let id = f.run_id;
    let inv = &f.invoices;
    let again = format!("billrun collect dd {id}");
    let c = Collection {
        uncollected: inv.dd_uncollected,
        failed: inv.dd_failed,
        unplaced: &inv.dd_unplaced,
        unanswered: inv.dd_unanswered,
        gateway: "GoCardless",
    };
    step(
        StepKey::CollectDd,
        "Collect by Direct Debit",
        post_state(f, c.done()),
        collect_detail(f, &c, &again, &again),
        if inv.dd_unplaced.is_empty() && inv.dd_unanswered == 0 {
            format!("billrun collect dd {id} --out dd-{id}.txt")
        } else {
            again
        },
    )
}

fn collect_card(f: &Facts) -> Step {
    let inv = &f.invoices;
    let again = format!("billrun collect card {} --out FILE", f.run_id);
    let resend = format!("billrun collect card {}", f.run_id);
    let c = Collection {
        uncollected: inv.card_uncollected,
        failed: inv.card_failed,
        unplaced: &inv.card_unplaced,
        unanswered: inv.card_unanswered,
        gateway: "Stripe",
    };
    step(
        StepKey::CollectCard,
        "Collect by card",
        post_state(f, c.done()),
        collect_detail(f, &c, &again, &resend),
        if inv.card_unplaced.is_empty() {
            resend
        } else {
            again
        },
    )
}

/// Complete once every step above is settled.
fn complete(f: &Facts, above: &[Step]) -> Step {
    let all_done = above.iter().all(|s| s.state.is_settled());
    step(
        StepKey::Complete,
        "Run complete",
        if all_done {
            State::Done
        } else {
            State::Blocked
        },
        if all_done {
            "Run complete".into()
        } else {
            "finish the steps above".into()
        },
        format!("billrun status {}", f.run_id),
    )
}

/// Compute the checklist: each step from the facts, in order.
pub fn compute(f: &Facts) -> Checklist {
    let mut steps: Vec<Step> = [
        set_dates,
        check_setup,
        check_payments,
        check_cdrs,
        check_errors,
        check_fee_errors,
        prebill,
    ]
    .iter()
    .map(|s| s(f))
    .collect();
    steps.push(request(f, &steps));
    steps.extend(
        [
            postbill,
            production,
            xero,
            email,
            print,
            collect_dd,
            collect_card,
        ]
        .iter()
        .map(|s| s(f)),
    );
    let done = complete(f, &steps);
    let all_done = done.state == State::Done;
    steps.push(done);
    if f.cancelled() {
        for s in &mut steps {
            s.state = State::Skipped;
            s.detail = "run cancelled".into();
        }
        return Checklist {
            steps,
            next: None,
            complete: false,
            stage: Stage::Pre,
        };
    }
    // Next: the first step the operator can act on (or that is under way),
    // else the first one not settled.
    let next = steps
        .iter()
        .find(|s| matches!(s.state, State::Todo | State::Waiting))
        .or_else(|| steps.iter().find(|s| !s.state.is_settled()))
        .map(|s| s.key);
    Checklist {
        steps,
        next,
        complete: all_done,
        stage: if f.requested() {
            Stage::Post
        } else {
            Stage::Pre
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            run_id: 3,
            status: Some(RunStatus::Pending),
            ..Default::default()
        }
    }
    fn state(c: &Checklist, key: &str) -> State {
        c.steps
            .iter()
            .find(|s| s.key.as_str() == key)
            .unwrap()
            .state
    }

    #[test]
    fn fresh_run_needs_dates_first() {
        let c = compute(&facts());
        assert_eq!(state(&c, "set_dates"), State::Todo);
        assert_eq!(state(&c, "check_errors"), State::Blocked);
        assert_eq!(state(&c, "check_fee_errors"), State::Skipped);
        assert_eq!(state(&c, "prebill"), State::Blocked);
        assert_eq!(state(&c, "request"), State::Blocked);
        assert_eq!(state(&c, "production"), State::Blocked);
        assert_eq!(state(&c, "xero"), State::Skipped);
        assert_eq!(c.next, Some(StepKey::SetDates));
        assert!(!c.complete);
        let keys: Vec<_> = c.steps.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "set_dates",
                "check_setup",
                "check_payments",
                "check_cdrs",
                "check_errors",
                "check_fee_errors",
                "prebill",
                "request",
                "postbill",
                "production",
                "xero",
                "email",
                "print",
                "collect_dd",
                "collect_card",
                "complete"
            ]
        );
    }

    #[test]
    fn all_confirmed_means_ready_to_request() {
        let mut f = facts();
        f.dates_set = true;
        for k in ["check_payments", "check_cdrs", "check_errors", "prebill"] {
            f.confirmed.insert(k.into());
        }
        let c = compute(&f);
        assert_eq!(state(&c, "request"), State::Todo);
        assert_eq!(
            c.steps
                .iter()
                .find(|s| s.key == StepKey::Request)
                .unwrap()
                .detail,
            "Billing run is ready!"
        );
        assert_eq!(c.next, Some(StepKey::Request));
        // Wholesale fees on: the fee-errors step must be confirmed too.
        f.wholesale_fees = true;
        assert_eq!(state(&compute(&f), "request"), State::Blocked);
    }

    #[test]
    fn expert_request_marks_unconfirmed_steps_skipped_not_done() {
        let mut f = facts();
        f.dates_set = true;
        f.status = Some(RunStatus::Requested);
        f.expert_by = Some("alice".into());
        let c = compute(&f);
        assert_eq!(state(&c, "check_payments"), State::Skipped);
        assert!(c.steps[2].detail.contains("alice"), "{:?}", c.steps[2]);
        assert_eq!(state(&c, "production"), State::Waiting);
        assert_eq!(state(&c, "email"), State::Blocked);
        assert_eq!(c.next, Some(StepKey::Production));
    }

    #[test]
    fn completed_run_with_nothing_left_is_complete() {
        let mut f = facts();
        f.dates_set = true;
        f.status = Some(RunStatus::Completed);
        f.confirmed.insert("postbill".into());
        let c = compute(&f);
        assert!(c.complete, "{:?}", c.steps);
        assert_eq!(c.next, None);
        f.invoices.email_unsent = 2;
        let c = compute(&f);
        assert_eq!(state(&c, "email"), State::Todo);
        assert_eq!(state(&c, "complete"), State::Blocked);
        assert_eq!(c.next, Some(StepKey::Email));
    }

    #[test]
    fn xero_api_mode_is_done_only_when_xero_confirmed_customers_and_invoices() {
        let mut f = facts();
        f.dates_set = true;
        f.status = Some(RunStatus::Completed);
        f.confirmed.insert("postbill".into());
        f.xero_enabled = true;
        f.invoices.xero_customers_unsent = Some(1);
        let step = |f: &Facts| {
            compute(f)
                .steps
                .into_iter()
                .find(|s| s.key == StepKey::Xero)
                .unwrap()
        };
        let s = step(&f);
        assert_eq!(s.state, State::Todo, "a customer is not in Xero");
        assert_eq!(s.detail, "1 customers and 0 invoices not yet in Xero");
        assert_eq!(s.command, "billrun xero push 3");
        f.invoices.xero_customers_unsent = Some(0);
        f.invoices.xero_unsent = 2;
        f.invoices.xero_refused = 1;
        let s = step(&f);
        assert_eq!(s.state, State::Todo);
        assert_eq!(
            s.detail,
            "0 customers and 2 invoices not yet in Xero; Xero refused 1 at the last push (billrun xero push 3 lists them)"
        );
        f.invoices.xero_unsent = 0;
        f.invoices.xero_refused = 0;
        assert_eq!(step(&f).state, State::Done);
        // A credit note issued later is sent the same way.
        f.invoices.xero_credits_unsent = 2;
        let s = step(&f);
        assert_eq!(s.state, State::Todo);
        assert_eq!(
            s.detail,
            "0 customers, 0 invoices, 2 credit notes not yet in Xero"
        );
        f.invoices.xero_credits_unsent = 0;
        f.xero_enabled = false;
        assert_eq!(step(&f).state, State::Skipped);
    }

    #[test]
    fn payments_step_shows_methods_beside_previous_run_and_stale_warning() {
        let mut f = facts();
        let mt = |m: &str, c, s| MethodTotal {
            method: m.into(),
            count: c,
            sum_minor: s,
        };
        f.payments_now = vec![mt("cheque", 1, 2500), mt("direct_debit", 2, 10800)];
        f.payments_prev = vec![mt("direct_debit", 3, 16200)];
        f.xero_payments_stale = Some("stale".into());
        let c = compute(&f);
        let s = c
            .steps
            .iter()
            .find(|s| s.key == StepKey::CheckPayments)
            .unwrap();
        assert_eq!(
            s.detail,
            "3 unallocated payments, 133.00 (previous run: 3, 162.00); by method: \
             cheque 1 25.00 (prev 0 0.00), direct_debit 2 108.00 (prev 3 162.00)"
        );
        assert_eq!(s.warning.as_deref(), Some("stale"));
    }

    #[test]
    fn confirm_arguments_map_to_steps() {
        assert_eq!(
            StepKey::from_confirm_arg("fee-errors"),
            Some(StepKey::CheckFeeErrors)
        );
        assert_eq!(StepKey::from_confirm_arg("nope"), None);
        assert_eq!(StepKey::CheckCdrs.confirm_arg(), Some("cdrs"));
        assert_eq!(StepKey::Request.confirm_arg(), None);
        assert_eq!(
            serde_json::to_value(StepKey::CollectDd).unwrap(),
            serde_json::json!("collect_dd")
        );
    }

    #[test]
    fn can_confirm_follows_the_step_order() {
        let mut f = facts();
        // Issue 15: payments are counted up to the cutoff: dates first.
        assert_eq!(
            can_confirm(&f, StepKey::CheckPayments),
            Err(Refusal::SetDatesFirst { run: 3 })
        );
        assert_eq!(
            can_confirm(&f, StepKey::CheckErrors),
            Err(Refusal::ConfirmCdrsFirst { run: 3 })
        );
        assert_eq!(
            can_confirm(&f, StepKey::Prebill).unwrap_err().to_string(),
            "set dates first (billrun set-dates 3 --invoice-date D --cutoff D)"
        );
        f.dates_set = true;
        assert_eq!(can_confirm(&f, StepKey::CheckPayments), Ok(()));
        assert_eq!(
            can_confirm(&f, StepKey::Prebill),
            Err(Refusal::PrebillFirst { run: 3 })
        );
        f.prebill_done = true;
        assert_eq!(can_confirm(&f, StepKey::Prebill), Ok(()));
        f.cdr.pending_files = 2;
        assert_eq!(
            can_confirm(&f, StepKey::CheckCdrs),
            Err(Refusal::CdrFilesPending(2))
        );
        assert_eq!(
            can_confirm(&f, StepKey::CheckFeeErrors),
            Err(Refusal::WholesaleFeesOff)
        );
        f.wholesale_fees = true;
        f.open_fee_errors = 1;
        // Issue 15: fee errors wait for the CDR check, like billing errors.
        assert_eq!(
            can_confirm(&f, StepKey::CheckFeeErrors),
            Err(Refusal::ConfirmCdrsFirst { run: 3 })
        );
        f.confirmed.insert("check_cdrs".into());
        assert!(matches!(
            can_confirm(&f, StepKey::CheckFeeErrors),
            Err(Refusal::FeeErrorsOpen { open: 1, .. })
        ));
        assert_eq!(
            can_confirm(&f, StepKey::Postbill).unwrap_err().to_string(),
            "run 3 is pending: the post-billing report comes after production"
        );
        assert_eq!(
            can_confirm(&f, StepKey::Request),
            Err(Refusal::NotConfirmable(StepKey::Request))
        );
        f.status = Some(RunStatus::Completed);
        // Issue 15: the report must have been run.
        assert_eq!(
            can_confirm(&f, StepKey::Postbill),
            Err(Refusal::PostbillFirst { run: 3 })
        );
        f.postbill_done = true;
        assert_eq!(can_confirm(&f, StepKey::Postbill), Ok(()));
        assert_eq!(
            can_confirm(&f, StepKey::CheckPayments)
                .unwrap_err()
                .to_string(),
            "run 3 is completed: pre-billing steps are closed once bills are requested"
        );
    }

    #[test]
    fn a_blocked_step_in_the_checklist_is_refused_by_confirm() {
        // One source of truth: every confirmable step shown `blocked` or
        // `skipped` is refused (issue 15: payments before the dates, fee
        // errors before the CDR check, a cancelled run, post-billing steps
        // before production were accepted).
        let mut f = facts();
        for status in [
            RunStatus::Pending,
            RunStatus::Requested,
            RunStatus::Completed,
            RunStatus::Cancelled,
        ] {
            for (dates_set, cdrs_confirmed, wholesale) in
                (0..8).map(|i| (i & 1 == 1, i & 2 == 2, i & 4 == 4))
            {
                f.status = Some(status);
                f.dates_set = dates_set;
                f.wholesale_fees = wholesale;
                f.confirmed.clear();
                if cdrs_confirmed {
                    f.confirmed.insert("check_cdrs".into());
                }
                let c = compute(&f);
                for s in c.steps.iter().filter(|s| s.key.confirm_arg().is_some()) {
                    if matches!(s.state, State::Blocked | State::Skipped) {
                        assert!(
                            can_confirm(&f, s.key).is_err(),
                            "{status} {:?} {:?} {s:?}",
                            (dates_set, cdrs_confirmed, wholesale),
                            s.key
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn setup_problems_hold_the_run_until_fixed_or_confirmed() {
        use crate::domain::setup_check::{Blocks, SetupProblem};
        let mut f = facts();
        f.dates_set = true;
        for k in ["check_payments", "check_cdrs", "check_errors", "prebill"] {
            f.confirmed.insert(k.into());
        }
        assert_eq!(state(&compute(&f), "check_setup"), State::Done);
        f.setup_problems = vec![SetupProblem {
            account: "A1".into(),
            name: "Acme".into(),
            blocks: Blocks::Collection,
            columns: vec!["mandate_ref"],
            problem: "Direct Debit without a mandate reference".into(),
            fix: "fill mandate_ref".into(),
        }];
        let c = compute(&f);
        assert_eq!(state(&c, "check_setup"), State::Todo);
        assert_eq!(state(&c, "request"), State::Blocked);
        assert_eq!(c.next, Some(StepKey::CheckSetup));
        let e = can_request(&f, false).unwrap_err().to_string();
        assert!(e.contains("'Check customer setup' is not done"), "{e}");
        assert_eq!(can_confirm(&f, StepKey::CheckSetup), Ok(()));
        f.confirmed.insert("check_setup".into());
        let c = compute(&f);
        assert_eq!(state(&c, "check_setup"), State::Done);
        assert_eq!(state(&c, "request"), State::Todo);
    }

    #[test]
    fn missing_carriers_must_be_acknowledged_before_confirming_cdrs() {
        let mut f = facts();
        f.dates_set = true;
        f.cdr.carriers_without_file = vec!["acme".into(), "zeta".into()];
        assert_eq!(
            can_confirm(&f, StepKey::CheckCdrs),
            Err(Refusal::CarriersMissing {
                run: 3,
                carriers: vec!["acme".into(), "zeta".into()]
            })
        );
        f.cdr
            .acknowledged_missing
            .insert("acme".into(), "no traffic".into());
        let c = compute(&f);
        let s = c
            .steps
            .iter()
            .find(|s| s.key == StepKey::CheckCdrs)
            .unwrap();
        assert!(s.detail.contains("no file from zeta"), "{}", s.detail);
        assert!(
            s.detail.contains("acknowledged missing: acme (no traffic)"),
            "{}",
            s.detail
        );
        assert!(
            s.command.contains("--missing zeta --reason TEXT"),
            "{}",
            s.command
        );
        f.cdr
            .acknowledged_missing
            .insert("zeta".into(), "closed".into());
        assert_eq!(can_confirm(&f, StepKey::CheckCdrs), Ok(()));
        f.cdr.processing_files = 1;
        assert_eq!(
            can_confirm(&f, StepKey::CheckCdrs),
            Err(Refusal::CdrFilesProcessing(1))
        );
    }

    #[test]
    fn open_errors_are_a_risk_and_expert_is_a_permission() {
        let mut f = facts();
        assert!(confirm_risk(&f, StepKey::CheckErrors, "0.00").is_none());
        f.open_errors = vec![("no_rate".into(), 300), ("unknown_service".into(), 12)];
        let r = confirm_risk(&f, StepKey::CheckErrors, "41.20").unwrap();
        assert!(
            r.to_string()
                .starts_with("312 billing errors are open (carrier cost 41.20 at risk)"),
            "{r}"
        );
        assert!(confirm_risk(&f, StepKey::CheckCdrs, "41.20").is_none());
        assert!(expert_allowed(None, "bob"));
        assert!(expert_allowed(Some(" "), "bob"));
        assert!(expert_allowed(Some("alice, bob"), "bob"));
        assert!(!expert_allowed(Some("alice"), "bob"));
        assert!(!expert_allowed(Some("alice,bobby"), "bob"));
    }

    #[test]
    fn a_cancelled_run_has_nothing_to_do() {
        let mut f = facts();
        f.status = Some(RunStatus::Cancelled);
        let c = compute(&f);
        assert!(c.steps.iter().all(|s| s.state == State::Skipped));
        assert_eq!((c.next, c.complete), (None, false));
        assert_eq!(
            can_confirm(&f, StepKey::CheckPayments),
            Err(Refusal::Cancelled { run: 3 })
        );
        assert_eq!(can_request(&f, true), Err(Refusal::Cancelled { run: 3 }));
    }

    #[test]
    fn production_shows_the_expected_invoices_before_pdfs_exist() {
        let mut f = facts();
        f.dates_set = true;
        f.expected_invoices = Some(42);
        let detail = |f: &Facts| {
            compute(f)
                .steps
                .into_iter()
                .find(|s| s.key == StepKey::Production)
                .unwrap()
                .detail
        };
        assert_eq!(detail(&f), "request bills first; 42 invoices expected");
        f.status = Some(RunStatus::Requested);
        assert_eq!(
            detail(&f),
            "0 PDFs ready; 42 invoices expected (pre-billing report)"
        );
        f.invoices.total = 42;
        f.invoices.pdf_ready = 5;
        assert_eq!(detail(&f), "5 of 42 invoice PDFs ready");
    }

    #[test]
    fn gateway_payments_without_an_answer_keep_collection_open_until_re_sent() {
        let mut f = facts();
        f.dates_set = true;
        f.status = Some(RunStatus::Completed);
        f.confirmed.insert("postbill".into());
        f.invoices.dd_unanswered = 14;
        let c = compute(&f);
        assert!(!c.complete, "a kill left 14 GoCardless payments unsent");
        let dd = c
            .steps
            .iter()
            .find(|s| s.key == StepKey::CollectDd)
            .unwrap();
        assert_eq!(dd.state, State::Todo);
        assert!(
            dd.detail
                .contains("14 payments sent to GoCardless have no recorded answer"),
            "{}",
            dd.detail
        );
        assert_eq!(dd.command, "billrun collect dd 3");
        f.invoices.dd_unanswered = 0;
        f.invoices.card_unanswered = 1;
        let c = compute(&f);
        let card = c
            .steps
            .iter()
            .find(|s| s.key == StepKey::CollectCard)
            .unwrap();
        assert_eq!(card.state, State::Todo);
        assert!(
            card.detail.contains("1 payments sent to Stripe"),
            "{}",
            card.detail
        );
        assert_eq!(card.command, "billrun collect card 3");
        f.invoices.card_unanswered = 0;
        assert!(compute(&f).complete);
    }
}
