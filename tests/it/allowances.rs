//! Inclusive allowances (README "Allowances", docs/rating.md#inclusive-allowances):
//! the import, pro-rata, pools, partial coverage, order independence,
//! unlimited allowances and waiting CDRs, through the real binary. Every
//! figure is worked by hand in the comments.
//!
//! Reference data: tariff STD charges voice 0.60/min per second (1/1) with
//! a 0.05 flagfall, sms 0.10 per message. The run's cutoff is 2026-10-31, a
//! cycle's first run: its period is 2026-10-01 … 2026-10-31 (31 days).

use crate::support::Env;
use serde_json::Value;

const TARIFFS: &str = "tariff,prefix,description,call_type,band,flagfall,rate,increment\n\
    STD,,Calls,voice,all,0.05,0.60,1/1\n\
    STD,,Texts,sms,all,0,0.10,1/1\n";
const PLANS: &str = "plan,name,monthly_fee,tariff\n\
    MOB,Mobile,0,STD\n\
    SHARE,Shared,0,STD\n";
const CUSTOMERS: &str = "account,name,delivery,payment_method\n\
    A1,Ann,print,manual\n\
    A2,Bob,print,manual\n\
    A3,Cat,print,manual\n";
// S2 starts on 17 Oct: active 15 of the period's 31 days.
const SERVICES: &str = "service,account,plan,start_date\n\
    07700000001,A1,MOB,2026-01-01\n\
    07700000002,A2,MOB,2026-10-17\n\
    07700000031,A3,SHARE,2026-01-01\n\
    07700000032,A3,SHARE,2026-10-17\n";
const ALLOWANCES: &str = "plan,name,call_type,prefixes,quantity,pooled\n\
    MOB,UK minutes,voice,44,10,no\n\
    MOB,Texts,sms,,unlimited,no\n\
    SHARE,Shared minutes,voice,,10,yes\n";

fn setup() -> Env {
    let e = Env::new();
    e.ok(&["init"]);
    for (what, body) in [
        ("tariffs", TARIFFS),
        ("plans", PLANS),
        ("customers", CUSTOMERS),
        ("services", SERVICES),
        ("allowances", ALLOWANCES),
    ] {
        let f = e.write(&format!("{what}.csv"), body);
        e.ok(&[what, "import", &f]);
    }
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    e
}

const HEADER: &str =
    "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n";

fn import(e: &Env, name: &str, lines: &[&str]) {
    let body = format!("{HEADER}{}\n", lines.join("\n"));
    let f = e.write(name, &body);
    e.ok(&["cdr", "import", &f, "--carrier", "northern"]);
}

fn new_run(e: &Env, name: &str, invoice_date: &str, cutoff: &str) {
    e.ok(&[
        "new",
        "--name",
        name,
        "--invoice-date",
        invoice_date,
        "--cutoff",
        cutoff,
    ]);
}

fn customer<'a>(pre: &'a Value, account: &str) -> &'a Value {
    pre["customers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == account)
        .unwrap_or_else(|| panic!("no {account} in {pre}"))
}

/// (name, included, used, remaining) of one allowance.
type Figures = (String, String, String, String);

