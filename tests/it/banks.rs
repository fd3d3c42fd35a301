//! Issue 17 (parts 2 and 3) through the real binary: Direct Debit dates on
//! the schemes' working days (`collect dd`), and bank reports read by
//! `collect results`: Bacs ARUDD and ADDACS, SEPA pain.002 and ABA returns.
//! The sample reports in tests/data/banks are built from the published
//! structures (each file says which); `collect dd` takes today from
//! `BILLRUN_TEST_DD_TODAY` (2026-12-01 unless a test says otherwise).

use crate::collect::{ABA_SETTINGS, bacs_env, seed_invoices, setup};
use crate::support::{Env, db};
use std::path::Path;

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/banks")
        .join(name)
        .display()
        .to_string()
}

fn item(env: &Env, reference: &str) -> (String, Option<String>) {
    db(env)
        .query_row(
            "SELECT state, reason FROM payment_items WHERE reference = ?1",
            [reference],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

fn count(env: &Env, sql: &str) -> i64 {
    db(env).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every row of the tables a report may change, to prove nothing changed.
fn state(env: &Env) -> String {
    let conn = db(env);
    let mut out = String::new();
    for sql in [
        "SELECT reference || state || COALESCE(reason, '') FROM payment_items ORDER BY id",
        "SELECT account || COALESCE(mandate_status, '-') || COALESCE(mandate_status_on, '-') FROM customers ORDER BY account",
        "SELECT COUNT(*) || '' FROM charges",
        "SELECT COUNT(*) || '' FROM payments",
        "SELECT COUNT(*) || '' FROM bank_reports",
    ] {
        let mut st = conn.prepare(sql).unwrap();
        let rows = st.query_map([], |r| r.get::<_, String>(0)).unwrap();
        for r in rows {
            out.push_str(&r.unwrap());
            out.push('\n');
        }
    }
    out
}

fn collect_dd(env: &Env, run: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["collect", "dd", run, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    env.json(&args)
}

#[test]
fn the_debit_date_follows_the_bacs_calendar_and_its_deadlines() {
    let env = bacs_env();
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("U1", 3600)]);
    // Christmas Day: not a working day; named, and the next one given.
    let e = env.fails(
        4,
        &[
            "collect",
            "dd",
            "1",
            "--out",
            "x.txt",
            "--date",
            "2026-12-25",
        ],
    );
    assert!(e.contains("Christmas Day"), "{e}");
    assert!(e.contains("2026-12-29"), "{e}");
    // Today (fixed) is Tuesday 1 December: input today, processing
    // Wednesday 2, debit Thursday 3 at the earliest. --date 2 December is
    // too late: exit 3 with the deadline, nothing recorded.
    let e = env.fails(
        3,
        &[
            "collect",
            "dd",
            "1",
            "--out",
            "x.txt",
            "--date",
            "2026-12-02",
        ],
    );
    assert!(e.contains("2026-12-03"), "{e}");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM payment_runs"), 0);
    assert!(!env.path("x.txt").exists());

    // No --date, today Monday 14 December: the due date (Tuesday 15) needed
    // processing on the 14th, input by Friday 11: moved to Wednesday 16.
    let out = env.path("late.txt");
    let o = env
        .cmd()
        .env("BILLRUN_TEST_DD_TODAY", "2026-12-14")
        .args([
            "--json",
            "collect",
            "dd",
            "1",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["debit_date"], "2026-12-16");
    assert_eq!(j["collection_date"], "2026-12-15", "Bacs processing day");
    assert_eq!(j["moved_from"], "2026-12-15");
    assert_eq!(j["calendar"], "England and Wales bank holidays");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("moved to 2026-12-16"), "{stderr}");
    let file = std::fs::read_to_string(&out).unwrap();
    let uhl = file.split("\r\n").find(|r| r.starts_with("UHL1")).unwrap();
    assert_eq!(
        &uhl[4..10],
        " 26349",
        "processing day 15 December = day 349"
    );
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM payment_runs WHERE debit_date = '2026-12-16'"
        ),
        1
    );
}

