//! Payment files and report CSVs compared byte for byte with the expected
//! files in `tests/it/golden/` (see `support/golden.rs`; regenerate them
//! with `UPDATE_GOLDEN=1 cargo test --test it golden::`).
//!
//! Everything goes through the real binary: reference data imported, a run
//! produced by `request`, the files written by `collect` and the reports'
//! `--csv`. Dates are given on the command line; only the creation moment
//! of the Bacs 18 and SEPA files comes from the clock (normalised there).

use crate::support::golden::{self, now};
use crate::support::{Env, fixture};

fn data(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(name)
        .display()
        .to_string()
}

fn config(env: &Env, settings: &[(&str, &str)]) {
    for (k, v) in settings {
        env.ok(&["config", "set", k, v]);
    }
}

/// A run produced through `request` (invoice date 2026-12-01, cutoff
/// 2026-11-30, due 2026-12-15 by default).
fn produce(env: &Env, name: &str, invoice_date: &str, cutoff: &str) {
    env.ok(&[
        "new",
        "--name",
        name,
        "--invoice-date",
        invoice_date,
        "--cutoff",
        cutoff,
    ]);
    env.ok(&["request", name, "--expert", "--yes"]);
}

/// Reference data of a small provider: plans and tariffs from the fixtures,
/// customers and services from tests/data/golden/<prefix>-*.csv.
fn small_provider(prefix: &str, settings: &[(&str, &str)]) -> Env {
    let env = Env::new();
    env.ok(&["init"]);
    config(&env, settings);
    env.ok(&[
        "tariffs",
        "import",
        fixture("tariffs.csv").to_str().unwrap(),
    ]);
    env.ok(&["plans", "import", fixture("plans.csv").to_str().unwrap()]);
    env.ok(&[
        "customers",
        "import",
        &data(&format!("{prefix}-customers.csv")),
    ]);
    env.ok(&[
        "services",
        "import",
        &data(&format!("{prefix}-services.csv")),
    ]);
    env
}

fn read(env: &Env, name: &str) -> String {
    String::from_utf8(std::fs::read(env.path(name)).unwrap()).unwrap()
}

/// The shipped demo provider (25 customers): Bacs 18 for its Direct Debit
/// customers, the card batch CSV for its card customers.
#[test]
fn bacs18_and_card_batch_files_of_a_produced_run() {
    let env = Env::new().with_reference_data();
    config(
        &env,
        &[
            ("company.name", "Northern Fibre & Voice Ltd"),
            ("invoice.prefix", "NFV-"),
            ("dd.format", "bacs18"),
            ("dd.sun", "123456"),
            ("dd.sort_code", "40-12-34"),
            ("dd.account", "12345678"),
            ("dd.name", "Northern Fibre"),
        ],
    );
    produce(&env, "2026-11", "2026-12-01", "2026-11-30");

    let before = now();
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        "bacs18.txt",
        "--date",
        "2026-12-15",
    ]);
    let after = now();
    let bacs = golden::bacs18_created(&read(&env, "bacs18.txt"), before, after);
    golden::check("bacs18.txt", bacs.as_bytes());

    env.ok(&["collect", "card", "1", "--out", "card-batch.csv"]);
    golden::check("card-batch.csv", read(&env, "card-batch.csv").as_bytes());
}

#[test]
fn aba_file_of_a_produced_run() {
    let env = small_provider(
        "aba",
        &[
            ("company.name", "Outback Telecom Pty Ltd"),
            ("currency", "AUD"),
            ("dd.format", "aba"),
            ("dd.bank", "CBA"),
            ("dd.user_name", "Outback Telecom"),
            ("dd.user_id", "301500"),
            ("dd.bsb", "062-000"),
            ("dd.account", "12345678"),
            ("dd.remitter", "OUTBACK TELECOM"),
        ],
    );
    produce(&env, "2026-11", "2026-12-01", "2026-11-30");
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        "aba.txt",
        "--date",
        "2026-12-15",
    ]);
    golden::check("aba.txt", read(&env, "aba.txt").as_bytes());
}

