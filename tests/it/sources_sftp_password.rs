//! SFTP password login (`BILLRUN_SOURCE_PASSWORD_<CARRIER>`) against a real
//! OpenSSH `sshd` on loopback. sshd checks a password against the system's
//! shadow file; so that the machine's accounts are never changed, sshd runs
//! in a private mount namespace (`unshare -m`, util-linux) where a copy of
//! /etc/shadow giving the current user a test password is bind-mounted over
//! the real one. That needs root (as the tests run in CI); elsewhere the
//! test says so and passes without checking.

use crate::sources::{CDRS, Server, free_port, keygen, stored, user, wait_listening};
use crate::support::{Env, db, sha256_hex};
use std::path::Path;
use std::process::{Command, Stdio};

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// sshd on a free loopback port taking only passwords; `user` has
/// `password` inside its namespace.
fn sshd_with_password(dir: &Path, user: &str, password: &str) -> Server {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sshd (openssh-server) is needed; scripts/test installs it");
    let _ = std::fs::create_dir_all("/run/sshd");
    let host = dir.join("host");
    keygen(&host);
    let out = Command::new("openssl")
        .args(["passwd", "-6", "-salt", "billruntest", password])
        .output()
        .expect("openssl is needed");
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let shadow: String = std::fs::read_to_string("/etc/shadow")
        .unwrap()
        .lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(':').collect();
            if f.first() == Some(&user) && f.len() > 1 {
                f[1] = &hash;
            }
            f.join(":") + "\n"
        })
        .collect();
    let shadow_copy = dir.join("shadow");
    std::fs::write(&shadow_copy, shadow).unwrap();
    let port = free_port();
    let cfg = dir.join("sshd_config");
    std::fs::write(
        &cfg,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\n\
             PasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication no\nPermitRootLogin yes\nPermitEmptyPasswords no\n\
             StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
            host.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .unwrap();
    let script = format!(
        "mount --bind '{}' /etc/shadow && exec '{sshd}' -D -e -f '{}'",
        shadow_copy.display(),
        cfg.display()
    );
    let mut child = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unshare (util-linux) is needed");
    wait_listening(port, &mut child);
    Server { child, port }
}

#[test]
fn sftp_logs_in_with_the_password_from_the_environment() {
    if !is_root() {
        eprintln!("skipped: an sshd with a test password needs root (CI runs as root)");
        return;
    }
    let e = Env::new().with_reference_data();
    let dir = e.path("sshd");
    std::fs::create_dir_all(&dir).unwrap();
    let remote = e.path("remote");
    std::fs::create_dir_all(&remote).unwrap();
    std::fs::write(remote.join("cdr-pw.csv"), CDRS).unwrap();
    let me = user();
    let server = sshd_with_password(&dir, &me, "sftp-pw-1");
    e.ok(&[
        "carriers",
        "add",
        "pw-carrier",
        "--format",
        "billrun",
        "--source",
        &format!("sftp://{me}@127.0.0.1:{}{}", server.port, remote.display()),
    ]);
    let fetch = |pw: Option<&str>| {
        let mut c = e.cmd();
        c.args(["--json", "cdr", "fetch"]);
        if let Some(pw) = pw {
            c.env("BILLRUN_SOURCE_PASSWORD_PW_CARRIER", pw);
        }
        c.output().unwrap()
    };
    // No password, then a wrong one: refused (exit 5, naming the carrier),
    // nothing recorded.
    for pw in [None, Some("wrong")] {
        let o = fetch(pw);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(5), "{err}");
        assert!(
            err.contains("pw-carrier") && err.contains("refused the login"),
            "{err}"
        );
        assert!(!err.contains("sftp-pw-1"));
    }
    let files: i64 = db(&e)
        .query_row("SELECT count(*) FROM cdr_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files, 0);
    // The right password from the environment: the file comes in.
    let o = fetch(Some("sftp-pw-1"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["remote"][0]["files"][0]["name"], "cdr-pw.csv", "{v}");
    assert_eq!(
        std::fs::read_to_string(stored(&e, &sha256_hex(CDRS.as_bytes()))).unwrap(),
        CDRS
    );
    // The real shadow file is untouched.
    let real = std::fs::read_to_string("/etc/shadow").unwrap();
    assert!(!real.contains("billruntest"));
}
