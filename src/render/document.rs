//! From an issued invoice (domain values) to the values the PDF prints.

use super::invoice_pdf::{
    AllowanceLine, CallLine, ChargeLine, CompanyHeader, CustomerAddress, InvoiceDoc,
    InvoiceSummary, SummaryLine, UsageSummary, money_text,
};
use crate::domain::allowance::AllowanceUse;
use crate::domain::calendar::{self, Calendar};
use crate::domain::invoice::{self, Call, Issued, IssuedLine, PaymentTerms, UsageGroup};
use crate::domain::invoice::{usage_description, usage_quantity};
pub use crate::domain::itemised::call_quantity;
use crate::domain::money::from_minor;
use rust_decimal::Decimal;

/// Settings printed on every invoice.
#[derive(Debug, Clone)]
pub struct Letterhead {
    pub company: CompanyHeader,
    pub tax_name: String,
    pub tax_rate: Decimal,
    /// The Direct Debit calendar (`dd.format`, `dd.holidays`): the advance
    /// notice states the debit date it gives; `None` states the due date.
    pub debit_calendar: Option<Calendar>,
}

impl Letterhead {
    /// `company.address` may separate lines with newlines or commas.
    pub fn new(
        name: &str,
        address: &str,
        email: &str,
        tax_id: &str,
        tax_name: &str,
        tax_rate: Decimal,
    ) -> Letterhead {
        let sep = ['\n', '|']
            .into_iter()
            .find(|c| address.contains(*c))
            .unwrap_or(',');
        Letterhead {
            company: CompanyHeader {
                name: name.to_owned(),
                address: address
                    .split(sep)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                email: email.to_owned(),
                tax_id: tax_id.to_owned(),
            },
            tax_name: tax_name.to_owned(),
            tax_rate,
            debit_calendar: None,
        }
    }
}

pub fn currency_symbol(currency: &str) -> &'static str {
    match currency {
        "GBP" => "£",
        "EUR" => "€",
        "AUD" | "USD" | "NZD" | "CAD" => "$",
        _ => "",
    }
}

/// How the invoice will be paid: `invoice::payment_sentence` (the email
/// says the same), amounts as the PDF prints them.
pub fn payment_text(head: &Letterhead, inv: &Issued) -> String {
    let sym = currency_symbol(&inv.currency);
    let debit_date = head
        .debit_calendar
        .as_ref()
        .filter(|_| inv.payment_method == "direct_debit")
        .map(|c| calendar::debit_date(c, inv.due_date));
    invoice::payment_sentence(
        &PaymentTerms {
            number: &inv.number,
            payment_method: &inv.payment_method,
            cutoff_date: inv.cutoff_date,
            due_date: inv.due_date,
            debit_date,
            amount_due_minor: inv.amount_due_minor,
            received_since_minor: inv.received_since_minor,
            to_collect_minor: inv.to_collect_minor,
        },
        &|m| money_text(sym, from_minor(m)),
    )
}

pub fn document(
    head: &Letterhead,
    inv: &Issued,
    lines: &[IssuedLine],
    calls: &[Call],
    allowances: &[AllowanceUse],
) -> InvoiceDoc {
    let pct = (head.tax_rate * Decimal::ONE_HUNDRED).normalize();
    InvoiceDoc {
        company: head.company.clone(),
        currency_symbol: currency_symbol(&inv.currency).to_owned(),
        number: inv.number.clone(),
        invoice_date: inv.invoice_date,
        due_date: inv.due_date,
        customer: CustomerAddress {
            account: inv.account.clone(),
            name: inv.name.clone(),
            address: inv.address.clone(),
            postcode: inv.postcode.clone(),
        },
        summary: InvoiceSummary {
            opening_balance: from_minor(inv.opening_balance_minor),
            payments: from_minor(inv.payments_minor),
            credits: from_minor(inv.credits_minor),
            charges_ex_tax: from_minor(inv.charges_ex_tax_minor),
            tax: from_minor(inv.tax_minor),
            tax_name: head.tax_name.clone(),
            tax_rate_label: format!("{pct}%"),
            total_charges: from_minor(inv.total_charges_minor),
            amount_due: from_minor(inv.amount_due_minor),
        },
        lines: lines
            .iter()
            .map(|l| ChargeLine {
                service: l.service.clone().unwrap_or_else(|| "Account".into()),
                category: l.category.clone(),
                description: l.description.clone(),
                quantity: l.quantity.clone(),
                amount: from_minor(l.amount_minor),
            })
            .collect(),
        calls: calls
            .iter()
            .map(|c| CallLine {
                service: c.service.clone(),
                start: c.start,
                destination: c.destination.clone(),
                description: c.description.clone(),
                duration_or_quantity: call_quantity(c),
                amount: from_minor(c.charge_minor),
            })
            .collect(),
        allowances: allowances.iter().map(allowance_line).collect(),
        payment_text: payment_text(head, inv),
        message: Some(inv.message.clone()).filter(|m| !m.is_empty()),
    }
}

