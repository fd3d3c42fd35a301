//! Credit notes through the real binary: a credit note on a Direct Debit
//! invoice before and after collection, gap-free numbers after a kill
//! (`BILLRUN_TEST_STOP_AFTER_COMMIT=1`, debug builds only: the process exits
//! right after the credit note is committed, before its PDF is written),
//! the PDF read back with `pdftotext`, and the refusals.

use crate::support::{Env, db};
use serde_json::Value;

const BACS: &[(&str, &str)] = &[
    ("dd.format", "bacs18"),
    ("dd.sun", "123456"),
    ("dd.sort_code", "40-12-34"),
    ("dd.account", "12345678"),
    ("dd.name", "NORTHERN FIBRE"),
];

/// The shipped reference data, Bacs settings, run 1 produced.
fn produced() -> Env {
    let env = Env::new().with_reference_data();
    for (k, v) in BACS {
        env.ok(&["config", "set", k, v]);
    }
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    env.ok(&["--yes", "request", "1", "--expert"]);
    env
}

/// The invoice of `account` in `invoices RUN --json`.
fn invoice(env: &Env, run: &str, account: &str) -> Value {
    env.json(&["invoices", run])
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == account)
        .cloned()
        .unwrap_or_else(|| panic!("no invoice for {account} in run {run}"))
}

/// Minor units of a "12.34" amount.
fn minor(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not an amount: {v}"));
    let d: rust_decimal::Decimal = s.parse().unwrap();
    i64::try_from((d * rust_decimal::Decimal::from(100)).trunc()).unwrap()
}

