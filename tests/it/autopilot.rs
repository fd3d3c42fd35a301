//! `billrun autopilot`: a month driven from "cron" with a stopped clock
//! (`BILLRUN_TEST_NOW`, debug builds), the local SMTP server and the fake
//! Stripe: it stops at the planted billing errors (exit 3, one summary
//! email), completes after the operator's fix (one more summary), and never
//! doubles an invoice, an email, a Xero file, a print bundle or a charge,
//! even when killed at random points.

use crate::support::stripe::{FakeStripe, Reply};
use crate::support::{Env, db, fixture, smtp::SmtpServer};
use std::process::Output;

const KEY: &str = "sk_test_autopilot";
const NOW: &str = "2026-12-01T09:00:00Z";

struct Month {
    env: Env,
    smtp: SmtpServer,
    stripe: FakeStripe,
}

/// The shipped reference data, the demo's settings, every `auto.*` rule on,
/// two carriers with inboxes holding this month's files, November payments.
fn month() -> Month {
    let env = Env::new().with_reference_data();
    let smtp = SmtpServer::start().unwrap();
    // Five card customers, each charged once.
    let stripe = FakeStripe::start(
        KEY,
        (1..=5)
            .map(|i| Reply::intent(&format!("pi_{i}"), "succeeded"))
            .collect(),
    );
    let port = smtp.port().to_string();
    let print_dir = env.path("print").display().to_string();
    let xero_dir = env.path("xero").display().to_string();
    std::fs::create_dir_all(&xero_dir).unwrap();
    let base = stripe.base_url();
    let settings: Vec<(&str, &str)> = vec![
        ("company.name", "Northern Fibre & Voice Ltd"),
        ("company.address", "Unit 4, Canal Wharf|Leeds|LS11 5PS"),
        ("company.email", "billing@northernfibre.example"),
        ("invoice.prefix", "NFV-"),
        ("invoice.next_number", "10001"),
        ("xero.enabled", "true"),
        ("dd.format", "bacs18"),
        ("dd.sun", "123456"),
        ("dd.sort_code", "40-12-34"),
        ("dd.account", "12345678"),
        ("dd.name", "NORTHERN FIBRE"),
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", &port),
        ("smtp.security", "none"),
        ("smtp.from", "billing@northernfibre.example"),
        ("notify.email", "ops@northernfibre.example"),
        ("print.out_dir", &print_dir),
        ("xero.out_dir", &xero_dir),
        ("stripe.api_base", &base),
        ("auto.fetch_cdrs", "true"),
        ("auto.confirm_payments", "true"),
        ("auto.confirm_cdrs", "true"),
        ("auto.confirm_errors", "true"),
        ("auto.errors_max_cost", "0"),
        ("auto.prebill", "true"),
        ("auto.request", "true"),
        ("auto.confirm_postbill", "true"),
        ("auto.xero", "true"),
        ("auto.email", "true"),
        ("auto.print", "true"),
        ("auto.collect", "true"),
    ];
    for (k, v) in settings {
        env.ok(&["config", "set", k, v]);
    }
    for (carrier, format, file) in [
        ("northern", "billrun", "northern-2026-11.csv"),
        ("pbx", "asterisk", "pbx-Master.csv"),
    ] {
        let inbox = env.path(&format!("inbox-{carrier}"));
        std::fs::create_dir_all(&inbox).unwrap();
        let inbox_s = inbox.display().to_string();
        env.ok(&[
            "carriers", "add", carrier, "--format", format, "--inbox", &inbox_s,
        ]);
        std::fs::copy(fixture(&format!("cdrs/{file}")), inbox.join(file)).unwrap();
    }
    env.ok(&[
        "payments",
        "import",
        fixture("payments.csv").to_str().unwrap(),
        "--allow-date",
    ]);
    Month { env, smtp, stripe }
}

