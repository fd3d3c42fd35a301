//! `billrun demo`: a fresh database from the shipped fixtures (embedded in
//! the binary, so it runs from anywhere), walked through a billing run with
//! the same commands an operator types. Each command is printed, then run.

use super::output::Ctx;
use anyhow::Context;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod act2;
mod walks;
use walks::{bank_results, cdr_walk, email_walk};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo database and output files (recreated).
    #[arg(long, default_value = "demo-out")]
    pub dir: PathBuf,
}

/// The fixtures, embedded.
pub const FIXTURES: &[(&str, &str)] = &[
    (
        "customers.csv",
        include_str!("../../../fixtures/customers.csv"),
    ),
    ("plans.csv", include_str!("../../../fixtures/plans.csv")),
    (
        "services.csv",
        include_str!("../../../fixtures/services.csv"),
    ),
    ("tariffs.csv", include_str!("../../../fixtures/tariffs.csv")),
    (
        "allowances.csv",
        include_str!("../../../fixtures/allowances.csv"),
    ),
    (
        "payments.csv",
        include_str!("../../../fixtures/payments.csv"),
    ),
    (
        "northern-2026-11.csv",
        include_str!("../../../fixtures/cdrs/northern-2026-11.csv"),
    ),
    (
        "pbx-Master.csv",
        include_str!("../../../fixtures/cdrs/pbx-Master.csv"),
    ),
    (
        "found-services.csv",
        include_str!("../../../fixtures/cdrs/found-services.csv"),
    ),
];

pub(super) const SETTINGS: &[(&str, &str)] = &[
    ("company.name", "Northern Fibre & Voice Ltd"),
    ("company.address", "Unit 4, Canal Wharf|Leeds|LS11 5PS"),
    ("company.email", "billing@northernfibre.example"),
    ("company.tax_id", "GB 123 4567 89"),
    ("invoice.prefix", "NFV-"),
    ("invoice.next_number", "10001"),
    (
        "invoice.default_message",
        "Thank you for your business. Questions? Call 0113 496 0999.",
    ),
    ("xero.enabled", "true"),
    ("dd.format", "bacs18"),
    ("dd.sun", "123456"),
    ("dd.sort_code", "40-12-34"),
    ("dd.account", "12345678"),
    ("dd.name", "NORTHERN FIBRE"),
    ("collect.dishonour_fee", "12.50"),
];

pub(super) fn step(ctx: &Ctx, db: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<ExitCode> {
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(' ') || a.contains('&') {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        })
        .collect();
    if !ctx.quiet {
        crate::outln!("\n{}", ctx.bold(&format!("$ billrun {}", shown.join(" "))));
    }
    let mut argv: Vec<String> = vec![
        "billrun".into(),
        "--db".into(),
        db.display().to_string(),
        "--yes".into(),
    ];
    if ctx.quiet {
        argv.push("-q".into());
    }
    argv.extend(
        args.iter()
            .map(|a| a.replace("{dir}", &dir.display().to_string())),
    );
    let cli = super::Cli::try_parse_from(&argv)
        .with_context(|| format!("demo step {}", shown.join(" ")))?;
    super::run(cli).with_context(|| format!("demo step `billrun {}` failed", shown.join(" ")))
}

