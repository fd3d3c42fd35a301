//! Collection (SPEC §11) through the real binary: payment files checked
//! field by field (ABA, Bacs 18) and against the ISO schema (SEPA), card
//! charges against a local fake Stripe, results for every status, re-runs,
//! crash recovery, file modes and masking.
//!
//! Invoices: `a_whole_run_*` produces them with the real `request`. The
//! format tests need customers and amounts of their own (AU, EU, bad bank
//! details), so `seed_invoices` writes the rows production writes
//! (`invoices` with the customer's payment method and amount due, run
//! `completed`) with SQL on the test database after creating the run
//! through the CLI.

use crate::support::stripe::{FakeStripe, Reply};
use crate::support::{Env, db, step};

const HEADER: &str = "account,name,email,delivery,payment_method,bank_branch,bank_account,bank_account_name,iban,bic,mandate_ref,mandate_date,card_token";

/// init, settings, and customers from `rows` (after HEADER).
pub(crate) fn setup(settings: &[(&str, &str)], rows: &[&str]) -> Env {
    let env = Env::new();
    env.ok(&["init"]);
    for (k, v) in settings {
        env.ok(&["config", "set", k, v]);
    }
    let mut csv = String::from(HEADER);
    for r in rows {
        csv.push('\n');
        csv.push_str(r);
    }
    csv.push('\n');
    let f = env.write("customers.csv", &csv);
    env.ok(&["customers", "import", &f]);
    env
}

/// Stand-in for production: a run with `invoice_date`, invoices numbered
/// INV-<seq> for `(account, amount due in minor units)`, status completed.
/// Returns the run id.
pub(crate) fn seed_invoices(
    env: &Env,
    invoice_date: &str,
    cutoff: &str,
    invoices: &[(&str, i64)],
) -> i64 {
    let out = env.json(&["new", "--invoice-date", invoice_date, "--cutoff", cutoff]);
    let run = out["id"].as_i64().unwrap();
    let due = out["due_date"].as_str().unwrap().to_string();
    let conn = db(env);
    for (account, due_minor) in invoices {
        let seq: i64 = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM invoices", [], |r| {
                r.get(0)
            })
            .unwrap();
        conn.execute(
            "INSERT INTO invoices (run_id, number, seq, account, invoice_date, due_date, cutoff_date,
                 currency, opening_balance_minor, payments_minor, charges_ex_tax_minor, tax_minor,
                 total_charges_minor, amount_due_minor, delivery, payment_method, created_at)
             SELECT ?1, 'INV-' || ?2, ?2, account, ?3, ?4, ?5,
                 COALESCE((SELECT value FROM settings WHERE key = 'currency'), 'GBP'), 0, 0, ?6, 0, ?6, ?6,
                 delivery, payment_method, 'now' FROM customers WHERE account = ?7",
            rusqlite::params![run, seq, invoice_date, due, cutoff, due_minor, account],
        )
        .unwrap();
        // As production does: the invoice applies the account's unallocated
        // payments dated on or before the cutoff.
        conn.execute(
            "UPDATE payments SET invoice_id = last_insert_rowid()
             WHERE account = ?1 AND invoice_id IS NULL AND date <= ?2",
            rusqlite::params![account, cutoff],
        )
        .unwrap();
    }
    conn.execute(
        "UPDATE runs SET status = 'completed', requested_at = 'now', completed_at = 'now' WHERE id = ?1",
        [run],
    )
    .unwrap();
    run
}

/// The idempotency key of `INVOICE-ATTEMPT` in this database (its random
/// prefix from `config list`).
fn idem(env: &Env, rest: &str) -> String {
    let prefix = sql_str(
        env,
        "SELECT value FROM meta WHERE key = 'idempotency_prefix'",
    );
    format!("billrun-{prefix}-{rest}")
}

