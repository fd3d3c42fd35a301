//! The autopilot's rules (docs/autopilot in docs/commands.md): pure
//! decisions on facts, unit-tested here; `ops::autopilot` gathers the facts
//! and acts.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

/// Why the autopilot stopped a run at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopKind {
    /// A person must act (exit 3, notified).
    Person,
    /// Time will move it on (a date not reached, files being processed).
    Later,
}

/// The invoice date has come: bills may be requested on or after it.
pub fn may_request(today: NaiveDate, invoice_date: Option<NaiveDate>) -> bool {
    invoice_date.is_some_and(|d| today >= d)
}

/// A carrier has sent no file this period. Before the invoice date a file
/// may still come (wait); from the invoice date on a person must chase the
/// carrier or acknowledge the gap.
pub fn missing_files_stop(today: NaiveDate, invoice_date: Option<NaiveDate>) -> StopKind {
    if may_request(today, invoice_date) {
        StopKind::Person
    } else {
        StopKind::Later
    }
}

/// Open billing errors may be confirmed on their own when the carrier
/// cost at risk is at most the policy's maximum.
pub fn errors_within(cost: Decimal, max: Decimal) -> bool {
    cost <= max
}

/// The pre-billing flags of a customer that stop `auto.prebill`: those
/// not in `allowed` (`auto.prebill_allow_flags`).
pub fn stopping_flags<'a>(flags: &[&'a str], allowed: &[String]) -> Vec<&'a str> {
    flags
        .iter()
        .copied()
        .filter(|f| !allowed.iter().any(|a| a == f))
        .collect()
}

/// The `why` of a step the policy does not allow.
pub fn policy_off(rule: &str) -> String {
    format!("the policy does not allow it ({rule} is off)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn bills_are_requested_on_or_after_the_invoice_date_only() {
        assert!(!may_request(d("2026-11-30"), Some(d("2026-12-01"))));
        assert!(may_request(d("2026-12-01"), Some(d("2026-12-01"))));
        assert!(may_request(d("2026-12-02"), Some(d("2026-12-01"))));
        assert!(!may_request(d("2026-12-02"), None), "no date, no request");
    }

    #[test]
    fn a_missing_carrier_file_needs_a_person_from_the_invoice_date() {
        assert_eq!(
            missing_files_stop(d("2026-11-30"), Some(d("2026-12-01"))),
            StopKind::Later
        );
        assert_eq!(
            missing_files_stop(d("2026-12-01"), Some(d("2026-12-01"))),
            StopKind::Person
        );
    }

    #[test]
    fn only_flags_not_allowed_stop_the_prebill() {
        let allowed = vec!["new_customer".to_string(), "no_usage".to_string()];
        assert!(stopping_flags(&["new_customer", "no_usage"], &allowed).is_empty());
        assert_eq!(
            stopping_flags(&["new_customer", "large_change"], &allowed),
            vec!["large_change"]
        );
        assert_eq!(stopping_flags(&["no_usage"], &[]), vec!["no_usage"]);
    }

    #[test]
    fn errors_are_confirmed_up_to_the_maximum_cost() {
        let max = Decimal::new(500, 2);
        assert!(errors_within(Decimal::ZERO, Decimal::ZERO));
        assert!(errors_within(Decimal::new(500, 2), max));
        assert!(!errors_within(Decimal::new(501, 2), max));
        assert!(!errors_within(Decimal::new(1, 4), Decimal::ZERO));
    }
}