impl Month {
    fn autopilot_cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = self.env.cmd();
        c.env("BILLRUN_TEST_NOW", NOW)
            .env("BILLRUN_FETCH_SETTLE_MS", "0")
            .env("STRIPE_API_KEY", KEY)
            .env_remove("BILLRUN_SMTP_PASSWORD")
            .arg("autopilot")
            .args(args);
        c
    }

    /// One invocation: its exit code and its JSON report.
    fn autopilot(&self, args: &[&str]) -> (i32, serde_json::Value, Output) {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let mut c = self.env.cmd();
        c.env("BILLRUN_TEST_NOW", NOW)
            .env("BILLRUN_FETCH_SETTLE_MS", "0")
            .env("STRIPE_API_KEY", KEY)
            .arg("autopilot")
            .args(&a);
        let out = c.output().unwrap();
        let code = out.status.code().unwrap_or(-1);
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "autopilot JSON: {e}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, json, out)
    }

    /// The autopilot summaries the mailbox received.
    fn summaries(&self) -> Vec<String> {
        self.smtp
            .messages()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).into_owned())
            .filter(|m| m.contains("Subject: billrun autopilot"))
            .collect()
    }

    /// Invoice emails the mailbox received, by invoice number.
    fn invoice_mails(&self) -> std::collections::BTreeMap<String, usize> {
        let mut by = std::collections::BTreeMap::new();
        for m in self.smtp.messages() {
            let text = String::from_utf8_lossy(&m.data).into_owned();
            if let Some(i) = text.find("NFV-0") {
                let number: String = text[i..].chars().take(10).collect();
                if !text.contains("Subject: billrun autopilot") {
                    *by.entry(number).or_insert(0) += 1;
                }
            }
        }
        by
    }

    /// The operator's fix of the planted problem: the missing services
    /// added and re-rated, what is left ignored.
    fn fix_errors(&self) {
        let e = &self.env;
        e.ok(&[
            "services",
            "import",
            fixture("cdrs/found-services.csv").to_str().unwrap(),
        ]);
        e.ok(&["errors", "rerate"]);
        let ids: Vec<String> = {
            let conn = db(e);
            let mut st = conn
                .prepare("SELECT id FROM billing_errors WHERE state = 'open' ORDER BY id")
                .unwrap();
            st.query_map([], |r| r.get::<_, i64>(0))
                .unwrap()
                .map(|r| r.unwrap().to_string())
                .collect()
        };
        let mut argv = vec!["--yes", "errors", "ignore"];
        argv.extend(ids.iter().map(String::as_str));
        e.ok(&argv);
    }

    fn count(&self, sql: &str) -> i64 {
        db(&self.env).query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// Nothing was done twice: one invoice per customer billed, one email
    /// each, one Xero export each, one print bundle entry each, one Direct
    /// Debit payment run, one Stripe charge per card invoice.
    fn assert_nothing_doubled(&self) {
        let invoices = self.count("SELECT COUNT(*) FROM invoices");
        assert!(invoices > 0);
        assert_eq!(
            self.count("SELECT COUNT(DISTINCT account) FROM invoices"),
            invoices,
            "one invoice per customer"
        );
        for (number, n) in self.invoice_mails() {
            assert_eq!(n, 1, "{number} emailed {n} times");
        }
        assert_eq!(
            self.count("SELECT COUNT(*) FROM xero_exports"),
            self.count("SELECT COUNT(DISTINCT invoice_id) FROM xero_exports"),
            "an invoice exported twice"
        );
        assert!(self.count("SELECT COUNT(*) FROM payment_runs WHERE kind = 'dd'") <= 1);
        let card_items = self.count(
            "SELECT COUNT(*) FROM payment_items i JOIN payment_runs r ON r.id = i.payment_run_id WHERE r.kind = 'card'",
        );
        assert_eq!(self.stripe.charges() as i64, card_items, "charges");
        assert_eq!(
            self.count("SELECT COUNT(*) FROM payment_items"),
            self.count("SELECT COUNT(DISTINCT invoice_id) FROM payment_items"),
            "an invoice collected twice"
        );
    }
}

