//! What long and listing commands leave on the two output streams when no
//! person is watching (docs/commands.md, "Progress" and "Output"):
//! - progress bars are drawn on stderr only when it is a terminal; under
//!   cron or a pipe (as here: assert_cmd pipes stderr) stderr carries the
//!   normal messages and nothing else: no bar, no phase name, no carriage
//!   return or escape sequence;
//! - a reader that goes away (`billrun … | head -1`) is not a failure:
//!   exit 0, nothing on stderr;
//! - a closed stderr (`billrun … 2>&1 | head -1`) loses the messages but
//!   never turns into a crash: the exit code is the command's own.

use crate::collect::BACS_SETTINGS;
use crate::support::{Env, fixture};
use std::io::{BufRead, BufReader};
use std::process::Stdio;

/// The phase names ops report (src/ops): none may reach a pipe.
const PHASES: &[&str] = &[
    "reading the open errors",
    "re-rating CDR errors",
    "selecting the invoices to collect",
    "writing the bacs18 file",
    "recording the payment run",
    "matching results",
    "applying results",
    "writing Xero import files",
    "writing messages",
    "writing credit note messages",
    "merging print bundles",
];

/// Run `args`; assert success; return (stdout, stderr).
fn run(env: &Env, args: &[&str]) -> (String, String) {
    let out = env.cmd().args(args).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(
        out.status.success(),
        "billrun {args:?} failed ({:?}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status.code()
    );
    (stdout, stderr)
}

/// Nothing of a progress bar in `stderr` of `args`.
fn no_bar(args: &[&str], stderr: &str) {
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "billrun {args:?} drew on a pipe: {stderr:?}"
    );
    for p in PHASES {
        assert!(
            !stderr.contains(p),
            "billrun {args:?} showed progress {p:?} on a pipe: {stderr:?}"
        );
    }
}

/// A produced run 1 with Bacs settings, CDRs imported (with billing
/// errors) and the missing services added.
fn produced() -> Env {
    let env = Env::new().with_reference_data();
    for (k, v) in BACS_SETTINGS {
        env.ok(&["config", "set", k, v]);
    }
    env.ok(&["config", "set", "smtp.from", "billing@example.com"]);
    env.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let cdrs = fixture("cdrs/northern-2026-11.csv");
    env.ok(&[
        "cdr",
        "import",
        cdrs.to_str().unwrap(),
        "--carrier",
        "northern",
    ]);
    env.ok(&[
        "services",
        "import",
        fixture("cdrs/found-services.csv").to_str().unwrap(),
    ]);
    env
}

