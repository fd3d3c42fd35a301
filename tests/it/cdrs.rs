//! CDR files, rating and billing errors (issue 3), through the real binary.

use crate::support::{Env, db, fixture, sha256_hex};
use serde_json::Value;

fn cdr_fixture(name: &str) -> String {
    fixture("cdrs").join(name).display().to_string()
}

/// Reference data, carriers `northern` (billrun) and `pbx` (asterisk) and run 1.
fn env() -> Env {
    let e = Env::new().with_reference_data();
    e.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    e.ok(&["carriers", "add", "pbx", "--format", "asterisk"]);
    e.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    e
}

/// (state, charge) of the CDR on `line` of file `file_id` (the state's
/// code, schema.sql migration 11, as its name).
fn cdr_at(e: &Env, file_id: i64, line: i64) -> (String, Option<i64>) {
    db(e)
        .query_row(
            "SELECT CASE state WHEN 0 THEN 'error' WHEN 1 THEN 'rated' WHEN 2 THEN 'unrated' END,
                charge_minor FROM cdrs WHERE file_id = ?1 AND line = ?2",
            [file_id, line],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

fn open_errors(e: &Env) -> Vec<Value> {
    e.json(&["errors"])["errors"].as_array().unwrap().clone()
}

const HEAD: &str = "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n";

#[test]
fn native_file_is_rated_and_every_error_kind_names_file_and_line() {
    let e = env();
    let v = import_northern(&e);
    assert_eq!(v["lines"], 26);
    assert_eq!(v["rated"], 18);
    assert_eq!(v["errors"]["malformed"], 2);
    assert_eq!(v["errors"]["duplicate"], 1);
    assert_eq!(v["errors"]["unknown_service"], 2);
    assert_eq!(v["errors"]["service_inactive"], 2);
    assert_eq!(v["errors"]["no_rate"], 1);
    // How a CDR was rated is kept: line 2, BIZ UK landline 0.03/min 1/1, 125 s → 0.0625 → 0.06.
    let (rate_desc, band, billable, charge): (String, String, i64, i64) = db(&e)
        .query_row(
            "SELECT r.description, CASE c.band WHEN 0 THEN 'all' WHEN 1 THEN 'peak'
                WHEN 2 THEN 'offpeak' END, c.billable, c.charge_minor FROM cdrs c
             JOIN rates r ON r.id = c.rate_id WHERE c.file_id = 1 AND c.line = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (rate_desc.as_str(), band.as_str(), billable, charge),
        ("UK landline", "peak", 125, 6)
    );

    let doc = e.json(&["errors"]);
    let errs = doc["errors"].as_array().unwrap();
    let at = |kind: &str| -> Vec<i64> {
        errs.iter()
            .filter(|x| x["kind"] == kind)
            .map(|x| {
                assert_eq!(x["file"], "northern-2026-11.csv", "{x}");
                x["line"].as_i64().unwrap()
            })
            .collect()
    };
    assert_eq!(at("malformed"), vec![23, 24]);
    assert_eq!(at("duplicate"), vec![22]);
    assert_eq!(at("unknown_service"), vec![19, 20]);
    assert_eq!(at("service_inactive"), vec![16, 18]);
    assert_eq!(at("no_rate"), vec![21]);
    let malformed = errs.iter().find(|x| x["line"] == 24).unwrap();
    assert!(
        malformed["detail"].as_str().unwrap().contains("duration"),
        "{malformed}"
    );
    // The shape scripts rely on (SPEC §2.1).
    for k in [
        "id",
        "kind",
        "state",
        "service",
        "destination",
        "start",
        "file",
        "line",
        "detail",
    ] {
        assert!(errs[0].get(k).is_some(), "errors[] lacks {k}: {}", errs[0]);
    }
    let summary = doc["summary"].as_array().unwrap();
    for k in [
        "kind",
        "open",
        "resolved",
        "ignored",
        "carrier_cost",
        "distinct",
    ] {
        assert!(summary[0].get(k).is_some(), "summary[] lacks {k}");
    }
    // Most costly first: no_rate 0.30, unknown_service 0.17, service_inactive 0.11, ...
    let kinds: Vec<&str> = summary
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "no_rate",
            "unknown_service",
            "service_inactive",
            "duplicate",
            "malformed"
        ]
    );
    assert_eq!(summary[0]["carrier_cost"], "0.30");
    assert_eq!(summary[1]["carrier_cost"], "0.17");
    // The unknown 447700900112 is the known 07700900112 in international form.
    let sugg = doc["suggestions"].as_array().unwrap();
    let s = sugg
        .iter()
        .find(|s| s["service"] == "447700900112")
        .unwrap();
    assert_eq!(s["suggest"][0], "07700900112");
    let table = e.ok(&["errors"]);
    assert!(table.contains("did you mean 07700900112"), "{table}");
    // --kind filters, --detail drills down with file:line.
    let only = e.json(&["errors", "--kind", "no_rate"]);
    assert_eq!(only["errors"].as_array().unwrap().len(), 1);
    let detail = e.ok(&["errors", "--kind", "malformed", "--detail"]);
    assert!(detail.contains("northern-2026-11.csv:23"), "{detail}");
    e.fails(2, &["errors", "--kind", "nonsense"]);
}

