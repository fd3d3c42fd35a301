//! Runs with invoices for the delivery tests: [`produced_run`] through real
//! production; [`completed_run`] / [`add_invoices`] seed invoices directly in
//! the test database, for cases production cannot make from the fixtures
//! (zero and negative invoices need `charge add`, not built yet; an invoice
//! added to a run after its Xero export).
//!
//! The direct seeding writes what production leaves behind per the schema:
//! an `invoices` row with delivery and payment method copied from the
//! customer, its `invoice_lines`, a PDF rendered by `render::invoice_pdf`
//! with `pdf_path` set, and the run `completed`.
#![allow(dead_code)]

use super::{Env, db};
use billrun::render::invoice_pdf::{
    ChargeLine, CompanyHeader, CustomerAddress, Fonts, InvoiceDoc, InvoiceSummary, render_invoice,
};
use chrono::NaiveDate;
use rusqlite::params;
use rust_decimal::Decimal;
use std::path::PathBuf;

/// One seeded invoice.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub id: i64,
    pub number: String,
    pub account: String,
    pub pdf: PathBuf,
}

/// One invoice to seed: the account and its new charges including tax, in
/// minor units (tax is a sixth of a positive total, as at 20 % VAT).
pub struct Spec<'a> {
    pub account: &'a str,
    pub total_minor: i64,
}

/// Create run `2026-11` (through the CLI), add the invoices with PDFs under
/// `pdfs/`, and mark the run completed. Numbers are `NFV-10001`, … in order.
pub fn completed_run(env: &Env, specs: &[Spec<'_>]) -> Vec<Seeded> {
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let run_id: i64 = rusqlite::Connection::open(&env.db)
        .unwrap()
        .query_row("SELECT MAX(id) FROM runs", [], |r| r.get(0))
        .unwrap();
    let out = add_invoices(env, run_id, specs);
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .execute(
            "UPDATE runs SET status = 'completed', completed_at = '2026-12-01T00:00:00Z' WHERE id = ?1",
            [run_id],
        )
        .unwrap();
    out
}

/// Add invoices (numbered after the highest so far) to run `run_id`.
pub fn add_invoices(env: &Env, run_id: i64, specs: &[Spec<'_>]) -> Vec<Seeded> {
    let conn = db(env);
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    let next: i64 = conn
        .query_row(
            "SELECT COALESCE(MAX(seq), 10000) + 1 FROM invoices",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let dir = env.path("pdfs");
    std::fs::create_dir_all(&dir).unwrap();
    let fonts = Fonts::shared().unwrap();
    let mut out = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let seq = next + i as i64;
        let number = format!("NFV-{seq}");
        let (tax, ex_tax) = if s.total_minor > 0 {
            (s.total_minor / 6, s.total_minor - s.total_minor / 6)
        } else {
            (0, s.total_minor)
        };
        let fixed = ex_tax / 2;
        let usage = ex_tax - fixed;
        let (name, a1, town, postcode): (String, Option<String>, Option<String>, Option<String>) =
            conn.query_row(
                "SELECT name, address1, town, postcode FROM customers WHERE account = ?1",
                [s.account],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        let d = |m: i64| Decimal::new(m, 2);
        let doc = InvoiceDoc {
            company: CompanyHeader {
                name: "Northern Fibre & Voice Ltd".into(),
                address: vec!["Leeds".into()],
                email: "billing@nfv.example".into(),
                tax_id: String::new(),
            },
            currency_symbol: "£".into(),
            number: number.clone(),
            invoice_date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            due_date: NaiveDate::from_ymd_opt(2026, 12, 15).unwrap(),
            customer: CustomerAddress {
                account: s.account.into(),
                name: name.clone(),
                address: [a1, town].into_iter().flatten().collect(),
                postcode: postcode.unwrap_or_default(),
            },
            summary: InvoiceSummary {
                opening_balance: Decimal::ZERO,
                payments: Decimal::ZERO,
                credits: Decimal::ZERO,
                charges_ex_tax: d(ex_tax),
                tax: d(tax),
                tax_name: "VAT".into(),
                tax_rate_label: "20%".into(),
                total_charges: d(s.total_minor),
                amount_due: d(s.total_minor),
            },
            lines: vec![
                ChargeLine {
                    service: "441130000001".into(),
                    category: "fixed".into(),
                    description: "Business Fibre monthly fee".into(),
                    quantity: "1".into(),
                    amount: d(fixed),
                },
                ChargeLine {
                    service: "441130000001".into(),
                    category: "usage".into(),
                    description: "Calls to UK mobiles".into(),
                    quantity: "12 calls".into(),
                    amount: d(usage),
                },
            ],
            calls: Vec::new(),
            allowances: Vec::new(),
            payment_text: "Amount due will be collected by Direct Debit on 15 Dec 2026".into(),
            message: None,
        };
        let pdf = dir.join(format!("{number}.pdf"));
        std::fs::write(&pdf, render_invoice(&doc, fonts).unwrap()).unwrap();
        conn.execute(
            "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date,
                cutoff_date, currency, opening_balance_minor, payments_minor,
                charges_ex_tax_minor, tax_minor, total_charges_minor, amount_due_minor,
                message, delivery, payment_method, pdf_path, created_at)
             SELECT ?1, ?2, ?3, account, '2026-12-01', '2026-12-15', '2026-11-30', 'GBP', 0, 0,
                ?4, ?5, ?6, ?6, 'Thank you for your business.', delivery, payment_method, ?7,
                '2026-12-01T00:00:00Z'
             FROM customers WHERE account = ?8",
            params![
                run_id,
                number,
                seq,
                ex_tax,
                tax,
                s.total_minor,
                pdf.display().to_string(),
                s.account
            ],
        )
        .unwrap();
        let id = conn.last_insert_rowid();
        for (pos, (cat, desc, amount)) in [
            ("fixed", "Business Fibre monthly fee", fixed),
            ("usage", "Calls to UK mobiles", usage),
        ]
        .into_iter()
        .enumerate()
        {
            conn.execute(
                "INSERT INTO invoice_lines (invoice_id, position, category, service,
                    description, quantity, amount_minor)
                 VALUES (?1, ?2, ?3, '441130000001', ?4, '1', ?5)",
                params![id, pos as i64 + 1, cat, desc, amount],
            )
            .unwrap();
        }
        out.push(Seeded {
            id,
            number,
            account: s.account.into(),
            pdf,
        });
    }
    out
}

/// A whole run through production, as an operator does it: (the reference
/// data already imported) `new`, then `request 1 --expert` produces every
/// invoice with its PDF. Returns `invoices 1 --json`.
pub fn produced_run(env: &Env) -> Vec<serde_json::Value> {
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    env.ok(&["request", "1", "--expert", "--yes"]);
    env.json(&["invoices", "1"]).as_array().unwrap().clone()
}
