//! Carrier file sources (docs/file-formats.md#remote-sources): `cdr fetch`
//! against real servers started here on loopback: OpenSSH's `sshd`
//! (Debian `openssh-server`, internal-sftp) and pyftpdlib (Debian
//! `python3-pyftpdlib`, with `python3-openssl` for FTPS); scripts/test
//! installs both. FTPS uses a CA generated here (rcgen) given by --ca-file.

use crate::support::{Env, db, sha256_hex};
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server process, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn wait_listening(port: u16, child: &mut Child) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("the test server exited early: {st}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the test server did not listen on {port}");
}

pub(crate) fn user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub(crate) fn keygen(path: &Path) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client) is needed; scripts/test installs it");
    assert!(st.success());
}

/// sshd on a free loopback port, logging in the current user by key only.
fn sshd(dir: &Path, host_key: &Path, client_pub: &Path) -> Server {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sshd (openssh-server) is needed; scripts/test installs it");
    // sshd run as root wants its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let auth = dir.join("authorized_keys");
    std::fs::copy(client_pub, &auth).unwrap();
    let cfg = dir.join(format!("sshd_config.{port}"));
    std::fs::write(
        &cfg,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PidFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
             UsePAM no\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
            host_key.display(),
            auth.display(),
            dir.join(format!("sshd.{port}.pid")).display()
        ),
    )
    .unwrap();
    let mut child = Command::new(sshd)
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port, &mut child);
    Server { child, port }
}

/// The SHA-256 fingerprint of a public key, as `ssh-keygen -l` writes it.
pub(crate) fn fingerprint(pub_key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-l", "-E", "sha256", "-f"])
        .arg(pub_key)
        .output()
        .unwrap();
    let s = String::from_utf8(out.stdout).unwrap();
    s.split_whitespace().nth(1).unwrap().to_string()
}

pub(crate) fn stored(e: &Env, sha: &str) -> PathBuf {
    PathBuf::from(format!("{}.files", e.path("t.db").display()))
        .join("cdr")
        .join(sha)
}

pub(crate) const CDRS: &str = "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n\
                    01632960001,2026-11-03T09:15:00,125,441632960999,,,0.01,r1\n";

