//! The Xero sales-invoice import file (`billrun xero export`): Xero's CSV
//! template, one row per invoice line. Pure: invoices in, CSV bytes out.
//!
//! Decisions (README "Xero export"):
//! - one row per invoice line, `*Quantity` 1 and `*UnitAmount` the line's
//!   amount ex-tax, so Xero's line totals equal ours;
//! - `*TaxType` is `xero.tax_type` for taxable lines of a taxed invoice, and
//!   `xero.exempt_tax_type` for untaxed lines and tax-exempt customers;
//! - the invoice total Xero sees is the new charges (`total_charges`), not the
//!   amount due (the opening balance and payments are already in Xero);
//!   an invoice whose new charges are zero or negative is left out (Xero
//!   refuses them) and listed;
//! - `Reference` is the customer's account, `POCountry` is left empty;
//! - at most [`MAX_INVOICES_PER_FILE`] invoices per file (an invoice's rows
//!   never straddle two files).

use crate::domain::csvfile::safe_cell;
use crate::domain::money;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use std::path::{Path, PathBuf};

/// Xero's sales-invoice CSV template, in order.
pub const HEADER: [&str; 27] = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
];

/// Xero imports at most this many invoices from one file.
pub const MAX_INVOICES_PER_FILE: usize = 500;

/// One invoice line as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub service: Option<String>,
    pub description: String,
    /// Amount ex-tax.
    pub amount: Decimal,
    pub taxable: bool,
}

/// One invoice with what the template needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Invoice {
    pub id: i64,
    pub number: String,
    pub account: String,
    pub contact_name: String,
    pub email: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub town: Option<String>,
    pub region: Option<String>,
    pub postcode: Option<String>,
    pub invoice_date: NaiveDate,
    pub due_date: NaiveDate,
    pub currency: String,
    /// New charges including tax.
    pub total_charges: Decimal,
    /// Tax on the invoice (0 for a tax-exempt customer).
    pub tax: Decimal,
    pub lines: Vec<Line>,
}

/// Account and tax codes (settings `xero.account_code`, `xero.tax_type`,
/// `xero.exempt_tax_type`).
#[derive(Debug, Clone)]
pub struct Codes {
    pub account_code: String,
    pub tax_type: String,
    pub exempt_tax_type: String,
}

/// Why an invoice is left out of the export.
#[derive(Debug, Clone, PartialEq)]
pub struct Excluded {
    pub number: String,
    pub account: String,
    pub total_charges: Decimal,
    pub reason: String,
}

/// Split into exportable invoices and those Xero would refuse (zero or
/// negative new charges, or no lines at all).
pub fn partition(invoices: Vec<Invoice>) -> (Vec<Invoice>, Vec<Excluded>) {
    let mut ok = Vec::new();
    let mut out = Vec::new();
    for inv in invoices {
        let reason = if inv.total_charges.is_zero() {
            Some("zero invoice: Xero refuses invoices with a zero total")
        } else if inv.total_charges.is_sign_negative() {
            Some("negative invoice (a credit): Xero refuses it; enter a credit note in Xero")
        } else if inv.lines.is_empty() {
            Some("no invoice lines")
        } else {
            None
        };
        match reason {
            Some(r) => out.push(Excluded {
                number: inv.number.clone(),
                account: inv.account.clone(),
                total_charges: inv.total_charges,
                reason: r.to_string(),
            }),
            None => ok.push(inv),
        }
    }
    (ok, out)
}

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// A line's description as Xero shows it: the service in front, "Charges"
/// for an empty one.
pub fn line_description(l: &Line) -> String {
    match &l.service {
        Some(s) if !s.is_empty() && !l.description.contains(s.as_str()) => {
            format!("{s}: {}", l.description)
        }
        _ if l.description.trim().is_empty() => "Charges".to_string(),
        _ => l.description.clone(),
    }
}

/// The template rows of one invoice, one per line.
pub fn rows(inv: &Invoice, codes: &Codes) -> Vec<Vec<String>> {
    let taxed = !inv.tax.is_zero();
    inv.lines
        .iter()
        .map(|l| {
            let tax_type = if taxed && l.taxable {
                &codes.tax_type
            } else {
                &codes.exempt_tax_type
            };
            let doc = Doc {
                number: &inv.number,
                reference: &inv.account,
                date: inv.invoice_date,
                due: Some(inv.due_date),
            };
            template_row(inv, &doc, &line_description(l), l.amount, tax_type, codes)
        })
        .collect()
}

/// What differs between an invoice's row and a credit note's.
struct Doc<'a> {
    number: &'a str,
    /// The invoice template's `Reference` (the account); a credit note's is
    /// the invoice it credits.
    reference: &'a str,
    date: NaiveDate,
    /// `*DueDate`: invoices only (the credit-note template has no such column).
    due: Option<NaiveDate>,
}

