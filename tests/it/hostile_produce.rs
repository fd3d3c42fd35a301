//! Issue 15, production and the invoice maths, through the real binary:
//! - item 4: amounts beyond `money::MAX_AMOUNT` are refused by every
//!   importer and flag (exit 4, file:line:column); absurd values planted in
//!   the database (bypassing the imports) make `prebill` and `request` fail
//!   cleanly — no panic, no locked run, no invoice, no number used;
//! - item 5: the invoice, the email and the amount collected agree when a
//!   payment arrives after the cutoff but before production; collection
//!   never takes more than the invoice stated, and says when it takes less;
//!   no `-£0.00` anywhere.

use crate::support::Env;
use mail_parser::MessageParser;
use rusqlite::OptionalExtension;
use serde_json::Value;

const HUGE: &str = "99999999999999999999999999.99";

fn data(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/billing")
        .join(name)
        .display()
        .to_string()
}

fn db(e: &Env) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(&e.db).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c
}

fn sql(e: &Env, statement: &str) {
    db(e).execute_batch(statement).unwrap();
}

/// Run with args; assert it failed cleanly (not a panic: exit 101) with
/// `code`; return stderr.
fn fails_cleanly(e: &Env, code: i32, args: &[&str]) -> String {
    let out = e.cmd().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_ne!(
        out.status.code(),
        Some(101),
        "billrun {args:?} panicked:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(code), "billrun {args:?}:\n{stderr}");
    stderr
}

/// init, DD (Bacs 18) and company settings, and tests/data/billing: A1
/// (Direct Debit, email) owes 18.00 for 16–30 Nov; A3 (card, email and
/// print, tax exempt) 15.00 for 1–10 Nov.
fn setup() -> Env {
    let e = Env::new();
    e.ok(&["init"]);
    for (k, v) in [
        ("company.name", "Test Telecom"),
        ("invoice.prefix", "T-"),
        ("invoice.next_number", "1"),
        ("dd.format", "bacs18"),
        ("dd.sun", "123456"),
        ("dd.sort_code", "40-12-34"),
        ("dd.account", "12345678"),
        ("dd.name", "TEST TELECOM"),
        ("smtp.from", "billing@test.example"),
    ] {
        e.ok(&["config", "set", k, v]);
    }
    for (what, file) in [
        ("tariffs", "tariffs.csv"),
        ("plans", "plans.csv"),
        ("customers", "customers.csv"),
        ("services", "services.csv"),
    ] {
        e.ok(&[what, "import", &data(file)]);
    }
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e
}

fn pay(e: &Env, account: &str, amount: &str, date: &str, reference: &str) {
    e.ok(&[
        "payments",
        "add",
        "--account",
        account,
        "--amount",
        amount,
        "--date",
        date,
        "--method",
        "bank_transfer",
        "--reference",
        reference,
    ]);
}

fn pdftotext(path: &str) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path, "-"])
        .output()
        .expect("pdftotext (poppler-utils) is needed: apt-get install poppler-utils");
    assert!(out.status.success(), "pdftotext rejected {path}");
    String::from_utf8(out.stdout).unwrap()
}

/// Words joined by single spaces (a sentence may wrap in the PDF).
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn by_account<'a>(invoices: &'a Value, account: &str) -> &'a Value {
    invoices
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == account)
        .unwrap_or_else(|| panic!("no invoice for {account}: {invoices}"))
}

fn email_text(e: &Env, number: &str) -> String {
    let eml = std::fs::read(e.path("outbox").join(format!("{number}.eml"))).unwrap();
    let p = MessageParser::default().parse(&eml).unwrap();
    words(&p.body_text(0).unwrap())
}

// ------------------------------------------------------------------ item 5

