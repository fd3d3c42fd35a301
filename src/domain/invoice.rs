//! The invoice maths (docs/rating.md#invoices): one implementation shared by the
//! pre-billing report and production, so the report's numbers are the
//! invoices' numbers.
//!
//! Everything is in integer minor units (pence/cents) once a line exists:
//! each CDR is rounded when rated, each fee line when computed, and tax is
//! rounded once per invoice.

use super::money::{checked_sum, from_minor, to_minor};
use super::prorata::{self, Span};
use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Usage,
    Fixed,
    OneOff,
    Wholesale,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Usage => "usage",
            Category::Fixed => "fixed",
            Category::OneOff => "one_off",
            Category::Wholesale => "wholesale",
        }
    }
}

/// Rated, unbilled usage of one service summarised by call type and
/// destination description (the CDRs themselves stay in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageGroup {
    pub service: String,
    pub call_type: String,
    pub description: String,
    pub count: u64,
    /// Seconds (voice), messages (sms) or bytes (data).
    pub units: u64,
    pub amount_minor: i64,
}

/// A service's recurring plan fee, before pro-rata.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFee {
    pub service: String,
    pub plan_name: String,
    pub monthly_fee: Decimal,
    pub span: Span,
}

/// A one-off charge or credit, or a wholesale fee line (already marked up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: i64,
    pub service: Option<String>,
    pub description: String,
    pub amount_minor: i64,
}

/// Everything one customer's invoice is made of.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub account: String,
    pub tax_exempt: bool,
    /// The customer's `min_invoice`, else `invoice.min_amount`.
    pub min_amount: Decimal,
    /// The previous invoice's amount due (0 for a first invoice).
    pub opening_balance_minor: i64,
    /// Unallocated payments dated on or before the cutoff: (id, amount).
    pub payments: Vec<(i64, i64)>,
    /// Unallocated payments dated after the cutoff, already recorded (net,
    /// minor units): not on the invoice's balance (it is a statement at the
    /// cutoff) but deducted from what is collected (see [`to_collect`]).
    pub received_since_minor: i64,
    /// Credit notes issued since the previous invoice, not yet brought
    /// forward: (credit note id, total including tax). They reduce the
    /// balance like payments and are shown as "Credit notes".
    pub credits: Vec<(i64, i64)>,
    pub usage: Vec<UsageGroup>,
    pub plan_fees: Vec<PlanFee>,
    pub one_offs: Vec<Item>,
    pub wholesale: Vec<Item>,
    /// Inclusive allowances of the run (included / used / remaining); the
    /// usage amounts above are already after them.
    pub allowances: Vec<crate::domain::allowance::AllowanceUse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub category: Category,
    pub service: Option<String>,
    pub description: String,
    pub quantity: String,
    pub amount_minor: i64,
    pub taxable: bool,
    #[serde(skip)]
    pub period: Option<Span>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An invoice is produced.
    Invoice,
    /// Nothing to bill and a zero balance: no invoice.
    Empty,
    /// New charges below the minimum: held over to the next run.
    TooLow,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Invoice => "invoice",
            Outcome::Empty => "empty",
            Outcome::TooLow => "too_low",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Draft {
    pub account: String,
    pub lines: Vec<Line>,
    pub opening_balance_minor: i64,
    pub payments_minor: i64,
    /// Credit notes brought forward (total including tax, positive).
    pub credits_minor: i64,
    pub charges_ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_charges_minor: i64,
    pub amount_due_minor: i64,
    /// Payments received since the cutoff (net), recorded by now.
    pub received_since_minor: i64,
    /// What will be collected (or is to pay): [`to_collect`].
    pub to_collect_minor: i64,
    pub outcome: Outcome,
}

/// What an invoice asks to be paid, and what collection takes at most: the
/// amount due less the payments received since the cutoff (recorded by
/// production), never below zero. `None` on overflow.
pub fn to_collect(amount_due_minor: i64, received_since_minor: i64) -> Option<i64> {
    Some(amount_due_minor.checked_sub(received_since_minor)?.max(0))
}

impl Draft {
    /// Sum of the lines of one category.
    pub fn category_minor(&self, c: Category) -> i64 {
        self.lines
            .iter()
            .filter(|l| l.category == c)
            .map(|l| l.amount_minor)
            .sum()
    }
}

