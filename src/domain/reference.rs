//! Reference data (docs/file-formats.md#reference-data): customers, plans, services and tariffs, read from
//! CSV and validated row by row. All problems of a file are returned at once;
//! the store then upserts all rows in one transaction, or none.

use crate::domain::csvfile::{self, Problem, Table};
use crate::domain::money;
use crate::domain::rating::{Band, CallType, Increment};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

/// A validator that returns the canonical form of a value.
type Check = fn(&str) -> Result<String, String>;

/// Keys already in the database, for reference checks.
#[derive(Debug, Default)]
pub struct Known {
    pub accounts: HashSet<String>,
    pub plans: HashSet<String>,
    pub tariffs: HashSet<String>,
    pub cycles: HashSet<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Customer {
    pub account: String,
    pub name: String,
    pub email: Option<String>,
    pub delivery: String,
    pub payment_method: String,
    pub bank_branch: Option<String>,
    pub bank_account: Option<String>,
    pub bank_account_name: Option<String>,
    pub iban: Option<String>,
    pub bic: Option<String>,
    pub mandate_ref: Option<String>,
    pub mandate_date: Option<NaiveDate>,
    pub card_token: Option<String>,
    /// Stripe Customer (`cus_…`) the saved card belongs to.
    pub stripe_customer: Option<String>,
    /// GoCardless mandate (`MD…`), for `dd.provider gocardless`.
    pub gocardless_mandate: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub town: Option<String>,
    pub region: Option<String>,
    pub postcode: Option<String>,
    pub invoice_message: Option<String>,
    pub tax_exempt: bool,
    pub cycle: String,
    pub min_invoice: Option<Decimal>,
}

pub const CUSTOMER_COLUMNS: &[&str] = &[
    "account",
    "name",
    "email",
    "delivery",
    "payment_method",
    "bank_branch",
    "bank_account",
    "bank_account_name",
    "iban",
    "bic",
    "mandate_ref",
    "mandate_date",
    "card_token",
    "address1",
    "address2",
    "town",
    "region",
    "postcode",
    "invoice_message",
    "tax_exempt",
    "cycle",
    "min_invoice",
    "stripe_customer",
    "gocardless_mandate",
];

/// A Stripe Customer id: `cus_` and letters/digits (Stripe ids are
/// alphanumeric after their prefix).
pub fn stripe_customer_id(s: &str) -> Result<String, String> {
    gateway_id(s, "cus_", "a Stripe Customer id (cus_…)")
}

/// A GoCardless mandate id: `MD` and letters/digits (`MD000123ABC`).
pub fn gocardless_mandate_id(s: &str) -> Result<String, String> {
    gateway_id(s, "MD", "a GoCardless mandate id (MD…)")
}

fn gateway_id(s: &str, prefix: &str, what: &str) -> Result<String, String> {
    let rest = s.strip_prefix(prefix).unwrap_or("");
    if rest.is_empty() || rest.len() > 64 || !rest.chars().all(|c| c.is_ascii_alphanumeric()) {
        Err(format!("'{s}' is not {what}"))
    } else {
        Ok(s.to_owned())
    }
}

fn check_duplicate(seen: &mut HashMap<String, u64>, key: &str, line: u64) -> Option<String> {
    match seen.insert(key.to_string(), line) {
        Some(first) if !key.is_empty() => {
            Some(format!("duplicate key '{key}' (first on line {first})"))
        }
        _ => None,
    }
}

/// Validate the Direct Debit bank details a customer needs for `dd_format`.
fn check_bank(r: &mut csvfile::Row<'_>, c: &Customer, dd_format: &str) {
    use crate::domain::bank;
    match dd_format {
        "bacs18" | "aba" => {
            let (what, check): (&str, Check) = if dd_format == "bacs18" {
                ("UK sort code NN-NN-NN", bank::uk_sort_code)
            } else {
                ("AU BSB NNN-NNN", bank::au_bsb)
            };
            match &c.bank_branch {
                None => r.problem(
                    "bank_branch",
                    format!("required for direct_debit with dd.format {dd_format} ({what})"),
                ),
                Some(b) => {
                    if let Err(e) = check(b) {
                        r.problem("bank_branch", e)
                    }
                }
            }
            let acct_check: Check = if dd_format == "bacs18" {
                bank::uk_account
            } else {
                bank::au_account
            };
            match &c.bank_account {
                None => r.problem(
                    "bank_account",
                    format!("required for direct_debit with dd.format {dd_format}"),
                ),
                Some(a) => {
                    if let Err(e) = acct_check(a) {
                        r.problem("bank_account", e)
                    }
                }
            }
            if c.bank_account_name.is_none() {
                r.problem(
                    "bank_account_name",
                    format!("required for direct_debit with dd.format {dd_format}"),
                );
            }
        }
        _ => {
            match &c.iban {
                None => r.problem("iban", "required for direct_debit with dd.format sepa"),
                Some(i) => {
                    if let Err(e) = bank::iban(i) {
                        r.problem("iban", e)
                    }
                }
            }
            if let Some(b) = &c.bic
                && let Err(e) = bank::bic(b)
            {
                r.problem("bic", e)
            }
            if c.mandate_ref.is_none() {
                r.problem(
                    "mandate_ref",
                    "required for direct_debit with dd.format sepa",
                );
            }
            if c.mandate_date.is_none() {
                r.problem(
                    "mandate_date",
                    "required for direct_debit with dd.format sepa",
                );
            }
        }
    }
}

pub fn parse_customers(
    file: &str,
    bytes: &[u8],
    known: &Known,
    dd_format: &str,
) -> Result<Vec<Customer>, Vec<Problem>> {
    let t = Table::read(
        file,
        bytes,
        &["account", "name", "delivery", "payment_method"],
        CUSTOMER_COLUMNS,
    )?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let account = r.req("account");
        if let Some(d) = check_duplicate(&mut seen, &account, r.line) {
            r.problem("account", d);
        }
        let mut c = Customer {
            name: r.req("name"),
            email: r.opt("email"),
            delivery: r
                .parse_req("delivery", csvfile::one_of(&["email", "print", "both"]))
                .unwrap_or_default(),
            payment_method: r
                .parse_req(
                    "payment_method",
                    csvfile::one_of(&["direct_debit", "card", "manual"]),
                )
                .unwrap_or_default(),
            bank_branch: r.opt("bank_branch"),
            bank_account: r.opt("bank_account"),
            bank_account_name: r.opt("bank_account_name"),
            iban: r.opt("iban"),
            bic: r.opt("bic"),
            mandate_ref: r.opt("mandate_ref"),
            mandate_date: r.parse_opt("mandate_date", csvfile::date),
            card_token: r.opt("card_token"),
            stripe_customer: r.parse_opt("stripe_customer", stripe_customer_id),
            gocardless_mandate: r.parse_opt("gocardless_mandate", gocardless_mandate_id),
            address1: r.opt("address1"),
            address2: r.opt("address2"),
            town: r.opt("town"),
            region: r.opt("region"),
            postcode: r.opt("postcode"),
            invoice_message: r.opt("invoice_message"),
            tax_exempt: r.parse_opt("tax_exempt", csvfile::boolean).unwrap_or(false),
            cycle: r.opt("cycle").unwrap_or_else(|| "monthly".into()),
            min_invoice: r.parse_opt("min_invoice", |s| match money::parse(s) {
                Ok(d) if d >= Decimal::ZERO => Ok(d),
                Ok(_) => Err("must not be negative".into()),
                Err(e) => Err(e),
            }),
            account,
        };
        if let Some(e) = &c.email
            && (!e.contains('@') || e.contains(char::is_whitespace))
        {
            r.problem("email", format!("'{e}' is not an email address"));
        }
        if (c.delivery == "email" || c.delivery == "both") && c.email.is_none() {
            r.problem("email", format!("required when delivery is {}", c.delivery));
        }
        // A GoCardless mandate needs no bank details here: GoCardless
        // holds them (dd.provider gocardless).
        if c.payment_method == "direct_debit" && c.gocardless_mandate.is_none() {
            check_bank(&mut r, &c, dd_format);
        }
        if c.payment_method == "card" {
            match &c.card_token {
                None => r.problem("card_token", "required when payment_method is card"),
                Some(t) if t.contains(char::is_whitespace) => {
                    r.problem("card_token", "must not contain spaces")
                }
                _ => {}
            }
        }
        if !known.cycles.contains(&c.cycle) {
            r.problem(
                "cycle",
                format!(
                    "unknown billing cycle '{}' (add it with billrun cycles add)",
                    c.cycle
                ),
            );
        }
        // Store the branch in its canonical form (NN-NN-NN or NNN-NNN).
        let canon: Check = if dd_format == "aba" {
            crate::domain::bank::au_bsb
        } else {
            crate::domain::bank::uk_sort_code
        };
        if let Some(b) = c.bank_branch.as_deref().and_then(|b| canon(b).ok()) {
            c.bank_branch = Some(b);
        }
        out.push(c);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub plan: String,
    pub name: String,
    pub monthly_fee: Decimal,
    pub tariff: String,
}

pub fn parse_plans(file: &str, bytes: &[u8], known: &Known) -> Result<Vec<Plan>, Vec<Problem>> {
    let t = Table::read(
        file,
        bytes,
        &["plan", "name", "monthly_fee", "tariff"],
        &["plan", "name", "monthly_fee", "tariff"],
    )?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let plan = r.req("plan");
        if let Some(d) = check_duplicate(&mut seen, &plan, r.line) {
            r.problem("plan", d);
        }
        let name = r.req("name");
        let monthly_fee = r.parse_req("monthly_fee", money::parse).unwrap_or_default();
        let tariff = r.req("tariff");
        if !tariff.is_empty() && !known.tariffs.contains(&tariff) {
            r.problem(
                "tariff",
                format!("unknown tariff '{tariff}': import tariffs first"),
            );
        }
        out.push(Plan {
            plan,
            name,
            monthly_fee,
            tariff,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub service: String,
    pub account: String,
    pub plan: String,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub description: String,
    /// Plan fees already billed up to this date (e.g. by a previous billing
    /// system): the first run charges from the day after. Optional.
    pub billed_to: Option<NaiveDate>,
}

pub fn parse_services(
    file: &str,
    bytes: &[u8],
    known: &Known,
) -> Result<Vec<Service>, Vec<Problem>> {
    let cols = [
        "service",
        "account",
        "plan",
        "start_date",
        "end_date",
        "description",
        "billed_to",
    ];
    let t = Table::read(
        file,
        bytes,
        &["service", "account", "plan", "start_date"],
        &cols,
    )?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let raw = r.req("service");
        let service = crate::domain::rating::normalise_number(&raw);
        if !raw.is_empty() && service.is_empty() {
            r.problem(
                "service",
                format!("'{raw}' has no digits: a service is the number CDRs carry"),
            );
        }
        if let Some(d) = check_duplicate(&mut seen, &service, r.line) {
            r.problem("service", d);
        }
        let account = r.req("account");
        if !account.is_empty() && !known.accounts.contains(&account) {
            r.problem(
                "account",
                format!("unknown account '{account}': import customers first"),
            );
        }
        let plan = r.req("plan");
        if !plan.is_empty() && !known.plans.contains(&plan) {
            r.problem("plan", format!("unknown plan '{plan}': import plans first"));
        }
        let start = r.parse_req("start_date", csvfile::date);
        let end = r.parse_opt("end_date", csvfile::date);
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            r.problem("end_date", format!("{e} is before start_date {s}"));
        }
        let description = r.opt("description").unwrap_or_default();
        let billed_to = r.parse_opt("billed_to", csvfile::date);
        out.push(Service {
            billed_to,
            service,
            account,
            plan,
            start_date: start.unwrap_or_default(),
            end_date: end,
            description,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TariffRow {
    pub tariff: String,
    pub prefix: String,
    pub description: String,
    pub call_type: CallType,
    pub band: Band,
    pub flagfall: Decimal,
    pub rate: Decimal,
    pub increment: Increment,
    pub minimum_charge: Decimal,
    pub maximum_charge: Option<Decimal>,
}

pub const TARIFF_COLUMNS: &[&str] = &[
    "tariff",
    "prefix",
    "description",
    "call_type",
    "band",
    "flagfall",
    "rate",
    "increment",
    "minimum_charge",
    "maximum_charge",
];

pub fn parse_tariffs(file: &str, bytes: &[u8]) -> Result<Vec<TariffRow>, Vec<Problem>> {
    let t = Table::read(
        file,
        bytes,
        &["tariff", "prefix", "call_type", "rate"],
        TARIFF_COLUMNS,
    )?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen = HashMap::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let tariff = r.req("tariff");
        let written = r.opt("prefix").unwrap_or_default();
        // `+44` is `44`: destinations are rated by their digits, the `+`
        // of an international number dropped (rating::normalise_number).
        let prefix = match written.strip_prefix('+') {
            Some(p) if !p.is_empty() => p.to_owned(),
            _ => written.clone(),
        };
        if !prefix.bytes().all(|b| b.is_ascii_digit()) {
            r.problem(
                "prefix",
                format!(
                    "'{written}' must be digits only, optionally after one leading + (empty = every destination)"
                ),
            );
        }
        let call_type = r.parse_req("call_type", |s| s.parse::<CallType>());
        let band = r
            .parse_opt("band", |s| s.parse::<Band>())
            .unwrap_or(Band::All);
        let non_neg = |s: &str| match money::parse(s) {
            Ok(d) if d >= Decimal::ZERO => Ok(d),
            Ok(_) => Err("must not be negative".to_string()),
            Err(e) => Err(e),
        };
        let flagfall = r.parse_opt("flagfall", non_neg).unwrap_or_default();
        let rate = r.parse_req("rate", non_neg).unwrap_or_default();
        let increment = r
            .parse_opt("increment", |s| s.parse::<Increment>())
            .unwrap_or_default();
        let minimum_charge = r.parse_opt("minimum_charge", non_neg).unwrap_or_default();
        let maximum_charge = r.parse_opt("maximum_charge", non_neg);
        if let Some(max) = maximum_charge
            && max < minimum_charge
        {
            r.problem(
                "maximum_charge",
                format!("{max} is below minimum_charge {minimum_charge}"),
            );
        }
        if let Some(ct) = call_type {
            let key = format!("{tariff}|{prefix}|{}|{}", ct.as_str(), band.as_str());
            if let Some(d) = check_duplicate(&mut seen, &key, r.line) {
                r.problem(
                    "prefix",
                    d.replace(
                        &key,
                        &format!("{tariff}/{prefix}/{}/{}", ct.as_str(), band.as_str()),
                    ),
                );
            }
        }
        let description = r.opt("description").unwrap_or_else(|| {
            if prefix.is_empty() {
                "All destinations".into()
            } else {
                format!("Prefix {prefix}")
            }
        });
        out.push(TariffRow {
            tariff,
            prefix,
            description,
            call_type: call_type.unwrap_or(CallType::Voice),
            band,
            flagfall,
            rate,
            increment,
            minimum_charge,
            maximum_charge,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            accounts: ["A1".to_string()].into(),
            plans: ["P1".to_string()].into(),
            tariffs: ["T1".to_string()].into(),
            cycles: ["monthly".to_string()].into(),
        }
    }

    #[test]
    fn customer_rows_report_every_problem() {
        let csv = "account,name,email,delivery,payment_method,bank_branch,bank_account,bank_account_name,card_token\n\
                   A1,Ann,ann@example.com,email,card,,,,pm_1\n\
                   A2,Bob,,email,direct_debit,12-34,123,,\n\
                   A1,Dup,,fax,cheque,,,,\n";
        let e = parse_customers("c.csv", csv.as_bytes(), &known(), "bacs18").unwrap_err();
        let msgs: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert!(
            msgs.contains(&"c.csv:3:3: email: required when delivery is email".to_string()),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("c.csv:3:6: bank_branch:")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("c.csv:3:7: bank_account:")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("c.csv:3:8: bank_account_name:")),
            "{msgs:#?}"
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("c.csv:4:1: account: duplicate key 'A1' (first on line 2)"))
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("c.csv:4:4: delivery: 'fax' is not one of"))
        );
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("c.csv:4:5: payment_method:"))
        );
    }