#[test]
fn invoice_email_and_collection_state_the_same_amount_after_a_payment_since_the_cutoff() {
    let e = setup();
    // A1: 5.00 on the cutoff (on the invoice), 10.00 after it, before
    // production (not on the invoice's balance, but not collected again).
    pay(&e, "A1", "5.00", "2026-11-30", "FPS A1 NOV");
    pay(&e, "A1", "10.00", "2026-12-01", "FPS A1 DEC");
    // A3: 6.00 after the cutoff.
    pay(&e, "A3", "6.00", "2026-12-01", "FPS A3 DEC");
    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-11"]);

    // A1: 18.00 − 5.00 = 13.00 due at the cutoff; 10.00 received since: 3.00.
    let a1 = by_account(&inv, "A1");
    assert_eq!(a1["amount_due"], "13.00", "{a1}");
    let pdf = words(&pdftotext(a1["pdf"].as_str().unwrap()));
    assert!(pdf.contains("£13.00"), "{pdf}");
    assert!(
        pdf.contains(
            "Received since 30 November 2026: £10.00, thank you. \
             £3.00 will be collected by Direct Debit on 15 December 2026."
        ),
        "{pdf}"
    );
    // A3: 15.00 due, 6.00 received since: 9.00 charged.
    let a3 = by_account(&inv, "A3");
    assert_eq!(a3["amount_due"], "15.00", "{a3}");
    let pdf3 = words(&pdftotext(a3["pdf"].as_str().unwrap()));
    assert!(
        pdf3.contains("£9.00 will be charged to your card on file on 15 December 2026."),
        "{pdf3}"
    );
    // No payment on the invoice: £0.00, never -£0.00.
    assert!(
        pdf3.contains("Payments received, thank you £0.00"),
        "{pdf3}"
    );
    assert!(!pdf3.contains("-£0.00"), "{pdf3}");

    // The emails say the same.
    e.ok(&["email", "2026-11", "--dry-run", "outbox"]);
    let n1 = a1["number"].as_str().unwrap();
    let n3 = a3["number"].as_str().unwrap();
    let m1 = email_text(&e, n1);
    assert!(m1.contains("Amount due: £13.00"), "{m1}");
    assert!(
        m1.contains("£3.00 will be collected by Direct Debit on 15 December 2026."),
        "{m1}"
    );
    let m3 = email_text(&e, n3);
    assert!(
        m3.contains("£9.00 will be charged to your card on file on 15 December 2026."),
        "{m3}"
    );

    // And collection takes exactly that.
    let dd = e.json(&[
        "collect",
        "dd",
        "2026-11",
        "--out",
        e.path("dd.txt").to_str().unwrap(),
    ]);
    assert_eq!(dd["total"], "3.00", "{dd}");
    assert_eq!(dd["included"], serde_json::json!([n1]), "{dd}");
    assert_eq!(dd["collected_less"], serde_json::json!([]), "{dd}");
    let dd_file = std::fs::read_to_string(e.path("dd.txt")).unwrap();
    assert!(
        dd_file.contains("00000000300"),
        "the Bacs record carries 300 pence:\n{dd_file}"
    );
    let batch = e.path("cards.csv");
    let card = e.json(&[
        "collect",
        "card",
        "2026-11",
        "--out",
        batch.to_str().unwrap(),
    ]);
    assert_eq!(card["total"], "9.00", "{card}");
    assert_eq!(
        std::fs::read_to_string(&batch).unwrap(),
        format!("reference,account,card_token,amount_minor,currency\n{n3},A3,pm_cat,900,GBP\n")
    );
}

