//! The next-steps checklist (SPEC §1.1), computed from facts gathered from the
//! database. Nothing here is stored: only the operator's confirmations are.
//! A step that cannot be known yet is `blocked` or `waiting`, never faked as done.

use crate::domain::lifecycle::RunStatus;
use crate::domain::money;
use serde::Serialize;
use std::collections::BTreeSet;

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

/// Steps the operator confirms with `billrun confirm RUN STEP`.
pub const CONFIRMABLE: &[(&str, &str)] = &[
    ("payments", "check_payments"),
    ("cdrs", "check_cdrs"),
    ("errors", "check_errors"),
    ("fee-errors", "check_fee_errors"),
    ("prebill", "prebill"),
    ("postbill", "postbill"),
];

/// The step key a `confirm` argument names.
pub fn confirm_key(arg: &str) -> Option<&'static str> {
    CONFIRMABLE.iter().find(|(a, _)| *a == arg).map(|(_, k)| *k)
}

/// Count and sum of unallocated payments for one method.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MethodTotal {
    pub method: String,
    pub count: u64,
    pub sum_minor: i64,
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
    pub carriers_without_file: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct InvoiceFacts {
    /// Invoices the run will produce/has produced.
    pub total: u64,
    pub pdf_ready: u64,
    pub xero_unsent: u64,
    pub email_unsent: u64,
    pub email_failed: u64,
    pub email_in_flight: u64,
    pub print_unprinted: u64,
    pub dd_uncollected: u64,
    pub dd_failed: u64,
    pub card_uncollected: u64,
    pub card_failed: u64,
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
    pub invoices: InvoiceFacts,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub key: &'static str,
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
    pub next: Option<&'static str>,
    pub complete: bool,
    /// The stage to show in text: pre-billing until bills are requested.
    #[serde(skip)]
    pub stage: Stage,
}

