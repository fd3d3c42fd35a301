//! Xero through its API (`xero.mode = api`): `xero push` and `payments
//! fetch` against the fake Xero of `support::xero`, which asserts the
//! request shapes, headers and idempotency keys a real Xero needs.

use crate::support::seed::{self, Spec};
use crate::support::xero::{self as fake, FakeXero};
use crate::support::{Env, db, step};

fn setup(x: &FakeXero, specs: &[Spec<'_>]) -> Env {
    let env = Env::new().with_reference_data();
    for (k, v) in [
        ("xero.enabled", "true"),
        ("xero.mode", "api"),
        ("xero.identity_base", x.base.as_str()),
        ("xero.api_base", x.api_base().as_str()),
    ] {
        env.ok(&["config", "set", k, v]);
    }
    seed::completed_run(&env, specs);
    env
}

fn three() -> Vec<Spec<'static>> {
    vec![
        Spec {
            account: "C1001",
            total_minor: 1200,
        },
        Spec {
            account: "C1002",
            total_minor: 3600,
        },
        Spec {
            account: "C1003",
            total_minor: 0,
        },
    ]
}

/// Run billrun with the Xero credentials in the environment.
fn run(env: &Env, extra: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut c = env.cmd();
    c.env("XERO_CLIENT_ID", fake::CLIENT_ID)
        .env("XERO_CLIENT_SECRET", fake::CLIENT_SECRET);
    for (k, v) in extra {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn ok_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = run(env, &[], &a);
    assert!(
        o.status.success(),
        "{args:?}: {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn xero_ids(env: &Env) -> Vec<(String, Option<String>, String)> {
    let c = db(env);
    let mut st = c
        .prepare("SELECT number, xero_id, idempotency_key FROM xero_pushes ORDER BY number")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn push_sends_contacts_then_invoices_once_and_the_step_turns_done() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    let s = env.json(&["status", "1"]);
    assert_eq!(
        step(&s, "xero")["detail"],
        "2 customers and 2 invoices not yet in Xero"
    );
    assert_eq!(step(&s, "xero")["command"], "billrun xero push 1");

    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(r["contacts_created"], 2, "{r}");
    assert_eq!(r["invoices_sent"], 2, "{r}");
    assert_eq!(
        r["excluded"][0]["number"], "NFV-10003",
        "zero invoice left out"
    );

    // Contacts came first, then the invoice PUT, each write with a key.
    let seen = x.seen();
    let order: Vec<String> = seen
        .iter()
        .map(|s| format!("{} {}", s.method, s.path.split('?').next().unwrap()))
        .collect();
    let post_c = order
        .iter()
        .position(|o| o == "POST /api.xro/2.0/Contacts")
        .unwrap();
    let put_i = order
        .iter()
        .position(|o| o == "PUT /api.xro/2.0/Invoices")
        .unwrap();
    assert!(post_c < put_i, "{order:?}");
    assert_eq!(order[0], "POST /connect/token");
    let put = &seen[put_i];
    let key = put.idempotency_key.clone().unwrap();
    let body: serde_json::Value = serde_json::from_str(&put.body).unwrap();
    let inv = &body["Invoices"][0];
    assert_eq!(inv["InvoiceNumber"], "NFV-10001");
    assert_eq!(inv["Reference"], "C1001");
    assert_eq!(inv["Date"], "2026-12-01");
    assert_eq!(inv["DueDate"], "2026-12-15");
    assert_eq!(
        inv["LineItems"][0]["TaxType"], "OUTPUT2",
        "name resolved to code"
    );
    assert_eq!(inv["LineItems"][0]["AccountCode"], "200");
    assert!(put.body.contains("\"LineAmount\":5.00"), "{}", put.body);
    let contact = x.with(|s| s.contacts[0].clone());
    assert_eq!(contact["ContactNumber"], "C1001");
    assert_eq!(contact["Name"], "Harbour Cafe Ltd");
    assert_eq!(contact["EmailAddress"], "harbour.cafe.ltd@example.co.uk");
    assert_eq!(contact["Addresses"][0]["AddressLine1"], "10 High Street");

    // Stored: each invoice's Xero id, under the key sent.
    let ids = xero_ids(&env);
    assert_eq!(ids.len(), 2);
    assert!(
        ids.iter().all(|(_, id, k)| id.is_some() && *k == key),
        "{ids:?}"
    );
    assert_eq!(step(&env.json(&["status", "1"]), "xero")["state"], "done");

    // Again: nothing to send, no request at all.
    let before = x.seen().len();
    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(
        (r["invoices_sent"].as_u64(), r["already_in_xero"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(x.seen().len(), before);
    assert!(x.with(|s| s.created.values().all(|n| *n == 1)));
}

#[test]
fn a_kill_between_request_and_record_never_creates_a_second_invoice() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    let o = run(
        &env,
        &[("BILLRUN_TEST_XERO_STOP_AFTER_SEND", "1")],
        &["xero", "push", "1"],
    );
    assert_eq!(o.status.code(), Some(137));
    // Xero has them; billrun has only the keys, stored before the request.
    assert_eq!(x.with(|s| s.invoices.len()), 2);
    let ids = xero_ids(&env);
    assert_eq!(ids.len(), 2);
    assert!(
        ids.iter().all(|(_, id, k)| id.is_none() && !k.is_empty()),
        "{ids:?}"
    );
    assert_eq!(step(&env.json(&["status", "1"]), "xero")["state"], "todo");

    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(r["invoices_found"], 2, "{r}");
    assert_eq!(r["invoices_sent"], 0, "{r}");
    assert!(
        x.with(|s| s.created.values().all(|n| *n == 1)),
        "no duplicate"
    );
    assert_eq!(x.with(|s| s.invoices.len()), 2);
    let looked_up = x.seen().iter().any(|s| {
        s.method == "GET"
            && s.path
                .contains("/Invoices?InvoiceNumbers=NFV-10001%2CNFV-10002")
    });
    assert!(looked_up);
    assert!(xero_ids(&env).iter().all(|(_, id, _)| id.is_some()));
    assert_eq!(step(&env.json(&["status", "1"]), "xero")["state"], "done");
}

#[test]
fn a_429_with_retry_after_is_waited_out_and_the_same_key_sent_again() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    x.with(|s| s.throttle_puts = 1);
    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(r["invoices_sent"], 2, "{r}");
    let puts: Vec<_> = x.seen().into_iter().filter(|s| s.method == "PUT").collect();
    assert_eq!(puts.len(), 2, "one refused with 429, then sent again");
    assert_eq!(puts[0].idempotency_key, puts[1].idempotency_key);
    let waited = puts[1].at.duration_since(puts[0].at);
    assert!(waited >= std::time::Duration::from_secs(1), "{waited:?}");
    assert!(x.with(|s| s.created.values().all(|n| *n == 1)));
}

#[test]
fn the_day_limit_stops_with_exit_5_and_the_next_push_carries_on() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    // Tax rates, contact look-ups (number, name), contacts: then the limit.
    x.with(|s| s.day_limit_after = Some(4));
    let o = run(&env, &[], &["xero", "push", "1"]);
    assert_eq!(o.status.code(), Some(5));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("daily API call limit"), "{err}");
    assert!(err.contains("run the same command again"), "{err}");
    assert!(!err.contains(fake::CLIENT_SECRET), "{err}");
    assert_eq!(x.with(|s| s.invoices.len()), 0);
    assert_eq!(
        step(&env.json(&["status", "1"]), "xero")["detail"],
        "0 customers and 2 invoices not yet in Xero",
        "contacts recorded before the stop"
    );

    x.with(|s| s.day_limit_after = None);
    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(r["invoices_sent"], 2, "{r}");
    assert_eq!(r["contacts_created"], 0, "{r}");
    assert!(x.with(|s| s.created.values().all(|n| *n == 1)));
}

#[test]
fn a_batch_with_one_invalid_invoice_lists_it_and_sends_the_rest() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    x.with(|s| {
        s.invalid.insert(
            "NFV-10002".into(),
            "Account code '200' is not a valid code for this document.".into(),
        )
    });
    let o = run(&env, &[], &["--json", "xero", "push", "1"]);
    assert_eq!(o.status.code(), Some(4));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["invoices_sent"], 1);
    assert_eq!(r["refused"][0]["number"], "NFV-10002");
    assert_eq!(
        r["refused"][0]["message"],
        "Account code '200' is not a valid code for this document."
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Xero refused 1"), "{err}");
    let s = step(&env.json(&["status", "1"]), "xero");
    assert_eq!(s["state"], "todo");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .starts_with("0 customers and 1 invoices not yet in Xero; Xero refused 1"),
        "{s}"
    );

    // Fixed in Xero: the next push sends only that one.
    x.with(|s| s.invalid.clear());
    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(
        (r["invoices_sent"].as_u64(), r["already_in_xero"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(step(&env.json(&["status", "1"]), "xero")["state"], "done");
}

#[test]
fn push_needs_api_mode_and_credentials() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    let o = env.cmd().args(["xero", "push", "1"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("XERO_CLIENT_ID"));
    let o = env
        .cmd()
        .env("XERO_CLIENT_ID", fake::CLIENT_ID)
        .env("XERO_CLIENT_SECRET", "wrong")
        .args(["xero", "push", "1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid_client") && !err.contains("wrong"),
        "{err}"
    );
    env.ok(&["config", "set", "xero.mode", "csv"]);
    let err = env.fails(3, &["xero", "push", "1"]);
    assert!(err.contains("xero.mode is csv"), "{err}");
    assert!(x.with(|s| s.invoices.is_empty()));
    env.fails(
        4,
        &[
            "config",
            "set",
            "xero.api_base",
            "http://api.xero.com/api.xro/2.0",
        ],
    );
    // Edited into the database by hand: refused before anything is sent.
    env.ok(&["config", "set", "xero.mode", "api"]);
    db(&env)
        .execute(
            "UPDATE settings SET value = 'http://xero.example.com' WHERE key = 'xero.identity_base'",
            [],
        )
        .unwrap();
    let before = x.seen().len();
    let o = run(&env, &[], &["xero", "push", "1"]);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("xero.identity_base") && err.contains("not https"),
        "{err}"
    );
    assert_eq!(x.seen().len(), before);
}

#[test]
fn payments_fetch_records_each_payment_once_with_its_type_and_invoice() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    let s = env.json(&["status", "1"]);
    assert!(
        step(&s, "check_payments")["warning"]
            .as_str()
            .unwrap()
            .contains("never fetched; fetch them: billrun payments fetch"),
        "{s}"
    );
    // 2026-12-05 and 2026-12-06.
    x.with(|s| {
        s.payments.push(fake::payment(
            "pay-1",
            "NFV-10001",
            "C1001",
            "12.00",
            1_796_428_800_000,
            "2026-12-05T10:00:00Z",
            "Stripe GBP",
        ));
        s.payments.push(fake::payment(
            "pay-2",
            "NFV-10002",
            "",
            "10.50",
            1_796_515_200_000,
            "2026-12-06T10:00:00Z",
            "Business Bank Account",
        ));
    });
    let r = ok_json(&env, &["payments", "fetch"]);
    assert_eq!(r["recorded"], 2, "{r}");
    assert_eq!(r["total"], "22.50");
    assert_eq!(r["since"], serde_json::Value::Null);
    type Row = (String, String, i64, String, Option<String>, String, String);
    let rows: Vec<Row> = {
        let c = db(&env);
        let mut st = c
            .prepare(
                "SELECT account, date, amount_minor, method, xero_type, xero_payment_id, xero_invoice
                 FROM payments ORDER BY xero_payment_id",
            )
            .unwrap();
        st.query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
    };
    assert_eq!(
        rows[0],
        (
            "C1001".into(),
            "2026-12-05".into(),
            1200,
            "card".into(),
            Some("Stripe GBP".into()),
            "pay-1".into(),
            "NFV-10001".into()
        )
    );
    assert_eq!(rows[1].0, "C1002", "account from the invoice it paid");
    assert_eq!(rows[1].3, "xero", "a bank account names no method");
    assert!(
        step(&env.json(&["status", "1"]), "check_payments")
            .get("warning")
            .is_none()
    );

    // The next fetch asks only for changes since the first; nothing twice.
    let since = r["fetched_at"].as_str().unwrap().to_string();
    x.with(|s| {
        for p in &mut s.payments {
            p["UpdatedDateUTCString"] = serde_json::json!("2999-01-01T00:00:00Z");
        }
    });
    let r = ok_json(&env, &["payments", "fetch"]);
    assert_eq!(
        (r["recorded"].as_u64(), r["already_recorded"].as_u64()),
        (Some(0), Some(2))
    );
    let last = x
        .seen()
        .into_iter()
        .rev()
        .find(|s| s.path.contains("/Payments"))
        .unwrap();
    // The start of the first fetch, less a 10-minute overlap.
    let t = chrono::DateTime::parse_from_rfc3339(&since).unwrap() - chrono::Duration::minutes(10);
    let want = t
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(last.if_modified_since.as_deref(), Some(want.as_str()));
    assert!(
        last.path
            .contains("where=PaymentType%3D%3D%22ACCRECPAYMENT%22"),
        "{}",
        last.path
    );
    let n: i64 = db(&env)
        .query_row("SELECT COUNT(*) FROM payments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);

    // Deleted in Xero after it was recorded: listed, nothing changed.
    x.with(|s| s.payments[0]["Status"] = serde_json::json!("DELETED"));
    let r = ok_json(&env, &["payments", "fetch"]);
    assert_eq!(r["deleted_in_xero"][0]["payment_id"], "pay-1", "{r}");
    assert_eq!(r["recorded"], 0);
    let n: i64 = db(&env)
        .query_row("SELECT COUNT(*) FROM payments", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2, "nothing reversed automatically");
}

#[test]
fn a_payment_imported_from_xeros_export_is_linked_not_recorded_twice() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    let f = env.write(
        "xero-payments.csv",
        "Date,Amount,Invoice Number,Account Number,Payment Method\n2026-12-05,12.00,NFV-10001,C1001,Stripe GBP\n",
    );
    env.ok(&["payments", "import", &f, "--format", "xero", "--allow-date"]);
    x.with(|s| {
        s.payments.push(fake::payment(
            "pay-1",
            "NFV-10001",
            "C1001",
            "12.00",
            1_796_428_800_000,
            "2026-12-05T10:00:00Z",
            "Stripe GBP",
        ))
    });
    let r = ok_json(&env, &["payments", "fetch"]);
    assert_eq!(
        (r["recorded"].as_u64(), r["linked"].as_u64()),
        (Some(0), Some(1)),
        "{r}"
    );
    let (n, id): (i64, Option<String>) = db(&env)
        .query_row(
            "SELECT COUNT(*), MAX(xero_payment_id) FROM payments",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((n, id.as_deref()), (1, Some("pay-1")));
}

#[test]
fn a_lost_answer_is_retried_with_the_same_key_and_xero_replays_it() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    x.with(|s| s.lose_put_answers = 1);
    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(r["invoices_sent"], 2, "{r}");
    let puts: Vec<_> = x.seen().into_iter().filter(|s| s.method == "PUT").collect();
    assert_eq!(puts.len(), 2);
    assert_eq!(puts[0].idempotency_key, puts[1].idempotency_key);
    assert!(
        !puts[0].replayed && puts[1].replayed,
        "Xero's stored answer"
    );
    assert!(x.with(|s| s.created.values().all(|n| *n == 1)));
    assert_eq!(x.with(|s| s.invoices.len()), 2);
}