/// The amount of `account`'s item in payment run `id`.
fn item_amount(env: &Env, id: &str, account: &str) -> i64 {
    let show = env.json(&["collect", "show", id]);
    let item = show["items_detail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == account)
        .cloned()
        .unwrap_or_else(|| panic!("no item for {account}: {show:#}"));
    minor(&item["amount"])
}

/// Approve every item of payment run `id`.
fn approve_all(env: &Env, id: &str) {
    let mut results = String::from("reference,status,reason\n");
    for it in env.json(&["collect", "show", id])["items_detail"]
        .as_array()
        .unwrap()
    {
        results.push_str(&format!(
            "{},approved,\n",
            it["reference"].as_str().unwrap()
        ));
    }
    let f = env.write(&format!("results-{id}.csv"), &results);
    env.ok(&["collect", "results", &f]);
}

fn next_run(env: &Env) {
    env.ok(&[
        "new",
        "--invoice-date",
        "2027-01-01",
        "--cutoff",
        "2026-12-31",
    ]);
    env.ok(&["--yes", "request", "2", "--expert"]);
}

fn pdftotext(path: &str) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path, "-"])
        .output()
        .expect("pdftotext (poppler-utils) is needed: apt-get install poppler-utils");
    assert!(out.status.success(), "pdftotext rejected {path}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_credit_note_on_a_dd_invoice_before_collection_reduces_the_debit() {
    let env = produced();
    let inv = invoice(&env, "1", "C1001");
    let number = inv["number"].as_str().unwrap().to_string();
    let to_collect = minor(&inv["to_collect"]);
    assert!(to_collect > 1200, "{inv:#}");

    let cn = env.json(&[
        "credit",
        "add",
        &number,
        "--amount",
        "10.00",
        "--reason",
        "Line rental charged twice",
    ]);
    assert_eq!(cn["number"], "CN000001");
    assert_eq!(cn["invoice"], number.as_str());
    assert_eq!(
        (&cn["amount_ex_tax"], &cn["tax"], &cn["total"]),
        (&"10.00".into(), &"2.00".into(), &"12.00".into()),
        "tax at 20 %, rounded once: {cn:#}"
    );
    assert_eq!(cn["brought_forward_on"], Value::Null);
    // The post-billing report lists it.
    let pb = env.json(&["postbill", "1"]);
    assert_eq!(pb["credit_notes"][0]["number"], "CN000001", "{pb:#}");
    assert_eq!(pb["credit_notes"][0]["total"], "12.00");
    assert!(env.ok(&["postbill", "1"]).contains("Credit notes: 1"));

    // The checklist's Xero step counts it (CSV mode).
    env.ok(&["config", "set", "xero.enabled", "true"]);
    let xero_step = || crate::support::step(&env.json(&["status", "1"]), "xero");
    let s = xero_step();
    assert_eq!(s["state"], "todo", "{s}");
    assert!(
        s["detail"]
            .as_str()
            .unwrap()
            .ends_with(", 1 credit notes not yet sent to Xero"),
        "{s}"
    );

    // `xero export` writes the credit note in Xero's credit-note template.
    let x = env.json(&[
        "xero",
        "export",
        "1",
        "--out",
        env.path("xero.csv").to_str().unwrap(),
    ]);
    assert_eq!(x["credit_notes"], 1, "{x:#}");
    assert_eq!(xero_step()["state"], "done");
    let text = std::fs::read_to_string(env.path("xero-credit-notes.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header[10], "*CreditNoteNumber");
    assert_eq!(header[12], "*CreditNoteDate");
    assert!(!header.iter().any(|h| h.contains("DueDate")), "{header:?}");
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1, "{text}");
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("*ContactName")], "Harbour Cafe Ltd");
    assert_eq!(&rows[0][col("*CreditNoteNumber")], "CN000001");
    assert_eq!(&rows[0][col("Reference")], number.as_str());
    assert_eq!(&rows[0][col("*UnitAmount")], "10.00", "positive, ex tax");
    assert_eq!(&rows[0][col("*Quantity")], "1");
    let invoices = std::fs::read_to_string(env.path("xero.csv")).unwrap();
    let taxed = csv::Reader::from_reader(invoices.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .find(|r| &r[10] == number.as_str())
        .unwrap();
    assert_eq!(
        &rows[0][col("*TaxType")],
        &taxed[20],
        "the invoice's tax type"
    );
    // Exported once: the next export writes no credit-note file.
    let again = env.json(&[
        "xero",
        "export",
        "1",
        "--out",
        env.path("again.csv").to_str().unwrap(),
    ]);
    assert_eq!(again["credit_notes"], 0);
    assert!(!env.path("again-credit-notes.csv").exists());

    // The debit is reduced by the credit note's total.
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd.txt").to_str().unwrap(),
    ]);
    assert_eq!(item_amount(&env, "1", "C1001"), to_collect - 1200);
    // Another DD customer is collected in full.
    let other = invoice(&env, "1", "C1002");
    assert_eq!(item_amount(&env, "1", "C1002"), minor(&other["to_collect"]));
    approve_all(&env, "1");

    // The next invoice shows the credit brought forward and nothing is owed
    // from the first month.
    next_run(&env);
    let next = invoice(&env, "2", "C1001");
    assert_eq!(next["opening_balance"], inv["amount_due"]);
    assert_eq!(minor(&next["payments"]), to_collect - 1200, "{next:#}");
    assert_eq!(next["credit_notes"], "12.00");
    assert_eq!(
        minor(&next["amount_due"]),
        minor(&next["total_charges"]),
        "opening − payments − credit = 0: {next:#}"
    );
    let shown = env.json(&["credit", "show", "CN000001"]);
    assert_eq!(shown["brought_forward_on"], next["number"]);
    let pb = env.json(&["postbill", "2"]);
    assert_eq!(
        pb["credit_notes"][0]["brought_forward_on"], next["number"],
        "{pb:#}"
    );
    // Brought forward once: run 2's other invoices carry no credit.
    let carried: i64 = db(&env)
        .query_row("SELECT SUM(credits_minor) FROM invoices", [], |r| r.get(0))
        .unwrap();
    assert_eq!(carried, 1200);
    // The PDF of the next invoice says so.
    let text = pdftotext(next["pdf"].as_str().unwrap());
    assert!(text.contains("Credit notes"), "{text}");
    assert!(text.contains("-£12.00"), "{text}");
}

