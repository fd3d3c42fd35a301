//! Invoice email over SMTP (docs/commands.md#email): build one MIME message per invoice and send
//! it over a single reused SMTP connection.
//!
//! A message is `multipart/mixed`: a `multipart/alternative` (plain text, then
//! HTML) followed by the invoice PDF as an `application/pdf` attachment. Its
//! `Message-ID` is ours, so the caller can record it before sending.
//!
//! [`Mailer::send`] never fails as a Rust error: a refused recipient, a dropped
//! connection or a server that went away is a [`SendOutcome::Failed`] for that
//! one message, and the next call reconnects if it has to.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;

/// How the SMTP connection is protected (`smtp.security`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP, no encryption (`none`): only for a relay on a trusted network.
    None,
    /// Plain TCP upgraded with `STARTTLS` before anything else is said
    /// (`starttls`, usually port 587). A server that does not offer STARTTLS is
    /// refused; the connection never falls back to plain text.
    StartTls,
    /// TLS from the first byte (`tls`, "implicit TLS", usually port 465).
    Tls,
}

/// Where and how to deliver mail. The password comes from the environment
/// (`BILLRUN_SMTP_PASSWORD`), read by the caller, and is never printed: the
/// `Debug` output shows it as `***`.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Server host name (also the name checked against its TLS certificate).
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Transport security.
    pub security: Security,
    /// Login name; no authentication when `None`.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// Sender, as `"Name <address>"` or a bare address.
    pub from: String,
    /// Bound on connecting and on each read or write of the SMTP dialogue.
    pub timeout: Duration,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The content of one invoice email.
#[derive(Debug, Clone)]
pub struct InvoiceEmail {
    /// Recipient address (the customer's email).
    pub to: String,
    /// Recipient display name, if any.
    pub to_name: Option<String>,
    /// Subject line (`Invoice NUMBER from COMPANY`).
    pub subject: String,
    /// Plain-text body.
    pub text_body: String,
    /// HTML body (the same content).
    pub html_body: String,
    /// File name of the attachment, `NUMBER.pdf`.
    pub attachment_name: String,
    /// The invoice PDF.
    pub attachment: Vec<u8>,
    /// The itemised calls beside a PDF that summarises them: file name
    /// (`NUMBER-calls.csv` or `NUMBER-calls.csv.gz`) and bytes.
    pub calls: Option<(String, Vec<u8>)>,
    /// Message-ID, with or without the angle brackets
    /// (`<INV-000123.1a2b@billrun.example>`); brackets are added if missing.
    pub message_id: String,
}

/// Errors building a message or opening the SMTP connection.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    /// The `from` setting is not a valid mailbox.
    #[error("invalid sender address {address:?}: {reason}")]
    BadFrom {
        /// The offending value.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// The recipient is not a valid address.
    #[error("invalid recipient address {address:?}: {reason}")]
    BadRecipient {
        /// The offending value.
        address: String,
        /// Why it was refused.
        reason: String,
    },
    /// The message could not be assembled.
    #[error("cannot build email: {0}")]
    Build(String),
    /// Connecting, TLS, STARTTLS or login failed.
    #[error("cannot connect to SMTP server {host}:{port}: {reason}")]
    Connect {
        /// Server host.
        host: String,
        /// Server port.
        port: u16,
        /// What went wrong (never includes the password).
        reason: String,
    },
}

/// The result of sending one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The server accepted the message for delivery.
    Sent {
        /// The server's final reply, e.g. `"250 2.0.0 Ok: queued as 4F2A1"`.
        reply: String,
    },
    /// The message was not accepted.
    Failed {
        /// Why (the server's reply or the network/TLS problem).
        reason: String,
        /// `true` for a 5xx refusal (e.g. unknown recipient): sending the same
        /// message again will fail again. `false` for temporary (4xx) and
        /// connection problems, worth another try later.
        permanent: bool,
    },
    /// The connection broke or timed out after sending began, without the
    /// server's final answer: the message may or may not have been accepted.
    /// It must not be sent again automatically.
    Unknown {
        /// The network/TLS problem.
        reason: String,
    },
}