#[test]
fn collection_never_takes_more_than_stated_and_says_when_it_takes_less() {
    let e = setup();
    pay(&e, "A1", "10.00", "2026-12-01", "FPS A1 DEC");
    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-11"]);
    let n1 = by_account(&inv, "A1")["number"]
        .as_str()
        .unwrap()
        .to_string();
    // Stated: 18.00 − 10.00 = 8.00. A payment arrives after production.
    pay(&e, "A1", "2.50", "2026-12-05", "FPS A1 DEC 2");
    let dd = e.json(&[
        "collect",
        "dd",
        "2026-11",
        "--out",
        e.path("dd.txt").to_str().unwrap(),
    ]);
    assert_eq!(dd["total"], "5.50", "{dd}");
    assert_eq!(
        dd["collected_less"],
        serde_json::json!([{"invoice": n1, "stated": "8.00", "collecting": "5.50"}]),
        "{dd}"
    );
    // In words too.
    let e2 = setup();
    pay(&e2, "A1", "10.00", "2026-12-01", "FPS A1 DEC");
    e2.ok(&["request", "2026-11", "--expert", "--yes"]);
    pay(&e2, "A1", "2.50", "2026-12-05", "FPS A1 DEC 2");
    let out = e2.ok(&[
        "collect",
        "dd",
        "2026-11",
        "--out",
        e2.path("dd.txt").to_str().unwrap(),
    ]);
    assert!(
        out.contains("collecting 5.50 of the 8.00 the invoice stated"),
        "{out}"
    );

    // A payment reversed after production (a negative unallocated payment)
    // raises what is outstanding, but collection still takes no more than
    // the invoice stated.
    let e3 = setup();
    pay(&e3, "A1", "10.00", "2026-12-01", "FPS A1 DEC");
    e3.ok(&["request", "2026-11", "--expert", "--yes"]);
    sql(
        &e3,
        "INSERT INTO payments (account, date, amount_minor, method, reference, source, imported_at)
         VALUES ('A1', '2026-12-03', -10000, 'bank_transfer', 'RECALL', 'manual', 'x')",
    );
    let dd = e3.json(&[
        "collect",
        "dd",
        "2026-11",
        "--out",
        e3.path("dd.txt").to_str().unwrap(),
    ]);
    assert_eq!(dd["total"], "8.00", "{dd}");
}

// ------------------------------------------------------------------ item 4

#[test]
fn every_importer_and_flag_refuses_amounts_beyond_the_maximum_with_line_and_column() {
    let e = Env::new().with_reference_data();
    let cases: [(&str, String, Vec<&str>, &[&str]); 6] = [
        (
            "plans.csv",
            format!("plan,name,monthly_fee,tariff\nHUGE,Huge,{HUGE},STD\n"),
            vec!["plans", "import"],
            &["plans.csv:2:3: monthly_fee:"],
        ),
        (
            "customers.csv",
            format!(
                "account,name,delivery,payment_method,min_invoice\nX1,Xavier,print,manual,{HUGE}\n"
            ),
            vec!["customers", "import"],
            &["customers.csv:2:5: min_invoice:"],
        ),
        (
            "tariffs.csv",
            format!(
                "tariff,prefix,description,call_type,band,flagfall,rate,increment,minimum_charge,maximum_charge\n\
                 T9,44,UK,voice,all,{HUGE},{HUGE},60/60,{HUGE},{HUGE}\n"
            ),
            vec!["tariffs", "import"],
            &[
                "tariffs.csv:2:6: flagfall:",
                "tariffs.csv:2:7: rate:",
                "tariffs.csv:2:9: minimum_charge:",
                "tariffs.csv:2:10: maximum_charge:",
            ],
        ),
        (
            "payments.csv",
            format!("account,date,amount,method,reference\nC1001,2026-11-03,{HUGE},cash,R1\n"),
            vec!["payments", "import"],
            &["payments.csv:2:3: amount:"],
        ),
        (
            "xero.csv",
            format!("Date,Amount,Reference,Account Number\n2026-11-03,{HUGE},R1,C1001\n"),
            vec!["payments", "import", "--format", "xero"],
            &["xero.csv:2:2: amount:"],
        ),
        (
            "fees.csv",
            format!(
                "service,fee_code,description,amount,period_start,period_end\n\
                 01134960000,BIZ,Line,{HUGE},2026-11-01,2026-11-30\n"
            ),
            vec!["fees", "import", "--carrier", "openreach"],
            &["fees.csv:2:4: amount:"],
        ),
    ];
    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
    e.ok(&["carriers", "add", "openreach", "--format", "billrun"]);
    let before = e.snapshot();
    for (name, body, cmd, wants) in &cases {
        let f = e.write(name, body);
        let mut args = cmd.clone();
        args.insert(2, &f);
        let err = fails_cleanly(&e, 4, &args);
        for w in *wants {
            assert!(err.contains(w), "{name}: {w} missing:\n{err}");
        }
        assert!(err.contains("beyond the largest amount"), "{err}");
    }
    for args in [
        vec![
            "charge",
            "add",
            "--account",
            "C1001",
            "--amount",
            HUGE,
            "--description",
            "x",
        ],
        vec![
            "payments",
            "add",
            "--account",
            "C1001",
            "--amount",
            HUGE,
            "--date",
            "2026-11-03",
            "--method",
            "cash",
            "--reference",
            "R2",
        ],
    ] {
        let err = fails_cleanly(&e, 4, &args);
        assert!(err.contains("--amount:"), "{err}");
    }
    assert_eq!(before, e.snapshot(), "nothing was stored");
}

