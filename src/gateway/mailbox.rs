//! A local SMTP mailbox on 127.0.0.1 (`mailin-embedded`, no TLS): it
//! accepts every message, records it (envelope and raw data), and can refuse
//! chosen recipients with `550`. It does not offer STARTTLS.
//!
//! The demo uses it so `billrun email` really sends over SMTP without a mail
//! server on the machine; the tests use it as the real server they send to.
//! The server thread lives until the process ends.

use std::collections::HashSet;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};

use mailin_embedded::{Handler, Response, Server, SslConfig, response};

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope sender (`MAIL FROM`).
    pub from: String,
    /// Envelope recipients (`RCPT TO`).
    pub to: Vec<String>,
    /// The message as received (headers and body, CRLF line ends).
    pub data: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    messages: Vec<Received>,
    refused: HashSet<String>,
    greetings: usize,
}

#[derive(Clone)]
struct Recorder {
    shared: Arc<Mutex<Shared>>,
    current: Option<Received>,
}

impl Handler for Recorder {
    fn helo(&mut self, _ip: IpAddr, _domain: &str) -> Response {
        self.shared.lock().expect("mailbox lock").greetings += 1;
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if self
            .shared
            .lock()
            .unwrap()
            .refused
            .contains(&to.to_ascii_lowercase())
        {
            Response::custom(
                550,
                "5.1.1 Recipient address rejected: unknown user".to_owned(),
            )
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.current = Some(Received {
            from: from.to_owned(),
            to: to.to_vec(),
            data: Vec::new(),
        });
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Some(m) = self.current.as_mut() {
            m.data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut shared = self.shared.lock().expect("mailbox lock");
        if let Some(m) = self.current.take() {
            shared.messages.push(m);
        }
        let n = shared.messages.len();
        Response::custom(250, format!("2.0.0 Ok: queued as MBOX{n:04}"))
    }
}

/// Handle to a running local SMTP mailbox.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpServer {
    /// Start a server on 127.0.0.1 and a free port.
    pub fn start() -> std::io::Result<SmtpServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handler = Recorder {
            shared: Arc::clone(&shared),
            current: None,
        };
        let mut server = Server::new(handler);
        server
            .with_name("billrun.mailbox")
            .with_ssl(SslConfig::None)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .with_num_threads(4)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Ok(SmtpServer { port, shared })
    }

    /// The port it listens on (host `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Refuse `RCPT TO` for this address with `550`.
    pub fn refuse(&self, address: &str) {
        self.shared
            .lock()
            .unwrap()
            .refused
            .insert(address.to_ascii_lowercase());
    }

    /// Messages accepted so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.lock().expect("mailbox lock").messages.clone()
    }

    /// How many `EHLO`/`HELO` greetings it has seen (one per connection
    /// without STARTTLS).
    pub fn connections(&self) -> usize {
        self.shared.lock().expect("mailbox lock").greetings
    }
}