fn sql_i64(env: &Env, sql: &str) -> i64 {
    let conn = db(env);
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn sql_str(env: &Env, sql: &str) -> String {
    let conn = db(env);
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

// ---------------------------------------------------------------- ABA

pub(crate) const ABA_SETTINGS: &[(&str, &str)] = &[
    ("currency", "AUD"),
    ("dd.format", "aba"),
    ("dd.bank", "CBA"),
    ("dd.user_name", "Outback Telecom"),
    ("dd.user_id", "301500"),
    ("dd.bsb", "062-000"),
    ("dd.account", "12345678"),
    ("dd.remitter", "OUTBACK TELECOM"),
];

#[test]
fn aba_file_matches_a_hand_built_file_record_by_record() {
    let env = setup(
        ABA_SETTINGS,
        &[
            "A1,Jane Citizen,,print,direct_debit,032-000,123456789,JANE CITIZEN,,,,,",
            "A2,Zoe OBrien,,print,direct_debit,062-001,98765,Z OBRIEN,,,,,",
            "A3,Card Co,,print,card,,,,,,,,pm_card4242424242",
        ],
    );
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("A1", 4550), ("A2", 12345), ("A3", 999)],
    );
    let out = env.path("dd.aba");
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--date",
        "2026-12-15",
    ]);
    let got = std::fs::read_to_string(&out).unwrap();

    // Hand-built: every field spelt out at its width.
    let sp = |n: usize| " ".repeat(n);
    let expected = [
        // type 0: 1 + 17 blank + reel 01 + bank + 7 blank + user name(26) + user id(6) + description(12) + DDMMYY + 40 blank
        format!(
            "0{}01CBA{}Outback Telecom{}301500INVOICES{}151226{}",
            sp(17),
            sp(7),
            sp(11),
            sp(4),
            sp(40)
        ),
        // type 1: BSB, account(9 right), indicator, 13, cents(10), title(32), lodgement ref(18), trace BSB, trace acct(9), remitter(16), tax(8)
        format!(
            "1032-000123456789 130000004550JANE CITIZEN{}INV-1{}062-000{}12345678OUTBACK TELECOM{}00000000",
            sp(20),
            sp(13),
            sp(1),
            sp(1)
        ),
        format!(
            "1062-001{}98765 130000012345Z OBRIEN{}INV-2{}062-000{}12345678OUTBACK TELECOM{}00000000",
            sp(4),
            sp(24),
            sp(13),
            sp(1),
            sp(1)
        ),
        // type 7: 999-999, 12 blank, net, credit, debit totals, 24 blank, count(6), 40 blank
        format!(
            "7999-999{}000001689500000000000000016895{}000002{}",
            sp(12),
            sp(24),
            sp(40)
        ),
    ];
    let records: Vec<&str> = got.strip_suffix("\r\n").unwrap().split("\r\n").collect();
    assert_eq!(records.len(), expected.len(), "{got}");
    for (i, (g, e)) in records.iter().zip(&expected).enumerate() {
        assert_eq!(g.len(), 120, "record {i} length");
        assert_eq!(*g, e.as_str(), "record {i} differs");
    }
    // Field by field, by position (1-based, inclusive).
    let f = |r: &str, a: usize, b: usize| r[a - 1..b].to_string();
    let d = records[1];
    assert_eq!(f(d, 1, 1), "1");
    assert_eq!(f(d, 2, 8), "032-000");
    assert_eq!(f(d, 9, 17), "123456789");
    assert_eq!(f(d, 19, 20), "13");
    assert_eq!(f(d, 21, 30), "0000004550");
    assert_eq!(f(d, 63, 80).trim_end(), "INV-1");
    assert_eq!(f(d, 81, 87), "062-000");
    let t = records[3];
    assert_eq!(f(t, 2, 8), "999-999");
    let sum: u64 = records[1..3]
        .iter()
        .map(|r| f(r, 21, 30).parse::<u64>().unwrap())
        .sum();
    assert_eq!(f(t, 21, 30).parse::<u64>().unwrap(), sum);
    assert_eq!(f(t, 31, 40), "0000000000");
    assert_eq!(f(t, 41, 50).parse::<u64>().unwrap(), sum);
    assert_eq!(f(t, 75, 80), "000002");
    #[cfg(unix)]
    assert_eq!(mode(&out), 0o600);

    // Recorded: one payment run, two live items, the card invoice not in it.
    let list = env.json(&["collect", "list"]);
    assert_eq!(list[0]["format"], "aba");
    assert_eq!(list[0]["items"], 2);
    assert_eq!(list[0]["total"], "168.95");
    assert_eq!(list[0]["state"], "created");
    assert_eq!(list[0]["collection_date"], "2026-12-15");

    // Re-running writes nothing new, and refuses to overwrite the file.
    let before = env.snapshot();
    let again = env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd2.aba").to_str().unwrap(),
    ]);
    assert!(again.contains("nothing new to collect"), "{again}");
    assert!(!env.path("dd2.aba").exists());
    assert_eq!(env.snapshot(), before);
}

// ---------------------------------------------------------------- Bacs 18

pub(crate) const BACS_SETTINGS: &[(&str, &str)] = &[
    ("dd.format", "bacs18"),
    ("dd.sun", "123456"),
    ("dd.sort_code", "40-12-34"),
    ("dd.account", "12345678"),
    ("dd.name", "NORTHERN FIBRE"),
    ("collect.dishonour_fee", "15.00"),
];

pub(crate) fn bacs_env() -> Env {
    setup(
        BACS_SETTINGS,
        &[
            "U1,Harbour Cafe,,print,direct_debit,20-00-00,31415926,HARBOUR CAFE LTD,,,BRC1001,2025-01-01,",
            "U2,Northgate Dental,,print,direct_debit,21-13-29,31687754,NORTHGATE DENTAL,,,BRC1002,2025-02-02,",
            "U3,No Mandate Ltd,,print,direct_debit,30-00-01,11112222,NO MANDATE LTD,,,,,",
            "U4,Kiln Architects,,print,card,,,,,,,,pm_demo7945610009911",
            "U5,Cash Customer,,print,manual,,,,,,,,",
        ],
    )
}

/// The data records (100 characters) of a labelled Bacs 18 file.
fn bacs_data(file: &str) -> Vec<String> {
    file.split("\r\n")
        .filter(|r| r.len() == 100)
        .map(String::from)
        .collect()
}