#[test]
fn a_cdr_costing_more_than_the_maximum_is_a_billing_error_not_a_charge() {
    let e = Env::new().with_reference_data();
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let f = e.write(
        "n.csv",
        &format!(
            "service,start,duration,destination,call_type,quantity,carrier_cost\n\
             01134960000,2026-11-03T10:00:00,60,441130000000,voice,,{HUGE}\n\
             07700900100,2026-11-03T10:00:00,0,internet,data,18000000000000000000,0\n"
        ),
    );
    let out = e
        .cmd()
        .args(["cdr", "import", &f, "--carrier", "northern"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    let rated: i64 = db(&e)
        .query_row("SELECT COUNT(*) FROM cdrs WHERE state = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rated, 0, "neither line is billed");
    let detail: String = db(&e)
        .query_row(
            "SELECT detail FROM billing_errors WHERE kind = 'no_rate'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        detail.contains("beyond the largest amount billed for one record"),
        "{detail}"
    );
    let malformed: String = db(&e)
        .query_row(
            "SELECT detail FROM billing_errors WHERE kind = 'malformed'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        malformed.contains("beyond the largest amount"),
        "{malformed}"
    );
}

fn next_number(e: &Env) -> Option<String> {
    db(e)
        .query_row(
            "SELECT value FROM settings WHERE key = 'invoice.next_number'",
            [],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
}

/// `prebill` and `request` on a run with an absurd stored value: a clean
/// error naming the culprit, the run as it was, no invoice, no number.
fn refused_cleanly(e: &Env, prebill_code: i32, needle: &str) {
    refused_cleanly_with(e, prebill_code, needle, needle);
}

fn refused_cleanly_with(e: &Env, prebill_code: i32, needle: &str, request_needle: &str) {
    let status = |e: &Env| -> String {
        db(e)
            .query_row("SELECT status FROM runs WHERE name = '2026-11'", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    let before = (status(e), next_number(e));
    let err = fails_cleanly(e, prebill_code, &["prebill", "2026-11"]);
    assert!(err.contains(needle), "{err}");
    let err = fails_cleanly(
        e,
        prebill_code,
        &["request", "2026-11", "--expert", "--yes"],
    );
    assert!(err.contains(request_needle), "{err}");
    assert_eq!((status(e), next_number(e)), before, "the run is not locked");
    let invoices: i64 = db(e)
        .query_row("SELECT COUNT(*) FROM invoices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(invoices, 0);
    let marked: i64 = db(e)
        .query_row(
            "SELECT (SELECT COUNT(*) FROM charges WHERE invoice_id IS NOT NULL)
                  + (SELECT COUNT(*) FROM payments WHERE invoice_id IS NOT NULL)
                  + (SELECT COUNT(*) FROM not_produced)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(marked, 0);
}

#[test]
fn absurd_charges_planted_in_the_database_refuse_prebill_and_request_cleanly() {
    // One-off charges that overflow when added up (with the plan fee).
    let e = setup();
    sql(
        &e,
        "INSERT INTO charges (account, date, description, amount_minor, created_at, created_by)
         VALUES ('A2', '2026-11-10', 'Planted', 9223372036854775807, 'x', 't');",
    );
    refused_cleanly(
        &e,
        4,
        "customer A2: the invoice's charges are too large to bill",
    );

    // A charge that fits alone, but not with its tax.
    let e = setup();
    sql(
        &e,
        "INSERT INTO charges (account, date, description, amount_minor, created_at, created_by)
         VALUES ('A1', '2026-11-10', 'Planted', 9000000000000000000, 'x', 't');",
    );
    refused_cleanly(
        &e,
        4,
        "customer A1: the total charges are too large to bill",
    );

    // Payments that overflow when added up.
    let e = setup();
    sql(
        &e,
        "INSERT INTO payments (account, date, amount_minor, method, reference, source, imported_at)
         VALUES ('A4', '2026-11-03', 9223372036854775807, 'cash', 'P1', 'manual', 'x'),
                ('A4', '2026-11-04', 9223372036854775807, 'cash', 'P2', 'manual', 'x');",
    );
    // (`request` checks the payments step first, whose totals SQLite
    // cannot add up: a clean exit 4 too.)
    refused_cleanly_with(
        &e,
        4,
        "customer A4: the payments are too large to bill",
        "stored amounts are too large to add up",
    );
}

#[test]
fn absurd_cdr_charges_and_plan_fees_planted_in_the_database_are_named() {
    // Two rated CDRs whose charges overflow SQLite's SUM: the worst is named.
    let e = setup();
    sql(
        &e,
        "INSERT INTO carriers (name, format, created_at) VALUES ('c', 'billrun', 'x');
         INSERT INTO cdr_files (id, carrier, name, sha256, lines, state, imported_at)
         VALUES (1, 'c', 'planted.csv', 'abc', 2, 'processed', 'x');
         INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units, state,
                           charge_minor)
         VALUES (1, 2, '01130000001', 1795000000, '44', 0, 60, 1, 9223372036854775807),
                (1, 3, '01130000001', 1795000001, '44', 0, 60, 1, 9223372036854775806);",
    );
    refused_cleanly(&e, 4, "planted.csv:2 (service 01130000001, customer A1)");

    // A plan fee beyond the maximum written straight into the database.
    let e = setup();
    sql(
        &e,
        &format!("UPDATE plans SET monthly_fee = '{HUGE}' WHERE plan = 'HOME'"),
    );
    refused_cleanly(
        &e,
        3,
        "service 01130000001 (customer A1): the stored fee of plan 'Home Phone & Broadband' is invalid",
    );
}

#[test]
fn produce_after_an_absurd_value_appears_keeps_nothing_and_can_be_run_again() {
    let e = setup();
    e.ok(&["request", "2026-11", "--expert", "--yes", "--no-produce"]);
    let before = next_number(&e);
    sql(
        &e,
        "INSERT INTO charges (account, date, description, amount_minor, created_at, created_by)
         VALUES ('A2', '2026-11-10', 'Planted', 9223372036854775807, 'x', 't');",
    );
    let err = fails_cleanly(&e, 4, &["produce", "2026-11"]);
    assert!(
        err.contains("customer A2: the invoice's charges are too large"),
        "{err}"
    );
    let (status, invoices): (String, i64) = db(&e)
        .query_row(
            "SELECT status, (SELECT COUNT(*) FROM invoices) FROM runs WHERE name = '2026-11'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), invoices), ("requested", 0));
    assert_eq!(next_number(&e), before);
    // Corrected, it produces from where it was.
    sql(&e, "DELETE FROM charges WHERE description = 'Planted'");
    e.ok(&["produce", "2026-11"]);
    let inv = e.json(&["invoices", "2026-11"]);
    assert_eq!(inv[0]["number"], "T-000001", "{inv}");
}