#[test]
fn cdr_list_json_shape_and_waiting() {
    let e = env();
    import_northern(&e);
    let list = e.json(&["cdr", "list"]);
    let f = &list[0];
    for k in [
        "id",
        "carrier",
        "name",
        "sha256",
        "lines",
        "state",
        "imported_at",
        "rated",
        "errors",
        "waiting",
        "billed",
    ] {
        assert!(f.get(k).is_some(), "cdr list lacks {k}: {f}");
    }
    assert_eq!(f["carrier"], "northern");
    assert_eq!(f["state"], "processed");
    assert_eq!(f["lines"], 26);
    assert_eq!(f["rated"], 18);
    assert_eq!(f["errors"], 8);
    // Two CDRs start on 1 December, after the run's cutoff (30 November 23:59:59 is not).
    assert_eq!(f["waiting"], 2);
    assert_eq!(f["billed"], 0);
    assert_eq!(f["sha256"].as_str().unwrap().len(), 64);
    // The stored copy is kept beside the database, named by the SHA-256 of
    // its bytes, and nothing else is left there (no temporary copy).
    let original = std::fs::read(cdr_fixture("northern-2026-11.csv")).unwrap();
    let sha = sha256_hex(&original);
    assert_eq!(f["sha256"], sha.as_str());
    assert_eq!(stored_files(&e), vec![sha.clone()]);
    let stored = store_dir(&e).join(&sha);
    assert_eq!(std::fs::read(stored).unwrap(), original);
}

#[test]
fn a_partial_copy_left_in_the_store_is_replaced_by_the_import() {
    let e = env();
    let original = std::fs::read(cdr_fixture("northern-2026-11.csv")).unwrap();
    let sha = sha256_hex(&original);
    // As if an earlier import had been cut off half-way through its copy.
    let dir = store_dir(&e);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(&sha), &original[..original.len() / 2]).unwrap();
    let v = import_northern(&e);
    assert_eq!(v["lines"], 26);
    assert_eq!(std::fs::read(dir.join(&sha)).unwrap(), original);
    assert_eq!(stored_files(&e), vec![sha]);
}

#[test]
fn copies_left_by_killed_imports_are_removed_after_a_day() {
    let e = env();
    let dir = store_dir(&e);
    std::fs::create_dir_all(&dir).unwrap();
    // As a `kill -9` during the copy leaves them: one two days old, one
    // that could belong to an import still running.
    let old = dir.join(".incoming.k1Ll3d.tmp");
    let recent = dir.join(".incoming.RuNn1n.tmp");
    std::fs::write(&old, b"half a file").unwrap();
    std::fs::write(&recent, b"half a file").unwrap();
    let two_days = std::time::Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - two_days)
        .unwrap();
    let v = import_northern(&e);
    assert_eq!(v["lines"], 26);
    let sha = sha256_hex(&std::fs::read(cdr_fixture("northern-2026-11.csv")).unwrap());
    assert_eq!(
        stored_files(&e),
        vec![".incoming.RuNn1n.tmp".to_string(), sha]
    );
}

/// `cdr import` of the native fixture from carrier `northern`, as JSON.
fn import_northern(e: &Env) -> Value {
    e.json(&[
        "cdr",
        "import",
        &cdr_fixture("northern-2026-11.csv"),
        "--carrier",
        "northern",
    ])
}

/// The CDR file store beside the test database.
fn store_dir(e: &Env) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.files/cdr", e.db.display()))
}