#[test]
fn extra_closing_days_come_from_the_holidays_file() {
    let env = bacs_env();
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("U1", 3600)]);
    let bad = env.write("hol.txt", "# office closed\n2026-12-15\n15/12/2026\n");
    env.ok(&["config", "set", "dd.holidays", &bad]);
    let e = env.fails(4, &["collect", "dd", "1", "--out", "x.txt"]);
    assert!(e.contains(&format!("{bad}:3:1")), "{e}");
    assert_eq!(count(&env, "SELECT COUNT(*) FROM payment_runs"), 0);
    let good = env.write("hol2.txt", "# office closed\n2026-12-15 staff day\n");
    env.ok(&["config", "set", "dd.holidays", &good]);
    let j = collect_dd(&env, "1", &env.path("a.txt"), &[]);
    // Due Tuesday 15, closed by the file: debited Wednesday 16, processed
    // on the working day before it, Monday 14 (the 15th being closed).
    assert_eq!(j["debit_date"], "2026-12-16");
    assert_eq!(j["collection_date"], "2026-12-14");
    let missing = env.path("nope.txt");
    env.ok(&["config", "set", "dd.holidays", missing.to_str().unwrap()]);
    seed_invoices(&env, "2027-01-01", "2026-12-31", &[("U2", 100)]);
    let e = env.fails(3, &["collect", "dd", "2", "--out", "y.txt"]);
    assert!(e.contains("dd.holidays"), "{e}");
}

#[test]
fn arudd_returns_dishonour_the_matching_bacs_item_once() {
    let env = bacs_env();
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("U1", 3600), ("U2", 4800)],
    );
    collect_dd(&env, "1", &env.path("b.txt"), &["--date", "2026-12-15"]);
    let before = state(&env);

    // A malformed report changes nothing (exit 4, file:line:col).
    let broken = env.write("broken.xml", "<BACSDocument><Data><ARUDD>\n<Header></Data>");
    let e = env.fails(4, &["collect", "results", &broken]);
    assert!(e.contains("broken.xml:2:"), "{e}");
    // A return with a bad amount and date: every problem, nothing changed.
    let bad = std::fs::read_to_string(data("arudd.xml"))
        .unwrap()
        .replace("valueOf=\"48.00\"", "valueOf=\"48.001\"")
        .replace(
            "originalProcessingDate=\"2026-12-14\" valueOf=\"12.00\"",
            "originalProcessingDate=\"14.12.2026\" valueOf=\"12.00\"",
        );
    let bad = env.write("bad.xml", &bad);
    let e = env.fails(4, &["collect", "results", &bad]);
    assert!(e.contains("bad.xml:19:") && e.contains("48.001"), "{e}");
    assert!(e.contains("bad.xml:22:") && e.contains("14.12.2026"), "{e}");
    assert_eq!(state(&env), before);

    // The real report: BRC1002 (48.00, processed 14 December) is INV-2;
    // BRC9999 matches nothing: listed, exit 4, the rest applied.
    let o = env
        .cmd()
        .args(["--json", "collect", "results", &data("arudd.xml")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["format"], "arudd");
    assert_eq!(j["applied"][0]["reference"], "INV-2");
    assert_eq!(j["applied"][0]["to"], "dishonoured");
    assert_eq!(j["unknown"][0]["reference"], "BRC9999");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("BRC9999"), "{stderr}");
    assert_eq!(
        item(&env, "INV-2"),
        ("dishonoured".into(), Some("ARUDD 0: refer to payer".into()))
    );
    assert_eq!(item(&env, "INV-1").0, "live");
    // The dishonour fee (15.00) as for a results CSV.
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM charges WHERE source = 'dishonour_fee'"
        ),
        1
    );
    // Read again (it had an unknown item, so it was not taken as read):
    // INV-2 is dishonoured already, no second fee; BRC9999 listed again.
    let after = state(&env);
    let e = env.fails(4, &["collect", "results", &data("arudd.xml")]);
    assert!(e.contains("BRC9999"), "{e}");
    assert_eq!(state(&env), after);
}

