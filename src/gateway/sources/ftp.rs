//! FTP and FTPS (explicit TLS: `AUTH TLS` on the control connection, then
//! `PBSZ 0` / `PROT P` so the data connections are encrypted too), with
//! `suppaftp` on rustls. Files are listed with `NLST`, then `SIZE` and
//! `MDTM` for each (RFC 3659); a name whose `SIZE` fails is a directory or
//! unreadable and is skipped. Transfers are binary.

use std::io::{Read, Write};

use suppaftp::types::FileType;
use suppaftp::{FtpError, RustlsConnector, RustlsFtpStream, Status};

use super::{Connected, Credentials, Remote, RemoteFile, TIMEOUT, address, join, tls_config};
use crate::domain::cdr_source::{Scheme, SourceUrl};
use crate::error::{Result, external};

/// A data connection's end. Some servers close a TLS data connection
/// without a TLS `close_notify` (pyftpdlib does after an empty transfer),
/// which rustls reports as an unexpected end of file. Completeness is not
/// taken from the data connection anyway: the server's completion reply on
/// the (TLS) control connection says the transfer is whole, and a download
/// must also have the size `SIZE` gave.
struct EofIsEnd<R>(R);

impl<R: Read> Read for EofIsEnd<R> {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self.0.read(b) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
            r => r,
        }
    }
}

struct Ftp {
    url: SourceUrl,
    ftp: RustlsFtpStream,
}

pub(super) fn connect(url: &SourceUrl, creds: &Credentials<'_>) -> Result<Connected> {
    let addr = address(url)?;
    let fail = |what: &str, e: FtpError| external(format!("{url}: {what}: {e}"));
    let mut ftp =
        RustlsFtpStream::connect_timeout(addr, TIMEOUT).map_err(|e| fail("cannot connect", e))?;
    if url.scheme == Scheme::Ftps {
        let cfg = tls_config(creds.ca_file)?;
        ftp = ftp
            .into_secure(RustlsConnector::from(cfg), &url.host)
            .map_err(|e| fail("TLS failed", e))?;
    }
    // Anonymous FTP is not for CDRs: a password is required.
    let pw = creds.password.as_deref().ok_or_else(|| {
        external(format!(
            "{url}: no password: set the carrier's BILLRUN_SOURCE_PASSWORD_<CARRIER> variable"
        ))
    })?;
    ftp.login(url.user.as_str(), pw).map_err(|e| {
        fail(
            &format!("the server refused the login of '{}'", url.user),
            e,
        )
    })?;
    ftp.transfer_type(FileType::Binary)
        .map_err(|e| fail("binary mode refused", e))?;
    Ok(Connected {
        remote: Box::new(Ftp {
            url: url.clone(),
            ftp,
        }),
        host_key: None,
    })
}

impl Remote for Ftp {
    fn list(&mut self) -> Result<Vec<RemoteFile>> {
        let url = &self.url;
        let fail = |e: FtpError| external(format!("{url}: cannot list {}: {e}", url.path));
        let (_, mut stream) = self
            .ftp
            .custom_data_command(
                format!("NLST {}", url.path),
                &[Status::AboutToSend, Status::AlreadyOpen],
            )
            .map_err(fail)?;
        let mut body = Vec::new();
        let read = EofIsEnd(&mut stream).read_to_end(&mut body);
        // The completion reply (226) says the listing is whole.
        stream.finish().map_err(fail)?;
        read.map_err(|e| fail(FtpError::ConnectionError(e)))?;
        let names: Vec<String> = String::from_utf8_lossy(&body)
            .lines()
            .map(str::to_string)
            .collect();
        let mut out = Vec::new();
        for n in names {
            // Servers answer NLST with bare names or with DIR/name.
            let name = n.rsplit('/').next().unwrap_or(&n).trim().to_string();
            if name.is_empty() || name == "." || name == ".." {
                continue;
            }
            let path = join(&url.path, &name);
            let Ok(size) = self.ftp.size(&path) else {
                continue;
            };
            let mtime = self
                .ftp
                .mdtm(&path)
                .map(|t| t.and_utc().timestamp())
                .unwrap_or(0);
            out.push(RemoteFile {
                key: name.clone(),
                name,
                size: size as u64,
                mtime,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn download(&mut self, f: &RemoteFile, to: &mut dyn Write) -> Result<u64> {
        let url = &self.url;
        let path = join(&url.path, &f.name);
        self.ftp
            .retr(&path, |r| {
                std::io::copy(&mut EofIsEnd(r), to).map_err(FtpError::ConnectionError)
            })
            .map_err(|e| external(format!("{url}: {path}: download failed: {e}")))
    }

    fn move_done(&mut self, name: &str, dir: &str) -> Result<()> {
        let url = &self.url;
        let from = join(&url.path, name);
        let to = join(dir, name);
        self.ftp
            .rename(&from, &to)
            .map_err(|e| external(format!("{url}: cannot move {from} to {to}: {e}")))
    }
}
