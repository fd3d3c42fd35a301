//! Collection through real gateways (docs/collection.md): Stripe
//! Customers on the PaymentIntent, the database's idempotency-key prefix,
//! `collect sync` against the local fake Stripe
//! (tests/it/support/stripe.rs, which asserts Stripe's documented request
//! shape and answers a reused key with other parameters with HTTP 400
//! `idempotency_error`).

use crate::support::stripe::{FakeStripe, Reply};
use crate::support::{Env, db, step};

const KEY: &str = "sk_test_gateways";
const HEADER: &str = "account,name,email,delivery,payment_method,bank_branch,bank_account,bank_account_name,iban,bic,mandate_ref,mandate_date,card_token,stripe_customer,gocardless_mandate";

fn setup(settings: &[(&str, &str)], rows: &[&str]) -> Env {
    let env = Env::new();
    env.ok(&["init"]);
    for (k, v) in settings {
        env.ok(&["config", "set", k, v]);
    }
    let f = env.write("customers.csv", &format!("{HEADER}\n{}\n", rows.join("\n")));
    env.ok(&["customers", "import", &f]);
    env
}

/// A completed run with one invoice per `(account, minor units)`, numbered
/// INV-1, INV-2 … (the rows production writes).
fn seed_invoices(env: &Env, invoices: &[(&str, i64)]) -> i64 {
    let out = env.json(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let run = out["id"].as_i64().unwrap();
    fill_run(env, run, invoices);
    run
}

/// Production's rows for run `run` (created with `new`), then `completed`.
fn fill_run(env: &Env, run: i64, invoices: &[(&str, i64)]) {
    let due = sql_str(
        env,
        &format!("SELECT COALESCE(due_date, '2026-12-15') FROM runs WHERE id = {run}"),
    );
    let conn = db(env);
    for (n, (account, minor)) in invoices.iter().enumerate() {
        conn.execute(
            "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date, cutoff_date,
                 currency, opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor,
                 total_charges_minor, amount_due_minor, delivery, payment_method, created_at)
             SELECT ?1, 'INV-' || ?2, ?2, account, '2026-12-01', ?3, '2026-11-30', 'GBP', 0, 0,
                 ?4, 0, ?4, ?4, delivery, payment_method, 'now' FROM customers WHERE account = ?5",
            rusqlite::params![run, n as i64 + 1, due, minor, account],
        )
        .unwrap();
    }
    conn.execute(
        "UPDATE runs SET status = 'completed', requested_at = 'now', completed_at = 'now' WHERE id = ?1",
        [run],
    )
    .unwrap();
}

fn sql_str(env: &Env, sql: &str) -> String {
    db(env).query_row(sql, [], |r| r.get(0)).unwrap()
}

fn prefix(env: &Env) -> String {
    sql_str(
        env,
        "SELECT value FROM meta WHERE key = 'idempotency_prefix'",
    )
}