#[test]
fn long_commands_show_no_progress_when_stderr_is_not_a_terminal() {
    let env = produced();
    // Re-rating: the errors the new services fix now rate.
    let args = ["errors", "rerate"];
    let (stdout, stderr) = run(&env, &args);
    assert!(stdout.contains("open errors re-rated"), "{stdout}");
    assert_eq!(stderr, "", "billrun {args:?}");

    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    env.ok(&["--yes", "request", "1", "--expert"]);

    let args = ["collect", "dd", "1"];
    let (stdout, stderr) = run(&env, &args);
    assert!(stdout.contains("bacs18"), "{stdout}");
    no_bar(&args, &stderr);
    assert_eq!(stderr, "", "billrun {args:?}");

    // A results file for the first Direct Debit item.
    let show = env.json(&["collect", "show", "1"]);
    let reference = show["items_detail"][0]["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("{show:#}"))
        .to_string();
    let results = env.write(
        "results.csv",
        &format!("reference,status,reason\n{reference},approved,\n"),
    );
    let args = ["collect", "results", &results];
    let (_, stderr) = run(&env, &args);
    no_bar(&args, &stderr);
    assert_eq!(stderr, "", "billrun {args:?}");

    for args in [
        &["xero", "export", "1", "--out", "xero.csv"][..],
        &["email", "1", "--dry-run", "outbox"][..],
        &["print", "1", "--out", "print"][..],
        // --json: stdout stays one document, stderr holds no bar either.
        &[
            "--json",
            "xero",
            "export",
            "1",
            "--out",
            "xero-again.csv",
            "--all",
        ][..],
    ] {
        let (stdout, stderr) = run(&env, args);
        assert!(!stdout.is_empty(), "billrun {args:?} said nothing");
        no_bar(args, &stderr);
        assert_eq!(stderr, "", "billrun {args:?}");
    }
}

/// Run `args` with stdout a pipe whose reader reads `lines` lines and goes
/// away (`| head -n lines`; 0: gone before billrun writes); returns the
/// exit code and stderr.
fn reader_leaves(env: &Env, args: &[&str], lines: usize) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"))
        .arg("--db")
        .arg(&env.db)
        .args(args)
        .env("BILLRUN_OPERATOR", "tester")
        .env_remove("BILLRUN_DB")
        .current_dir(env.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut r = BufReader::with_capacity(1, stdout);
    let mut line = String::new();
    for _ in 0..lines {
        line.clear();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
    }
    drop(r);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn listings_and_reports_end_quietly_when_the_reader_goes_away() {
    let env = produced();
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    env.ok(&["--yes", "request", "1", "--expert"]);
    env.ok(&["collect", "dd", "1"]);
    let number = env.json(&["invoices", "1"])[0]["number"]
        .as_str()
        .unwrap()
        .to_string();
    let before = env.snapshot();
    let listings: &[&[&str]] = &[
        &["cdr", "list"],
        &["errors"],
        &["errors", "1", "--detail", "--all"],
        &["invoices", "1"],
        &["invoices", "show", &number],
        &["collect", "list"],
        &["collect", "show", "1"],
        &["payments", "list"],
        &["credit", "list"],
        &["charge", "list"],
        &["carriers", "list"],
        &["cycles", "list"],
        &["customers", "list"],
        &["services", "list"],
        &["plans", "list"],
        &["tariffs", "list"],
        &["allowances", "list"],
        &["audit"],
        &["audit", "1"],
        &["runs"],
        &["status", "1"],
        &["prebill", "1"],
        &["config", "list"],
        &["completions", "bash"],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["--help"],
    ];
    let quiet_when_cut = |args: &[&str]| {
        for json in [false, true] {
            let mut a: Vec<&str> = Vec::new();
            if json {
                a.push("--json");
            }
            a.extend_from_slice(args);
            for lines in [0, 1] {
                let (code, stderr) = reader_leaves(&env, &a, lines);
                assert_eq!(
                    (code, stderr.as_str()),
                    (Some(0), ""),
                    "billrun {a:?} | head -{lines}"
                );
            }
        }
    };
    for args in listings {
        quiet_when_cut(args);
    }
    // Reading is all they did.
    assert!(env.snapshot() == before, "a listing changed the database");
    // The post-billing report records what it found on the run each time:
    // its work is done too when the reader has gone.
    quiet_when_cut(&["postbill", "1"]);
}

/// Run `args` with stderr a pipe whose reader has gone (`2>&1 | head -1`
/// once the head has its line); returns the exit code and stdout.
fn stderr_gone(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"))
        .arg("--db")
        .arg(&env.db)
        .args(args)
        .env("BILLRUN_OPERATOR", "tester")
        .env_remove("BILLRUN_DB")
        .current_dir(env.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_closed_stderr_keeps_the_exit_code_and_the_output() {
    let env = Env::new().with_reference_data();
    // A refusal (exit 3) whose message cannot be written is still exit 3.
    let (code, _) = stderr_gone(&env, &["fees", "list"]);
    assert_eq!(code, Some(3));
    // --json sends the status line to stderr: lost, the document is whole.
    let (code, stdout) = stderr_gone(&env, &["--json", "errors", "rerate"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["checked"], 0, "{v:#}");
    // An ordinary listing is unaffected.
    let (code, stdout) = stderr_gone(&env, &["customers", "list"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("C1001"), "{stdout}");
}
