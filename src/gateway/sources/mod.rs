//! Clients for carriers' remote CDR sources (docs/file-formats.md#remote-sources):
//! SFTP (`russh` + `russh-sftp`), FTP / FTPS with explicit TLS
//! (`suppaftp` on rustls) and IMAPS (`async-imap` on `tokio-rustls`, MIME
//! by `mail-parser`). Each lists the files of one remote directory (IMAP:
//! the attachments of the messages of one mailbox), downloads one file
//! into a writer, and (only when the carrier is set up with
//! `--remote-done DIR` / `--mark-seen`) moves a fetched file into another
//! remote directory or flags a fully fetched message `\Seen`. Nothing is
//! ever deleted on the server.
//!
//! A password is passed in by the caller (from the environment) and never
//! put in an error message. TLS certificates are verified against the
//! system trust store (`SSL_CERT_FILE` honoured, through
//! `rustls-native-certs`) plus an optional per-carrier CA file.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::domain::cdr_source::SourceUrl;
use crate::error::{Error, Result, bad_input, external};

mod ftp;
mod imap;
mod sftp;

/// How long to wait for a server to answer at connection time, and for any
/// reply afterwards.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// One file in the remote directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// The file name (IMAP: the attachment's file name).
    pub name: String,
    /// What the file is known by in `remote_files`: the name for SFTP/FTP;
    /// `imap:UIDVALIDITY/UID/PART/NAME` for an IMAP attachment.
    pub key: String,
    pub size: u64,
    /// Modification time, seconds since the epoch as the server gives it
    /// (0 when the server does not say).
    pub mtime: i64,
}

/// A connected source.
pub trait Remote {
    /// The regular files of the source directory.
    fn list(&mut self) -> Result<Vec<RemoteFile>>;
    /// Write the whole of `f` into `to`; returns the bytes written.
    fn download(&mut self, f: &RemoteFile, to: &mut dyn Write) -> Result<u64>;
    /// Move `name` into the remote directory `dir` (created by the carrier).
    fn move_done(&mut self, name: &str, dir: &str) -> Result<()>;
    /// IMAP `--mark-seen`: flag `\Seen` each message all of whose `taken`
    /// attachments are recorded (`true`); returns the messages flagged now.
    /// Other sources have nothing to flag.
    fn mark_seen(&mut self, _taken: &[(RemoteFile, bool)]) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// IMAP: messages (ids as [`Remote::messages_done`] gives them) that
    /// `list` leaves out, done at earlier fetches. Other sources have none.
    fn skip_messages(&mut self, _done: std::collections::HashSet<String>) {}
    /// IMAP: the messages read by `list` all of whose `taken` attachments
    /// are recorded (`true`), a message with none taken included.
    fn messages_done(&self, _taken: &[(RemoteFile, bool)]) -> Vec<String> {
        Vec::new()
    }
}

/// What a connection needs besides the URL.
#[derive(Debug, Clone, Default)]
pub struct Credentials<'a> {
    /// From `BILLRUN_SOURCE_PASSWORD_<CARRIER>`.
    pub password: Option<String>,
    /// SFTP private key (OpenSSH format), by path.
    pub key: Option<&'a Path>,
    /// Extra CA certificates (PEM) for FTPS and IMAPS.
    pub ca_file: Option<&'a Path>,
    /// The pinned SFTP host key fingerprint (`SHA256:…`), if any.
    pub host_key: Option<&'a str>,
    /// IMAP `--mark-seen`: open the mailbox read-write (else read-only).
    pub mark_seen: bool,
}

/// An open source, and the SFTP host key fingerprint it presented.
pub struct Connected {
    pub remote: Box<dyn Remote>,
    pub host_key: Option<String>,
}

/// The SFTP server presented another host key than the pinned one.
pub fn host_key_changed(url: &SourceUrl, pinned: &str, seen: &str) -> Error {
    external(format!(
        "{url}: the server's host key is {seen}, not the pinned {pinned}; nothing was fetched. \
         If the carrier confirms the change, accept it with `billrun carriers accept-host-key CARRIER`"
    ))
}

/// Why a connection failed; for a changed SFTP host key, the key offered.
#[derive(Debug)]
pub struct ConnectError {
    pub error: Error,
    pub offered_host_key: Option<String>,
}

impl From<Error> for ConnectError {
    fn from(error: Error) -> Self {
        ConnectError {
            error,
            offered_host_key: None,
        }
    }
}

/// Connect and log in.
pub fn connect(
    url: &SourceUrl,
    creds: &Credentials<'_>,
) -> std::result::Result<Connected, ConnectError> {
    use crate::domain::cdr_source::Scheme;
    match url.scheme {
        Scheme::Sftp => sftp::connect(url, creds),
        Scheme::Ftp | Scheme::Ftps => ftp::connect(url, creds).map_err(ConnectError::from),
        Scheme::Imaps => imap::connect(url, creds).map_err(ConnectError::from),
    }
}

/// A rustls client configuration trusting the system store (honouring
/// `SSL_CERT_FILE`) and the certificates of `ca_file`.
pub fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    // Errors of single system certificates are skipped, as browsers do; a
    // store that yields nothing at all still works with --ca-file.
    let native = rustls_native_certs::load_native_certs();
    for c in native.certs {
        let _ = roots.add(c);
    }
    if let Some(p) = ca_file {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p)
            .and_then(|it| it.collect::<std::result::Result<_, _>>())
            .map_err(|e| bad_input(format!("{}: cannot read the CA file: {e}", p.display())))?;
        if certs.is_empty() {
            return Err(bad_input(format!(
                "{}: no PEM certificate in the CA file",
                p.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| bad_input(format!("{}: {e}", p.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| external(format!("TLS set-up: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// Resolve `host:port` to one address (with the timeout applied by callers).
fn address(url: &SourceUrl) -> Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| external(format!("{url}: cannot resolve {}: {e}", url.host)))?
        .next()
        .ok_or_else(|| external(format!("{url}: {} has no address", url.host)))
}

/// Join a remote directory and a name.
fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}