#[test]
fn a_credit_note_after_collection_stays_a_credit_on_the_account() {
    let env = produced();
    let inv = invoice(&env, "1", "C1001");
    let number = inv["number"].as_str().unwrap().to_string();
    let to_collect = minor(&inv["to_collect"]);
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd.txt").to_str().unwrap(),
    ]);
    assert_eq!(item_amount(&env, "1", "C1001"), to_collect);
    approve_all(&env, "1");

    // Credit a whole line: the invoice's lines carry their ids.
    let line = &inv["lines"][0];
    let line_id = line["id"].as_i64().unwrap().to_string();
    let line_minor = minor(&line["amount"]);
    let cn = env.json(&[
        "credit",
        "add",
        &number,
        "--line",
        &line_id,
        "--reason",
        "Service not provided",
    ]);
    assert_eq!(minor(&cn["amount_ex_tax"]), line_minor);
    assert_eq!(cn["lines"][0]["invoice_line"], line["id"]);
    assert_eq!(cn["lines"][0]["description"], line["description"]);
    let total = minor(&cn["total"]);
    let shown = invoice(&env, "1", "C1001");
    assert_eq!(shown["lines"][0]["credited_by"], "CN000001");
    // The same line again is refused.
    let e = env.fails(
        4,
        &[
            "credit", "add", &number, "--line", &line_id, "--reason", "again",
        ],
    );
    assert!(e.contains("credited already by CN000001"), "{e}");

    // Collected already: nothing more to collect (no refund by DD) ...
    let out = env.json(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd2.txt").to_str().unwrap(),
    ]);
    assert!(!env.path("dd2.txt").exists(), "{out:#}");
    // ... and the next invoice takes the credit off what is due.
    next_run(&env);
    let next = invoice(&env, "2", "C1001");
    assert_eq!(minor(&next["payments"]), to_collect, "collected in full");
    assert_eq!(minor(&next["credit_notes"]), total);
    assert_eq!(
        minor(&next["amount_due"]),
        minor(&next["total_charges"]) - total,
        "{next:#}"
    );
    // That invoice's Direct Debit is the amount due after the credit.
    env.ok(&[
        "collect",
        "dd",
        "2",
        "--out",
        env.path("dd3.txt").to_str().unwrap(),
    ]);
    let runs = env.json(&["collect", "list"]);
    let id = runs.as_array().unwrap().last().unwrap()["id"].to_string();
    assert_eq!(item_amount(&env, &id, "C1001"), minor(&next["to_collect"]));
}

