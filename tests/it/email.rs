//! `billrun email` against a real SMTP server on loopback (tests/it/support/smtp.rs).
//!
//! Each test walks a whole run: the fixtures imported, a new run, `request
//! --expert` producing 25 invoices with PDFs (20 of them for `email`/`both`
//! customers), then `email`.

use crate::support::seed;
use crate::support::smtp::SmtpServer;
use crate::support::{Env, db, step};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::Value;

const COMPANY: &str = "Northern Fibre & Voice Ltd";

fn env_with_smtp(port: u16, security: &str) -> Env {
    let env = Env::new().with_reference_data();
    for (k, v) in [
        ("company.name", COMPANY),
        ("company.email", "billing@nfv.example"),
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", &port.to_string()),
        ("smtp.security", security),
        ("smtp.from", "billing@nfv.example"),
    ] {
        env.ok(&["config", "set", k, v]);
    }
    env
}

/// A produced run and the SMTP settings; returns the invoices (`invoices --json`).
fn produced(port: u16, security: &str) -> (Env, Vec<Value>) {
    let env = env_with_smtp(port, security);
    let inv = seed::produced_run(&env);
    assert_eq!(inv.len(), 25);
    (env, inv)
}

fn emailed(inv: &[Value]) -> Vec<&Value> {
    inv.iter().filter(|i| i["delivery"] != "print").collect()
}

fn invoice_id(env: &Env, number: &str) -> i64 {
    db(env)
        .query_row("SELECT id FROM invoices WHERE number = ?1", [number], |r| {
            r.get(0)
        })
        .unwrap()
}

