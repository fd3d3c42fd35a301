//! A real SMTP server on 127.0.0.1 for tests (`mailin-embedded`, no TLS).
//!
//! It records every accepted message (envelope and raw data, dot-unstuffed)
//! and can refuse chosen recipients with `550`. It does not offer STARTTLS,
//! which is what the "STARTTLS required but missing" test needs.
//!
//! Used by the unit tests of `src/gateway/email.rs` (through `#[path]`) and
//! by integration tests (`mod support;` with `pub mod smtp;` in
//! `tests/support/mod.rs`). The server thread lives until the test process
//! ends; each test starts its own server on a free port.
#![allow(dead_code)]

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
        self.shared.lock().unwrap().greetings += 1;
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
        let mut shared = self.shared.lock().unwrap();
        if let Some(m) = self.current.take() {
            shared.messages.push(m);
        }
        let n = shared.messages.len();
        Response::custom(250, format!("2.0.0 Ok: queued as TEST{n:04}"))
    }
}

/// Handle to a running test SMTP server.
pub struct SmtpServer {
    port: u16,
    shared: Arc<Mutex<Shared>>,
}

impl SmtpServer {
    /// Start a server on 127.0.0.1 and a free port.
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test SMTP port");
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handler = Recorder {
            shared: Arc::clone(&shared),
            current: None,
        };
        let mut server = Server::new(handler);
        server
            .with_name("smtp.test")
            .with_ssl(SslConfig::None)
            .expect("no TLS")
            .with_num_threads(4)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, shared }
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
        self.shared.lock().unwrap().messages.clone()
    }

    /// How many `EHLO`/`HELO` greetings it has seen (one per connection
    /// without STARTTLS).
    pub fn connections(&self) -> usize {
        self.shared.lock().unwrap().greetings
    }
}