/// "12 calls, 1:02:03", "40 messages", "3 sessions, 12.5 MB".
pub fn usage_quantity(call_type: &str, count: u64, units: u64) -> String {
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    match call_type {
        "voice" => format!("{}, {}", plural(count, "call", "calls"), duration(units)),
        "sms" => plural(units, "message", "messages"),
        _ => {
            let mb = Decimal::from(units) / Decimal::from(1_048_576u64);
            format!(
                "{}, {} MB",
                plural(count, "session", "sessions"),
                mb.round_dp(1)
            )
        }
    }
}

/// Seconds as `M:SS` or `H:MM:SS`.
pub fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// "Calls: UK mobile", "Messages", "Data: Roaming": what a usage line is for.
pub fn usage_description(call_type: &str, description: &str) -> String {
    let kind = match call_type {
        "voice" => "Calls",
        "sms" => "Messages",
        _ => "Data",
    };
    if description.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {description}")
    }
}

/// Compute one customer's invoice. `Err` names the customer and the amount
/// when a sum leaves the range of the arithmetic (only absurd stored values
/// can: every input is at most `money::MAX_AMOUNT`); nothing panics.
pub fn draft(inputs: &Inputs, tax_rate: Decimal) -> Result<Draft, String> {
    let account = &inputs.account;
    let too_large = |what: &str| {
        format!(
            "customer {account}: {what} too large to bill: a stored amount is absurd; \
             correct it, then run billrun prebill again"
        )
    };
    let mut lines = Vec::new();
    // Fixed fees first, per service, then usage, one-offs, wholesale.
    for f in &inputs.plan_fees {
        let amount = prorata::fee(f.monthly_fee, f.span)
            .ok_or_else(|| too_large(&format!("the plan fee of service {} is", f.service)))?;
        let amount_minor = to_minor(amount).map_err(|_| {
            too_large(&format!(
                "the plan fee of service {} ({amount}) is",
                f.service
            ))
        })?;
        lines.push(Line {
            category: Category::Fixed,
            service: Some(f.service.clone()),
            description: format!("{}, {}", f.plan_name, prorata::describe(f.span)),
            quantity: "1".into(),
            amount_minor,
            taxable: true,
            period: Some(f.span),
        });
    }
    let mut usage = inputs.usage.clone();
    usage.sort_by(|a, b| {
        (&a.service, &a.call_type, &a.description).cmp(&(&b.service, &b.call_type, &b.description))
    });
    for u in &usage {
        lines.push(Line {
            category: Category::Usage,
            service: Some(u.service.clone()),
            description: usage_description(&u.call_type, &u.description),
            quantity: usage_quantity(&u.call_type, u.count, u.units),
            amount_minor: u.amount_minor,
            taxable: true,
            period: None,
        });
    }
    for (items, category) in [
        (&inputs.one_offs, Category::OneOff),
        (&inputs.wholesale, Category::Wholesale),
    ] {
        for i in items {
            lines.push(Line {
                category,
                service: i.service.clone(),
                description: i.description.clone(),
                quantity: "1".into(),
                amount_minor: i.amount_minor,
                taxable: true,
                period: None,
            });
        }
    }
    // The sum of the lines' sizes fits, so every sum of some of them (a
    // category, the taxable lines) fits too.
    lines
        .iter()
        .try_fold(0i64, |acc, l| {
            acc.checked_add(l.amount_minor.checked_abs()?)
        })
        .ok_or_else(|| too_large("the invoice's charges are"))?;
    let charges_ex_tax_minor: i64 = lines.iter().map(|l| l.amount_minor).sum();
    let taxable_minor: i64 = lines
        .iter()
        .filter(|l| l.taxable)
        .map(|l| l.amount_minor)
        .sum();
    let tax_minor = if inputs.tax_exempt {
        0
    } else {
        from_minor(taxable_minor)
            .checked_mul(tax_rate)
            .and_then(|t| to_minor(t).ok())
            .ok_or_else(|| too_large("the tax is"))?
    };
    let total_charges_minor = charges_ex_tax_minor
        .checked_add(tax_minor)
        .ok_or_else(|| too_large("the total charges are"))?;
    let payments_minor = checked_sum(inputs.payments.iter().map(|p| p.1))
        .ok_or_else(|| too_large("the payments are"))?;
    let credits_minor = checked_sum(inputs.credits.iter().map(|c| c.1))
        .ok_or_else(|| too_large("the credit notes are"))?;
    let amount_due_minor = inputs
        .opening_balance_minor
        .checked_sub(payments_minor)
        .and_then(|b| b.checked_sub(credits_minor))
        .and_then(|b| b.checked_add(total_charges_minor))
        .ok_or_else(|| too_large("the amount due is"))?;
    let to_collect_minor = to_collect(amount_due_minor, inputs.received_since_minor)
        .ok_or_else(|| too_large("the payments received since the cutoff are"))?;
    let outcome = if lines.is_empty()
        && inputs.opening_balance_minor == 0
        && payments_minor == 0
        && credits_minor == 0
    {
        Outcome::Empty
    } else if total_charges_minor > 0 && from_minor(total_charges_minor) < inputs.min_amount {
        Outcome::TooLow
    } else {
        Outcome::Invoice
    };
    Ok(Draft {
        account: inputs.account.clone(),
        lines,
        opening_balance_minor: inputs.opening_balance_minor,
        payments_minor,
        credits_minor,
        charges_ex_tax_minor,
        tax_minor,
        total_charges_minor,
        amount_due_minor,
        received_since_minor: inputs.received_since_minor,
        to_collect_minor,
        outcome,
    })
}