/// Text made safe for one header (a display name, the subject, the
/// attachment's file name): every control character (CR, LF, tab, NUL, …,
/// and the Unicode line and paragraph separators) becomes a space, runs of
/// white space one space, ends trimmed. A raw CR or LF in a header could
/// inject another header (`Bcc:`), and in a display name it makes lettre
/// panic. Non-ASCII text stays: lettre encodes it (RFC 2047).
pub fn header_text(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if crate::domain::csvfile::is_forbidden_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Build the MIME message for one invoice. Display name, subject and file
/// name go through [`header_text`]; whatever the data, a message that cannot
/// be built is an [`EmailError`], never a panic.
pub fn build_message(settings: &SmtpSettings, email: &InvoiceEmail) -> Result<Message, EmailError> {
    let from: Mailbox = settings.from.parse().map_err(|e| EmailError::BadFrom {
        address: settings.from.clone(),
        reason: format!("{e}"),
    })?;
    let address = email
        .to
        .trim()
        .parse()
        .map_err(|e| EmailError::BadRecipient {
            address: email.to.clone(),
            reason: format!("{e}"),
        })?;
    let name = email
        .to_name
        .as_deref()
        .map(header_text)
        .filter(|n| !n.is_empty());
    let to = Mailbox::new(name, address);
    let message_id = header_text(&email.message_id);
    let message_id = if message_id.starts_with('<') {
        message_id
    } else {
        format!("<{message_id}>")
    };
    let subject = header_text(&email.subject);
    let attachment_name = header_text(&email.attachment_name);
    let pdf =
        ContentType::parse("application/pdf").map_err(|e| EmailError::Build(e.to_string()))?;
    let mut parts = MultiPart::mixed()
        .multipart(MultiPart::alternative_plain_html(
            email.text_body.clone(),
            email.html_body.clone(),
        ))
        .singlepart(Attachment::new(attachment_name).body(email.attachment.clone(), pdf));
    if let Some((name, bytes)) = &email.calls {
        let kind = if crate::domain::itemised::is_gzip(name) {
            "application/gzip"
        } else {
            "text/csv"
        };
        let kind = ContentType::parse(kind).map_err(|e| EmailError::Build(e.to_string()))?;
        parts = parts.singlepart(Attachment::new(header_text(name)).body(bytes.clone(), kind));
    }
    // Backstop: the values above are clean, but a library panic on some
    // other input must still be a failure of this one message.
    let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .message_id(Some(message_id))
            .multipart(parts)
    }));
    match built {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(e)) => Err(EmailError::Build(e.to_string())),
        Err(_) => Err(EmailError::Build(
            "the mail library refused the message's headers".to_string(),
        )),
    }
}

/// A plain-text notice (no attachment) to one address: `billrun
/// autopilot`'s summary. Subject and message id go through [`header_text`].
pub fn build_text_message(
    settings: &SmtpSettings,
    to: &str,
    subject: &str,
    body: &str,
    message_id: &str,
) -> Result<Message, EmailError> {
    let from: Mailbox = settings.from.parse().map_err(|e| EmailError::BadFrom {
        address: settings.from.clone(),
        reason: format!("{e}"),
    })?;
    let to: Mailbox = to.trim().parse().map_err(|e| EmailError::BadRecipient {
        address: to.to_string(),
        reason: format!("{e}"),
    })?;
    let message_id = header_text(message_id);
    let message_id = if message_id.starts_with('<') {
        message_id
    } else {
        format!("<{message_id}>")
    };
    Message::builder()
        .from(from)
        .to(to)
        .subject(header_text(subject))
        .message_id(Some(message_id))
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| EmailError::Build(e.to_string()))
}

/// The message as an RFC 5322 `.eml` file (for `email --dry-run DIR`).
pub fn write_eml(message: &Message) -> Vec<u8> {
    message.formatted()
}

/// After this long without use, the connection is checked with `NOOP` before
/// the next message, so a server that hung up on an idle client is noticed
/// before a message is started on a dead connection.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// A live SMTP connection and when it was last used.
struct Live {
    conn: SmtpConnection,
    last_used: Instant,
}

