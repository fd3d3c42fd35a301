//! SFTP source: `russh` (SSH transport, public-key or password login) and
//! `russh-sftp` (the file protocol), driven from a current-thread Tokio
//! runtime owned by the connection, so callers stay synchronous.
//!
//! The host key is checked in `check_server_key`: with a pinned
//! fingerprint, any other key ends the handshake before authentication
//! (no password or key signature is sent to an impostor).

use std::io::Write;
use std::sync::{Arc, Mutex};

use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey};
use russh_sftp::client::SftpSession;
use tokio::io::AsyncReadExt;
use tokio::runtime::Runtime;

use super::{
    ConnectError, Connected, Credentials, Remote, RemoteFile, TIMEOUT, address, host_key_changed,
    join,
};
use crate::domain::cdr_source::SourceUrl;
use crate::error::{Result, bad_input, external};

struct Checker {
    pinned: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Checker {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &russh::keys::PublicKeyOrCertificate,
    ) -> std::result::Result<bool, Self::Error> {
        let fp = match key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => fingerprint(key),
            // A certificate is pinned by the key it certifies.
            russh::keys::PublicKeyOrCertificate::Certificate(c) => {
                c.public_key().fingerprint(HashAlg::Sha256).to_string()
            }
        };
        let ok = self.pinned.as_deref().is_none_or(|p| p == fp);
        if let Ok(mut s) = self.seen.lock() {
            *s = Some(fp);
        }
        Ok(ok)
    }
}

fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

struct Sftp {
    rt: Runtime,
    url: SourceUrl,
    // Kept so the SSH connection lives as long as the SFTP session.
    _ssh: client::Handle<Checker>,
    sftp: SftpSession,
}

pub(super) fn connect(
    url: &SourceUrl,
    creds: &Credentials<'_>,
) -> std::result::Result<Connected, ConnectError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| external(format!("cannot start the SFTP client: {e}")))?;
    let addr = address(url)?;
    let seen = Arc::new(Mutex::new(None));
    let checker = Checker {
        pinned: creds.host_key.map(str::to_string),
        seen: seen.clone(),
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(TIMEOUT),
        ..client::Config::default()
    });
    let key = match creds.key {
        Some(p) => Some(Arc::new(russh::keys::load_secret_key(p, None).map_err(
            |e| {
                bad_input(format!(
                    "{}: cannot read the SSH private key (OpenSSH format, unencrypted): {e}",
                    p.display()
                ))
            },
        )?)),
        None => None,
    };
    let (ssh, sftp) = rt.block_on(async {
        let connecting = client::connect(config, addr, checker);
        let mut ssh = match tokio::time::timeout(TIMEOUT, connecting).await {
            Err(_) => {
                return Err(
                    external(format!("{url}: no answer within {}s", TIMEOUT.as_secs())).into(),
                );
            }
            Ok(Err(e)) => {
                let seen = seen.lock().ok().and_then(|s| s.clone());
                if let (Some(pinned), Some(seen)) = (creds.host_key, seen)
                    && pinned != seen
                {
                    return Err(ConnectError {
                        error: host_key_changed(url, pinned, &seen),
                        offered_host_key: Some(seen),
                    });
                }
                return Err(external(format!("{url}: cannot connect: {e}")).into());
            }
            Ok(Ok(h)) => h,
        };
        let mut ok = false;
        if let Some(key) = &key {
            let hash = ssh.best_supported_rsa_hash().await.ok().flatten().flatten();
            ok = ssh
                .authenticate_publickey(&url.user, PrivateKeyWithHashAlg::new(key.clone(), hash))
                .await
                .map_err(|e| external(format!("{url}: key login failed: {e}")))?
                .success();
        }
        if !ok && let Some(pw) = &creds.password {
            ok = ssh
                .authenticate_password(&url.user, pw)
                .await
                .map_err(|e| external(format!("{url}: password login failed: {e}")))?
                .success();
        }
        if !ok {
            return Err(ConnectError::from(external(format!(
                "{url}: the server refused the login of '{}' (check --key or the password variable)",
                url.user
            ))));
        }
        let channel = ssh
            .channel_open_session()
            .await
            .map_err(|e| external(format!("{url}: cannot open a channel: {e}")))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| external(format!("{url}: no SFTP subsystem: {e}")))?;
        let sftp = SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| external(format!("{url}: SFTP start failed: {e}")))?;
        Ok::<_, ConnectError>((ssh, sftp))
    })?;
    let host_key = seen.lock().ok().and_then(|s| s.clone());
    Ok(Connected {
        remote: Box::new(Sftp {
            rt,
            url: url.clone(),
            _ssh: ssh,
            sftp,
        }),
        host_key,
    })
}

impl Remote for Sftp {
    fn list(&mut self) -> Result<Vec<RemoteFile>> {
        let url = &self.url;
        let entries = self
            .rt
            .block_on(self.sftp.read_dir(&url.path))
            .map_err(|e| external(format!("{url}: cannot list {}: {e}", url.path)))?;
        let mut out = Vec::new();
        for e in entries {
            let m = e.metadata();
            if !m.is_regular() {
                continue;
            }
            out.push(RemoteFile {
                key: e.file_name(),
                name: e.file_name(),
                size: m.size.unwrap_or(0),
                mtime: m.mtime.map(i64::from).unwrap_or(0),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn download(&mut self, rf: &RemoteFile, to: &mut dyn Write) -> Result<u64> {
        let url = &self.url;
        let path = join(&url.path, &rf.name);
        let sftp = &self.sftp;
        self.rt.block_on(async {
            let mut f = sftp
                .open(&path)
                .await
                .map_err(|e| external(format!("{url}: cannot open {path}: {e}")))?;
            let mut buf = vec![0u8; 256 * 1024];
            let mut total = 0u64;
            loop {
                let n = tokio::time::timeout(TIMEOUT, f.read(&mut buf))
                    .await
                    .map_err(|_| external(format!("{url}: {path}: the download stalled")))?
                    .map_err(|e| external(format!("{url}: {path}: download failed: {e}")))?;
                if n == 0 {
                    break;
                }
                to.write_all(&buf[..n])
                    .map_err(|e| external(format!("cannot write the download of {path}: {e}")))?;
                total += n as u64;
            }
            Ok(total)
        })
    }

    fn move_done(&mut self, name: &str, dir: &str) -> Result<()> {
        let url = &self.url;
        let from = join(&url.path, name);
        let to = join(dir, name);
        self.rt
            .block_on(self.sftp.rename(&from, &to))
            .map_err(|e| external(format!("{url}: cannot move {from} to {to}: {e}")))
    }
}
