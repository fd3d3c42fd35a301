//! IMAP carrier sources (`imaps://USER@HOST[:PORT]/MAILBOX`,
//! docs/file-formats.md#remote-sources): `cdr fetch` against a real Dovecot
//! (Debian `dovecot-imapd`, which scripts/test installs) started here on a
//! free loopback port with a generated configuration: implicit TLS with a
//! certificate of a CA made here (rcgen, given by --ca-file), users in a
//! passwd-file, Maildir mailboxes in the test's directory. Messages are
//! delivered by writing Maildir files; a message's flags are read back from
//! its Maildir file name (`:2,S` = `\Seen`).

use crate::sources::{CDRS, free_port, stored, test_ca, wait_listening};
use crate::support::{Env, db, sha256_hex};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Dovecot's master process; stopped with SIGTERM (it then stops its
/// login and IMAP processes) when dropped.
struct Dovecot {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn uid_gid() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/proc/self").unwrap();
    (m.uid(), m.gid())
}

/// Who owns the mail: as root, Dovecot will not give mail to uid 0, so
/// `nobody`; otherwise the current user (Dovecot then runs unprivileged).
fn mail_owner() -> (u32, u32) {
    match uid_gid() {
        (0, _) => (65534, 65534),
        ids => ids,
    }
}

fn chown_tree(p: &Path) {
    let (u, g) = mail_owner();
    std::os::unix::fs::chown(p, Some(u), Some(g)).unwrap();
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            chown_tree(&e.unwrap().path());
        }
    }
}

fn maildir(dir: &Path, user: &str) -> PathBuf {
    dir.join("home").join(user).join("Maildir")
}

/// Start Dovecot (IMAPS only) for `users` (name, password), its files in
/// `dir` inside the test's directory `root`.
fn dovecot(root: &Path, dir: &Path, users: &[(&str, &str)], cert: &Path, key: &Path) -> Dovecot {
    let bin = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("dovecot (dovecot-imapd) is needed; scripts/test installs it");
    // The mail and login processes run as other users: they must reach
    // their files under the test's directory (created private).
    use std::os::unix::fs::PermissionsExt;
    for d in [root, dir] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    let mut passwd = String::new();
    for (u, pw) in users {
        passwd.push_str(&format!("{u}:{{PLAIN}}{pw}::::::\n"));
        let md = maildir(dir, u);
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        chown_tree(&dir.join("home").join(u));
    }
    std::fs::write(dir.join("passwd"), passwd).unwrap();
    let port = free_port();
    let (uid, gid) = mail_owner();
    let unprivileged = if uid_gid().0 == 0 {
        String::new()
    } else {
        let me = crate::sources::user();
        format!("default_login_user = {me}\ndefault_internal_user = {me}\n")
    };
    let cfg = dir.join("dovecot.conf");
    std::fs::write(
        &cfg,
        format!(
            "base_dir = {run}\nstate_dir = {run}\nlog_path = {log}\nprotocols = imap\n\
             listen = 127.0.0.1\nssl = required\nssl_cert = <{cert}\nssl_key = <{key}\n\
             auth_mechanisms = plain\nfirst_valid_uid = 1\n{unprivileged}\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {passwd}\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={home}/%u\n}}\n\
             mail_location = maildir:~/Maildir\n\
             service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = 0\n  }}\n\
             \x20 inet_listener imaps {{\n    port = {port}\n    ssl = yes\n  }}\n}}\n\
             service anvil {{\n  chroot =\n}}\n",
            run = run.display(),
            log = dir.join("dovecot.log").display(),
            cert = cert.display(),
            key = key.display(),
            passwd = dir.join("passwd").display(),
            home = dir.join("home").display(),
        ),
    )
    .unwrap();
    let mut child = Command::new(bin)
        .args(["-F", "-c"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port, &mut child);
    Dovecot {
        child,
        port,
        dir: dir.to_path_buf(),
    }
}

fn base64(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, c) in b.chunks(3).enumerate() {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out
}

/// Deliver a message with these attachments (name, content; base64) into
/// `user`'s INBOX as Maildir file `n`.
fn deliver(d: &Dovecot, user: &str, n: u32, attachments: &[(&str, &str)]) {
    let mut m = format!(
        "From: cdr@carrier.example\r\nTo: billing@isp.example\r\nSubject: CDRs {n}\r\n\
         Date: Tue, 1 Dec 2026 09:00:0{} +0000\r\nMessage-ID: <{n}@carrier.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{n}\"\r\n\r\n\
         --b{n}\r\nContent-Type: text/plain\r\n\r\nYour CDRs are attached.\r\n",
        n % 10
    );
    for (name, body) in attachments {
        m.push_str(&format!(
            "--b{n}\r\nContent-Type: text/csv; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64(body.as_bytes())
        ));
    }
    m.push_str(&format!("--b{n}--\r\n"));
    let md = maildir(&d.dir, user);
    let tmp = md.join("tmp").join(format!("{n}.M1P1.test"));
    std::fs::write(&tmp, m).unwrap();
    chown_tree(&tmp);
    std::fs::rename(&tmp, md.join("new").join(format!("{n}.M1P1.test"))).unwrap();
}

/// The Maildir flags of message `n` (`None`: not moved to cur/ yet).
fn flags(d: &Dovecot, user: &str, n: u32) -> Option<String> {
    let cur = maildir(&d.dir, user).join("cur");
    std::fs::read_dir(cur).unwrap().find_map(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        let prefix = format!("{n}.M1P1.test");
        name.strip_prefix(&prefix).map(|rest| {
            rest.rsplit_once(":2,")
                .map(|(_, f)| f)
                .unwrap_or("")
                .to_string()
        })
    })
}

