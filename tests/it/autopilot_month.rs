//! The month end to end under `billrun autopilot`, called again and again
//! as cron would, on a stopped clock that moves between calls
//! (`BILLRUN_TEST_NOW`; debug builds), against the local SMTP server, the
//! fake Stripe (cards), the fake GoCardless (Direct Debit, `dd.provider
//! gocardless`) and the fake Xero (`xero.mode api`), with the shipped
//! reference data and CDR files and a real production (PDFs), so that
//! email, print and collection are reached:
//!
//! - planted problems stop it with the right exit, run, step, why and
//!   command: billing errors above `auto.errors_max_cost` and a customer
//!   without an email address (exit 3), an invoice Xero refuses (exit 3), a
//!   Stripe outage (exit 5); after each fix it carries on and completes;
//! - each summary to `notify.email` is sent once;
//! - nothing is ever done twice (an invoice, an email, a Xero invoice, a
//!   Stripe PaymentIntent, a GoCardless payment), including when it is
//!   killed at the gateway hooks (`BILLRUN_TEST_XERO_STOP_AFTER_SEND`,
//!   `BILLRUN_TEST_STOP_AFTER_REQUEST`) and by `kill -9` at random points;
//! - every time stamp it records is the stopped clock's.

use crate::support::gocardless::FakeGoCardless;
use crate::support::stripe::{FakeStripe, Reply};
use crate::support::xero::{self as fake_xero, FakeXero};
use crate::support::{Env, db, fixture, smtp::SmtpServer};
use std::collections::{BTreeMap, BTreeSet};

const STRIPE_KEY: &str = "sk_test_autopilot_month";
const GC_TOKEN: &str = "sandbox_gc_token_autopilot_month";
/// The card customer whose Stripe Customer is missing (the planted setup
/// problem: Stripe refuses to charge a saved card without it).
const NO_STRIPE_CUSTOMER: &str = "C1003";

struct World {
    env: Env,
    smtp: SmtpServer,
    stripe: FakeStripe,
    gc: FakeGoCardless,
    xero: FakeXero,
}

/// Each direct-debit customer's GoCardless mandate.
fn mandate(account: &str) -> String {
    format!("MD{account}")
}

/// The shipped customers with a GoCardless mandate for each Direct Debit
/// customer; without `NO_STRIPE_CUSTOMER`'s Stripe Customer when `planted`.
fn customers_csv(env: &Env, planted: bool) -> String {
    let text = std::fs::read_to_string(fixture("customers.csv")).unwrap();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(&format!("{line},gocardless_mandate\n"));
            continue;
        }
        let mut cols: Vec<String> = line.split(',').map(String::from).collect();
        let md = if cols[4] == "direct_debit" {
            mandate(&cols[0])
        } else {
            String::new()
        };
        if planted && cols[0] == NO_STRIPE_CUSTOMER {
            cols[22].clear();
        }
        out.push_str(&format!("{},{md}\n", cols.join(",")));
    }
    env.write(
        if planted {
            "customers-planted.csv"
        } else {
            "customers-fixed.csv"
        },
        &out,
    )
}

