//! The demo's second act: the same month on a fresh database, driven by
//! `billrun autopilot` with every rule of the policy on. It stops once, at
//! the billing errors of the PBX file (exit 3, one summary email), and
//! completes after the operator's fix. The autopilot's clock is the
//! demo month's invoice date (the demo's month is fixed).

use super::{FIXTURES, SETTINGS, step};
use crate::cli::output::Ctx;
use crate::gateway::mailbox::SmtpServer;
use crate::ops::StoppedClock;
use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;

/// The policy of the second act: everything on, cards to a batch file
/// (the demo has no Stripe account).
const POLICY: &[(&str, &str)] = &[
    ("auto.fetch_cdrs", "true"),
    ("auto.confirm_payments", "true"),
    ("auto.confirm_cdrs", "true"),
    ("auto.confirm_errors", "true"),
    ("auto.prebill", "true"),
    ("auto.request", "true"),
    ("auto.confirm_postbill", "true"),
    ("auto.xero", "true"),
    ("auto.email", "true"),
    ("auto.print", "true"),
    ("auto.collect", "true"),
    ("auto.card_method", "file"),
    ("notify.email", "ops@northernfibre.example"),
];

/// `$ billrun autopilot`, on the demo month's clock.
fn autopilot(ctx: &Ctx, db: &Path) -> anyhow::Result<ExitCode> {
    if !ctx.quiet {
        crate::outln!(
            "\n{}",
            ctx.bold("$ billrun autopilot    (cron; the clock: 2026-12-01 09:00 UTC)")
        );
    }
    let mut store = crate::cli::open(db)?;
    let at = chrono::DateTime::parse_from_rfc3339("2026-12-01T09:00:00Z")
        .expect("a valid instant")
        .to_utc();
    let code = crate::cli::autopilot::run_with(ctx, &mut store, db, false, &StoppedClock(at))?;
    if !ctx.quiet {
        crate::outln!(
            "{}",
            ctx.dim(&format!(
                "(exit {}: {})",
                if code == ExitCode::from(3) { 3 } else { 0 },
                if code == ExitCode::from(3) {
                    "a person is needed"
                } else {
                    "nothing waits on a person"
                }
            ))
        );
    }
    Ok(code)
}

pub(super) fn autopilot_month(
    ctx: &Ctx,
    dir: &Path,
    mailbox: &SmtpServer,
    told_before: usize,
) -> anyhow::Result<()> {
    let dir = dir.join("autopilot");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let db = dir.join("demo.db");
    let fx = dir.join("fixtures");
    std::fs::create_dir_all(&fx)?;
    for (name, body) in FIXTURES {
        std::fs::write(fx.join(name), body)?;
    }
    let f = |n: &str| fx.join(n).display().to_string();
    if !ctx.quiet {
        crate::outln!(
            "\n{}",
            ctx.bold(&format!(
                "Second act: the same month driven by `billrun autopilot`, in {}",
                dir.display()
            ))
        );
    }
    step(ctx, &db, &dir, &["init"])?;
    let port = mailbox.port().to_string();
    let out = |n: &str| dir.join(n).display().to_string();
    let (print_dir, xero_dir) = (out("print"), dir.display().to_string());
    let mut settings: Vec<(&str, &str)> = SETTINGS.to_vec();
    settings.extend([
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", port.as_str()),
        ("smtp.security", "none"),
        ("smtp.from", "billing@northernfibre.example"),
        ("print.out_dir", print_dir.as_str()),
        ("xero.out_dir", xero_dir.as_str()),
    ]);
    settings.extend(POLICY);
    for (k, v) in settings {
        step(ctx, &db, &dir, &["config", "set", k, v])?;
    }
    for (what, file) in [
        ("tariffs", "tariffs.csv"),
        ("plans", "plans.csv"),
        ("customers", "customers.csv"),
        ("services", "services.csv"),
    ] {
        step(ctx, &db, &dir, &[what, "import", &f(file)])?;
    }
    // The carriers deliver into inboxes; the autopilot fetches from them.
    for (carrier, format, file) in [
        ("northern", "billrun", "northern-2026-11.csv"),
        ("pbx", "asterisk", "pbx-Master.csv"),
    ] {
        let inbox = dir.join("inbox").join(carrier);
        std::fs::create_dir_all(&inbox)?;
        let inbox_s = inbox.display().to_string();
        step(
            ctx,
            &db,
            &dir,
            &[
                "carriers", "add", carrier, "--format", format, "--inbox", &inbox_s,
            ],
        )?;
        std::fs::copy(fx.join(file), inbox.join(file))?;
    }
    step(
        ctx,
        &db,
        &dir,
        &["payments", "import", &f("payments.csv"), "--allow-date"],
    )?;
    step(
        ctx,
        &db,
        &dir,
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
        &dir,
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
    let first = autopilot(ctx, &db)?;
    anyhow::ensure!(
        first == ExitCode::from(3),
        "the demo's autopilot was expected to stop at the billing errors"
    );
    // The operator's fix, as in the first act: the two missing numbers
    // added and re-rated; the rest ignored (told to the carrier) or
    // resolved (disputed).
    step(ctx, &db, &dir, &["errors", "1"])?;
    step(
        ctx,
        &db,
        &dir,
        &["services", "import", &f("found-services.csv")],
    )?;
    step(ctx, &db, &dir, &["errors", "rerate"])?;
    let ids = crate::cli::errors::open_ids(
        &db,
        &["duplicate", "malformed", "no_rate", "unknown_service"],
    )?;
    let mut argv: Vec<&str> = vec!["errors", "ignore"];
    argv.extend(ids.iter().map(String::as_str));
    step(ctx, &db, &dir, &argv)?;
    let ids = crate::cli::errors::open_ids(&db, &["service_inactive"])?;
    let mut argv: Vec<&str> = vec!["errors", "resolve"];
    argv.extend(ids.iter().map(String::as_str));
    step(ctx, &db, &dir, &argv)?;
    let second = autopilot(ctx, &db)?;
    anyhow::ensure!(
        second == ExitCode::SUCCESS,
        "the demo's autopilot was expected to complete the run"
    );
    step(ctx, &db, &dir, &["runs"])?;
    let summaries: Vec<_> = mailbox
        .messages()
        .into_iter()
        .skip(told_before)
        .filter(|m| String::from_utf8_lossy(&m.data).contains("Subject: billrun autopilot"))
        .collect();
    let inbox = dir.join("mailbox");
    std::fs::create_dir_all(&inbox)?;
    for (i, m) in summaries.iter().enumerate() {
        std::fs::write(inbox.join(format!("summary-{}.eml", i + 1)), &m.data)?;
    }
    if !ctx.quiet {
        crate::outln!(
            "(the autopilot sent {} summaries to notify.email: one when it stopped at the billing errors, one when the run completed: {})",
            summaries.len(),
            inbox.display()
        );
    }
    Ok(())
}
