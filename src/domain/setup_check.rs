//! "Check customer setup before billing" (issue 15): the customers a run
//! bills that cannot be billed, delivered or collected as they are set up.
//! One rule, used by the pre-billing report and by `status` (the
//! `check_setup` step of the checklist).
//!
//! A customer has a problem when:
//! - Direct Debit: there is no mandate reference, or the bank details do
//!   not suit `dd.format` (bacs18: UK sort code and account number; aba: AU
//!   BSB and account number; sepa: IBAN and BIC), each checked with the
//!   same rules as the customer import (`domain::bank`);
//!   (none of this for a customer with a GoCardless mandate, whose bank
//!   details GoCardless holds);
//! - card: there is no card token, or the token is a Stripe PaymentMethod
//!   (`pm_…`) and there is no Stripe Customer (`stripe_customer`, `cus_…`):
//!   Stripe cannot charge a saved PaymentMethod without its Customer;
//! - email delivery (`email` or `both`): there is no email address;
//! - print delivery (`print` or `both`): there is no postal address
//!   (`address1` and `postcode`).
//!
//! `collect dd` leaves such a Direct Debit customer out of the file, `collect
//! card` such a card customer, `email` and `print` such an invoice: found
//! here, before bills are requested, each is fixed by re-importing the
//! customer with the column filled.

use crate::domain::bank;
use serde::Serialize;

/// A customer's setup as stored (the fields the check reads).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupCustomer {
    pub account: String,
    pub name: String,
    /// email | print | both
    pub delivery: String,
    /// direct_debit | card | manual
    pub payment_method: String,
    pub email: Option<String>,
    pub bank_branch: Option<String>,
    pub bank_account: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub mandate_ref: Option<String>,
    pub card_token: Option<String>,
    pub stripe_customer: Option<String>,
    pub gocardless_mandate: Option<String>,
    pub address1: Option<String>,
    pub postcode: Option<String>,
    /// The mandate's status as the bank reported it (ADDACS or a gateway):
    /// `cancelled`, `transferred`, `disputed` stop collection.
    pub mandate_status: Option<String>,
    pub mandate_status_on: Option<String>,
}

/// What cannot be done for a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocks {
    /// Direct Debit or card collection.
    Collection,
    /// Email or print delivery.
    Delivery,
}

/// One problem of one customer, with the way to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetupProblem {
    pub account: String,
    pub name: String,
    pub blocks: Blocks,
    /// The customers file columns to fill (or correct).
    pub columns: Vec<&'static str>,
    pub problem: String,
    /// What to run once the customers file is corrected.
    pub fix: String,
}

/// How to fix a customer: re-import it with `columns` filled.
fn fix(account: &str, columns: &[&str]) -> String {
    format!(
        "fill {} for {account} in your customers file, then billrun customers import FILE",
        columns.join(", ")
    )
}

fn blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// The Direct Debit problems of `c` for `dd_format`: (columns, problem).
fn dd_problems(c: &SetupCustomer, dd_format: &str) -> Vec<(Vec<&'static str>, String)> {
    type Check = fn(&str) -> Result<String, String>;
    let mut out = Vec::new();
    if blank(&c.mandate_ref) {
        out.push((
            vec!["mandate_ref"],
            "Direct Debit without a mandate reference".to_string(),
        ));
    } else if !crate::domain::bank_report::MandateStatus::collectable(c.mandate_status.as_deref()) {
        out.push((
            vec!["mandate_ref", "mandate_date"],
            format!(
                "the bank reported the Direct Debit mandate {} {} on {}: it is not collected \
                 until the customer signs a new one",
                c.mandate_ref.as_deref().unwrap_or_default(),
                c.mandate_status.as_deref().unwrap_or_default(),
                c.mandate_status_on.as_deref().unwrap_or("an unknown date"),
            ),
        ));
    }
    let fields: [(&'static str, &Option<String>, Check); 2] = match dd_format {
        "aba" => [
            ("bank_branch", &c.bank_branch, bank::au_bsb),
            ("bank_account", &c.bank_account, bank::au_account),
        ],
        "sepa" => [("iban", &c.iban, bank::iban), ("bic", &c.bic, bank::bic)],
        _ => [
            ("bank_branch", &c.bank_branch, bank::uk_sort_code),
            ("bank_account", &c.bank_account, bank::uk_account),
        ],
    };
    for (column, value, check) in fields {
        match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => out.push((
                vec![column],
                format!("Direct Debit without {column} (needed by dd.format {dd_format})"),
            )),
            Some(v) => {
                if let Err(e) = check(v) {
                    out.push((
                        vec![column],
                        format!("{column} does not suit dd.format {dd_format}: {e}"),
                    ));
                }
            }
        }
    }
    out
}