/// The names in the CDR file store (sorted; none when it does not exist).
fn stored_files(e: &Env) -> Vec<String> {
    let dir = store_dir(e);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|f| f.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn asterisk_master_csv_bills_answered_calls_only() {
    let e = env();
    let v = e.json(&[
        "cdr",
        "import",
        &cdr_fixture("pbx-Master.csv"),
        "--carrier",
        "pbx",
    ]);
    assert_eq!(v["lines"], 13);
    assert_eq!(v["not_billable"], 2, "NO ANSWER and BUSY: {v}");
    assert_eq!(v["rated"], 7);
    assert_eq!(v["errors"]["malformed"], 1);
    assert_eq!(v["errors"]["duplicate"], 1);
    // Line 1: Tuesday 19:05 is off-peak, UK landline 0.04/min 60/60, 240 s → 0.16.
    assert_eq!(cdr_at(&e, 1, 1), ("rated".into(), Some(16)));
    // Line 5: 0870, 0.05 + 0.10 × 6000/60 = 10.05, capped at 5.00.
    assert_eq!(cdr_at(&e, 1, 5), ("rated".into(), Some(500)));
    // Line 6: ANSWERED with billsec 0 costs nothing.
    assert_eq!(cdr_at(&e, 1, 6), ("rated".into(), Some(0)));
}

#[test]
fn mapped_format_uses_the_column_map() {
    let e = env();
    let map = fixture("carrier-map.toml").display().to_string();
    e.ok(&[
        "carriers",
        "add",
        "acme",
        "--format",
        &format!("mapped:{map}"),
    ]);
    let v = e.json(&[
        "cdr",
        "import",
        &fixture("cdrs")
            .join("mapped-sample.csv")
            .display()
            .to_string(),
        "--carrier",
        "acme",
    ]);
    assert_eq!(v["lines"], 4);
    // 07700900001/2 are not services of the demo provider.
    assert_eq!(v["errors"]["unknown_service"], 4, "{v}");
    let carriers = e.json(&["carriers", "list"]);
    let acme = carriers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "acme")
        .unwrap();
    assert!(
        acme["format"].as_str().unwrap().starts_with("mapped:/"),
        "{acme}"
    );
    let err = e.fails(4, &["carriers", "add", "bad", "--format", "csv"]);
    assert!(err.contains("billrun, asterisk or mapped:PATH"), "{err}");
}

#[test]
fn same_file_again_is_refused_and_changes_nothing() {
    let e = env();
    let f = cdr_fixture("pbx-Master.csv");
    e.ok(&["cdr", "import", &f, "--carrier", "pbx"]);
    let before = e.snapshot();
    // Same bytes under another name, and for another carrier: still refused.
    let copy = e.write("renamed.csv", &std::fs::read_to_string(&f).unwrap());
    let err = e.fails(4, &["cdr", "import", &copy, "--carrier", "northern"]);
    assert!(err.contains("already imported as CDR file 1"), "{err}");
    assert_eq!(before, e.snapshot());
    // A copy of a CDR in another file is a duplicate error, not billed twice.
    let line = std::fs::read_to_string(&f)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let one = e.write("one.csv", &format!("{line}\n"));
    let v = e.json(&["cdr", "import", &one, "--carrier", "pbx"]);
    assert_eq!(v["errors"]["duplicate"], 1, "{v}");
    let dup = open_errors(&e)
        .into_iter()
        .filter(|x| x["kind"] == "duplicate" && x["file"] == "one.csv")
        .collect::<Vec<_>>();
    assert!(
        dup[0]["detail"]
            .as_str()
            .unwrap()
            .contains("CDR file 1 line 1")
    );
}

