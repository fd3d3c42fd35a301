//! Test helpers: run the real binary in a temporary directory; the fake
//! payment gateway and SMTP server; invoices seeded without production.
#![allow(dead_code)]

pub mod gocardless;
pub mod golden;
pub mod seed;
pub mod smtp;
pub mod stripe;
pub mod xero;

use assert_cmd::Command;
use std::path::{Path, PathBuf};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
}

/// A connection to the test database.
pub fn db(e: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(&e.db).unwrap()
}

/// The step `key` of a `status --json` value (a copy).
pub fn step(status: &serde_json::Value, key: &str) -> serde_json::Value {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap()
        .clone()
}

/// SHA-256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The project's fixtures folder.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        Env { dir, db }
    }

    /// A command with --db set, no terminal, a fixed operator.
    pub fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("billrun").unwrap();
        c.arg("--db")
            .arg(&self.db)
            .env("BILLRUN_OPERATOR", "tester")
            // `collect dd` takes today from here (debug builds): the
            // fixtures' Direct Debit dates (December 2026) stay in time.
            .env("BILLRUN_TEST_DD_TODAY", "2026-12-01")
            .env_remove("BILLRUN_DB")
            .current_dir(self.dir.path());
        c
    }

    /// Run with args; assert success; return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "billrun {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run with args; assert exit `code`; return stderr.
    pub fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "billrun {args:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    /// Parse `--json` output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let s = self.ok(&a);
        serde_json::from_str(&s).unwrap_or_else(|e| panic!("bad JSON from {args:?}: {e}\n{s}"))
    }

    /// Write a file into the temp dir; returns its path as a string.
    pub fn write(&self, name: &str, body: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// init + the shipped reference data.
    pub fn with_reference_data(self) -> Env {
        self.ok(&["init"]);
        for (what, file) in [
            ("tariffs", "tariffs.csv"),
            ("plans", "plans.csv"),
            ("customers", "customers.csv"),
            ("services", "services.csv"),
        ] {
            self.ok(&[what, "import", fixture(file).to_str().unwrap()]);
        }
        self
    }

    /// A dump of every table's row count, to check "nothing changed".
    pub fn snapshot(&self) -> String {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        let mut st = conn
            .prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
            .unwrap();
        let tables: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut out = String::new();
        for t in tables {
            let sql = format!("SELECT * FROM \"{t}\"");
            let mut st = conn.prepare(&sql).unwrap();
            let n = st.column_count();
            let rows: Vec<String> = st
                .query_map([], |r| {
                    let mut v = Vec::new();
                    for i in 0..n {
                        v.push(format!("{:?}", r.get_ref(i)?));
                    }
                    Ok(v.join("|"))
                })
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            out.push_str(&format!("{t}: {}\n", rows.join("\n  ")));
        }
        out
    }
}
