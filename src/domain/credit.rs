//! Credit notes (docs/rating.md#credit-notes): how much a credit note may
//! credit, its tax and its number. Values in, values out.
//!
//! A credit note credits part of a produced invoice's charges, ex tax: at
//! most what the invoice still has uncredited (its charges ex tax less every
//! earlier credit note's ex-tax amount). Its tax is computed like an
//! invoice's, once per document: the ex-tax amount times the tax rate,
//! rounded half away from zero to the minor unit; none when the invoice
//! carried no tax (a tax-exempt customer). The tax of all the credit notes
//! of an invoice never exceeds the invoice's tax, and a credit note that
//! takes the last of the charges takes the last of the tax, so crediting an
//! invoice whole (in one or several notes) gives back exactly its total.

use super::money::{from_minor, to_minor};
use rust_decimal::Decimal;
use serde::Serialize;

/// What a credit note is measured against: the invoice's charges and tax,
/// and what its earlier credit notes took (all in minor units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Room {
    pub invoice_ex_tax_minor: i64,
    pub invoice_tax_minor: i64,
    pub credited_ex_tax_minor: i64,
    pub credited_tax_minor: i64,
}

impl Room {
    /// Charges ex tax not credited yet (never below zero).
    pub fn uncredited_ex_tax_minor(&self) -> i64 {
        self.invoice_ex_tax_minor
            .saturating_sub(self.credited_ex_tax_minor)
            .max(0)
    }
    /// Tax not credited yet (never below zero).
    pub fn uncredited_tax_minor(&self) -> i64 {
        self.invoice_tax_minor
            .saturating_sub(self.credited_tax_minor)
            .max(0)
    }
}

/// The amounts of one credit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Amounts {
    pub ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    /// The tax rate applied (0 when the invoice carried no tax).
    pub rate: Decimal,
}

/// The amounts of a credit note of `ex_tax_minor` (ex tax) on an invoice
/// with `room`, at tax rate `rate`. `Err` says why it is refused: not
/// above zero, or more than the invoice has uncredited (naming how much is
/// left). `invoice` names the invoice in messages.
pub fn amounts(
    invoice: &str,
    room: Room,
    ex_tax_minor: i64,
    rate: Decimal,
) -> Result<Amounts, String> {
    if ex_tax_minor <= 0 {
        return Err(format!(
            "a credit note credits an amount above zero (got {})",
            super::money::fmt_minor(ex_tax_minor)
        ));
    }
    let left = room.uncredited_ex_tax_minor();
    if ex_tax_minor > left {
        return Err(if left == 0 {
            format!(
                "invoice {invoice} has nothing left to credit (its charges are credited already, or it has none)"
            )
        } else {
            format!(
                "invoice {invoice} has only {} (ex tax) left to credit, less than {}",
                super::money::fmt_minor(left),
                super::money::fmt_minor(ex_tax_minor)
            )
        });
    }
    let tax_left = room.uncredited_tax_minor();
    let (rate, tax_minor) = if room.invoice_tax_minor == 0 {
        (Decimal::ZERO, 0)
    } else if ex_tax_minor == left {
        (rate, tax_left)
    } else {
        let tax = from_minor(ex_tax_minor)
            .checked_mul(rate)
            .and_then(|t| to_minor(t).ok())
            .ok_or_else(|| "the tax of the credit note is out of range".to_string())?;
        (rate, tax.clamp(0, tax_left))
    };
    let total_minor = ex_tax_minor
        .checked_add(tax_minor)
        .ok_or_else(|| "the credit note's total is out of range".to_string())?;
    Ok(Amounts {
        ex_tax_minor,
        tax_minor,
        total_minor,
        rate,
    })
}

/// The credit note number for a sequence number: prefix + zero-padded number.
pub fn number(prefix: &str, seq: i64) -> String {
    super::invoice::number(prefix, seq)
}

/// The reason printed on the credit note: trimmed, not empty, at most 200
/// characters, no control characters.
pub fn reason(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("must say why the invoice is credited".into());
    }
    if t.chars().count() > 200 {
        return Err("at most 200 characters".into());
    }
    super::csvfile::control_free(t)?;
    Ok(t.to_owned())
}

/// A credit note as its document (PDF, email) prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    pub number: String,
    pub account: String,
    /// Customer name and postal address at the time of printing.
    pub name: String,
    pub address: Vec<String>,
    pub postcode: String,
    pub credit_date: chrono::NaiveDate,
    pub currency: String,
    /// The invoice credited and its date.
    pub invoice: String,
    pub invoice_date: chrono::NaiveDate,
    pub reason: String,
    pub ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub rate: Decimal,
    pub payment_method: String,
    /// (service, description, quantity, amount ex tax in minor units).
    pub lines: Vec<(Option<String>, String, String, i64)>,
}

