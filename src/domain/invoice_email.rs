//! The content of an invoice email (docs/commands.md#email): subject, plain-text body and
//! its HTML alternative. Pure: values in, strings out.

use crate::domain::money;
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// What one invoice email says.
#[derive(Debug, Clone)]
pub struct Content {
    pub number: String,
    pub company: String,
    pub company_email: Option<String>,
    pub customer_name: String,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub currency_symbol: String,
    pub amount_due: Decimal,
    /// `direct_debit`, `card` or `manual`.
    pub payment_method: String,
    /// The invoice's message (run, customer or default), may be empty.
    pub message: String,
}

/// The composed email.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// `Invoice NUMBER from COMPANY`.
pub fn subject(number: &str, company: &str) -> String {
    format!("Invoice {number} from {company}")
}

fn long_date(d: NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// How the amount due will be paid, in one sentence.
pub fn payment_text(c: &Content) -> String {
    let due = long_date(c.due_date);
    if c.amount_due <= Decimal::ZERO {
        if c.amount_due.is_zero() {
            return "There is nothing to pay.".into();
        }
        return format!(
            "Your account is in credit by {}{}: there is nothing to pay.",
            c.currency_symbol,
            money::fmt(-c.amount_due)
        );
    }
    match c.payment_method.as_str() {
        "direct_debit" => format!("The amount due will be collected by Direct Debit on {due}."),
        "card" => format!("The amount due will be charged to your card on file on {due}."),
        _ => format!("Please pay by {due}, quoting invoice number {}.", c.number),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Subject, text and HTML of one invoice email.
pub fn compose(c: &Content) -> Composed {
    let amount = format!("{}{}", c.currency_symbol, money::fmt(c.amount_due));
    let due = long_date(c.due_date);
    let pay = payment_text(c);
    let message = c.message.trim();
    let mut text = format!(
        "Dear {},\n\nPlease find attached invoice {} dated {} from {}.\n\n\
         Amount due: {amount}\nDue date: {due}\n\n{pay}\n",
        c.customer_name,
        c.number,
        long_date(c.invoice_date),
        c.company
    );
    if !message.is_empty() {
        text.push_str(&format!("\n{message}\n"));
    }
    text.push_str(&format!("\n{}\n", c.company));
    if let Some(e) = c.company_email.as_deref().filter(|e| !e.is_empty()) {
        text.push_str(&format!("{e}\n"));
    }

    let mut html = format!(
        "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n\
         <p>Dear {},</p>\n<p>Please find attached invoice <strong>{}</strong> dated {} from {}.</p>\n\
         <table>\n<tr><td>Amount due:</td><td><strong>{}</strong></td></tr>\n\
         <tr><td>Due date:</td><td>{}</td></tr>\n</table>\n<p>{}</p>\n",
        escape(&c.customer_name),
        escape(&c.number),
        escape(&long_date(c.invoice_date)),
        escape(&c.company),
        escape(&amount),
        escape(&due),
        escape(&pay)
    );
    if !message.is_empty() {
        html.push_str(&format!("<p>{}</p>\n", escape(message)));
    }
    html.push_str(&format!("<p>{}", escape(&c.company)));
    if let Some(e) = c.company_email.as_deref().filter(|e| !e.is_empty()) {
        html.push_str(&format!("<br>{}", escape(e)));
    }
    html.push_str("</p>\n</body></html>\n");
    Composed {
        subject: subject(&c.number, &c.company),
        text,
        html,
    }
}

/// A Message-ID (without brackets) unique per invoice and attempt:
/// `NUMBER.ATTEMPT.STAMP@DOMAIN`, the domain taken from the sender address.
pub fn message_id(number: &str, attempt: i64, stamp: &str, from: &str) -> String {
    let domain = from
        .rsplit('@')
        .next()
        .map(|d| d.trim_end_matches('>').trim())
        .filter(|d| !d.is_empty() && !d.contains(char::is_whitespace))
        .unwrap_or("billrun.invalid");
    let safe = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("{}.{attempt}.{}@{domain}", safe(number), safe(stamp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn content(method: &str, due: Decimal) -> Content {
        Content {
            number: "NFV-10001".into(),
            company: "Northern Fibre & Voice Ltd".into(),
            company_email: Some("billing@nfv.example".into()),
            customer_name: "Harbour <Cafe>".into(),
            invoice_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            currency_symbol: "£".into(),
            amount_due: due,
            payment_method: method.into(),
            message: "Thank you for your business.".into(),
        }
    }

    #[test]
    fn text_body_has_amount_due_date_payment_and_message() {
        let c = compose(&content("direct_debit", dec!(42.5)));
        assert_eq!(
            c.subject,
            "Invoice NFV-10001 from Northern Fibre & Voice Ltd"
        );
        assert!(c.text.contains("Amount due: £42.50"), "{}", c.text);
        assert!(c.text.contains("Due date: 15 December 2026"));
        assert!(
            c.text
                .contains("will be collected by Direct Debit on 15 December 2026")
        );
        assert!(c.text.contains("Thank you for your business."));
        assert!(c.html.contains("Harbour &lt;Cafe&gt;"));
        assert!(c.html.contains("Northern Fibre &amp; Voice Ltd"));
        assert!(c.html.contains("£42.50"));
    }

    #[test]
    fn payment_text_by_method_and_credit() {
        assert!(payment_text(&content("card", dec!(1))).contains("card on file"));
        assert!(
            payment_text(&content("manual", dec!(1))).contains("quoting invoice number NFV-10001")
        );
        assert!(payment_text(&content("card", dec!(-3))).contains("in credit by £3.00"));
        assert_eq!(
            payment_text(&content("direct_debit", dec!(0))),
            "There is nothing to pay."
        );
    }

    #[test]
    fn message_ids_are_safe_and_use_the_sender_domain() {
        assert_eq!(
            message_id(
                "NFV-1",
                2,
                "2026-12-01T10:00:00Z",
                "Billing <b@nfv.example>"
            ),
            "NFV-1.2.2026-12-01T10_00_00Z@nfv.example"
        );
        assert_eq!(message_id("A/1", 1, "x", "nobody"), "A_1.1.x@nobody");
    }
}
