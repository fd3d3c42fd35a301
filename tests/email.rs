//! `billrun email` against a real SMTP server on loopback (tests/support/smtp.rs).
//!
//! Runs are seeded with invoices and PDFs by `support::seed` (a stand-in for
//! production, see there).

mod support;

use mail_parser::{MessageParser, MimeHeaders};
use support::Env;
use support::seed::{self, Seeded, Spec};
use support::smtp::SmtpServer;

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

fn spec(account: &str, total_minor: i64) -> Spec<'_> {
    Spec {
        account,
        total_minor,
    }
}

fn db(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(&env.db).unwrap()
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

fn step<'a>(status: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap()
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
    let server = SmtpServer::start();
    let env = env_with_smtp(server.port(), "none");
    // C1001 email, C1003 both, C1004 print only.
    let inv = seed::completed_run(
        &env,
        &[
            spec("C1001", 12000),
            spec("C1003", 6000),
            spec("C1004", 3000),
        ],
    );
    let before = env.json(&["status", "1"]);
    assert_eq!(step(&before, "email")["state"], "todo");
    assert!(
        step(&before, "email")["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 invoices to email")
    );

    let out = env.json(&["email", "1"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 2);
    assert_eq!(out["failed"].as_array().unwrap().len(), 0);

    let got = server.messages();
    assert_eq!(got.len(), 2, "print-only invoice not emailed");
    let conn = db(&env);
    for (m, s) in got.iter().zip(&inv[..2]) {
        assert_eq!(m.to, vec![address(&env, &s.account)]);
        assert_eq!(m.from, "billing@nfv.example");
        let p = MessageParser::default().parse(&m.data).unwrap();
        assert_eq!(
            p.subject(),
            Some(format!("Invoice {} from {COMPANY}", s.number).as_str())
        );
        let text = p.body_text(0).unwrap();
        assert!(text.contains("Amount due: £"), "{text}");
        assert!(text.contains("Due date: 15 December 2026"), "{text}");
        assert!(text.contains("Thank you for your business."), "{text}");
        assert!(p.body_html(0).is_some());
        let att = p.attachment(0).unwrap();
        assert_eq!(
            att.attachment_name(),
            Some(format!("{}.pdf", s.number).as_str())
        );
        assert_eq!(att.contents(), std::fs::read(&s.pdf).unwrap().as_slice());
        // The Message-ID sent is the one recorded, and the server's reply too.
        let (mid, reply): (String, String) = conn
            .query_row(
                "SELECT message_id, reply FROM email_attempts WHERE invoice_id = ?1 AND state = 'sent'",
                [s.id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(p.message_id(), Some(mid.as_str()));
        assert!(reply.starts_with("250 "), "{reply}");
    }
    let text = std::str::from_utf8(&got[0].data).unwrap();
    assert!(text.contains("Direct Debit"), "payment method text");

    // Re-run: nothing is sent twice.
    let again = env.json(&["email", "1"]);
    assert_eq!(again["sent"].as_array().unwrap().len(), 0);
    assert_eq!(again["already_sent"], 2);
    assert_eq!(server.messages().len(), 2);
    let after = env.json(&["status", "1"]);
    assert_eq!(step(&after, "email")["state"], "done");
}

#[test]
fn a_refused_recipient_fails_alone_and_is_retried_on_the_next_run() {
    let server = SmtpServer::start();
    let env = env_with_smtp(server.port(), "none");
    let inv = seed::completed_run(
        &env,
        &[
            spec("C1001", 1200),
            spec("C1002", 2400),
            spec("C1005", 3600),
        ],
    );
    server.refuse(&address(&env, "C1002"));
    let err = env.fails(5, &["email", "1"]);
    assert!(err.contains("1 invoices could not be emailed"), "{err}");
    assert!(err.contains("550"), "{err}");
    let got = server.messages();
    assert_eq!(got.len(), 2, "the others went through");
    let states = attempts(&env);
    assert_eq!(states.len(), 3);
    assert_eq!(states[1].0, inv[1].number);
    assert_eq!(states[1].1, "failed");
    assert!(states[1].2.contains("550"), "{:?}", states[1]);
    assert_eq!(states[0].1, "sent");
    assert_eq!(states[2].1, "sent");
    let status = env.json(&["status", "1"]);
    let email = step(&status, "email");
    assert_eq!(email["state"], "todo");
    assert!(
        email["detail"].as_str().unwrap().contains("1 failed"),
        "{email}"
    );

    // The next run (a server that accepts it) sends only the failed one.
    let fixed = SmtpServer::start();
    env.ok(&["config", "set", "smtp.port", &fixed.port().to_string()]);
    let out = env.json(&["email", "1"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 1);
    assert_eq!(out["sent"][0]["number"], inv[1].number.as_str());
    assert_eq!(fixed.messages().len(), 1);
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn starttls_required_but_not_offered_is_refused_cleanly() {
    let server = SmtpServer::start();
    let env = env_with_smtp(server.port(), "starttls");
    seed::completed_run(&env, &[spec("C1001", 1200), spec("C1002", 2400)]);
    let err = env.fails(5, &["email", "1"]);
    assert!(err.contains("STARTTLS"), "{err}");
    assert!(server.messages().is_empty());
    let states = attempts(&env);
    assert_eq!(states.len(), 2);
    assert!(
        states
            .iter()
            .all(|(_, s, r)| s == "failed" && r.contains("STARTTLS")),
        "{states:?}"
    );
}

#[test]
fn an_interrupted_send_is_not_repeated_without_resend() {
    let server = SmtpServer::start();
    let env = env_with_smtp(server.port(), "none");
    let inv = seed::completed_run(&env, &[spec("C1001", 1200), spec("C1002", 2400)]);
    // A crash between handing the message to the server and recording it
    // leaves an in-flight attempt.
    db(&env)
        .execute(
            "INSERT INTO email_attempts (invoice_id, attempt, state, recipient, message_id,
                started_at, operator)
             VALUES (?1, 1, 'in_flight', 'x@example.com', 'NFV-10001.1.x@nfv.example',
                '2026-12-02T09:00:00Z', 'tester')",
            [inv[0].id],
        )
        .unwrap();
    let err = env.fails(3, &["email", "1"]);
    assert!(err.contains("NFV-10001"), "{err}");
    assert!(err.contains("--resend NFV-10001"), "{err}");
    let got = server.messages();
    assert_eq!(got.len(), 1, "only the other invoice");
    assert_eq!(got[0].to, vec![address(&env, "C1002")]);
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
    let out = env.json(&["email", "1", "--resend", "NFV-10001"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 1);
    assert_eq!(server.messages().len(), 2);
    let audit = env.ok(&["audit", "1"]);
    assert!(audit.contains("email resend"), "{audit}");
    assert_eq!(step(&env.json(&["status", "1"]), "email")["state"], "done");
    // A plain re-run sends nothing more.
    env.ok(&["email", "1"]);
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn dry_run_writes_eml_files_and_records_nothing() {
    let env = env_with_smtp(1, "starttls");
    let inv: Vec<Seeded> = seed::completed_run(&env, &[spec("C1001", 1200), spec("C1004", 2400)]);
    let out = env.json(&["email", "1", "--dry-run", "outbox"]);
    assert_eq!(out["written"].as_array().unwrap().len(), 1);
    let eml = std::fs::read(env.path("outbox").join("NFV-10001.eml")).unwrap();
    let p = MessageParser::default().parse(&eml).unwrap();
    assert_eq!(
        p.subject(),
        Some(format!("Invoice NFV-10001 from {COMPANY}").as_str())
    );
    assert_eq!(
        p.attachment(0).unwrap().contents(),
        std::fs::read(&inv[0].pdf).unwrap().as_slice()
    );
    assert!(
        !env.path("outbox").join("NFV-10002.eml").exists(),
        "print only"
    );
    assert!(attempts(&env).is_empty());
}

#[test]
fn a_customer_without_an_address_is_listed_as_failed() {
    let server = SmtpServer::start();
    let env = env_with_smtp(server.port(), "none");
    seed::completed_run(&env, &[spec("C1001", 1200), spec("C1002", 2400)]);
    db(&env)
        .execute(
            "UPDATE customers SET email = NULL WHERE account = 'C1002'",
            [],
        )
        .unwrap();
    let out = env.cmd().args(["--json", "email", "1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sent"].as_array().unwrap().len(), 1);
    assert_eq!(v["failed"][0]["number"], "NFV-10002");
    assert!(
        v["failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("no email address")
    );
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn limit_sends_at_most_n_and_leaves_the_rest() {
    let server = SmtpServer::start();
    let env = env_with_smtp(server.port(), "none");
    seed::completed_run(
        &env,
        &[spec("C1001", 1200), spec("C1002", 2400), spec("C1005", 100)],
    );
    let out = env.json(&["email", "1", "--limit", "2"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 2);
    assert_eq!(out["left_for_later"], 1);
    let out = env.json(&["email", "1"]);
    assert_eq!(out["sent"].as_array().unwrap().len(), 1);
    assert_eq!(server.messages().len(), 3);
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
