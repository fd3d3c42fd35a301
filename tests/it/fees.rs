//! Wholesale fixed fees (SPEC §6.2), through the binary.

use crate::support::{Env, db, step};

const HEADER: &str = "service,fee_code,description,amount,period_start,period_end\n";

/// `carriers add` is another feature's command: the carrier is inserted with
/// rusqlite until it lands on main.
fn with_carrier(e: &Env) {
    rusqlite::Connection::open(&e.db)
        .unwrap()
        .execute(
            "INSERT INTO carriers (name, format, created_at) VALUES ('openreach', 'billrun', '2026-11-01T00:00:00Z')",
            [],
        )
        .unwrap();
}

fn fee_file(e: &Env) -> String {
    e.write(
        "fees-nov.csv",
        &format!(
            "{HEADER}01134960000,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n\
07700 900100,MOBILE,SIM wholesale,3.125,2026-11-01,2026-11-30\n\
01139999999,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n\
01134960001,PORTOUT,Port-out fee,4.00,2026-11-01,2026-11-30\n\
01134960001,BIZ,Line rental December,18.50,2026-12-01,2026-12-31\n"
        ),
    )
}

#[test]
fn fees_are_refused_while_the_feature_is_off() {
    let e = Env::new().with_reference_data();
    with_carrier(&e);
    let f = fee_file(&e);
    let before = e.snapshot();
    let err = e.fails(3, &["fees", "import", &f, "--carrier", "openreach"]);
    assert!(err.contains("features.wholesale_fees true"), "{err}");
    let err = e.fails(3, &["fees", "codes", "add", "PORTOUT", "Port-out"]);
    assert!(err.contains("wholesale fixed fees are off"), "{err}");
    assert_eq!(e.snapshot(), before);
}

#[test]
fn import_matches_lines_and_records_both_fee_error_kinds() {
    let e = Env::new().with_reference_data();
    with_carrier(&e);
    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let f = fee_file(&e);
    let v = e.json(&["fees", "import", &f, "--carrier", "openreach"]);
    assert_eq!(v["lines"], 5);
    assert_eq!(v["matched"], 3);
    assert_eq!(v["fee_unknown_service"], 1);
    assert_eq!(v["fee_unknown_code"], 1);

    let c = db(&e);
    let errs: Vec<(String, String, i64, String)> = c
        .prepare("SELECT kind, state, line, carrier_cost FROM billing_errors ORDER BY line")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        errs,
        [
            (
                "fee_unknown_service".into(),
                "open".into(),
                4,
                "18.50".into()
            ),
            ("fee_unknown_code".into(), "open".into(), 5, "4.00".into()),
        ]
    );
    drop(c);

    let lines = e.json(&["fees", "list"]);
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[1]["service"], "07700900100", "normalised to digits");
    assert_eq!(lines[1]["state"], "matched");
    assert_eq!(lines[1]["amount"], "3.125", "the carrier's cost, unrounded");
    assert_eq!(lines[0]["state"], "matched");
    assert_eq!(lines[0]["account"], "C1001");
    assert_eq!(lines[0]["amount"], "18.50");
    // Unbilled matched lines of C1002: the December line (its port-out fee
    // is an error, not billable).
    let unbilled = e.json(&["fees", "list", "--unbilled", "--account", "C1002"]);
    assert_eq!(unbilled.as_array().unwrap().len(), 1);

    // The checklist: the fee-errors step appears with the open count,
    // blocked until the CDRs are checked (issue 15).
    let st = e.json(&["status", "1"]);
    let s = step(&st, "check_fee_errors");
    assert_eq!(s["state"], "blocked");
    assert_eq!(s["detail"], "confirm CDRs first; 2 open fee errors");

    // Same bytes again: refused, nothing changed.
    let before = e.snapshot();
    let err = e.fails(4, &["fees", "import", &f, "--carrier", "openreach"]);
    assert!(err.contains("this file was already imported"), "{err}");
    assert_eq!(e.snapshot(), before);
}

