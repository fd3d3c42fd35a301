//! Issue 15, a run's steps: customer setup check (item 6), the CDR check
//! carrier by carrier (10), cancelling runs and removing cycles (11), step
//! gating and expert permission (12), acknowledging missing carriers (13),
//! expected invoices, the processing state and the banner in `runs` (19).

use crate::support::Env;

const CUSTOMERS_HEADER: &str = "account,name,email,delivery,payment_method,bank_branch,bank_account,bank_account_name,iban,bic,mandate_ref,mandate_date,card_token,address1,address2,town,region,postcode,invoice_message,tax_exempt,cycle,min_invoice";
const CDR_HEADER: &str =
    "service,start,duration,destination,call_type,quantity,carrier_cost,record_id";

fn cdrs(lines: &[(&str, &str)]) -> String {
    let mut s = format!("{CDR_HEADER}\n");
    for (start, id) in lines {
        s.push_str(&format!(
            "01134960000,{start},60,+44 20 7946 0000,voice,,0.0200,{id}\n"
        ));
    }
    s
}

fn new_run(e: &Env, invoice: &str, cutoff: &str) -> String {
    e.json(&["new", "--invoice-date", invoice, "--cutoff", cutoff])["id"].to_string()
}

fn step<'a>(st: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no step {key}"))
}