    #[test]
    fn good_customer_parses_with_defaults() {
        let csv = "account,name,delivery,payment_method,bank_branch,bank_account,bank_account_name\n\
                   A9,Zed,print,direct_debit,112233,12345678,Z ZED\n";
        let c = parse_customers("c.csv", csv.as_bytes(), &known(), "bacs18").unwrap();
        assert_eq!(c[0].cycle, "monthly");
        assert_eq!(c[0].bank_branch.as_deref(), Some("11-22-33"));
        assert!(!c[0].tax_exempt);
    }

    #[test]
    fn services_check_references_and_dates() {
        let csv = "service,account,plan,start_date,end_date\n\
                   +44 7700 900001,A1,P1,2026-01-01,\n\
                   07700900002,A2,P9,2026-13-01,\n\
                   07700900003,A1,P1,2026-05-01,2026-04-01\n";
        let e = parse_services("s.csv", csv.as_bytes(), &known()).unwrap_err();
        let msgs: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 4, "{msgs:#?}");
        assert!(msgs[0].starts_with("s.csv:3:2: account: unknown account 'A2'"));
        assert!(msgs[1].starts_with("s.csv:3:3: plan: unknown plan 'P9'"));
        assert!(msgs[2].starts_with("s.csv:3:4: start_date: '2026-13-01' is not a date"));
        assert!(msgs[3].starts_with("s.csv:4:5: end_date:"));
        let ok = parse_services(
            "s.csv",
            b"service,account,plan,start_date\n+44 7700 900001,A1,P1,2026-01-01\n",
            &known(),
        )
        .unwrap();
        assert_eq!(ok[0].service, "447700900001");
    }

    #[test]
    fn tariff_prefixes_may_carry_one_plus() {
        let csv = "tariff,prefix,description,call_type,band,flagfall,rate,increment\n\
                   T1,+44,UK,voice,all,0,0.10,60/60\n\
                   T1,+,Bad,voice,all,0,0.10,60/60\n\
                   T1,++1,Bad,voice,all,0,0.10,60/60\n";
        let e = parse_tariffs("t.csv", csv.as_bytes()).unwrap_err();
        let msgs: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert_eq!(msgs.len(), 2, "{msgs:#?}");
        assert!(
            msgs[0].starts_with("t.csv:3:2: prefix: '+' must be digits"),
            "{msgs:#?}"
        );
        assert!(msgs[1].starts_with("t.csv:4:2: prefix: '++1' must be digits"));
        let ok = parse_tariffs(
            "t.csv",
            csv.lines()
                .take(2)
                .collect::<Vec<_>>()
                .join("\n")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(ok[0].prefix, "44");
        // `44` and `+44` are the same key.
        let dup = "tariff,prefix,description,call_type,band,flagfall,rate,increment\n\
                   T1,+44,UK,voice,all,0,0.10,60/60\nT1,44,UK,voice,all,0,0.10,60/60\n";
        assert!(parse_tariffs("t.csv", dup.as_bytes()).is_err());
    }

    #[test]
    fn tariffs_validate_increment_band_and_duplicates() {
        let csv = "tariff,prefix,description,call_type,band,flagfall,rate,increment\n\
                   T1,44,UK,voice,peak,0,0.10,60/60\n\
                   T1,44,UK,voice,peak,0,0.10,60/60\n\
                   T1,4x,Bad,fax,evening,abc,1,60\n";
        let e = parse_tariffs("t.csv", csv.as_bytes()).unwrap_err();
        let msgs: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert!(
            msgs.iter()
                .any(|m| m.starts_with("t.csv:3:2: prefix: duplicate key")),
            "{msgs:#?}"
        );
        for col in ["prefix", "call_type", "band", "flagfall", "increment"] {
            assert!(
                msgs.iter()
                    .any(|m| m.starts_with("t.csv:4:") && m.contains(&format!(" {col}: "))),
                "{col}: {msgs:#?}"
            );
        }
    }

    #[test]
    fn plan_needs_known_tariff_and_decimal_fee() {
        let csv =
            "plan,name,monthly_fee,tariff\nP1,Basic,12.50,T1\nP2,Pro,12,50,T1\nP3,X,1.2.3,T9\n";
        let e = parse_plans("p.csv", csv.as_bytes(), &known()).unwrap_err();
        assert_eq!(e[0].line, 3);
        assert!(e[0].reason.contains("fields"));
        let csv = "plan,name,monthly_fee,tariff\nP1,Basic,12.50,T1\nP3,X,1.2.3,T9\n";
        let e = parse_plans("p.csv", csv.as_bytes(), &known()).unwrap_err();
        let msgs: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        assert!(msgs[0].starts_with("p.csv:3:3: monthly_fee:"), "{msgs:#?}");
        assert!(
            msgs[1].starts_with("p.csv:3:4: tariff: unknown tariff 'T9'"),
            "{msgs:#?}"
        );
    }
}
