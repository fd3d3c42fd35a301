//! Issue 15, hostile input in the mail/fees/payments/Xero/CSV area: fee
//! lines repeated within one file, control characters reaching email
//! headers, formula injection in the CSV files billrun writes, Xero payment
//! types and dates, and two `email` runs at once.

use crate::support::Env;
use crate::support::seed::{self, Spec};
use crate::support::smtp::SmtpServer;

fn db(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(&env.db).unwrap()
}

const FEE_HEADER: &str = "service,fee_code,description,amount,period_start,period_end\n";

fn fees_on(e: &Env) {
    db(e)
        .execute(
            "INSERT INTO carriers (name, format, created_at) VALUES ('openreach', 'billrun', '2026-11-01T00:00:00Z')",
            [],
        )
        .unwrap();
    e.ok(&["config", "set", "features.wholesale_fees", "true"]);
}

/// Item 1: a line repeated within ONE fee file is refused like a line
/// already imported from another file, naming file:line and the first line.
#[test]
fn a_fee_line_repeated_within_one_file_is_refused() {
    let e = Env::new().with_reference_data();
    fees_on(&e);
    let f = e.write(
        "fees-nov.csv",
        &format!(
            "{FEE_HEADER}01134960000,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n\
01134960001,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n\
01134960000,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n\
01134960000,BIZ,Line rental (again),18.5,2026-11-01,2026-11-30\n"
        ),
    );
    let before = e.snapshot();
    let err = e.fails(4, &["fees", "import", &f, "--carrier", "openreach"]);
    assert!(
        err.contains("fees-nov.csv:4: the same fee line") && err.contains("already on line 2"),
        "{err}"
    );
    assert!(
        err.contains("fees-nov.csv:5: the same fee line"),
        "18.5 is 18.50, the description does not count: {err}"
    );
    assert!(err.contains("2 fee lines would be billed twice"), "{err}");
    assert_eq!(e.snapshot(), before, "nothing imported");

    // Without the repeats the file goes in; a second file with the same
    // line written 18.5 is refused as before.
    let ok = e.write(
        "fees-ok.csv",
        &format!("{FEE_HEADER}01134960000,BIZ,Line rental wholesale,18.50,2026-11-01,2026-11-30\n"),
    );
    let v = e.json(&["fees", "import", &ok, "--carrier", "openreach"]);
    assert_eq!(v["lines"], 1);
    let again = e.write(
        "fees-again.csv",
        &format!("{FEE_HEADER}01134960000,BIZ,Line rental,18.5,2026-11-01,2026-11-30\n"),
    );
    let err = e.fails(4, &["fees", "import", &again, "--carrier", "openreach"]);
    assert!(
        err.contains("fees-again.csv:2: the same fee line") && err.contains("fees-ok.csv line 2"),
        "{err}"
    );
}

fn env_with_smtp(port: u16) -> Env {
    let env = Env::new().with_reference_data();
    for (k, v) in [
        ("company.name", "Northern Fibre & Voice Ltd"),
        ("company.email", "billing@nfv.example"),
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", &port.to_string()),
        ("smtp.security", "none"),
        ("smtp.from", "billing@nfv.example"),
    ] {
        env.ok(&["config", "set", k, v]);
    }
    env
}

