//! `billrun xero export`: Xero's sales-invoice CSV template, column by column.
//!
//! Runs are seeded with invoices by `support::seed` (a stand-in for
//! production, see there).

mod support;

use support::Env;
use support::seed::{self, Spec};

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
    seed::completed_run(
        &env,
        &[
            spec("C1001", 12000),
            spec("C1003", 6000),
            spec("C1004", 0),
            spec("C1005", -600),
        ],
    );
    assert_eq!(xero_step(&env)["state"], "todo");
    assert!(
        xero_step(&env)["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 invoices")
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
    assert_eq!(out["excluded"][1]["total_charges"], "-6.00");

    let rows = read(&env.path("xero.csv"));
    assert_eq!(rows[0], HEADER);
    assert_eq!(rows.len(), 1 + 4, "two invoices, two lines each");
    // NFV-10001: C1001 Harbour Cafe Ltd, £120.00 with £20.00 VAT: lines 50.00 + 50.00.
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
        "NFV-10001",
        "C1001",
        "01/12/2026",
        "15/12/2026",
        "",
        "441130000001: Business Fibre monthly fee",
        "1",
        "50.00",
        "",
        "4000",
        "OUTPUT2",
        "",
        "",
        "",
        "",
        "GBP",
        "",
    ];
    for (i, (got, want)) in rows[1].iter().zip(expected_first).enumerate() {
        assert_eq!(got, want, "column {} ({})", i + 1, HEADER[i]);
    }
    assert_eq!(rows[2][15], "441130000001: Calls to UK mobiles");
    assert_eq!(rows[2][17], "50.00");
    assert_eq!(rows[3][10], "NFV-10002");
    assert_eq!(rows[3][0], "Kiln & Co Architects");
    assert_eq!(rows[3][3], "", "no second address line");
    // The lines add up to the invoice's charges ex-tax (£60 − £10 VAT).
    let sum: rust_decimal::Decimal = rows[3..5]
        .iter()
        .map(|r| r[17].parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(sum.to_string(), "50.00");
    assert_eq!(xero_step(&env)["state"], "done");
}

#[test]
fn re_export_writes_only_new_invoices_unless_all() {
    let env = Env::new().with_reference_data();
    seed::completed_run(&env, &[spec("C1001", 1200), spec("C1002", 2400)]);
    env.ok(&["xero", "export", "1", "--out", "a.csv"]);
    assert_eq!(read(&env.path("a.csv")).len(), 1 + 4);

    // Nothing new: no file, and the run says so.
    let out = env.ok(&["xero", "export", "1", "--out", "b.csv"]);
    assert!(out.contains("nothing new to export"), "{out}");
    assert!(!env.path("b.csv").exists());

    seed::add_invoices(&env, 1, &[spec("C1005", 3600)]);
    let v = env.json(&["xero", "export", "1", "--out", "c.csv"]);
    assert_eq!(v["exported"], 1);
    assert_eq!(v["already_exported"], 2);
    let rows = read(&env.path("c.csv"));
    assert_eq!(rows.len(), 1 + 2);
    assert!(rows[1..].iter().all(|r| r[10] == "NFV-10003"));

    let v = env.json(&["xero", "export", "1", "--out", "d.csv", "--all"]);
    assert_eq!(v["exported"], 3);
    // An existing file is never overwritten.
    let err = env.fails(3, &["xero", "export", "1", "--out", "d.csv", "--all"]);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn more_invoices_than_the_limit_are_split_into_numbered_files() {
    let env = Env::new().with_reference_data();
    let accounts = ["C1001", "C1002", "C1003", "C1005", "C1006"];
    let specs: Vec<Spec> = accounts.iter().map(|a| spec(a, 1200)).collect();
    seed::completed_run(&env, &specs);
    let out = env
        .cmd()
        .env("BILLRUN_XERO_MAX_PER_FILE", "2")
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
    for (i, n) in [(1, 2), (2, 2), (3, 1)] {
        let rows = read(&env.path(&format!("xero-{i}.csv")));
        assert_eq!(rows[0], HEADER);
        let mut inv: Vec<String> = rows[1..].iter().map(|r| r[10].clone()).collect();
        inv.dedup();
        assert_eq!(inv.len(), n, "file {i}");
        numbers.extend(inv);
    }
    assert_eq!(
        numbers,
        [
            "NFV-10001",
            "NFV-10002",
            "NFV-10003",
            "NFV-10004",
            "NFV-10005"
        ]
    );
}