/// An SMTP client holding one connection, reused for every message. If the
/// server drops the connection (a refused recipient makes lettre close it),
/// the next [`Mailer::send`] opens a new one with the same settings.
pub struct Mailer {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    tls: Option<TlsParameters>,
    timeout: Duration,
    hello: ClientId,
    live: Mutex<Option<Live>>,
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// Connect (and upgrade with STARTTLS, and log in, as configured) now, so
    /// a wrong host, port, security mode or password is reported before any
    /// invoice is attempted.
    pub fn connect(settings: &SmtpSettings) -> Result<Mailer, EmailError> {
        let tls = match settings.security {
            Security::None => None,
            Security::StartTls | Security::Tls => {
                Some(TlsParameters::new(settings.host.clone()).map_err(|e| {
                    EmailError::Connect {
                        host: settings.host.clone(),
                        port: settings.port,
                        reason: e.to_string(),
                    }
                })?)
            }
        };
        let credentials = settings.username.as_ref().map(|user| {
            Credentials::new(user.clone(), settings.password.clone().unwrap_or_default())
        });
        let mailer = Mailer {
            host: settings.host.clone(),
            port: settings.port,
            security: settings.security,
            credentials,
            tls,
            timeout: settings.timeout,
            hello: ClientId::default(),
            live: Mutex::new(None),
        };
        let conn = mailer.open()?;
        *mailer.live.lock().unwrap_or_else(PoisonError::into_inner) = Some(Live {
            conn,
            last_used: Instant::now(),
        });
        Ok(mailer)
    }

    /// Open a new connection: connect, greet, STARTTLS if asked, log in.
    fn open(&self) -> Result<SmtpConnection, EmailError> {
        let fail = |reason: String| EmailError::Connect {
            host: self.host.clone(),
            port: self.port,
            reason,
        };
        let wrapper = match self.security {
            Security::Tls => self.tls.as_ref(),
            Security::None | Security::StartTls => None,
        };
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )
        .map_err(|e| fail(e.to_string()))?;
        if self.security == Security::StartTls {
            if !conn.can_starttls() {
                conn.abort();
                return Err(fail(
                    "the server does not offer STARTTLS (smtp.security is starttls); \
                     refusing to send in plain text"
                        .to_owned(),
                ));
            }
            let params = self.tls.as_ref().expect("TLS parameters for STARTTLS");
            if let Err(e) = conn.starttls(params, &self.hello) {
                conn.abort();
                return Err(fail(format!("STARTTLS failed: {e}")));
            }
        }
        if let Some(credentials) = &self.credentials {
            // lettre's errors carry the server's reply, never the credentials.
            if let Err(e) = conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials) {
                conn.abort();
                return Err(fail(format!("login refused: {e}")));
            }
        }
        Ok(conn)
    }

    /// Send one message to the recipients of its envelope (its `To`).
    ///
    /// Never panics and never stops the caller: every problem is a
    /// [`SendOutcome::Failed`], and a broken connection is reopened on the next
    /// call.
    pub fn send(&self, message: &Message) -> SendOutcome {
        let mut guard = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(live) = guard.as_mut() {
            let stale = live.conn.has_broken()
                || (live.last_used.elapsed() >= IDLE_CHECK && !live.conn.test_connected());
            if stale {
                live.conn.abort();
                *guard = None;
            }
        }
        let live = match guard.as_mut() {
            Some(live) => live,
            None => match self.open() {
                Ok(conn) => guard.insert(Live {
                    conn,
                    last_used: Instant::now(),
                }),
                Err(e) => {
                    return SendOutcome::Failed {
                        reason: e.to_string(),
                        permanent: false,
                    };
                }
            },
        };
        let result = live.conn.send(message.envelope(), &message.formatted());
        live.last_used = Instant::now();
        match result {
            Ok(response) => SendOutcome::Sent {
                reply: reply_text(&response),
            },
            Err(e) => {
                if live.conn.has_broken() {
                    *guard = None;
                }
                if e.is_permanent() || e.is_transient() {
                    // The server answered with a refusal: definitely not sent.
                    SendOutcome::Failed {
                        reason: e.to_string(),
                        permanent: e.is_permanent(),
                    }
                } else {
                    SendOutcome::Unknown {
                        reason: e.to_string(),
                    }
                }
            }
        }
    }
}