#[test]
fn bacs18_fields_follow_the_documented_layout_and_codes_01_17_18() {
    let env = bacs_env();
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[
            ("U1", 3600),
            ("U2", 4800),
            ("U3", 1000),
            ("U4", 2500),
            ("U5", 700),
        ],
    );
    let out = env.path("bacs1.txt");
    let o = env
        .cmd()
        .args([
            "collect",
            "dd",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--date",
            "2026-12-15",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("INV-3: no mandate reference"),
        "unsuitable listed: {stderr}"
    );
    let file = std::fs::read_to_string(&out).unwrap();
    let recs: Vec<&str> = file.strip_suffix("\r\n").unwrap().split("\r\n").collect();
    let labels: Vec<&str> = recs.iter().map(|r| &r[..4]).collect();
    assert_eq!(labels[..4], ["VOL1", "HDR1", "HDR2", "UHL1"]);
    assert_eq!(labels[labels.len() - 3..], ["EOF1", "EOF2", "UTL1"]);
    assert!(recs.iter().filter(|r| r.len() == 80).count() == 7);
    let data = bacs_data(&file);
    assert_eq!(data.len(), 3, "two debits and the contra");
    let f = |r: &str, a: usize, b: usize| r[a - 1..b].to_string();
    let d = &data[0];
    assert_eq!(f(d, 1, 6), "200000", "payer sort code");
    assert_eq!(f(d, 7, 14), "31415926", "payer account");
    assert_eq!(f(d, 15, 15), "0");
    assert_eq!(f(d, 16, 17), "01", "first collection of the mandate");
    assert_eq!(f(d, 18, 23), "401234", "originator sort code");
    assert_eq!(f(d, 24, 31), "12345678", "originator account");
    assert_eq!(f(d, 32, 35), "    ");
    assert_eq!(f(d, 36, 46), "00000003600", "amount in pence");
    assert_eq!(f(d, 47, 64), format!("{:<18}", "NORTHERN FIBRE"));
    assert_eq!(f(d, 65, 82), format!("{:<18}", "BRC1001"), "DDI reference");
    assert_eq!(f(d, 83, 100), format!("{:<18}", "HARBOUR CAFE LTD"));
    assert_eq!(f(&data[1], 16, 17), "01");
    assert_eq!(f(&data[1], 36, 46), "00000004800");
    let contra = &data[2];
    assert_eq!(f(contra, 1, 14), "40123412345678");
    assert_eq!(f(contra, 16, 17), "99");
    assert_eq!(f(contra, 36, 46), "00000008400");
    // UHL1 processing day: --date 2026-12-15 is the debit (entry) day, so
    // the processing day is the working day before, 2026-12-14, day 348.
    assert_eq!(&recs[3][4..10], " 26348");
    let utl = recs.last().unwrap();
    assert_eq!(&utl[4..17], "0000000008400");
    assert_eq!(&utl[30..37], "0000002");

    // Results: U1 approved, U2 referred → U2 re-presented with code 18.
    let r = env.write(
        "r1.csv",
        "reference,status,reason\nINV-1,approved,\nINV-2,refer,refer to payer\n",
    );
    env.ok(&["collect", "results", &r]);
    let out2 = env.path("bacs2.txt");
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        out2.to_str().unwrap(),
        "--date",
        "2026-12-22",
    ]);
    let data = bacs_data(&std::fs::read_to_string(&out2).unwrap());
    assert_eq!(data.len(), 2);
    assert_eq!(f(&data[0], 16, 17), "18", "re-presentation");
    assert_eq!(f(&data[0], 65, 82).trim_end(), "BRC1002");
    assert_eq!(
        sql_str(
            &env,
            "SELECT reference FROM payment_items WHERE payment_run_id = 2"
        ),
        "INV-2-R1"
    );
    // Next month: U1's mandate was collected, so its code is 17 (regular).
    seed_invoices(&env, "2027-01-01", "2026-12-31", &[("U1", 3600)]);
    let out3 = env.path("bacs3.txt");
    env.ok(&[
        "collect",
        "dd",
        "2",
        "--out",
        out3.to_str().unwrap(),
        "--date",
        "2027-01-15",
    ]);
    let data = bacs_data(&std::fs::read_to_string(&out3).unwrap());
    assert_eq!(f(&data[0], 16, 17), "17");
    assert_eq!(
        sql_str(
            &env,
            "SELECT sequence FROM payment_items WHERE payment_run_id = 3"
        ),
        "17"
    );
}

// ---------------------------------------------------------------- SEPA

