//! IMAPS source (`imaps://USER@HOST[:PORT]/MAILBOX`, implicit TLS, port
//! 993 by default): the attachments of the messages in one mailbox are the
//! files. `async-imap` over `tokio-rustls`, driven from a current-thread
//! Tokio runtime owned by the connection (callers stay synchronous); MIME
//! is decoded by `mail-parser`.
//!
//! Messages are read with `BODY.PEEK[]` (RFC 3501 §6.4.5: PEEK does not
//! set `\Seen`), and the mailbox is opened with `EXAMINE` (read-only)
//! unless the carrier has `--mark-seen`, so without that option nothing on
//! the server changes. Every message of the mailbox is listed, read or not
//! (a person reading the mailbox must not hide a CDR file). An attachment
//! is known by `imap:UIDVALIDITY/UID/PART/NAME` (PART: its position among
//! the message's attachments) and its decoded size: a message re-delivered
//! or a mailbox rebuilt (new UIDVALIDITY) is taken as new, and its bytes
//! are then recognised by their SHA-256 like any other file.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use async_imap::types::Flag;
use futures_util::TryStreamExt;
use mail_parser::{MessageParser, MimeHeaders};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{Connected, Credentials, Remote, RemoteFile, TIMEOUT, address, tls_config};
use crate::domain::cdr_source::SourceUrl;
use crate::error::{Result, external};

type Session = async_imap::Session<TlsStream<TcpStream>>;

/// Messages read whole per `UID FETCH` command.
const SET: usize = 200;

/// A message of the mailbox and its attachments (name, bytes).
struct Message {
    seen: bool,
    attachments: Vec<(String, Vec<u8>)>,
}

struct Imap {
    rt: Runtime,
    url: SourceUrl,
    session: Session,
    uid_validity: u32,
    /// Messages in the mailbox when it was opened.
    exists: u32,
    /// Messages done at earlier fetches (not read again).
    skip: HashSet<String>,
    messages: BTreeMap<u32, Message>,
}

