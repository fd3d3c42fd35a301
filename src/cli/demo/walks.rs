//! The demo's stand-ins: the bank's results file and the carriers' CDR
//! files walked through fetch, process and the error steps, and the local
//! mailbox the invoices are emailed to.

use super::step;
use crate::cli::output::Ctx;
use anyhow::Context;
use std::path::Path;

/// Stand in for the bank and the card gateway: a results file approving
/// every item of the demo's payment runs but one Direct Debit, which the
/// payer's bank returns (dishonoured).
pub(super) fn bank_results(ctx: &Ctx, db: &Path, dir: &Path) -> anyhow::Result<String> {
    use crate::store::collect;
    let store = crate::store::Store::open(db)?;
    let mut csv = String::from("reference,status,reason\n");
    let mut dishonoured = false;
    for run in collect::list(&store.conn)? {
        for (i, item) in collect::items(&store.conn, run.id)?.iter().enumerate() {
            if run.kind == "dd" && i == 1 && !dishonoured {
                dishonoured = true;
                csv.push_str(&format!(
                    "{},dishonoured,ARUDD 1 instruction cancelled by payer\n",
                    item.reference
                ));
            } else {
                csv.push_str(&format!("{},approved,\n", item.reference));
            }
        }
    }
    let path = dir.join("results-2026-11.csv");
    std::fs::write(&path, csv).with_context(|| format!("writing {}", path.display()))?;
    if !ctx.quiet {
        crate::outln!(
            "\n{}",
            ctx.dim(&format!(
                "(the bank and the card gateway send back {}: all approved, one Direct Debit dishonoured)",
                path.display()
            ))
        );
    }
    Ok(path.display().to_string())
}

/// The CDR part of the walk: two carriers (a native file and an Asterisk
/// Master.csv, one left pending to show the banner), the billing errors
/// worked top down, then `confirm 1 cdrs` and `confirm 1 errors`.
pub(super) fn cdr_walk(
    ctx: &Ctx,
    db: &Path,
    dir: &Path,
    f: &dyn Fn(&str) -> String,
) -> anyhow::Result<()> {
    // CDRs: two carriers, one native file and one Asterisk Master.csv.
    step(
        ctx,
        db,
        dir,
        &["carriers", "add", "northern", "--format", "billrun"],
    )?;
    step(
        ctx,
        db,
        dir,
        &["carriers", "add", "pbx", "--format", "asterisk"],
    )?;
    step(
        ctx,
        db,
        dir,
        &[
            "cdr",
            "import",
            &f("northern-2026-11.csv"),
            "--carrier",
            "northern",
        ],
    )?;
    step(
        ctx,
        db,
        dir,
        &[
            "cdr",
            "import",
            &f("pbx-Master.csv"),
            "--carrier",
            "pbx",
            "--no-process",
        ],
    )?;
    step(ctx, db, dir, &["status", "1"])?; // the pending-file banner
    step(ctx, db, dir, &["cdr", "process"])?;
    step(ctx, db, dir, &["cdr", "list"])?;
    step(ctx, db, dir, &["confirm", "1", "cdrs"])?;
    // Billing errors, worked top down as an operator would.
    step(ctx, db, dir, &["errors", "1"])?;
    step(
        ctx,
        db,
        dir,
        &["errors", "1", "--kind", "unknown_service", "--detail"],
    )?;
    // The carrier sends 447700900112 for the known 07700900112, and the lab
    // line 01174960099 was never set up: add both numbers, then re-rate.
    step(
        ctx,
        db,
        dir,
        &["services", "import", &f("found-services.csv")],
    )?;
    step(ctx, db, dir, &["errors", "rerate"])?;
    // Duplicates, unreadable lines, calls to unrated destinations and the
    // stranger number are not billed: the carrier is told,
    // and the errors are ignored. The ceased/not-yet-live service calls are
    // disputed with the carrier: resolved.
    for kind in ["duplicate", "malformed", "no_rate"] {
        step(ctx, db, dir, &["errors", "1", "--kind", kind, "--detail"])?;
    }
    let ids = crate::cli::errors::open_ids(
        db,
        &["duplicate", "malformed", "no_rate", "unknown_service"],
    )?;
    let mut argv: Vec<&str> = vec!["errors", "ignore"];
    argv.extend(ids.iter().map(String::as_str));
    step(ctx, db, dir, &argv)?;
    let ids = crate::cli::errors::open_ids(db, &["service_inactive"])?;
    let mut argv: Vec<&str> = vec!["errors", "resolve"];
    argv.extend(ids.iter().map(String::as_str));
    step(ctx, db, dir, &argv)?;
    step(ctx, db, dir, &["errors", "1"])?;
    step(ctx, db, dir, &["confirm", "1", "errors"])?;
    Ok(())
}

/// Delivery: the emails as .eml files first (a dry run), then really sent
/// over SMTP to a local mailbox the demo starts on 127.0.0.1 (a stand-in for
/// the provider's mail server), its messages kept in `DIR/mailbox`.
pub(super) fn email_walk(
    ctx: &Ctx,
    db: &Path,
    dir: &Path,
) -> anyhow::Result<crate::gateway::mailbox::SmtpServer> {
    step(ctx, db, dir, &["email", "1", "--dry-run", "{dir}/outbox"])?;
    let mailbox = crate::gateway::mailbox::SmtpServer::start()
        .context("starting the demo's local SMTP mailbox")?;
    let port = mailbox.port().to_string();
    for (k, v) in [
        ("smtp.host", "127.0.0.1"),
        ("smtp.port", port.as_str()),
        ("smtp.security", "none"),
        ("smtp.from", "billing@northernfibre.example"),
    ] {
        step(ctx, db, dir, &["config", "set", k, v])?;
    }
    step(ctx, db, dir, &["email", "1"])?;
    let inbox = dir.join("mailbox");
    std::fs::create_dir_all(&inbox)?;
    for (i, m) in mailbox.messages().iter().enumerate() {
        std::fs::write(inbox.join(format!("{:03}.eml", i + 1)), &m.data)?;
    }
    if !ctx.quiet {
        crate::outln!(
            "(the local mailbox received {} messages: {})",
            mailbox.messages().len(),
            inbox.display()
        );
    }
    Ok(mailbox)
}
