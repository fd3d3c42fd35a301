//! Issue 15, collection: payment files left out of place by an interrupted
//! `collect` (item 2), and card charges with a refused key, secrets in
//! gateway text and an unencrypted `stripe.api_base` (item 16).
//!
//! The kill between the commit of a payment run and the rename of its file
//! is simulated with `BILLRUN_TEST_STOP_AFTER_COMMIT=1` (debug builds only:
//! the process exits right after the commit, leaving the staged file).

use crate::support::Env;
use crate::support::stripe::{FakeStripe, Reply};
use std::path::{Path, PathBuf};

const HEADER: &str = "account,name,email,delivery,payment_method,bank_branch,bank_account,bank_account_name,iban,bic,mandate_ref,mandate_date,card_token";

const BACS: &[(&str, &str)] = &[
    ("dd.format", "bacs18"),
    ("dd.sun", "123456"),
    ("dd.sort_code", "40-11-62"),
    ("dd.account", "71584685"),
    ("dd.name", "FOUR NINES TELECOM"),
];

const KEY: &str = "sk_test_collect";

/// init, settings, customers, and a completed run 1 with one invoice per
/// `(account, amount due in minor units)`, as production leaves them.
fn setup(settings: &[(&str, &str)], rows: &[&str], invoices: &[(&str, i64)]) -> Env {
    let env = Env::new();
    env.ok(&["init"]);
    for (k, v) in settings {
        env.ok(&["config", "set", k, v]);
    }
    let mut csv = String::from(HEADER);
    for r in rows {
        csv.push('\n');
        csv.push_str(r);
    }
    csv.push('\n');
    let f = env.write("customers.csv", &csv);
    env.ok(&["customers", "import", &f]);
    let out = env.json(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let run = out["id"].as_i64().unwrap();
    let due = out["due_date"].as_str().unwrap().to_string();
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    for (seq, (account, amount)) in invoices.iter().enumerate() {
        conn.execute(
            "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date, cutoff_date,
                 currency, opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor,
                 total_charges_minor, amount_due_minor, delivery, payment_method, created_at)
             SELECT ?1, 'INV-' || ?2, ?2, account, '2026-12-01', ?3, '2026-11-30', 'GBP', 0, 0,
                 ?4, 0, ?4, ?4, delivery, payment_method, 'now' FROM customers WHERE account = ?5",
            rusqlite::params![run, seq as i64 + 1, due, amount, account],
        )
        .unwrap();
    }
    conn.execute(
        "UPDATE runs SET status = 'completed', requested_at = 'now', completed_at = 'now' WHERE id = ?1",
        [run],
    )
    .unwrap();
    env
}

fn dd_env() -> Env {
    setup(
        BACS,
        &[
            "U1,Harbour Cafe,,print,direct_debit,20-00-00,31415926,HARBOUR CAFE LTD,,,BRC1001,2025-01-01,",
            "U2,Northgate Dental,,print,direct_debit,21-13-29,31687754,NORTHGATE DENTAL,,,BRC1002,2025-02-02,",
            "U4,Kiln Architects,,print,card,,,,,,,,pm_demo7945610009911",
        ],
        &[("U1", 3600), ("U2", 4800), ("U4", 2500)],
    )
}

fn card_env() -> Env {
    setup(
        &[],
        &[
            "K1,Kiln Architects,,print,card,,,,,,,,pm_card_visa_0001111",
            "K2,Brightside,,print,card,,,,,,,,pm_card_visa_2222222",
            "K3,Three Oaks,,print,card,,,,,,,,pm_card_visa_3333333",
        ],
        &[("K1", 4550), ("K2", 1000), ("K3", 2000)],
    )
}

fn sql_i64(env: &Env, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn sql_str(env: &Env, sql: &str) -> String {
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn step(env: &Env, key: &str) -> serde_json::Value {
    crate::support::step(&env.json(&["status", "1"]), key)
}

/// The staged copies (`.NAME.XXXXXX.tmp`) of `name` in `dir`.
fn staged(dir: &Path, name: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(&format!(".{name}.")) && n.ends_with(".tmp")
        })
        .collect()
}

/// `billrun ARGS` killed right after its payment run is committed.
fn killed_after_commit(env: &Env, args: &[&str]) {
    let out = env
        .cmd()
        .env("BILLRUN_TEST_STOP_AFTER_COMMIT", "1")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137), "{out:?}");
}

// ------------------------------------------------------------ item 2