/// The figures of each allowance of a row or invoice.
fn figures(v: &Value) -> Vec<Figures> {
    v["allowances"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let s = |k: &str| x[k].as_str().unwrap().to_string();
                    (s("name"), s("included"), s("used"), s("remaining"))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn t(name: &str, inc: &str, used: &str, rem: &str) -> Figures {
    (name.into(), inc.into(), used.into(), rem.into())
}

#[test]
fn import_and_list() {
    let e = setup();
    let list = e.json(&["allowances", "list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[0]["plan"], "MOB");
    assert_eq!(list[0]["name"], "UK minutes");
    assert_eq!(list[0]["prefixes"], "44");
    assert_eq!(list[1]["quantity"], "unlimited");
    assert_eq!(list[2]["pooled"], true);
    let table = e.ok(&["allowances", "list"]);
    assert!(
        table.contains("Shared minutes") && table.contains("yes"),
        "{table}"
    );
    // Re-importing updates in place and keeps the listed order.
    let f = e.write(
        "more.csv",
        "plan,name,call_type,prefixes,quantity,pooled\nMOB,Texts,sms,,100,no\nMOB,Roaming,voice,33,5,no\n",
    );
    let out = e.ok(&["allowances", "import", &f]);
    assert!(out.contains("1 allowances added, 1 updated"), "{out}");
    let list = e.json(&["allowances", "list", "--json"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["UK minutes", "Texts", "Roaming", "Shared minutes"]);
    assert_eq!(list[1]["quantity"], "100");
}

#[test]
fn a_bad_allowances_file_is_refused_whole_with_line_and_column() {
    let e = setup();
    let before = e.snapshot();
    let listed = e.json(&["allowances", "list", "--json"]);
    let f = e.write(
        "bad.csv",
        "plan,name,call_type,prefixes,quantity,pooled\n\
         MOB,Extra,voice,,5,no\n\
         NOPE,UK,voice,,10,no\n\
         MOB,Bad,fax,+44,1.5,maybe\n\
         MOB,Extra,sms,,5,no\n",
    );
    let err = e.fails(4, &["allowances", "import", &f]);
    for want in [
        "bad.csv:3:1: plan: unknown plan 'NOPE'",
        "bad.csv:4:3: call_type:",
        "bad.csv:4:4: prefixes: '+44' is not a normalised prefix",
        "bad.csv:4:5: quantity: '1.5' is not a quantity",
        "bad.csv:4:6: pooled: 'maybe' is not yes or no",
        "bad.csv:5:2: name: duplicate allowance 'Extra' of plan 'MOB' (first on line 2)",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    // All or nothing: the good line 2 was not imported either.
    assert_eq!(e.snapshot(), before);
    assert_eq!(e.json(&["allowances", "list", "--json"]), listed);
    let missing = e.write("missing.csv", "plan,name,quantity\nMOB,X,5\n");
    let err = e.fails(4, &["allowances", "import", &missing]);
    assert!(
        err.contains("call_type") && err.contains("required column"),
        "{err}"
    );
    let unknown = e.write(
        "unknown.csv",
        "plan,name,call_type,quantity,colour\nMOB,X,voice,5,red\n",
    );
    let err = e.fails(4, &["allowances", "import", &unknown]);
    assert!(
        err.contains("unknown.csv:1:5: colour: unknown column"),
        "{err}"
    );
    assert_eq!(e.snapshot(), before);
}

#[test]
fn pro_rata_for_a_service_activated_mid_period() {
    let e = setup();
    // S2 is active 15 of 31 days: 10 × 15/31 = 4.8 → 4 minutes (240 s).
    // A 360 s call: 240 s covered, 120 s charged 0.60 × 120/60 = 1.20 (no
    // flagfall; as rated it cost 0.05 + 3.60 = 3.65).
    import(
        &e,
        "a.csv",
        &["07700000002,2026-10-20T10:00:00,360,+44 20 7946 0000,voice,,0,R1"],
    );
    new_run(&e, "2026-10", "2026-11-01", "2026-10-31");
    let pre = e.json(&["prebill", "2026-10"]);
    let a2 = customer(&pre, "A2");
    assert_eq!(a2["usage"], "1.20");
    assert_eq!(
        figures(a2),
        [
            t("UK minutes", "4:00", "4:00", "0:00"),
            t("Texts", "unlimited", "0", "unlimited")
        ]
    );
    assert_eq!(a2["allowances"][0]["services"][0], "07700000002");
    assert_eq!(a2["allowances"][0]["included_units"], 240);
    // A1 (active all month) has the whole 10 minutes, unused.
    assert_eq!(
        figures(customer(&pre, "A1"))[0],
        t("UK minutes", "10:00", "0:00", "10:00")
    );
    // The usage by carrier is after allowances too.
    assert_eq!(pre["by_carrier"][0]["usage"], "1.20");
    let table = e.ok(&["prebill", "2026-10"]);
    assert!(
        table.contains("remaining") && table.contains("4:00"),
        "{table}"
    );
}

#[test]
fn a_pooled_allowance_over_two_services() {
    let e = setup();
    // The pool of A3: 10 (S31, all month) + 4 (S32, 15/31 days) = 14
    // minutes = 840 s. S31 talks 600 s, then S32 300 s: 240 s covered, 60 s
    // charged 0.60. Another customer's pool is not shared.
    import(
        &e,
        "a.csv",
        &[
            "07700000031,2026-10-18T10:00:00,600,+44 20 7946 0000,voice,,0,R1",
            "07700000032,2026-10-19T10:00:00,300,+33 1 2345 6789,voice,,0,R2",
        ],
    );
    new_run(&e, "2026-10", "2026-11-01", "2026-10-31");
    let pre = e.json(&["prebill", "2026-10"]);
    let a3 = customer(&pre, "A3");
    assert_eq!(a3["usage"], "0.60");
    assert_eq!(figures(a3), [t("Shared minutes", "14:00", "14:00", "0:00")]);
    assert_eq!(a3["allowances"][0]["pooled"], true);
    assert_eq!(
        a3["allowances"][0]["services"],
        serde_json::json!(["07700000031", "07700000032"])
    );
    e.ok(&["request", "2026-10", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-10"]);
    let a3 = inv
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == "A3")
        .unwrap();
    assert_eq!(figures(a3), [t("Shared minutes", "14:00", "14:00", "0:00")]);
    let usage: Vec<(&str, &str)> = a3["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["category"] == "usage")
        .map(|l| {
            (
                l["service"].as_str().unwrap(),
                l["amount"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(usage, [("07700000031", "0.00"), ("07700000032", "0.60")]);
    let text = pdftotext(a3["pdf"].as_str().unwrap());
    assert!(text.contains("Inclusive allowances"), "{text}");
    assert!(text.contains("07700000031, 07700000032 (pooled)"), "{text}");
}

fn pdftotext(path: &str) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path, "-"])
        .output()
        .expect("pdftotext (poppler-utils) is needed: apt-get install poppler-utils");
    assert!(out.status.success(), "pdftotext rejected {path}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_call_straddling_the_boundary_pays_only_its_uncovered_seconds() {
    let e = setup();
    // A1 has 10 UK minutes (prefix 44) = 600 s. 540 s covered (0.00), then
    // a 120 s call: 60 s covered, 60 s charged 0.60 × 60/60 = 0.60 — no
    // flagfall (as rated 0.05 + 1.20 = 1.25). A French call is not UK: as
    // rated, 0.05 + 0.60 = 0.65. Then the allowance is spent: 60 s = 0.65.
    import(
        &e,
        "a.csv",
        &[
            "07700000001,2026-10-02T10:00:00,540,+44 20 7946 0000,voice,,0,R1",
            "07700000001,2026-10-03T10:00:00,60,+33 1 2345 6789,voice,,0,R2",
            "07700000001,2026-10-04T10:00:00,120,+44 20 7946 0001,voice,,0,R3",
            "07700000001,2026-10-05T10:00:00,60,+44 20 7946 0002,voice,,0,R4",
        ],
    );
    new_run(&e, "2026-10", "2026-11-01", "2026-10-31");
    let pre = e.json(&["prebill", "2026-10"]);
    let a1 = customer(&pre, "A1");
    // 0.00 + 0.65 + 0.60 + 0.65
    assert_eq!(a1["usage"], "1.90");
    assert_eq!(figures(a1)[0], t("UK minutes", "10:00", "10:00", "0:00"));
    e.ok(&["request", "2026-10", "--expert", "--yes"]);
    let inv = e.json(&["invoices", "2026-10"]);
    let a1 = inv
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == "A1")
        .unwrap();
    assert_eq!(a1["charges_ex_tax"], "1.90");
    assert_eq!(figures(a1)[0], t("UK minutes", "10:00", "10:00", "0:00"));
    // The itemised calls show what each call cost after the allowance.
    let text = pdftotext(a1["pdf"].as_str().unwrap());
    let charge_of = |dest: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.contains(dest))
            .unwrap_or_else(|| panic!("{dest} not itemised:\n{text}"));
        line.split_whitespace().last().unwrap().to_string()
    };
    assert_eq!(charge_of("442079460000"), "0.00");
    assert_eq!(charge_of("33123456789"), "0.65");
    assert_eq!(charge_of("442079460001"), "0.60");
    assert_eq!(charge_of("442079460002"), "0.65");
    assert!(text.contains("Inclusive allowances"), "{text}");
    let number = a1["number"].as_str().unwrap();
    let shown = e.ok(&["invoices", "show", number]);
    assert!(
        shown.contains("UK minutes") && shown.contains("10:00"),
        "{shown}"
    );
    // The stored CDRs keep the rated charge and the charge after allowances.
    let conn = crate::support::db(&e);
    let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = conn
        .prepare("SELECT record_id, charge_minor, covered, charged_minor FROM cdrs ORDER BY start")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            ("R1".into(), 545, Some(540), Some(0)),
            ("R2".into(), 65, None, None),
            ("R3".into(), 125, Some(60), Some(60)),
            ("R4".into(), 65, None, None),
        ]
    );
}

/// The usage and allowance figures of every customer of a fresh run.
fn outcome(e: &Env) -> Vec<(String, String, Vec<Figures>)> {
    new_run(e, "2026-10", "2026-11-01", "2026-10-31");
    let pre = e.json(&["prebill", "2026-10"]);
    pre["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["account"].as_str().unwrap().to_string(),
                c["usage"].as_str().unwrap().to_string(),
                figures(c),
            )
        })
        .collect()
}

#[test]
fn out_of_order_files_give_the_same_result_as_in_order() {
    let early = [
        "07700000001,2026-10-02T10:00:00,400,+44 20 7946 0000,voice,,0,R1",
        "07700000031,2026-10-02T11:00:00,500,+44 20 7946 0000,voice,,0,R2",
    ];
    // R3 and R4 start in the same second: the record id decides (R3 first).
    let late = [
        "07700000001,2026-10-09T10:00:00,300,+44 20 7946 0001,voice,,0,R4",
        "07700000001,2026-10-09T10:00:00,100,+44 20 7946 0002,voice,,0,R3",
        "07700000032,2026-10-20T10:00:00,500,+44 20 7946 0003,voice,,0,R5",
    ];
    let in_order = setup();
    import(&in_order, "early.csv", &early);
    import(&in_order, "late.csv", &late);
    let reversed = setup();
    import(&reversed, "late.csv", &late);
    import(&reversed, "early.csv", &early);
    let a = outcome(&in_order);
    assert_eq!(a, outcome(&reversed));
    // A1: 400 s covered; R3 100 s covered (500 of 600); R4 300 s: 100
    // covered, 200 s at 0.60/min = 2.00. A3: the pool of 840 s covers R2's
    // 500 s, then 340 s of R5; 160 s at 0.60/min = 1.60.
    let a1 = a.iter().find(|c| c.0 == "A1").unwrap();
    assert_eq!(a1.1, "2.00");
    let a3 = a.iter().find(|c| c.0 == "A3").unwrap();
    assert_eq!(a3.1, "1.60");
    // The same per-CDR outcome once produced.
    let charged = |e: &Env| {
        // Every invoice's calls go to NUMBER-calls.csv (checked below).
        e.ok(&["config", "set", "invoice.itemise_max_lines", "0"]);
        e.ok(&["request", "2026-10", "--expert", "--yes"]);
        let conn = crate::support::db(e);
        conn.prepare(
            "SELECT record_id, COALESCE(charged_minor, charge_minor) FROM cdrs ORDER BY record_id",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect::<Vec<_>>()
    };
    let produced = charged(&in_order);
    assert_eq!(produced, charged(&reversed));
    assert_eq!(
        produced,
        [
            ("R1".into(), 0),
            ("R2".into(), 0),
            ("R3".into(), 0),
            ("R4".into(), 200),
            ("R5".into(), 160)
        ]
    );
    // The itemised calls file shows the charges after allowances.
    let inv = in_order.json(&["invoices", "2026-10"]);
    let a1 = inv
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == "A1")
        .unwrap();
    let csv = std::fs::read_to_string(a1["calls_file"].as_str().unwrap()).unwrap();
    let amounts: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    // By service, start, CDR id: R1, then R4 (imported before R3) and R3.
    assert_eq!(amounts, ["0.00", "2.00", "0.00"], "{csv}");
    let text = pdftotext(a1["pdf"].as_str().unwrap());
    assert!(
        text.contains("Usage summary") && text.contains("2.00"),
        "{text}"
    );
}

#[test]
fn an_unlimited_allowance_covers_everything() {
    let e = setup();
    // 500 texts from A1 (0.10 each as rated = 50.00): all covered.
    import(
        &e,
        "t.csv",
        &["07700000001,2026-10-02T10:00:00,,+44 7700 900123,sms,500,0,T1"],
    );
    new_run(&e, "2026-10", "2026-11-01", "2026-10-31");
    let pre = e.json(&["prebill", "2026-10"]);
    let a1 = customer(&pre, "A1");
    assert_eq!(a1["usage"], "0.00");
    assert_eq!(figures(a1)[1], t("Texts", "unlimited", "500", "unlimited"));
    assert_eq!(a1["allowances"][1]["included_units"], "unlimited");
    assert_eq!(a1["allowances"][1]["unit"], "messages");
}

#[test]
fn waiting_cdrs_do_not_consume_this_periods_allowance() {
    let e = setup();
    // A 600 s call on 2 Nov is after the October cutoff: it waits, and
    // October's 10 minutes stay whole. November's run (period 1–30 Nov, from
    // the day after October's cutoff) covers it with November's allowance.
    import(
        &e,
        "w.csv",
        &[
            "07700000001,2026-10-30T10:00:00,60,+44 20 7946 0000,voice,,0,R1",
            "07700000001,2026-11-02T10:00:00,600,+44 20 7946 0000,voice,,0,R2",
        ],
    );
    new_run(&e, "2026-10", "2026-11-01", "2026-10-31");
    let pre = e.json(&["prebill", "2026-10"]);
    assert_eq!(pre["waiting_cdrs"], 1);
    let a1 = customer(&pre, "A1");
    assert_eq!(a1["usage"], "0.00");
    assert_eq!(figures(a1)[0], t("UK minutes", "10:00", "1:00", "9:00"));
    e.ok(&["request", "2026-10", "--expert", "--yes"]);
    new_run(&e, "2026-11", "2026-12-01", "2026-11-30");
    let pre = e.json(&["prebill", "2026-11"]);
    let a1 = customer(&pre, "A1");
    assert_eq!(a1["usage"], "0.00");
    assert_eq!(figures(a1)[0], t("UK minutes", "10:00", "10:00", "0:00"));
}