fn xmllint_valid(path: &std::path::Path) {
    let xsd =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pain.008.001.02.xsd");
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&xsd)
        .arg(path)
        .output()
        .expect("xmllint is needed (apt-get install libxml2-utils)");
    assert!(
        out.status.success(),
        "xmllint: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sepa_file_is_valid_against_the_xsd_and_uses_frst_then_rcur() {
    let env = setup(
        &[
            ("currency", "EUR"),
            ("dd.format", "sepa"),
            ("dd.creditor_id", "DE98ZZZ09999999999"),
            ("dd.iban", "DE89370400440532013000"),
            ("dd.bic", "COBADEFFXXX"),
            ("dd.name", "Südwest Telekom GmbH"),
        ],
        &[
            "E1,Renée Dupont,,print,direct_debit,,,Renée Dupont,FR1420041010050500013M02606,PSSTFRPPPAR,MNDT-E1,2025-06-01,",
            "E2,Hans Müller,,print,direct_debit,,,,DE89370400440532013000,,MNDT-E2,2025-07-01,",
        ],
    );
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("E1", 1000), ("E2", 123450)],
    );
    let out = env.path("sepa1.xml");
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--date",
        "2026-12-15",
    ]);
    xmllint_valid(&out);
    let xml = std::fs::read_to_string(&out).unwrap();
    assert!(xml.contains("<NbOfTxs>2</NbOfTxs>"), "{xml}");
    assert!(xml.contains("<CtrlSum>1244.50</CtrlSum>"), "{xml}");
    assert!(xml.contains("<SeqTp>FRST</SeqTp>"));
    assert!(!xml.contains("<SeqTp>RCUR</SeqTp>"));
    assert!(xml.contains("<EndToEndId>INV-1</EndToEndId>"));
    assert!(xml.contains("<MndtId>MNDT-E1</MndtId>"));
    assert!(xml.contains("<DtOfSgntr>2025-06-01</DtOfSgntr>"));
    assert!(xml.contains("<IBAN>FR1420041010050500013M02606</IBAN>"));
    assert!(xml.contains("<ReqdColltnDt>2026-12-15</ReqdColltnDt>"));
    #[cfg(unix)]
    assert_eq!(mode(&out), 0o600);
    let show = env.json(&["collect", "show", "1"]);
    assert_eq!(show["items_detail"][0]["sequence"], "FRST");

    // E1 approved, E2 dishonoured: next month E1 is RCUR, E2 FRST again.
    let r = env.write(
        "r.csv",
        "reference,status,reason\nINV-1,approved,\nINV-2,dishonoured,AC04 closed\n",
    );
    env.ok(&["collect", "results", &r]);
    seed_invoices(
        &env,
        "2027-01-01",
        "2026-12-31",
        &[("E1", 1000), ("E2", 2000)],
    );
    let out2 = env.path("sepa2.xml");
    env.ok(&[
        "collect",
        "dd",
        "2",
        "--out",
        out2.to_str().unwrap(),
        "--date",
        "2027-01-15",
    ]);
    xmllint_valid(&out2);
    let xml = std::fs::read_to_string(&out2).unwrap();
    assert!(
        xml.contains("<SeqTp>RCUR</SeqTp>") && xml.contains("<SeqTp>FRST</SeqTp>"),
        "{xml}"
    );
    let show = env.json(&["collect", "show", "2"]);
    let seq: Vec<_> = show["items_detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["reference"].as_str().unwrap().to_string(),
                i["sequence"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(seq.contains(&("INV-3".into(), "RCUR".into())), "{seq:?}");
    assert!(seq.contains(&("INV-4".into(), "FRST".into())), "{seq:?}");
}

// ---------------------------------------------------------------- results

#[test]
fn results_for_every_status_unknown_references_and_bad_rows() {
    let env = bacs_env();
    env.ok(&["config", "set", "collect.max_retries", "1"]);
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("U1", 3600), ("U2", 4800), ("U4", 2500)],
    );
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd.txt").to_str().unwrap(),
    ]);
    let batch = env.path("cards.csv");
    env.ok(&["collect", "card", "1", "--out", batch.to_str().unwrap()]);
    let csv = std::fs::read_to_string(&batch).unwrap();
    assert_eq!(
        csv,
        "reference,account,card_token,amount_minor,currency\nINV-3,U4,pm_demo7945610009911,2500,GBP\n"
    );
    #[cfg(unix)]
    assert_eq!(mode(&batch), 0o600);

    // Bad rows: every problem reported with file:line, nothing changed.
    let before = env.snapshot();
    let bad = env.write(
        "bad.csv",
        "reference,status,reason\nINV-1,paid,\n,approved,\nINV-2,refer,\nINV-2,approved,\n",
    );
    let err = env.fails(4, &["collect", "results", &bad]);
    assert!(err.contains("bad.csv:2:2: status:"), "{err}");
    assert!(err.contains("bad.csv:3:1: reference:"), "{err}");
    assert!(err.contains("bad.csv:5:1: reference:"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(env.snapshot(), before);

    // approved, declined (card), refer, and an unknown reference.
    let r = env.write(
        "r1.csv",
        "reference,status,reason\nINV-1,approved,\nINV-3,declined,insufficient funds\nINV-2,refer,refer to payer\nINV-99,approved,\n",
    );
    let err = env.fails(4, &["collect", "results", &r]);
    assert!(
        err.contains("r1.csv:5: reference 'INV-99' is not in any payment run"),
        "{err}"
    );
    assert!(err.contains("the other rows were applied"), "{err}");
    assert_eq!(
        sql_str(
            &env,
            "SELECT method || ' ' || amount_minor || ' ' || source FROM payments WHERE reference = 'DD:INV-1'"
        ),
        "direct_debit 3600 collection"
    );
    assert_eq!(
        sql_str(
            &env,
            "SELECT method FROM payments WHERE reference = 'DD:INV-1'"
        ),
        "direct_debit"
    );
    // Declined card: no payment and no fee (the fee is for a dishonour).
    assert_eq!(
        sql_i64(&env, "SELECT COUNT(*) FROM payments WHERE account = 'U4'"),
        0
    );
    assert_eq!(
        sql_i64(&env, "SELECT COUNT(*) FROM charges WHERE account = 'U4'"),
        0
    );
    // Importing the same rows again changes nothing (but the audit line).
    let money = |env: &Env| {
        sql_str(
            env,
            "SELECT (SELECT COUNT(*) FROM payments) || '/' || (SELECT COUNT(*) FROM charges) || '/' ||
                    (SELECT group_concat(state) FROM payment_items)",
        )
    };
    let before = money(&env);
    let again = env.write(
        "r1b.csv",
        "reference,status,reason\nINV-1,approved,\nINV-3,declined,insufficient funds\n",
    );
    let out = env.ok(&["collect", "results", &again]);
    assert!(out.contains("2 unchanged"), "{out}");
    assert_eq!(money(&env), before);

    // Status: card invoice failed (shown), DD referral waiting for the next run.
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_dd")["state"], "todo");
    assert!(
        step(&st, "collect_dd")["detail"]
            .as_str()
            .unwrap()
            .contains("1 invoices not yet")
    );
    assert_eq!(step(&st, "collect_card")["state"], "done");
    assert!(
        step(&st, "collect_card")["detail"]
            .as_str()
            .unwrap()
            .contains("1 failed")
    );

    // The referral is retried (INV-2-R1); a dishonour now: fee, no reversal (no payment).
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd2.txt").to_str().unwrap(),
    ]);
    let r = env.write(
        "r2.csv",
        "reference,status,reason\nINV-2-R1,dishonoured,ARUDD 1\nINV-1,dishonoured,late return\n",
    );
    env.ok(&["collect", "results", &r]);
    assert_eq!(
        sql_i64(&env, "SELECT COUNT(*) FROM payments WHERE account = 'U2'"),
        0
    );
    assert_eq!(
        sql_i64(
            &env,
            "SELECT COUNT(*) FROM charges WHERE account = 'U2' AND source = 'dishonour_fee'"
        ),
        1
    );
    // The late return of approved INV-1 reverses its payment.
    assert_eq!(
        sql_str(
            &env,
            "SELECT amount_minor || ' ' || (reverses = (SELECT id FROM payments WHERE reference = 'DD:INV-1')) FROM payments WHERE reference = 'DD:INV-1-REV'"
        ),
        "-3600 1"
    );
    // A dishonoured item cannot become approved: bad input, nothing changed.
    let before = env.snapshot();
    let r = env.write("r3.csv", "reference,status\nINV-2-R1,approved\n");
    let err = env.fails(4, &["collect", "results", &r]);
    assert!(
        err.contains("r3.csv:2: status: INV-2-R1: the item is already dishonoured"),
        "{err}"
    );
    assert_eq!(env.snapshot(), before);

    // Nothing is retried without asking; --retry-failed retries within max_retries (1).
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_dd")["state"], "done");
    assert!(
        step(&st, "collect_dd")["detail"]
            .as_str()
            .unwrap()
            .contains("2 failed")
    );
    let out = env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd3.txt").to_str().unwrap(),
    ]);
    assert!(out.contains("nothing new"), "{out}");
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--retry-failed",
        "--out",
        env.path("dd3.txt").to_str().unwrap(),
    ]);
    let refs = env.json(&["collect", "show", "4"]);
    let refs: Vec<&str> = refs["items_detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reference"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["INV-1-R1"], "INV-2 has used its one retry");

    // Payment runs settle when nothing is live.
    let list = env.json(&["collect", "list"]);
    assert_eq!(list[0]["state"], "settled");
    assert_eq!(list[3]["state"], "created");
}