#[test]
fn fee_codes_register_and_list() {
    let e = Env::new().with_reference_data();
    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
    e.ok(&["fees", "codes", "add", "PORTOUT", "Port-out fee"]);
    let codes = e.json(&["fees", "codes", "list"]);
    let codes = codes.as_array().unwrap();
    let find = |c: &str| codes.iter().find(|x| x["code"] == c).cloned();
    assert_eq!(find("PORTOUT").unwrap()["source"], "registered");
    assert_eq!(find("BIZ").unwrap()["source"], "plan");
    with_carrier(&e);
    let f = e.write(
        "f.csv",
        &format!("{HEADER}01134960001,PORTOUT,Port-out fee,4.00,2026-11-01,2026-11-30\n"),
    );
    let v = e.json(&["fees", "import", &f, "--carrier", "openreach"]);
    assert_eq!(v["matched"], 1);
}

#[test]
fn bad_fee_files_change_nothing() {
    let e = Env::new().with_reference_data();
    with_carrier(&e);
    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
    let before = e.snapshot();
    let f = e.write(
        "bad.csv",
        &format!(
            "{HEADER}01134960000,BIZ,Line,18.50,2026-11-01,2026-11-30\n\
01134960000,BIZ,Line,£18,2026-11-01,2026-11-30\n\
01134960000,,Line,1,2026-11-01,2026-11-31\n\
01134960000,BIZ,Line,1,2026-11-10,2026-11-01\n"
        ),
    );
    let err = e.fails(4, &["fees", "import", &f, "--carrier", "openreach"]);
    for want in [
        "bad.csv:3:4: amount:",
        "bad.csv:4:2: fee_code: required value is empty",
        "bad.csv:4:6: period_end: '2026-11-31' is not a date",
        "bad.csv:5:6: period_end: 2026-11-01 is before period_start 2026-11-10",
        "4 problems found; nothing was changed",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let good = e.write(
        "good.csv",
        &format!("{HEADER}01134960000,BIZ,Line,18.50,2026-11-01,2026-11-30\n"),
    );
    let err = e.fails(4, &["fees", "import", &good, "--carrier", "nobody"]);
    assert!(err.contains("unknown carrier 'nobody'"), "{err}");
    assert_eq!(e.snapshot(), before);
}

/// Through real production: matched lines whose period ended by the cutoff
/// are billed with the markup; the December line and the errors wait.
#[test]
fn matched_fees_are_billed_with_markup_by_production() {
    let e = Env::new().with_reference_data();
    with_carrier(&e);
    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
    e.ok(&["config", "set", "fees.markup_percent", "10"]);
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let f = fee_file(&e);
    e.ok(&["fees", "import", &f, "--carrier", "openreach"]);
    e.ok(&["request", "1", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "1"]);
    let c1001 = inv
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == "C1001")
        .unwrap();
    let wholesale: Vec<&serde_json::Value> = c1001["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["category"] == "wholesale")
        .collect();
    // 18.50 × 1.10 = 20.35; 3.125 × 1.10 = 3.4375 → 3.44.
    let amounts: Vec<&str> = wholesale
        .iter()
        .map(|l| l["amount"].as_str().unwrap())
        .collect();
    assert_eq!(amounts, ["20.35", "3.44"], "{wholesale:?}");
    // December's line is still unbilled; nothing for C1002 was billable.
    let unbilled = e.json(&["fees", "list", "--unbilled"]);
    let unbilled = unbilled.as_array().unwrap();
    assert_eq!(unbilled.len(), 1);
    assert_eq!(unbilled[0]["period_end"], "2026-12-31");
}

/// A corrected file repeating lines already imported is refused, naming each
/// repeated line, so no fee is billed twice.
#[test]
fn fee_lines_already_imported_from_another_file_are_refused() {
    let e = Env::new().with_reference_data();
    e.ok(&["carriers", "add", "openreach", "--format", "billrun"]);
    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
    e.ok(&["fees", "import", &fee_file(&e), "--carrier", "openreach"]);
    let again = e.write(
        "fees-nov-v2.csv",
        &format!(
            "{HEADER}01134960000,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n\
01134960002,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n"
        ),
    );
    let before = e.snapshot();
    let err = e.fails(4, &["fees", "import", &again, "--carrier", "openreach"]);
    assert!(
        err.contains("fees-nov-v2.csv:2: the same fee line") && err.contains("fees-nov.csv line 2"),
        "{err}"
    );
    assert_eq!(e.snapshot(), before);
}