fn step(
    key: &'static str,
    title: &'static str,
    stage: Stage,
    state: State,
    detail: String,
    command: String,
) -> Step {
    Step {
        key,
        title,
        state,
        detail,
        command,
        warning: None,
        stage,
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

/// Compute the checklist.
pub fn compute(f: &Facts) -> Checklist {
    use Stage::*;
    use State::*;
    let id = f.run_id;
    let status = f.status.unwrap_or(RunStatus::Pending);
    let requested = status.is_locked();
    let confirmed = |k: &str| f.confirmed.contains(k);
    // After an --expert request, an unconfirmed pre-billing step was bypassed.
    let bypassed = |k: &str| requested && !confirmed(k);
    let expert_note = || {
        format!(
            "skipped: bills requested with --expert by {}",
            f.expert_by.as_deref().unwrap_or("?")
        )
    };
    let mut steps = Vec::new();

    // 1. Set dates
    steps.push(step(
        "set_dates",
        "Set dates",
        Pre,
        if f.dates_set { Done } else { Todo },
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
        format!("billrun set-dates {id} --invoice-date YYYY-MM-DD --cutoff YYYY-MM-DD"),
    ));

    // 2. Check payments
    let (pc, ps) = sum_line(&f.payments_now);
    let (qc, qs) = sum_line(&f.payments_prev);
    let mut s = step(
        "check_payments",
        "Check payments",
        Pre,
        if confirmed("check_payments") {
            Done
        } else if requested {
            Skipped
        } else {
            Todo
        },
        format!(
            "{pc} unallocated payments, {} (previous run: {qc}, {}){}",
            money::fmt_minor(ps),
            money::fmt_minor(qs),
            by_method(&f.payments_now, &f.payments_prev)
        ),
        format!("billrun payments list --unallocated; billrun confirm {id} payments"),
    );
    if bypassed("check_payments") {
        s.detail = expert_note();
    }
    s.warning = f.xero_payments_stale.clone();
    steps.push(s);

    // 3. Check CDRs
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
    if !c.carriers_without_file.is_empty() {
        detail.push_str(&format!(
            "; no file from {}",
            c.carriers_without_file.join(", ")
        ));
    }
    let mut s = step(
        "check_cdrs",
        "Check CDRs",
        Pre,
        if confirmed("check_cdrs") {
            Done
        } else if requested {
            Skipped
        } else {
            Todo
        },
        detail,
        if c.pending_files > 0 {
            "billrun cdr process (or billrun cdr ignore FILE)".to_string()
        } else {
            format!("billrun cdr fetch; billrun cdr list; billrun confirm {id} cdrs")
        },
    );
    if bypassed("check_cdrs") {
        s.detail = expert_note();
    }
    steps.push(s);

    // 4. Check billing errors (appears after CDRs are confirmed)
    let open: u64 = f.open_errors.iter().map(|e| e.1).sum();
    let mut s = step(
        "check_errors",
        "Check billing errors",
        Pre,
        if confirmed("check_errors") {
            Done
        } else if requested {
            Skipped
        } else if !confirmed("check_cdrs") {
            Blocked
        } else {
            Todo
        },
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
    );
    if bypassed("check_errors") {
        s.detail = expert_note();
    } else if s.state == Blocked {
        s.detail = format!("confirm CDRs first; {}", s.detail);
    }
    steps.push(s);

    // 5. Fixed fee errors (wholesale feature only)
    let mut s = step(
        "check_fee_errors",
        "Check fixed fee errors",
        Pre,
        if !f.wholesale_fees {
            Skipped
        } else if confirmed("check_fee_errors") {
            Done
        } else if requested {
            Skipped
        } else {
            Todo
        },
        if !f.wholesale_fees {
            "wholesale fees are off (features.wholesale_fees)".to_string()
        } else {
            format!("{} open fee errors", f.open_fee_errors)
        },
        format!("billrun errors {id} --kind fee_unknown_service; billrun confirm {id} fee-errors"),
    );
    if f.wholesale_fees && bypassed("check_fee_errors") {
        s.detail = expert_note();
    }
    steps.push(s);

    // 6. Pre-billing report
    let mut s = step(
        "prebill",
        "Pre-billing report",
        Pre,
        if confirmed("prebill") {
            Done
        } else if requested {
            Skipped
        } else if !f.dates_set {
            Blocked
        } else {
            Todo
        },
        if f.prebill_done {
            "report run; review it and confirm".to_string()
        } else if !f.dates_set {
            "set dates first".to_string()
        } else {
            "not run yet".to_string()
        },
        format!("billrun prebill {id}; billrun confirm {id} prebill"),
    );
    if bypassed("prebill") {
        s.detail = expert_note();
    }
    steps.push(s);

    // 7. Request bills
    let pre_ok = steps.iter().all(|s| s.state.is_settled());
    steps.push(step(
        "request",
        "Request bills",
        Pre,
        if requested {
            Done
        } else if pre_ok {
            Todo
        } else {
            Blocked
        },
        if requested {
            format!("bills requested (run {status})")
        } else if pre_ok {
            "Billing run is ready!".to_string()
        } else {
            "complete the steps above first".to_string()
        },
        format!("billrun request {id}"),
    ));

    // Post-billing.
    let completed = status == RunStatus::Completed;
    let inv = &f.invoices;
    let post = |done: bool| {
        if !completed {
            Blocked
        } else if done {
            Done
        } else {
            Todo
        }
    };
    let wait_detail = "after production".to_string();
    steps.push(step(
        "postbill",
        "Post-billing report",
        Post,
        post(confirmed("postbill")),
        if completed {
            "review the report and confirm".into()
        } else {
            wait_detail.clone()
        },
        format!("billrun postbill {id}; billrun confirm {id} postbill"),
    ));
    steps.push(step(
        "production",
        "Bill production",
        Post,
        match status {
            RunStatus::Completed => Done,
            RunStatus::Requested | RunStatus::Running => Waiting,
            _ => Blocked,
        },
        if requested {
            format!("{} of {} invoice PDFs ready", inv.pdf_ready, inv.total)
        } else {
            "request bills first".to_string()
        },
        format!("billrun produce {id}"),
    ));
    steps.push(step(
        "xero",
        "Send to Xero",
        Post,
        if !f.xero_enabled {
            Skipped
        } else {
            post(inv.xero_unsent == 0)
        },
        if !f.xero_enabled {
            "Xero is off (xero.enabled)".to_string()
        } else if completed {
            format!("{} invoices not yet sent to Xero", inv.xero_unsent)
        } else {
            wait_detail.clone()
        },
        format!("billrun xero export {id} --out xero-{id}.csv"),
    ));
    let mut email_detail = if completed {
        format!("{} invoices to email", inv.email_unsent)
    } else {
        wait_detail.clone()
    };
    if inv.email_failed > 0 {
        email_detail.push_str(&format!(", {} failed", inv.email_failed));
    }
    if inv.email_in_flight > 0 {
        email_detail.push_str(&format!(
            ", {} interrupted mid-send: check the mail server, then `billrun email {id} --resend NUMBER`",
            inv.email_in_flight
        ));
    }
    steps.push(step(
        "email",
        "Email bills",
        Post,
        post(inv.email_unsent == 0 && inv.email_in_flight == 0),
        email_detail,
        format!("billrun email {id}"),
    ));
    steps.push(step(
        "print",
        "Print bills",
        Post,
        post(inv.print_unprinted == 0),
        if completed {
            format!("{} invoices to print", inv.print_unprinted)
        } else {
            wait_detail.clone()
        },
        format!("billrun print {id} --out print-{id}"),
    ));
    let collect_detail = |n: u64, failed: u64| {
        if !completed {
            return wait_detail.clone();
        }
        let mut d = format!("{n} invoices not yet in a payment run");
        if failed > 0 {
            d.push_str(&format!(", {failed} failed collections"));
        }
        d
    };
    steps.push(step(
        "collect_dd",
        "Collect by Direct Debit",
        Post,
        post(inv.dd_uncollected == 0),
        collect_detail(inv.dd_uncollected, inv.dd_failed),
        format!("billrun collect dd {id} --out dd-{id}.txt"),
    ));
    steps.push(step(
        "collect_card",
        "Collect by card",
        Post,
        post(inv.card_uncollected == 0),
        collect_detail(inv.card_uncollected, inv.card_failed),
        format!("billrun collect card {id}"),
    ));
    let all_done = steps.iter().all(|s| s.state.is_settled());
    steps.push(step(
        "complete",
        "Run complete",
        Post,
        if all_done { Done } else { Blocked },
        if all_done {
            "Run complete".into()
        } else {
            "finish the steps above".into()
        },
        format!("billrun status {id}"),
    ));
    // Next: the first step the operator can act on (or that is under way),
    // else the first one not settled.
    let next = steps
        .iter()
        .find(|s| matches!(s.state, Todo | Waiting))
        .or_else(|| steps.iter().find(|s| !s.state.is_settled()))
        .map(|s| s.key);
    Checklist {
        steps,
        next,
        complete: all_done,
        stage: if requested { Post } else { Pre },
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
        c.steps.iter().find(|s| s.key == key).unwrap().state
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
        assert_eq!(c.next, Some("set_dates"));
        assert!(!c.complete);
        let keys: Vec<_> = c.steps.iter().map(|s| s.key).collect();
        assert_eq!(
            keys,
            [
                "set_dates",
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
            c.steps.iter().find(|s| s.key == "request").unwrap().detail,
            "Billing run is ready!"
        );
        assert_eq!(c.next, Some("request"));
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
        assert!(c.steps[1].detail.contains("alice"));
        assert_eq!(state(&c, "production"), State::Waiting);
        assert_eq!(state(&c, "email"), State::Blocked);
        assert_eq!(c.next, Some("production"));
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
        assert_eq!(c.next, Some("email"));
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
        let s = c.steps.iter().find(|s| s.key == "check_payments").unwrap();
        assert_eq!(
            s.detail,
            "3 unallocated payments, 133.00 (previous run: 3, 162.00); by method: \
             cheque 1 25.00 (prev 0 0.00), direct_debit 2 108.00 (prev 3 162.00)"
        );
        assert_eq!(s.warning.as_deref(), Some("stale"));
    }

    #[test]
    fn confirm_arguments_map_to_steps() {
        assert_eq!(confirm_key("fee-errors"), Some("check_fee_errors"));
        assert_eq!(confirm_key("nope"), None);
    }
}