#[test]
fn a_contact_made_by_the_csv_upload_is_taken_over_not_duplicated() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    // Uploaded earlier from `xero export`: a name, no ContactNumber.
    x.with(|s| {
        s.contacts.push(serde_json::json!({
            "ContactID": "c0ffee00-0000-4000-8000-000000000999",
            "Name": "Harbour Cafe Ltd", "ContactNumber": ""
        }))
    });
    let o = run(&env, &[], &["--json", "xero", "push", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            r["contacts_created"].as_u64(),
            r["contacts_updated"].as_u64()
        ),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["invoices_sent"], 2, "{r}");
    let (n, adopted) = x.with(|s| (s.contacts.len(), s.contacts[0].clone()));
    assert_eq!(n, 2, "no second Harbour Cafe Ltd");
    assert_eq!(adopted["ContactNumber"], "C1001");
    assert_eq!(
        x.with(|s| s.invoices[0]["Contact"]["ContactID"].clone()),
        "c0ffee00-0000-4000-8000-000000000999"
    );
}

#[test]
fn an_expired_token_is_renewed_and_a_missing_scope_is_named() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    x.with(|s| s.token_expires_after = Some(2));
    let r = ok_json(&env, &["xero", "push", "1"]);
    assert_eq!(r["invoices_sent"], 2, "{r}");
    assert_eq!(x.with(|s| s.tokens_issued), 2, "renewed once");

    x.with(|s| s.forbidden = Some("/Payments"));
    let o = run(&env, &[], &["payments", "fetch"]);
    assert_eq!(o.status.code(), Some(5));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("HTTP 403: AuthorizationUnsuccessful"), "{err}");
    assert!(err.contains("scopes"), "{err}");
    assert!(
        err.contains("no payment of this fetch was recorded"),
        "{err}"
    );
    assert!(!err.contains("tok-"), "no token in messages: {err}");
}

