//! Payments (SPEC §7) and the check_payments step (§1.1), through the binary.

use crate::support::{Env, db, fixture, step};

const HEADER: &str = "account,date,amount,method,reference\n";

#[test]
fn shipped_payments_import_and_list_unallocated() {
    let e = Env::new().with_reference_data();
    let v = e.json(&[
        "payments",
        "import",
        fixture("payments.csv").to_str().unwrap(),
    ]);
    assert_eq!(v["imported"], 7);
    assert_eq!(v["total"], "316.96");
    let list = e.json(&["payments", "list", "--unallocated"]);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 7);
    assert_eq!(list[0]["account"], "C1004");
    assert_eq!(list[0]["amount"], "69.00");
    assert_eq!(list[0]["date"], "2026-11-03");
    assert_eq!(list[0]["method"], "bank_transfer");
    let one = e.json(&["payments", "list", "--account", "C1009"]);
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["reference"], "CHQ 100231");
    // Audited, with the file name.
    let audit = e.ok(&["audit"]);
    assert!(audit.contains("payments import"), "{audit}");
}

#[test]
fn bad_payment_file_reports_every_row_and_changes_nothing() {
    let e = Env::new().with_reference_data();
    e.ok(&[
        "payments",
        "add",
        "--account",
        "C1001",
        "--amount",
        "10",
        "--date",
        "2026-11-01",
        "--method",
        "cash",
        "--reference",
        "R-OLD",
    ]);
    let before = e.snapshot();
    let f = e.write(
        "bad.csv",
        &format!(
            "{HEADER}C1001,2026-11-02,54.00,direct_debit,DD-1\n\
C9999,2026-11-02,5,cash,A\n\
C1002,2026-11-31,5,cash,B\n\
C1002,2026-11-02,5.555,cash,C\n\
C1002,2026-11-02,-5,cash,D\n\
C1002,2026-11-02,5,paypal,E\n\
C1001,2026-11-02,5,cash,R-OLD\n\
C1002,2026-11-02,5,cash,X\n\
C1002,2026-11-03,7,cash,X\n"
        ),
    );
    let err = e.fails(4, &["payments", "import", &f]);
    for want in [
        "bad.csv:3:1: account: unknown account 'C9999'",
        "bad.csv:4:2: date: '2026-11-31' is not a date",
        "bad.csv:5:3: amount: '5.555' has more than two decimals",
        "bad.csv:6:3: amount: '-5' is not a payment received",
        "bad.csv:7:4: method: 'paypal' is not one of direct_debit, card, bank_transfer, cash, cheque, xero",
        "bad.csv:8:5: reference: duplicate: reference 'R-OLD' was already imported for account C1001",
        "bad.csv:10:5: reference: duplicate: reference 'X' for account C1002 is already on line 9",
        "7 problems found; nothing was changed",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    assert_eq!(e.snapshot(), before, "a bad file must change nothing");
    // Missing column, and a file that is not there.
    let f = e.write(
        "nocol.csv",
        "account,date,amount,method\nC1001,2026-11-02,1,cash\n",
    );
    let err = e.fails(4, &["payments", "import", &f]);
    assert!(
        err.contains("nocol.csv:1: reference: required column is missing"),
        "{err}"
    );
    let err = e.fails(4, &["payments", "import", "nope.csv"]);
    assert!(err.contains("nope.csv: cannot read"), "{err}");
    assert_eq!(e.snapshot(), before);
}

#[test]
fn duplicate_reference_refused_on_reimport_and_add() {
    let e = Env::new().with_reference_data();
    let f = e.write(
        "p.csv",
        &format!("{HEADER}C1001,2026-11-02,54.00,direct_debit,DD-1\n"),
    );
    e.ok(&["payments", "import", &f]);
    let before = e.snapshot();
    let err = e.fails(4, &["payments", "import", &f]);
    assert!(
        err.contains("p.csv:2:5: reference: duplicate: reference 'DD-1' was already imported for account C1001"),
        "{err}"
    );
    let err = e.fails(
        4,
        &[
            "payments",
            "add",
            "--account",
            "C1001",
            "--amount",
            "1",
            "--date",
            "2026-11-03",
            "--method",
            "cash",
            "--reference",
            "DD-1",
        ],
    );
    assert!(err.contains("--reference: duplicate"), "{err}");
    assert_eq!(e.snapshot(), before);
    // The same reference for another account is a different payment.
    e.ok(&[
        "payments",
        "add",
        "--account",
        "C1002",
        "--amount",
        "1",
        "--date",
        "2026-11-03",
        "--method",
        "cash",
        "--reference",
        "DD-1",
    ]);
}

#[test]
fn payments_add_validates_every_flag() {
    let e = Env::new().with_reference_data();
    let err = e.fails(
        4,
        &[
            "payments",
            "add",
            "--account",
            "C9999",
            "--amount",
            "0",
            "--date",
            "2026-02-30",
            "--method",
            "gold",
            "--reference",
            " ",
        ],
    );
    for want in [
        "--date:",
        "--amount:",
        "--method:",
        "--reference: must not be empty",
        "--account: unknown account 'C9999'",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    let v = e.json(&[
        "payments",
        "add",
        "--account",
        "C1001",
        "--amount",
        "12.5",
        "--date",
        "2026-11-02",
        "--method",
        "card",
        "--reference",
        "T1",
    ]);
    assert!(v["id"].as_i64().unwrap() > 0);
    assert_eq!(e.json(&["payments", "list"])[0]["amount"], "12.50");
}

#[test]
fn xero_export_import() {
    let e = Env::new().with_reference_data();
    let f = e.write(
        "xero.csv",
        "*Date,Contact Name,Account Number,Invoice Number,Reference,Amount Paid,Bank Account,Currency\n\
05/11/2026,Harbour Cafe Ltd,C1001,INV-0042,BACS 991,69.00,Business Current,GBP\n\
6 Nov 2026,Brightside Plumbing,C1004,,,\"1,069.00\",Business Current,GBP\n",
    );
    // The second row has neither reference nor invoice number.
    let err = e.fails(4, &["payments", "import", &f, "--format", "xero"]);
    assert!(
        err.contains("xero.csv:3:5: reference: no reference and no invoice number"),
        "{err}"
    );
    let f = e.write(
        "xero2.csv",
        "*Date,Contact Name,Account Number,Invoice Number,Reference,Amount Paid,Bank Account,Currency\n\
05/11/2026,Harbour Cafe Ltd,C1001,INV-0042,BACS 991,69.00,Business Current,GBP\n\
6 Nov 2026,Brightside Plumbing,C1004,INV-0043,,\"1,069.00\",Business Current,GBP\n",
    );
    let v = e.json(&["payments", "import", &f, "--format", "xero"]);
    assert_eq!(v["imported"], 2);
    assert_eq!(v["total"], "1138.00");
    let list = e.json(&["payments", "list"]);
    assert_eq!(list[0]["method"], "xero");
    assert_eq!(list[0]["source"], "xero");
    assert_eq!(list[0]["date"], "2026-11-05");
    assert_eq!(list[1]["reference"], "INV-0043");
    assert_eq!(list[1]["amount"], "1069.00");
    let at: String = db(&e)
        .query_row(
            "SELECT imported_at FROM payment_imports WHERE format = 'xero'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(at.starts_with("20"), "{at}");
    // The same export again: every row a duplicate.
    let err = e.fails(4, &["payments", "import", &f, "--format", "xero"]);
    assert!(err.contains("2 problems found"), "{err}");
}

/// The previous run's applied payments are set up with rusqlite (an invoice
/// of run 1 with payments allocated to it), which pins the figures exactly;
/// `check_payments_after_real_production` takes the real path.
#[test]
fn check_payments_compares_this_run_with_the_previous_run() {
    let e = Env::new().with_reference_data();
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-11-01",
        "--cutoff",
        "2026-10-31",
    ]);
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let f = e.write(
        "p.csv",
        &format!(
            "{HEADER}C1001,2026-10-03,54.00,direct_debit,OCT-1\n\
C1002,2026-10-04,54.00,direct_debit,OCT-2\n\
C1004,2026-10-20,30.00,cheque,OCT-3\n\
C1001,2026-11-03,69.00,direct_debit,NOV-1\n\
C1004,2026-11-20,25.00,cheque,NOV-2\n\
C1009,2026-11-30,35.99,bank_transfer,NOV-3\n\
C1009,2026-12-01,10.00,bank_transfer,DEC-1\n"
        ),
    );
    e.ok(&["payments", "import", &f]);
    // Run 1 "produced": one invoice per account, applying the October payments.
    let c = db(&e);
    c.execute_batch(
        "INSERT INTO invoices (id, run_id, number, seq, account, invoice_date, due_date, cutoff_date, currency,
           opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor, total_charges_minor,
           amount_due_minor, delivery, payment_method, created_at)
         VALUES (1, 1, 'INV1', 1, 'C1001', '2026-11-01', '2026-11-15', '2026-10-31', 'GBP', 0, 0, 0, 0, 0, 0, 'email', 'direct_debit', 'x'),
                (2, 1, 'INV2', 2, 'C1002', '2026-11-01', '2026-11-15', '2026-10-31', 'GBP', 0, 0, 0, 0, 0, 0, 'email', 'direct_debit', 'x'),
                (3, 1, 'INV3', 3, 'C1004', '2026-11-01', '2026-11-15', '2026-10-31', 'GBP', 0, 0, 0, 0, 0, 0, 'print', 'manual', 'x');
         UPDATE payments SET invoice_id = (SELECT id FROM invoices i WHERE i.account = payments.account)
           WHERE reference LIKE 'OCT-%';",
    )
    .unwrap();
    drop(c);
    let st = e.json(&["status", "2"]);
    let s = step(&st, "check_payments");
    assert_eq!(s["state"], "todo");
    // This run: unallocated and dated on or before the 2026-11-30 cutoff
    // (DEC-1 waits). Previous run: the October payments it applied.
    assert_eq!(
        s["detail"],
        "3 unallocated payments, 129.99 (previous run: 3, 138.00); by method: \
         bank_transfer 1 35.99 (prev 0 0.00), cheque 1 25.00 (prev 1 30.00), \
         direct_debit 1 69.00 (prev 2 108.00)"
    );
    assert!(s.get("warning").is_none(), "Xero is off: no warning");
    // The text checklist shows the same line.
    let text = e.ok(&["status", "2"]);
    assert!(
        text.contains("3 unallocated payments, 129.99 (previous run: 3, 138.00)"),
        "{text}"
    );
    // The listing shows all four unallocated (including the December one).
    assert_eq!(
        e.json(&["payments", "list", "--unallocated"])
            .as_array()
            .unwrap()
            .len(),
        4
    );
    e.ok(&["confirm", "2", "payments"]);
    assert_eq!(
        step(&e.json(&["status", "2"]), "check_payments")["state"],
        "done"
    );
}