/// (number, state, reply) of every attempt, in order.
fn attempts(env: &Env) -> Vec<(String, String, String)> {
    let conn = db(env);
    let mut st = conn
        .prepare(
            "SELECT i.number, a.state, COALESCE(a.reply, '') FROM email_attempts a
             JOIN invoices i ON i.id = a.invoice_id ORDER BY a.id",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn address(env: &Env, account: &str) -> String {
    db(env)
        .query_row(
            "SELECT email FROM customers WHERE account = ?1",
            [account],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn emails_each_invoice_once_with_its_pdf() {
    let server = SmtpServer::start().unwrap();
    let (env, inv) = produced(server.port(), "none");
    let to_email = emailed(&inv);
    assert_eq!(to_email.len(), 20);
    let before = env.json(&["status", "1"]);
    assert_eq!(step(&before, "email")["state"], "todo");
    assert!(
        step(&before, "email")["detail"]
            .as_str()
            .unwrap()
            .starts_with("20 invoices to email"),
        "{}",
        step(&before, "email")
    );

    let out = env.json(&["email", "1"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 20);
    assert_eq!(out["failed"].as_array().unwrap().len(), 0);

    let got = server.messages();
    assert_eq!(got.len(), 20, "print-only invoices are not emailed");
    let conn = db(&env);
    for (m, i) in got.iter().zip(&to_email) {
        let number = i["number"].as_str().unwrap();
        let account = i["account"].as_str().unwrap();
        assert_eq!(m.to, vec![address(&env, account)], "{number}");
        assert_eq!(m.from, "billing@nfv.example");
        let p = MessageParser::default().parse(&m.data).unwrap();
        assert_eq!(
            p.subject(),
            Some(format!("Invoice {number} from {COMPANY}").as_str())
        );
        let text = p.body_text(0).unwrap();
        let amount = i["amount_due"].as_str().unwrap();
        assert!(text.contains(&format!("Amount due: £{amount}")), "{text}");
        assert!(text.contains("Due date: 15 December 2026"), "{text}");
        let pay = match i["payment_method"].as_str().unwrap() {
            "direct_debit" => "collected by Direct Debit on 15 December 2026",
            "card" => "charged to your card on file on 15 December 2026",
            other => panic!("unexpected payment method {other}"),
        };
        assert!(text.contains(pay), "{text}");
        assert!(p.body_html(0).unwrap().contains(amount));
        let att = p.attachment(0).unwrap();
        assert_eq!(
            att.attachment_name(),
            Some(format!("{number}.pdf").as_str())
        );
        let pdf = std::fs::read(i["pdf"].as_str().unwrap()).unwrap();
        assert_eq!(att.contents(), pdf.as_slice(), "{number}: attachment = PDF");
        // The Message-ID sent is the one recorded, and the server's reply too.
        let (mid, reply): (String, String) = conn
            .query_row(
                "SELECT a.message_id, a.reply FROM email_attempts a
                 JOIN invoices i ON i.id = a.invoice_id
                 WHERE i.number = ?1 AND a.state = 'sent'",
                [number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(p.message_id(), Some(mid.as_str()));
        assert!(reply.starts_with("250 "), "{reply}");
    }

    // Re-run: nothing is sent twice.
    let again = env.json(&["email", "1"]);
    assert_eq!(again["sent"].as_array().unwrap().len(), 0);
    assert_eq!(again["already_sent"], 20);
    assert_eq!(server.messages().len(), 20);
    let after = env.json(&["status", "1"]);
    assert_eq!(step(&after, "email")["state"], "done");
}

#[test]
fn a_refused_recipient_fails_alone_and_is_retried_on_the_next_run() {
    let server = SmtpServer::start().unwrap();
    let (env, _) = produced(server.port(), "none");
    server.refuse(&address(&env, "C1002"));
    let err = env.fails(5, &["email", "1"]);
    assert!(err.contains("1 invoices could not be emailed"), "{err}");
    assert!(err.contains("550"), "{err}");
    assert_eq!(server.messages().len(), 19, "the others went through");
    let states = attempts(&env);
    assert_eq!(states.len(), 20);
    let failed: Vec<_> = states.iter().filter(|s| s.1 != "sent").collect();
    assert_eq!(failed.len(), 1, "{states:?}");
    assert_eq!(failed[0].0, "INV000002");
    assert_eq!(failed[0].1, "failed");
    assert!(failed[0].2.contains("550"), "{failed:?}");
    let status = env.json(&["status", "1"]);
    let email = step(&status, "email");
    assert_eq!(email["state"], "todo");
    assert!(
        email["detail"].as_str().unwrap().contains("1 failed"),
        "{email}"
    );

    // The next run (a server that accepts it) sends only the failed one.
    let fixed = SmtpServer::start().unwrap();
    env.ok(&["config", "set", "smtp.port", &fixed.port().to_string()]);
    let out = env.json(&["email", "1"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 1);
    assert_eq!(out["sent"][0]["number"], "INV000002");
    assert_eq!(fixed.messages().len(), 1);
    assert_eq!(server.messages().len(), 19);
    assert_eq!(step(&env.json(&["status", "1"]), "email")["state"], "done");
}

#[test]
fn starttls_required_but_not_offered_is_refused_cleanly() {
    let server = SmtpServer::start().unwrap();
    let (env, _) = produced(server.port(), "starttls");
    let err = env.fails(5, &["email", "1"]);
    assert!(err.contains("STARTTLS"), "{err}");
    assert!(server.messages().is_empty());
    let states = attempts(&env);
    assert_eq!(states.len(), 20);
    assert!(
        states
            .iter()
            .all(|(_, s, r)| s == "failed" && r.contains("STARTTLS")),
        "nothing marked sent: {states:?}"
    );
}

#[test]
fn an_interrupted_send_is_not_repeated_without_resend() {
    let server = SmtpServer::start().unwrap();
    let (env, _) = produced(server.port(), "none");
    // A crash between handing the message to the server and recording it
    // leaves an in-flight attempt.
    db(&env)
        .execute(
            "INSERT INTO email_attempts (invoice_id, attempt, state, recipient, message_id,
                started_at, operator)
             VALUES (?1, 1, 'in_flight', 'x@example.com', 'INV000001.1.x@nfv.example',
                '2026-12-02T09:00:00Z', 'tester')",
            [invoice_id(&env, "INV000001")],
        )
        .unwrap();
    let err = env.fails(3, &["email", "1"]);
    assert!(err.contains("INV000001"), "{err}");
    assert!(err.contains("--resend INV000001"), "{err}");
    let got = server.messages();
    assert_eq!(got.len(), 19, "every other invoice");
    let c1001 = address(&env, "C1001");
    assert!(got.iter().all(|m| m.to != vec![c1001.clone()]));
    let status = env.json(&["status", "1"]);
    let email = step(&status, "email");
    assert_eq!(email["state"], "todo");
    assert!(
        email["detail"]
            .as_str()
            .unwrap()
            .contains("1 interrupted mid-send"),
        "{email}"
    );

    // The operator checked the mailbox: send it again.
    let out = env.json(&["email", "1", "--resend", "INV000001"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 1);
    let got = server.messages();
    assert_eq!(got.len(), 20);
    assert_eq!(got[19].to, vec![c1001]);
    let audit = env.ok(&["audit", "1"]);
    assert!(audit.contains("email resend"), "{audit}");
    assert_eq!(step(&env.json(&["status", "1"]), "email")["state"], "done");
    // A plain re-run sends nothing more.
    env.ok(&["email", "1"]);
    assert_eq!(server.messages().len(), 20);
    // --resend of a print-only invoice is refused.
    let err = env.fails(4, &["email", "1", "--resend", "INV000004"]);
    assert!(err.contains("INV000004"), "{err}");
}

#[test]
fn dry_run_writes_eml_files_and_records_nothing() {
    let (env, inv) = produced(1, "starttls");
    let out = env.json(&["email", "1", "--dry-run", "outbox"]);
    assert_eq!(out["written"].as_array().unwrap().len(), 20);
    let eml = std::fs::read(env.path("outbox").join("INV000001.eml")).unwrap();
    let p = MessageParser::default().parse(&eml).unwrap();
    assert_eq!(
        p.subject(),
        Some(format!("Invoice INV000001 from {COMPANY}").as_str())
    );
    assert_eq!(
        p.attachment(0).unwrap().contents(),
        std::fs::read(inv[0]["pdf"].as_str().unwrap())
            .unwrap()
            .as_slice()
    );
    assert!(
        !env.path("outbox").join("INV000004.eml").exists(),
        "print only"
    );
    assert!(attempts(&env).is_empty());
    assert_eq!(step(&env.json(&["status", "1"]), "email")["state"], "todo");
}

#[test]
fn a_customer_without_an_address_is_listed_as_failed() {
    let server = SmtpServer::start().unwrap();
    let (env, _) = produced(server.port(), "none");
    db(&env)
        .execute(
            "UPDATE customers SET email = NULL WHERE account = 'C1002'",
            [],
        )
        .unwrap();
    let out = env.cmd().args(["--json", "email", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sent"].as_array().unwrap().len(), 19);
    assert_eq!(v["failed"][0]["number"], "INV000002");
    assert!(
        v["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no email address")
    );
    assert_eq!(server.messages().len(), 19);
}

#[test]
fn limit_sends_at_most_n_and_leaves_the_rest() {
    let server = SmtpServer::start().unwrap();
    let (env, _) = produced(server.port(), "none");
    let out = env.json(&["email", "1", "--limit", "5"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 5);
    assert_eq!(out["left_for_later"], 15);
    assert!(
        step(&env.json(&["status", "1"]), "email")["detail"]
            .as_str()
            .unwrap()
            .starts_with("15 invoices to email")
    );
    let out = env.json(&["email", "1"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 15);
    assert_eq!(server.messages().len(), 20);
}

#[test]
fn email_needs_a_completed_run() {
    let env = env_with_smtp(1, "none");
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let err = env.fails(3, &["email", "1"]);
    assert!(err.contains("not completed"), "{err}");
    let err = env.fails(3, &["xero", "export", "1", "--out", "x.csv"]);
    assert!(err.contains("not completed"), "{err}");
}
