//! What a run bills each customer: the rules that turn the stored rows
//! (`store::billing` reads them) into each customer's `invoice::Inputs`,
//! shared by the pre-billing report and production.

use crate::domain::fees;
use crate::domain::invoice::{Inputs, Item, PlanFee, UsageGroup};
use crate::domain::money::{self, to_minor};
use crate::domain::prorata;
use crate::domain::settings::Settings;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::HashMap;

/// Settings the invoice maths needs.
#[derive(Debug, Clone)]
pub struct Terms {
    pub min_amount: Decimal,
    pub markup_percent: Decimal,
    pub wholesale: bool,
}

impl Terms {
    pub fn from_settings(s: &Settings) -> Terms {
        Terms {
            min_amount: s.invoice.min_amount,
            markup_percent: s.fees_markup_percent,
            wholesale: s.wholesale_fees,
        }
    }
}

/// A customer billed by a run, with the fields reports and invoices need.
#[derive(Debug, Clone)]
pub struct BillCustomer {
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    pub delivery: String,
    pub payment_method: String,
    pub has_bank_details: bool,
    pub invoice_message: Option<String>,
    /// The previous invoice's total charges and amount due, if any.
    pub previous: Option<Previous>,
}

#[derive(Debug, Clone, Copy)]
pub struct Previous {
    pub total_charges_minor: i64,
    pub amount_due_minor: i64,
}

/// A customer of the run's cycle as stored.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    pub delivery: String,
    pub payment_method: String,
    /// IBAN and mandate reference both set (SEPA).
    pub has_iban_mandate: bool,
    /// Branch (sort code/BSB) and account number both set (Bacs, ABA).
    pub has_branch_account: bool,
    pub has_card: bool,
    pub invoice_message: Option<String>,
    pub tax_exempt: bool,
    pub min_invoice: Option<String>,
}

/// A service's plan fee as stored: dates and the fee as text.
#[derive(Debug, Clone)]
pub struct PlanFeeRow {
    pub account: String,
    pub service: String,
    pub plan_name: String,
    pub monthly_fee: String,
    pub start: String,
    pub end: Option<String>,
    /// The last day the fee was billed to (empty: never).
    pub billed_to: String,
}

/// A matched, unbilled wholesale fee line (the carrier's cost).
#[derive(Debug, Clone)]
pub struct FeeLineRow {
    pub account: String,
    pub id: i64,
    pub service: String,
    pub description: String,
    pub amount: String,
    pub period_start: String,
    pub period_end: String,
}

/// Everything stored that a run bills, per account where it applies.
#[derive(Debug, Clone, Default)]
pub struct Stored {
    /// In account order.
    pub customers: Vec<CustomerRow>,
    pub previous: HashMap<String, Previous>,
    pub usage: HashMap<String, Vec<UsageGroup>>,
    pub plan_fees: Vec<PlanFeeRow>,
    pub one_offs: HashMap<String, Vec<Item>>,
    /// Empty when wholesale fees are off.
    pub fee_lines: Vec<FeeLineRow>,
    /// (payment id, amount) per account: unallocated, dated on or before
    /// the cutoff.
    pub payments: HashMap<String, Vec<(i64, i64)>>,
    /// Per account: unallocated payments dated after the cutoff, summed.
    pub received_since: HashMap<String, i64>,
    /// (credit note id, total) per account: credit notes not yet brought
    /// forward by an invoice.
    pub credits: HashMap<String, Vec<(i64, i64)>>,
    /// Per account: its inclusive allowances in the run.
    pub allowances: HashMap<String, Vec<crate::domain::allowance::AllowanceUse>>,
}

/// Whether the customer's payment method has what it needs: bank details
/// for Direct Debit (IBAN and mandate for SEPA, else branch and account), a
/// card token for card; other methods need nothing.
pub fn has_bank_details(c: &CustomerRow, dd_format: &str) -> bool {
    match c.payment_method.as_str() {
        "direct_debit" if dd_format == "sepa" => c.has_iban_mandate,
        "direct_debit" => c.has_branch_account,
        "card" => c.has_card,
        _ => true,
    }
}

