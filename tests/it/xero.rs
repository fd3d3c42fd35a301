//! `billrun xero export`: Xero's sales-invoice CSV template, column by column.
//!
//! Runs go through real production (`request --expert` on the fixtures: 25
//! invoices); zero and negative invoices, which the fixtures cannot produce
//! yet (no `charge add`), are seeded directly (`support::seed`).

use crate::support::Env;
use crate::support::seed::{self, Spec};

const HEADER: [&str; 27] = [
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

fn spec(account: &str, total_minor: i64) -> Spec<'_> {
    Spec {
        account,
        total_minor,
    }
}

fn read(path: &std::path::Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect()
}

fn xero_step(env: &Env) -> serde_json::Value {
    let s = env.json(&["status", "1"]);
    s["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "xero")
        .unwrap()
        .clone()
}

#[test]
fn export_follows_the_template_column_by_column() {
    let env = Env::new().with_reference_data();
    env.ok(&["config", "set", "xero.enabled", "true"]);
    env.ok(&["config", "set", "xero.account_code", "4000"]);
    let inv = seed::produced_run(&env);
    assert_eq!(inv.len(), 25);
    assert_eq!(xero_step(&env)["state"], "todo");
    assert!(
        xero_step(&env)["detail"]
            .as_str()
            .unwrap()
            .starts_with("25 invoices"),
        "{}",
        xero_step(&env)
    );

    let out = env.json(&["xero", "export", "1", "--out", "xero.csv"]);
    assert_eq!(out["exported"], 25);
    assert_eq!(out["excluded"].as_array().unwrap().len(), 0);

    let rows = read(&env.path("xero.csv"));
    assert_eq!(rows[0], HEADER);
    // INV000001: C1001 Harbour Cafe Ltd (fixtures), first line its business line.
    let expected_first: [&str; 27] = [
        "Harbour Cafe Ltd",
        "harbour.cafe.ltd@example.co.uk",
        "10 High Street",
        "Flat 2",
        "",
        "",
        "Leeds",
        "West Yorkshire",
        "LS1 4AP",
        "",
        "INV000001",
        "C1001",
        "01/12/2026",
        "15/12/2026",
        "",
        "01134960000: Business Line, 1 Nov to 30 Nov 2026",
        "1",
        "45.00",
        "",
        "4000",
        "20% (VAT on Income)",
        "",
        "",
        "",
        "",
        "GBP",
        "",
    ];
    assert_eq!(rows[1].len(), 27);
    for (i, (got, want)) in rows[1].iter().zip(expected_first).enumerate() {
        assert_eq!(got, want, "column {} ({})", i + 1, HEADER[i]);
    }
    // Every invoice: one row per line, in order, adding up to its charges ex-tax.
    let mut at = 1;
    for i in &inv {
        let lines = i["lines"].as_array().unwrap();
        let mine = &rows[at..at + lines.len()];
        at += lines.len();
        let mut sum = rust_decimal::Decimal::ZERO;
        for (r, l) in mine.iter().zip(lines) {
            assert_eq!(r[10], i["number"].as_str().unwrap());
            assert_eq!(r[11], i["account"].as_str().unwrap());
            assert_eq!(r[0], i["name"].as_str().unwrap());
            assert_eq!(r[17], l["amount"].as_str().unwrap());
            assert!(r[15].ends_with(l["description"].as_str().unwrap()));
            assert_eq!(r[16], "1");
            sum += r[17].parse::<rust_decimal::Decimal>().unwrap();
        }
        assert_eq!(sum.to_string(), i["charges_ex_tax"].as_str().unwrap());
    }
    assert_eq!(at, rows.len(), "nothing else in the file");
    assert_eq!(xero_step(&env)["state"], "done");
}

#[test]
fn zero_and_negative_invoices_are_left_out_and_listed() {
    let env = Env::new().with_reference_data();
    env.ok(&["config", "set", "xero.enabled", "true"]);
    seed::completed_run(
        &env,
        &[
            spec("C1001", 12000),
            spec("C1003", 6000),
            spec("C1004", 0),
            spec("C1005", -600),
        ],
    );
    assert!(
        xero_step(&env)["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 invoices"),
        "zero and negative invoices are not counted as to send"
    );
    let out = env.json(&["xero", "export", "1", "--out", "xero.csv"]);
    assert_eq!(out["exported"], 2);
    let excluded: Vec<&str> = out["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["number"].as_str().unwrap())
        .collect();
    assert_eq!(excluded, ["NFV-10003", "NFV-10004"]);
    assert_eq!(out["excluded"][0]["total_charges"], "0.00");
    assert_eq!(out["excluded"][1]["total_charges"], "-6.00");
    let rows = read(&env.path("xero.csv"));
    let numbers: std::collections::BTreeSet<&str> =
        rows[1..].iter().map(|r| r[10].as_str()).collect();
    assert_eq!(
        numbers.into_iter().collect::<Vec<_>>(),
        ["NFV-10001", "NFV-10002"]
    );
    // The text output lists them too.
    let text = env
        .cmd()
        .args(["xero", "export", "1", "--out", "again.csv", "--all"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&text.stderr);
    assert!(err.contains("2 invoices left out"), "{err}");
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("NFV-10004") && stdout.contains("negative"),
        "{stdout}"
    );
    assert_eq!(xero_step(&env)["state"], "done");
}

#[test]
fn re_export_writes_only_new_invoices_unless_all() {
    let env = Env::new().with_reference_data();
    seed::produced_run(&env);
    env.ok(&["xero", "export", "1", "--out", "a.csv"]);
    assert_eq!(read(&env.path("a.csv")).len(), 1 + 39);

    // Nothing new: no file, and the run says so.
    let out = env.ok(&["xero", "export", "1", "--out", "b.csv"]);
    assert!(out.contains("nothing new to export"), "{out}");
    assert!(!env.path("b.csv").exists());

    // An invoice added to the run since (seeded) is the only one exported next.
    let f = env.write(
        "new-customer.csv",
        "account,name,email,delivery,payment_method\nC1026,Late Joiner Ltd,late@example.co.uk,email,manual\n",
    );
    env.ok(&["customers", "import", &f]);
    let added = seed::add_invoices(&env, 1, &[spec("C1026", 3600)]);
    let v = env.json(&["xero", "export", "1", "--out", "c.csv"]);
    assert_eq!(v["exported"], 1);
    assert_eq!(v["already_exported"], 25);
    let rows = read(&env.path("c.csv"));
    assert_eq!(rows.len(), 1 + 2);
    assert!(rows[1..].iter().all(|r| r[10] == added[0].number));

    let v = env.json(&["xero", "export", "1", "--out", "d.csv", "--all"]);
    assert_eq!(v["exported"], 26);
    // An existing file is never overwritten.
    let err = env.fails(3, &["xero", "export", "1", "--out", "d.csv", "--all"]);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn more_invoices_than_the_limit_are_split_into_numbered_files() {
    let env = Env::new().with_reference_data();
    let inv = seed::produced_run(&env);
    let out = env
        .cmd()
        .env("BILLRUN_XERO_MAX_PER_FILE", "10")
        .args(["--json", "xero", "export", "1", "--out", "xero.csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    assert!(!env.path("xero.csv").exists());
    let mut numbers = Vec::new();
    for (i, n) in [(1, 10), (2, 10), (3, 5)] {
        let rows = read(&env.path(&format!("xero-{i}.csv")));
        assert_eq!(rows[0], HEADER);
        let mut got: Vec<String> = rows[1..].iter().map(|r| r[10].clone()).collect();
        got.dedup();
        assert_eq!(
            got.len(),
            n,
            "file {i}: an invoice never straddles two files"
        );
        numbers.extend(got);
    }
    let all: Vec<String> = inv
        .iter()
        .map(|i| i["number"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(numbers, all);
    // A bad limit is refused.
    env.cmd()
        .env("BILLRUN_XERO_MAX_PER_FILE", "0")
        .args(["xero", "export", "1", "--out", "y.csv", "--all"])
        .assert()
        .code(4);
}