/// The invoice number for a sequence number: prefix + zero-padded number.
pub fn number(prefix: &str, seq: i64) -> String {
    format!("{prefix}{seq:06}")
}

/// Gap-free invoice numbers for one production run: consecutive sequence
/// numbers from `invoice.next_number`, never reusing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbering {
    prefix: String,
    next: i64,
}

impl Numbering {
    /// Start at `next_number` (the setting), or one past `highest_issued`
    /// (the highest sequence number ever issued, 0 for none) when the
    /// setting was lowered by hand: a number is never reused.
    pub fn new(prefix: &str, next_number: i64, highest_issued: i64) -> Numbering {
        Numbering {
            prefix: prefix.to_owned(),
            next: next_number.max(highest_issued.saturating_add(1)),
        }
    }

    /// The next sequence number and invoice number, consumed; `Err` when
    /// the numbers are exhausted (`invoice.next_number` set absurdly high).
    pub fn take(&mut self) -> Result<(i64, String), String> {
        let seq = self.next;
        self.next = seq.checked_add(1).ok_or_else(|| {
            format!(
                "invoice numbers are exhausted at {seq}: set invoice.next_number lower \
                 (billrun config set invoice.next_number N)"
            )
        })?;
        Ok((seq, number(&self.prefix, seq)))
    }

    /// The first number not issued: what `invoice.next_number` becomes.
    pub fn next_seq(&self) -> i64 {
        self.next
    }
}

/// The message printed on a customer's invoice: the run's override, else
/// the customer's own, else `invoice.default_message` (empty ones skipped).
pub fn message(run: Option<&str>, customer: Option<&str>, default: Option<&str>) -> String {
    [run, customer, default]
        .into_iter()
        .flatten()
        .find(|m| !m.is_empty())
        .unwrap_or("")
        .to_owned()
}

/// An invoice's due date: the run's, else the invoice date plus
/// `invoice.due_days`.
pub fn due_date(invoice_date: NaiveDate, run_due: Option<NaiveDate>, due_days: u32) -> NaiveDate {
    run_due.unwrap_or(invoice_date + chrono::Duration::days(i64::from(due_days)))
}

/// An issued invoice as its document (the PDF) prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub number: String,
    pub account: String,
    /// Customer name and postal address at the time of printing.
    pub name: String,
    pub address: Vec<String>,
    pub postcode: String,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub cutoff_date: NaiveDate,
    /// ISO code: GBP, AUD or EUR.
    pub currency: String,
    pub opening_balance_minor: i64,
    pub payments_minor: i64,
    /// Credit notes brought forward (total, positive).
    pub credits_minor: i64,
    pub charges_ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_charges_minor: i64,
    pub amount_due_minor: i64,
    /// Payments received since the cutoff, recorded by production (net).
    pub received_since_minor: i64,
    /// What the invoice asks to be collected ([`to_collect`]).
    pub to_collect_minor: i64,
    /// `direct_debit`, `card` or `manual`.
    pub payment_method: String,
    pub message: String,
}