#[test]
fn a_dd_file_left_staged_by_a_kill_is_put_in_place_by_the_next_run() {
    let env = dd_env();
    killed_after_commit(&env, &["collect", "dd", "1", "--out", "dd.txt"]);
    let path = env.path("dd.txt");
    assert!(!path.exists());
    let left = staged(env.dir.path(), "dd.txt");
    assert_eq!(left.len(), 1, "the kill leaves the staged file");
    let staged_bytes = std::fs::read(&left[0]).unwrap();
    let recorded = sql_str(&env, "SELECT sha256 FROM payment_runs WHERE id = 1");
    assert_eq!(crate::support::sha256_hex(&staged_bytes), recorded);

    // Until the file is in place the step is not done, and says why.
    let s = step(&env, "collect_dd");
    assert_eq!(s["state"], "todo", "{s}");
    let detail = s["detail"].as_str().unwrap();
    assert!(detail.contains("payment run 1 is not in place"), "{detail}");
    assert_eq!(s["command"], "billrun collect dd 1", "{s}");
    let list = env.ok(&["collect", "list"]);
    assert!(list.contains("NOT IN PLACE"), "{list}");

    // The next run, from another directory: the recorded (absolute) path
    // gets the recorded bytes; nothing new is collected.
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = env
        .cmd()
        .current_dir(&elsewhere)
        .args(["--json", "collect", "dd", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["payment_run"], serde_json::Value::Null);
    assert_eq!(report["restored"][0]["payment_run"], 1, "{report}");
    assert_eq!(report["restored"][0]["was_there"], false, "{report}");
    let placed = std::fs::read(&path).unwrap();
    assert_eq!(crate::support::sha256_hex(&placed), recorded);
    assert_eq!(placed, staged_bytes);
    assert!(staged(env.dir.path(), "dd.txt").is_empty(), "copy removed");
    assert!(!elsewhere.join("dd.txt").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payment_runs"), 1);
    assert_eq!(step(&env, "collect_dd")["state"], "done");
    assert!(
        sql_i64(
            &env,
            "SELECT COUNT(*) FROM audit WHERE action = 'collect file placed'"
        ) == 1
    );

    // And then nothing to do.
    let again = env.ok(&["collect", "dd", "1"]);
    assert!(again.contains("nothing new"), "{again}");
    assert_eq!(std::fs::read(&path).unwrap(), placed);
}

#[test]
fn a_lost_staged_file_is_rebuilt_byte_for_byte_from_the_record() {
    let env = dd_env();
    killed_after_commit(&env, &["collect", "dd", "1"]);
    let path = env.path("collect-1-bacs18.txt");
    let left = staged(env.dir.path(), "collect-1-bacs18.txt");
    let bytes = std::fs::read(&left[0]).unwrap();
    for p in left {
        std::fs::remove_file(p).unwrap();
    }
    let out = env.ok(&["collect", "dd", "1"]);
    assert!(out.contains("payment run 1: its file"), "{out}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(step(&env, "collect_dd")["state"], "done");
}

#[test]
fn a_card_batch_file_is_finished_too_and_a_different_file_is_never_overwritten() {
    let env = dd_env();
    killed_after_commit(&env, &["collect", "card", "1", "--out", "card.csv"]);
    assert_eq!(step(&env, "collect_card")["state"], "todo");
    // Someone put another file at the path meanwhile: refused, kept.
    let path = env.path("card.csv");
    std::fs::write(&path, "not ours").unwrap();
    let err = env.fails(3, &["collect", "card", "1", "--out", "other.csv"]);
    assert!(
        err.contains("payment run 1") && err.contains("not the one recorded"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"not ours");
    assert_eq!(step(&env, "collect_card")["state"], "todo");

    std::fs::remove_file(&path).unwrap();
    let out = env.ok(&["collect", "card", "1", "--out", "other.csv"]);
    assert!(out.contains("payment run 1: its file"), "{out}");
    let recorded = sql_str(&env, "SELECT sha256 FROM payment_runs WHERE id = 1");
    assert_eq!(
        crate::support::sha256_hex(&std::fs::read(&path).unwrap()),
        recorded
    );
    assert!(!env.path("other.csv").exists(), "nothing new to collect");
    assert_eq!(step(&env, "collect_card")["state"], "done");
}

#[test]
fn killed_after_the_rename_only_the_record_is_finished() {
    let env = dd_env();
    env.ok(&["collect", "dd", "1", "--out", "dd.txt"]);
    // As a kill between the rename and recording it leaves the database.
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute("UPDATE payment_runs SET placed_at = NULL", [])
        .unwrap();
    assert_eq!(step(&env, "collect_dd")["state"], "todo");
    let before = std::fs::read(env.path("dd.txt")).unwrap();
    let out = env.json(&["collect", "dd", "1"]);
    assert_eq!(out["restored"][0]["was_there"], true, "{out}");
    assert_eq!(std::fs::read(env.path("dd.txt")).unwrap(), before);
    assert_eq!(step(&env, "collect_dd")["state"], "done");
}

// ------------------------------------------------------------ item 16

fn charge(env: &Env, key: &str) -> std::process::Output {
    env.cmd()
        .env("STRIPE_API_KEY", key)
        .args(["collect", "card", "1"])
        .output()
        .unwrap()
}

#[test]
fn a_refused_key_stops_the_batch_with_exit_5_and_a_rerun_charges_with_the_same_keys() {
    let env = card_env();
    let fake = FakeStripe::start(
        KEY,
        vec![
            Reply::intent("pi_1", "succeeded"),
            Reply::intent("pi_2", "succeeded"),
            Reply::intent("pi_3", "succeeded"),
        ],
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    let wrong = "sk_test_51WrongKeyOfAnotherAccount1234";
    let out = charge(&env, wrong);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("Stripe refused the API key")
            && stderr.contains("Invalid API Key provided: sk_test_****1234")
            && stderr.contains("STRIPE_API_KEY"),
        "{stderr}"
    );
    assert!(stderr.contains("3 charge(s) were not made"), "{stderr}");
    assert!(!stderr.contains(wrong) && !stdout.contains(wrong));
    assert_eq!(fake.requests().len(), 1, "the batch stops at the first 401");
    assert_eq!(
        sql_i64(
            &env,
            "SELECT COUNT(*) FROM payment_items WHERE state = 'live'"
        ),
        3
    );
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payments"), 0);

    let out = charge(&env, KEY);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fake.charges(), 3);
    let prefix: String = crate::support::db(&env)
        .query_row(
            "SELECT value FROM meta WHERE key = 'idempotency_prefix'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let keys: Vec<String> = fake.requests()[1..]
        .iter()
        .map(|r| r.idempotency_key.clone().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["INV-1-1", "INV-2-1", "INV-3-1"].map(|k| format!("billrun-{prefix}-{k}"))
    );
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payments"), 3);
}

#[test]
fn a_key_without_permission_is_refused_the_same_way() {
    let env = card_env();
    let fake = FakeStripe::start(
        KEY,
        vec![Reply::error(
            403,
            "invalid_request_error",
            "The provided key 'rk_live_51RestrictedAbCdEfGhIjKlMnOp9876' does not have the required permissions",
        )],
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    let out = charge(&env, KEY);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("rk_live_****9876"), "{stderr}");
    assert!(!stderr.contains("RestrictedAbCd"), "{stderr}");
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn secrets_in_gateway_text_are_masked_on_screen_and_in_the_database() {
    let env = card_env();
    let live = "sk_live_51LeakedSecretKeyValue0000ABCD";
    let fake = FakeStripe::start(
        KEY,
        vec![
            Reply::error(
                400,
                "invalid_request_error",
                &format!("Request with {live} refused (Authorization: Bearer {live})"),
            ),
            Reply::card_declined(
                "pi_2",
                "card_declined",
                None,
                "Declined; webhook whsec_abcdefSECRET logged",
            ),
            Reply::intent("pi_3", "succeeded"),
        ],
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    let out = charge(&env, KEY);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    let reasons = sql_str(
        &env,
        "SELECT group_concat(COALESCE(reason, ''), ' | ') FROM payment_items",
    );
    let show = env.ok(&["--json", "collect", "show", "1"]);
    let audit = sql_str(&env, "SELECT group_concat(detail, ' | ') FROM audit");
    for text in [&all, &reasons, &show, &audit] {
        assert!(!text.contains("LeakedSecret"), "{text}");
        assert!(!text.contains("abcdefSECRET"), "{text}");
    }
    assert!(reasons.contains("sk_live_****ABCD"), "{reasons}");
    assert!(reasons.contains("Bearer ****"), "{reasons}");
    assert!(reasons.contains("whsec_****"), "{reasons}");

    // A results file's reason is gateway text too.
    let f = env.write(
        "results.csv",
        &format!("reference,status,reason\nINV-3,dishonoured,chargeback via {live}\n"),
    );
    env.ok(&["collect", "results", &f]);
    let reason = sql_str(
        &env,
        "SELECT reason FROM payment_items WHERE reference = 'INV-3'",
    );
    assert_eq!(reason, "chargeback via sk_live_****ABCD");
}

#[test]
fn an_unencrypted_api_base_is_refused_except_to_this_machine() {
    let env = card_env();
    let err = env.fails(
        4,
        &["config", "set", "stripe.api_base", "http://api.stripe.com"],
    );
    assert!(err.contains("https"), "{err}");
    env.fails(
        4,
        &[
            "config",
            "set",
            "stripe.api_base",
            "https://user:pw@api.stripe.com",
        ],
    );
    for ok in [
        "https://api.stripe.com",
        "http://127.0.0.1:12111",
        "http://localhost:12111",
        "http://[::1]:12111",
    ] {
        env.ok(&["config", "set", "stripe.api_base", ok]);
    }
    // A value stored before the check (or by hand) is refused at charge time.
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute(
        "UPDATE settings SET value = 'http://api.stripe.com' WHERE key = 'stripe.api_base'",
        [],
    )
    .unwrap();
    let out = charge(&env, KEY);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("stripe.api_base"), "{stderr}");
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payment_runs"), 0);
}