#[test]
fn sftp_fetch_pins_the_host_key_downloads_each_file_once_and_refuses_a_changed_key() {
    let e = Env::new().with_reference_data();
    let keys = e.path("keys");
    std::fs::create_dir_all(&keys).unwrap();
    let (host1, host2, client) = (keys.join("host1"), keys.join("host2"), keys.join("client"));
    for k in [&host1, &host2, &client] {
        keygen(k);
    }
    let pub_of = |k: &Path| PathBuf::from(format!("{}.pub", k.display()));
    let remote = e.path("remote/out");
    std::fs::create_dir_all(&remote).unwrap();
    std::fs::write(remote.join("cdr-2026-11-a.csv"), CDRS).unwrap();
    let b = CDRS.replace("r1", "r2");
    std::fs::write(remote.join("cdr-2026-11-b.csv"), &b).unwrap();
    std::fs::write(remote.join("notes.txt"), "not a CDR file").unwrap();
    std::fs::write(remote.join("cdr-late.csv.part"), "half").unwrap();

    let server = sshd(&keys, &host1, &pub_of(&client));
    let url = format!(
        "sftp://{}@127.0.0.1:{}{}",
        user(),
        server.port,
        remote.display()
    );
    e.ok(&[
        "carriers",
        "add",
        "north",
        "--format",
        "billrun",
        "--source",
        &url,
        "--pattern",
        "cdr-*",
        "--key",
        client.to_str().unwrap(),
    ]);
    let v = e.json(&["cdr", "fetch"]);
    let c = &v["remote"][0];
    assert_eq!(c["carrier"], "north", "{v}");
    assert_eq!(c["error"], serde_json::Value::Null, "{v}");
    let names: Vec<&str> = c["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cdr-2026-11-a.csv", "cdr-2026-11-b.csv"]);
    let pinned = fingerprint(&pub_of(&host1));
    assert_eq!(c["host_key_pinned"], pinned.as_str());
    // Stored under their SHA-256, byte for byte; nothing removed on the server.
    assert_eq!(
        std::fs::read_to_string(stored(&e, &sha256_hex(b.as_bytes()))).unwrap(),
        b
    );
    assert!(remote.join("cdr-2026-11-a.csv").exists());
    let pending: i64 = db(&e)
        .query_row(
            "SELECT count(*) FROM cdr_files WHERE carrier = 'north' AND state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 2);

    // Nothing new: nothing downloaded again.
    let v = e.json(&["cdr", "fetch"]);
    assert_eq!(v["remote"][0]["files"].as_array().unwrap().len(), 0, "{v}");
    assert_eq!(v["remote"][0]["already_fetched"], 2);
    // A new file comes in alone.
    std::fs::write(remote.join("cdr-2026-11-c.csv"), CDRS.replace("r1", "r3")).unwrap();
    let v = e.json(&["cdr", "fetch"]);
    assert_eq!(
        v["remote"][0]["files"][0]["name"], "cdr-2026-11-c.csv",
        "{v}"
    );

    // The server's host key changes: refused (exit 5, naming the carrier),
    // nothing fetched, until the operator accepts the new key.
    drop(server);
    std::fs::write(remote.join("cdr-2026-11-d.csv"), CDRS.replace("r1", "r4")).unwrap();
    let server = sshd(&keys, &host2, &pub_of(&client));
    let url2 = format!(
        "sftp://{}@127.0.0.1:{}{}",
        user(),
        server.port,
        remote.display()
    );
    db(&e)
        .execute(
            "UPDATE carrier_sources SET url = ?1 WHERE carrier = 'north'",
            [&url2],
        )
        .unwrap();
    let err = e.fails(5, &["cdr", "fetch"]);
    assert!(err.contains("north") && err.contains("host key"), "{err}");
    assert!(err.contains("accept-host-key"), "{err}");
    let files: i64 = db(&e)
        .query_row("SELECT count(*) FROM cdr_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(files, 3, "nothing fetched from a server with a changed key");
    let v = e.json(&["carriers", "accept-host-key", "north"]);
    assert_eq!(v["new"], fingerprint(&pub_of(&host2)).as_str());
    assert_eq!(v["old"], pinned.as_str());
    let v = e.json(&["cdr", "fetch"]);
    assert_eq!(
        v["remote"][0]["files"][0]["name"], "cdr-2026-11-d.csv",
        "{v}"
    );
    // Pinning, the refusal and the acceptance are audited.
    let audited: Vec<String> = db(&e)
        .prepare("SELECT action FROM audit WHERE action LIKE 'carrier.host_key%' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        audited,
        [
            "carrier.host_key",
            "carrier.host_key_refused",
            "carrier.host_key_accepted"
        ]
    );
    // Nothing to accept now.
    e.fails(4, &["carriers", "accept-host-key", "north"]);
}

// ------------------------------------------------------------------ FTP

const FTP_SERVER: &str = r#"
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, TLS_FTPHandler
from pyftpdlib.servers import FTPServer
home, password, cert, key = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
a = DummyAuthorizer()
a.add_user("cdr", password, home, perm="elrfm")
if cert:
    h = TLS_FTPHandler
    h.certfile = cert
    h.keyfile = key
    h.tls_control_required = True
    h.tls_data_required = True
else:
    h = FTPHandler
h.authorizer = a
s = FTPServer(("127.0.0.1", 0), h)
print(s.address[1], flush=True)
s.serve_forever()
"#;

/// pyftpdlib serving `home` (user `cdr`); FTPS when given a cert and key.
fn ftpd(home: &Path, password: &str, tls: Option<(&Path, &Path)>) -> Server {
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import pyftpdlib, OpenSSL"])
                .status()
                .is_ok_and(|s| s.success())
        })
        .expect("python3-pyftpdlib and python3-openssl are needed; scripts/test installs them");
    let (cert, key) = tls
        .map(|(c, k)| (c.display().to_string(), k.display().to_string()))
        .unwrap_or_default();
    let mut child = Command::new(python)
        .args(["-c", FTP_SERVER])
        .arg(home)
        .arg(password)
        .arg(cert)
        .arg(key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("ftp server said {line:?}"));
    wait_listening(port, &mut child);
    Server { child, port }
}

/// A CA and a server certificate for 127.0.0.1 signed by it (PEM files).
pub(crate) fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let (ca_pem, cert_pem, key_pem) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&ca_pem, ca_cert.pem()).unwrap();
    std::fs::write(&cert_pem, leaf.pem()).unwrap();
    std::fs::write(&key_pem, key.serialize_pem()).unwrap();
    (ca_pem, cert_pem, key_pem)
}