#[test]
fn charges_round_half_away_from_zero_to_the_cent() {
    let e = env();
    let tariff = e.write(
        "rnd.csv",
        "tariff,prefix,description,call_type,band,flagfall,rate,increment,minimum_charge,maximum_charge\n\
         RND,44,UK,voice,all,0,0.30,1/1,0,\n\
         RND,4487,NonGeo,voice,all,0.05,0.10,60/60,0,1.00\n\
         RND,4477,Min,voice,all,0,0.01,60/60,0.25,\n\
         RND,,SMS,sms,all,0,0.125,1/1,0,\n\
         RND,99,Premium,sms,all,0,0.045,1/1,0,\n\
         RND,,Data,data,all,0,0.013,1/1,0,\n",
    );
    e.ok(&["tariffs", "import", &tariff]);
    e.ok(&[
        "plans",
        "import",
        &e.write(
            "p.csv",
            "plan,name,monthly_fee,tariff\nRNDP,Rounding,0,RND\n",
        ),
    ]);
    e.ok(&[
        "services",
        "import",
        &e.write(
            "s.csv",
            "service,account,plan,start_date,end_date,description\n07000000001,C1001,RNDP,2026-01-01,,R\n",
        ),
    ]);
    let cdrs = e.write(
        "rnd-cdrs.csv",
        &format!(
            "{HEAD}\
             07000000001,2026-11-02T10:00:00,1,4420,voice,,0,\n\
             07000000001,2026-11-02T10:01:00,61,4420,voice,,0,\n\
             07000000001,2026-11-02T10:02:00,,447700,sms,3,0,\n\
             07000000001,2026-11-02T10:03:00,,9912,sms,1,0,\n\
             07000000001,2026-11-02T10:04:00,,internet,data,5242880,0,\n\
             07000000001,2026-11-02T10:05:00,0,4420,voice,,0,\n\
             07000000001,2026-11-02T10:06:00,6000,448700,voice,,0,\n\
             07000000001,2026-11-02T10:07:00,30,447712,voice,,0,\n\
             07000000001,2026-11-02T10:08:00,3,4420,voice,,0,\n"
        ),
    );
    let v = e.json(&["cdr", "import", &cdrs, "--carrier", "northern"]);
    assert_eq!(v["rated"], 9, "{v}");
    let expected = [
        (2, 1),   // 1 s × 0.30/60 = 0.005 → 0.01 (half away from zero)
        (3, 31),  // 61 s → 0.305 → 0.31
        (4, 38),  // 3 × 0.125 = 0.375 → 0.38
        (5, 5),   // 0.045 → 0.05
        (6, 7),   // 5 242 880 B = 5120 KB × 0.013/1024 = 0.065 → 0.07
        (7, 0),   // 0 s: nothing
        (8, 100), // 0.05 + 0.10 × 100 min = 10.05, capped at 1.00
        (9, 25),  // 30 s → 60 s × 0.01/60 = 0.01, minimum 0.25
        (10, 2),  // 3 s × 0.005 = 0.015 → 0.02
    ];
    for (line, minor) in expected {
        assert_eq!(
            cdr_at(&e, 1, line),
            ("rated".into(), Some(minor)),
            "line {line}"
        );
    }
    assert_eq!(v["charge_minor"], 1 + 31 + 38 + 5 + 7 + 100 + 25 + 2);
}

#[test]
fn rerate_after_adding_the_missing_service() {
    let e = env();
    let f = e.write(
        "u.csv",
        &format!(
            "{HEAD}07700900999,2026-11-02T10:00:00,60,442079460000,voice,,0.05,\n\
             07700900999,2026-11-02T10:05:00,60,81312345678,voice,,0.09,\n"
        ),
    );
    let v = e.json(&["cdr", "import", &f, "--carrier", "northern"]);
    assert_eq!(v["errors"]["unknown_service"], 2);
    e.ok(&[
        "services",
        "import",
        &e.write(
            "s.csv",
            "service,account,plan,start_date,end_date,description\n07700900999,C1001,MOBILE,2026-11-01,,Found\n",
        ),
    ]);
    let r = e.json(&["errors", "rerate"]);
    assert_eq!(r["checked"], 2);
    assert_eq!(r["resolved"], 1);
    // Monday 10:00 peak, STD UK landline 0.09/min 60/60: 60 s → 0.09.
    assert_eq!(cdr_at(&e, 1, 2), ("rated".into(), Some(9)));
    // The second now reveals a no_rate below it.
    let open = open_errors(&e);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["kind"], "no_rate");
    assert_eq!(open[0]["line"], 3);
    let all = e.json(&["errors", "--all"]);
    let resolved: Vec<_> = all["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["state"] == "resolved")
        .collect();
    assert_eq!(resolved.len(), 2);
}

