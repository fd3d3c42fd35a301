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
    /// Direct Debit: the day the customer is debited (the advance notice
    /// states it); `None` states the due date.
    pub debit_date: Option<NaiveDate>,
    pub currency_symbol: String,
    pub amount_due: Decimal,
    /// The run's cutoff, and the payments received since it (recorded by
    /// production) and what the invoice asks to be collected: the email
    /// (for Direct Debit the advance notice) states the invoice's figure.
    pub cutoff_date: NaiveDate,
    pub received_since_minor: i64,
    pub to_collect_minor: i64,
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

/// How the invoice will be paid: `invoice::payment_sentence`, as the PDF
/// says it.
pub fn payment_text(c: &Content) -> String {
    let sign = if c.amount_due < Decimal::ZERO {
        i64::MIN
    } else {
        i64::MAX
    };
    let amount_due_minor = money::to_minor(c.amount_due).unwrap_or(sign);
    let sym = &c.currency_symbol;
    crate::domain::invoice::payment_sentence(
        &crate::domain::invoice::PaymentTerms {
            number: &c.number,
            payment_method: &c.payment_method,
            cutoff_date: c.cutoff_date,
            due_date: c.due_date,
            debit_date: c.debit_date,
            amount_due_minor,
            received_since_minor: c.received_since_minor,
            to_collect_minor: c.to_collect_minor,
        },
        &|m| format!("{sym}{}", money::fmt_minor(m)),
    )
}

pub(crate) fn escape(s: &str) -> String {
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
            debit_date: None,
            currency_symbol: "£".into(),
            amount_due: due,
            cutoff_date: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            received_since_minor: 0,
            to_collect_minor: money::to_minor(due.max(Decimal::ZERO)).unwrap(),
            payment_method: method.into(),
            message: "Thank you for your business.".into(),
        }
    }

    #[test]
    fn the_advance_notice_states_the_debit_date() {
        let mut c = content("direct_debit", dec!(42.5));
        c.debit_date = NaiveDate::from_ymd_opt(2026, 12, 29);
        let m = compose(&c);
        assert!(
            m.text
                .contains("will be collected by Direct Debit on 29 December 2026"),
            "{}",
            m.text
        );
        assert!(m.html.contains("29 December 2026"), "{}", m.html);
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
    fn payments_since_the_cutoff_and_the_amount_to_collect_are_stated() {
        let mut c = content("card", dec!(425.43));
        c.received_since_minor = 33370;
        c.to_collect_minor = 9173;
        let m = compose(&c);
        assert!(m.text.contains("Amount due: £425.43"), "{}", m.text);
        assert!(
            m.text.contains(
                "Received since 30 November 2026: £333.70, thank you. \
                 £91.73 will be charged to your card on file on 15 December 2026."
            ),
            "{}",
            m.text
        );
        assert!(m.html.contains("£91.73 will be charged"), "{}", m.html);
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
