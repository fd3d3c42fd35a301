//! Whole runs through production, every figure checked against values
//! computed by hand from tests/data/billing (see the comments).

use crate::support::{Env, db, sha256_hex};
use serde_json::Value;

fn data(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/billing")
        .join(name)
        .display()
        .to_string()
}

/// init, settings and the small hand-computed reference data.
pub(crate) fn setup() -> Env {
    let e = Env::new();
    e.ok(&["init"]);
    for (k, v) in [
        ("company.name", "Test Telecom"),
        ("invoice.prefix", "T-"),
        ("invoice.next_number", "1"),
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
    e
}

fn sql(e: &Env, statement: &str) {
    let conn = db(e);
    conn.execute_batch(statement).unwrap();
}

pub(crate) fn by_account<'a>(invoices: &'a Value, account: &str) -> &'a Value {
    invoices
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == account)
        .unwrap_or_else(|| panic!("no invoice for {account}: {invoices}"))
}

fn figures(i: &Value) -> [&str; 6] {
    [
        "opening_balance",
        "payments",
        "charges_ex_tax",
        "tax",
        "total_charges",
        "amount_due",
    ]
    .map(|k| i[k].as_str().unwrap())
}

#[test]
fn two_runs_every_figure_by_hand() {
    let e = setup();
    // A goodwill credit for A1 dated inside run 1 (charge add is the CLI
    // for this; the table is written directly to keep this test about the
    // invoice maths).
    sql(
        &e,
        "INSERT INTO charges (account, date, description, amount_minor, created_at, created_by)
         VALUES ('A1', '2026-11-20', 'Goodwill credit', -500, 'now', 'tester');",
    );
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);

    // The pre-billing report has the numbers the invoices will have.
    let pre = e.json(&["prebill", "2026-11"]);
    let row = |acc: &str| {
        pre["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["account"] == acc)
            .unwrap()
            .clone()
    };
    // A1: HOME 29.99 × 15/30 (16–30 Nov) = 14.995 → 15.00; credit −5.00;
    // ex tax 10.00, VAT 2.00, total 12.00. New customer.
    assert_eq!(row("A1")["fixed"], "15.00");
    assert_eq!(row("A1")["one_off"], "-5.00");
    assert_eq!(row("A1")["total"], "12.00");
    assert!(
        row("A1")["flags"]
            .as_array()
            .unwrap()
            .contains(&"new_customer".into())
    );
    assert!(
        row("A1")["flags"]
            .as_array()
            .unwrap()
            .contains(&"no_usage".into())
    );
    // A2: print, manual; MOBILE 12.50 whole November, VAT 2.50.
    assert_eq!(row("A2")["total"], "15.00");
    // A3: tax exempt; BIZ 45.00 × 10/30 (ended 10 Nov) = 15.00, no tax.
    assert_eq!(row("A3")["tax"], "0.00");
    assert_eq!(row("A3")["total"], "15.00");
    // A4: 15.00 is below its min_invoice 20.00: held over.
    assert_eq!(row("A4")["outcome"], "too_low");
    // A5: no services, no balance: empty.
    assert_eq!(row("A5")["outcome"], "empty");
    assert_eq!(pre["totals"]["invoices"], 3);
    assert_eq!(pre["totals"]["total"], "42.00");
    // The same rows as CSV.
    let csv_path = e.path("pre.csv");
    e.ok(&["prebill", "2026-11", "--csv", csv_path.to_str().unwrap()]);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "account,name,usage,fixed,one_off,wholesale,charges_ex_tax,tax,total,previous_total,change_percent,outcome,flags"
    );
    assert_eq!(
        lines.next().unwrap(),
        "A1,Ann Able,0.00,15.00,-5.00,0.00,10.00,2.00,12.00,,,invoice,no_usage new_customer"
    );

    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-11"]);
    let numbers: Vec<&str> = inv
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    // Gap-free, in account order; A4 and A5 got no invoice.
    assert_eq!(numbers, ["T-000001", "T-000002", "T-000003"]);
    assert_eq!(
        figures(by_account(&inv, "A1")),
        ["0.00", "0.00", "10.00", "2.00", "12.00", "12.00"]
    );
    assert_eq!(
        figures(by_account(&inv, "A2")),
        ["0.00", "0.00", "12.50", "2.50", "15.00", "15.00"]
    );
    assert_eq!(
        figures(by_account(&inv, "A3")),
        ["0.00", "0.00", "15.00", "0.00", "15.00", "15.00"]
    );
    let a1 = by_account(&inv, "A1");
    assert_eq!(a1["lines"][0]["category"], "fixed");
    assert_eq!(
        a1["lines"][0]["description"],
        "Home Phone & Broadband, 16 Nov to 30 Nov 2026"
    );
    assert_eq!(a1["lines"][1]["category"], "one_off");
    assert_eq!(a1["due_date"], "2026-12-15");

    let runs = e.json(&["runs"]);
    assert_eq!(runs[0]["invoices"], 3);
    assert_eq!(runs[0]["total_charges"], "42.00");
    let post = e.json(&["postbill", "2026-11"]);
    assert_eq!(post["produced"]["count"], 3);
    assert_eq!(post["produced"]["total"], "42.00");
    let np: Vec<(String, String)> = post["not_produced"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["account"].as_str().unwrap().into(),
                n["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        np,
        [
            ("A4".into(), "too_low".into()),
            ("A5".into(), "empty".into())
        ]
    );
    assert_eq!(post["snapshot_differences"], serde_json::json!([]));

    // Run 2. A2 paid its 15.00 on 10 Dec.
    sql(
        &e,
        "INSERT INTO payments (account, date, amount_minor, method, reference, imported_at)
         VALUES ('A2', '2026-12-10', 1500, 'cheque', 'CHQ-1', 'now');",
    );
    e.ok(&[
        "new",
        "--name",
        "2026-12",
        "--invoice-date",
        "2027-01-01",
        "--cutoff",
        "2026-12-31",
    ]);
    e.ok(&["request", "2026-12", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-12"]);
    let numbers: Vec<&str> = inv
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["T-000004", "T-000005", "T-000006", "T-000007"]);
    // A1: opening 12.00; December 29.99 + VAT 6.00 (5.998) = 35.99; due 47.99.
    assert_eq!(
        figures(by_account(&inv, "A1")),
        ["12.00", "0.00", "29.99", "6.00", "35.99", "47.99"]
    );
    assert_eq!(
        by_account(&inv, "A1")["lines"][0]["description"],
        "Home Phone & Broadband, 1 Dec to 31 Dec 2026"
    );
    // A2: opening 15.00, paid 15.00, December 15.00: due 15.00.
    assert_eq!(
        figures(by_account(&inv, "A2")),
        ["15.00", "15.00", "12.50", "2.50", "15.00", "15.00"]
    );
    // A3: service ended; an invoice only for the unpaid balance.
    assert_eq!(
        figures(by_account(&inv, "A3")),
        ["15.00", "0.00", "0.00", "0.00", "0.00", "15.00"]
    );
    assert_eq!(by_account(&inv, "A3")["lines"], serde_json::json!([]));
    // A4: held over from November, billed now: Nov + Dec = 25.00 + 5.00.
    assert_eq!(
        figures(by_account(&inv, "A4")),
        ["0.00", "0.00", "25.00", "5.00", "30.00", "30.00"]
    );
    assert_eq!(
        by_account(&inv, "A4")["lines"][0]["description"],
        "Mobile SIM 10GB, 1 Nov to 31 Dec 2026"
    );
    let post = e.json(&["postbill", "2026-12"]);
    let carried: Vec<&str> = post["carried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["account"].as_str().unwrap())
        .collect();
    assert_eq!(carried, ["A1", "A3"]);
    // The payment is now allocated: a third run bills nothing twice.
    e.ok(&[
        "new",
        "--name",
        "2026-12b",
        "--invoice-date",
        "2027-01-02",
        "--cutoff",
        "2026-12-31",
    ]);
    let pre = e.json(&["prebill", "2026-12b"]);
    for c in pre["customers"].as_array().unwrap() {
        assert_eq!(c["charges_ex_tax"], "0.00", "billed twice: {c}");
        assert_eq!(c["payments"], "0.00", "payment applied twice: {c}");
    }
}

pub(crate) fn pdftotext(path: &str) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path, "-"])
        .output()
        .expect("pdftotext (poppler-utils) is needed: apt-get install poppler-utils");
    assert!(out.status.success(), "pdftotext rejected {path}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn pdfs_read_back_with_a_real_reader() {
    let e = setup();
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-11"]);
    let a1 = by_account(&inv, "A1");
    let text = pdftotext(a1["pdf"].as_str().unwrap());
    assert!(text.contains("T-000001"), "{text}");
    assert!(text.contains("£18.00"), "amount due missing:\n{text}");
    assert!(text.contains("Ann Able"));
    assert!(
        text.contains("collected by Direct Debit on 15 December 2026"),
        "{text}"
    );
    let a2 = pdftotext(by_account(&inv, "A2")["pdf"].as_str().unwrap());
    assert!(a2.contains("quoting invoice number T-000002"), "{a2}");
}

