//! Credit notes through Xero's API (`xero push` in `xero.mode = api`):
//! sent as `ACCRECCREDIT` once, and allocated to the invoice that brought
//! them forward once both are in Xero, never twice (a kill between the
//! allocation request and its record included). Against the fake Xero of
//! `support::xero`.

use crate::support::seed::{self, Spec};
use crate::support::xero::{self as fake, FakeXero};
use crate::support::{Env, db};

fn run(env: &Env, extra: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut c = env.cmd();
    c.env("XERO_CLIENT_ID", fake::CLIENT_ID)
        .env("XERO_CLIENT_SECRET", fake::CLIENT_SECRET);
    for (k, v) in extra {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn push(env: &Env, run_id: &str, code: i32) -> serde_json::Value {
    let o = run(env, &[], &["--json", "xero", "push", run_id]);
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn invoice_id(env: &Env, number: &str) -> i64 {
    db(env)
        .query_row("SELECT id FROM invoices WHERE number = ?1", [number], |r| {
            r.get(0)
        })
        .unwrap()
}

/// A credit note of `total` (tax a sixth) on invoice `of`, brought forward
/// by invoice `applied` if given.
fn credit_note(env: &Env, seq: i64, of: &str, account: &str, total: i64, applied: Option<&str>) {
    let c = db(env);
    let (ex, tax) = (total - total / 6, total / 6);
    let applied = applied.map(|n| invoice_id(env, n));
    c.execute(
        "INSERT INTO credit_notes (number, seq, invoice_id, account, credit_date, currency, reason,
             amount_ex_tax_minor, tax_minor, total_minor, tax_rate, delivery, payment_method,
             applied_invoice_id, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, '2026-12-05', 'GBP', 'Outage', ?5, ?6, ?7, '20', 'email', 'dd',
             ?8, '2026-12-05T10:00:00Z', 'tester')",
        rusqlite::params![
            format!("CN{seq:06}"),
            seq,
            invoice_id(env, of),
            account,
            ex,
            tax,
            total,
            applied
        ],
    )
    .unwrap();
    let id = c.last_insert_rowid();
    c.execute(
        "INSERT INTO credit_note_lines (credit_note_id, position, service, description, quantity, amount_minor)
         VALUES (?1, 1, NULL, 'Outage credit', '1', ?2)",
        rusqlite::params![id, ex],
    )
    .unwrap();
}

#[test]
fn credit_notes_are_sent_once_and_allocated_once_to_the_invoice_that_brought_them_forward() {
    let x = FakeXero::start();
    let env = Env::new().with_reference_data();
    for (k, v) in [
        ("xero.enabled", "true"),
        ("xero.mode", "api"),
        ("xero.identity_base", x.base.as_str()),
        ("xero.api_base", x.api_base().as_str()),
    ] {
        env.ok(&["config", "set", k, v]);
    }
    // Run 1: NFV-10001 (C1001, 12.00), NFV-10002 (C1002, 36.00).
    seed::completed_run(
        &env,
        &[
            Spec {
                account: "C1001",
                total_minor: 1200,
            },
            Spec {
                account: "C1002",
                total_minor: 3600,
            },
        ],
    );
    // Run 2: NFV-10003 (C1002, 24.00), NFV-10004 (C1001, 1.20).
    env.ok(&[
        "new",
        "--invoice-date",
        "2027-01-01",
        "--cutoff",
        "2026-12-31",
    ]);
    seed::add_invoices(
        &env,
        2,
        &[
            Spec {
                account: "C1002",
                total_minor: 2400,
            },
            Spec {
                account: "C1001",
                total_minor: 120,
            },
        ],
    );
    db(&env)
        .execute(
            "UPDATE runs SET status = 'completed', completed_at = '2027-01-01T00:00:00Z' WHERE id = 2",
            [],
        )
        .unwrap();
    // CN000001 on NFV-10001, not brought forward: a credit on the account.
    credit_note(&env, 1, "NFV-10001", "C1001", 600, None);
    // CN000002 on NFV-10002, brought forward by NFV-10003.
    credit_note(&env, 2, "NFV-10002", "C1002", 1200, Some("NFV-10003"));
    // CN000003 on NFV-10001 (6.00), brought forward by NFV-10004 (1.20):
    // more than that invoice's amount due, which Xero refuses.
    credit_note(&env, 3, "NFV-10001", "C1001", 600, Some("NFV-10004"));

    // The checklist counts them with the customers and invoices.
    let xero_step = |run_id: &str| crate::support::step(&env.json(&["status", run_id]), "xero");
    let s = xero_step("1");
    assert_eq!(s["state"], "todo", "{s}");
    assert_eq!(
        s["detail"], "2 customers, 2 invoices, 3 credit notes not yet in Xero",
        "{s}"
    );

    // Run 1: its invoices, then the credit notes crediting them; killed
    // right after Xero answered the invoices, then the credit notes.
    let stop = [("BILLRUN_TEST_XERO_STOP_AFTER_SEND", "1")];
    for _ in 0..2 {
        let o = run(&env, &stop, &["xero", "push", "1"]);
        assert_eq!(
            o.status.code(),
            Some(137),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    assert_eq!(x.with(|s| s.credit_notes.len()), 3, "Xero has them");
    // The next push finds them by number and only records them; nothing
    // to allocate yet (NFV-10003 and NFV-10004 are not in Xero).
    let r = push(&env, "1", 0);
    // (The invoices were found and recorded by the second, killed push.)
    assert_eq!(r["already_in_xero"], 2, "{r}");
    assert_eq!(r["credit_notes_found"], 3, "{r}");
    assert_eq!(r["credit_notes_sent"], 0, "{r}");
    assert!(r["allocated"].as_array().unwrap().is_empty());
    assert!(
        x.with(|s| s.created.values().all(|n| *n == 1)),
        "never created twice"
    );
    let looked_up = x.seen().iter().any(|s| {
        s.method == "GET" && s.path.contains("/CreditNotes?where=") && s.path.contains("CN000003")
    });
    assert!(looked_up, "credit notes looked up by number");
    let notes = x.with(|s| s.credit_notes.clone());
    assert_eq!(notes.len(), 3);
    let n1 = &notes[0];
    assert_eq!(n1["CreditNoteNumber"], "CN000001");
    assert_eq!(n1["Type"], "ACCRECCREDIT");
    assert_eq!(n1["Date"], "2026-12-05");
    assert!(n1.get("DueDate").is_none(), "{n1}");
    let dec = |v: &serde_json::Value| v.to_string().parse::<rust_decimal::Decimal>().unwrap();
    assert_eq!(
        dec(&n1["LineItems"][0]["LineAmount"]),
        rust_decimal::Decimal::new(500, 2)
    );
    assert_eq!(n1["LineItems"][0]["TaxType"], "OUTPUT2");
    assert_eq!(
        dec(&n1["Total"]),
        rust_decimal::Decimal::new(600, 2),
        "Xero's total is billrun's"
    );
    // Amounts go as exact JSON numbers.
    let sent = x
        .seen()
        .into_iter()
        .find(|s| s.method == "PUT" && s.path.starts_with("/api.xro/2.0/CreditNotes?"))
        .unwrap();
    assert!(sent.body.contains("\"LineAmount\":5.00"), "{}", sent.body);
    let c1001 = x.with(|s| {
        s.contacts
            .iter()
            .find(|c| c["ContactNumber"] == "C1001")
            .unwrap()["ContactID"]
            .clone()
    });
    assert_eq!(n1["Contact"]["ContactID"], c1001);
    let stored: Vec<(String, Option<String>)> = db(&env)
        .prepare(
            "SELECT number, xero_id FROM xero_pushes WHERE kind = 'credit_note' ORDER BY number",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(stored.len(), 3);
    assert_eq!(
        stored[0].1.as_deref(),
        n1["CreditNoteID"].as_str(),
        "Xero's id is stored"
    );

    // Xero confirmed all of run 1: its step is done.
    assert_eq!(xero_step("1")["state"], "done");

    // Again: nothing sent twice.
    let puts = |x: &FakeXero| x.seen().iter().filter(|s| s.method == "PUT").count();
    let before = puts(&x);
    let r = push(&env, "1", 0);
    assert_eq!(r["credit_notes_already_in_xero"], 3, "{r}");
    assert_eq!(puts(&x), before);

    // Run 2, killed right after Xero answered the first create request
    // (run 2's invoices), then after the first allocation request.
    let o = run(&env, &stop, &["xero", "push", "2"]);
    assert_eq!(o.status.code(), Some(137));
    let o = run(&env, &stop, &["xero", "push", "2"]);
    assert_eq!(
        o.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        x.with(|s| s.allocations.len()),
        1,
        "CN000002 allocated in Xero"
    );
    // The next push asks Xero, finds the allocation and records it; it
    // never allocates CN000002 twice. CN000003 is refused and listed.
    let r = push(&env, "2", 4);
    assert_eq!(
        r["allocated"],
        serde_json::json!(["CN000002 -> NFV-10003"]),
        "{r}"
    );
    let allocs = x.with(|s| s.allocations.clone());
    assert_eq!(allocs.len(), 1, "{allocs:?}");
    assert_eq!(allocs[0].2, rust_decimal::Decimal::new(1200, 2));
    let asked = x
        .seen()
        .iter()
        .any(|s| s.method == "GET" && s.path.starts_with("/api.xro/2.0/CreditNotes/c4ed1700"));
    assert!(asked, "Xero asked before a second allocation");
    let refused = r["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{r}");
    assert_eq!(refused[0]["number"], "CN000003");
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("not allocated to NFV-10004"),
        "{r}"
    );
    let allocation = x
        .seen()
        .into_iter()
        .find(|s| s.method == "PUT" && s.path.ends_with("/Allocations"))
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&allocation.body).unwrap();
    // The later of the credit note's date (5 Dec) and the invoice's (the
    // seeded invoices are all dated 1 Dec).
    assert_eq!(body["Allocations"][0]["Date"], "2026-12-05", "{body}");
    assert!(
        allocation.body.contains("\"Amount\":12.00"),
        "{}",
        allocation.body
    );
    assert!(allocation.idempotency_key.is_some());

    // Once recorded, nothing is allocated again.
    let before = x.seen().len();
    let r = push(&env, "2", 4);
    assert!(r["allocated"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(x.with(|s| s.allocations.len()), 1);
    assert!(
        !x.seen()[before..]
            .iter()
            .any(|s| s.path.contains("CN000002")
                || s.path
                    .ends_with("c4ed1700-0000-4000-8000-000000000002/Allocations")),
        "CN000002 left alone"
    );
}
