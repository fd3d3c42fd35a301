//! Hostile input and operator traps (issue 15): each test fails without its fix.

use crate::support::{Env, fixture};

fn customers_with(line: &str) -> String {
    let text = std::fs::read_to_string(fixture("customers.csv")).unwrap();
    let header = text.lines().next().unwrap();
    format!("{header}\n{line}\n")
}

#[test]
fn a_closed_stdout_pipe_is_success_on_every_command() {
    let env = Env::new().with_reference_data();
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-11-30",
        "--cutoff",
        "2026-11-30",
    ]);
    // A pipe whose reader has gone: stdout is closed before billrun writes.
    for args in [
        &["status", "1"][..],
        &["runs"][..],
        &["customers", "list"][..],
        &["config", "list"][..],
        &["--json", "status", "1"][..],
    ] {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"))
            .arg("--db")
            .arg(&env.db)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away at once
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "billrun {args:?} with a closed pipe: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

#[test]
fn stdout_on_a_full_disk_is_an_external_failure() {
    let env = Env::new().with_reference_data();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"))
        .arg("--db")
        .arg(&env.db)
        .args(["config", "list"])
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write to standard output"));
}

#[test]
fn control_characters_in_reference_data_are_refused_with_line_and_column() {
    let env = Env::new().with_reference_data();
    let before = env.snapshot();
    let f = env.write(
        "evil.csv",
        &customers_with(
            "C9001,\"Evil\r\nBcc: all@example.com\",e@example.com,email,card,,,,,,,,pm_1,1 A St,,Leeds,,LS1 1AA,,false,monthly,,",
        ),
    );
    let err = env.fails(4, &["customers", "import", &f]);
    assert!(
        err.contains("evil.csv:2:2: name: contains the control character U+000D (carriage return)"),
        "{err}"
    );
    // Neighbouring door: the same rule for every reference file and column.
    let f = env.write(
        "plans.csv",
        "plan,name,monthly_fee,tariff\nP9,\"Tab\there\",1.00,STD\n",
    );
    let err = env.fails(4, &["plans", "import", &f]);
    assert!(err.contains("U+0009 (tab)"), "{err}");
    assert_eq!(env.snapshot(), before, "nothing changed");
}

#[test]
fn config_set_refuses_line_breaks() {
    let env = Env::new();
    env.ok(&["init"]);
    let err = env.fails(
        4,
        &[
            "config",
            "set",
            "company.name",
            "Acme\r\nBcc: x@evil.example",
        ],
    );
    assert!(err.contains("control character"), "{err}");
    let out = env.ok(&["config", "get", "company.name"]);
    assert!(!out.contains("Acme"), "{out}");
}

#[test]
fn absurd_amounts_are_refused_at_import_never_a_panic() {
    let env = Env::new().with_reference_data();
    let before = env.snapshot();
    let f = env.write(
        "plans.csv",
        "plan,name,monthly_fee,tariff\nP9,Big,99999999999999999999999999.99,STD\n",
    );
    let err = env.fails(4, &["plans", "import", &f]);
    assert!(err.contains("plans.csv:2:3: monthly_fee"), "{err}");
    assert!(err.contains("largest amount"), "{err}");
    let f = env.write(
        "c.csv",
        &customers_with(
            "C9002,Big Min,b@example.com,email,card,,,,,,,,pm_1,1 A St,,Leeds,,LS1 1AA,,false,monthly,20000000,",
        ),
    );
    let err = env.fails(4, &["customers", "import", &f]);
    assert!(err.contains("min_invoice"), "{err}");
    assert_eq!(env.snapshot(), before, "nothing changed");
}

#[test]
fn a_cdr_file_with_a_column_named_twice_is_refused() {
    let env = Env::new().with_reference_data();
    env.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let f = env.write(
        "dup.csv",
        "service,start,duration,destination,call_type,carrier_cost,duration\n\
         01134960000,2026-11-02T09:00:00,60,441134960000,voice,0.01,6000\n",
    );
    let before = env.snapshot();
    let err = env.fails(4, &["cdr", "import", "--carrier", "northern", &f]);
    assert!(
        err.contains("the header has the column 'duration' twice (columns 3 and 7)"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before, "nothing changed");
}

#[test]
fn cdr_fetch_refuses_symlinks_and_leaves_them() {
    let env = Env::new().with_reference_data();
    let inbox = env.path("inbox");
    std::fs::create_dir(&inbox).unwrap();
    env.ok(&[
        "carriers",
        "add",
        "northern",
        "--format",
        "billrun",
        "--inbox",
        inbox.to_str().unwrap(),
    ]);
    let outside = env.write(
        "secret.csv",
        "service,start,duration,destination,call_type,carrier_cost\n01134960000,2026-11-02T09:00:00,60,441134960000,voice,0.01\n",
    );
    std::os::unix::fs::symlink(&outside, inbox.join("link.csv")).unwrap();
    let out = env.cmd().args(["cdr", "fetch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(inbox.join("link.csv").is_symlink());
    assert!(std::path::Path::new(&outside).exists());
    let files = env.json(&["cdr", "list"]);
    assert_eq!(files.as_array().map(Vec::len), Some(0), "{files}");
}

#[test]
fn a_full_disk_during_cdr_import_exits_5_and_leaves_nothing_behind() {
    // RLIMIT_FSIZE makes writes past the limit fail with EFBIG (SIGXFSZ is
    // ignored by the shell before exec): the stored copy of the file fits,
    // the database's write-ahead log does not.
    let env = Env::new().with_reference_data();
    env.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    let mut body = String::from("service,start,duration,destination,call_type,carrier_cost\n");
    for i in 0..40_000 {
        body.push_str(&format!(
            "01134960000,2026-11-02T{:02}:{:02}:{:02},60,44113496{:04},voice,0.01\n",
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            i % 10_000
        ));
    }
    let f = env.write("big.csv", &body);
    let before = env.snapshot();
    let db_size = std::fs::metadata(&env.db).unwrap().len();
    // ulimit -f counts 512-byte blocks in dash, 1024 in bash: give room for
    // the file copy (and the database as it is) but not for the WAL, whose
    // pages of rows and index entries outgrow the file's bytes.
    let limit_bytes = body.len().max(db_size as usize) as u64 + 64 * 1024;
    let bin = assert_cmd::cargo::cargo_bin("billrun");
    let script = format!(
        "trap '' XFSZ; ulimit -f {}; exec \"$0\" --db \"$1\" cdr import --carrier northern \"$2\"",
        limit_bytes / 1024
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .arg(&bin)
        .arg(&env.db)
        .arg(&f)
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(
        stderr.contains("run the command again") || stderr.contains("disk"),
        "{stderr}"
    );
    assert_eq!(env.snapshot(), before, "nothing recorded");
    let store = std::path::PathBuf::from(format!("{}.files", env.db.display())).join("cdr");
    let left: Vec<_> = std::fs::read_dir(&store)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the CDR store: {left:?}");
}

#[test]
fn fee_codes_refuse_control_characters() {
    let env = Env::new().with_reference_data();
    env.ok(&["config", "set", "features.wholesale_fees", "true"]);
    let before = env.snapshot();
    let err = env.fails(
        4,
        &["fees", "codes", "add", "X1", "Fee\r\nBcc: x@evil.example"],
    );
    assert!(
        err.contains("DESCRIPTION: contains the control character U+000D"),
        "{err}"
    );
    let err = env.fails(4, &["fees", "codes", "add", "X\t1", "Fee"]);
    assert!(
        err.contains("CODE: contains the control character U+0009"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before, "nothing stored");
}