/// The plan fee of a service up to `cutoff`, if any span is unbilled.
pub fn plan_fee(r: &PlanFeeRow, cutoff: NaiveDate) -> Result<Option<PlanFee>, String> {
    let date = |s: &str| -> Result<NaiveDate, String> {
        s.parse()
            .map_err(|_| format!("service {}: stored date '{s}' is invalid", r.service))
    };
    let monthly_fee = money::parse(&r.monthly_fee).map_err(|e| {
        format!(
            "service {} (customer {}): the stored fee of plan '{}' is invalid: {e}; \
             import the corrected plans file (billrun plans import FILE)",
            r.service, r.account, r.plan_name
        )
    })?;
    let last = Some(r.billed_to.as_str()).filter(|l| !l.is_empty());
    let span = prorata::span(
        date(&r.start)?,
        r.end.as_deref().map(date).transpose()?,
        last.map(date).transpose()?,
        cutoff,
    );
    Ok(span.map(|span| PlanFee {
        service: r.service.clone(),
        plan_name: r.plan_name.clone(),
        monthly_fee,
        span,
    }))
}

/// A wholesale fee line as the customer's item: the cost marked up.
pub fn wholesale_item(r: &FeeLineRow, markup_percent: Decimal) -> Result<Item, String> {
    let cost = money::parse(&r.amount)
        .map_err(|e| format!("fee line {}: amount '{}': {e}", r.id, r.amount))?;
    let amount_minor = fees::wholesale_charge(cost, markup_percent)
        .ok_or_else(|| "out of range".to_string())
        .and_then(to_minor)
        .map_err(|_| {
            format!(
                "fee line {} (service {}, customer {}): {} marked up by {markup_percent} % is too large to bill",
                r.id, r.service, r.account, r.amount
            )
        })?;
    Ok(Item {
        id: r.id,
        service: Some(r.service.clone()),
        description: format!("{} ({} to {})", r.description, r.period_start, r.period_end),
        amount_minor,
    })
}