// ---------------------------------------------------------------- cards via Stripe

const KEY: &str = "sk_test_collect";

fn card_env() -> Env {
    let env = setup(
        &[],
        &[
            "K1,Kiln Architects,,print,card,,,,,,,,pm_card_visa_0001111",
            "K2,Brightside,,print,card,,,,,,,,pm_card_declined_2222",
            "K3,Three D Secure,,print,card,,,,,,,,pm_card_3ds_33333333",
        ],
    );
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("K1", 4550), ("K2", 1000), ("K3", 2000)],
    );
    env
}

#[test]
fn card_charges_through_stripe_with_idempotency_keys() {
    let env = card_env();
    let fake = FakeStripe::start(
        KEY,
        vec![
            Reply::intent("pi_1", "succeeded"),
            Reply::card_declined(
                "pi_2",
                "card_declined",
                Some("insufficient_funds"),
                "Your card has insufficient funds.",
            ),
            Reply::intent("pi_3", "requires_action"),
        ],
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    // No key: exit 3, nothing recorded.
    let err = env.fails(3, &["collect", "card", "1"]);
    assert!(err.contains("STRIPE_API_KEY"), "{err}");
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payment_items"), 0);

    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "card", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains("pm_card_visa_0001111"),
        "token masked: {text}"
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/payment_intents");
    assert_eq!(r.authorization.as_deref(), Some("Bearer sk_test_collect"));
    assert!(
        r.content_type
            .starts_with("application/x-www-form-urlencoded")
    );
    assert_eq!(
        r.idempotency_key.as_deref(),
        Some(idem(&env, "INV-1-1").as_str())
    );
    assert_eq!(r.field("amount"), Some("4550"));
    assert_eq!(r.field("currency"), Some("gbp"));
    assert_eq!(r.field("payment_method"), Some("pm_card_visa_0001111"));
    assert_eq!(r.field("confirm"), Some("true"));
    assert_eq!(r.field("off_session"), Some("true"));
    assert_eq!(r.field("metadata[invoice]"), Some("INV-1"));
    assert_eq!(
        reqs[1].idempotency_key.as_deref(),
        Some(idem(&env, "INV-2-1").as_str())
    );
    assert_eq!(
        reqs[2].idempotency_key.as_deref(),
        Some(idem(&env, "INV-3-1").as_str())
    );
    // Keys recorded on the items.
    assert_eq!(
        sql_str(
            &env,
            "SELECT idempotency_key FROM payment_items WHERE reference = 'INV-1'"
        ),
        idem(&env, "INV-1-1")
    );

    let show = env.json(&["collect", "show", "1"]);
    let items = show["items_detail"].as_array().unwrap();
    assert_eq!(items[0]["state"], "approved");
    assert_eq!(items[0]["gateway_id"], "pi_1");
    assert_eq!(items[1]["state"], "declined");
    assert!(
        items[1]["reason"]
            .as_str()
            .unwrap()
            .contains("insufficient_funds")
    );
    assert_eq!(items[2]["state"], "failed");
    assert!(
        items[2]["reason"]
            .as_str()
            .unwrap()
            .contains("requires_action")
    );
    assert_eq!(show["state"], "settled");
    assert_eq!(
        sql_str(
            &env,
            "SELECT method || ' ' || amount_minor || ' ' || reference FROM payments"
        ),
        "card 4550 CARD:INV-1"
    );
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_card")["state"], "done");
    assert!(
        step(&st, "collect_card")["detail"]
            .as_str()
            .unwrap()
            .contains("2 failed")
    );

    // Re-running charges nothing.
    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "card", "1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing new"));
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(
        fake.charges(),
        2,
        "the 402 is not a charge; succeeded and requires_action are 2xx"
    );
}

/// `billrun collect card 1` with the Stripe key, which must succeed.
fn collect_card_ok(env: &Env) {
    env.cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "card", "1"])
        .assert()
        .success();
}