/// The autopilot in API mode: `auto.xero` sends the run's customers and
/// invoices (the same push, once, however often it runs) and
/// `auto.fetch_payments` asks Xero for payments.
#[test]
fn the_autopilot_pushes_to_xero_once_and_fetches_payments_in_api_mode() {
    let x = FakeXero::start();
    let env = setup(&x, &three());
    for k in ["auto.xero", "auto.confirm_postbill", "auto.fetch_payments"] {
        env.ok(&["config", "set", k, "true"]);
    }
    let puts = |x: &FakeXero| {
        x.seen()
            .iter()
            .filter(|s| s.method == "PUT" && s.path.starts_with("/api.xro/2.0/Invoices"))
            .count()
    };
    let pilot = |env: &Env| {
        let o = run(env, &[], &["--json", "autopilot"]);
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{:?}\n{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let r = pilot(&env);
    let acts: Vec<&serde_json::Value> = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["step"] == "xero")
        .collect();
    assert_eq!(acts.len(), 1, "{r}");
    assert_eq!(acts[0]["rule"], "auto.xero");
    assert!(
        acts[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 invoices sent to Xero"),
        "{r}"
    );
    assert_eq!(xero_ids(&env).len(), 2);
    assert!(
        x.seen()
            .iter()
            .any(|s| s.method == "GET" && s.path.starts_with("/api.xro/2.0/Payments")),
        "payments were asked for"
    );
    assert_eq!(step(&env.json(&["status", "1"]), "xero")["state"], "done");

    // Again and again: nothing more is sent to Xero.
    let sent = puts(&x);
    assert_eq!(sent, 1);
    let r = pilot(&env);
    assert!(
        !r["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["step"] == "xero"),
        "{r}"
    );
    assert_eq!(puts(&x), sent);
    assert!(x.with(|s| s.created.values().all(|n| *n == 1)));

    // Without the credentials the push waits for a person (exit 3), naming them.
    let env2 = setup(&FakeXero::start(), &three());
    env2.ok(&["config", "set", "auto.xero", "true"]);
    env2.ok(&["config", "set", "auto.confirm_postbill", "true"]);
    let o = env2.cmd().args(["--json", "autopilot"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["waiting"].to_string().contains("XERO_CLIENT_ID"), "{r}");
}