#[test]
fn credit_numbers_stay_gap_free_after_a_kill_and_the_pdf_reads_back() {
    let env = produced();
    let a = invoice(&env, "1", "C1001")["number"]
        .as_str()
        .unwrap()
        .to_string();
    let b = invoice(&env, "1", "C1002")["number"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["config", "set", "credit.prefix", "NFC-"]);

    // Killed right after the commit: the credit note exists, its PDF not.
    let out = env
        .cmd()
        .env("BILLRUN_TEST_STOP_AFTER_COMMIT", "1")
        .args([
            "credit",
            "add",
            &a,
            "--amount",
            "5.00",
            "--reason",
            "Goodwill after outage",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    let list = env.json(&["credit", "list"]);
    assert_eq!(list[0]["number"], "NFC-000001");
    assert_eq!(list[0]["pdf"], Value::Null);
    assert!(env.ok(&["credit", "list"]).contains("credit produce"));

    // The next `credit add` renders it first, then issues the next number.
    let out = env
        .cmd()
        .args([
            "--json", "credit", "add", &b, "--amount", "1.99", "--reason", "Rounding",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 credit note PDFs left"),
        "{out:?}"
    );
    let second: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(second["number"], "NFC-000002");
    assert_eq!(second["tax"], "0.40", "1.99 × 20 % = 0.398 → 0.40");

    // Another kill, resumed by `credit produce`.
    let out = env
        .cmd()
        .env("BILLRUN_TEST_STOP_AFTER_COMMIT", "1")
        .args(["credit", "add", &a, "--amount", "1", "--reason", "More"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(137));
    assert!(
        env.ok(&["credit", "produce"])
            .contains("1 credit note PDFs")
    );
    assert!(
        env.ok(&["credit", "produce"])
            .contains("0 credit note PDFs")
    );
    let list = env.json(&["credit", "list", "1"]);
    let numbers: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["NFC-000001", "NFC-000002", "NFC-000003"]);
    for c in list.as_array().unwrap() {
        let pdf = c["pdf"].as_str().unwrap();
        assert!(pdf.ends_with(&format!("{}.pdf", c["number"].as_str().unwrap())));
    }
    // A PDF removed from disk is rendered again, to the same bytes.
    let first = list[0]["pdf"].as_str().unwrap().to_string();
    let bytes = std::fs::read(&first).unwrap();
    std::fs::remove_file(&first).unwrap();
    assert!(
        env.ok(&["credit", "produce"])
            .contains("1 credit note PDFs")
    );
    assert_eq!(std::fs::read(&first).unwrap(), bytes);

    let text = pdftotext(&first);
    for want in [
        "CREDIT NOTE",
        "NFC-000001",
        &a,
        "Reason: Goodwill after outage",
        "Harbour Cafe Ltd",
        "C1001",
        "Credit (ex VAT)",
        "£5.00",
        "VAT at 20%",
        "£1.00",
        "Total credit",
        "£6.00",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    // Each issue is audited.
    let audit = env.ok(&["audit"]);
    assert_eq!(audit.matches("credit add").count(), 3, "{audit}");
    assert!(
        audit.contains("credit note NFC-000002 on invoice"),
        "{audit}"
    );
}

#[test]
fn refusals_change_nothing() {
    let env = produced();
    let inv = invoice(&env, "1", "C1004");
    let number = inv["number"].as_str().unwrap().to_string();
    let ex = inv["charges_ex_tax"].as_str().unwrap().to_string();
    let before = env.snapshot();
    let credit = |args: &[&str]| {
        let mut a = vec!["credit", "add", number.as_str()];
        a.extend_from_slice(args);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let fails = |code: i32, args: &[&str]| -> String {
        let a = credit(args);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        env.fails(code, &a)
    };
    // More than the invoice has.
    let over = minor(&inv["charges_ex_tax"]) + 1;
    let over = format!("{}.{:02}", over / 100, over % 100);
    let e = fails(4, &["--amount", &over, "--reason", "x"]);
    assert!(
        e.contains(&format!("has only {ex} (ex tax) left to credit")),
        "{e}"
    );
    // Bad amounts.
    for bad in ["0", "-5.00", "1.234", "abc", "", "99999999999"] {
        let e = fails(4, &["--amount", bad, "--reason", "x"]);
        assert!(e.contains("--amount"), "{bad}: {e}");
    }
    // No reason, a control character in it.
    fails(4, &["--amount", "1", "--reason", "  "]);
    fails(4, &["--amount", "1", "--reason", "a\r\nBcc: x"]);
    // Both or neither of --amount and --line: usage.
    fails(2, &["--amount", "1", "--line", "1", "--reason", "x"]);
    fails(2, &["--reason", "x"]);
    // A line of another invoice.
    let other = invoice(&env, "1", "C1001")["lines"][0]["id"].to_string();
    let e = fails(4, &["--line", &other, "--reason", "x"]);
    assert!(e.contains("has no line"), "{e}");
    // An invoice that does not exist.
    let e = env.fails(
        4,
        &[
            "credit",
            "add",
            "INV999999",
            "--amount",
            "1",
            "--reason",
            "x",
        ],
    );
    assert!(e.contains("no invoice numbered 'INV999999'"), "{e}");
    assert_eq!(env.snapshot(), before, "a refusal changes nothing");

    // An invoice whose run is still being produced.
    db(&env)
        .execute("UPDATE runs SET status = 'running' WHERE id = 1", [])
        .unwrap();
    let e = fails(3, &["--amount", "1", "--reason", "x"]);
    assert!(e.contains("not produced yet"), "{e}");
    db(&env)
        .execute("UPDATE runs SET status = 'completed' WHERE id = 1", [])
        .unwrap();

    // Credited whole in two notes: the total is the invoice's, then nothing is left.
    let half = minor(&inv["charges_ex_tax"]) / 2;
    let half = format!("{}.{:02}", half / 100, half % 100);
    let one = env.json(&["credit", "add", &number, "--amount", &half, "--reason", "a"]);
    let left = minor(&inv["charges_ex_tax"]) - minor(&one["amount_ex_tax"]);
    let left = format!("{}.{:02}", left / 100, left % 100);
    let two = env.json(&["credit", "add", &number, "--amount", &left, "--reason", "b"]);
    assert_eq!(
        minor(&one["total"]) + minor(&two["total"]),
        minor(&inv["total_charges"]),
        "{one:#} {two:#}"
    );
    let e = fails(4, &["--amount", "0.01", "--reason", "x"]);
    assert!(e.contains("nothing left to credit"), "{e}");
    assert_eq!(env.json(&["credit", "list"]).as_array().unwrap().len(), 2);
    let e = env.fails(4, &["credit", "show", "CN000009"]);
    assert!(e.contains("no credit note numbered"), "{e}");
}

#[test]
fn the_next_email_sends_each_credit_note_once() {
    let env = produced();
    let smtp = crate::support::smtp::SmtpServer::start().unwrap();
    for (k, v) in [
        ("smtp.host", "127.0.0.1".to_string()),
        ("smtp.port", smtp.port().to_string()),
        ("smtp.security", "none".to_string()),
        ("smtp.from", "billing@example.com".to_string()),
    ] {
        env.ok(&["config", "set", k, &v]);
    }
    env.ok(&["email", "1"]);
    let invoices_sent = smtp.messages().len();
    assert!(invoices_sent > 0);
    // C1001 is emailed, C1004 is print only.
    let a = invoice(&env, "1", "C1001");
    let p = invoice(&env, "1", "C1004");
    for inv in [&a, &p] {
        env.ok(&[
            "credit",
            "add",
            inv["number"].as_str().unwrap(),
            "--amount",
            "2.50",
            "--reason",
            "Porting delay",
        ]);
    }
    // A dry run writes the message and records nothing.
    let out = env.json(&[
        "email",
        "1",
        "--dry-run",
        env.path("outbox").to_str().unwrap(),
    ]);
    assert!(env.path("outbox/CN000001.eml").exists(), "{out:#}");
    assert!(!env.path("outbox/CN000002.eml").exists(), "print only");

    let r = env.json(&["email", "1"]);
    let got = smtp.messages();
    assert_eq!(got.len(), invoices_sent + 1, "{r:#}");
    let msg = String::from_utf8_lossy(&got.last().unwrap().data).into_owned();
    assert_eq!(got.last().unwrap().to, vec![a_email(&env)]);
    assert!(msg.contains("Subject: Credit note CN000001 from"), "{msg}");
    assert!(msg.contains("CN000001.pdf"), "{msg}");
    assert_eq!(r["sent"][0]["number"], "CN000001");
    // Sent once: the next email sends nothing more.
    env.ok(&["email", "1"]);
    assert_eq!(smtp.messages().len(), invoices_sent + 1);
    let sent: i64 = db(&env)
        .query_row(
            "SELECT COUNT(*) FROM credit_email_attempts WHERE state = 'sent'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sent, 1);
    // Named with --resend (after the operator checked the mailbox), it goes again.
    env.ok(&["email", "1", "--resend", "CN000001"]);
    assert_eq!(smtp.messages().len(), invoices_sent + 2);
    let e = env.fails(4, &["email", "1", "--resend", "CN000002"]);
    assert!(
        e.contains("CN000002"),
        "a print-only credit note is not emailed: {e}"
    );
}

fn a_email(env: &Env) -> String {
    db(env)
        .query_row(
            "SELECT email FROM customers WHERE account = 'C1001'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}