/// Two months, so the second file has both a `RCUR` block (a mandate
/// collected before) and a `FRST` block (first collection after a
/// dishonour).
#[test]
fn sepa_files_of_two_produced_runs() {
    let env = small_provider(
        "sepa",
        &[
            ("company.name", "Südwest Telekom GmbH"),
            ("currency", "EUR"),
            ("dd.format", "sepa"),
            ("dd.creditor_id", "DE98ZZZ09999999999"),
            ("dd.iban", "DE89370400440532013000"),
            ("dd.bic", "COBADEFFXXX"),
            ("dd.name", "Südwest Telekom GmbH"),
        ],
    );
    produce(&env, "2026-11", "2026-12-01", "2026-11-30");
    let before = now();
    env.ok(&[
        "collect",
        "dd",
        "1",
        "--out",
        "sepa-1.xml",
        "--date",
        "2026-12-15",
    ]);
    let after = now();
    let xml = golden::sepa_created(&read(&env, "sepa-1.xml"), 1, before, after);
    golden::check("sepa-1.xml", xml.as_bytes());

    let results = env.write(
        "results.csv",
        "reference,status,reason\nINV000001,approved,\nINV000002,dishonoured,AC04 closed\nINV000003,approved,\n",
    );
    env.ok(&["collect", "results", &results]);
    produce(&env, "2026-12", "2027-01-01", "2026-12-31");
    let before = now();
    env.ok(&[
        "collect",
        "dd",
        "2",
        "--out",
        "sepa-2.xml",
        "--date",
        "2027-01-15",
    ]);
    let after = now();
    let xml = golden::sepa_created(&read(&env, "sepa-2.xml"), 2, before, after);
    golden::check("sepa-2.xml", xml.as_bytes());
}

/// The demo provider with its payments and November CDRs: the pre-billing
/// CSV before production, the post-billing CSV after; then December's
/// pre-billing CSV, compared with November.
#[test]
fn prebill_and_postbill_csvs() {
    let env = Env::new().with_reference_data();
    config(
        &env,
        &[
            ("company.name", "Northern Fibre & Voice Ltd"),
            ("invoice.prefix", "NFV-"),
        ],
    );
    env.ok(&["carriers", "add", "northern", "--format", "billrun"]);
    env.ok(&[
        "payments",
        "import",
        fixture("payments.csv").to_str().unwrap(),
    ]);
    env.ok(&[
        "new",
        "--name",
        "2026-11",
        "--invoice-date",
        "2026-12-01",
        "--cutoff",
        "2026-11-30",
    ]);
    let cdrs = fixture("cdrs").join("northern-2026-11.csv");
    env.ok(&[
        "cdr",
        "import",
        cdrs.to_str().unwrap(),
        "--carrier",
        "northern",
    ]);
    env.ok(&["prebill", "2026-11", "--csv", "prebill-2026-11.csv"]);
    golden::check(
        "prebill-2026-11.csv",
        read(&env, "prebill-2026-11.csv").as_bytes(),
    );
    env.ok(&["request", "2026-11", "--expert", "--yes"]);
    env.ok(&["postbill", "2026-11", "--csv", "postbill-2026-11.csv"]);
    golden::check(
        "postbill-2026-11.csv",
        read(&env, "postbill-2026-11.csv").as_bytes(),
    );

    env.ok(&[
        "charge",
        "add",
        "--account",
        "C1002",
        "--amount",
        "-15.00",
        "--description",
        "Goodwill credit",
        "--date",
        "2026-12-05",
    ]);
    env.ok(&[
        "new",
        "--name",
        "2026-12",
        "--invoice-date",
        "2027-01-01",
        "--cutoff",
        "2026-12-31",
    ]);
    env.ok(&["prebill", "2026-12", "--csv", "prebill-2026-12.csv"]);
    golden::check(
        "prebill-2026-12.csv",
        read(&env, "prebill-2026-12.csv").as_bytes(),
    );
}