/// One row of Xero's sales template (invoice or credit note). Text cells
/// are made safe for spreadsheets (a contact name `=HYPERLINK(…)` must not
/// become a formula when the file is opened before it is uploaded); dates
/// and figures as they are.
fn template_row(
    inv: &Invoice,
    doc: &Doc<'_>,
    description: &str,
    amount: Decimal,
    tax_type: &str,
    codes: &Codes,
) -> Vec<String> {
    let t = |s: &str| safe_cell(s).into_owned();
    let mut row = vec![
        t(&inv.contact_name),
        t(&opt(&inv.email)),
        t(&opt(&inv.address1)),
        t(&opt(&inv.address2)),
        String::new(),
        String::new(),
        t(&opt(&inv.town)),
        t(&opt(&inv.region)),
        t(&opt(&inv.postcode)),
        String::new(),
        t(doc.number),
        t(doc.reference),
        date(doc.date),
    ];
    if let Some(due) = doc.due {
        row.push(date(due));
    }
    row.extend([
        String::new(),
        t(description),
        "1".to_string(),
        money::fmt(amount),
        String::new(),
        t(&codes.account_code),
        t(tax_type),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        t(&inv.currency),
        String::new(),
    ]);
    row
}

/// A template file's CSV bytes (CRLF, as Xero's own templates): the header,
/// then the rows.
fn write_csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(header).expect("writing to memory");
    for r in rows {
        w.write_record(&r).expect("writing to memory");
    }
    w.into_inner().expect("writing to memory")
}

/// One file's CSV bytes: the header, then every invoice's rows.
pub fn csv(invoices: &[Invoice], codes: &Codes) -> Vec<u8> {
    write_csv(&HEADER, invoices.iter().flat_map(|inv| rows(inv, codes)))
}

/// The file names for `parts` files: `out` itself when one file is enough,
/// else `STEM-1.EXT`, `STEM-2.EXT`, … beside it (`xero.csv` → `xero-1.csv`).
pub fn file_names(out: &Path, parts: usize) -> Vec<PathBuf> {
    if parts <= 1 {
        return vec![out.to_path_buf()];
    }
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "xero".into());
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (1..=parts)
        .map(|i| out.with_file_name(format!("{stem}-{i}{ext}")))
        .collect()
}

/// Xero's credit-note import template (Business › Invoices › Credit notes ›
/// Import): the sales-invoice template with `*CreditNoteNumber` and
/// `*CreditNoteDate` in place of the invoice number and date, and no due
/// date. Amounts are positive: Xero books a credit note as a credit.
pub const CREDIT_HEADER: [&str; 26] = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*CreditNoteNumber",
    "Reference",
    "*CreditNoteDate",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
];

/// One credit note as exported: the customer as on invoices, its lines
/// (ex tax, positive), `Reference` the invoice it credits.
#[derive(Debug, Clone, PartialEq)]
pub struct CreditNote {
    pub id: i64,
    pub number: String,
    /// The invoice credited.
    pub invoice: String,
    pub contact: Invoice,
    pub date: NaiveDate,
    /// Tax on the credit note (0: exempt tax type).
    pub tax: Decimal,
}

/// The template rows of one credit note, one per line (`contact.lines`).
pub fn credit_rows(c: &CreditNote, codes: &Codes) -> Vec<Vec<String>> {
    let taxed = !c.tax.is_zero();
    let inv = &c.contact;
    inv.lines
        .iter()
        .map(|l| {
            let description = match &l.service {
                Some(s) if !s.is_empty() && !l.description.contains(s.as_str()) => {
                    format!("{s}: {}", l.description)
                }
                _ if l.description.trim().is_empty() => "Credit".to_string(),
                _ => l.description.clone(),
            };
            let tax_type = if taxed {
                &codes.tax_type
            } else {
                &codes.exempt_tax_type
            };
            let doc = Doc {
                number: &c.number,
                reference: &c.invoice,
                date: c.date,
                due: None,
            };
            template_row(inv, &doc, &description, l.amount, tax_type, codes)
        })
        .collect()
}

/// The credit notes' CSV bytes: the header, then every credit note's rows.
pub fn credit_csv(notes: &[CreditNote], codes: &Codes) -> Vec<u8> {
    write_csv(
        &CREDIT_HEADER,
        notes.iter().flat_map(|c| credit_rows(c, codes)),
    )
}