/// Each customer's inputs, in the order of `stored.customers`. An error
/// names the stored value at fault.
pub fn inputs(
    mut stored: Stored,
    cutoff: NaiveDate,
    terms: &Terms,
    dd_format: &str,
) -> Result<Vec<(BillCustomer, Inputs)>, String> {
    let mut plan_fees: HashMap<String, Vec<PlanFee>> = HashMap::new();
    for r in &stored.plan_fees {
        if let Some(fee) = plan_fee(r, cutoff)? {
            plan_fees.entry(r.account.clone()).or_default().push(fee);
        }
    }
    let mut wholesale: HashMap<String, Vec<Item>> = HashMap::new();
    if terms.wholesale {
        for r in &stored.fee_lines {
            let item = wholesale_item(r, terms.markup_percent)?;
            wholesale.entry(r.account.clone()).or_default().push(item);
        }
    }
    let mut out = Vec::with_capacity(stored.customers.len());
    for c in std::mem::take(&mut stored.customers) {
        let min_amount = match c.min_invoice.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => money::parse(s)
                .map_err(|e| format!("customer {}: min_invoice '{s}': {e}", c.account))?,
            None => terms.min_amount,
        };
        let previous = stored.previous.get(&c.account).copied();
        let account = c.account.clone();
        let inputs = Inputs {
            account: account.clone(),
            tax_exempt: c.tax_exempt,
            min_amount,
            opening_balance_minor: previous.map_or(0, |p| p.amount_due_minor),
            payments: stored.payments.remove(&account).unwrap_or_default(),
            received_since_minor: stored.received_since.remove(&account).unwrap_or(0),
            credits: stored.credits.remove(&account).unwrap_or_default(),
            usage: stored.usage.remove(&account).unwrap_or_default(),
            plan_fees: plan_fees.remove(&account).unwrap_or_default(),
            one_offs: stored.one_offs.remove(&account).unwrap_or_default(),
            wholesale: wholesale.remove(&account).unwrap_or_default(),
            allowances: stored.allowances.remove(&account).unwrap_or_default(),
        };
        let customer = BillCustomer {
            has_bank_details: has_bank_details(&c, dd_format),
            account: c.account,
            name: c.name,
            email: c.email.filter(|e| !e.is_empty()),
            delivery: c.delivery,
            payment_method: c.payment_method,
            invoice_message: c.invoice_message,
            previous,
        };
        out.push((customer, inputs));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(method: &str) -> CustomerRow {
        CustomerRow {
            account: "A1".into(),
            name: "Ann".into(),
            email: Some(String::new()),
            delivery: "email".into(),
            payment_method: method.into(),
            has_iban_mandate: false,
            has_branch_account: true,
            has_card: false,
            invoice_message: None,
            tax_exempt: false,
            min_invoice: None,
        }
    }

    fn terms() -> Terms {
        Terms::from_settings(&Settings::defaults())
    }

    #[test]
    fn bank_details_follow_the_payment_method_and_dd_format() {
        assert!(has_bank_details(&customer("direct_debit"), "bacs18"));
        assert!(!has_bank_details(&customer("direct_debit"), "sepa"));
        assert!(!has_bank_details(&customer("card"), "bacs18"));
        assert!(has_bank_details(&customer("invoice"), "sepa"));
    }

    #[test]
    fn inputs_per_customer_with_fees_and_errors_named() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let fee = PlanFeeRow {
            account: "A1".into(),
            service: "0200".into(),
            plan_name: "Basic".into(),
            monthly_fee: "10.00".into(),
            start: "2026-11-01".into(),
            end: None,
            billed_to: String::new(),
        };
        let line = FeeLineRow {
            account: "A1".into(),
            id: 7,
            service: "0200".into(),
            description: "Port".into(),
            amount: "5.00".into(),
            period_start: "2026-11-01".into(),
            period_end: "2026-11-30".into(),
        };
        let stored = Stored {
            customers: vec![customer("direct_debit")],
            plan_fees: vec![fee.clone()],
            fee_lines: vec![line.clone()],
            ..Default::default()
        };
        let mut t = terms();
        t.wholesale = true;
        let out = inputs(stored.clone(), d("2026-11-30"), &t, "bacs18").unwrap();
        let (c, i) = &out[0];
        assert_eq!(c.email, None, "an empty email is none");
        assert!(c.has_bank_details);
        assert_eq!(i.plan_fees.len(), 1);
        assert_eq!(
            i.wholesale[0].description,
            "Port (2026-11-01 to 2026-11-30)"
        );
        assert_eq!(i.wholesale[0].amount_minor, 500);
        t.wholesale = false;
        let out = inputs(stored.clone(), d("2026-11-30"), &t, "bacs18").unwrap();
        assert!(out[0].1.wholesale.is_empty());

        let mut bad = stored;
        bad.plan_fees[0].monthly_fee = "99999999999999999999999999.99".into();
        let e = inputs(bad.clone(), d("2026-11-30"), &t, "bacs18").unwrap_err();
        assert!(
            e.starts_with("service 0200 (customer A1): the stored fee of plan 'Basic' is invalid"),
            "{e}"
        );
        bad.plan_fees[0].monthly_fee = "10.00".into();
        bad.plan_fees[0].start = "yesterday".into();
        assert_eq!(
            inputs(bad.clone(), d("2026-11-30"), &t, "bacs18").unwrap_err(),
            "service 0200: stored date 'yesterday' is invalid"
        );
        bad.plan_fees.clear();
        bad.customers[0].min_invoice = Some("lots".into());
        assert!(
            inputs(bad, d("2026-11-30"), &t, "bacs18")
                .unwrap_err()
                .starts_with("customer A1: min_invoice 'lots'")
        );
    }
}