#[test]
fn ftps_and_ftp_fetch_with_env_passwords_move_done_files_and_survive_an_unreachable_carrier() {
    let e = Env::new().with_reference_data();
    let tls = e.path("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (ca, cert, key) = test_ca(&tls);
    // FTPS carrier `secure`, files moved to done/ once fetched.
    let home1 = e.path("ftps");
    std::fs::create_dir_all(home1.join("out")).unwrap();
    std::fs::create_dir_all(home1.join("done")).unwrap();
    std::fs::write(home1.join("out/cdr-1.csv"), CDRS).unwrap();
    let s1 = ftpd(&home1, "s3cret-1", Some((&cert, &key)));
    // Plain FTP carrier `plain`, files left in place.
    let home2 = e.path("ftp");
    std::fs::create_dir_all(&home2).unwrap();
    let two = CDRS.replace("r1", "p2");
    std::fs::write(home2.join("p-1.csv"), &two).unwrap();
    let s2 = ftpd(&home2, "s3cret-2", None);
    // A carrier whose server is down.
    let dead = free_port();

    e.ok(&[
        "carriers",
        "add",
        "secure",
        "--format",
        "billrun",
        "--source",
        &format!("ftps://cdr@127.0.0.1:{}/out", s1.port),
        "--ca-file",
        ca.to_str().unwrap(),
        "--remote-done",
        "/done",
    ]);
    e.ok(&[
        "carriers",
        "add",
        "plain",
        "--format",
        "billrun",
        "--source",
        &format!("ftp://cdr@127.0.0.1:{}/", s2.port),
    ]);
    e.ok(&[
        "carriers",
        "add",
        "down",
        "--format",
        "billrun",
        "--source",
        &format!("ftp://cdr@127.0.0.1:{dead}/"),
    ]);
    let fetch = |code: i32| {
        let out = e
            .cmd()
            .args(["--json", "cdr", "fetch"])
            .env("BILLRUN_SOURCE_PASSWORD_SECURE", "s3cret-1")
            .env("BILLRUN_SOURCE_PASSWORD_PLAIN", "s3cret-2")
            .env("BILLRUN_SOURCE_PASSWORD_DOWN", "x")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, String::from_utf8(out.stderr).unwrap())
    };
    let (v, err) = fetch(5);
    // The unreachable carrier is named; the others were fetched.
    assert!(err.contains("down"), "{err}");
    let by = |name: &str| {
        v["remote"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["carrier"] == name)
            .unwrap()
            .clone()
    };
    assert!(
        by("down")["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{v}"
    );
    assert_eq!(by("secure")["files"][0]["name"], "cdr-1.csv", "{v}");
    assert_eq!(by("secure")["moved"][0], "cdr-1.csv");
    assert!(home1.join("done/cdr-1.csv").exists() && !home1.join("out/cdr-1.csv").exists());
    assert_eq!(by("plain")["files"][0]["name"], "p-1.csv");
    assert!(
        home2.join("p-1.csv").exists(),
        "nothing moved without --remote-done"
    );
    assert_eq!(
        std::fs::read_to_string(stored(&e, &sha256_hex(two.as_bytes()))).unwrap(),
        two
    );
    // The last fetch of each carrier is kept (status, carriers list).
    let (at, n, error): (Option<String>, Option<i64>, Option<String>) = db(&e)
        .query_row(
            "SELECT last_fetch_at, last_fetch_files, last_fetch_error FROM carrier_sources WHERE carrier = 'down'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert!(at.is_some() && n == Some(0) && error.is_some());
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let st = e.json(&["status"]);
    let fetches = st["carrier_fetches"].as_array().unwrap().clone();
    let of = |n: &str| fetches.iter().find(|f| f["carrier"] == n).unwrap().clone();
    assert_eq!(of("secure")["files"], 1, "{st}");
    assert_eq!(of("plain")["files"], 1);
    assert!(
        of("down")["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect")
    );
    let text = e.ok(&["status"]);
    assert!(text.contains("failed: ftp://cdr@127.0.0.1"), "{text}");

    // Again, the carrier down removed: nothing new, exit 0.
    db(&e)
        .execute("DELETE FROM carrier_sources WHERE carrier = 'down'", [])
        .unwrap();
    let (v, _) = fetch(0);
    assert_eq!(by_files(&v), 0, "{v}");

    // A wrong password is refused with exit 5 naming the carrier.
    let out = e
        .cmd()
        .args(["cdr", "fetch"])
        .env("BILLRUN_SOURCE_PASSWORD_SECURE", "wrong")
        .env("BILLRUN_SOURCE_PASSWORD_PLAIN", "s3cret-2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secure") && !err.contains("wrong"), "{err}");
}

fn by_files(v: &serde_json::Value) -> usize {
    v["remote"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["files"].as_array().unwrap().len())
        .sum()
}

#[test]
fn ftps_refuses_a_certificate_it_cannot_verify() {
    let e = Env::new().with_reference_data();
    let tls = e.path("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let (_ca, cert, key) = test_ca(&tls);
    let home = e.path("ftps");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("cdr-1.csv"), CDRS).unwrap();
    let s = ftpd(&home, "pw", Some((&cert, &key)));
    // No --ca-file: the test CA is not trusted.
    e.ok(&[
        "carriers",
        "add",
        "secure",
        "--format",
        "billrun",
        "--source",
        &format!("ftps://cdr@127.0.0.1:{}/", s.port),
    ]);
    let out = e
        .cmd()
        .args(["cdr", "fetch"])
        .env("BILLRUN_SOURCE_PASSWORD_SECURE", "pw")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secure") && err.contains("TLS"), "{err}");
    let n: i64 = db(&e)
        .query_row("SELECT count(*) FROM cdr_files", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn carriers_add_refuses_bad_sources_and_changes_nothing() {
    let e = Env::new().with_reference_data();
    let before = e.snapshot();
    for (args, code, says) in [
        (vec!["--source", "sftp://u:pw@h/x"], 4, "password"),
        (vec!["--source", "http://u@h/x"], 4, "scheme"),
        (
            vec!["--source", "ftp://u@h/", "--key", "/nonexistent"],
            4,
            "sftp",
        ),
        (
            vec!["--source", "sftp://u@h/", "--pattern", "cdr-[.csv"],
            4,
            "glob",
        ),
        (
            vec!["--source", "sftp://u@h/", "--key", "/nonexistent/key"],
            4,
            "key",
        ),
        (vec!["--pattern", "*.csv"], 2, "source"),
    ] {
        let mut a = vec!["carriers", "add", "x", "--format", "billrun"];
        a.extend(args);
        let err = e.fails(code, &a);
        assert!(err.contains(says), "{a:?}: {err}");
    }
    assert_eq!(e.snapshot(), before);
}

// ------------------------------------------------------------ Asterisk PBXs

/// A multi-tenant PBX's Master.csv (fixtures/cdrs/pbx-tenants-Master.csv):
/// the billed service from `accountcode`, a feature code, two inbound calls.
#[test]
fn asterisk_accountcode_feature_codes_and_inbound_calls() {
    let e = Env::new().with_reference_data();
    e.ok(&[
        "carriers",
        "add",
        "tenants",
        "--format",
        "asterisk:accountcode",
    ]);
    let f = crate::support::fixture("cdrs").join("pbx-tenants-Master.csv");
    let v = e.json(&["cdr", "import", f.to_str().unwrap(), "--carrier", "tenants"]);
    assert_eq!(v["lines"], 6, "{v}");
    assert_eq!(v["rated"], 2, "{v}");
    // The feature code *72*1234*8584 and the two inbound calls.
    assert_eq!(v["not_billable"], 3, "{v}");
    assert_eq!(v["errors"]["unknown_service"], 1, "{v}");
    let rated: Vec<(String, String, i64)> = db(&e)
        .prepare(
            "SELECT service, destination, charge_minor FROM cdrs WHERE state = 1 ORDER BY line",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    // BIZ: UK landline 0.03/min per second, 120 s → 0.06; UK mobile 0.07/min, 60 s → 0.07.
    assert_eq!(
        rated,
        [
            ("01134960000".to_string(), "442079460100".to_string(), 6),
            ("01134960001".to_string(), "447700900321".to_string(), 7),
        ]
    );
    // The feature code's digits were never rated as a destination.
    let n: i64 = db(&e)
        .query_row(
            "SELECT count(*) FROM cdrs WHERE destination LIKE '72%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
    // The plain asterisk format bills by src: the extension 201 is no service.
    e.ok(&["carriers", "add", "pbx", "--format", "asterisk"]);
    let body = std::fs::read_to_string(&f)
        .unwrap()
        .replace("2026-11-05", "2026-11-06");
    let g = e.write("pbx2.csv", &body);
    let v = e.json(&["cdr", "import", &g, "--carrier", "pbx"]);
    assert_eq!(v["errors"]["unknown_service"], 3, "{v}");
    assert_eq!(v["not_billable"], 3, "{v}");
}