/// What an invoice says about paying it, shared word for word by the PDF
/// and the email (for Direct Debit customers the email is the advance
/// notice): the figures are the invoice's own.
#[derive(Debug, Clone, Copy)]
pub struct PaymentTerms<'a> {
    pub number: &'a str,
    /// `direct_debit`, `card` or anything else (pays by hand).
    pub payment_method: &'a str,
    pub cutoff_date: NaiveDate,
    pub due_date: NaiveDate,
    /// Direct Debit: the day the customer is debited
    /// ([`crate::domain::calendar::debit_date`] of the due date); `None`
    /// states the due date.
    pub debit_date: Option<NaiveDate>,
    pub amount_due_minor: i64,
    pub received_since_minor: i64,
    pub to_collect_minor: i64,
}

/// How the invoice will be paid, in a sentence or two: the payments
/// received since the cutoff (when any), then what will be collected,
/// charged or is to pay — always `to_collect_minor`, the figure collection
/// takes at most. `money` formats minor units with the currency symbol.
pub fn payment_sentence(t: &PaymentTerms<'_>, money: &dyn Fn(i64) -> String) -> String {
    let long = |d: NaiveDate| d.format("%-d %B %Y").to_string();
    let due = long(t.due_date);
    if t.amount_due_minor < 0 {
        return format!(
            "Your account is in credit by {}: there is nothing to pay.",
            money(t.amount_due_minor.saturating_neg())
        );
    }
    if t.amount_due_minor == 0 {
        return "There is nothing to pay.".into();
    }
    let since = match t.received_since_minor {
        0 => String::new(),
        r if r > 0 => format!(
            "Received since {}: {}, thank you. ",
            long(t.cutoff_date),
            money(r)
        ),
        r => format!(
            "Returned since {}: {} (a payment reversed). ",
            long(t.cutoff_date),
            money(r.saturating_neg())
        ),
    };
    if t.to_collect_minor <= 0 {
        return format!("{since}There is nothing more to pay.");
    }
    let amount = money(t.to_collect_minor);
    let what = match t.payment_method {
        "direct_debit" => format!(
            "{amount} will be collected by Direct Debit on {}.",
            long(t.debit_date.unwrap_or(t.due_date))
        ),
        "card" => format!("{amount} will be charged to your card on file on {due}."),
        _ => format!(
            "Please pay {amount} by {due}, quoting invoice number {}.",
            t.number
        ),
    };
    format!("{since}{what}")
}

/// An invoice a payment run collects less than the invoice stated: payments
/// arrived after production (collection never takes more than stated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectedLess {
    pub invoice: String,
    /// What the invoice said will be collected (`to_collect_minor`).
    pub stated: String,
    /// What this payment run collects.
    pub collecting: String,
}

impl std::fmt::Display for CollectedLess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: collecting {} of the {} the invoice stated (payments received since it was produced)",
            self.invoice, self.collecting, self.stated
        )
    }
}

/// One line of an issued invoice, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedLine {
    /// A [`Category`] as text (`usage`, `fixed`, ...).
    pub category: String,
    pub service: Option<String>,
    pub description: String,
    pub quantity: String,
    pub amount_minor: i64,
}