#[test]
fn addacs_cancels_a_mandate_which_is_then_not_collected_and_is_flagged() {
    let env = bacs_env();
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("U1", 3600)]);
    collect_dd(&env, "1", &env.path("b.txt"), &["--date", "2026-12-15"]);
    let j = env.json(&["collect", "results", &data("addacs.xml")]);
    assert_eq!(j["format"], "addacs");
    assert_eq!(j["mandates"][0]["account"], "U1");
    assert_eq!(j["mandates"][0]["to"], "cancelled");
    let list = env.json(&["customers", "list"]);
    let u1 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "U1")
        .unwrap();
    assert_eq!(u1["mandate_status"], "cancelled");
    assert_eq!(u1["mandate_status_on"], "2026-12-10");
    // Fully applied, so read again it is recognised (SHA-256): no change.
    let after = state(&env);
    let out = env.ok(&["collect", "results", &data("addacs.xml")]);
    assert!(out.contains("read already"), "{out}");
    assert_eq!(state(&env), after);
    let table = env.ok(&["customers", "list"]);
    assert!(table.contains("cancelled 2026-12-10"), "{table}");

    // The next run: U1 is not collected (listed with the reason), U2 is.
    // (U1's new invoice asks 14.00 more than the 36.00 still being collected.)
    seed_invoices(
        &env,
        "2027-01-01",
        "2026-12-31",
        &[("U1", 5000), ("U2", 4800)],
    );
    let out = env.path("c.txt");
    let o = env
        .cmd()
        .args([
            "--json",
            "collect",
            "dd",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["included"], serde_json::json!(["INV-3"]));
    assert!(
        j["unsuitable"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("mandate cancelled on 2026-12-10"),
        "{j}"
    );
    // The customer-setup check flags it before billing.
    let run = env.json(&[
        "new",
        "--invoice-date",
        "2027-02-01",
        "--cutoff",
        "2027-01-31",
    ]);
    let id = run["id"].as_i64().unwrap().to_string();
    let pre = env.json(&["prebill", &id]);
    assert!(
        pre.to_string().contains("BRC1001 cancelled on 2026-12-10"),
        "{pre}"
    );

    // Re-imported with a new mandate: collected again.
    let f = env.write(
        "c2.csv",
        "account,name,email,delivery,payment_method,bank_branch,bank_account,bank_account_name,iban,bic,mandate_ref,mandate_date,card_token\nU1,Harbour Cafe,,print,direct_debit,20-00-00,31415926,HARBOUR CAFE LTD,,,BRC1003,2026-12-20,\n",
    );
    env.ok(&["customers", "import", &f]);
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM customers WHERE account = 'U1' AND mandate_status IS NULL"
        ),
        1
    );
}

#[test]
fn pain002_rejections_by_end_to_end_id_and_by_message() {
    let env = setup(
        &[
            ("currency", "EUR"),
            ("dd.format", "sepa"),
            ("dd.creditor_id", "DE98ZZZ09999999999"),
            ("dd.iban", "DE89370400440532013000"),
            ("dd.bic", "COBADEFFXXX"),
            ("dd.name", "Sudwest Telekom GmbH"),
        ],
        &[
            "E1,Renee Dupont,,print,direct_debit,,,Renee Dupont,FR1420041010050500013M02606,PSSTFRPPPAR,MNDT-E1,2025-06-01,",
            "E2,Hans Muller,,print,direct_debit,,,,DE89370400440532013000,,MNDT-E2,2025-07-01,",
        ],
    );
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("E1", 1000), ("E2", 123450)],
    );
    let out = env.path("s.xml");
    collect_dd(&env, "1", &out, &["--date", "2026-12-15"]);
    let j = env.json(&["collect", "results", &data("pain002.xml")]);
    assert_eq!(j["format"], "pain.002");
    assert_eq!(j["applied"][0]["reference"], "INV-2");
    assert_eq!(j["applied"][0]["to"], "declined");
    assert_eq!(
        item(&env, "INV-2"),
        (
            "declined".into(),
            Some("pain.002 RJCT AM04: insufficient funds".into())
        )
    );
    assert!(j["info"].to_string().contains("INV-1: status ACCP"), "{j}");
    assert_eq!(item(&env, "INV-1").0, "live");

    // The whole message rejected (its MsgId, read from the file written).
    let xml = std::fs::read_to_string(&out).unwrap();
    let msg_id = xml
        .split("<MsgId>")
        .nth(1)
        .and_then(|s| s.split("</MsgId>").next())
        .unwrap()
        .to_string();
    let group = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>STATUS-2</MsgId><CreDtTm>2026-12-16T08:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>{msg_id}</OrgnlMsgId>
      <OrgnlMsgNmId>pain.008.001.02</OrgnlMsgNmId>
      <GrpSts>RJCT</GrpSts>
      <StsRsnInf><Rsn><Cd>FF01</Cd></Rsn></StsRsnInf>
    </OrgnlGrpInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"#
    );
    let g = env.write("group.xml", &group);
    let j = env.json(&["collect", "results", &g]);
    assert_eq!(item(&env, "INV-1").0, "declined");
    assert_eq!(
        item(&env, "INV-1").1.as_deref(),
        Some("pain.002 RJCT FF01: invalid file format")
    );
    // INV-2 was declined already: unchanged.
    let unchanged: Vec<_> = j["applied"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["from"] == a["to"])
        .collect();
    assert_eq!(unchanged.len(), 1, "{j}");
    // A message id no run wrote: listed, exit 4, nothing changed (and the
    // report is not taken as read: once the run exists it can be read).
    let other = env.write(
        "other.xml",
        &group.replace(&msg_id, "BILLRUN-000009-20990101000000"),
    );
    let before = state(&env);
    let e = env.fails(4, &["collect", "results", &other]);
    assert!(e.contains("no SEPA payment run"), "{e}");
    assert_eq!(state(&env), before);
}