/// What a credit note does to the customer's account, in words (the PDF
/// and the email say the same). `total` is formatted with its symbol.
pub fn effect_text(total: &str, invoice: &str, payment_method: &str) -> String {
    let how = match payment_method {
        "direct_debit" => Some("Direct Debit"),
        "card" => Some("card payment"),
        _ => None,
    };
    match how {
        Some(how) => format!(
            "{total} is credited to your account. If the {how} for invoice {invoice} has not \
             been taken yet, it is reduced by this amount; otherwise the credit is carried \
             forward to your next invoice."
        ),
        None => format!(
            "{total} is credited to your account: please deduct it from any amount still \
             unpaid on invoice {invoice}; the credit is carried forward to your next invoice."
        ),
    }
}

/// The email that delivers a credit note: (subject, text, HTML).
pub fn email(
    company: &str,
    customer_name: &str,
    number: &str,
    invoice: &str,
    total: &str,
    effect: &str,
) -> (String, String, String) {
    use super::invoice_email::escape;
    let subject = format!("Credit note {number} from {company}");
    let text = format!(
        "Dear {customer_name},\n\nPlease find attached credit note {number} for {total}, \
         crediting invoice {invoice}.\n\n{effect}\n\nKind regards,\n{company}\n"
    );
    let html = format!(
        "<html><body><p>Dear {},</p><p>Please find attached credit note <b>{}</b> for <b>{}</b>, \
         crediting invoice {}.</p><p>{}</p><p>Kind regards,<br>{}</p></body></html>",
        escape(customer_name),
        escape(number),
        escape(total),
        escape(invoice),
        escape(effect),
        escape(company)
    );
    (subject, text, html)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn room(ex: i64, tax: i64, cex: i64, ctax: i64) -> Room {
        Room {
            invoice_ex_tax_minor: ex,
            invoice_tax_minor: tax,
            credited_ex_tax_minor: cex,
            credited_tax_minor: ctax,
        }
    }

    #[test]
    fn tax_is_rounded_once_and_never_exceeds_the_invoices() {
        let r = room(10_00, 2_00, 0, 0);
        let a = amounts("I1", r, 2_50, dec!(0.20)).unwrap();
        assert_eq!((a.ex_tax_minor, a.tax_minor, a.total_minor), (250, 50, 300));
        // 0.03 at 20 % is 0.006: rounded to 0.01.
        let r = room(10, 2, 0, 0);
        assert_eq!(amounts("I1", r, 3, dec!(0.20)).unwrap().tax_minor, 1);
        // Three small credits: the last takes what is left (0), not 0.01 more.
        let r = room(10, 2, 6, 2);
        let a = amounts("I1", r, 3, dec!(0.20)).unwrap();
        assert_eq!(a.tax_minor, 0);
        // The last of the charges takes the last of the tax.
        let r = room(10_01, 2_00, 5_00, 1_00);
        let a = amounts("I1", r, 5_01, dec!(0.20)).unwrap();
        assert_eq!((a.tax_minor, a.total_minor), (1_00, 6_01));
    }

    #[test]
    fn an_invoice_without_tax_gives_credit_notes_without_tax() {
        let a = amounts("I1", room(50_00, 0, 0, 0), 10_00, dec!(0.20)).unwrap();
        assert_eq!((a.tax_minor, a.total_minor, a.rate), (0, 10_00, dec!(0)));
    }

    #[test]
    fn refuses_zero_negative_and_more_than_is_left() {
        let r = room(10_00, 2_00, 4_00, 80);
        let e = amounts("I1", r, 0, dec!(0.2)).unwrap_err();
        assert!(e.contains("above zero"), "{e}");
        assert!(amounts("I1", r, -1, dec!(0.2)).is_err());
        let e = amounts("I1", r, 6_01, dec!(0.2)).unwrap_err();
        assert_eq!(
            e,
            "invoice I1 has only 6.00 (ex tax) left to credit, less than 6.01"
        );
        let e = amounts("I1", room(10_00, 2_00, 10_00, 2_00), 1, dec!(0.2)).unwrap_err();
        assert!(e.contains("nothing left to credit"), "{e}");
        // An invoice of credits only has nothing to credit.
        assert!(amounts("I1", room(-5_00, -1_00, 0, 0), 1, dec!(0.2)).is_err());
    }

    #[test]
    fn reasons_are_trimmed_and_checked() {
        assert_eq!(reason("  Wrong tariff ").unwrap(), "Wrong tariff");
        assert!(reason("  ").is_err());
        assert!(reason("a\nb").is_err());
        assert!(reason(&"x".repeat(201)).is_err());
        assert_eq!(number("CN", 7), "CN000007");
    }
}