/// Item 3: a customer name (and a company name) holding CR/LF, stored by an
/// older billrun or another path, never makes `email` panic: the header is
/// neutralised, every invoice is sent, nothing is injected.
#[test]
fn a_name_with_a_newline_in_the_database_does_not_panic_email() {
    let server = SmtpServer::start().unwrap();
    let env = env_with_smtp(server.port());
    let specs = [
        Spec {
            account: "C1001",
            total_minor: 1200,
        },
        Spec {
            account: "C1002",
            total_minor: 3400,
        },
    ];
    seed::completed_run(&env, &specs);
    let c = db(&env);
    c.execute(
        "UPDATE customers SET name = 'Harbour Cafe\r\nBcc: evil@example.net' WHERE account = 'C1001'",
        [],
    )
    .unwrap();
    c.execute(
        "UPDATE settings SET value = 'Northern\r\nBcc: evil@example.net' WHERE key = 'company.name'",
        [],
    )
    .unwrap();
    drop(c);
    let out = env.cmd().args(["--json", "email", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sent"].as_array().unwrap().len(), 2, "{v}");
    let got = server.messages();
    assert_eq!(got.len(), 2);
    for m in &got {
        assert!(!m.to.iter().any(|t| t.contains("evil")), "{:?}", m.to);
        let text = String::from_utf8_lossy(&m.data);
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers.lines().any(|l| l.starts_with("Bcc:")),
            "no header injected:\n{headers}"
        );
    }
    // --resend goes through the same door.
    let out = env
        .cmd()
        .args(["email", "1", "--resend", "NFV-10001"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(server.messages().len(), 3);
}

/// Every cell of a CSV file billrun wrote, with its header.
fn csv_cells(path: &std::path::Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .unwrap();
    let header = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

/// No cell a spreadsheet would run as a formula: a leading `=`, `+`, `@`,
/// tab or CR never, a leading `-` only on a number.
fn assert_no_formula(path: &std::path::Path) {
    let (_, rows) = csv_cells(path);
    for row in rows {
        for cell in row {
            let risky = match cell.chars().next() {
                Some('=' | '+' | '@' | '\t' | '\r') => true,
                Some('-') => cell.parse::<rust_decimal::Decimal>().is_err(),
                _ => false,
            };
            assert!(!risky, "{}: formula cell {cell:?}", path.display());
        }
    }
}

const EVIL: &str = "=HYPERLINK(\"http://x\",\"y\")";

/// Item 8: a name that is a spreadsheet formula is neutralised (a leading
/// single quote) in `prebill --csv`, `postbill --csv` and `xero export`;
/// figures (negative ones too) stay numbers.
#[test]
fn formula_names_are_neutralised_in_every_csv_written() {
    let e = Env::new();
    e.ok(&["init"]);
    let customers = std::fs::read_to_string(crate::support::fixture("customers.csv"))
        .unwrap()
        .replacen(
            "C1001,Harbour Cafe Ltd,",
            "C1001,\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",",
            1,
        )
        .replacen("C1002,Northgate Dental Practice,", "C1002,@SUM(1+1),", 1)
        .replacen("C1003,Kiln & Co Architects,", "C1003,-Kiln,", 1);
    let customers = e.write("customers.csv", &customers);
    for (what, file) in [
        (
            "tariffs",
            crate::support::fixture("tariffs.csv").display().to_string(),
        ),
        (
            "plans",
            crate::support::fixture("plans.csv").display().to_string(),
        ),
        ("customers", customers),
        (
            "services",
            crate::support::fixture("services.csv")
                .display()
                .to_string(),
        ),
    ] {
        e.ok(&[what, "import", &file]);
    }
    e.ok(&["config", "set", "xero.enabled", "true"]);
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let pre = e.path("pre.csv");
    e.ok(&["prebill", "1", "--csv", pre.to_str().unwrap()]);
    e.ok(&["request", "1", "--expert", "--yes"]);
    let post = e.path("post.csv");
    e.ok(&["postbill", "1", "--csv", post.to_str().unwrap()]);
    let xero = e.path("xero.csv");
    e.ok(&["xero", "export", "1", "--out", xero.to_str().unwrap()]);

    for (path, name_col) in [(&pre, "name"), (&post, "name"), (&xero, "*ContactName")] {
        assert_no_formula(path);
        let (header, rows) = csv_cells(path);
        let k = header.iter().position(|h| h == name_col).unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r[k].as_str()).collect();
        let evil = format!("'{EVIL}");
        assert!(
            names.contains(&evil.as_str()),
            "{}: {names:?}",
            path.display()
        );
        assert!(
            names.contains(&"'@SUM(1+1)"),
            "{}: {names:?}",
            path.display()
        );
        assert!(names.contains(&"'-Kiln"), "{}: {names:?}", path.display());
    }
}

fn check_payments(e: &Env) -> serde_json::Value {
    e.json(&["status", "1"])["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "check_payments")
        .unwrap()
        .clone()
}

fn today() -> chrono::NaiveDate {
    chrono::Local::now().date_naive()
}

/// A run whose cutoff is today (so payments dated up to today are "this run").
fn run_to_today(e: &Env) {
    let cutoff = today();
    let invoice = cutoff + chrono::Days::new(1);
    e.ok(&[
        "new",
        "--invoice-date",
        &invoice.to_string(),
        "--cutoff",
        &cutoff.to_string(),
    ]);
}

/// Item 14: Xero's payment type is kept; the method is mapped from it when
/// it names one of billrun's, and `check_payments` separates the rest.
#[test]
fn xero_payments_keep_their_type() {
    let e = Env::new().with_reference_data();
    run_to_today(&e);
    let d = (today() - chrono::Days::new(2))
        .format("%d/%m/%Y")
        .to_string();
    let f = e.write(
        "xero.csv",
        &format!(
            "*Date,Account Number,Reference,Amount Paid,Payment Method,Bank Account\n\
{d},C1001,X1,10.00,Credit Card,Business Current\n\
{d},C1002,X2,20.00,Direct Debit,Business Current\n\
{d},C1003,X3,30.00,PayPal,Business Current\n\
{d},C1004,X4,40.00,,Stripe GBP\n"
        ),
    );
    e.ok(&["payments", "import", &f, "--format", "xero"]);
    let list = e.json(&["payments", "list"]);
    let got: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["reference"].as_str().unwrap().to_string(),
                p["method"].as_str().unwrap().to_string(),
                p["xero_type"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let want = [
        ("X1", "card", "Credit Card"),
        ("X2", "direct_debit", "Direct Debit"),
        ("X3", "xero", "PayPal"),
        ("X4", "card", "Stripe GBP"),
    ];
    for w in want {
        assert!(
            got.contains(&(w.0.into(), w.1.into(), w.2.into())),
            "{w:?} in {got:?}"
        );
    }
    let detail = check_payments(&e)["detail"].as_str().unwrap().to_string();
    assert!(detail.contains("card 2 50.00"), "{detail}");
    assert!(detail.contains("direct_debit 1 20.00"), "{detail}");
    assert!(detail.contains("xero (PayPal) 1 30.00"), "{detail}");
}

/// Item 14: a header-only Xero export is recorded but does not clear the
/// stale-Xero-payments warning (it says nothing about being up to date).
#[test]
fn a_header_only_xero_file_is_not_a_fresh_import() {
    let e = Env::new().with_reference_data();
    run_to_today(&e);
    e.ok(&["config", "set", "xero.enabled", "true"]);
    let f = e.write("empty.csv", "*Date,Account Number,Reference,Amount Paid\n");
    let out = e
        .cmd()
        .args(["payments", "import", &f, "--format", "xero"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("holds no payments"), "{stderr}");
    let w = check_payments(&e)["warning"].clone();
    assert!(
        w.as_str().unwrap_or("").contains("never imported"),
        "the warning stays: {w}"
    );
    // A file with a payment does count.
    let d = today().to_string();
    let f = e.write(
        "one.csv",
        &format!("*Date,Account Number,Reference,Amount Paid\n{d},C1001,X1,10.00\n"),
    );
    e.ok(&["payments", "import", &f, "--format", "xero"]);
    assert!(check_payments(&e).get("warning").is_none());
}

/// Item 14: payment dates more than 7 days ahead or more than a year back
/// are refused (file:line:column) unless `--allow-date`; ours, Xero's and
/// `payments add` alike.
#[test]
fn payments_dated_far_away_need_allow_date() {
    let e = Env::new().with_reference_data();
    let ahead = (today() + chrono::Days::new(8)).to_string();
    let back = (today() - chrono::Months::new(12) - chrono::Days::new(1)).to_string();
    let ok = (today() + chrono::Days::new(7)).to_string();
    let f = e.write(
        "p.csv",
        &format!(
            "account,date,amount,method,reference\n\
C1001,{ok},5,cash,R1\nC1001,{ahead},5,cash,R2\nC1001,{back},5,cash,R3\n"
        ),
    );
    let before = e.snapshot();
    let err = e.fails(4, &["payments", "import", &f]);
    assert!(
        err.contains(&format!(
            "p.csv:3:2: date: {ahead} is more than 7 days after today"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "p.csv:4:2: date: {back} is more than a year before today"
        )),
        "{err}"
    );
    assert!(err.contains("--allow-date"), "{err}");
    assert_eq!(e.snapshot(), before);
    let x = e.write(
        "x.csv",
        &format!("Date,Account Number,Reference,Amount\n{ahead},C1002,X1,10.00\n"),
    );
    let err = e.fails(4, &["payments", "import", &x, "--format", "xero"]);
    assert!(err.contains("x.csv:2:1: date:"), "{err}");
    let add = [
        "payments",
        "add",
        "--account",
        "C1003",
        "--amount",
        "5",
        "--method",
        "cash",
        "--reference",
        "A1",
        "--date",
        &back,
    ];
    let err = e.fails(4, &add);
    assert!(err.contains("--date:"), "{err}");

    let v = e.json(&["payments", "import", &f, "--allow-date"]);
    assert_eq!(v["imported"], 3);
    e.ok(&["payments", "import", &x, "--format", "xero", "--allow-date"]);
    let mut add = add.to_vec();
    add.push("--allow-date");
    e.ok(&add);
}

/// An SMTP server that takes `delay` to accept each message; counts them.
fn slow_smtp(delay: std::time::Duration) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let count = count.clone();
            std::thread::spawn(move || {
                let mut w = stream.try_clone().unwrap();
                let mut r = BufReader::new(stream);
                let _ = w.write_all(b"220 slow.test ESMTP\r\n");
                let mut line = String::new();
                let mut in_data = false;
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if in_data {
                        if line == ".\r\n" {
                            in_data = false;
                            std::thread::sleep(delay);
                            count.fetch_add(1, Ordering::SeqCst);
                            b"250 2.0.0 Ok: queued as SLOW\r\n"
                        } else {
                            b""
                        }
                    } else if cmd.starts_with("EHLO") {
                        b"250-slow.test\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("DATA") {
                        in_data = true;
                        b"354 go ahead\r\n"
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n");
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    if !reply.is_empty() && w.write_all(reply).is_err() {
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    (port, accepted)
}

/// Item 17: a second `email` while the first is sending says that another
/// email run is in progress (exit 3), not that messages "may have gone";
/// nothing is sent twice and the first run sends everything.
#[test]
fn a_second_email_run_says_another_is_in_progress() {
    let (port, accepted) = slow_smtp(std::time::Duration::from_millis(700));
    let env = env_with_smtp(port);
    let specs: Vec<Spec<'_>> = ["C1001", "C1002", "C1003"]
        .into_iter()
        .map(|account| Spec {
            account,
            total_minor: 1200,
        })
        .collect();
    seed::completed_run(&env, &specs);
    #[allow(deprecated)]
    let bin = assert_cmd::cargo::cargo_bin("billrun");
    let first = std::process::Command::new(bin)
        .arg("--db")
        .arg(&env.db)
        .args(["--json", "email", "1"])
        .env("BILLRUN_OPERATOR", "first")
        .env_remove("BILLRUN_DB")
        .current_dir(env.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first run has an attempt in flight.
    let started = std::time::Instant::now();
    loop {
        let n: i64 = db(&env)
            .query_row(
                "SELECT COUNT(*) FROM email_attempts WHERE state = 'in_flight'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "the first email run never started sending"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let err = env.fails(3, &["email", "1"]);
    assert!(
        err.contains("another `billrun email` is in progress"),
        "{err}"
    );
    assert!(!err.contains("may have"), "{err}");
    let out = first.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sent"].as_array().unwrap().len(), 3);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    // Afterwards a re-run finds everything sent.
    let v = env.json(&["email", "1"]);
    assert_eq!(v["already_sent"], 3);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
}
