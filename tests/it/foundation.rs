//! Foundation: database, settings, reference imports, run lifecycle, checklist.

use crate::support::{Env, fixture};

#[test]
fn init_is_idempotent_and_private() {
    let e = Env::new();
    e.ok(&["init"]);
    e.ok(&["init"]);
    let v = e.json(&["init"]);
    assert!(v["schema_version"].as_u64().unwrap() >= 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&e.db).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn db_path_comes_from_env_when_no_flag() {
    let e = Env::new();
    let mut c = assert_cmd::Command::cargo_bin("billrun").unwrap();
    c.env("BILLRUN_DB", e.path("env.db"))
        .arg("init")
        .assert()
        .success();
    assert!(e.path("env.db").exists());
}

#[test]
fn config_validates_keys_and_values() {
    let e = Env::new();
    e.ok(&["init"]);
    e.ok(&["config", "set", "tax.rate", "0.10"]);
    assert_eq!(e.ok(&["config", "get", "tax.rate"]).trim(), "0.10");
    assert_eq!(e.ok(&["config", "get", "invoice.due_days"]).trim(), "14");
    let err = e.fails(4, &["config", "set", "tax.rat", "0.1"]);
    assert!(err.contains("unknown setting 'tax.rat'"), "{err}");
    let err = e.fails(4, &["config", "set", "dd.format", "swift"]);
    assert!(err.contains("expected one of bacs18, aba, sepa"), "{err}");
    let list = e.json(&["config", "list"]);
    assert_eq!(list["tax.rate"], "0.10");
    assert_eq!(list["currency"], "GBP");
}

#[test]
fn reference_data_imports_and_lists() {
    let e = Env::new().with_reference_data();
    let customers = e.json(&["customers", "list"]);
    assert_eq!(customers.as_array().unwrap().len(), 25);
    // Bank account numbers are masked in listings.
    let c1 = &customers[0];
    assert_eq!(c1["account"], "C1001");
    assert!(c1["bank"].as_str().unwrap().starts_with("****"), "{c1}");
    assert_eq!(e.json(&["plans", "list"]).as_array().unwrap().len(), 3);
    assert!(e.json(&["tariffs", "list"]).as_array().unwrap().len() > 10);
    // Re-import is an upsert: nothing new.
    let v = e.json(&[
        "customers",
        "import",
        fixture("customers.csv").to_str().unwrap(),
    ]);
    assert_eq!(v["inserted"], 0);
    assert_eq!(v["updated"], 25);
}

/// Each bad-input case: exit 4, names file:line:column, changes nothing.
#[test]
fn bad_reference_files_change_nothing_and_name_the_place() {
    let e = Env::new().with_reference_data();
    let before = e.snapshot();
    let cases: &[(&str, &str, &str, &[&str])] = &[
        (
            "customers",
            "bad-enum.csv",
            "account,name,email,delivery,payment_method\nC9001,New,new@example.com,fax,manual\n",
            &["bad-enum.csv:2:4: delivery: 'fax' is not one of email, print, both"],
        ),
        (
            "customers",
            "missing-col.csv",
            "account,name,email,payment_method\nC9001,New,new@example.com,manual\n",
            &["missing-col.csv:1: delivery: required column is missing"],
        ),
        (
            "services",
            "bad-date.csv",
            "service,account,plan,start_date\n07700900999,C1001,MOBILE,2026-02-30\n",
            &["bad-date.csv:2:4: start_date: '2026-02-30' is not a date YYYY-MM-DD"],
        ),
        (
            "plans",
            "bad-decimal.csv",
            "plan,name,monthly_fee,tariff\nNEW,New plan,£12,STD\n",
            &["bad-decimal.csv:2:3: monthly_fee:"],
        ),
        (
            "services",
            "dangling.csv",
            "service,account,plan,start_date\n07700900999,C9999,MOBILE,2026-01-01\n07700900998,C1001,GOLD,2026-01-01\n",
            &[
                "dangling.csv:2:2: account: unknown account 'C9999'",
                "dangling.csv:3:3: plan: unknown plan 'GOLD'",
            ],
        ),
        (
            "tariffs",
            "dup-key.csv",
            "tariff,prefix,description,call_type,band,rate\nSTD,44,UK,voice,peak,0.1\nSTD,44,UK again,voice,peak,0.2\n",
            &["dup-key.csv:3:2: prefix: duplicate key"],
        ),
        (
            "customers",
            "many.csv",
            // Good rows and bad rows: every bad row reported, none imported.
            "account,name,email,delivery,payment_method,card_token\nC9001,Ok,ok@example.com,email,manual,\nC9002,,x@example.com,email,card,\nC9003,Bad,,email,manual,\n",
            &[
                "many.csv:3:2: name: required value is empty",
                "many.csv:3:6: card_token: required",
                "many.csv:4:3: email: required when delivery is email",
            ],
        ),
    ];
    for (what, name, body, expect) in cases {
        let path = e.write(name, body);
        let err = e.fails(4, &[what, "import", &path]);
        for x in *expect {
            assert!(err.contains(x), "{name}: expected `{x}` in:\n{err}");
        }
        assert!(err.contains("nothing was changed"), "{err}");
        assert_eq!(e.snapshot(), before, "{name} changed the database");
    }
    // A missing file is bad input too.
    let err = e.fails(4, &["customers", "import", "no-such-file.csv"]);
    assert!(err.contains("no-such-file.csv"), "{err}");
}

#[test]
fn story_from_init_to_requested() {
    let e = Env::new().with_reference_data();
    let run = e.json(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    assert_eq!(run["name"], "2026-11");
    assert_eq!(run["due_date"], "2026-12-15");
    let id = run["id"].to_string();
    let st = e.json(&["status", &id]);
    assert_eq!(st["run"]["status"], "pending");
    assert_eq!(st["banner"]["pending_cdr_files"], 0);
    assert_eq!(st["next"], "check_payments");
    let keys: Vec<&str> = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys[0], "set_dates");
    assert_eq!(keys.last(), Some(&"complete"));
    assert_eq!(
        st["steps"][4]["state"], "blocked",
        "errors step waits for the CDR check"
    );

    // Refused transitions name the step to do first (exit 3).
    let err = e.fails(3, &["confirm", &id, "errors"]);
    assert!(err.contains("billrun confirm 1 cdrs"), "{err}");
    let err = e.fails(3, &["request", &id, "--yes"]);
    assert!(err.contains("Check payments"), "{err}");
    let err = e.fails(3, &["confirm", &id, "postbill"]);
    assert!(err.contains("after production"), "{err}");

    e.ok(&["confirm", &id, "payments"]);
    e.ok(&["confirm", &id, "cdrs"]);
    e.ok(&["confirm", &id, "errors"]);
    e.ok(&["approve", &id]);
    assert_eq!(e.json(&["status", &id])["run"]["status"], "approved");
    // Changing a date after sign-off withdraws it.
    e.ok(&["set-dates", &id, "--due", "2026-12-20"]);
    let st = e.json(&["status", &id]);
    assert_eq!(st["run"]["status"], "pending");
    assert_eq!(st["run"]["due_date"], "2026-12-20");

    // Without a terminal and without --yes, the confirmation is refused.
    let err = e.fails(3, &["request", &id, "--expert"]);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(e.json(&["status", &id])["run"]["status"], "pending");

    e.ok(&["request", &id, "--expert", "--no-produce", "--yes"]);
    let st = e.json(&["status", &id]);
    assert_eq!(st["run"]["status"], "requested");
    assert_eq!(st["steps"][2]["state"], "done");
    assert_eq!(st["steps"][6]["state"], "skipped");
    assert!(
        st["steps"][6]["detail"]
            .as_str()
            .unwrap()
            .contains("--expert by tester")
    );
    assert_eq!(st["next"], "production");

    // Locked: fields and pre-billing confirmations refused.
    let err = e.fails(3, &["set-dates", &id, "--due", "2026-12-30"]);
    assert!(err.contains("locked"), "{err}");
    e.fails(3, &["request", &id, "--yes"]);
    e.fails(3, &["confirm", &id, "payments"]);

    let audit = e.json(&["audit", &id]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "new",
            "confirm",
            "confirm",
            "confirm",
            "approve",
            "prebill",
            "set-dates",
            "reopen",
            "request"
        ]
    );
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["operator"] == "tester")
    );
    assert!(audit[8]["detail"].as_str().unwrap().contains("--expert"));
    assert!(audit[8]["command"].as_str().unwrap().contains("request"));
}