/// Run `f` with the connection's timeout.
async fn timed<T, E: std::fmt::Display>(
    url: &SourceUrl,
    what: &str,
    f: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(TIMEOUT, f).await {
        Err(_) => Err(external(format!(
            "{url}: {what}: no answer within {}s",
            TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(external(format!("{url}: {what}: {e}"))),
        Ok(Ok(v)) => Ok(v),
    }
}

pub(super) fn connect(url: &SourceUrl, creds: &Credentials<'_>) -> Result<Connected> {
    let pw = creds.password.clone().ok_or_else(|| {
        external(format!(
            "{url}: no password: set the carrier's BILLRUN_SOURCE_PASSWORD_<CARRIER> variable"
        ))
    })?;
    let tls = TlsConnector::from(tls_config(creds.ca_file)?);
    let server = rustls_pki_types::ServerName::try_from(url.host.clone())
        .map_err(|e| external(format!("{url}: '{}' is not a host name: {e}", url.host)))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| external(format!("cannot start the IMAP client: {e}")))?;
    let addr = address(url)?;
    let read_write = creds.mark_seen;
    let (session, uid_validity, exists) = rt.block_on(async {
        let tcp = timed(url, "cannot connect", TcpStream::connect(addr)).await?;
        let stream = timed(url, "TLS failed", tls.connect(server, tcp)).await?;
        let mut client = async_imap::Client::new(stream);
        let greeting = timed(url, "no greeting", client.read_response()).await?;
        if greeting.is_none() {
            return Err(external(format!(
                "{url}: the server closed the connection"
            )));
        }
        let mut session = match tokio::time::timeout(TIMEOUT, client.login(&url.user, &pw)).await
        {
            Err(_) => return Err(external(format!("{url}: login: no answer"))),
            Ok(Err((e, _))) => {
                return Err(external(format!(
                    "{url}: the server refused the login of '{}' (check the password variable): {e}",
                    url.user
                )));
            }
            Ok(Ok(s)) => s,
        };
        let what = format!("cannot open the mailbox '{}'", url.path);
        let mailbox = if read_write {
            timed(url, &what, session.select(&url.path)).await?
        } else {
            timed(url, &what, session.examine(&url.path)).await?
        };
        let uid_validity = mailbox.uid_validity.ok_or_else(|| {
            external(format!(
                "{url}: the server gave no UIDVALIDITY for '{}'",
                url.path
            ))
        })?;
        Ok((session, uid_validity, mailbox.exists))
    })?;
    Ok(Connected {
        remote: Box::new(Imap {
            rt,
            url: url.clone(),
            session,
            uid_validity,
            exists,
            skip: HashSet::new(),
            messages: BTreeMap::new(),
        }),
        host_key: None,
    })
}

/// The named attachments of a message (an unparsable message has none).
fn attachments(raw: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    m.attachments()
        .map(|p| {
            (
                p.attachment_name().unwrap_or_default().to_string(),
                p.contents().to_vec(),
            )
        })
        .collect()
}

fn key(uid_validity: u32, uid: u32, part: usize, name: &str) -> String {
    format!("imap:{uid_validity}/{uid}/{part}/{name}")
}

fn message_id(uid_validity: u32, uid: u32) -> String {
    format!("imap:{uid_validity}/{uid}")
}

impl Imap {
    /// The UID of one of this mailbox's attachment keys.
    fn uid_of(&self, key: &str) -> Option<u32> {
        key.strip_prefix(&format!("imap:{}/", self.uid_validity))
            .and_then(|rest| rest.split('/').next())
            .and_then(|u| u.parse::<u32>().ok())
    }
}

impl Remote for Imap {
    fn list(&mut self) -> Result<Vec<RemoteFile>> {
        self.messages.clear();
        if self.exists == 0 {
            return Ok(Vec::new());
        }
        let url = &self.url;
        let session = &mut self.session;
        let (v, skip) = (self.uid_validity, &self.skip);
        let fetched: Vec<(u32, bool, Vec<u8>)> = self.rt.block_on(async {
            let what = "cannot list the messages";
            let mut uids = Vec::new();
            {
                let mut stream = timed(url, what, session.uid_fetch("1:*", "(UID)")).await?;
                while let Some(f) = timed(url, what, stream.try_next()).await? {
                    if let Some(uid) = f.uid {
                        uids.push(uid);
                    }
                }
            }
            uids.retain(|u| !skip.contains(&message_id(v, *u)));
            uids.sort_unstable();
            uids.dedup();
            let mut out = Vec::new();
            let what = "cannot read the messages";
            for set in uids.chunks(SET) {
                let set = set.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                let mut stream = timed(
                    url,
                    what,
                    session.uid_fetch(&set, "(UID FLAGS BODY.PEEK[])"),
                )
                .await?;
                while let Some(f) = timed(url, what, stream.try_next()).await? {
                    // Unsolicited FETCH responses (flag changes) carry no body.
                    let (Some(uid), Some(body)) = (f.uid, f.body()) else {
                        continue;
                    };
                    let seen = f.flags().any(|fl| fl == Flag::Seen);
                    out.push((uid, seen, body.to_vec()));
                }
            }
            Ok::<_, crate::error::Error>(out)
        })?;
        let mut out = Vec::new();
        for (uid, seen, raw) in fetched {
            let atts = attachments(&raw);
            for (i, (name, bytes)) in atts.iter().enumerate() {
                out.push(RemoteFile {
                    key: key(self.uid_validity, uid, i, name),
                    name: name.clone(),
                    size: bytes.len() as u64,
                    mtime: 0,
                });
            }
            self.messages.insert(
                uid,
                Message {
                    seen,
                    attachments: atts,
                },
            );
        }
        Ok(out)
    }

    fn download(&mut self, f: &RemoteFile, to: &mut dyn Write) -> Result<u64> {
        let v = self.uid_validity;
        // Only the attachments of the key's own message (not every listed one).
        let bytes = self
            .uid_of(&f.key)
            .and_then(|uid| self.messages.get(&uid).map(|m| (uid, m)))
            .and_then(|(uid, m)| {
                m.attachments
                    .iter()
                    .enumerate()
                    .find(|(i, (n, _))| key(v, uid, *i, n) == f.key)
                    .map(|(_, (_, b))| b)
            })
            .ok_or_else(|| external(format!("{}: {} is no longer listed", self.url, f.key)))?;
        to.write_all(bytes)
            .map_err(|e| external(format!("cannot write the download of {}: {e}", f.name)))?;
        Ok(bytes.len() as u64)
    }

    fn move_done(&mut self, _name: &str, _dir: &str) -> Result<()> {
        Err(external(format!(
            "{}: an IMAP source has no remote done directory (use --mark-seen)",
            self.url
        )))
    }

    fn mark_seen(&mut self, taken: &[(RemoteFile, bool)]) -> Result<Vec<String>> {
        // UID -> every taken attachment recorded.
        let mut whole: BTreeMap<u32, bool> = BTreeMap::new();
        for (f, recorded) in taken {
            if let Some(uid) = self.uid_of(&f.key) {
                let e = whole.entry(uid).or_insert(true);
                *e &= *recorded;
            }
        }
        let uids: Vec<u32> = whole
            .into_iter()
            .filter(|(uid, all)| *all && self.messages.get(uid).is_some_and(|m| !m.seen))
            .map(|(uid, _)| uid)
            .collect();
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let url = &self.url;
        let session = &mut self.session;
        self.rt.block_on(async {
            let what = "cannot flag the fetched messages \\Seen";
            let mut stream =
                timed(url, what, session.uid_store(&set, "+FLAGS.SILENT (\\Seen)")).await?;
            while timed(url, what, stream.try_next()).await?.is_some() {}
            Ok::<_, crate::error::Error>(())
        })?;
        for uid in &uids {
            if let Some(m) = self.messages.get_mut(uid) {
                m.seen = true;
            }
        }
        Ok(uids.iter().map(|u| format!("UID {u}")).collect())
    }

    fn skip_messages(&mut self, done: HashSet<String>) {
        self.skip = done;
    }

    fn messages_done(&self, taken: &[(RemoteFile, bool)]) -> Vec<String> {
        let mut all: BTreeMap<u32, bool> = self.messages.keys().map(|u| (*u, true)).collect();
        for (f, recorded) in taken {
            if let Some(e) = self.uid_of(&f.key).and_then(|u| all.get_mut(&u)) {
                *e &= *recorded;
            }
        }
        all.into_iter()
            .filter(|(_, done)| *done)
            .map(|(uid, _)| message_id(self.uid_validity, uid))
            .collect()
    }
}

impl Drop for Imap {
    fn drop(&mut self) {
        // Polite; a server that does not answer is left to time out.
        let session = &mut self.session;
        let _ = self.rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(5), session.logout()).await
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_attachments_are_decoded() {
        let raw = b"From: a@b\r\nTo: c@d\r\nSubject: CDRs\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--XX\r\nContent-Type: text/csv; name=\"cdr-1.csv\"\r\nContent-Disposition: attachment; filename=\"cdr-1.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nYSxiLGMK\r\n--XX--\r\n";
        let a = attachments(raw);
        assert_eq!(a, vec![("cdr-1.csv".to_string(), b"a,b,c\n".to_vec())]);
        assert!(attachments(b"").is_empty());
        assert_eq!(key(7, 42, 0, "x.csv"), "imap:7/42/0/x.csv");
    }
}