/// Charge the three card invoices through a fake Stripe, then simulate a
/// crash after Stripe charged INV-2 but before billrun recorded it: the item
/// is live with its key and no answer, no payment exists. `more_sql` runs in
/// the same batch (e.g. to age the item).
fn charged_then_inv2_answer_lost(env: &Env, more_sql: &str) -> FakeStripe {
    let fake = FakeStripe::start(
        KEY,
        vec![
            Reply::intent("pi_1", "succeeded"),
            Reply::intent("pi_2", "succeeded"),
            Reply::intent("pi_3", "succeeded"),
        ],
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    collect_card_ok(env);
    assert_eq!(fake.charges(), 3);
    let conn = db(env);
    conn.execute_batch(&format!(
        "UPDATE payment_items SET state = 'live', gateway_id = NULL, payment_id = NULL, result_at = NULL
             WHERE reference = 'INV-2';
         DELETE FROM payments WHERE reference = 'CARD:INV-2';
         UPDATE payment_runs SET state = 'submitted';
         {more_sql}"
    ))
    .unwrap();
    fake
}

#[test]
fn crash_between_request_and_record_never_charges_twice() {
    let env = card_env();
    let fake = charged_then_inv2_answer_lost(
        &env,
        "UPDATE customers SET card_token = 'pm_changed_meanwhile'
             WHERE account = (SELECT account FROM payment_items WHERE reference = 'INV-2');",
    );
    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "card", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("resuming 1 charge"));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(
        reqs[3].idempotency_key.as_deref(),
        Some(idem(&env, "INV-2-1").as_str()),
        "same key"
    );
    assert!(reqs[3].replayed, "Stripe replayed the stored result");
    // The resend repeats the original request exactly, even though the
    // customer's token changed meanwhile (Stripe refuses a reused key with
    // other parameters).
    let original = reqs[..3]
        .iter()
        .find(|r| r.idempotency_key.as_deref() == Some(idem(&env, "INV-2-1").as_str()))
        .unwrap();
    assert_eq!(reqs[3].form, original.form);
    assert_eq!(fake.charges(), 3, "no second charge");
    assert_eq!(
        sql_i64(
            &env,
            "SELECT COUNT(*) FROM payments WHERE reference = 'CARD:INV-2'"
        ),
        1
    );
    assert_eq!(
        sql_str(
            &env,
            "SELECT state || ' ' || gateway_id FROM payment_items WHERE reference = 'INV-2'"
        ),
        "approved pi_2"
    );
    assert_eq!(sql_str(&env, "SELECT state FROM payment_runs"), "settled");
}

/// Stripe may forget an idempotency key after 24 hours: a charge with no
/// recorded answer whose key is older than that is not re-sent (it could be
/// a second charge); the operator records its outcome with a results file.
#[test]
fn an_unanswered_charge_with_an_old_key_is_left_to_the_operator() {
    let env = card_env();
    // The crash was two days ago.
    let fake = charged_then_inv2_answer_lost(
        &env,
        "UPDATE payment_items SET created_at = '2026-01-01T09:00:00Z' WHERE reference = 'INV-2';",
    );
    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "card", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("INV-2") && err.contains("not re-sent"),
        "{err}"
    );
    assert!(err.contains("collect results"), "{err}");
    assert_eq!(fake.requests().len(), 3, "nothing sent again");
    assert_eq!(
        sql_str(
            &env,
            "SELECT state FROM payment_items WHERE reference = 'INV-2'"
        ),
        "live"
    );
    // The operator found it charged in the dashboard and records it.
    let r = env.write("r.csv", "reference,status,reason\nINV-2,approved,\n");
    env.ok(&["collect", "results", &r]);
    assert_eq!(
        sql_i64(
            &env,
            "SELECT COUNT(*) FROM payments WHERE reference = 'CARD:INV-2'"
        ),
        1
    );
    // Nothing left to ask about: a further run is quiet and charges nothing.
    collect_card_ok(&env);
    assert_eq!(fake.charges(), 3);
}

#[test]
fn gateway_down_keeps_items_live_and_a_rerun_uses_the_same_keys() {
    let env = card_env();
    let fake = FakeStripe::start(
        KEY,
        vec![
            Reply::error(503, "api_error", "down"),
            Reply::error(503, "api_error", "down"),
            Reply::error(503, "api_error", "down"),
            Reply::intent("pi_1", "succeeded"),
            Reply::intent("pi_2", "succeeded"),
            Reply::intent("pi_3", "succeeded"),
        ],
    );
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    // The first invoice gives up after 3 attempts; the others succeed.
    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "card", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("same idempotency keys"));
    assert_eq!(
        sql_str(
            &env,
            "SELECT state FROM payment_items WHERE reference = 'INV-1'"
        ),
        "live"
    );
    let st = env.json(&["status", "1"]);
    // Not collected until Stripe answers: the step waits for the re-send.
    assert_eq!(step(&st, "collect_card")["state"], "todo", "re-send first");
    let out = env
        .cmd()
        .env("STRIPE_API_KEY", KEY)
        .args(["collect", "card", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let keys: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.idempotency_key.clone().unwrap())
        .collect();
    let k1 = idem(&env, "INV-1-1");
    assert_eq!(keys.iter().filter(|k| **k == k1).count(), 4);
    assert_eq!(
        sql_str(
            &env,
            "SELECT state FROM payment_items WHERE reference = 'INV-1'"
        ),
        "approved"
    );
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payments"), 3);
}

// ---------------------------------------------------------------- masking, status, errors

#[test]
fn masking_in_show_and_list_and_status_steps() {
    let env = bacs_env();
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("U1", 3600), ("U2", 4800), ("U4", 2500)],
    );
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_dd")["state"], "todo");
    assert!(
        step(&st, "collect_dd")["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 invoices not yet")
    );
    assert_eq!(step(&st, "collect_card")["state"], "todo");

    // Default output path: next to the database.
    env.ok(&["collect", "dd", "1"]);
    let default = env.path("collect-1-bacs18.txt");
    assert!(default.exists());
    #[cfg(unix)]
    assert_eq!(mode(&default), 0o600);
    env.ok(&[
        "collect",
        "card",
        "1",
        "--out",
        env.path("c.csv").to_str().unwrap(),
    ]);
    for args in [
        vec!["collect", "show", "1"],
        vec!["--json", "collect", "show", "1"],
        vec!["collect", "show", "2"],
        vec!["--json", "collect", "show", "2"],
        vec!["collect", "list"],
        vec!["--json", "collect", "list"],
        vec!["status", "1"],
    ] {
        let out = env.ok(&args);
        for secret in ["31415926", "31687754", "pm_demo7945610009911"] {
            assert!(!out.contains(secret), "{args:?} shows {secret}:\n{out}");
        }
    }
    let show = env.ok(&["collect", "show", "1"]);
    assert!(show.contains("20-00-00 ****5926"), "{show}");
    let show = env.ok(&["collect", "show", "2"]);
    assert!(show.contains("pm_…9911"), "{show}");
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_dd")["state"], "done");
    assert_eq!(step(&st, "collect_card")["state"], "done");
}