fn direct_debit_accounts() -> Vec<String> {
    std::fs::read_to_string(fixture("customers.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| l.split(',').nth(4) == Some("direct_debit"))
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect()
}

/// The world with every `auto.*` rule on, in API mode for Xero, GoCardless
/// for Direct Debit, Stripe for cards; `stripe` is the fake's script.
fn world(stripe: Vec<Reply>) -> World {
    let env = Env::new().with_reference_data();
    let smtp = SmtpServer::start().unwrap();
    let stripe = FakeStripe::start(STRIPE_KEY, stripe);
    let mandates: Vec<String> = direct_debit_accounts().iter().map(|a| mandate(a)).collect();
    let mandates: Vec<&str> = mandates.iter().map(String::as_str).collect();
    let gc = FakeGoCardless::start(GC_TOKEN, &mandates);
    let xero = FakeXero::start();
    let port = smtp.port().to_string();
    let print_dir = env.path("print").display().to_string();
    let (stripe_base, gc_base, xero_api) = (stripe.base_url(), gc.base_url(), xero.api_base());
    let settings: Vec<(&str, &str)> = vec![
        ("company.name", "Northern Fibre & Voice Ltd"),
        ("company.address", "Unit 4, Canal Wharf|Leeds|LS11 5PS"),
        ("company.email", "billing@northernfibre.example"),
        ("invoice.prefix", "NFV-"),
        ("invoice.next_number", "10001"),
        ("xero.enabled", "true"),
        ("xero.mode", "api"),
        ("xero.identity_base", &xero.base),
        ("xero.api_base", &xero_api),
        ("dd.provider", "gocardless"),
        ("gocardless.api_base", &gc_base),
        ("stripe.api_base", &stripe_base),
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", &port),
        ("smtp.security", "none"),
        ("smtp.from", "billing@northernfibre.example"),
        ("notify.email", "ops@northernfibre.example"),
        ("print.out_dir", &print_dir),
        ("auto.fetch_cdrs", "true"),
        ("auto.fetch_payments", "true"),
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
        ("auto.sync", "true"),
    ];
    for (k, v) in settings {
        env.ok(&["config", "set", k, v]);
    }
    env.ok(&["customers", "import", &customers_csv(&env, true)]);
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
    World {
        env,
        smtp,
        stripe,
        gc,
        xero,
    }
}

/// One autopilot invocation's outcome.
struct Call {
    code: Option<i32>,
    report: serde_json::Value,
    stderr: String,
}

impl World {
    /// The autopilot as cron runs it, at `now`, with `extra` variables.
    fn command(&self, now: &str, extra: &[(&str, &str)]) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"));
        c.arg("--db")
            .arg(&self.env.db)
            .args(["--json", "autopilot"])
            .env("BILLRUN_OPERATOR", "cron")
            .env("BILLRUN_TEST_NOW", now)
            .env("BILLRUN_TEST_DD_TODAY", &now[..10])
            .env("BILLRUN_FETCH_SETTLE_MS", "0")
            .env("BILLRUN_TEST_GC_MAX_WAIT_MS", "20")
            .env("STRIPE_API_KEY", STRIPE_KEY)
            .env("GOCARDLESS_ACCESS_TOKEN", GC_TOKEN)
            .env("XERO_CLIENT_ID", fake_xero::CLIENT_ID)
            .env("XERO_CLIENT_SECRET", fake_xero::CLIENT_SECRET)
            .env_remove("BILLRUN_DB")
            .env_remove("BILLRUN_SMTP_PASSWORD")
            .current_dir(self.env.dir.path());
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    }

    /// Run it at `now`; check that every time stamp it wrote is `now`'s.
    fn autopilot(&self, now: &str, extra: &[(&str, &str)]) -> Call {
        let before = stamps(&self.env);
        let out = self.command(now, extra).output().unwrap();
        let after = stamps(&self.env);
        assert_stamped_at(&before, &after, now);
        let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        Call {
            code: out.status.code(),
            report,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn count(&self, sql: &str) -> i64 {
        db(&self.env).query_row(sql, [], |r| r.get(0)).unwrap()
    }

    /// The autopilot's summaries the mailbox received.
    fn summaries(&self) -> Vec<String> {
        self.smtp
            .messages()
            .iter()
            .map(|m| String::from_utf8_lossy(&m.data).into_owned())
            .filter(|m| m.contains("Subject: billrun autopilot"))
            .collect()
    }

    /// Invoice emails received, by invoice number.
    fn invoice_mails(&self) -> BTreeMap<String, usize> {
        let numbers = self.numbers("SELECT number FROM invoices");
        let mut by = BTreeMap::new();
        for m in self.smtp.messages() {
            let text = String::from_utf8_lossy(&m.data).into_owned();
            if text.contains("Subject: billrun autopilot") {
                continue;
            }
            let subject = text
                .lines()
                .find(|l| l.starts_with("Subject:"))
                .unwrap_or("")
                .to_string();
            let hit: Vec<&String> = numbers.iter().filter(|n| subject.contains(*n)).collect();
            assert_eq!(hit.len(), 1, "one invoice per email: {subject}");
            *by.entry(hit[0].clone()).or_insert(0) += 1;
        }
        by
    }

    fn numbers(&self, sql: &str) -> Vec<String> {
        let c = db(&self.env);
        let mut st = c.prepare(sql).unwrap();
        st.query_map([], |r| r.get::<_, String>(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    /// Never twice: one invoice per customer billed; each email, Xero
    /// invoice, Stripe PaymentIntent and GoCardless payment at most once
    /// (counted in the SMTP server and the fakes), and as many as the
    /// database says were made.
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
        let created = self.xero.with(|s| s.created.clone());
        for (number, n) in &created {
            assert_eq!(*n, 1, "{number} created {n} times in Xero");
        }
        let in_xero = self.xero.with(|s| s.invoices.len());
        assert_eq!(in_xero, created.len(), "Xero holds each invoice once");
        // Stripe: one PaymentIntent per card item, each key charged once.
        let card_items = self.count(
            "SELECT COUNT(*) FROM payment_items i JOIN payment_runs r ON r.id = i.payment_run_id WHERE r.kind = 'card'",
        );
        assert_eq!(self.stripe.charges() as i64, card_items, "Stripe charges");
        let keys: Vec<String> = self
            .stripe
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && !r.replayed)
            .filter_map(|r| r.idempotency_key.clone())
            .collect();
        let distinct: BTreeSet<&String> = keys.iter().collect();
        assert!(distinct.len() <= card_items as usize, "{keys:?}");
        // GoCardless: one payment per Direct Debit item, never two for a key
        // nor two for an invoice.
        let gc = self.gc.payments();
        let dd_items = self.count(
            "SELECT COUNT(*) FROM payment_items i JOIN payment_runs r ON r.id = i.payment_run_id WHERE r.kind = 'dd'",
        );
        assert_eq!(gc.len() as i64, dd_items, "GoCardless payments");
        let refs: BTreeSet<String> = gc
            .iter()
            .map(|p| p["metadata"]["invoice"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(refs.len(), gc.len(), "a GoCardless payment doubled");
        assert_eq!(
            self.count("SELECT COUNT(*) FROM payment_items"),
            self.count("SELECT COUNT(DISTINCT invoice_id) FROM payment_items"),
            "an invoice collected twice"
        );
    }
}

/// Every time stamp in the database: (table, rowid, column) → value, for
/// the columns `at` and `*_at`.
fn stamps(env: &Env) -> BTreeMap<(String, i64, String), String> {
    let c = db(env);
    let tables: Vec<String> = {
        let mut st = c
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let mut out = BTreeMap::new();
    for t in tables {
        let cols: Vec<String> = {
            let mut st = c.prepare(&format!("PRAGMA table_info(\"{t}\")")).unwrap();
            st.query_map([], |r| r.get::<_, String>(1))
                .unwrap()
                .map(|r| r.unwrap())
                .filter(|n| n == "at" || n.ends_with("_at"))
                .collect()
        };
        for col in cols {
            let sql = format!("SELECT rowid, \"{col}\" FROM \"{t}\" WHERE \"{col}\" IS NOT NULL");
            let Ok(mut st) = c.prepare(&sql) else {
                continue; // a WITHOUT ROWID table
            };
            let rows: Vec<(i64, String)> = st
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            for (id, v) in rows {
                out.insert((t.clone(), id, col.clone()), v);
            }
        }
    }
    out
}

/// What an invocation at `now` wrote or changed is stamped `now` (the
/// stopped clock's), never the machine's time.
fn assert_stamped_at(
    before: &BTreeMap<(String, i64, String), String>,
    after: &BTreeMap<(String, i64, String), String>,
    now: &str,
) {
    let want = now.trim_end_matches('Z');
    let wrong: Vec<String> = after
        .iter()
        .filter(|(k, v)| before.get(*k) != Some(*v))
        .filter(|(_, v)| !v.starts_with(want))
        .map(|((t, id, c), v)| format!("{t}[{id}].{c} = {v}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "stamped with another clock than BILLRUN_TEST_NOW={now}: {wrong:#?}"
    );
}

fn steps_of(report: &serde_json::Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["step"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The one person-wait of a report (run, step, why, command).
fn the_wait(c: &Call) -> (i64, String, String, String) {
    let w = c.report["waiting"].as_array().unwrap();
    let people: Vec<&serde_json::Value> = w.iter().filter(|w| w["kind"] == "person").collect();
    assert_eq!(people.len(), 1, "{:#}", c.report);
    let w = people[0];
    (
        w["run"].as_i64().unwrap(),
        w["step"].as_str().unwrap().to_string(),
        w["why"].as_str().unwrap().to_string(),
        w["command"].as_str().unwrap().to_string(),
    )
}

/// The operator's fix of the billing errors: the missing services added
/// and re-rated, what is left ignored.
fn fix_errors(e: &Env) {
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
    if !ids.is_empty() {
        let mut argv = vec!["--yes", "errors", "ignore"];
        argv.extend(ids.iter().map(String::as_str));
        e.ok(&argv);
    }
}

fn card_replies() -> Vec<Reply> {
    (1..=5)
        .map(|i| Reply::intent(&format!("pi_{i}"), "succeeded"))
        .collect()
}

#[test]
fn a_month_under_cron_stops_at_each_planted_problem_and_never_doubles() {
    // Stripe is down for the first card charge's three attempts.
    let mut script = vec![Reply::error(500, "api_error", "Something went wrong"); 3];
    script.extend(card_replies());
    let w = world(script);
    let e = &w.env;

    // 1 December, 08:00: the run is created, CDRs fetched and rated; the
    // card customer without a Stripe Customer (a setup problem) stops it
    // at its first step.
    let c = w.autopilot("2026-12-01T08:00:00Z", &[]);
    assert_eq!(c.code, Some(3), "{:#}\n{}", c.report, c.stderr);
    assert_eq!(
        c.report["created_runs"],
        serde_json::json!(["monthly-2026-12-01"])
    );
    let done = steps_of(&c.report, "actions");
    for s in ["cdr fetch", "cdr process"] {
        assert!(done.iter().any(|d| d == s), "{s} not done: {:#}", c.report);
    }
    let (run, step, why, command) = the_wait(&c);
    assert_eq!((run, step.as_str()), (1, "check_setup"));
    assert!(
        why.contains(NO_STRIPE_CUSTOMER) && why.contains("no Stripe Customer"),
        "{why}"
    );
    assert!(command.contains("billrun customers import"), "{command}");
    assert_eq!(w.summaries().len(), 1);
    assert!(w.summaries()[0].contains("needs a person at step check_setup"));

    // 08:05, nothing fixed: the same stop, nothing done, no second summary.
    let c = w.autopilot("2026-12-01T08:05:00Z", &[]);
    assert_eq!(c.code, Some(3));
    assert_eq!(steps_of(&c.report, "actions"), Vec::<String>::new());
    assert_eq!(w.summaries().len(), 1, "told once");

    // The Stripe Customer is filled in; 08:15: payments and CDRs are
    // confirmed; the PBX file's billing errors cost more than
    // auto.errors_max_cost (0).
    e.ok(&["customers", "import", &customers_csv(e, false)]);
    let c = w.autopilot("2026-12-01T08:15:00Z", &[]);
    assert_eq!(c.code, Some(3), "{:#}\n{}", c.report, c.stderr);
    let done = steps_of(&c.report, "actions");
    for s in ["check_payments", "check_cdrs"] {
        assert!(done.iter().any(|d| d == s), "{s} not done: {:#}", c.report);
    }
    let (run, step, why, command) = the_wait(&c);
    assert_eq!((run, step.as_str()), (1, "check_errors"));
    assert!(why.contains("above auto.errors_max_cost 0.00"), "{why}");
    assert!(command.contains("billrun errors 1"), "{command}");
    let summaries = w.summaries();
    assert_eq!(summaries.len(), 2, "{summaries:#?}");
    assert!(summaries[1].contains("needs a person at step check_errors"));
    assert_eq!(
        w.count("SELECT COUNT(*) FROM invoices"),
        0,
        "nothing billed"
    );

    // The operator fixes the errors; 08:30: bills are produced and sent to
    // Xero, which refuses one of them (a validation error).
    fix_errors(e);
    w.xero.with(|s| {
        s.invalid.insert(
            "NFV-010003".into(),
            "Account code '200' is not a valid code for this document.".into(),
        )
    });
    let c = w.autopilot("2026-12-01T08:30:00Z", &[]);
    assert_eq!(c.code, Some(3), "{:#}\n{}", c.report, c.stderr);
    let done = steps_of(&c.report, "actions");
    for s in ["prebill", "request", "production", "postbill", "xero"] {
        assert!(done.iter().any(|d| d == s), "{s} not done: {:#}", c.report);
    }
    let (run, step, why, command) = the_wait(&c);
    assert_eq!((run, step.as_str()), (1, "xero"));
    assert!(
        why.contains("Xero refused 1") && why.contains("NFV-010003"),
        "{why}"
    );
    assert!(command.contains("xero"), "{command}");
    assert_eq!(w.summaries().len(), 3);
    assert!(w.summaries()[2].contains("NFV-010003"));
    let pdfs = w.count("SELECT COUNT(*) FROM invoices");
    assert!(pdfs > 10, "a real production: {pdfs} invoices");

    // Fixed in Xero. 08:45: killed right after Xero took the invoice,
    // before billrun recorded it.
    w.xero.with(|s| s.invalid.clear());
    let c = w.autopilot(
        "2026-12-01T08:45:00Z",
        &[("BILLRUN_TEST_XERO_STOP_AFTER_SEND", "1")],
    );
    assert_eq!(c.code, Some(137), "killed after the send: {}", c.stderr);
    assert_eq!(
        w.xero.with(|s| s.created.get("NFV-010003").copied()),
        Some(1)
    );

    // 09:00: Xero's stored answer is taken (no second invoice), the
    // invoices are emailed and printed, and the GoCardless payments start;
    // killed right after GoCardless took the first one.
    let c = w.autopilot(
        "2026-12-01T09:00:00Z",
        &[("BILLRUN_TEST_STOP_AFTER_REQUEST", "1")],
    );
    assert_eq!(c.code, Some(137), "killed after the request: {}", c.stderr);
    assert_eq!(w.gc.payments().len(), 1);
    // The checklist does not count them collected meanwhile.
    let dd = crate::support::step(&e.json(&["status", "1"]), "collect_dd");
    assert_eq!(dd["state"], "todo", "{dd:#}");
    assert!(
        dd["detail"]
            .as_str()
            .unwrap()
            .contains("payments sent to GoCardless have no recorded answer"),
        "{dd:#}"
    );

    // 09:10: GoCardless is down: exit 5 naming the run, the step and the
    // command; nothing was created.
    w.gc.set_down(true);
    let c = w.autopilot("2026-12-01T09:10:00Z", &[]);
    assert_eq!(c.code, Some(5), "{:#}\n{}", c.report, c.stderr);
    let dd: Vec<&serde_json::Value> = c.report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["step"] == "collect_dd")
        .collect();
    assert_eq!(dd.len(), 1, "{:#}", c.report);
    assert_eq!(dd[0]["run"], 1);
    assert!(
        dd[0]["why"].as_str().unwrap().contains("no answer"),
        "{:#}",
        c.report
    );
    assert!(
        dd[0]["command"]
            .as_str()
            .unwrap()
            .contains("billrun collect dd 1"),
        "{:#}",
        c.report
    );
    assert!(c.report["waiting"].as_array().unwrap().is_empty());
    assert_eq!(w.gc.payments().len(), 1);
    assert_eq!(w.stripe.charges(), 0, "the run stopped at collect_dd");
    assert_eq!(w.summaries().len(), 3, "an outage is no news for a person");

    // 09:15: GoCardless is back: the killed payment is found by its key
    // (409 conflict, not a second payment), the rest are made; Stripe is
    // down: exit 5 naming the run, the step and the command.
    w.gc.set_down(false);
    let c = w.autopilot("2026-12-01T09:15:00Z", &[]);
    assert_eq!(c.code, Some(5), "{:#}\n{}", c.report, c.stderr);
    let f = &c.report["failures"].as_array().unwrap();
    assert_eq!(f.len(), 1, "{:#}", c.report);
    assert_eq!(f[0]["run"], 1);
    assert_eq!(f[0]["step"], "collect_card");
    assert!(
        f[0]["why"]
            .as_str()
            .unwrap()
            .contains("no answer from Stripe"),
        "{:#}",
        c.report
    );
    assert!(
        f[0]["command"]
            .as_str()
            .unwrap()
            .contains("billrun collect card 1"),
        "{:#}",
        c.report
    );
    let gc_conflicts = w.gc.requests().iter().filter(|r| r.status == 409).count();
    assert_eq!(
        gc_conflicts,
        1,
        "the killed payment found by its key: {:#?}",
        w.gc.requests()
            .iter()
            .map(|r| format!(
                "{} {} {} {:?}",
                r.method, r.path, r.status, r.idempotency_key
            ))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        w.gc.payments().len(),
        direct_debit_accounts().len(),
        "one GoCardless payment per Direct Debit customer"
    );

    // 09:30: Stripe is back: the charges go (the first with its key), the
    // run completes, and the completion is told once.
    let c = w.autopilot("2026-12-01T09:30:00Z", &[]);
    assert_eq!(c.code, Some(0), "{:#}\n{}", c.report, c.stderr);
    assert_eq!(c.report["completed"], serde_json::json!([1]));
    assert_eq!(e.json(&["status", "1"])["complete"], true);
    let summaries = w.summaries();
    assert_eq!(summaries.len(), 4, "{summaries:#?}");
    assert!(summaries[3].contains("is complete"));

    // Everything went exactly once.
    w.assert_nothing_doubled();
    let email_invoices = w.count("SELECT COUNT(*) FROM invoices WHERE delivery != 'print'");
    assert_eq!(w.invoice_mails().len() as i64, email_invoices);
    assert_eq!(
        w.xero.with(|s| s.created.len()) as i64,
        w.count("SELECT COUNT(*) FROM invoices"),
        "every invoice in Xero"
    );
    let to_charge = w.count(
        "SELECT COUNT(*) FROM invoices WHERE payment_method = 'card' AND amount_due_minor > 0",
    );
    assert!(to_charge > 0);
    assert_eq!(
        w.stripe.charges() as i64,
        to_charge,
        "each card charged once"
    );
    let to_debit = w.count(
        "SELECT COUNT(*) FROM invoices WHERE payment_method = 'direct_debit' AND amount_due_minor > 0",
    );
    assert_eq!(w.gc.payments().len() as i64, to_debit, "each debited once");

    // 16 December: GoCardless reports the payments paid out and one
    // failed; the autopilot records each outcome once.
    let gc = w.gc.payments();
    for (i, p) in gc.iter().enumerate() {
        let id = p["id"].as_str().unwrap();
        let action = if i == 0 { "failed" } else { "paid_out" };
        w.gc.event("payments", action, id, "insufficient_funds");
    }
    let c = w.autopilot("2026-12-16T07:00:00Z", &[]);
    // Nothing waits on a person: the failed debit is recorded (its invoice
    // is unpaid again, carried to the next bill).
    assert_eq!(c.code, Some(0), "{:#}\n{}", c.report, c.stderr);
    assert_eq!(
        steps_of(&c.report, "actions"),
        vec!["sync".to_string()],
        "{:#}",
        c.report
    );
    assert!(
        c.report["actions"][0]["detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} collection outcomes recorded", gc.len())),
        "{:#}",
        c.report
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM payment_items WHERE state NOT IN ('approved', 'live')"),
        1,
        "the failed debit"
    );
    let n_summaries = w.summaries().len();
    let c2 = w.autopilot("2026-12-16T07:05:00Z", &[]);
    assert_eq!(c2.code, c.code, "{:#}", c2.report);
    assert!(
        !steps_of(&c2.report, "actions").iter().any(|s| s == "sync"),
        "outcomes recorded once: {:#}",
        c2.report
    );
    assert_eq!(w.summaries().len(), n_summaries, "nothing told twice");
    assert_eq!(
        w.count("SELECT COUNT(*) FROM payment_items WHERE state = 'approved'"),
        gc.len() as i64 - 1 + to_charge
    );
    w.assert_nothing_doubled();
}

/// A small deterministic generator (xorshift64*), so that the kill points
/// vary between calls but every run of the test tries the same delays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// Wait until the mailbox holds a message about `number` (an email
/// interrupted by a kill may still be being taken in by the server
/// thread), at most a few seconds: whether it arrived, not how fast.
fn arrived(w: &World, number: &str) -> bool {
    for _ in 0..50 {
        if w.invoice_mails().contains_key(number) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

#[test]
fn killed_at_random_points_as_cron_calls_it_nothing_is_ever_done_twice() {
    let w = world(card_replies());
    let e = &w.env;
    // The planted problems fixed before cron starts, so that every call
    // can go all the way.
    e.ok(&["customers", "import", &customers_csv(e, false)]);
    e.ok(&["cdr", "fetch"]);
    e.ok(&["cdr", "process"]);
    fix_errors(e);

    // Cron calls it again and again; most calls are killed (SIGKILL) at
    // pseudo-random delays, longer and longer so that work longer than a
    // short delay (the PDFs) is got past too: however fast the machine,
    // kills land all along the month (production, Xero, emails, print,
    // GoCardless, Stripe). Whatever each call did is stamped with its own
    // clock. A call that ends by itself either moves the run on, or stops
    // for the one thing a kill can leave to a person: an invoice email
    // interrupted while being handed to the server (it may have gone, so
    // it is never re-sent on its own): the operator checks the mailbox
    // and resends only what did not arrive.
    let mut rng = Rng(0x5EED_2026_1201);
    let mut minute = 0;
    let mut arrived_mid_kill: Vec<String> = Vec::new();
    let mut quiet = false;
    for i in 0..80 {
        minute += 1;
        let now = format!("2026-12-01T{:02}:{:02}:00Z", 10 + minute / 60, minute % 60);
        let before = stamps(e);
        // Some calls also die right after a gateway took a request, before
        // it is recorded (the hooks of debug builds).
        let hook: &[(&str, &str)] = match rng.below(4) {
            0 => &[("BILLRUN_TEST_XERO_STOP_AFTER_SEND", "1")],
            1 => &[("BILLRUN_TEST_STOP_AFTER_REQUEST", "1")],
            _ => &[],
        };
        let child = w
            .command(&now, hook)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Every other call from the 40th on runs to its end.
        let delay = (i < 40 || i % 2 == 0).then(|| 20 + rng.below(200 + 100 * i));
        let out = match delay {
            Some(ms) => {
                let mut child = child;
                std::thread::sleep(std::time::Duration::from_millis(ms));
                let _ = child.kill();
                child.wait_with_output().unwrap()
            }
            None => child.wait_with_output().unwrap(),
        };
        assert_stamped_at(&before, &stamps(e), &now);
        // Where it was (shown when the test fails).
        eprintln!(
            "{now}: {hook:?} {delay:?} ms, {}: {} invoices, {} emails, {} in Xero, {} GoCardless, {} Stripe",
            out.status,
            w.count("SELECT COUNT(*) FROM invoices"),
            w.invoice_mails().values().sum::<usize>(),
            w.xero.with(|s| s.created.len()),
            w.gc.payments().len(),
            w.stripe.charges()
        );
        let Some(code) = out.status.code().filter(|c| *c != 137) else {
            continue; // killed
        };
        let c = Call {
            code: Some(code),
            report: serde_json::from_slice(&out.stdout).unwrap_or_default(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        assert!(
            matches!(code, 0 | 3),
            "no outside failure: {:#}\n{}",
            c.report,
            c.stderr
        );
        if code == 3 {
            let (run, step, why, command) = the_wait(&c);
            assert_eq!((run, step.as_str()), (1, "email"), "{why}");
            assert!(command.contains("billrun email 1"), "{command}");
            for part in why.split("; ") {
                assert!(part.contains("interrupted while being sent"), "{why}");
                let number = part.split(' ').next().unwrap();
                if arrived(&w, number) {
                    // It went: the operator says so (never sent again).
                    arrived_mid_kill.push(number.to_string());
                    e.ok(&["email", "1", "--arrived", number]);
                } else {
                    e.ok(&["email", "1", "--resend", number]);
                }
            }
            continue;
        }
        if steps_of(&c.report, "actions").is_empty() && e.json(&["status", "1"])["complete"] == true
        {
            quiet = true;
            break;
        }
    }
    w.assert_nothing_doubled();
    let status = e.json(&["status", "1"]);
    let told = w.summaries();
    let complete_told = told.iter().filter(|t| t.contains("is complete")).count() as i64;
    // Told at most once. A kill after the notice was committed as being
    // sent leaves it `sending`, whether the message went or not (it is
    // never sent again); otherwise it was told.
    let sending = w.count(
        "SELECT COUNT(*) FROM autopilot_notices WHERE kind = 'complete' AND state = 'sending'",
    );
    assert!(complete_told <= 1, "{told:#?}");
    // Each person-notice is about a different stop.
    let people: Vec<&String> = told.iter().filter(|t| !t.contains("is complete")).collect();
    let distinct: BTreeSet<&String> = people.iter().copied().collect();
    assert_eq!(distinct.len(), people.len(), "{people:#?}");
    // Whether an interrupted email arrived (marked so by the operator) or
    // not (resent), the month completes.
    eprintln!("emails interrupted that had arrived: {arrived_mid_kill:?}");
    assert!(quiet, "cron settles: a call that does nothing");
    assert_eq!(status["complete"], true, "{status:#}");
    if sending == 0 {
        assert_eq!(complete_told, 1, "{told:#?}");
    }
    let to_debit = w.count(
            "SELECT COUNT(*) FROM invoices WHERE payment_method = 'direct_debit' AND amount_due_minor > 0",
        );
    assert_eq!(w.gc.payments().len() as i64, to_debit);
    let to_charge = w.count(
        "SELECT COUNT(*) FROM invoices WHERE payment_method = 'card' AND amount_due_minor > 0",
    );
    assert_eq!(w.stripe.charges() as i64, to_charge);
    assert_eq!(
        w.xero.with(|s| s.created.len()) as i64,
        w.count("SELECT COUNT(*) FROM invoices")
    );
}

/// An invoice email interrupted mid-send that did arrive: the operator
/// checks the mailbox and says so (`email RUN --arrived NUMBER`); nothing
/// is sent again and the run carries on. Only an interrupted one can be
/// marked.
#[test]
fn an_interrupted_email_that_arrived_is_marked_so_and_never_sent_again() {
    let w = world(card_replies());
    let e = &w.env;
    e.ok(&["customers", "import", &customers_csv(e, false)]);
    e.ok(&["cdr", "fetch"]);
    e.ok(&["cdr", "process"]);
    fix_errors(e);
    let c = w.autopilot("2026-12-01T10:00:00Z", &[]);
    assert_eq!(c.code, Some(0), "{:#}\n{}", c.report, c.stderr);
    let number = w.numbers(
        "SELECT i.number FROM invoices i JOIN email_attempts a ON a.invoice_id = i.id ORDER BY i.id LIMIT 1",
    )[0]
    .clone();
    // Not interrupted: refused, nothing changed.
    let before = e.snapshot();
    let err = e.fails(4, &["email", "1", "--arrived", &number]);
    assert!(err.contains("was not interrupted mid-send"), "{err}");
    assert_eq!(e.snapshot(), before);
    // A kill between handing it to the server and recording the reply
    // leaves the attempt in flight (as here).
    db(e)
        .execute(
            "UPDATE email_attempts SET state = 'in_flight', reply = NULL, finished_at = NULL
             WHERE invoice_id = (SELECT id FROM invoices WHERE number = ?1)",
            [&number],
        )
        .unwrap();
    let mails = w.smtp.messages().len();
    let c = w.autopilot("2026-12-01T10:05:00Z", &[]);
    assert_eq!(c.code, Some(3), "{:#}", c.report);
    let (_, step, why, _) = the_wait(&c);
    assert_eq!(step, "email");
    assert!(
        why.contains(&format!("billrun email 1 --arrived {number} if it went")),
        "{why}"
    );
    let out = e.ok(&["email", "1", "--arrived", &number]);
    assert!(out.contains(&number), "{out}");
    let audit = e.json(&["audit", "1"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action"] == "email sent"
                && a["detail"].as_str().unwrap().contains("email --arrived")),
        "{audit:#}"
    );
    let c = w.autopilot("2026-12-01T10:10:00Z", &[]);
    assert_eq!(c.code, Some(0), "{:#}", c.report);
    assert_eq!(e.json(&["status", "1"])["complete"], true);
    // No invoice email sent again (only the person-notice went).
    let invoice_mails_after: usize = w.invoice_mails().values().sum();
    assert_eq!(invoice_mails_after, w.invoice_mails().len());
    assert_eq!(w.smtp.messages().len(), mails + 1, "only the notice");
    assert_eq!(
        w.summaries()
            .iter()
            .filter(|s| s.contains("is complete"))
            .count(),
        1,
        "the completion told once"
    );
    w.assert_nothing_doubled();
}