/// Item 6: a Direct Debit customer without a mandate (accepted by the
/// bacs18 import), print delivery without a postal address, and bank
/// details that stop suiting `dd.format`, are listed by `prebill` and
/// `status` with their fix; the step holds `request` until confirmed.
#[test]
fn customer_setup_problems_are_listed_before_billing() {
    let e = Env::new();
    e.ok(&["init"]);
    let file = e.write(
        "customers.csv",
        &format!(
            "{CUSTOMERS_HEADER}\n\
             C1,Good Co,good@example.com,email,direct_debit,20-00-00,31415926,GOOD CO,,,M1,2025-01-01,,1 High St,,Leeds,,LS1 4AP,,false,monthly,\n\
             C2,No Mandate Ltd,nm@example.com,email,direct_debit,20-00-00,31415927,NO MANDATE,,,,,,2 High St,,Leeds,,LS1 4AP,,false,monthly,\n\
             C3,Paper Only,,print,manual,,,,,,,,,,,,,,,false,monthly,\n"
        ),
    );
    e.ok(&["customers", "import", &file]);
    let id = new_run(&e, "2026-12-01", "2026-11-30");

    let st = e.json(&["status", &id]);
    let s = step(&st, "check_setup");
    assert_eq!(s["state"], "todo", "{s}");
    let problems = st["setup_problems"].as_array().unwrap();
    let got: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| {
            (
                p["account"].as_str().unwrap(),
                p["columns"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("C2", "mandate_ref"), ("C3", "address1")]);
    assert!(
        problems[0]["fix"]
            .as_str()
            .unwrap()
            .contains("billrun customers import"),
        "{problems:?}"
    );
    let text = e.ok(&["status", &id]);
    assert!(text.contains("Check customer setup"), "{text}");
    assert!(
        text.contains("C2 No Mandate Ltd: Direct Debit without a mandate reference"),
        "{text}"
    );

    let pre = e.json(&["prebill", &id]);
    assert_eq!(pre["setup_problems"].as_array().unwrap().len(), 2, "{pre}");
    let text = e.ok(&["prebill", &id]);
    assert!(text.contains("Customer setup: 2 problems"), "{text}");

    // SEPA wants IBAN and BIC: the UK details no longer suit.
    e.ok(&["config", "set", "dd.format", "sepa"]);
    let st = e.json(&["status", &id]);
    let cols: Vec<&str> = st["setup_problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["account"] == "C1")
        .map(|p| p["columns"][0].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["iban", "bic"]);
    e.ok(&["config", "set", "dd.format", "bacs18"]);

    // The step holds the request until the operator accepts the problems.
    for s in ["payments", "cdrs", "errors"] {
        e.ok(&["confirm", &id, s]);
    }
    e.ok(&["prebill", &id]);
    e.ok(&["confirm", &id, "prebill"]);
    let err = e.fails(3, &["request", &id, "--yes", "--no-produce"]);
    assert!(err.contains("Check customer setup"), "{err}");
    e.ok(&["confirm", &id, "setup"]);
    let st = e.json(&["status", &id]);
    assert_eq!(step(&st, "check_setup")["state"], "done");
    assert_eq!(st["next"], "request");
}

/// Item 10: `status` compares carrier by carrier, and run 2's previous
/// period is run 1's own period, including its first day.
#[test]
fn cdr_check_compares_carriers_with_the_previous_runs_own_period() {
    let e = Env::new();
    e.ok(&["init"]);
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    e.ok(&["carriers", "add", "southern", "--format", "billrun"]);
    new_run(&e, "2026-11-01", "2026-10-31");
    let run2 = new_run(&e, "2026-12-01", "2026-11-30");
    let oct = e.write(
        "oct.csv",
        &cdrs(&[("2026-10-01T10:00:00", "A1"), ("2026-10-15T10:00:00", "A2")]),
    );
    let nov = e.write(
        "nov.csv",
        &cdrs(&[
            ("2026-11-10T10:00:00", "B1"),
            ("2026-11-11T10:00:00", "B2"),
            ("2026-11-12T10:00:00", "B3"),
        ]),
    );
    e.ok(&["cdr", "import", &oct, "--carrier", "northern"]);
    e.ok(&["cdr", "import", &nov, "--carrier", "northern"]);

    let st = e.json(&["status", &run2]);
    let northern = &st["cdr_carriers"][0];
    assert_eq!(northern["carrier"], "northern");
    assert_eq!(
        (
            &northern["files_this"],
            &northern["lines_this"],
            &northern["files_prev"],
            &northern["lines_prev"]
        ),
        (&1.into(), &3.into(), &1.into(), &2.into()),
        "run 1's period starts on 1 October: {st}"
    );
    assert_eq!(st["cdr_carriers"][1]["carrier"], "southern");
    let detail = step(&st, "check_cdrs")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        detail.starts_with("1 files, 3 CDR lines this period (previous 1 files, 2 lines)"),
        "{detail}"
    );
    let text = e.ok(&["status", &run2]);
    assert!(text.contains("previous period"), "{text}");
    assert!(
        text.lines().any(|l| l.contains("northern")
            && l.contains("1 files, 3 lines")
            && l.contains("1 files, 2 lines")),
        "{text}"
    );

    // `carriers list`: every column has its header.
    let text = e.ok(&["carriers", "list"]);
    let header = text.lines().find(|l| l.contains("carrier")).unwrap();
    assert!(
        header.contains("this period") && header.contains("previous period"),
        "{text}"
    );
    let row = text.lines().find(|l| l.contains("northern")).unwrap();
    assert_eq!(
        header.matches('│').count(),
        row.matches('│').count(),
        "{text}"
    );
}

/// Item 11: a mistaken run is cancelled (only before the request), stays
/// listed, and no longer holds `status --all --check`; a cycle goes once
/// it has no open run.
#[test]
fn cancel_a_run_and_remove_a_cycle() {
    let e = Env::new();
    e.ok(&["init"]);
    let id = new_run(&e, "2026-12-01", "2026-11-30");
    e.fails(3, &["status", "--all", "--check"]);
    let err = e.fails(3, &["cancel", &id]);
    assert!(err.contains("--yes"), "{err}");
    e.ok(&["cancel", &id, "--yes"]);

    let st = e.json(&["status", &id]);
    assert_eq!(st["run"]["status"], "cancelled");
    assert_eq!(st["next"], serde_json::Value::Null);
    let runs = e.ok(&["runs"]);
    assert!(
        runs.contains("cancelled") && runs.contains("Cancelled"),
        "{runs}"
    );
    e.ok(&["status", "--all", "--check"]);
    assert!(e.ok(&["status", &id]).contains("Run cancelled"));
    let audit = e.json(&["audit", &id]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "cancel" && a["detail"] == "pending → cancelled"),
        "{audit}"
    );
    // Nothing more happens to it; its name and date are free again.
    e.fails(3, &["confirm", &id, "payments"]);
    e.fails(3, &["set-dates", &id, "--due", "2026-12-20"]);
    e.fails(3, &["request", &id, "--expert", "--yes"]);
    e.fails(3, &["cancel", &id, "--yes"]);
    let again = new_run(&e, "2026-12-01", "2026-11-30");
    assert_ne!(again, id);
    assert_eq!(
        e.json(&["status", "2026-11"])["run"]["id"].to_string(),
        again
    );

    // Once requested, a run cannot be cancelled.
    e.ok(&["request", &again, "--expert", "--no-produce", "--yes"]);
    let err = e.fails(3, &["cancel", &again, "--yes"]);
    assert!(err.contains("can no longer be cancelled"), "{err}");

    // A cycle with an open run stays; without, it goes (audited).
    e.ok(&["cycles", "add", "--name", "weekly", "--day", "7"]);
    let w = e.json(&[
        "new",
        "--cycle",
        "weekly",
        "--invoice-date",
        "2026-12-07",
        "--cutoff",
        "2026-12-06",
    ])["id"]
        .to_string();
    let err = e.fails(3, &["cycles", "remove", "weekly"]);
    assert!(err.contains("open runs"), "{err}");
    e.ok(&["cancel", &w, "--yes"]);
    e.ok(&["cycles", "remove", "weekly"]);
    let cycles = e.json(&["cycles", "list"]);
    assert!(
        cycles
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "weekly"),
        "{cycles}"
    );
    e.fails(4, &["new", "--cycle", "weekly", "--name", "w2"]);
    e.fails(4, &["cycles", "remove", "weekly"]);
    let audit = e.json(&["audit"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "cycles remove" && a["detail"] == "weekly")
    );
}