#[test]
fn print_bundles_by_postcode_once_unless_reprint() {
    let e = setup();
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    // Nothing to print before production.
    e.fails(3, &["print", "2026-11", "--out", "p"]);
    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    let st = e.json(&["status", "2026-11"]);
    let print = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "print")
        .unwrap()
        .clone();
    assert_eq!(print["state"], "todo");
    // Print customers: A2 (YO1) and A3 (HU1, both); sorted by postcode: A3 first.
    let out = e.json(&["print", "2026-11", "--out", "p", "--bundle-size", "1"]);
    let numbers: Vec<&str> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["numbers"][0].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["T-000003", "T-000002"]);
    let first = pdftotext(e.path(out[0]["path"].as_str().unwrap()).to_str().unwrap());
    assert!(first.contains("T-000003") && !first.contains("T-000002"));
    let st = e.json(&["status", "2026-11"]);
    let print = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "print")
        .unwrap()
        .clone();
    assert_eq!(print["state"], "done");
    // Re-running writes nothing new; --reprint writes all again.
    assert_eq!(
        e.json(&["print", "2026-11", "--out", "p"]),
        serde_json::json!([])
    );
    let again = e.json(&["print", "2026-11", "--out", "p", "--reprint"]);
    assert_eq!(again[0]["invoices"], 2);
    let inv = e.json(&["invoices", "2026-11"]);
    assert_eq!(by_account(&inv, "A2")["printed"], true);
    assert_eq!(by_account(&inv, "A1")["printed"], false);
}