/// The credit notes' file beside `out`: `STEM-credit-notes.EXT`.
pub fn credit_file_name(out: &Path) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "xero".into());
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    out.with_file_name(format!("{stem}-credit-notes{ext}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn codes() -> Codes {
        Codes {
            account_code: "200".into(),
            tax_type: "OUTPUT2".into(),
            exempt_tax_type: "NONE".into(),
        }
    }

    fn inv(number: &str, total: Decimal, tax: Decimal) -> Invoice {
        Invoice {
            id: 1,
            number: number.into(),
            account: "C1".into(),
            contact_name: "Kiln & Co, Architects".into(),
            email: Some("kiln@example.com".into()),
            address1: Some("16 Church Lane".into()),
            address2: None,
            town: Some("Manchester".into()),
            region: Some("Greater Manchester".into()),
            postcode: Some("M1 2WD".into()),
            invoice_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            currency: "GBP".into(),
            total_charges: total,
            tax,
            lines: vec![
                Line {
                    service: Some("441130000001".into()),
                    description: "Business Fibre monthly fee".into(),
                    amount: dec!(30),
                    taxable: true,
                },
                Line {
                    service: None,
                    description: "Goodwill credit".into(),
                    amount: dec!(-5.5),
                    taxable: false,
                },
            ],
        }
    }

    #[test]
    fn rows_follow_the_template_column_by_column() {
        let r = rows(&inv("NFV-1", dec!(36), dec!(6)), &codes());
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].len(), HEADER.len());
        let col = |i: usize, name: &str| {
            let k = HEADER.iter().position(|h| *h == name).unwrap();
            r[i][k].clone()
        };
        assert_eq!(col(0, "*ContactName"), "Kiln & Co, Architects");
        assert_eq!(col(0, "EmailAddress"), "kiln@example.com");
        assert_eq!(col(0, "POAddressLine1"), "16 Church Lane");
        assert_eq!(col(0, "POAddressLine2"), "");
        assert_eq!(col(0, "POCity"), "Manchester");
        assert_eq!(col(0, "PORegion"), "Greater Manchester");
        assert_eq!(col(0, "POPostalCode"), "M1 2WD");
        assert_eq!(col(0, "*InvoiceNumber"), "NFV-1");
        assert_eq!(col(0, "Reference"), "C1");
        assert_eq!(col(0, "*InvoiceDate"), "01/12/2026");
        assert_eq!(col(0, "*DueDate"), "15/12/2026");
        assert_eq!(
            col(0, "*Description"),
            "441130000001: Business Fibre monthly fee"
        );
        assert_eq!(col(0, "*Quantity"), "1");
        assert_eq!(col(0, "*UnitAmount"), "30.00");
        assert_eq!(col(1, "*UnitAmount"), "-5.50");
        assert_eq!(col(0, "*AccountCode"), "200");
        assert_eq!(col(0, "*TaxType"), "OUTPUT2");
        assert_eq!(col(1, "*TaxType"), "NONE", "untaxed line");
        assert_eq!(col(0, "Currency"), "GBP");
        assert_eq!(col(0, "BrandingTheme"), "");
    }

    #[test]
    fn formula_like_text_is_neutralised_but_amounts_are_not() {
        let mut i = inv("NFV-1", dec!(36), dec!(6));
        i.contact_name = "=HYPERLINK(\"http://x\",\"y\")".into();
        i.town = Some("@SUM(A1)".into());
        i.lines[1].description = "-credit".into();
        let r = rows(&i, &codes());
        assert_eq!(r[0][0], "'=HYPERLINK(\"http://x\",\"y\")");
        assert_eq!(r[0][6], "'@SUM(A1)");
        assert_eq!(r[1][15], "'-credit");
        assert_eq!(r[1][17], "-5.50", "a genuine number stays a number");
    }

    #[test]
    fn tax_exempt_invoice_uses_the_exempt_tax_type() {
        let r = rows(&inv("NFV-1", dec!(24.5), dec!(0)), &codes());
        assert!(r.iter().all(|row| row[20] == "NONE"));
    }

    #[test]
    fn zero_and_negative_invoices_are_left_out() {
        let (ok, out) = partition(vec![
            inv("A", dec!(10), dec!(1)),
            inv("B", dec!(0), dec!(0)),
            inv("C", dec!(-3), dec!(0)),
        ]);
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].number, "A");
        let n: Vec<_> = out.iter().map(|e| e.number.as_str()).collect();
        assert_eq!(n, ["B", "C"]);
        assert!(out[0].reason.contains("zero"));
        assert!(out[1].reason.contains("negative"));
    }

    #[test]
    fn csv_has_the_header_and_quotes_commas() {
        let bytes = csv(&[inv("NFV-1", dec!(36), dec!(6))], &codes());
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next().unwrap(), HEADER.join(","));
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("\"Kiln & Co, Architects\",")
        );
    }

    #[test]
    fn file_names_split_with_a_numbered_suffix() {
        let p = Path::new("/tmp/out/xero.csv");
        assert_eq!(file_names(p, 1), vec![PathBuf::from("/tmp/out/xero.csv")]);
        assert_eq!(
            file_names(p, 3),
            vec![
                PathBuf::from("/tmp/out/xero-1.csv"),
                PathBuf::from("/tmp/out/xero-2.csv"),
                PathBuf::from("/tmp/out/xero-3.csv"),
            ]
        );
        assert_eq!(
            file_names(Path::new("export"), 2),
            vec![PathBuf::from("export-1"), PathBuf::from("export-2")]
        );
    }
}
