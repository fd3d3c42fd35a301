//! One-off charges and credits (SPEC §6.3), through the binary.

use crate::support::{Env, db};

#[test]
fn add_list_and_remove_charges_and_credits() {
    let e = Env::new().with_reference_data();
    let v = e.json(&[
        "charge",
        "add",
        "--account",
        "C1002",
        "--amount",
        "-15.00",
        "--description",
        "Goodwill credit",
        "--service",
        "0113 496 0001",
        "--date",
        "2026-11-13",
    ]);
    assert_eq!(v["amount"], "-15.00");
    assert_eq!(v["service"], "01134960001", "service normalised to digits");
    assert_eq!(v["date"], "2026-11-13");
    assert_eq!(v["created_by"], "tester");
    let id = v["id"].as_i64().unwrap();
    // Date defaults to today.
    let v2 = e.json(&[
        "charge",
        "add",
        "--account",
        "C1005",
        "--amount",
        "85",
        "--description",
        "Engineer visit",
    ]);
    let today = chrono::Local::now().date_naive().to_string();
    assert_eq!(v2["date"], today.as_str());
    assert_eq!(v2["amount"], "85.00");

    let all = e.json(&["charge", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    let one = e.json(&["charge", "list", "--account", "C1002", "--unbilled"]);
    assert_eq!(one.as_array().unwrap().len(), 1);
    let text = e.ok(&["charge", "list"]);
    assert!(
        text.contains("Goodwill credit") && text.contains("2 charges, total 70.00"),
        "{text}"
    );

    e.ok(&["charge", "remove", &id.to_string()]);
    assert_eq!(e.json(&["charge", "list"]).as_array().unwrap().len(), 1);
    let audit = e.ok(&["audit"]);
    assert!(
        audit.contains("charge add") && audit.contains("charge remove"),
        "{audit}"
    );
    let err = e.fails(4, &["charge", "remove", &id.to_string()]);
    assert!(err.contains("no charge #"), "{err}");
}

#[test]
fn bad_charges_are_refused_and_change_nothing() {
    let e = Env::new().with_reference_data();
    let before = e.snapshot();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--account", "C9999", "--amount", "5", "--description", "x"],
            "--account: unknown account 'C9999'",
        ),
        (
            &[
                "--account",
                "C1001",
                "--amount",
                "5.001",
                "--description",
                "x",
            ],
            "--amount: '5.001' has more than two decimals",
        ),
        (
            &["--account", "C1001", "--amount", "£5", "--description", "x"],
            "--amount:",
        ),
        (
            &["--account", "C1001", "--amount", "0", "--description", "x"],
            "--amount: a charge of 0.00 bills nothing",
        ),
        (
            &["--account", "C1001", "--amount", "5", "--description", "  "],
            "--description: must not be empty",
        ),
        (
            &[
                "--account",
                "C1001",
                "--amount",
                "5",
                "--description",
                "x",
                "--date",
                "2026-02-30",
            ],
            "--date: '2026-02-30' is not a date",
        ),
        // 01134960001 belongs to C1002.
        (
            &[
                "--account",
                "C1001",
                "--amount",
                "5",
                "--description",
                "x",
                "--service",
                "01134960001",
            ],
            "--service: service '01134960001' belongs to account C1002, not C1001",
        ),
        (
            &[
                "--account",
                "C1001",
                "--amount",
                "5",
                "--description",
                "x",
                "--service",
                "0999",
            ],
            "--service: unknown service '0999'",
        ),
    ];
    for (args, want) in cases {
        let mut a = vec!["charge", "add"];
        a.extend_from_slice(args);
        let err = e.fails(4, &a);
        assert!(err.contains(want), "{args:?}: missing {want:?} in:\n{err}");
    }
    assert_eq!(e.snapshot(), before);
}

/// A billed charge is set up with rusqlite (invoice_id set); the real
/// production path is covered by `check_payments_after_real_production` in
/// tests/it/payments.rs.
#[test]
fn billed_charge_cannot_be_removed() {
    let e = Env::new().with_reference_data();
    let v = e.json(&[
        "charge",
        "add",
        "--account",
        "C1001",
        "--amount",
        "20",
        "--description",
        "Router",
        "--date",
        "2026-11-02",
    ]);
    let id = v["id"].as_i64().unwrap();
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let c = db(&e);
    c.execute_batch(&format!(
        "INSERT INTO invoices (id, run_id, number, seq, account, invoice_date, due_date, cutoff_date, currency,
           opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor, total_charges_minor,
           amount_due_minor, delivery, payment_method, created_at)
         VALUES (1, 1, 'INV1', 1, 'C1001', '2026-12-01', '2026-12-15', '2026-11-30', 'GBP', 0, 0, 2000, 400, 2400, 2400, 'email', 'direct_debit', 'x');
         UPDATE charges SET invoice_id = 1 WHERE id = {id};"
    ))
    .unwrap();
    drop(c);
    let before = e.snapshot();
    let err = e.fails(3, &["charge", "remove", &id.to_string()]);
    assert!(err.contains("already billed"), "{err}");
    assert!(
        err.contains("--amount -20.00"),
        "suggests the credit: {err}"
    );
    assert_eq!(e.snapshot(), before);
    assert!(
        e.json(&["charge", "list", "--unbilled"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Run 1 locked: a new charge dated inside its period waits for a later run.
    e.ok(&["request", "1", "--expert", "--no-produce", "--yes"]);
    let out = e
        .cmd()
        .args([
            "charge",
            "add",
            "--account",
            "C1001",
            "--amount",
            "5",
            "--description",
            "Late",
            "--date",
            "2026-11-20",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run 2026-11 (cutoff 2026-11-30) already has its bills requested"),
        "{err}"
    );
}