#[test]
fn status_check_exits_3_when_an_operator_is_needed() {
    let e = Env::new().with_reference_data();
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e.fails(3, &["status", "--check"]);
    let all = e.json(&["status", "--all"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    e.fails(4, &["status", "99"]);
}

#[test]
fn cycles_tick_is_idempotent() {
    let e = Env::new();
    e.ok(&["init"]);
    e.ok(&[
        "cycles",
        "add",
        "--name",
        "mid",
        "--day",
        "15",
        "--due-days",
        "10",
    ]);
    let created = e.json(&["cycles", "tick", "--today", "2026-12-03"]);
    let names: Vec<&str> = created
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["mid-2026-11-15", "monthly-2026-12-01"]);
    assert_eq!(created[0]["cutoff_date"], "2026-11-14");
    assert_eq!(created[0]["due_date"], "2026-11-25");
    let again = e.json(&["cycles", "tick", "--today", "2026-12-03"]);
    assert_eq!(again.as_array().unwrap().len(), 0);
    assert_eq!(e.json(&["runs"]).as_array().unwrap().len(), 2);
    e.fails(4, &["cycles", "add", "--name", "bad", "--day", "32"]);
}

#[test]
fn usage_errors_exit_2() {
    let e = Env::new();
    e.fails(2, &["no-such-command"]);
    e.fails(2, &["new", "--cutoff", "30/11/2026"]);
}

#[test]
fn shipped_completions_match_the_binary() {
    for (shell, file) in [
        ("bash", "billrun.bash"),
        ("zsh", "_billrun"),
        ("fish", "billrun.fish"),
    ] {
        let out = Env::new().ok(&["completions", shell]);
        let shipped = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("completions")
                .join(file),
        )
        .unwrap_or_else(|_| {
            panic!("completions/{file} missing: regenerate with billrun completions {shell}")
        });
        assert_eq!(
            out, shipped,
            "completions/{file} is stale: regenerate with `billrun completions {shell} > completions/{file}`"
        );
    }
}