pub fn exec(ctx: &Ctx, a: &Args) -> anyhow::Result<ExitCode> {
    let dir = &a.dir;
    let db = dir.join("demo.db");
    // Recreate the folder, but never delete a folder the demo did not make.
    if dir.exists() {
        let empty = std::fs::read_dir(dir)?.next().is_none();
        if !empty && !db.exists() {
            return Err(crate::error::precondition(format!(
                "{} exists and is not a demo folder (no demo.db): choose another --dir",
                dir.display()
            ))
            .into());
        }
        std::fs::remove_dir_all(dir).with_context(|| format!("removing old {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let fx = dir.join("fixtures");
    std::fs::create_dir_all(&fx)?;
    for (name, body) in FIXTURES {
        std::fs::write(fx.join(name), body)?;
    }
    if !ctx.quiet {
        crate::outln!(
            "{}",
            ctx.bold(&format!(
                "billrun demo: a month-end run for a small UK provider, in {}",
                dir.display()
            ))
        );
    }
    let f = |n: &str| fx.join(n).display().to_string();
    step(ctx, &db, dir, &["init"])?;
    for (k, v) in SETTINGS {
        step(ctx, &db, dir, &["config", "set", k, v])?;
    }
    step(ctx, &db, dir, &["tariffs", "import", &f("tariffs.csv")])?;
    step(ctx, &db, dir, &["plans", "import", &f("plans.csv")])?;
    // The mobile plan includes 100 UK minutes, unlimited texts and 10 GB;
    // business lines share 500 UK minutes per customer (a pool).
    step(
        ctx,
        &db,
        dir,
        &["allowances", "import", &f("allowances.csv")],
    )?;
    step(ctx, &db, dir, &["allowances", "list"])?;
    step(ctx, &db, dir, &["customers", "import", &f("customers.csv")])?;
    step(ctx, &db, dir, &["services", "import", &f("services.csv")])?;
    step(ctx, &db, dir, &["customers", "list"])?;
    step(
        ctx,
        &db,
        dir,
        &[
            "new",
            "--invoice-date",
            "2026-12-01",
            "--cutoff",
            "2026-11-30",
        ],
    )?;
    // Money in and one-offs: payments received in November, a goodwill
    // credit for an outage, and a one-off engineer visit.
    // The demo's month is fixed (November 2026): its payment dates drift
    // out of the date window as time passes, hence --allow-date.
    step(
        ctx,
        &db,
        dir,
        &["payments", "import", &f("payments.csv"), "--allow-date"],
    )?;
    step(
        ctx,
        &db,
        dir,
        &[
            "charge",
            "add",
            "--account",
            "C1002",
            "--amount",
            "-15.00",
            "--description",
            "Goodwill credit: line outage 12 November",
            "--service",
            "01134960001",
            "--date",
            "2026-11-13",
        ],
    )?;
    step(
        ctx,
        &db,
        dir,
        &[
            "charge",
            "add",
            "--account",
            "C1005",
            "--amount",
            "85.00",
            "--description",
            "Engineer visit: internal wiring",
            "--date",
            "2026-11-20",
        ],
    )?;
    step(ctx, &db, dir, &["charge", "list", "--unbilled"])?;
    step(ctx, &db, dir, &["status", "1"])?;
    step(ctx, &db, dir, &["payments", "list", "--unallocated"])?;
    step(ctx, &db, dir, &["confirm", "1", "payments"])?;
    cdr_walk(ctx, &db, dir, &f)?;
    step(ctx, &db, dir, &["ready", "1"])?;
    step(
        ctx,
        &db,
        dir,
        &["prebill", "1", "--csv", "{dir}/prebill-2026-11.csv"],
    )?;
    step(ctx, &db, dir, &["confirm", "1", "prebill"])?;
    step(ctx, &db, dir, &["status", "1"])?;
    step(ctx, &db, dir, &["request", "1"])?;
    step(ctx, &db, dir, &["invoices", "1"])?;
    step(ctx, &db, dir, &["invoices", "show", "NFV-010001"])?;
    // A billing mistake found after production: a credit note (its own
    // number and PDF), emailed, exported to Xero and taken off the debit.
    step(
        ctx,
        &db,
        dir,
        &[
            "credit",
            "add",
            "NFV-010001",
            "--amount",
            "5.00",
            "--reason",
            "Goodwill: broadband outage on 12 November",
        ],
    )?;
    step(ctx, &db, dir, &["credit", "list", "1"])?;
    step(ctx, &db, dir, &["postbill", "1"])?;
    step(ctx, &db, dir, &["confirm", "1", "postbill"])?;
    step(ctx, &db, dir, &["print", "1", "--out", "{dir}/print"])?;
    let mailbox = email_walk(ctx, &db, dir)?;
    step(
        ctx,
        &db,
        dir,
        &["xero", "export", "1", "--out", "{dir}/xero-2026-11.csv"],
    )?;
    step(ctx, &db, dir, &["status", "1"])?;
    step(
        ctx,
        &db,
        dir,
        &["collect", "dd", "1", "--out", "{dir}/dd-2026-11.txt"],
    )?;
    step(
        ctx,
        &db,
        dir,
        &["collect", "card", "1", "--out", "{dir}/cards-2026-11.csv"],
    )?;
    let results = bank_results(ctx, &db, dir)?;
    step(ctx, &db, dir, &["collect", "results", &results])?;
    step(ctx, &db, dir, &["collect", "list"])?;
    step(ctx, &db, dir, &["collect", "show", "1"])?;
    step(ctx, &db, dir, &["audit", "1"])?;
    let code = step(ctx, &db, dir, &["status", "1"])?;
    act2::autopilot_month(ctx, dir, &mailbox, mailbox.messages().len())?;
    Ok(code)
}