fn seen(d: &Dovecot, user: &str, n: u32) -> bool {
    flags(d, user, n).is_some_and(|f| f.contains('S'))
}

fn carrier<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["remote"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["carrier"] == name)
        .unwrap_or_else(|| panic!("no carrier {name} in {v}"))
}

fn names(c: &serde_json::Value) -> Vec<String> {
    c["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn imaps_fetches_matching_attachments_once_marks_seen_on_request_and_refuses_a_wrong_ca() {
    let e = Env::new().with_reference_data();
    let tls = e.path("tls");
    let other = e.path("other-ca");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let (ca, cert, key) = test_ca(&tls);
    let (wrong_ca, _, _) = test_ca(&other);
    let dir = e.path("imap");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dovecot(
        &e.path(""),
        &dir,
        &[("north", "pw-n"), ("south", "pw-s")],
        &cert,
        &key,
    );

    let a = CDRS.to_string();
    let b = CDRS.replace("r1", "m2");
    let c = CDRS.replace("r1", "m3");
    // north: a message with two CDR attachments and a note; another with one.
    deliver(
        &d,
        "north",
        1,
        &[
            ("cdr-a.csv", &a),
            ("notes.txt", "not CDRs"),
            ("cdr-b.csv", &b),
        ],
    );
    deliver(&d, "north", 2, &[("cdr-c.csv", &c)]);
    // south (--mark-seen): one message with a CDR file, one with none.
    let s1 = CDRS.replace("r1", "s1");
    deliver(&d, "south", 3, &[("cdr-s.csv", &s1)]);
    deliver(&d, "south", 4, &[("invoice.pdf", "%PDF-not-cdrs")]);

    let add = |name: &str, user: &str, ca: &Path, extra: &[&str]| {
        let url = format!("imaps://{user}@127.0.0.1:{}/INBOX", d.port);
        let mut args = vec![
            "carriers",
            "add",
            name,
            "--format",
            "billrun",
            "--source",
            &url,
            "--pattern",
            "cdr-*.csv",
            "--ca-file",
            ca.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        e.ok(&args);
    };
    add("north", "north", &ca, &[]);
    add("south", "south", &ca, &["--mark-seen"]);
    add("wrongca", "north", &wrong_ca, &[]);
    // A wrong password, and a server that is down.
    add("badpw", "north", &ca, &[]);
    let dead = free_port();
    e.ok(&[
        "carriers",
        "add",
        "down",
        "--format",
        "billrun",
        "--source",
        &format!("imaps://north@127.0.0.1:{dead}/INBOX"),
    ]);

    let fetch = |code: i32| {
        let out = e
            .cmd()
            .args(["--json", "cdr", "fetch"])
            .env("BILLRUN_SOURCE_PASSWORD_NORTH", "pw-n")
            .env("BILLRUN_SOURCE_PASSWORD_SOUTH", "pw-s")
            .env("BILLRUN_SOURCE_PASSWORD_WRONGCA", "pw-n")
            .env("BILLRUN_SOURCE_PASSWORD_BADPW", "not-pw-n")
            .env("BILLRUN_SOURCE_PASSWORD_DOWN", "pw-n")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(code), "{err}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, err)
    };
    let (v, err) = fetch(5);
    // The carrier whose server is not trusted is named (exit 5); the
    // others were fetched.
    assert!(err.contains("wrongca"), "{err}");
    let w = carrier(&v, "wrongca");
    assert!(w["error"].as_str().unwrap().contains("TLS"), "{v}");
    assert!(names(w).is_empty());
    assert!(err.contains("badpw") && err.contains("down"), "{err}");
    let bad = carrier(&v, "badpw")["error"].as_str().unwrap();
    assert!(
        bad.contains("refused the login") && !bad.contains("not-pw-n"),
        "{v}"
    );
    let dn = carrier(&v, "down")["error"].as_str().unwrap();
    assert!(dn.contains("cannot connect"), "{v}");

    let n = carrier(&v, "north");
    assert_eq!(n["error"], serde_json::Value::Null, "{v}");
    assert_eq!(names(n), ["cdr-a.csv", "cdr-b.csv", "cdr-c.csv"], "{v}");
    assert!(n["marked_seen"].as_array().unwrap().is_empty());
    for body in [&a, &b, &c] {
        assert_eq!(
            std::fs::read_to_string(stored(&e, &sha256_hex(body.as_bytes()))).unwrap(),
            *body,
            "stored byte for byte"
        );
    }
    // Without --mark-seen the mailbox is not changed: no message is \Seen.
    assert!(!seen(&d, "north", 1) && !seen(&d, "north", 2));

    // south: the message whose CDR file was fetched is \Seen; the one
    // without a matching attachment is left as it was.
    let s = carrier(&v, "south");
    assert_eq!(names(s), ["cdr-s.csv"], "{v}");
    assert_eq!(s["marked_seen"].as_array().unwrap().len(), 1, "{v}");
    assert!(seen(&d, "south", 3), "{:?}", flags(&d, "south", 3));
    assert!(!seen(&d, "south", 4), "{:?}", flags(&d, "south", 4));

    let pending: i64 = db(&e)
        .query_row(
            "SELECT count(*) FROM cdr_files WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 4);
    let keys: Vec<String> = db(&e)
        .prepare("SELECT name FROM remote_files WHERE carrier = 'north' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(
        keys.iter().all(|k| k.starts_with("imap:")) && keys[0].ends_with("/0/cdr-a.csv"),
        "{keys:?}"
    );

    // The untrusted carrier removed: fetching again brings nothing new.
    db(&e)
        .execute(
            "DELETE FROM carrier_sources WHERE carrier IN ('wrongca', 'badpw', 'down')",
            [],
        )
        .unwrap();
    // Each message is done (every attachment the pattern takes recorded;
    // message 4 has none): none is read again.
    let done: Vec<String> = db(&e)
        .prepare("SELECT carrier || ' ' || message FROM remote_messages_done ORDER BY 1")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(done.len(), 4, "{done:?}");
    assert!(
        done[0].starts_with("north imap:") && done[0].ends_with("/1"),
        "{done:?}"
    );
    let (v, _) = fetch(0);
    assert!(names(carrier(&v, "north")).is_empty(), "{v}");
    assert!(names(carrier(&v, "south")).is_empty());
    assert!(
        carrier(&v, "south")["marked_seen"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Even with its attachments forgotten, a done message is not read
    // again (had it been, its files would come back as duplicates).
    db(&e)
        .execute("DELETE FROM remote_files WHERE carrier = 'north'", [])
        .unwrap();
    let (v, _) = fetch(0);
    assert!(names(carrier(&v, "north")).is_empty(), "{v}");

    // A new message comes in alone.
    let d4 = CDRS.replace("r1", "m4");
    deliver(&d, "north", 5, &[("cdr-d.csv", &d4)]);
    let (v, _) = fetch(0);
    assert_eq!(names(carrier(&v, "north")), ["cdr-d.csv"], "{v}");

    // The table output names what came in and what was flagged.
    deliver(&d, "south", 6, &[("cdr-t.csv", &CDRS.replace("r1", "s6"))]);
    let out = e
        .cmd()
        .args(["cdr", "fetch"])
        .env("BILLRUN_SOURCE_PASSWORD_NORTH", "pw-n")
        .env("BILLRUN_SOURCE_PASSWORD_SOUTH", "pw-s")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("fetched cdr-t.csv from south") && text.contains("flagged \\Seen"),
        "{text}"
    );
    assert!(seen(&d, "south", 6));

    // carriers list shows each source (no password) and pattern.
    let list = e.json(&["carriers", "list"]);
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "south")
        .unwrap();
    assert_eq!(
        row["source"],
        format!("imaps://south@127.0.0.1:{}/INBOX", d.port).as_str()
    );
    assert_eq!(row["pattern"], "cdr-*.csv");
    assert_eq!(row["mark_seen"], true);
    let text = e.ok(&["carriers", "list"]);
    assert!(
        text.contains(&format!("imaps://north@127.0.0.1:{}/INBOX", d.port))
            && text.contains("cdr-*.csv")
            && text.contains("(mark seen)"),
        "{text}"
    );
    assert!(!text.contains("pw-"), "{text}");
}

#[test]
fn imaps_options_are_checked_when_the_carrier_is_added() {
    let e = Env::new().with_reference_data();
    let err = e.fails(
        4,
        &[
            "carriers",
            "add",
            "x",
            "--format",
            "billrun",
            "--source",
            "sftp://u@127.0.0.1/out",
            "--mark-seen",
        ],
    );
    assert!(err.contains("--mark-seen is for imaps://"), "{err}");
    let err = e.fails(
        4,
        &[
            "carriers",
            "add",
            "x",
            "--format",
            "billrun",
            "--source",
            "imaps://u@127.0.0.1/INBOX",
            "--remote-done",
            "Done",
        ],
    );
    assert!(err.contains("--mark-seen"), "{err}");
    let n: i64 = db(&e)
        .query_row("SELECT count(*) FROM carriers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0, "nothing added");
}