/// Import time is backdated with rusqlite to simulate the passing days.
#[test]
fn stale_xero_payments_warning() {
    let e = Env::new().with_reference_data();
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    assert!(
        step(&e.json(&["status", "1"]), "check_payments")
            .get("warning")
            .is_none()
    );
    e.ok(&["config", "set", "xero.enabled", "true"]);
    let w = step(&e.json(&["status", "1"]), "check_payments")["warning"].clone();
    assert!(w.as_str().unwrap().contains("never imported"), "{w}");
    let f = e.write(
        "x.csv",
        "Date,Account Number,Reference,Amount\n2026-11-05,C1001,X1,10.00\n",
    );
    e.ok(&["payments", "import", &f, "--format", "xero"]);
    assert!(
        step(&e.json(&["status", "1"]), "check_payments")
            .get("warning")
            .is_none()
    );
    // Our own CSV import does not count as a Xero import.
    db(&e)
        .execute(
            "UPDATE payment_imports SET imported_at = '2020-01-01T09:00:00Z' WHERE format = 'xero'",
            [],
        )
        .unwrap();
    let f2 = e.write("p.csv", &format!("{HEADER}C1001,2026-11-02,5,cash,C1\n"));
    e.ok(&["payments", "import", &f2]);
    let w = step(&e.json(&["status", "1"]), "check_payments")["warning"].clone();
    let w = w.as_str().unwrap();
    assert!(w.contains("Xero payments last imported"), "{w}");
    assert!(w.contains("(2020-01-01)"), "{w}");
    assert!(w.contains("payments.stale_days = 3"), "{w}");
    let text = e.ok(&["status", "1"]);
    assert!(text.contains("⚠ Xero payments last imported"), "{text}");
    // A longer window than the age silences it.
    e.ok(&["config", "set", "payments.stale_days", "100000"]);
    assert!(
        step(&e.json(&["status", "1"]), "check_payments")
            .get("warning")
            .is_none()
    );
}