impl Drop for Mailer {
    /// Say `QUIT` politely when done.
    fn drop(&mut self) {
        let live = self.live.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(mut live) = live.take()
            && !live.conn.has_broken()
        {
            let _ = live.conn.quit();
        }
    }
}

/// The server's reply as one line: code and text, e.g. `250 2.0.0 Ok: queued`.
fn reply_text(response: &Response) -> String {
    let text: Vec<&str> = response.message().collect();
    if text.is_empty() {
        response.code().to_string()
    } else {
        format!("{} {}", response.code(), text.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::mailbox::SmtpServer;
    use mail_parser::{MessageParser, MimeHeaders};

    fn settings(port: u16, security: Security) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port,
            security,
            username: None,
            password: None,
            from: "Acme Telecom <billing@acme.example>".to_owned(),
            timeout: Duration::from_secs(5),
        }
    }

    /// A fake PDF with every byte value, so any encoding slip shows.
    fn pdf(seed: u8) -> Vec<u8> {
        let mut v = b"%PDF-1.7\n".to_vec();
        v.extend((0..=255u8).cycle().take(3000).map(|b| b.wrapping_add(seed)));
        v.extend_from_slice(b"\n%%EOF\n");
        v
    }

    fn invoice(number: &str, to: &str, seed: u8) -> InvoiceEmail {
        InvoiceEmail {
            to: to.to_owned(),
            to_name: Some("Jane Customer".to_owned()),
            subject: format!("Invoice {number} from Acme Telecom"),
            text_body: format!("Amount due: £12.30\nDue date: 2024-02-14\nInvoice {number}"),
            html_body: format!("<p>Amount due: £12.30</p><p>Invoice {number}</p>"),
            attachment_name: format!("{number}.pdf"),
            attachment: pdf(seed),
            calls: None,
            message_id: format!("{number}.1@billrun.test"),
        }
    }

    #[test]
    fn the_itemised_calls_file_is_a_second_attachment() {
        let s = settings(25, Security::None);
        for (name, kind) in [
            ("INV-000001-calls.csv", ("text", Some("csv"))),
            ("INV-000001-calls.csv.gz", ("application", Some("gzip"))),
        ] {
            let mut e = invoice("INV-000001", "jane@example.com", 0);
            e.calls = Some((name.into(), b"service,date\n".to_vec()));
            let raw = write_eml(&build_message(&s, &e).unwrap());
            let parsed = MessageParser::default().parse(&raw).unwrap();
            assert_eq!(parsed.attachment_count(), 2);
            let att = parsed.attachment(1).unwrap();
            assert_eq!(att.attachment_name(), Some(name));
            let ct = att.content_type().unwrap();
            assert_eq!((ct.ctype(), ct.subtype()), kind);
            assert_eq!(att.contents(), b"service,date\n");
        }
    }

    #[test]
    fn builds_mixed_message_with_alternative_and_pdf() {
        let s = settings(25, Security::None);
        let msg = build_message(&s, &invoice("INV-000001", "jane@example.com", 0)).unwrap();
        let raw = write_eml(&msg);
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            parsed.subject(),
            Some("Invoice INV-000001 from Acme Telecom")
        );
        assert_eq!(parsed.message_id(), Some("INV-000001.1@billrun.test"));
        assert_eq!(parsed.content_type().unwrap().subtype(), Some("mixed"));
        assert!(parsed.body_text(0).unwrap().contains("Amount due: £12.30"));
        assert!(
            parsed
                .body_html(0)
                .unwrap()
                .contains("<p>Amount due: £12.30</p>")
        );
        assert_eq!(parsed.attachment_count(), 1);
        let att = parsed.attachment(0).unwrap();
        assert_eq!(att.attachment_name(), Some("INV-000001.pdf"));
        let ct = att.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("application", Some("pdf")));
        assert_eq!(att.contents(), pdf(0).as_slice());
    }

    #[test]
    fn bad_addresses_are_errors_not_panics() {
        let mut s = settings(25, Security::None);
        let err = build_message(&s, &invoice("INV-1", "not an address", 0)).unwrap_err();
        assert!(matches!(err, EmailError::BadRecipient { .. }), "{err}");
        s.from = "nobody".to_owned();
        let err = build_message(&s, &invoice("INV-1", "jane@example.com", 0)).unwrap_err();
        assert!(matches!(err, EmailError::BadFrom { .. }), "{err}");
    }

    /// A name, subject or file name with CR/LF (stored before import refused
    /// them) must neither panic nor inject a header.
    #[test]
    fn control_characters_in_headers_are_neutralised_not_a_panic() {
        let s = settings(25, Security::None);
        let mut e = invoice("INV-1", "jane@example.com", 0);
        e.to_name = Some("Jane\r\nBcc: evil@example.net".into());
        e.subject = "Invoice INV-1\r\nBcc: evil@example.net".into();
        e.attachment_name = "INV-1\r\n.pdf".into();
        let msg = build_message(&s, &e).expect("built, not a panic");
        let raw = write_eml(&msg);
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert!(parsed.bcc().is_none());
        let to = parsed.to().unwrap().first().unwrap();
        assert_eq!(to.name(), Some("Jane Bcc: evil@example.net"));
        assert_eq!(to.address(), Some("jane@example.com"));
        assert_eq!(
            parsed.subject(),
            Some("Invoice INV-1 Bcc: evil@example.net")
        );
        assert_eq!(
            parsed.attachment(0).unwrap().attachment_name(),
            Some("INV-1 .pdf")
        );
        e.to_name = Some("J\u{0}x\u{7}\u{2028}y".into());
        let raw = write_eml(&build_message(&s, &e).unwrap());
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(parsed.to().unwrap().first().unwrap().name(), Some("J x y"));
        assert_eq!(header_text("  a\t\tb \r\n"), "a b");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let mut s = settings(25, Security::None);
        s.username = Some("billing".to_owned());
        s.password = Some("hunter2-secret".to_owned());
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("***"));
    }

    #[test]
    fn delivers_two_messages_over_one_connection() {
        let server = SmtpServer::start().unwrap();
        let s = settings(server.port(), Security::None);
        let mailer = Mailer::connect(&s).unwrap();
        let first = build_message(&s, &invoice("INV-000001", "jane@example.com", 1)).unwrap();
        let second = build_message(&s, &invoice("INV-000002", "bob@example.org", 2)).unwrap();
        for msg in [&first, &second] {
            match mailer.send(msg) {
                SendOutcome::Sent { reply } => {
                    assert!(reply.starts_with("250 "), "{reply}");
                    assert!(reply.contains("queued as"), "{reply}");
                }
                other => panic!("not sent: {other:?}"),
            }
        }
        drop(mailer);

        let got = server.messages();
        assert_eq!(got.len(), 2);
        assert_eq!(server.connections(), 1, "one connection reused");
        for (m, (number, to, seed)) in got.iter().zip([
            ("INV-000001", "jane@example.com", 1),
            ("INV-000002", "bob@example.org", 2),
        ]) {
            assert_eq!(m.from, "billing@acme.example");
            assert_eq!(m.to, vec![to.to_owned()]);
            let parsed = MessageParser::default().parse(&m.data).unwrap();
            assert_eq!(
                parsed.subject(),
                Some(format!("Invoice {number} from Acme Telecom").as_str())
            );
            let from = parsed.from().unwrap().first().unwrap();
            assert_eq!(from.address(), Some("billing@acme.example"));
            assert_eq!(from.name(), Some("Acme Telecom"));
            let rcpt = parsed.to().unwrap().first().unwrap();
            assert_eq!(rcpt.address(), Some(to));
            assert_eq!(
                parsed.message_id(),
                Some(format!("{number}.1@billrun.test").as_str())
            );
            let att = parsed.attachment(0).unwrap();
            assert_eq!(
                att.attachment_name(),
                Some(format!("{number}.pdf").as_str())
            );
            assert_eq!(att.contents(), pdf(seed).as_slice());
            assert!(parsed.body_text(0).unwrap().contains("£12.30"));
        }
    }

    #[test]
    fn refused_recipient_fails_that_message_only() {
        let server = SmtpServer::start().unwrap();
        server.refuse("gone@example.com");
        let s = settings(server.port(), Security::None);
        let mailer = Mailer::connect(&s).unwrap();
        let bad = build_message(&s, &invoice("INV-000003", "gone@example.com", 3)).unwrap();
        let good = build_message(&s, &invoice("INV-000004", "jane@example.com", 4)).unwrap();

        match mailer.send(&bad) {
            SendOutcome::Failed { reason, permanent } => {
                assert!(permanent, "{reason}");
                assert!(reason.contains("550"), "{reason}");
            }
            other => panic!("refused recipient was {other:?}"),
        }
        assert!(matches!(mailer.send(&good), SendOutcome::Sent { .. }));

        let got = server.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].to, vec!["jane@example.com".to_owned()]);
        assert_eq!(server.connections(), 2, "reconnected after the refusal");
    }

    #[test]
    fn starttls_required_but_not_offered_fails_cleanly() {
        let server = SmtpServer::start().unwrap();
        let s = settings(server.port(), Security::StartTls);
        let started = Instant::now();
        let err = Mailer::connect(&s).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        let text = err.to_string();
        assert!(text.contains("STARTTLS"), "{text}");
        assert!(
            text.contains(&format!("127.0.0.1:{}", server.port())),
            "{text}"
        );
        assert!(server.messages().is_empty());
    }

    /// A server that takes the whole message and hangs up before its final
    /// reply: the outcome is unknown, not failed (a re-run must not resend).
    #[test]
    fn a_hang_up_after_the_data_is_unknown_not_failed() {
        use std::io::{BufRead, BufReader, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut w = stream.try_clone().unwrap();
            let mut r = BufReader::new(stream);
            w.write_all(b"220 hangup.test ESMTP\r\n").unwrap();
            let mut line = String::new();
            let mut in_data = false;
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                let cmd = line.to_ascii_uppercase();
                if in_data {
                    if line == ".\r\n" {
                        return; // hang up without the final 250
                    }
                } else if cmd.starts_with("EHLO") {
                    w.write_all(b"250-hangup.test\r\n250 8BITMIME\r\n").unwrap();
                } else if cmd.starts_with("DATA") {
                    in_data = true;
                    w.write_all(b"354 go ahead\r\n").unwrap();
                } else {
                    w.write_all(b"250 ok\r\n").unwrap();
                }
                line.clear();
            }
        });
        let s = settings(port, Security::None);
        let mailer = Mailer::connect(&s).unwrap();
        let msg = build_message(&s, &invoice("INV-000009", "jane@example.com", 9)).unwrap();
        match mailer.send(&msg) {
            SendOutcome::Unknown { reason } => assert!(!reason.is_empty()),
            other => panic!("a hang-up after DATA must be unknown, was {other:?}"),
        }
    }

    #[test]
    fn implicit_tls_against_plain_server_fails_cleanly() {
        let server = SmtpServer::start().unwrap();
        let started = Instant::now();
        let err = Mailer::connect(&settings(server.port(), Security::Tls)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "{err}");
        assert!(matches!(err, EmailError::Connect { .. }), "{err}");
    }

    #[test]
    fn silent_server_times_out() {
        // Accepts the TCP connection but never greets.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            drop(stream);
        });
        let mut s = settings(port, Security::None);
        s.timeout = Duration::from_millis(300);
        let started = Instant::now();
        let err = Mailer::connect(&s).unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(1200), "{err}");
        assert!(matches!(err, EmailError::Connect { .. }), "{err}");
        hold.join().unwrap();
    }

    #[test]
    fn unreachable_server_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = Mailer::connect(&settings(port, Security::None)).unwrap_err();
        assert!(matches!(err, EmailError::Connect { .. }), "{err}");
    }
}