#[test]
fn resolve_and_ignore_cover_fee_errors_too() {
    let e = env();
    e.ok(&[
        "cdr",
        "import",
        &cdr_fixture("pbx-Master.csv"),
        "--carrier",
        "pbx",
    ]);
    // A wholesale fee error as `fees import` writes it.
    db(&e)
        .execute(
            "INSERT INTO billing_errors (kind, line, service, carrier_cost, detail, created_at)
             VALUES ('fee_unknown_code', 4, '01174960005', '2.50', 'no fee code X1', 'now')",
            [],
        )
        .unwrap();
    let fee = e.json(&["errors", "--kind", "fee_unknown_code"]);
    assert_eq!(fee["errors"].as_array().unwrap().len(), 1);
    assert_eq!(fee["summary"][0]["carrier_cost"], "2.50");
    let ids: Vec<String> = open_errors(&e)
        .iter()
        .map(|x| x["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 5);
    e.ok(&["errors", "ignore", &ids[0], &ids[4]]);
    e.ok(&["errors", "resolve", &ids[1]]);
    // Closing a closed or unknown error is refused and changes nothing.
    let before = e.snapshot();
    let err = e.fails(4, &["errors", "resolve", &ids[2], &ids[0], "999"]);
    assert!(
        err.contains("already ignored") && err.contains("no billing error 999"),
        "{err}"
    );
    assert_eq!(before, e.snapshot());
    let s = e.json(&["errors"]);
    assert_eq!(s["errors"].as_array().unwrap().len(), 2);
    let audit = e.ok(&["audit"]);
    assert!(
        audit.contains("errors.ignore") && audit.contains("errors.resolve"),
        "{audit}"
    );
}

#[test]
fn confirm_cdrs_refused_while_files_are_pending() {
    let e = env();
    e.ok(&[
        "cdr",
        "import",
        &cdr_fixture("pbx-Master.csv"),
        "--carrier",
        "pbx",
        "--no-process",
    ]);
    let st = e.json(&["status", "1"]);
    assert_eq!(st["banner"]["pending_cdr_files"], 1);
    let err = e.fails(3, &["confirm", "1", "cdrs"]);
    assert!(err.contains("pending"), "{err}");
    // Processing rates it; then the step can be confirmed.
    let p = e.json(&["cdr", "process"]);
    assert_eq!(p["processed"][0]["rated"], 7);
    let st = e.json(&["status", "1"]);
    assert_eq!(st["banner"]["pending_cdr_files"], 0);
    let step = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "check_cdrs")
        .unwrap()
        .clone();
    // 9 dated CDR lines in November (the NO ANSWER/BUSY and malformed lines are not CDRs;
    // the 1 December call waits), all from one file; northern sent nothing.
    let d = step["detail"].as_str().unwrap();
    assert!(d.starts_with("1 files, 9 CDR lines this period"), "{d}");
    assert!(d.contains("no file from northern"), "{d}");
    // Carrier by carrier.
    let carriers = e.json(&["carriers", "list"]);
    assert_eq!(carriers[0]["name"], "northern");
    assert_eq!(carriers[0]["lines_this"], 0);
    assert_eq!(carriers[1]["name"], "pbx");
    assert_eq!(
        (
            carriers[1]["files_this"].as_u64(),
            carriers[1]["lines_this"].as_u64()
        ),
        (Some(1), Some(9))
    );
    assert_eq!(carriers[1]["lines_prev"], 0);
    // Issue 15: a carrier without a file is acknowledged explicitly.
    e.ok(&[
        "confirm",
        "1",
        "cdrs",
        "--missing",
        "northern",
        "--reason",
        "no traffic",
    ]);
    let st = e.json(&["status", "1"]);
    let errs = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "check_errors")
        .unwrap()
        .clone();
    assert!(
        errs["detail"].as_str().unwrap().contains("malformed 1"),
        "{errs}"
    );
}

#[test]
fn ignored_file_no_longer_blocks() {
    let e = env();
    let f = e.write(
        "late.csv",
        &format!("{HEAD}07700900100,2026-11-02T10:00:00,5,4420,voice,,0,\n"),
    );
    e.ok(&["cdr", "import", &f, "--carrier", "northern", "--no-process"]);
    e.fails(3, &["confirm", "1", "cdrs"]);
    e.ok(&["cdr", "ignore", "late.csv"]);
    // Issue 15: carriers without a file are acknowledged explicitly.
    e.ok(&[
        "confirm",
        "1",
        "cdrs",
        "--missing",
        "northern",
        "--missing",
        "pbx",
        "--reason",
        "late file ignored",
    ]);
    let list = e.json(&["cdr", "list"]);
    assert_eq!(list[0]["state"], "ignored");
    // Processed files cannot be ignored.
    let g = e.write(
        "g.csv",
        &format!("{HEAD}07700900100,2026-11-03T10:00:00,5,4420,voice,,0,\n"),
    );
    e.ok(&["cdr", "import", &g, "--carrier", "northern"]);
    e.fails(3, &["cdr", "ignore", "2"]);
}