// ---------------------------------------------------------------- a whole run

#[test]
fn a_whole_run_is_produced_collected_and_complete_and_the_next_run_bills_nothing_twice() {
    let env = Env::new().with_reference_data();
    for (k, v) in BACS_SETTINGS {
        env.ok(&["config", "set", k, v]);
    }
    env.ok(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    env.ok(&["--yes", "request", "1", "--expert"]);
    // Issue 15: `confirm postbill` needs the report run first.
    env.ok(&["postbill", "1"]);
    env.ok(&["--yes", "confirm", "1", "postbill"]);
    env.ok(&["print", "1", "--out", env.path("print").to_str().unwrap()]);
    // Email the email/both invoices to a real loopback SMTP server.
    let smtp = crate::support::smtp::SmtpServer::start().unwrap();
    for (k, v) in [
        ("smtp.host", "127.0.0.1".to_string()),
        ("smtp.port", smtp.port().to_string()),
        ("smtp.security", "none".to_string()),
        ("smtp.from", "billing@example.com".to_string()),
    ] {
        env.ok(&["config", "set", k, &v]);
    }
    env.ok(&["email", "1"]);
    assert_eq!(smtp.messages().len(), 20);
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_dd")["state"], "todo", "{st:#}");
    let invoices = env.json(&["invoices", "1"]);
    let due = |acct: &str| {
        invoices
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["account"] == acct)
            .map(|i| i["amount_due"].as_str().unwrap().to_string())
            .unwrap()
    };
    let dd_count = invoices
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| {
            sql_str(
                &env,
                &format!(
                    "SELECT payment_method FROM invoices WHERE number = '{}'",
                    i["number"].as_str().unwrap()
                ),
            ) == "direct_debit"
        })
        .count();
    assert_eq!(dd_count, 15);

    let dd = env.json(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("dd.txt").to_str().unwrap(),
    ]);
    assert_eq!(dd["items"], 15);
    let data = bacs_data(&std::fs::read_to_string(env.path("dd.txt")).unwrap());
    assert_eq!(data.len(), 16);
    assert!(data[..15].iter().all(|r| &r[15..17] == "01"));
    let card = env.json(&[
        "collect",
        "card",
        "1",
        "--out",
        env.path("cards.csv").to_str().unwrap(),
    ]);
    assert_eq!(card["items"], 5);

    // Approve everything but C1002's debit, which is dishonoured.
    let mut results = String::from("reference,status,reason\n");
    for id in ["1", "2"] {
        for it in env.json(&["collect", "show", id])["items_detail"]
            .as_array()
            .unwrap()
        {
            let status = if it["account"] == "C1002" {
                "dishonoured,ARUDD 1 instruction cancelled"
            } else {
                "approved,"
            };
            results.push_str(&format!("{},{status}\n", it["reference"].as_str().unwrap()));
        }
    }
    let r = env.write("results.csv", &results);
    env.ok(&["collect", "results", &r]);
    // invoices --json shows each invoice's email and collection outcome.
    let after = env.json(&["invoices", "1"]);
    let c1002 = after
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["account"] == "C1002")
        .unwrap();
    assert_eq!(c1002["collection"]["state"], "dishonoured", "{c1002:#}");
    assert_eq!(c1002["emailed"]["state"], "sent", "{c1002:#}");
    let st = env.json(&["status", "1"]);
    assert_eq!(step(&st, "collect_dd")["state"], "done");
    assert!(
        step(&st, "collect_dd")["detail"]
            .as_str()
            .unwrap()
            .contains("1 failed")
    );
    assert_eq!(step(&st, "collect_card")["state"], "done");
    assert_eq!(st["complete"], true, "{st:#}");
    assert!(env.ok(&["status", "1"]).contains("Run complete"));

    // Next month: collected money is applied once, the dishonoured amount
    // stays due with the fee billed, and nothing is billed twice.
    let c1001_prev = due("C1001");
    let c1002_prev = due("C1002");
    env.ok(&[
        "new",
        "--invoice-date",
        "2027-01-01",
        "--cutoff",
        "2026-12-31",
    ]);
    env.ok(&["--yes", "request", "2", "--expert"]);
    let inv2 = env.json(&["invoices", "2"]);
    let get = |acct: &str| {
        inv2.as_array()
            .unwrap()
            .iter()
            .find(|i| i["account"] == acct)
            .cloned()
            .unwrap()
    };
    let a = get("C1001");
    assert_eq!(a["opening_balance"].as_str().unwrap(), c1001_prev);
    assert_eq!(
        a["payments"].as_str().unwrap(),
        c1001_prev,
        "collected once: {a:#}"
    );
    let b = get("C1002");
    assert_eq!(b["opening_balance"].as_str().unwrap(), c1002_prev);
    assert_eq!(b["payments"], "0.00", "dishonoured: nothing received");
    let fee_lines: Vec<_> = b["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["description"].as_str().unwrap().contains("Dishonour fee"))
        .collect();
    assert_eq!(fee_lines.len(), 1, "{b:#}");
    assert_eq!(fee_lines[0]["amount"], "15.00");
    assert_eq!(
        sql_i64(
            &env,
            "SELECT COUNT(*) FROM payments WHERE invoice_id IS NULL"
        ),
        0
    );
}