/// One itemised call, message or data session an invoice billed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub start: NaiveDateTime,
    pub destination: String,
    /// The rate's destination description ("" when unknown).
    pub description: String,
    /// `voice`, `sms` or `data`.
    pub call_type: String,
    /// Seconds (voice), messages (sms) or bytes (data).
    pub units: i64,
    pub charge_minor: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    fn sample() -> Inputs {
        Inputs {
            account: "ACC1".into(),
            tax_exempt: false,
            min_amount: Decimal::ZERO,
            opening_balance_minor: 3000,
            payments: vec![(1, 3000)],
            received_since_minor: 0,
            credits: vec![],
            usage: vec![
                UsageGroup {
                    service: "0113".into(),
                    call_type: "voice".into(),
                    description: "UK mobile".into(),
                    count: 3,
                    units: 754,
                    amount_minor: 123,
                },
                UsageGroup {
                    service: "0113".into(),
                    call_type: "sms".into(),
                    description: "UK mobile".into(),
                    count: 2,
                    units: 2,
                    amount_minor: 16,
                },
            ],
            plan_fees: vec![PlanFee {
                service: "0113".into(),
                plan_name: "Home Phone".into(),
                monthly_fee: dec!(19.99),
                span: Span {
                    from: d(11, 16),
                    to: d(11, 30),
                },
            }],
            one_offs: vec![Item {
                id: 7,
                service: None,
                description: "Goodwill credit".into(),
                amount_minor: -500,
            }],
            wholesale: vec![],
            allowances: vec![],
        }
    }

    #[test]
    fn lines_tax_and_balances() {
        let dr = draft(&sample(), dec!(0.20)).unwrap();
        // Fixed 19.99 × 15/30 = 9.995 → 10.00; usage 1.23 + 0.16; credit −5.00.
        assert_eq!(dr.category_minor(Category::Fixed), 1000);
        assert_eq!(dr.category_minor(Category::Usage), 139);
        assert_eq!(dr.category_minor(Category::OneOff), -500);
        assert_eq!(dr.charges_ex_tax_minor, 639);
        // 6.39 × 0.20 = 1.278 → 1.28, once per invoice.
        assert_eq!(dr.tax_minor, 128);
        assert_eq!(dr.total_charges_minor, 767);
        // Opening 30.00 − payments 30.00 + new charges 7.67.
        assert_eq!(dr.amount_due_minor, 767);
        assert_eq!(dr.outcome, Outcome::Invoice);
        assert_eq!(dr.lines[0].description, "Home Phone, 16 Nov to 30 Nov 2026");
        assert_eq!(dr.lines[1].quantity, "2 messages");
        assert_eq!(dr.lines[2].quantity, "3 calls, 12:34");
        assert_eq!(dr.lines[2].description, "Calls: UK mobile");
    }

    #[test]
    fn tax_is_rounded_once_per_invoice_not_per_line() {
        let mut i = sample();
        i.plan_fees.clear();
        i.one_offs.clear();
        // Two lines of 0.03: per-line tax would be 0.01 + 0.01; per invoice 0.012 → 0.01.
        i.usage[0].amount_minor = 3;
        i.usage[1].amount_minor = 3;
        assert_eq!(draft(&i, dec!(0.20)).unwrap().tax_minor, 1);
        // Half away from zero: 0.025 → 0.03 (and −0.025 → −0.03).
        i.usage[0].amount_minor = 10;
        i.usage[1].amount_minor = 15;
        assert_eq!(draft(&i, dec!(0.10)).unwrap().tax_minor, 3);
        i.usage[0].amount_minor = -10;
        i.usage[1].amount_minor = -15;
        assert_eq!(draft(&i, dec!(0.10)).unwrap().tax_minor, -3);
    }

    #[test]
    fn tax_exempt_customers_pay_no_tax() {
        let mut i = sample();
        i.tax_exempt = true;
        let dr = draft(&i, dec!(0.20)).unwrap();
        assert_eq!(dr.tax_minor, 0);
        assert_eq!(dr.total_charges_minor, dr.charges_ex_tax_minor);
    }

    #[test]
    fn empty_only_with_nothing_to_bill_and_a_zero_balance() {
        let empty = Inputs {
            account: "A".into(),
            ..Default::default()
        };
        assert_eq!(draft(&empty, dec!(0.2)).unwrap().outcome, Outcome::Empty);
        // An unpaid balance alone still gets a statement invoice.
        let owing = Inputs {
            opening_balance_minor: 1250,
            ..empty.clone()
        };
        let dr = draft(&owing, dec!(0.2)).unwrap();
        assert_eq!(dr.outcome, Outcome::Invoice);
        assert_eq!(dr.amount_due_minor, 1250);
        // A payment alone too (it must be applied somewhere).
        let paid = Inputs {
            payments: vec![(1, 500)],
            ..empty
        };
        assert_eq!(draft(&paid, dec!(0.2)).unwrap().amount_due_minor, -500);
    }

    #[test]
    fn overflowing_sums_are_errors_naming_the_customer_not_panics() {
        let huge = |amount_minor| UsageGroup {
            service: "0113".into(),
            call_type: "voice".into(),
            description: "UK".into(),
            count: 1,
            units: 60,
            amount_minor,
        };
        // Two lines that overflow when added.
        let mut i = sample();
        i.usage = vec![huge(i64::MAX), huge(i64::MAX)];
        let e = draft(&i, dec!(0.20)).unwrap_err();
        assert!(
            e.starts_with("customer ACC1: the invoice's charges are too large"),
            "{e}"
        );
        // Lines of opposite signs that cancel: still refused (a category sum overflows).
        i.usage = vec![huge(i64::MAX), huge(-i64::MAX)];
        assert!(draft(&i, dec!(0.20)).is_err());
        i.usage = vec![huge(i64::MIN)];
        assert!(draft(&i, dec!(0.20)).is_err());
        // One line that fits, but not with its tax.
        i.usage = vec![huge(i64::MAX - 10_000)];
        i.plan_fees.clear();
        i.one_offs.clear();
        assert!(draft(&i, dec!(0.20)).unwrap_err().contains("too large"));
        // An absurd plan fee.
        let mut i = sample();
        i.plan_fees[0].monthly_fee = Decimal::MAX;
        assert!(draft(&i, dec!(0.20)).unwrap_err().contains("service 0113"));
        // Payments and the opening balance.
        let mut i = sample();
        i.payments = vec![(1, i64::MAX), (2, i64::MAX)];
        assert!(draft(&i, dec!(0.20)).unwrap_err().contains("payments"));
        let mut i = sample();
        i.opening_balance_minor = i64::MAX;
        i.payments.clear();
        assert!(draft(&i, dec!(0.20)).unwrap_err().contains("amount due"));
        let mut i = sample();
        i.received_since_minor = i64::MIN;
        assert!(draft(&i, dec!(0.20)).is_err());
    }

    #[test]
    fn to_collect_is_the_amount_due_less_payments_since_the_cutoff() {
        let mut i = sample();
        // Amount due 7.67; 5.00 received since the cutoff.
        i.received_since_minor = 500;
        let dr = draft(&i, dec!(0.20)).unwrap();
        assert_eq!((dr.amount_due_minor, dr.to_collect_minor), (767, 267));
        // Paid more than due since: nothing to collect, never negative.
        i.received_since_minor = 1000;
        assert_eq!(draft(&i, dec!(0.20)).unwrap().to_collect_minor, 0);
        // In credit at the cutoff: nothing to collect.
        assert_eq!(to_collect(-500, 0), Some(0));
        assert_eq!(to_collect(767, 0), Some(767));
        // A reversal since the cutoff (negative) adds to what is collected.
        assert_eq!(to_collect(767, -100), Some(867));
    }

    #[test]
    fn the_payment_sentence_states_what_will_be_collected() {
        let money = |m: i64| format!("£{}", crate::domain::money::fmt_minor(m));
        let mut t = PaymentTerms {
            number: "INV000001",
            payment_method: "card",
            cutoff_date: d(11, 30),
            due_date: d(12, 15),
            debit_date: None,
            amount_due_minor: 42543,
            received_since_minor: 33370,
            to_collect_minor: 9173,
        };
        assert_eq!(
            payment_sentence(&t, &money),
            "Received since 30 November 2026: £333.70, thank you. \
             £91.73 will be charged to your card on file on 15 December 2026."
        );
        t.payment_method = "direct_debit";
        t.received_since_minor = 0;
        t.to_collect_minor = 42543;
        assert_eq!(
            payment_sentence(&t, &money),
            "£425.43 will be collected by Direct Debit on 15 December 2026."
        );
        // The advance notice states the real debit date (a due date on a
        // bank holiday is debited the next working day).
        t.debit_date = Some(d(12, 29));
        assert!(payment_sentence(&t, &money).ends_with("by Direct Debit on 29 December 2026."));
        t.debit_date = None;
        t.payment_method = "manual";
        assert!(payment_sentence(&t, &money).starts_with("Please pay £425.43 by 15 December 2026"));
        t.received_since_minor = 50000;
        t.to_collect_minor = 0;
        assert!(payment_sentence(&t, &money).ends_with("There is nothing more to pay."));
        t.amount_due_minor = 0;
        assert_eq!(payment_sentence(&t, &money), "There is nothing to pay.");
        t.amount_due_minor = -300;
        assert_eq!(
            payment_sentence(&t, &money),
            "Your account is in credit by £3.00: there is nothing to pay."
        );
    }

    #[test]
    fn below_the_minimum_is_held_over() {
        let mut i = sample();
        i.min_amount = dec!(10.00);
        // Total charges 7.67 < 10.00.
        assert_eq!(draft(&i, dec!(0.20)).unwrap().outcome, Outcome::TooLow);
        i.min_amount = dec!(7.67);
        assert_eq!(draft(&i, dec!(0.20)).unwrap().outcome, Outcome::Invoice);
    }

    #[test]
    fn quantities_read_naturally() {
        assert_eq!(usage_quantity("voice", 1, 59), "1 call, 0:59");
        assert_eq!(usage_quantity("voice", 2, 3723), "2 calls, 1:02:03");
        assert_eq!(usage_quantity("sms", 1, 1), "1 message");
        assert_eq!(usage_quantity("data", 2, 1_572_864), "2 sessions, 1.5 MB");
    }

    #[test]
    fn numbers_are_prefix_and_six_digits() {
        assert_eq!(number("INV", 1), "INV000001");
        assert_eq!(number("AB-", 1234567), "AB-1234567");
    }

    #[test]
    fn numbering_is_gap_free_and_never_reuses_a_number() {
        let mut n = Numbering::new("INV", 5, 0);
        assert_eq!(n.take(), Ok((5, "INV000005".to_string())));
        assert_eq!(n.take(), Ok((6, "INV000006".to_string())));
        assert_eq!(n.next_seq(), 7);
        // The setting lowered by hand below what was issued: continue after it.
        let mut n = Numbering::new("INV", 3, 41);
        assert_eq!(n.take().unwrap().0, 42);
        assert_eq!(n.next_seq(), 43);
        // Nothing taken: the setting stays where it was (or past the highest).
        assert_eq!(Numbering::new("X", 10, 2).next_seq(), 10);
        // Exhausted: an error, not an overflow.
        let mut n = Numbering::new("X", i64::MAX, 0);
        assert!(n.take().unwrap_err().contains("exhausted"));
        assert_eq!(Numbering::new("X", 1, i64::MAX).next_seq(), i64::MAX);
    }

    #[test]
    fn message_is_the_runs_then_the_customers_then_the_default() {
        assert_eq!(message(Some("run"), Some("cust"), Some("def")), "run");
        assert_eq!(message(Some(""), Some("cust"), Some("def")), "cust");
        assert_eq!(message(None, Some(""), Some("def")), "def");
        assert_eq!(message(None, None, None), "");
    }

    #[test]
    fn due_date_is_the_runs_else_due_days_after_the_invoice_date() {
        assert_eq!(due_date(d(12, 1), None, 14), d(12, 15));
        assert_eq!(due_date(d(12, 1), Some(d(12, 20)), 14), d(12, 20));
        assert_eq!(due_date(d(12, 1), None, 0), d(12, 1));
    }

    #[test]
    fn credit_notes_brought_forward_reduce_the_amount_due() {
        let mut i = sample();
        let before = draft(&i, dec!(0.20)).unwrap();
        i.credits = vec![(4, 600), (5, 150)];
        let d = draft(&i, dec!(0.20)).unwrap();
        assert_eq!(d.credits_minor, 750);
        assert_eq!(d.amount_due_minor, before.amount_due_minor - 750);
        assert_eq!(d.total_charges_minor, before.total_charges_minor);
        // A credit alone still makes an invoice (the customer sees it).
        let only = Inputs {
            account: "A".into(),
            credits: vec![(1, 1200)],
            ..Default::default()
        };
        let d = draft(&only, dec!(0.20)).unwrap();
        assert_eq!((d.outcome, d.amount_due_minor), (Outcome::Invoice, -1200));
    }
}