#[test]
fn binary_and_wrongly_encoded_files_are_refused_whole() {
    let e = env();
    let before = e.snapshot();
    let bin = e.path("bin.csv");
    std::fs::write(&bin, b"service,start\x00\x01\x02binary").unwrap();
    let err = e.fails(
        4,
        &[
            "cdr",
            "import",
            bin.to_str().unwrap(),
            "--carrier",
            "northern",
        ],
    );
    assert!(err.contains("binary"), "{err}");
    let latin1 = e.path("latin1.csv");
    let mut body = HEAD.as_bytes().to_vec();
    body.extend_from_slice(b"07700900100,2026-11-02T10:00:00,5,M\xfcnchen,voice,,0,\n");
    std::fs::write(&latin1, body).unwrap();
    let err = e.fails(
        4,
        &[
            "cdr",
            "import",
            latin1.to_str().unwrap(),
            "--carrier",
            "northern",
        ],
    );
    assert!(err.contains("line 2") && err.contains("UTF-8"), "{err}");
    let nohead = e.write(
        "nohead.csv",
        "07700900100,2026-11-02T10:00:00,5,4420,voice,,0,\n",
    );
    let err = e.fails(4, &["cdr", "import", &nohead, "--carrier", "northern"]);
    assert!(err.contains("header"), "{err}");
    assert_eq!(before, e.snapshot());
    // No stored copy of a refused file is left behind, nor a temporary one.
    assert_eq!(stored_files(&e), Vec::<String>::new());
    // A truncated last line is one malformed line; the rest is imported.
    let cut = e.write(
        "cut.csv",
        &format!(
            "{HEAD}07700900100,2026-11-02T10:00:00,5,4420,voice,,0,\n07700900100,2026-11-02T1"
        ),
    );
    let v = e.json(&["cdr", "import", &cut, "--carrier", "northern"]);
    assert_eq!(
        (v["rated"].as_u64(), v["errors"]["malformed"].as_u64()),
        (Some(1), Some(1))
    );
    e.fails(4, &["cdr", "import", &cut, "--carrier", "nobody"]);
}

