//! The pre-billing report (docs/commands.md#prebill): per customer figures and flags from
//! the same invoice drafts production will create, plus totals.

use super::invoice::{Category, Draft, Outcome};
use super::money::fmt_minor;
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// Money in minor units, serialised as a string with two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Minor(pub i64);

impl Serialize for Minor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&fmt_minor(self.0))
    }
}

impl std::fmt::Display for Minor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&fmt_minor(self.0))
    }
}

/// What the report needs to know about a customer beyond the draft.
#[derive(Debug, Clone)]
pub struct CustomerFacts {
    pub account: String,
    pub name: String,
    pub wants_email: bool,
    pub has_email: bool,
    pub has_bank_details: bool,
    /// Total charges of the previous invoice, if there was one.
    pub previous_total_minor: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerRow {
    pub account: String,
    pub name: String,
    pub usage: Minor,
    pub fixed: Minor,
    pub one_off: Minor,
    pub wholesale: Minor,
    pub charges_ex_tax: Minor,
    pub tax: Minor,
    pub total: Minor,
    pub previous_total: Option<Minor>,
    pub change_percent: Option<Decimal>,
    pub opening_balance: Minor,
    pub payments: Minor,
    pub amount_due: Minor,
    /// invoice | empty | too_low
    pub outcome: &'static str,
    pub flags: Vec<&'static str>,
    /// Inclusive allowances per service (or pool): included / used /
    /// remaining (absent when the customer has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowances: Vec<crate::domain::allowance::AllowanceUse>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    pub customers: u64,
    pub invoices: u64,
    pub empty: u64,
    pub too_low: u64,
    pub usage: Minor,
    pub fixed: Minor,
    pub one_off: Minor,
    pub wholesale: Minor,
    pub charges_ex_tax: Minor,
    pub tax: Minor,
    pub total: Minor,
    pub payments: Minor,
    pub amount_due: Minor,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarrierRow {
    pub carrier: String,
    pub cdrs: u64,
    pub usage: Minor,
}

/// The whole report, as `prebill --json` prints it and the run's snapshot
/// keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report<R: Serialize> {
    pub run: R,
    pub customers: Vec<CustomerRow>,
    pub totals: Totals,
    pub by_carrier: Vec<CarrierRow>,
    pub unbilled_cdrs: u64,
    pub waiting_cdrs: u64,
    pub open_errors: u64,
    /// Customers that cannot be billed, delivered or collected as set up
    /// (`domain::setup_check`), each with how to fix it.
    pub setup_problems: Vec<crate::domain::setup_check::SetupProblem>,
}

/// Change from `previous` to `now` in percent, one decimal; `None` when
/// there is no previous figure to compare with (or it was zero).
pub fn change_percent(now: i64, previous: Option<i64>) -> Option<Decimal> {
    let prev = previous.filter(|p| *p != 0)?;
    // In Decimal: 64-bit minor units cannot overflow there.
    let (now, prev) = (Decimal::from(now), Decimal::from(prev));
    let pct = (now - prev) * Decimal::ONE_HUNDRED / prev.abs();
    Some(pct.round_dp_with_strategy(1, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}

/// One customer's row. Only customers that produce an invoice are counted
/// in the totals (`empty` and `too_low` are not billed this run).
pub fn row(c: &CustomerFacts, d: &Draft, large_change_percent: Decimal) -> CustomerRow {
    let change = change_percent(d.total_charges_minor, c.previous_total_minor);
    let mut flags = Vec::new();
    if d.outcome != Outcome::Empty && d.total_charges_minor == 0 {
        flags.push("zero_bill");
    }
    if !d.lines.iter().any(|l| l.category == Category::Usage) {
        flags.push("no_usage");
    }
    if change.is_some_and(|p| p.abs() > large_change_percent) {
        flags.push("large_change");
    }
    if d.amount_due_minor < 0 {
        flags.push("credit_balance");
    }
    if c.previous_total_minor.is_none() {
        flags.push("new_customer");
    }
    if c.wants_email && !c.has_email {
        flags.push("no_email");
    }
    if !c.has_bank_details {
        flags.push("no_bank_details");
    }
    CustomerRow {
        account: c.account.clone(),
        name: c.name.clone(),
        usage: Minor(d.category_minor(Category::Usage)),
        fixed: Minor(d.category_minor(Category::Fixed)),
        one_off: Minor(d.category_minor(Category::OneOff)),
        wholesale: Minor(d.category_minor(Category::Wholesale)),
        charges_ex_tax: Minor(d.charges_ex_tax_minor),
        tax: Minor(d.tax_minor),
        total: Minor(d.total_charges_minor),
        previous_total: c.previous_total_minor.map(Minor),
        change_percent: change,
        opening_balance: Minor(d.opening_balance_minor),
        payments: Minor(d.payments_minor),
        amount_due: Minor(d.amount_due_minor),
        outcome: d.outcome.as_str(),
        flags,
        allowances: Vec::new(),
    }
}

/// The report's totals; `Err` when a sum leaves the range of 64-bit minor
/// units (only absurd stored amounts can make it).
pub fn totals(rows: &[CustomerRow]) -> Result<Totals, String> {
    let mut t = Totals {
        customers: rows.len() as u64,
        ..Default::default()
    };
    let add = |sum: &mut Minor, m: Minor| -> Result<(), String> {
        sum.0 = sum.0.checked_add(m.0).ok_or_else(|| {
            "the run's totals are too large to add up: a stored amount is absurd; \
             correct it, then run billrun prebill again"
                .to_string()
        })?;
        Ok(())
    };
    for r in rows {
        match r.outcome {
            "empty" => t.empty += 1,
            "too_low" => t.too_low += 1,
            _ => {
                t.invoices += 1;
                add(&mut t.usage, r.usage)?;
                add(&mut t.fixed, r.fixed)?;
                add(&mut t.one_off, r.one_off)?;
                add(&mut t.wholesale, r.wholesale)?;
                add(&mut t.charges_ex_tax, r.charges_ex_tax)?;
                add(&mut t.tax, r.tax)?;
                add(&mut t.total, r.total)?;
                add(&mut t.payments, r.payments)?;
                add(&mut t.amount_due, r.amount_due)?;
            }
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::invoice::{Inputs, UsageGroup, draft};
    use rust_decimal_macros::dec;

    fn facts() -> CustomerFacts {
        CustomerFacts {
            account: "A1".into(),
            name: "Ann".into(),
            wants_email: true,
            has_email: true,
            has_bank_details: true,
            previous_total_minor: Some(1000),
        }
    }

    fn usage(amount_minor: i64) -> Inputs {
        Inputs {
            account: "A1".into(),
            usage: vec![UsageGroup {
                service: "1".into(),
                call_type: "voice".into(),
                description: "UK".into(),
                count: 1,
                units: 60,
                amount_minor,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn change_percent_is_against_the_previous_total() {
        assert_eq!(change_percent(1500, Some(1000)), Some(dec!(50.0)));
        assert_eq!(change_percent(333, Some(1000)), Some(dec!(-66.7)));
        assert_eq!(change_percent(500, Some(0)), None);
        assert_eq!(change_percent(500, None), None);
        assert!(change_percent(i64::MAX, Some(i64::MIN)).is_some());
    }

    #[test]
    fn flags_each_condition() {
        let d = draft(&usage(1000), dec!(0.20)).unwrap(); // total 12.00 vs 10.00: +20 %
        assert!(row(&facts(), &d, dec!(50)).flags.is_empty());
        assert_eq!(row(&facts(), &d, dec!(10)).flags, vec!["large_change"]);

        let f = CustomerFacts {
            previous_total_minor: None,
            has_email: false,
            has_bank_details: false,
            ..facts()
        };
        assert_eq!(
            row(&f, &d, dec!(50)).flags,
            vec!["new_customer", "no_email", "no_bank_details"]
        );

        let zero = draft(
            &Inputs {
                account: "A1".into(),
                opening_balance_minor: 100,
                payments: vec![(1, 500)],
                ..Default::default()
            },
            dec!(0.2),
        )
        .unwrap();
        assert_eq!(
            row(&facts(), &zero, dec!(50)).flags,
            vec!["zero_bill", "no_usage", "large_change", "credit_balance"]
        );
    }

    #[test]
    fn totals_count_only_invoices() {
        let a = row(&facts(), &draft(&usage(1000), dec!(0.2)).unwrap(), dec!(50));
        let empty = row(
            &facts(),
            &draft(&Inputs::default(), dec!(0.2)).unwrap(),
            dec!(50),
        );
        let t = totals(&[a.clone(), empty]).unwrap();
        assert_eq!((t.customers, t.invoices, t.empty), (2, 1, 1));
        assert_eq!(t.total, Minor(1200));
        assert_eq!(t.tax, Minor(200));
        assert_eq!(
            serde_json::to_value(t.usage).unwrap(),
            serde_json::json!("10.00")
        );
        // Sums beyond 64-bit minor units are an error, not a panic.
        let mut big = a;
        big.total = Minor(i64::MAX);
        let e = totals(&[big.clone(), big]).unwrap_err();
        assert!(e.contains("too large"), "{e}");
    }
}