fn with_key(env: &Env, args: &[&str]) -> std::process::Output {
    env.cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn stripe_customers_are_imported_listed_checked_and_sent() {
    let env = Env::new();
    env.ok(&["init"]);
    // A bad Customer id: file:line:col, nothing imported.
    let bad = env.write(
        "bad.csv",
        &format!("{HEADER}\nK1,Kiln,,print,card,,,,,,,,pm_card_visa,cust_1,\n"),
    );
    let err = env.fails(4, &["customers", "import", &bad]);
    assert!(err.contains("bad.csv:2:"), "{err}");
    assert!(err.contains("not a Stripe Customer id (cus_"), "{err}");
    let bad = env.write(
        "bad2.csv",
        &format!("{HEADER}\nK1,Kiln,,print,card,,,,,,,,pm_card_visa,,MD 1\n"),
    );
    let err = env.fails(4, &["customers", "import", &bad]);
    assert!(err.contains("not a GoCardless mandate id (MD"), "{err}");
    assert_eq!(
        env.json(&["customers", "list"]).as_array().unwrap().len(),
        0
    );

    let f = env.write(
        "c.csv",
        &format!(
            "{HEADER}\n\
             K1,Kiln,,print,card,,,,,,,,pm_card_visa,cus_Kiln01,\n\
             K2,No Customer,,print,card,,,,,,,,pm_card_mc,,\n\
             K3,Batch Token,,print,card,,,,,,,,tok_gateway_batch,,\n"
        ),
    );
    env.ok(&["customers", "import", &f]);
    let list = env.json(&["customers", "list"]);
    assert_eq!(list[0]["stripe_customer"], "cus_Kiln01");
    assert!(list[1]["stripe_customer"].is_null());
    assert!(env.ok(&["customers", "list"]).contains("cus_Kiln01"));

    // The setup check flags the pm_ card without a Customer (only that one).
    let out = env.json(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let id = out["id"].as_i64().unwrap();
    let run = id.to_string();
    let st = env.json(&["status", &run]);
    assert_eq!(step(&st, "check_setup")["state"], "todo");
    let problems: Vec<(&str, &str)> = st["setup_problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["columns"][0] != "address1") // print delivery, no address
        .map(|p| {
            (
                p["account"].as_str().unwrap(),
                p["columns"][0].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(problems, [("K2", "stripe_customer")]);
    fill_run(&env, id, &[("K1", 4550), ("K2", 1000)]);

    // The PaymentIntent carries the Customer with the card, off-session,
    // confirmed; Stripe refuses the card without its Customer.
    let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_1", "succeeded")]);
    fake.attach("pm_card_visa", "cus_Kiln01");
    fake.attach("pm_card_mc", "cus_Other");
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    let out = with_key(&env, &["collect", "card", &run]);
    assert!(out.status.success(), "{out:?}");
    let reqs = fake.requests();
    let r = &reqs[0];
    assert_eq!(r.field("customer"), Some("cus_Kiln01"));
    assert_eq!(r.field("payment_method"), Some("pm_card_visa"));
    assert_eq!(r.field("off_session"), Some("true"));
    assert_eq!(r.field("confirm"), Some("true"));
    assert_eq!(
        r.idempotency_key.as_deref(),
        Some(format!("billrun-{}-INV-1-1", prefix(&env)).as_str())
    );
    assert_eq!(reqs[1].field("customer"), None);
    assert_eq!(
        sql_str(
            &env,
            "SELECT group_concat(state || ':' || COALESCE(stripe_customer, '-'), ' ') FROM payment_items"
        ),
        "approved:cus_Kiln01 failed:-"
    );
    assert_eq!(fake.charges(), 1);
}

#[test]
fn each_database_has_its_own_key_prefix_shown_in_config() {
    let a = Env::new();
    a.ok(&["init"]);
    let b = Env::new();
    b.ok(&["init"]);
    let (pa, pb) = (prefix(&a), prefix(&b));
    assert_eq!(pa.len(), 12);
    assert!(pa.chars().all(|c| c.is_ascii_hexdigit()), "{pa}");
    assert_ne!(pa, pb);
    assert_eq!(
        a.json(&["config", "list"])["idempotency_prefix"],
        pa.as_str()
    );
    assert!(a.ok(&["config", "list"]).contains(&pa));
    // Fixed: opening again does not change it.
    a.ok(&["config", "list"]);
    assert_eq!(prefix(&a), pa);
}

#[test]
fn two_databases_sharing_a_stripe_account_never_collide() {
    let rows = ["K1,Kiln,,print,card,,,,,,,,pm_card_visa,cus_Kiln01,"];
    let fake = FakeStripe::start(
        KEY,
        vec![
            Reply::intent("pi_test", "succeeded"),
            Reply::intent("pi_live", "succeeded"),
        ],
    );
    for _ in 0..2 {
        let env = setup(&[("stripe.api_base", &fake.base_url())], &rows);
        let run = seed_invoices(&env, &[("K1", 100)]).to_string();
        let out = with_key(&env, &["collect", "card", &run]);
        assert!(out.status.success(), "{out:?}");
    }
    // Same invoice number, two databases: two keys, two charges, no replay.
    let reqs = fake.requests();
    assert_ne!(reqs[0].idempotency_key, reqs[1].idempotency_key);
    assert!(!reqs[1].replayed);
    assert_eq!(fake.charges(), 2);
}

#[test]
fn collect_sync_records_what_stripe_says_about_processing_charges() {
    let env = setup(
        &[],
        &[
            "K1,Kiln,,print,card,,,,,,,,pm_card_visa,cus_Kiln01,",
            "K2,Brightside,,print,card,,,,,,,,pm_card_mc,cus_Bright2,",
            "K3,Still Going,,print,card,,,,,,,,pm_card_amex,cus_Still3,",
        ],
    );
    let run = seed_invoices(&env, &[("K1", 4550), ("K2", 1000), ("K3", 700)]).to_string();
    let fake = FakeStripe::start(
        KEY,
        vec![
            Reply::intent("pi_1", "processing"),
            Reply::intent("pi_2", "processing"),
            Reply::intent("pi_3", "processing"),
        ],
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    let out = with_key(&env, &["collect", "card", &run]);
    assert!(out.status.success(), "{out:?}");
    // Nothing to ask yet without the key: exit 3, nothing changed.
    let err = env.fails(3, &["collect", "sync"]);
    assert!(err.contains("STRIPE_API_KEY"), "{err}");

    fake.set_intent(Reply::intent("pi_1", "succeeded"));
    let mut declined: serde_json::Value =
        serde_json::from_str(&Reply::intent("pi_2", "requires_payment_method").body).unwrap();
    declined["last_payment_error"] = serde_json::json!({
        "type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds."
    });
    fake.set_intent(Reply {
        status: 200,
        body: declined.to_string(),
    });
    let n = fake.requests().len();
    let out = with_key(&env, &["--json", "collect", "sync"]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let states: Vec<(&str, &str, bool)> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["reference"].as_str().unwrap(),
                i["state"].as_str().unwrap(),
                i["changed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            ("INV-1", "approved", true),
            ("INV-2", "declined", true),
            ("INV-3", "live", false)
        ]
    );
    let gets: Vec<_> = fake.requests()[n..].to_vec();
    assert_eq!(gets.len(), 3);
    assert!(gets.iter().all(|g| g.method == "GET"
        && g.authorization.as_deref() == Some(&*format!("Bearer {KEY}"))
        && g.idempotency_key.is_none()));
    assert_eq!(gets[0].path, "/v1/payment_intents/pi_1");
    // As `collect card` records them: a card payment, a decline without fee.
    assert_eq!(
        sql_str(
            &env,
            "SELECT method || ' ' || amount_minor || ' ' || reference FROM payments"
        ),
        "card 4550 CARD:INV-1"
    );
    assert_eq!(
        sql_str(
            &env,
            "SELECT reason FROM payment_items WHERE reference = 'INV-2'"
        ),
        "card_declined (insufficient_funds): Your card has insufficient funds."
    );
    assert_eq!(
        sql_str(&env, "SELECT CAST(COUNT(*) AS TEXT) FROM charges"),
        "0"
    );
    assert_eq!(fake.charges(), 3, "sync never charges");

    // Again: only the one still processing is asked; a second sync with
    // the same answers changes nothing.
    let n = fake.requests().len();
    let out = with_key(&env, &["collect", "sync"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fake.requests().len(), n + 1);
    assert_eq!(
        sql_str(&env, "SELECT CAST(COUNT(*) AS TEXT) FROM payments"),
        "1"
    );

    // Stripe unreachable: exit 5, nothing changed, the item stays live.
    drop(fake);
    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "sync"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(
        sql_str(
            &env,
            "SELECT state FROM payment_items WHERE reference = 'INV-3'"
        ),
        "live"
    );
}

// ---------------------------------------------------------------- GoCardless

use crate::support::gocardless::FakeGoCardless;

const GC_TOKEN: &str = "sandbox_gc_token_gateways";

fn gc_env(fake: &FakeGoCardless) -> Env {
    setup(
        &[
            ("dd.provider", "gocardless"),
            ("gocardless.api_base", &fake.base_url()),
            ("collect.dishonour_fee", "5.00"),
        ],
        &[
            "G1,Harbour Cafe,,print,direct_debit,,,,,,,,,,MD0001AAA",
            "G2,Northgate,,print,direct_debit,,,,,,,,,,MD0002BBB",
            "G3,No Mandate,,print,direct_debit,20-00-00,31415926,NO MANDATE,,,M3,2025-01-01,,,",
        ],
    )
}

fn gc(env: &Env, args: &[&str]) -> std::process::Output {
    env.cmd()
        .env("GOCARDLESS_ACCESS_TOKEN", GC_TOKEN)
        .env("BILLRUN_TEST_GC_MAX_WAIT_MS", "20")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn gocardless_payments_have_the_documented_shape_and_never_double() {
    let fake = FakeGoCardless::start(GC_TOKEN, &["MD0001AAA", "MD0002BBB"]);
    let env = gc_env(&fake);
    let run = seed_invoices(&env, &[("G1", 4550), ("G2", 1200), ("G3", 999)]).to_string();
    // No token: exit 3, nothing recorded.
    let err = env.fails(3, &["collect", "dd", &run]);
    assert!(err.contains("GOCARDLESS_ACCESS_TOKEN"), "{err}");
    assert_eq!(
        sql_str(&env, "SELECT CAST(COUNT(*) AS TEXT) FROM payment_items"),
        "0"
    );

    // A 429 first: honoured (RateLimit-Reset), retried with the same key.
    fake.rate_limit_next(1);
    let out = gc(&env, &["--json", "collect", "dd", &run]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["unsuitable"][0]["reference"], "INV-3");
    let reqs = fake.requests();
    assert_eq!(reqs[0].status, 429);
    assert_eq!(reqs[0].idempotency_key, reqs[1].idempotency_key);
    let posts: Vec<_> = reqs.iter().filter(|r| r.status == 201).collect();
    assert_eq!(posts.len(), 2);
    let p = &posts[0];
    assert_eq!(p.method, "POST");
    assert_eq!(p.path, "/payments");
    assert_eq!(
        p.authorization.as_deref(),
        Some(&*format!("Bearer {GC_TOKEN}"))
    );
    assert_eq!(p.version.as_deref(), Some("2015-07-06"));
    assert!(p.content_type.starts_with("application/json"));
    assert_eq!(
        p.idempotency_key.as_deref(),
        Some(&*format!("billrun-{}-INV-1-1", prefix(&env)))
    );
    let body = &p.body["payments"];
    assert_eq!(body["amount"], 4550);
    assert_eq!(body["currency"], "GBP");
    assert_eq!(body["links"]["mandate"], "MD0001AAA");
    assert_eq!(body["reference"], "INV-1");
    assert_eq!(body["metadata"]["invoice"], "INV-1");
    // The charge date: the collection-date rule of the payment files.
    let due = sql_str(&env, "SELECT due_date FROM invoices WHERE number = 'INV-1'");
    assert_eq!(body["charge_date"], due.as_str());
    assert_eq!(
        sql_str(
            &env,
            "SELECT group_concat(reference || ':' || state || ':' || gateway_id, ' ') FROM payment_items"
        ),
        "INV-1:live:PM000001 INV-2:live:PM000002"
    );
    // Run again: nothing new, nothing sent.
    let n = fake.requests().len();
    let out = gc(&env, &["collect", "dd", &run]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fake.requests().len(), n);
    assert_eq!(fake.payments().len(), 2);
}

#[test]
fn a_kill_between_request_and_record_does_not_double_a_gocardless_payment() {
    let fake = FakeGoCardless::start(GC_TOKEN, &["MD0001AAA", "MD0002BBB"]);
    let env = gc_env(&fake);
    let run = seed_invoices(&env, &[("G1", 4550)]).to_string();
    let out = env
        .cmd()
        .env("GOCARDLESS_ACCESS_TOKEN", GC_TOKEN)
        .env("BILLRUN_TEST_STOP_AFTER_REQUEST", "1")
        .args(["collect", "dd", &run])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    // GoCardless has the payment; billrun has the item and its key only.
    assert_eq!(fake.payments().len(), 1);
    assert_eq!(
        sql_str(
            &env,
            "SELECT state || ':' || COALESCE(gateway_id, '-') FROM payment_items"
        ),
        "live:-"
    );
    let out = gc(&env, &["collect", "dd", &run]);
    assert!(out.status.success(), "{out:?}");
    // Same key → 409 idempotent_creation_conflict → the existing payment read.
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(reqs[1].status, 409);
    assert_eq!(reqs[1].idempotency_key, reqs[0].idempotency_key);
    assert_eq!(reqs[2].method, "GET");
    assert_eq!(reqs[2].path, "/payments/PM000001");
    assert_eq!(fake.payments().len(), 1, "never a second payment");
    assert_eq!(
        sql_str(&env, "SELECT state || ':' || gateway_id FROM payment_items"),
        "live:PM000001"
    );
}

#[test]
fn collect_sync_reads_gocardless_events_from_the_stored_cursor() {
    let fake = FakeGoCardless::start(GC_TOKEN, &["MD0001AAA", "MD0002BBB"]);
    let env = gc_env(&fake);
    let run = seed_invoices(&env, &[("G1", 4550), ("G2", 1200)]).to_string();
    assert!(gc(&env, &["collect", "dd", &run]).status.success());
    fake.event("payments", "submitted", "PM000001", "payment_submitted");
    fake.event("payments", "confirmed", "PM000001", "payment_confirmed");
    fake.event("payments", "failed", "PM000002", "insufficient_funds");
    fake.event("mandates", "cancelled", "MD0002BBB", "bank_account_closed");
    let out = gc(&env, &["--json", "collect", "sync"]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["events"], 4);
    // Paged (the fake pages by 2): the second page asked `after` the first.
    let gets: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/events"))
        .collect();
    assert_eq!(gets.len(), 2);
    assert!(gets[1].path.contains("after=EV"), "{}", gets[1].path);
    assert_eq!(
        sql_str(
            &env,
            "SELECT group_concat(reference || ':' || state, ' ') FROM payment_items"
        ),
        "INV-1:approved INV-2:dishonoured"
    );
    assert_eq!(
        sql_str(
            &env,
            "SELECT method || ' ' || amount_minor || ' ' || reference FROM payments"
        ),
        "direct_debit 4550 DD:INV-1"
    );
    // The dishonour fee, as for a returned debit in a results file.
    assert_eq!(
        sql_str(&env, "SELECT account || ' ' || source FROM charges"),
        "G2 dishonour_fee"
    );
    assert!(
        sql_str(
            &env,
            "SELECT reason FROM payment_items WHERE reference = 'INV-2'"
        )
        .contains("insufficient_funds")
    );
    assert_eq!(
        sql_str(
            &env,
            "SELECT mandate_status || ' ' || mandate_status_on FROM customers WHERE account = 'G2'"
        ),
        "cancelled 2026-12-15"
    );
    // The cursor: the next sync asks from the newest event on and changes
    // nothing for events already recorded.
    let cursor = sql_str(
        &env,
        "SELECT cursor FROM gateway_cursors WHERE gateway = 'gocardless'",
    );
    assert_eq!(cursor, "2026-12-15T10:00:04.000Z");
    fake.event(
        "payments",
        "charged_back",
        "PM000001",
        "payment_charged_back",
    );
    let out = gc(&env, &["collect", "sync"]);
    assert!(out.status.success(), "{out:?}");
    let last = fake.requests().last().unwrap().path.clone();
    assert!(
        last.contains("created_at%5Bgte%5D=2026-12-15T10%3A00%3A04.000Z"),
        "{last}"
    );
    // A charge-back of an approved item: the payment is reversed.
    assert_eq!(
        sql_str(
            &env,
            "SELECT state FROM payment_items WHERE reference = 'INV-1'"
        ),
        "dishonoured"
    );
    assert_eq!(
        sql_str(&env, "SELECT CAST(SUM(amount_minor) AS TEXT) FROM payments"),
        "0"
    );
    assert_eq!(
        sql_str(&env, "SELECT CAST(COUNT(*) AS TEXT) FROM charges"),
        "2"
    );
    // Again: nothing new.
    assert!(gc(&env, &["collect", "sync"]).status.success());
    assert_eq!(
        sql_str(&env, "SELECT CAST(COUNT(*) AS TEXT) FROM charges"),
        "2"
    );
}

// ---------------------------------------------------------------- collect.auto

const BACS: &[(&str, &str)] = &[
    ("dd.format", "bacs18"),
    ("dd.sun", "123456"),
    ("dd.sort_code", "40-12-34"),
    ("dd.account", "12345678"),
    ("dd.name", "NORTHERN FIBRE"),
];

#[test]
fn collect_auto_submits_the_collections_when_production_completes() {
    let env = Env::new().with_reference_data();
    for (k, v) in BACS {
        env.ok(&["config", "set", k, v]);
    }
    let out_dir = env.path("outbox");
    std::fs::create_dir(&out_dir).unwrap();
    let fake = FakeStripe::start(
        KEY,
        (1..=10)
            .map(|n| Reply::intent(&format!("pi_auto{n}"), "succeeded"))
            .collect(),
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    env.ok(&["config", "set", "collect.auto", "true"]);
    env.ok(&[
        "config",
        "set",
        "collect.out_dir",
        out_dir.to_str().unwrap(),
    ]);
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["--json", "--yes", "request", "1", "--expert"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let auto = &report["auto_collection"];
    // The Direct Debit file, in collect.out_dir.
    let file = auto["dd_file"]["file"].as_str().unwrap();
    assert!(file.starts_with(out_dir.to_str().unwrap()), "{file}");
    assert!(std::path::Path::new(file).exists());
    // Every card invoice charged, with its Stripe Customer.
    let cards = auto["card"]["charges"].as_array().unwrap();
    assert!(!cards.is_empty());
    assert!(cards.iter().all(|c| c["state"] == "approved"), "{cards:?}");
    assert_eq!(fake.charges(), cards.len());
    assert!(fake.requests().iter().all(|r| {
        r.field("customer")
            .is_some_and(|c| c.starts_with("cus_demo"))
    }));
    assert!(auto["problems"].as_array().unwrap().is_empty(), "{auto}");
    // The checklist's collection steps are done on their own.
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_dd")["state"], "done", "{st:#}");
    assert_eq!(step(&st, "collect_card")["state"], "done", "{st:#}");
}

#[test]
fn collect_auto_without_a_key_leaves_the_card_step_to_do_and_says_why() {
    let env = Env::new().with_reference_data();
    for (k, v) in BACS {
        env.ok(&["config", "set", k, v]);
    }
    env.ok(&["config", "set", "collect.auto", "true"]);
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let out = env
        .cmd()
        .env_remove("STRIPE_API_KEY")
        .args(["--yes", "request", "1", "--expert"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("auto-collection: cards not charged") && err.contains("STRIPE_API_KEY"),
        "{err}"
    );
    let st = env.json(&["status", "1"]);
    // The file went beside the database (no collect.out_dir).
    assert_eq!(step(&st, "collect_dd")["state"], "done", "{st:#}");
    assert_eq!(step(&st, "collect_card")["state"], "todo", "{st:#}");
    let files: Vec<_> = std::fs::read_dir(env.db.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("collect-"))
        .collect();
    assert_eq!(files.len(), 1);
}

#[test]
fn a_mandate_gocardless_cancelled_is_not_collected_again() {
    let fake = FakeGoCardless::start(GC_TOKEN, &["MD0001AAA", "MD0002BBB"]);
    let env = gc_env(&fake);
    let run = seed_invoices(&env, &[("G1", 4550)]).to_string();
    assert!(gc(&env, &["collect", "dd", &run]).status.success());
    fake.event("payments", "failed", "PM000001", "insufficient_funds");
    fake.event("mandates", "cancelled", "MD0001AAA", "bank_account_closed");
    assert!(gc(&env, &["collect", "sync"]).status.success());
    let n = fake.requests().len();
    let out = gc(&env, &["--json", "collect", "dd", &run, "--retry-failed"]);
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["unsuitable"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("MD0001AAA is cancelled"),
        "{report}"
    );
    assert_eq!(fake.requests().len(), n, "nothing sent");
    assert_eq!(fake.payments().len(), 1);
    // Re-imported unchanged: still cancelled. With a new mandate: the
    // status is cleared and the invoice is collected under it.
    let same = env.write(
        "same.csv",
        &format!("{HEADER}\nG1,Harbour Cafe,,print,direct_debit,,,,,,,,,,MD0001AAA\n"),
    );
    env.ok(&["customers", "import", &same]);
    assert_eq!(
        sql_str(
            &env,
            "SELECT mandate_status FROM customers WHERE account = 'G1'"
        ),
        "cancelled"
    );
    let new = env.write(
        "new.csv",
        &format!("{HEADER}\nG1,Harbour Cafe,,print,direct_debit,,,,,,,,,,MD0002BBB\n"),
    );
    env.ok(&["customers", "import", &new]);
    let out = gc(&env, &["collect", "dd", &run, "--retry-failed"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fake.payments().len(), 2);
    assert_eq!(fake.payments()[1]["links"]["mandate"], "MD0002BBB");
}

/// `auto.sync`: the autopilot asks Stripe about charges left `processing`
/// and records the answers, as `collect sync` does.
#[test]
fn the_autopilot_syncs_processing_card_charges() {
    let env = setup(
        &[],
        &["K1,Kiln,,print,card,,,,,,,,pm_card_visa,cus_Kiln01,"],
    );
    let run = seed_invoices(&env, &[("K1", 4550)]).to_string();
    let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_1", "processing")]);
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    let out = with_key(&env, &["collect", "card", &run]);
    assert!(out.status.success(), "{out:?}");
    fake.set_intent(Reply::intent("pi_1", "succeeded"));
    env.ok(&["config", "set", "auto.sync", "true"]);
    let out = with_key(&env, &["--json", "autopilot"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sync: Vec<&serde_json::Value> = report["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["step"] == "sync")
        .collect();
    assert_eq!(sync.len(), 1, "{report}");
    assert_eq!(sync[0]["rule"], "auto.sync");
    assert_eq!(sync[0]["detail"], "1 collection outcomes recorded");
    let state: String = crate::support::db(&env)
        .query_row("SELECT state FROM payment_items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "approved");
}