#[test]
fn fetch_takes_settled_files_and_leaves_growing_ones() {
    let e = env();
    let inbox = e.path("inbox");
    std::fs::create_dir(&inbox).unwrap();
    e.ok(&[
        "carriers",
        "add",
        "drop",
        "--format",
        "billrun",
        "--inbox",
        inbox.to_str().unwrap(),
    ]);
    std::fs::write(
        inbox.join("a.csv"),
        format!("{HEAD}07700900100,2026-11-02T10:00:00,5,4420,voice,,0,\n"),
    )
    .unwrap();
    let growing = inbox.join("b.csv");
    std::fs::write(&growing, HEAD).unwrap();
    // A writer keeps appending to b.csv for the whole fetch.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let p = growing.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                writeln!(
                    f,
                    "07700900101,2026-11-02T10:{:02}:{:02},5,4420,voice,,0,",
                    i / 60 % 60,
                    i % 60
                )
                .unwrap();
                f.flush().unwrap();
                i += 1;
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = e
        .cmd()
        .env("BILLRUN_FETCH_SETTLE_MS", "300")
        .args(["--json", "cdr", "fetch"])
        .output()
        .unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fetched"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["fetched"][0]["name"], "a.csv");
    assert!(v["still_writing"][0].as_str().unwrap().ends_with("b.csv"));
    assert!(!inbox.join("a.csv").exists(), "a.csv moved into the store");
    assert!(growing.exists(), "b.csv left for the next fetch");
    let st = e.json(&["status", "1"]);
    assert_eq!(st["banner"]["pending_cdr_files"], 1);
    // Now b.csv has settled: the next fetch takes it.
    let out = e
        .cmd()
        .env("BILLRUN_FETCH_SETTLE_MS", "50")
        .args(["--json", "cdr", "fetch"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fetched"][0]["name"], "b.csv", "{v}");
    let p = e.json(&["cdr", "process"]);
    assert_eq!(p["processed"].as_array().unwrap().len(), 2);
    assert_eq!(p["processed"][0]["rated"], 1);
    // The same bytes dropped again are set aside, not imported twice.
    std::fs::write(
        inbox.join("again.csv"),
        format!("{HEAD}07700900100,2026-11-02T10:00:00,5,4420,voice,,0,\n"),
    )
    .unwrap();
    let out = e
        .cmd()
        .env("BILLRUN_FETCH_SETTLE_MS", "10")
        .args(["cdr", "fetch"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("already imported"));
    assert!(inbox.join("rejected").join("again.csv").exists());
    assert_eq!(e.json(&["cdr", "list"]).as_array().unwrap().len(), 2);
}

#[test]
fn a_failed_fetched_file_is_marked_failed_and_can_be_ignored() {
    let e = env();
    let inbox = e.path("in");
    std::fs::create_dir(&inbox).unwrap();
    e.ok(&[
        "carriers",
        "add",
        "drop",
        "--format",
        "billrun",
        "--inbox",
        inbox.to_str().unwrap(),
    ]);
    std::fs::write(inbox.join("x.csv"), "no,header,here\n1,2,3\n").unwrap();
    let out = e
        .cmd()
        .env("BILLRUN_FETCH_SETTLE_MS", "10")
        .args(["cdr", "fetch"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = e.fails(4, &["cdr", "process"]);
    assert!(err.contains("failed"), "{err}");
    let list = e.json(&["cdr", "list"]);
    assert_eq!(list[0]["state"], "failed");
    assert_eq!(e.json(&["status", "1"])["banner"]["failed_cdr_files"], 1);
    e.ok(&["cdr", "ignore", "x.csv"]);
    assert_eq!(e.json(&["status", "1"])["banner"]["failed_cdr_files"], 0);
}

#[test]
fn check_cdrs_compares_this_period_with_the_previous_one() {
    let e = env();
    // Period of run 1 (no earlier run): 31 Oct to 30 Nov; previous: 1 to 30 Oct.
    let f = e.write(
        "two-months.csv",
        &format!(
            "{HEAD}07700900100,2026-10-15T10:00:00,5,4420,voice,,0,\n\
             07700900100,2026-10-30T23:59:59,5,4420,voice,,0,\n\
             07700900100,2026-10-31T00:00:00,5,4420,voice,,0,\n\
             07700900100,2026-11-30T23:59:59,5,4420,voice,,0,\n\
             07700900100,2026-12-01T00:00:00,5,4420,voice,,0,\n"
        ),
    );
    e.ok(&["cdr", "import", &f, "--carrier", "northern"]);
    let st = e.json(&["status", "1"]);
    let step = st["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == "check_cdrs")
        .unwrap()
        .clone();
    let d = step["detail"].as_str().unwrap();
    assert!(
        d.starts_with("1 files, 2 CDR lines this period (previous 1 files, 2 lines)"),
        "{d}"
    );
    assert!(d.contains("no file from pbx"), "{d}");
    let c = &e.json(&["carriers", "list"])[0];
    assert_eq!(
        (c["lines_this"].as_u64(), c["lines_prev"].as_u64()),
        (Some(2), Some(2))
    );
}

#[test]
fn errors_of_a_run_stop_at_its_cutoff() {
    let e = env();
    let f = e.write(
        "late.csv",
        &format!(
            "{HEAD}07700900999,2026-11-30T23:59:59,5,4420,voice,,0.10,\n\
             07700900999,2026-12-01T00:00:00,5,4420,voice,,0.20,\n\
             bad line\n"
        ),
    );
    e.ok(&["cdr", "import", &f, "--carrier", "northern"]);
    let all = e.json(&["errors"]);
    assert_eq!(all["errors"].as_array().unwrap().len(), 3);
    // Run 1 (cutoff 30 November): the December CDR is not its concern; the
    // undated malformed line is.
    let run = e.json(&["errors", "1"]);
    let lines: Vec<i64> = run["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 4]);
    assert_eq!(run["summary"][0]["kind"], "unknown_service");
    assert_eq!(run["summary"][0]["carrier_cost"], "0.10");
}