/// Item 12: confirmations follow the checklist: payments need the dates,
/// fee errors the CDR check, errors with errors open a yes naming the
/// count and cost; `--expert` is a permission.
#[test]
fn confirmations_follow_the_checklist_and_expert_is_a_permission() {
    let e = Env::new();
    e.ok(&["init"]);
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let id = e.json(&["new"])["id"].to_string();
    let err = e.fails(3, &["confirm", &id, "payments"]);
    assert!(err.contains("set dates first"), "{err}");
    e.fails(3, &["confirm", &id, "cdrs"]);
    e.ok(&[
        "set-dates",
        &id,
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e.ok(&["confirm", &id, "payments"]);

    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
    let err = e.fails(3, &["confirm", &id, "fee-errors"]);
    assert!(err.contains("confirm the CDR check first"), "{err}");
    let st = e.json(&["status", &id]);
    assert_eq!(step(&st, "check_fee_errors")["state"], "blocked");

    // Unknown services: the CDRs are billing errors, open.
    let f = e.write(
        "nov.csv",
        &cdrs(&[("2026-11-10T10:00:00", "B1"), ("2026-11-11T10:00:00", "B2")]),
    );
    e.ok(&["cdr", "import", &f, "--carrier", "northern"]);
    e.ok(&["confirm", &id, "cdrs"]);
    let err = e.fails(3, &["confirm", &id, "errors"]);
    assert!(
        err.contains("2 billing errors open (carrier cost 0.04 at risk"),
        "{err}"
    );
    assert!(err.contains("--yes"), "{err}");
    e.ok(&["confirm", &id, "errors", "--yes"]);
    e.ok(&["confirm", &id, "fee-errors"]);

    // Expert mode: only the listed OS users.
    let me = whoami::username().unwrap_or_else(|_| "unknown".into());
    e.ok(&["config", "set", "expert.users", "someone-else,another"]);
    let err = e.fails(3, &["request", &id, "--expert", "--no-produce", "--yes"]);
    assert!(err.contains("expert.users"), "{err}");
    assert!(err.contains(&me), "{err}");
    // BILLRUN_OPERATOR (the audit name) does not grant it.
    let out = e
        .cmd()
        .env("BILLRUN_OPERATOR", "someone-else")
        .args(["request", &id, "--expert", "--no-produce", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    e.ok(&[
        "config",
        "set",
        "expert.users",
        &format!("someone-else, {me}"),
    ]);
    e.ok(&["request", &id, "--expert", "--no-produce", "--yes"]);
}

/// Item 12: `confirm postbill` needs the report run on the completed run.
#[test]
fn postbill_is_confirmed_only_after_its_report() {
    let e = Env::new().with_reference_data();
    crate::support::seed::produced_run(&e);
    let err = e.fails(3, &["confirm", "1", "postbill"]);
    assert!(err.contains("billrun postbill 1"), "{err}");
    e.ok(&["postbill", "1"]);
    e.ok(&["confirm", "1", "postbill"]);
}

/// Item 13: a carrier without a file is acknowledged explicitly, with a
/// reason, audited; `confirm cdrs` is refused until then.
#[test]
fn a_carrier_without_a_file_must_be_acknowledged() {
    let e = Env::new();
    e.ok(&["init"]);
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    e.ok(&["carriers", "add", "southern", "--format", "billrun"]);
    e.ok(&["carriers", "add", "western", "--format", "billrun"]);
    let id = new_run(&e, "2026-12-01", "2026-11-30");
    let f = e.write("nov.csv", &cdrs(&[("2026-11-10T10:00:00", "B1")]));
    e.ok(&["cdr", "import", &f, "--carrier", "northern"]);

    let err = e.fails(3, &["confirm", &id, "cdrs"]);
    assert!(
        err.contains("no CDR file this period from southern, western"),
        "{err}"
    );
    assert!(err.contains("--missing CARRIER --reason TEXT"), "{err}");
    e.fails(2, &["confirm", &id, "cdrs", "--missing", "southern"]);
    e.fails(
        2,
        &[
            "confirm",
            &id,
            "payments",
            "--missing",
            "southern",
            "--reason",
            "x",
        ],
    );
    e.fails(
        4,
        &[
            "confirm",
            &id,
            "cdrs",
            "--missing",
            "northern",
            "--reason",
            "x",
        ],
    );
    e.fails(
        4,
        &[
            "confirm",
            &id,
            "cdrs",
            "--missing",
            "nobody",
            "--reason",
            "x",
        ],
    );
    // One acknowledged, one not: still refused, and nothing is kept.
    e.fails(
        3,
        &[
            "confirm",
            &id,
            "cdrs",
            "--missing",
            "southern",
            "--reason",
            "closed",
        ],
    );
    let st = e.json(&["status", &id]);
    assert!(
        step(&st, "check_cdrs")["detail"]
            .as_str()
            .unwrap()
            .contains("no file from southern, western")
    );
    e.ok(&[
        "confirm",
        &id,
        "cdrs",
        "--missing",
        "southern",
        "--missing",
        "western",
        "--reason",
        "contract ended in October",
    ]);
    let st = e.json(&["status", &id]);
    let s = step(&st, "check_cdrs");
    assert_eq!(s["state"], "done");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .contains("acknowledged missing: southern (contract ended in October)"),
        "{s}"
    );
    let audit = e.json(&["audit", &id]);
    let acks: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "cdrs.missing")
        .map(|a| a["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        acks,
        [
            "no CDR file from southern acknowledged: contract ended in October",
            "no CDR file from western acknowledged: contract ended in October"
        ]
    );
}

/// Item 19: before production the expected invoices are shown, not
/// "0 of 0"; the pending-files banner is in `runs` too; a file left
/// `processing` by a killed `cdr process` shows as such and is taken up
/// again by the next one.
#[test]
fn expected_invoices_banner_in_runs_and_processing_files() {
    let e = Env::new().with_reference_data();
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let id = new_run(&e, "2026-12-01", "2026-11-30");
    let st = e.json(&["status", &id]);
    let prod = step(&st, "production")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(prod.contains("invoices expected"), "{prod}");
    assert!(!prod.contains("0 of 0"), "{prod}");
    e.ok(&["prebill", &id]);
    e.ok(&["request", &id, "--expert", "--no-produce", "--yes"]);
    let st = e.json(&["status", &id]);
    let prod = step(&st, "production")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    let expected = e.json(&["prebill", &id])["totals"]["invoices"].clone();
    assert_eq!(
        prod,
        format!("0 PDFs ready; {expected} invoices expected (pre-billing report)")
    );

    let f = e.write(
        "nov.csv",
        &cdrs(&[("2026-11-10T10:00:00", "B1"), ("2026-11-11T10:00:00", "B2")]),
    );
    e.ok(&["cdr", "import", &f, "--carrier", "northern", "--no-process"]);
    let runs = e.ok(&["runs"]);
    assert!(runs.contains("CDR files: 1 pending"), "{runs}");

    // A `cdr process` killed mid-file left it `processing`.
    rusqlite::Connection::open(&e.db)
        .unwrap()
        .execute("UPDATE cdr_files SET state = 'processing'", [])
        .unwrap();
    let runs = e.ok(&["runs"]);
    assert!(runs.contains("CDR files: 1 processing"), "{runs}");
    let st = e.json(&["status", &id]);
    assert_eq!(st["banner"]["processing_cdr_files"], 1);
    e.ok(&["cdr", "process"]);
    let st = e.json(&["status", &id]);
    assert_eq!(st["banner"]["processing_cdr_files"], 0);
    let files = e.json(&["cdr", "list"]);
    assert_eq!(files[0]["state"], "processed", "{files}");
    assert!(!e.ok(&["runs"]).contains("CDR files:"));
}

/// Item 19: while `cdr process` rates a large file, the file shows
/// `processing` (the state is committed before the work).
#[test]
fn a_file_shows_processing_while_it_is_rated() {
    let e = Env::new();
    e.ok(&["init"]);
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let mut body = format!("{CDR_HEADER}\n");
    for i in 0..300_000u32 {
        body.push_str(&format!(
            "01134960000,2026-11-{:02}T{:02}:{:02}:{:02},60,+44 20 7946 0000,voice,,0.0200,R{i}\n",
            1 + i % 28,
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60
        ));
    }
    let f = e.write("big.csv", &body);
    e.ok(&["cdr", "import", &f, "--carrier", "northern", "--no-process"]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"))
        .arg("--db")
        .arg(&e.db)
        .args(["cdr", "process"])
        .env("BILLRUN_OPERATOR", "tester")
        .env_remove("BILLRUN_DB")
        .current_dir(e.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let conn = rusqlite::Connection::open(&e.db).unwrap();
    let mut seen = false;
    loop {
        let state: String = conn
            .query_row("SELECT state FROM cdr_files", [], |r| r.get(0))
            .unwrap();
        seen |= state == "processing";
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(child.wait().unwrap().success());
    assert!(seen, "the file never showed `processing`");
    let state: String = conn
        .query_row("SELECT state FROM cdr_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "processed");
}