#[test]
fn demo_imports_payments_and_adds_a_credit_and_a_charge() {
    let e = Env::new();
    let out = assert_cmd::Command::cargo_bin("billrun")
        .unwrap()
        .args(["demo", "--dir"])
        .arg(e.path("demo"))
        .env("BILLRUN_OPERATOR", "tester")
        .env_remove("BILLRUN_DB")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("7 payments imported (csv), total 316.96"),
        "{text}"
    );
    assert!(text.contains("credit #1 added: C1002 -15.00"), "{text}");
    assert!(text.contains("7 unallocated payments, 316.96"), "{text}");
    let c = rusqlite::Connection::open(e.path("demo").join("demo.db")).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM charges WHERE source = 'manual'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 2);
}

/// The same comparison through real production: run 1 applies the October
/// payments to its invoices; run 2 shows November's beside them.
#[test]
fn check_payments_after_real_production() {
    let e = Env::new().with_reference_data();
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-11-01",
        "--cutoff",
        "2026-10-31",
    ]);
    let f = e.write(
        "p.csv",
        &format!(
            "{HEADER}C1001,2026-10-03,54.00,direct_debit,OCT-1\n\
C1004,2026-10-20,30.00,cheque,OCT-2\n\
C1001,2026-11-03,69.00,direct_debit,NOV-1\n"
        ),
    );
    e.ok(&["payments", "import", &f]);
    let c = e.json(&[
        "charge",
        "add",
        "--account",
        "C1004",
        "--amount",
        "-5",
        "--description",
        "Credit",
        "--date",
        "2026-10-15",
    ]);
    e.ok(&["request", "1", "--expert", "--yes"]);
    // Applied by run 1: allocated, and the credit billed (so it cannot be removed).
    let un = e.json(&["payments", "list", "--unallocated"]);
    assert_eq!(un.as_array().unwrap().len(), 1, "{un}");
    assert_eq!(un[0]["reference"], "NOV-1");
    let err = e.fails(3, &["charge", "remove", &c["id"].to_string()]);
    assert!(err.contains("already billed"), "{err}");

    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let s = step(&e.json(&["status", "2"]), "check_payments");
    assert_eq!(
        s["detail"],
        "1 unallocated payments, 69.00 (previous run: 2, 84.00); by method: \
         cheque 0 0.00 (prev 1 30.00), direct_debit 1 69.00 (prev 1 54.00)"
    );
}