/// The problems of one customer.
pub fn check_customer(c: &SetupCustomer, dd_format: &str) -> Vec<SetupProblem> {
    let mut found: Vec<(Blocks, Vec<&'static str>, String)> = Vec::new();
    match c.payment_method.as_str() {
        // GoCardless holds the bank details of its mandates.
        "direct_debit" if !blank(&c.gocardless_mandate) => {}
        "direct_debit" => {
            for (cols, p) in dd_problems(c, dd_format) {
                found.push((Blocks::Collection, cols, p));
            }
        }
        "card" if blank(&c.card_token) => found.push((
            Blocks::Collection,
            vec!["card_token"],
            "card payment without a card token".into(),
        )),
        "card"
            if c.card_token
                .as_deref()
                .is_some_and(|t| t.trim().starts_with("pm_"))
                && blank(&c.stripe_customer) =>
        {
            found.push((
                Blocks::Collection,
                vec!["stripe_customer"],
                "card payment with a Stripe PaymentMethod (pm_…) but no Stripe Customer \
                 (cus_…): Stripe refuses to charge a saved card without its Customer"
                    .into(),
            ))
        }
        _ => {}
    }
    let email = matches!(c.delivery.as_str(), "email" | "both");
    let print = matches!(c.delivery.as_str(), "print" | "both");
    if email && blank(&c.email) {
        found.push((
            Blocks::Delivery,
            vec!["email"],
            format!("delivery {} without an email address", c.delivery),
        ));
    }
    if print {
        let missing: Vec<&'static str> = [("address1", &c.address1), ("postcode", &c.postcode)]
            .into_iter()
            .filter(|(_, v)| blank(v))
            .map(|(k, _)| k)
            .collect();
        if !missing.is_empty() {
            found.push((
                Blocks::Delivery,
                missing.clone(),
                format!(
                    "delivery {} without a postal address (no {})",
                    c.delivery,
                    missing.join(", ")
                ),
            ));
        }
    }
    found
        .into_iter()
        .map(|(blocks, columns, problem)| SetupProblem {
            account: c.account.clone(),
            name: c.name.clone(),
            blocks,
            fix: fix(&c.account, &columns),
            columns,
            problem,
        })
        .collect()
}

/// The problems of every customer, in the customers' order.
pub fn check(customers: &[SetupCustomer], dd_format: &str) -> Vec<SetupProblem> {
    customers
        .iter()
        .flat_map(|c| check_customer(c, dd_format))
        .collect()
}

/// One line for the checklist: how many customers, and the first few.
pub fn summary(problems: &[SetupProblem]) -> String {
    if problems.is_empty() {
        return "every customer can be billed, delivered and collected as set up".into();
    }
    let mut accounts: Vec<&str> = problems.iter().map(|p| p.account.as_str()).collect();
    accounts.dedup();
    let shown: Vec<String> = problems
        .iter()
        .take(3)
        .map(|p| format!("{}: {}", p.account, p.problem))
        .collect();
    let n = accounts.len();
    format!(
        "{n} {} cannot be billed, delivered or collected as set up ({} {}): {}{}",
        if n == 1 { "customer" } else { "customers" },
        problems.len(),
        if problems.len() == 1 {
            "problem"
        } else {
            "problems"
        },
        shown.join("; "),
        if problems.len() > 3 { "; …" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dd(format_fields: &[(&str, &str)]) -> SetupCustomer {
        let mut c = SetupCustomer {
            account: "A1".into(),
            name: "Acme".into(),
            delivery: "email".into(),
            payment_method: "direct_debit".into(),
            email: Some("a@example.com".into()),
            ..Default::default()
        };
        for (k, v) in format_fields {
            let v = Some(v.to_string());
            match *k {
                "bank_branch" => c.bank_branch = v,
                "bank_account" => c.bank_account = v,
                "iban" => c.iban = v,
                "bic" => c.bic = v,
                "mandate_ref" => c.mandate_ref = v,
                _ => unreachable!(),
            }
        }
        c
    }

    fn columns(p: &[SetupProblem]) -> Vec<&'static str> {
        p.iter().flat_map(|p| p.columns.clone()).collect()
    }

    #[test]
    fn direct_debit_needs_a_mandate_and_bank_details_of_the_format() {
        let uk = dd(&[("bank_branch", "20-00-00"), ("bank_account", "31415926")]);
        let p = check_customer(&uk, "bacs18");
        assert_eq!(columns(&p), ["mandate_ref"]);
        assert_eq!(p[0].blocks, Blocks::Collection);
        assert!(
            p[0].fix.contains("billrun customers import"),
            "{}",
            p[0].fix
        );

        let mut ok = uk.clone();
        ok.mandate_ref = Some("M1".into());
        assert!(check_customer(&ok, "bacs18").is_empty());
        // The same UK details do not suit ABA (a BSB is NNN-NNN) or SEPA.
        assert_eq!(columns(&check_customer(&ok, "aba")), ["bank_branch"]);
        assert_eq!(columns(&check_customer(&ok, "sepa")), ["iban", "bic"]);

        let sepa = dd(&[
            ("iban", "DE89 3704 0044 0532 0130 00"),
            ("bic", "COBADEFFXXX"),
            ("mandate_ref", "M2"),
        ]);
        assert!(check_customer(&sepa, "sepa").is_empty());
        let au = dd(&[
            ("bank_branch", "062-000"),
            ("bank_account", "12345678"),
            ("mandate_ref", "M3"),
        ]);
        assert!(check_customer(&au, "aba").is_empty());
        // A blank mandate counts as none.
        let blank = dd(&[
            ("bank_branch", "062-000"),
            ("bank_account", "12345678"),
            ("mandate_ref", "  "),
        ]);
        assert_eq!(columns(&check_customer(&blank, "aba")), ["mandate_ref"]);
    }

    #[test]
    fn card_email_and_print_need_their_details() {
        let c = SetupCustomer {
            account: "C1".into(),
            name: "Card Co".into(),
            delivery: "both".into(),
            payment_method: "card".into(),
            address1: Some("1 High St".into()),
            ..Default::default()
        };
        let p = check(std::slice::from_ref(&c), "bacs18");
        assert_eq!(columns(&p), ["card_token", "email", "postcode"]);
        assert_eq!(
            p.iter().map(|p| p.blocks).collect::<Vec<_>>(),
            [Blocks::Collection, Blocks::Delivery, Blocks::Delivery]
        );
        let manual = SetupCustomer {
            payment_method: "manual".into(),
            delivery: "print".into(),
            address1: Some("1 High St".into()),
            postcode: Some("AB1 2CD".into()),
            ..c
        };
        assert!(check(&[manual], "sepa").is_empty());
        assert!(summary(&[]).starts_with("every customer"));
        assert!(
            summary(&p).starts_with(
                "1 customer cannot be billed, delivered or collected as set up (3 problems)"
            ),
            "{}",
            summary(&p)
        );
    }

    #[test]
    fn a_mandate_the_bank_cancelled_is_flagged() {
        let mut c = SetupCustomer {
            account: "C1".into(),
            name: "Harbour Cafe".into(),
            delivery: "print".into(),
            payment_method: "direct_debit".into(),
            bank_branch: Some("20-00-00".into()),
            bank_account: Some("31415926".into()),
            mandate_ref: Some("BRC1001".into()),
            address1: Some("1 Quay".into()),
            postcode: Some("AB1 2CD".into()),
            ..Default::default()
        };
        assert!(check_customer(&c, "bacs18").is_empty());
        c.mandate_status = Some("amended".into());
        assert!(check_customer(&c, "bacs18").is_empty());
        c.mandate_status = Some("cancelled".into());
        c.mandate_status_on = Some("2026-12-10".into());
        let p = check_customer(&c, "bacs18");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].blocks, Blocks::Collection);
        assert!(
            p[0].problem.contains("BRC1001 cancelled on 2026-12-10"),
            "{}",
            p[0].problem
        );
    }
}