#[test]
fn refusals_have_clear_errors_and_exit_codes() {
    let env = bacs_env();
    env.json(&[
        "new",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let err = env.fails(3, &["collect", "dd", "1"]);
    assert!(err.contains("status completed"), "{err}");
    let env = bacs_env();
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("U1", 3600)]);
    // An existing file is never overwritten.
    let existing = env.write("exists.txt", "keep me");
    let before = env.snapshot();
    let err = env.fails(3, &["collect", "dd", "1", "--out", &existing]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    assert_eq!(env.snapshot(), before);
    // A setting the format needs is missing: exit 3, nothing written.
    let conn = db(&env);
    conn.execute("DELETE FROM settings WHERE key = 'dd.sort_code'", [])
        .unwrap();
    drop(conn);
    let before = env.snapshot();
    let err = env.fails(3, &["collect", "dd", "1"]);
    assert!(err.contains("dd.sort_code"), "{err}");
    assert_eq!(env.snapshot(), before);
    assert!(!env.path("collect-1-bacs18.txt").exists());
    let err = env.fails(
        4,
        &[
            "collect",
            "results",
            env.path("missing.csv").to_str().unwrap(),
        ],
    );
    assert!(err.contains("cannot read"), "{err}");
    let err = env.fails(4, &["collect", "show", "7"]);
    assert!(err.contains("no payment run 7"), "{err}");
}

#[test]
fn the_demo_collects_and_ends_at_run_complete() {
    let env = Env::new();
    let dir = env.path("demo");
    let out = env.ok(&["demo", "--dir", dir.to_str().unwrap()]);
    let tail = &out[out.rfind("$ billrun status 1").unwrap()..];
    assert!(tail.contains("Run complete"), "{tail}");
    assert!(tail.contains("1 failed collection"), "{tail}");
    for f in ["dd-2026-11.txt", "cards-2026-11.csv"] {
        assert!(dir.join(f).exists(), "{f}");
        #[cfg(unix)]
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    assert!(
        out.contains("18 approved, 0 declined, 1 dishonoured"),
        "{out}"
    );
}

#[test]
fn two_racing_collect_runs_collect_each_invoice_once() {
    let env = bacs_env();
    seed_invoices(
        &env,
        "2026-12-01",
        "2026-11-30",
        &[("U1", 3600), ("U2", 4800)],
    );
    let spawn = |name: &str| {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("billrun"));
        c.arg("--db")
            .arg(&env.db)
            .env("BILLRUN_OPERATOR", "tester")
            .args(["collect", "dd", "1", "--out"])
            .arg(env.path(name))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        c.spawn().unwrap()
    };
    let (a, b) = (spawn("a.txt"), spawn("b.txt"));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{a:?}\n{b:?}");
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payment_runs"), 1);
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payment_items"), 2);
    assert_eq!(
        [env.path("a.txt").exists(), env.path("b.txt").exists()]
            .iter()
            .filter(|x| **x)
            .count(),
        1,
        "exactly one file written"
    );
}

#[test]
fn a_charge_still_processing_stays_live_until_its_result_arrives() {
    let env = setup(
        &[],
        &["K1,Kiln Architects,,print,card,,,,,,,,pm_card_visa_0001111"],
    );
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("K1", 4550)]);
    let fake = FakeStripe::start(KEY, vec![Reply::intent("pi_9", "processing")]);
    env.ok(&["config", "set", "stripe.api_base", &fake.base_url()]);
    collect_card_ok(&env);
    assert_eq!(
        sql_str(&env, "SELECT state || ' ' || gateway_id FROM payment_items"),
        "live pi_9"
    );
    // Not re-sent: it has an answer; it is in a live item.
    collect_card_ok(&env);
    assert_eq!(fake.requests().len(), 1);
    let r = env.write("r.csv", "reference,status\nINV-1,approved\n");
    env.ok(&["collect", "results", &r]);
    assert_eq!(
        sql_str(&env, "SELECT method || ' ' || amount_minor FROM payments"),
        "card 4550"
    );
    assert_eq!(sql_str(&env, "SELECT state FROM payment_runs"), "settled");
}

/// The same money is never collected twice across runs: an old invoice's
/// balance carried into a newer invoice is collected once, on the newer one,
/// less what is still being collected on the old one.
#[test]
fn a_balance_carried_into_the_next_invoice_is_collected_once() {
    let env = bacs_env();
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("U1", 3600)]);
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("a.txt").to_str().unwrap(),
    ]);
    // Next month, before the bank's results: INV-2 carries 36.00 + 10.00.
    seed_invoices(&env, "2027-01-01", "2026-12-31", &[("U1", 4600)]);
    env.ok(&[
        "collect",
        "dd",
        "2",
        "--out",
        env.path("b.txt").to_str().unwrap(),
    ]);
    assert_eq!(
        sql_i64(
            &env,
            "SELECT amount_minor FROM payment_items WHERE payment_run_id = 2"
        ),
        1000,
        "only the new charges: 36.00 is still being collected on INV-1"
    );
    // INV-1 is referred: it is superseded by INV-2, so no retry collects
    // the 36.00 on it; nothing more to collect on run 2 either.
    let r = env.write("r.csv", "reference,status,reason\nINV-1,refer,\n");
    env.ok(&["collect", "results", &r]);
    let out = env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("c.txt").to_str().unwrap(),
    ]);
    assert!(!env.path("c.txt").exists(), "{out}");
    assert_eq!(sql_i64(&env, "SELECT COUNT(*) FROM payment_items"), 2);
}

/// A customer's own payment quoting the invoice number does not block the
/// Direct Debit result for that invoice (collection payments have their own
/// reference space).
#[test]
fn a_transfer_quoting_the_invoice_number_does_not_clash_with_the_collection() {
    let env = bacs_env();
    seed_invoices(&env, "2026-12-01", "2026-11-30", &[("U1", 3600)]);
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        env.path("a.txt").to_str().unwrap(),
    ]);
    env.ok(&[
        "payments",
        "add",
        "--account",
        "U1",
        "--amount",
        "5.00",
        "--date",
        "2026-12-02",
        "--method",
        "bank_transfer",
        "--reference",
        "INV-1",
    ]);
    let r = env.write("r.csv", "reference,status,reason\nINV-1,approved,\n");
    env.ok(&["collect", "results", &r]);
    assert_eq!(
        sql_str(
            &env,
            "SELECT group_concat(reference, ' ') FROM (SELECT reference FROM payments ORDER BY reference)"
        ),
        "DD:INV-1 INV-1"
    );
}