fn steps(report: &serde_json::Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["step"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_month_stops_once_at_billing_errors_and_completes_after_the_fix() {
    let m = month();
    let e = &m.env;

    // 1: the run is created, payments and CDRs confirmed; the billing
    // errors of the PBX file cost more than auto.errors_max_cost (0).
    let (code, r, _) = m.autopilot(&[]);
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(r["created_runs"], serde_json::json!(["monthly-2026-12-01"]));
    let done = steps(&r, "actions");
    for s in ["cdr fetch", "cdr process", "check_payments", "check_cdrs"] {
        assert!(done.iter().any(|d| d == s), "{s} not done: {r:#}");
    }
    let waits = r["waiting"].as_array().unwrap();
    assert_eq!(waits.len(), 1, "{r:#}");
    assert_eq!(waits[0]["step"], "check_errors");
    assert_eq!(waits[0]["kind"], "person");
    let why = waits[0]["why"].as_str().unwrap();
    assert!(
        why.contains("billing errors are open") && why.contains("above auto.errors_max_cost 0.00"),
        "{why}"
    );
    assert!(
        waits[0]["command"]
            .as_str()
            .unwrap()
            .contains("billrun errors 1")
    );
    assert_eq!(m.summaries().len(), 1);
    assert!(m.summaries()[0].contains("needs a person at step check_errors"));
    // Audited as the autopilot with the rule that allowed it.
    let audit = e.json(&["audit", "1"]);
    let by_autopilot: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["operator"] == "autopilot")
        .collect();
    assert!(
        by_autopilot.iter().any(|a| a["command"]
            .as_str()
            .unwrap()
            .contains("policy auto.confirm_cdrs")),
        "{audit:#}"
    );

    // 2: nothing new: the same stop, no second email, nothing done.
    let (code, r, _) = m.autopilot(&[]);
    assert_eq!(code, 3);
    assert!(r["actions"].as_array().unwrap().is_empty(), "{r:#}");
    assert_eq!(m.summaries().len(), 1, "told once");

    // A dry run changes nothing, not a byte of the database.
    let before = e.snapshot();
    let bytes = std::fs::read(&e.db).unwrap();
    let (code, r, _) = m.autopilot(&["--dry-run"]);
    assert_eq!(code, 3);
    assert_eq!(r["dry_run"], true);
    assert_eq!(e.snapshot(), before);
    assert_eq!(std::fs::read(&e.db).unwrap(), bytes);

    // The operator's fix, then the rest of the month in one invocation.
    m.fix_errors();
    let (code, r, out) = m.autopilot(&[]);
    assert_eq!(code, 0, "{r:#}\n{}", String::from_utf8_lossy(&out.stderr));
    let done = steps(&r, "actions");
    for s in [
        "check_errors",
        "prebill",
        "request",
        "production",
        "postbill",
        "xero",
        "email",
        "print",
        "collect_dd",
        "collect_card",
    ] {
        assert!(done.iter().any(|d| d == s), "{s} not done: {r:#}");
    }
    assert_eq!(r["completed"], serde_json::json!([1]));
    let status = e.json(&["status", "1"]);
    assert_eq!(status["complete"], true, "{status:#}");
    assert_eq!(m.summaries().len(), 2);
    assert!(m.summaries()[1].contains("is complete"));
    let invoices = m.count("SELECT COUNT(*) FROM invoices");
    assert_eq!(
        m.invoice_mails().len() as i64,
        m.count("SELECT COUNT(*) FROM invoices WHERE delivery != 'print'")
    );
    assert!(invoices > 0);
    assert!(std::fs::read_dir(e.path("xero")).unwrap().count() == 1);

    // Again and again: nothing more, no email.
    for _ in 0..2 {
        let (code, r, _) = m.autopilot(&[]);
        assert_eq!(code, 0, "{r:#}");
        assert!(r["actions"].as_array().unwrap().is_empty(), "{r:#}");
    }
    assert_eq!(m.summaries().len(), 2);
    m.assert_nothing_doubled();
    assert_eq!(
        m.count("SELECT COUNT(*) FROM payment_runs WHERE kind = 'dd'"),
        1
    );
}

#[test]
fn killed_at_random_points_it_resumes_and_never_doubles() {
    let m = month();
    m.fix_errors_before_start();
    // Kill the autopilot (SIGKILL) at pseudo-random delays, call after
    // call, until one ends by itself. The delays grow, so that however
    // fast or loaded the machine is, the kills land all along the month
    // and the work longer than a short delay (the PDFs) is got past: no
    // assumption on how long anything takes.
    let mut seed: u64 = 0x5EED_0A07_0F11;
    let mut random_below = |n: u64| {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    };
    for i in 0..40 {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"));
        child
            .arg("--db")
            .arg(&m.env.db)
            .arg("autopilot")
            .env("BILLRUN_OPERATOR", "tester")
            .env("BILLRUN_TEST_NOW", NOW)
            .env("BILLRUN_FETCH_SETTLE_MS", "0")
            .env("STRIPE_API_KEY", KEY)
            .current_dir(m.env.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut c = child.spawn().unwrap();
        let delay = 5 + random_below(200 + 100 * i);
        std::thread::sleep(std::time::Duration::from_millis(delay));
        let _ = c.kill();
        if c.wait().unwrap().code().is_some() {
            break; // it ended before the kill
        }
    }
    // Then cron goes on. A kill while an invoice email was being handed to
    // the server leaves it `in_flight` (it may have gone): the autopilot
    // never re-sends it and names it for a person, who checks the mailbox
    // and resends only what did not arrive.
    let mut arrived_mid_kill = Vec::new();
    let mut last = serde_json::Value::Null;
    // Cron calls it again and again (no pause: nothing here depends on
    // the time passing) until a call finds nothing to do on a complete run.
    for _ in 0..12 {
        let (code, r, _) = m.autopilot(&[]);
        last = r;
        if code == 0 && last["actions"].as_array().unwrap().is_empty() {
            if m.env.json(&["status", "1"])["complete"] == true {
                break;
            }
            continue;
        }
        assert_ne!(code, 5, "{last:#}");
        let waits = last["waiting"].as_array().unwrap().clone();
        if code == 3 {
            assert_eq!(waits.len(), 1, "{last:#}");
            assert_eq!(waits[0]["step"], "email", "{last:#}");
            let why = waits[0]["why"].as_str().unwrap();
            assert!(why.contains("interrupted while being sent"), "{why}");
            for part in why.split("; ") {
                let number = part.split(' ').next().unwrap();
                if m.arrived(number) {
                    // It went: the operator says so (never sent again).
                    arrived_mid_kill.push(number.to_string());
                    m.env.ok(&["email", "1", "--arrived", number]);
                } else {
                    m.env.ok(&["email", "1", "--resend", number]);
                }
            }
        }
    }
    m.assert_nothing_doubled();
    let status = m.env.json(&["status", "1"]);
    // Whether an interrupted email arrived (marked so) or not (resent),
    // the month completes.
    assert_eq!(
        m.count("SELECT COUNT(*) FROM payment_runs WHERE kind = 'dd'"),
        1
    );
    assert_eq!(status["complete"], true, "{last:#}\n{status:#}");
    let told: Vec<String> = m.summaries();
    // Told once, never twice. A kill after its notice was committed as
    // being sent leaves it `sending`, whether the message went or not
    // (the server may have taken it just before the kill): then it was
    // told at most once.
    let in_flight = m.count(
        "SELECT COUNT(*) FROM autopilot_notices WHERE kind = 'complete' AND state = 'sending'",
    );
    let complete_told = told.iter().filter(|t| t.contains("is complete")).count() as i64;
    assert!(complete_told <= 1, "the completion told twice: {told:#?}");
    if in_flight == 0 {
        assert_eq!(complete_told, 1, "the completion told once: {told:#?}");
    }
    // Any other summary is a person-notice, each about a different stop.
    let mut stops: Vec<&String> = told.iter().filter(|t| !t.contains("is complete")).collect();
    let n = stops.len();
    stops.dedup();
    assert_eq!(stops.len(), n);
    eprintln!("emails interrupted that had arrived: {arrived_mid_kill:?}");
}

impl Month {
    /// Whether the mailbox got the email of invoice `number`. A message
    /// interrupted by a kill may still be being taken in by the server's
    /// thread: it is looked for during a few seconds (whether it arrived,
    /// not how fast).
    fn arrived(&self, number: &str) -> bool {
        for _ in 0..50 {
            if self.invoice_mails().contains_key(number) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }

    /// Variant: the errors are fixed before the autopilot first runs (the
    /// CDRs imported by hand), so one invocation can go all the way.
    fn fix_errors_before_start(&self) {
        let e = &self.env;
        e.ok(&["cdr", "fetch"]);
        e.ok(&["cdr", "process"]);
        self.fix_errors();
    }
}

#[test]
fn one_autopilot_at_a_time_and_a_dead_ones_lock_does_not_block() {
    let m = month();
    let files = m.env.path("t.db.files");
    std::fs::create_dir_all(&files).unwrap();
    let lock = files.join("autopilot.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .unwrap();
    f.lock().unwrap();
    let before = m.env.snapshot();
    let out = m.autopilot_cmd(&[]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("another autopilot is running"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(m.env.snapshot(), before, "the second one did nothing");
    // The holder goes away (as a killed process's lock does): the file stays
    // but no longer blocks.
    drop(f);
    assert!(lock.exists());
    let (code, r, _) = m.autopilot(&[]);
    assert_eq!(code, 3, "{r:#}");
    assert!(r["locked"].is_null());
}

#[test]
fn with_the_policy_off_it_creates_the_run_and_names_the_first_step() {
    let env = Env::new().with_reference_data();
    let out = env
        .cmd()
        .env("BILLRUN_TEST_NOW", NOW)
        .args(["--json", "autopilot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["created_runs"], serde_json::json!(["monthly-2026-12-01"]));
    assert_eq!(r["waiting"][0]["step"], "check_payments");
    assert_eq!(
        r["waiting"][0]["why"],
        "the policy does not allow it (auto.confirm_payments is off)"
    );
    assert!(r["actions"].as_array().unwrap().is_empty());
    assert!(r["notified"].is_null(), "no notify.email: nothing sent");
}

#[test]
fn a_kill_between_the_payment_run_commit_and_its_file_is_finished_next_time() {
    let m = month();
    m.fix_errors_before_start();
    let out = m
        .autopilot_cmd(&[])
        .env("BILLRUN_TEST_STOP_AFTER_COMMIT", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(137),
        "killed at the payment run commit"
    );
    let status = m.env.json(&["status", "1"]);
    let dd = crate::support::step(&status, "collect_dd");
    assert!(
        dd["detail"].as_str().unwrap().contains("not in place"),
        "{dd:#}"
    );
    let (code, r, _) = m.autopilot(&[]);
    assert_eq!(code, 0, "{r:#}");
    let status = m.env.json(&["status", "1"]);
    assert_eq!(status["complete"], true, "{status:#}");
    let file: String = db(&m.env)
        .query_row("SELECT file FROM payment_runs WHERE kind = 'dd'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(std::path::Path::new(&file).exists(), "{file}");
    m.assert_nothing_doubled();
    assert_eq!(
        m.count("SELECT COUNT(*) FROM payment_runs WHERE kind = 'dd'"),
        1
    );
}

#[test]
fn the_demos_second_act_stops_once_at_billing_errors_then_completes() {
    let env = Env::new();
    let dir = env.path("demo");
    let out = env.ok(&["demo", "--dir", dir.to_str().unwrap()]);
    let act2 = &out[out.find("Second act").expect("a second act")..];
    assert_eq!(
        act2.matches("(exit 3: a person is needed)").count(),
        1,
        "{act2}"
    );
    assert!(act2.contains("stops at check_errors"), "{act2}");
    assert!(act2.contains("run 1: Run complete"), "{act2}");
    assert!(
        act2.contains("(exit 0: nothing waits on a person)"),
        "{act2}"
    );
    let mailbox = dir.join("autopilot").join("mailbox");
    let mut told: Vec<String> = std::fs::read_dir(&mailbox)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    told.sort_by_key(|t| t.contains("is complete"));
    assert_eq!(told.len(), 2);
    assert!(
        told[0].contains("needs a person at step check_errors"),
        "{}",
        told[0]
    );
    assert!(told[1].contains("is complete"), "{}", told[1]);
    let c = rusqlite::Connection::open(dir.join("autopilot").join("demo.db")).unwrap();
    let by_autopilot: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM audit WHERE operator = 'autopilot' AND command LIKE '%policy auto.%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(by_autopilot > 0);
}

#[test]
fn a_summary_the_mail_server_did_not_take_is_exit_5_and_told_next_time() {
    let m = month();
    // A port nobody listens on: the summary cannot go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    m.env.ok(&["config", "set", "smtp.port", &dead_port]);
    let (code, r, _) = m.autopilot(&[]);
    assert_eq!(code, 5, "{r:#}");
    let failures = r["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{r:#}");
    assert_eq!(failures[0]["step"], "notify");
    assert!(
        failures[0]["why"]
            .as_str()
            .unwrap()
            .contains("was not sent"),
        "{r:#}"
    );
    // The run still waits for a person, listed as such.
    assert_eq!(r["waiting"][0]["step"], "check_errors");
    assert_eq!(r["notified"]["state"], "failed");
    // The server is back: the same news is told now, once.
    m.env
        .ok(&["config", "set", "smtp.port", &m.smtp.port().to_string()]);
    let (code, r, _) = m.autopilot(&[]);
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(r["notified"]["state"], "sent");
    let (code, r, _) = m.autopilot(&[]);
    assert_eq!(code, 3);
    assert!(r["notified"].is_null(), "told once: {r:#}");
    assert_eq!(m.summaries().len(), 1);
}
