//! The read side at scale (issue 16): `status`/`runs` count lines from
//! per-file, per-day counts kept at import; `errors` streams its rows.

use crate::support::{Env, db, fixture};
use serde_json::Value;

fn env_with_cdrs() -> Env {
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
    for (file, carrier) in [
        ("northern-2026-11.csv", "northern"),
        ("pbx-Master.csv", "pbx"),
    ] {
        let path = fixture("cdrs").join(file).display().to_string();
        e.ok(&["cdr", "import", &path, "--carrier", carrier]);
    }
    e
}

/// (file, day, CDRs) as kept, and as counted from the CDRs themselves.
/// (file, day, CDRs) rows.
type Days = Vec<(i64, i64, i64)>;

fn day_counts(e: &Env) -> (Days, Days) {
    let c = db(e);
    let q = |sql: &str| -> Days {
        c.prepare(sql)
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    (
        q("SELECT file_id, day, cdrs FROM cdr_file_days ORDER BY 1, 2"),
        q("SELECT file_id, start / 86400 AS day, count(*) FROM cdrs GROUP BY 1, 2 ORDER BY 1, 2"),
    )
}

#[test]
fn per_day_counts_kept_at_import_equal_the_cdrs_and_feed_status() {
    let e = env_with_cdrs();
    let (kept, counted) = day_counts(&e);
    assert!(counted.len() > 1, "{counted:?}");
    assert_eq!(kept, counted);
    // A re-rate changes no count (CDRs keep their start and file).
    e.ok(&["errors", "rerate"]);
    assert_eq!(day_counts(&e).0, counted);
    // status: lines this period per carrier = the CDRs in (10-31, 11-30].
    let st = e.json(&["status"]);
    let c = db(&e);
    for carrier in st["cdr_carriers"].as_array().unwrap() {
        let name = carrier["carrier"].as_str().unwrap();
        let (files, lines): (i64, i64) = c
            .query_row(
                "SELECT count(DISTINCT c.file_id), count(*) FROM cdrs c JOIN cdr_files f ON f.id = c.file_id
                 WHERE f.carrier = ?1 AND c.start >= unixepoch('2026-11-01') AND c.start < unixepoch('2026-12-01')",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert!(lines > 0, "{name}");
        assert_eq!(carrier["files_this"], Value::from(files), "{name}");
        assert_eq!(carrier["lines_this"], Value::from(lines), "{name}");
    }
}

#[test]
fn the_migration_fills_the_per_day_counts_from_the_stored_cdrs() {
    let e = env_with_cdrs();
    let (_, counted) = day_counts(&e);
    // As a database from before migration 27 would be: no counts.
    db(&e)
        .execute_batch(
            "DROP TABLE cdr_file_days; DROP INDEX billing_errors_summary;
             UPDATE cdrs SET dedupe = (SELECT key FROM cdr_keys WHERE cdr_id = cdrs.id);
             DROP TABLE cdr_keys;
             CREATE UNIQUE INDEX cdrs_dedupe ON cdrs(dedupe); PRAGMA user_version = 26;",
        )
        .unwrap();
    e.ok(&["status"]);
    assert_eq!(day_counts(&e).0, counted);
    // Migration 29 moved every stored key to cdr_keys, each to its CDR.
    let (keyed, moved): (i64, i64) = db(&e)
        .query_row(
            "SELECT (SELECT count(*) FROM cdrs WHERE dedupe IS NOT NULL),
                    (SELECT count(*) FROM cdr_keys k JOIN cdrs c ON c.id = k.cdr_id AND c.dedupe = k.key)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(keyed > 0);
    assert_eq!(keyed, moved);
}

#[test]
fn errors_detail_and_json_list_every_open_error_once_in_id_order() {
    let e = env_with_cdrs();
    let open: Vec<i64> = db(&e)
        .prepare("SELECT id FROM billing_errors WHERE state = 'open' ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(open.len() > 3, "{open:?}");
    let j = e.json(&["errors"]);
    let ids: Vec<i64> = j["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, open);
    let total: u64 = j["summary"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["open"].as_u64().unwrap())
        .sum();
    assert_eq!(total, open.len() as u64);
    // The drill-down table: a header, one line per error, the borders.
    let text = e.ok(&["errors", "--detail"]);
    let table: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("file:line"))
        .collect();
    assert_eq!(table.len(), open.len() + 3, "{text}");
    for (id, line) in open.iter().zip(&table[2..]) {
        assert!(line.starts_with(&format!("│ {id} ")), "{line}");
    }
    // Every line of the table has the same width.
    let widths: std::collections::BTreeSet<usize> =
        table.iter().map(|l| l.chars().count()).collect();
    assert_eq!(widths.len(), 1, "{text}");
}

/// `invoices` prints its table and its JSON row by row as it reads them:
/// the same invoices, in number order, each once, in the table's format.
#[test]
fn invoices_are_listed_row_by_row_in_number_order() {
    use crate::support::seed::{self, Spec};
    let e = Env::new().with_reference_data();
    let specs: Vec<Spec> = ["C1001", "C1002", "C1003"]
        .iter()
        .zip([1200, 3600, 0])
        .map(|(account, total_minor)| Spec {
            account,
            total_minor,
        })
        .collect();
    seed::completed_run(&e, &specs);
    let numbers: Vec<String> = db(&e)
        .prepare("SELECT number FROM invoices ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(numbers.len(), 3);
    let j = e.json(&["invoices", "1"]);
    let listed: Vec<&str> = j
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["number"].as_str().unwrap())
        .collect();
    assert_eq!(listed, numbers);
    assert_eq!(j[1]["amount_due"], "36.00", "{j:#}");
    assert_eq!(j[1]["account"], "C1002");
    let table = e.ok(&["invoices", "1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with('┌'), "{table}");
    assert!(lines[1].contains("number") && lines[1].contains("amount due"));
    let rows: Vec<&&str> = lines.iter().filter(|l| l.starts_with("│ NFV")).collect();
    assert_eq!(rows.len(), 3, "{table}");
    for (row, number) in rows.iter().zip(&numbers) {
        assert!(row.starts_with(&format!("│ {number} ")), "{table}");
    }
    // Every row has the header's width (the columns were measured first).
    let width = lines[0].chars().count();
    assert!(
        lines
            .iter()
            .filter(|l| l.starts_with('│') || l.starts_with('└'))
            .all(|l| l.chars().count() == width),
        "{table}"
    );
    assert!(table.contains("3 invoices"), "{table}");
}