/// An allowance as the PDF prints it: under its service, or under its
/// pool's services marked "(pooled)".
pub fn allowance_line(a: &AllowanceUse) -> AllowanceLine {
    let services = a.services.join(", ");
    AllowanceLine {
        holder: if a.pooled {
            format!("{services} (pooled)")
        } else {
            services
        },
        name: format!("{} ({})", a.name, a.unit),
        included: a.included.clone(),
        used: a.used.clone(),
        remaining: a.remaining.clone(),
    }
}

/// The usage summary printed instead of the itemised calls, from the
/// invoice's calls grouped as its usage lines are, and the note naming the
/// file that has them.
pub fn usage_summary(groups: &[UsageGroup], note: String) -> UsageSummary {
    UsageSummary {
        lines: groups
            .iter()
            .map(|g| SummaryLine {
                service: g.service.clone(),
                description: usage_description(&g.call_type, &g.description),
                count: g.count,
                quantity: usage_quantity(&g.call_type, g.count, g.units),
                amount: from_minor(g.amount_minor),
            })
            .collect(),
        note,
    }
}

/// A credit note's document values.
pub fn credit_document(
    head: &Letterhead,
    c: &crate::domain::credit::Issued,
) -> super::invoice_pdf::CreditNoteDoc {
    let sym = currency_symbol(&c.currency);
    let pct = (c.rate * Decimal::ONE_HUNDRED).normalize();
    let total = money_text(sym, from_minor(c.total_minor));
    super::invoice_pdf::CreditNoteDoc {
        base: InvoiceDoc {
            company: head.company.clone(),
            currency_symbol: sym.to_owned(),
            number: c.number.clone(),
            invoice_date: c.credit_date,
            due_date: c.credit_date,
            customer: CustomerAddress {
                account: c.account.clone(),
                name: c.name.clone(),
                address: c.address.clone(),
                postcode: c.postcode.clone(),
            },
            allowances: Vec::new(),
            summary: InvoiceSummary {
                opening_balance: Decimal::ZERO,
                payments: Decimal::ZERO,
                credits: Decimal::ZERO,
                charges_ex_tax: from_minor(c.ex_tax_minor),
                tax: from_minor(c.tax_minor),
                tax_name: head.tax_name.clone(),
                tax_rate_label: format!("{pct}%"),
                total_charges: from_minor(c.total_minor),
                amount_due: Decimal::ZERO,
            },
            lines: c
                .lines
                .iter()
                .map(|(service, description, quantity, amount)| ChargeLine {
                    service: service.clone().unwrap_or_else(|| "Account".into()),
                    category: String::new(),
                    description: description.clone(),
                    quantity: quantity.clone(),
                    amount: from_minor(*amount),
                })
                .collect(),
            calls: Vec::new(),
            payment_text: crate::domain::credit::effect_text(&total, &c.invoice, &c.payment_method),
            message: None,
        },
        invoice_number: c.invoice.clone(),
        invoice_date: c.invoice_date,
        reason: c.reason.clone(),
    }
}
