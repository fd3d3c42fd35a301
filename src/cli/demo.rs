//! `billrun demo`: a fresh database from the shipped fixtures (embedded in
//! the binary, so it runs from anywhere), walked through a billing run with
//! the same commands an operator types. Each command is printed, then run.

use super::output::Ctx;
use anyhow::Context;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
        include_str!("../../fixtures/customers.csv"),
    ),
    ("plans.csv", include_str!("../../fixtures/plans.csv")),
    ("services.csv", include_str!("../../fixtures/services.csv")),
    ("tariffs.csv", include_str!("../../fixtures/tariffs.csv")),
];

const SETTINGS: &[(&str, &str)] = &[
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
];

fn step(ctx: &Ctx, db: &Path, dir: &Path, args: &[&str]) -> anyhow::Result<ExitCode> {
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
        println!("\n{}", ctx.bold(&format!("$ billrun {}", shown.join(" "))));
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
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let db = dir.join("demo.db");
    for ext in ["", "-wal", "-shm"] {
        let p = PathBuf::from(format!("{}{ext}", db.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing old {}", p.display()))?;
        }
    }
    // Outputs of an earlier demo (`xero export` never overwrites a file).
    let outbox = dir.join("outbox");
    if outbox.exists() {
        std::fs::remove_dir_all(&outbox)
            .with_context(|| format!("removing old {}", outbox.display()))?;
    }
    let xero_file = dir.join("xero-2026-11.csv");
    if xero_file.exists() {
        std::fs::remove_file(&xero_file)
            .with_context(|| format!("removing old {}", xero_file.display()))?;
    }
    let fx = dir.join("fixtures");
    std::fs::create_dir_all(&fx)?;
    for (name, body) in FIXTURES {
        std::fs::write(fx.join(name), body)?;
    }
    if !ctx.quiet {
        println!(
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
    step(ctx, &db, dir, &["status", "1"])?;
    step(ctx, &db, dir, &["confirm", "1", "payments"])?;
    step(ctx, &db, dir, &["confirm", "1", "cdrs"])?;
    step(ctx, &db, dir, &["confirm", "1", "errors"])?;
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
    step(ctx, &db, dir, &["postbill", "1"])?;
    step(ctx, &db, dir, &["confirm", "1", "postbill"])?;
    step(ctx, &db, dir, &["print", "1", "--out", "{dir}/print"])?;
    // Delivery: the emails as .eml files (no SMTP server needed), then Xero.
    step(ctx, &db, dir, &["email", "1", "--dry-run", "{dir}/outbox"])?;
    step(
        ctx,
        &db,
        dir,
        &["xero", "export", "1", "--out", "{dir}/xero-2026-11.csv"],
    )?;
    step(ctx, &db, dir, &["audit", "1"])?;
    step(ctx, &db, dir, &["status", "1"])
}