/// Kill `produce` with SIGKILL at several moments, resume each time, and
/// check: no invoice twice, no gap, every PDF complete.
#[test]
fn production_resumes_after_kill_9() {
    // Production must be slow enough to be caught half-way: the fixture's 25
    // invoices plus 400 more customers with one plan each.
    const EXTRA: usize = 400;
    const TOTAL: usize = 25 + EXTRA;
    let e = Env::new().with_reference_data();
    let mut customers = String::from(
        "account,name,email,delivery,payment_method,address1,town,postcode,tax_exempt,cycle\n",
    );
    let mut services = String::from("service,account,plan,start_date,end_date,description\n");
    for i in 0..EXTRA {
        customers.push_str(&format!(
            "K{i:04},Kill Test {i} Ltd,k{i}@example.co.uk,print,manual,{i} Mill Lane,Leeds,LS2 {i}AB,false,monthly\n"
        ));
        services.push_str(&format!(
            "0770090{i:04},K{i:04},MOBILE,2026-10-01,,Mobile {i}\n"
        ));
    }
    let c = e.write("kill-customers.csv", &customers);
    let s = e.write("kill-services.csv", &services);
    e.ok(&["customers", "import", &c]);
    e.ok(&["services", "import", &s]);
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e.ok(&["request", "2026-11", "--expert", "--no-produce", "--yes"]);
    // Kill at growing delays until one kill has caught production with some
    // PDFs recorded and some not. After every kill, each recorded PDF must be
    // complete on disk with the recorded hash.
    let mut caught_half_way = 0;
    let mut delay_ms = 20u64;
    for _ in 0..40 {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"))
            .args(["--db", e.db.to_str().unwrap(), "produce", "2026-11"])
            .env("BILLRUN_OPERATOR", "tester")
            .current_dir(e.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().ok(); // SIGKILL on Unix
        child.wait().unwrap();
        let conn = db(&e);
        let mut st = conn
            .prepare("SELECT pdf_path, pdf_sha256 FROM invoices WHERE pdf_path IS NOT NULL")
            .unwrap();
        let recorded: Vec<(String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for (path, sha) in &recorded {
            let bytes = std::fs::read(path).expect("a recorded PDF exists");
            assert_eq!(
                &sha256_hex(&bytes),
                sha,
                "recorded PDF {path} is not the recorded file"
            );
        }
        if recorded.len() == TOTAL {
            break;
        }
        if !recorded.is_empty() {
            caught_half_way += 1;
            if caught_half_way >= 2 {
                break;
            }
        }
        delay_ms = delay_ms * 3 / 2;
    }
    assert!(
        caught_half_way > 0,
        "no kill landed while PDFs were being produced"
    );
    // Resume (unless the last kill came after production had completed).
    // A recorded PDF that went missing or was changed is rendered again.
    if e.json(&["status", "2026-11"])["run"]["status"] != "completed" {
        let conn = db(&e);
        let mut st = conn
            .prepare("SELECT pdf_path FROM invoices WHERE pdf_path IS NOT NULL LIMIT 2")
            .unwrap();
        let paths: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        std::fs::remove_file(&paths[0]).unwrap();
        if let Some(p) = paths.get(1) {
            std::fs::write(p, b"%PDF-1.7 not the recorded file").unwrap();
        }
        // What a kill mid-write leaves for a PDF still to render (removed by
        // the resume), and a temporary file of something else (kept).
        let first = std::path::Path::new(&paths[0]);
        let dir = first.parent().unwrap();
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        let leftover = dir.join(format!(".{name}.K1ll3d.tmp"));
        let foreign = dir.join(".collect-1-aba.aba.AbC123.tmp");
        std::fs::write(&leftover, b"%PDF-1.7 half").unwrap();
        std::fs::write(&foreign, b"0 not a PDF").unwrap();
        let out = e.ok(&["produce", "2026-11"]);
        assert!(
            !leftover.exists(),
            "the killed producer's temporary file is removed"
        );
        assert!(foreign.exists(), "another writer's temporary file is kept");
        std::fs::remove_file(&foreign).unwrap();
        let bad = if paths.len() > 1 { "2" } else { "1" };
        assert!(
            out.contains(&format!("{bad} recorded PDFs are missing or changed")),
            "{out}"
        );
    }
    let inv = e.json(&["invoices", "2026-11"]);
    let list = inv.as_array().unwrap();
    assert_eq!(list.len(), TOTAL);
    let seqs: Vec<u32> = list
        .iter()
        .map(|i| i["number"].as_str().unwrap()[3..].parse().unwrap())
        .collect();
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + TOTAL as u32).collect::<Vec<_>>(),
        "gap or duplicate"
    );
    let conn = db(&e);
    for (n, i) in list.iter().enumerate() {
        let pdf = i["pdf"].as_str().expect("every invoice has a PDF");
        let bytes = std::fs::read(pdf).unwrap();
        let sha: String = conn
            .query_row(
                "SELECT pdf_sha256 FROM invoices WHERE pdf_path = ?1",
                [pdf],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sha256_hex(&bytes), sha, "{pdf} is not the recorded file");
        assert!(
            bytes.starts_with(b"%PDF") && bytes.trim_ascii_end().ends_with(b"%%EOF"),
            "truncated {pdf}"
        );
        // Reading every PDF back is slow; a sample shows they are readable.
        if n % 20 == 0 || n + 1 == list.len() {
            assert!(pdftotext(pdf).contains(i["number"].as_str().unwrap()));
        }
    }
    let st = e.json(&["status", "2026-11"]);
    assert_eq!(st["run"]["status"], "completed");
    // No temp files left behind.
    let dir = std::path::Path::new(list[0]["pdf"].as_str().unwrap())
        .parent()
        .unwrap()
        .to_owned();
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|f| f.ok())
        .filter(|f| f.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

/// Each pre-billing flag, on a second run so changes have a baseline.
#[test]
fn prebill_flags_each_condition() {
    let e = setup();
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    // December: A2 overpays; A5 gets a charge and an equal credit; the
    // provider moves to SEPA, so A1's UK bank details no longer suit.
    sql(
        &e,
        "INSERT INTO payments (account, date, amount_minor, method, reference, imported_at)
           VALUES ('A2', '2026-12-10', 10000, 'cheque', 'CHQ-9', 'now');
         INSERT INTO charges (account, date, description, amount_minor, created_at, created_by)
           VALUES ('A5', '2026-12-05', 'Router', 1000, 'now', 'tester'),
                  ('A5', '2026-12-06', 'Router returned', -1000, 'now', 'tester');",
    );
    e.ok(&["config", "set", "dd.format", "sepa"]);
    e.ok(&[
        "new",
        "--name",
        "2026-12",
        "--invoice-date",
        "2027-01-01",
        "--cutoff",
        "2026-12-31",
    ]);
    let pre = e.json(&["prebill", "2026-12"]);
    let flags = |acc: &str| -> Vec<String> {
        pre["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["account"] == acc)
            .unwrap()["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap().to_owned())
            .collect()
    };
    // A1: 18.00 in November, 35.99 now (+99.9 % > 50 %); no IBAN for SEPA.
    assert_eq!(flags("A1"), ["no_usage", "large_change", "no_bank_details"]);
    let a1 = pre["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "A1")
        .unwrap();
    assert_eq!(a1["previous_total"], "18.00");
    assert_eq!(a1["change_percent"], "99.9");
    // A2: opening 15.00 − 100.00 paid + 15.00 = −70.00.
    assert_eq!(flags("A2"), ["no_usage", "credit_balance"]);
    // A5: a zero invoice, and never invoiced before.
    assert_eq!(
        flags("A5"),
        ["zero_bill", "no_usage", "new_customer", "no_bank_details"]
    );
    // The threshold is a setting.
    e.ok(&["config", "set", "prebill.change_percent", "100"]);
    let pre = e.json(&["prebill", "2026-12"]);
    let a1 = pre["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "A1")
        .unwrap();
    assert!(
        !a1["flags"]
            .as_array()
            .unwrap()
            .contains(&"large_change".into())
    );
}

/// Usage from a real CDR import: rated, summarised on the invoice, itemised
/// on the PDF, and a CDR after the cutoff waits for the next run.
#[test]
fn usage_lines_and_itemised_calls_from_imported_cdrs() {
    let e = setup();
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let cdrs = e.write(
        "n.csv",
        "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n\
         01130000001,2026-11-17T09:00:00,125,+44 20 7946 0000,voice,,0.01,R1\n\
         01130000001,2026-11-18T20:00:00,61,+44 7700 900123,voice,,0.01,R2\n\
         01130000001,2026-12-01T09:00:00,30,+44 20 7946 0001,voice,,0.01,R3\n",
    );
    e.ok(&["cdr", "import", &cdrs, "--carrier", "northern"]);
    e.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let pre = e.json(&["prebill", "2026-11"]);
    // Peak landline 125 s at 60/60 → 180 s × 0.09/min = 0.27; off-peak
    // mobile 61 s at 60/1 → 61 s × 0.08/min = 0.0813 → 0.08 (above the 0.05
    // minimum). Usage 0.35; with the fee 15.35, VAT 3.07, total 18.42.
    let a1 = pre["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "A1")
        .unwrap();
    assert_eq!(a1["usage"], "0.35");
    assert_eq!(a1["total"], "18.42");
    assert_eq!(pre["unbilled_cdrs"], 2);
    assert_eq!(pre["waiting_cdrs"], 1);
    e.ok(&["request", "2026-11", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-11"]);
    let a1 = by_account(&inv, "A1");
    let usage: Vec<(&str, &str, &str)> = a1["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["category"] == "usage")
        .map(|l| {
            (
                l["description"].as_str().unwrap(),
                l["quantity"].as_str().unwrap(),
                l["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        usage,
        [
            ("Calls: UK landline", "1 call, 2:05", "0.27"),
            ("Calls: UK mobile", "1 call, 1:01", "0.08")
        ]
    );
    assert_eq!(a1["amount_due"], "18.42");
    let text = pdftotext(a1["pdf"].as_str().unwrap());
    assert!(text.contains("Itemised calls"), "{text}");
    let first = text
        .lines()
        .find(|l| l.contains("442079460000"))
        .expect("first call itemised");
    assert!(
        first.contains("17 Nov 2026") && first.contains("09:00") && first.contains("0.27"),
        "{first}"
    );
    assert!(
        !text.contains("442079460001"),
        "a call after the cutoff was billed:\n{text}"
    );
    // The waiting CDR is billed by the next run, once.
    e.ok(&[
        "new",
        "--name",
        "2026-12",
        "--invoice-date",
        "2027-01-01",
        "--cutoff",
        "2026-12-31",
    ]);
    e.ok(&["request", "2026-12", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-12"]);
    let usage: Vec<&str> = by_account(&inv, "A1")["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["category"] == "usage")
        .map(|l| l["amount"].as_str().unwrap())
        .collect();
    // 30 s peak landline at 60/60 → 60 s × 0.09 = 0.09.
    assert_eq!(usage, ["0.09"]);
}