#[test]
fn aba_return_records_dishonour_by_lodgement_reference_and_amount() {
    let env = setup(
        ABA_SETTINGS,
        &[
            "A1,Jane Citizen,,print,direct_debit,032-000,123456789,JANE CITIZEN,,,,,",
            "A2,Zoe OBrien,,print,direct_debit,062-001,98765,Z OBRIEN,,,,,",
        ],
    );
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("A1", 4550), ("A2", 12345)],
    );
    collect_dd(&env, "1", &env.path("a.aba"), &["--date", "2026-12-15"]);
    let before = state(&env);
    // A record of the wrong length: file:line, nothing changed.
    let text = std::fs::read_to_string(data("aba_return.txt")).unwrap();
    let short = env.write(
        "short.txt",
        &text.replacen("OUTBACK TELECOM 15", "OUTBACK TELECOM15", 1),
    );
    let e = env.fails(4, &["collect", "results", &short]);
    assert!(e.contains("short.txt:2:1"), "{e}");
    assert_eq!(state(&env), before);
    let j = env.json(&["collect", "results", &data("aba_return.txt")]);
    assert_eq!(j["format"], "aba_return");
    assert_eq!(
        item(&env, "INV-2"),
        (
            "dishonoured".into(),
            Some("BECS return 6: refer to customer".into())
        )
    );
    assert_eq!(item(&env, "INV-1").0, "live");
}

#[test]
fn the_advance_notice_states_the_debit_date_on_the_pdf() {
    // The billing fixtures' run is due Tuesday 15 December 2026; a closing
    // day in dd.holidays makes the debit Wednesday 16, and the Direct Debit
    // customer's PDF says so.
    let e = crate::billing::setup();
    let hol = e.write("hol.txt", "2026-12-15 bank closed\n");
    e.ok(&["config", "set", "dd.holidays", &hol]);
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
    let a1 = crate::billing::by_account(&inv, "A1");
    assert_eq!(a1["due_date"], "2026-12-15", "{a1}");
    let text = crate::billing::pdftotext(a1["pdf"].as_str().unwrap());
    assert!(
        text.contains("collected by Direct Debit on 16 December 2026"),
        "{text}"
    );
}

#[test]
fn a_return_named_twice_in_one_report_is_applied_once() {
    let env = bacs_env();
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("U2", 4800)]);
    collect_dd(&env, "1", &env.path("b.txt"), &["--date", "2026-12-15"]);
    let one = std::fs::read_to_string(data("arudd.xml")).unwrap();
    let start = one.find("<ReturnedDebitItem ref=\"BRC1002\"").unwrap();
    let end = one[start..].find("</ReturnedDebitItem>").unwrap() + start + 20;
    let item_xml = &one[start..end];
    // BRC1002 twice, BRC9999 (unknown) dropped.
    let s9 = one.find("<ReturnedDebitItem ref=\"BRC9999\"").unwrap();
    let e9 = one[s9..].find("</ReturnedDebitItem>").unwrap() + s9 + 20;
    let twice = format!("{}{item_xml}{}", &one[..s9], &one[e9..]);
    let f = env.write("twice.xml", &twice);
    let j = env.json(&["collect", "results", &f]);
    assert_eq!(j["applied"].as_array().unwrap().len(), 1, "{j}");
    assert!(j["info"].to_string().contains("applied once"), "{j}");
    assert_eq!(
        count(
            &env,
            "SELECT COUNT(*) FROM charges WHERE source = 'dishonour_fee'"
        ),
        1
    );
    assert_eq!(item(&env, "INV-1").0, "dishonoured");
}
