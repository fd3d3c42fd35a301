//! `billrun collect dd | card | results | list | show`: payment runs (SPEC §11).
//!
//! Payment files are written mode 0600, atomically (a temporary file in the
//! same folder, then renamed), and never over an existing file. Bank account
//! numbers and card tokens are masked everywhere except in the payment files.

use super::output::{self, Ctx};
use crate::domain::collect::{self, DdFormat, Effect, ItemState, Kind};
use crate::domain::payfile::{
    self, DebitItem, PayFile, PayFileError, RunInfo,
    aba::{AbaOriginator, DEFAULT_DESCRIPTION, write_aba},
    bacs18::{BacsLabels, BacsOriginator, write_bacs18},
    card_batch::write_card_batch,
    sepa::{SepaCreditor, write_sepa},
};
use crate::domain::{bank, money};
use crate::error::{Error, bad_input, external, precondition};
use crate::gateway::stripe::{ChargeOutcome, ChargeRequest, StripeClient};
use crate::store::{Store, audit::Actor, collect as store, runs, settings};
use crate::whole_file;
use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Direct Debit payment run of a billing run, as a file in `dd.format`.
    Dd(DdArgs),
    /// Card payment run: charge through Stripe, or `--out F` for a gateway batch CSV.
    Card(CardArgs),
    /// Import a bank/gateway results file (reference, status, reason).
    Results(ResultsArgs),
    /// List payment runs.
    List,
    /// One payment run with its items.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct DdArgs {
    /// Run id or name.
    pub run: String,
    /// Payment file to write (default: next to the database,
    /// `collect-<payment run>-<format>.<ext>`). Never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Collection date (default: the invoices' due date, or today if later).
    #[arg(long)]
    pub date: Option<NaiveDate>,
    /// Also retry declined, dishonoured and failed collections (up to collect.max_retries).
    #[arg(long)]
    pub retry_failed: bool,
}

#[derive(Debug, clap::Args)]
pub struct CardArgs {
    /// Run id or name.
    pub run: String,
    /// Write a gateway batch CSV instead of charging through Stripe.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also retry declined and failed charges (up to collect.max_retries).
    #[arg(long)]
    pub retry_failed: bool,
}

#[derive(Debug, clap::Args)]
pub struct ResultsArgs {
    /// CSV with columns reference, status (approved|declined|dishonoured|refer), reason.
    pub file: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Payment run id.
    pub id: i64,
}

pub fn exec(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    cmd: Cmd,
) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Dd(a) => dd(ctx, store, actor, db, a).map(|_| ExitCode::SUCCESS),
        Cmd::Card(a) => card(ctx, store, actor, db, a),
        Cmd::Results(a) => results(ctx, store, actor, a),
        Cmd::List => list(ctx, store).map(|_| ExitCode::SUCCESS),
        Cmd::Show(a) => show(ctx, store, a).map(|_| ExitCode::SUCCESS),
    }
}

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// The billing run, which must have its invoices produced.
fn produced_run(store: &Store, key: &str) -> anyhow::Result<runs::Run> {
    let run = runs::resolve(&store.conn, key)?;
    if run.status != crate::domain::lifecycle::RunStatus::Completed {
        return Err(precondition(format!(
            "run {} is {}: invoices are collected once they are produced (status completed); see `billrun status {}`",
            run.id,
            run.status.as_str(),
            run.id
        ))
        .into());
    }
    Ok(run)
}

fn setting(store: &Store, key: &str) -> anyhow::Result<String> {
    Ok(settings::get(&store.conn, key)?.unwrap_or_default())
}

/// Masked payee for display: sort code/BSB and account, IBAN, or card token.
fn payee(c: &store::Candidate, kind: Kind, format: Option<DdFormat>) -> String {
    let opt = |o: &Option<String>| o.as_deref().unwrap_or("").trim().to_string();
    match (kind, format) {
        (Kind::Card, _) => c
            .card_token
            .as_deref()
            .map(bank::mask_token)
            .unwrap_or_default(),
        (Kind::Dd, Some(DdFormat::Sepa)) => format!("IBAN {}", bank::mask_account(&opt(&c.iban))),
        _ => format!(
            "{} {}",
            opt(&c.branch),
            bank::mask_account(&opt(&c.bank_account))
        ),
    }
}

fn debit_item(c: &store::Candidate, sequence: payfile::Sequence) -> DebitItem {
    DebitItem {
        reference: collect::item_reference(&c.number, c.attempt),
        account: c.account.clone(),
        account_name: c
            .bank_account_name
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| c.customer_name.clone()),
        branch: c.branch.clone(),
        bank_account: c.bank_account.clone(),
        iban: c.iban.clone(),
        bic: c.bic.clone(),
        mandate_ref: c.mandate_ref.clone(),
        mandate_date: c.mandate_date,
        card_token: c.card_token.clone(),
        amount: money::from_minor(c.outstanding_minor),
        sequence,
    }
}

/// A writer's refusal as an error with the right exit code: settings are a
/// precondition (configure first), items are bad input.
fn payfile_error(e: PayFileError) -> Error {
    match &e {
        PayFileError::Invalid { settings, .. } if !settings.is_empty() => {
            precondition(format!("{e}\nset them with `billrun config set KEY VALUE`"))
        }
        PayFileError::Internal(_) => external(e.to_string()),
        _ => bad_input(format!(
            "{e}\nfix the customers' details (`billrun customers import F`) and run it again"
        )),
    }
}

/// `bytes` for `path`, synced in a temporary file beside it (mode 0600),
/// to be put in place with [`whole_file::place_new`]; an existing file at
/// `path` is refused.
fn stage_private(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile, Error> {
    if path.exists() {
        return Err(precondition(format!(
            "{} already exists: payment files are never overwritten; choose another --out \
             (if it is left from an interrupted run that `billrun collect list` does not show, delete it)",
            path.display()
        )));
    }
    whole_file::stage(path, bytes).map_err(|e| {
        external(format!(
            "cannot write a temporary file beside {}: {e}",
            path.display()
        ))
    })
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn default_out(db: &Path, id: i64, stem: &str, ext: &str) -> PathBuf {
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    dir.join(format!("collect-{id}-{stem}.{ext}"))
}

fn print_unsuitable(ctx: &Ctx, unsuitable: &[payfile::Unsuitable]) {
    if !unsuitable.is_empty() {
        ctx.warn(&format!(
            "{} invoice(s) left out: bank details do not suit the format (fix them and run collect again):",
            unsuitable.len()
        ));
        for u in unsuitable {
            eprintln!("  - {u}");
        }
    }
}

fn unsuitable_json(unsuitable: &[payfile::Unsuitable]) -> serde_json::Value {
    unsuitable
        .iter()
        .map(|u| serde_json::json!({"reference": u.reference, "reason": u.reason}))
        .collect()
}

fn nothing_new(ctx: &Ctx, run: &runs::Run, kind: Kind) -> anyhow::Result<()> {
    ctx.say(&format!(
        "nothing new to collect by {} for run {}: every invoice with an amount due is in a payment run \
         (see `billrun collect list`; --retry-failed retries failed collections)",
        if kind == Kind::Dd { "Direct Debit" } else { "card" },
        run.id
    ));
    if ctx.json {
        output::print_json(&serde_json::json!({"payment_run": null, "items": 0}))?;
    }
    Ok(())
}

/// The plan for a file-based payment run: the file and the items to record.
struct Planned {
    file: PayFile,
    items: Vec<store::NewItem>,
}

/// Build a payment file from candidates; keep the items the file includes.
fn plan(
    cands: &[store::Candidate],
    kind: Kind,
    format: Option<DdFormat>,
    write: impl Fn(&[DebitItem]) -> Result<PayFile, PayFileError>,
) -> Result<Planned, Error> {
    let mut seen_mandates = std::collections::HashSet::new();
    let mut debit = Vec::new();
    let mut seqs = Vec::new();
    for c in cands {
        // A mandate's first collection only once, even with two invoices.
        let first =
            c.first_for_mandate && seen_mandates.insert((c.account.clone(), c.mandate_ref.clone()));
        let s = collect::dd_sequence(first, c.attempt);
        debit.push(debit_item(c, s));
        seqs.push(s);
    }
    let file = write(&debit).map_err(payfile_error)?;
    let mut items = Vec::new();
    for r in &file.included {
        let Some(i) = debit.iter().position(|d| d.reference.trim() == r) else {
            continue;
        };
        let c = &cands[i];
        items.push(store::NewItem {
            invoice_id: c.invoice_id,
            account: c.account.clone(),
            reference: debit[i].reference.clone(),
            amount_minor: c.outstanding_minor,
            sequence: format.map(|f| collect::sequence_code(f, seqs[i]).to_string()),
            mandate_ref: if kind == Kind::Dd {
                c.mandate_ref.clone()
            } else {
                None
            },
            attempt: c.attempt,
            idempotency_key: None,
            payee_masked: payee(c, kind, format),
            card_token: None,
        });
    }
    Ok(Planned { file, items })
}

/// Record the payment run and write its file: the file is staged (written
/// and synced under a temporary name), the run committed durably
/// (`synchronous=FULL` on this connection), and only then is the file
/// renamed into place: a submittable file always has its payment run on
/// disk. A kill in between leaves the staged file as `.<name>.XXXXXX.tmp`
/// beside the file's path; a failed rename names it in the error.
#[allow(clippy::too_many_arguments)]
fn write_run(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    run: &runs::Run,
    kind: Kind,
    format_name: &str,
    ext: &str,
    out: Option<PathBuf>,
    collection_date: Option<NaiveDate>,
    retry_failed: bool,
    build: impl Fn(&[store::Candidate], &RunInfo) -> Result<Planned, Error>,
) -> anyhow::Result<()> {
    let max = store::max_retries(&store.conn)?;
    let currency = setting(store, "currency")?;
    // The commit must be on disk before the file is put in place (the
    // store's default, NORMAL, leaves the WAL's sync to the next checkpoint).
    store.conn.pragma_update(None, "synchronous", "FULL")?;
    let tx = store.write()?;
    let cands = store::candidates(&tx, run.id, kind, max, retry_failed)?;
    if cands.is_empty() {
        drop(tx);
        return nothing_new(ctx, run, kind);
    }
    let id = store::next_id(&tx)?;
    let date = collection_date.unwrap_or_else(|| {
        cands
            .iter()
            .filter_map(|c| c.due_date)
            .max()
            .unwrap_or_else(today)
            .max(today())
    });
    let info = RunInfo {
        collection_date: date,
        created: chrono::Local::now().naive_local(),
        run_number: u32::try_from(id).unwrap_or(0),
    };
    let planned = build(&cands, &info)?;
    let path = out.unwrap_or_else(|| default_out(db, id, format_name, ext));
    // The file is written under a temporary name, the payment run is
    // committed, and only then is the file renamed into place: a kill at any
    // moment never leaves a submittable file that no payment run records.
    let staged = stage_private(&path, &planned.file.contents)?;
    let nr = store::NewRun {
        run_id: run.id,
        kind,
        format: format_name.to_string(),
        collection_date: (kind == Kind::Dd).then_some(date),
        currency,
        file: Some(path.display().to_string()),
        sha256: Some(sha256_hex(&planned.file.contents)),
    };
    let recorded = store::create(&tx, actor, &nr, &planned.items).and_then(|pid| {
        tx.commit()?;
        Ok(pid)
    });
    // Not recorded: the staged file is dropped, which removes it.
    let pid = recorded?;
    whole_file::place_new(staged, &path).map_err(|e| {
        let what = match &e {
            whole_file::PlaceError::NotSynced(_) => {
                "check the file is there before submitting it".to_string()
            }
            whole_file::PlaceError::Exists(kept) => format!(
                "compare the two: submit {} under the name you choose, and only once",
                kept.display()
            ),
            whole_file::PlaceError::NotPlaced(kept, _) => format!(
                "rename {} to {} before submitting it",
                kept.display(),
                path.display()
            ),
        };
        external(format!(
            "payment run {pid} is recorded, but its file {}: {e}; {what}",
            path.display()
        ))
    })?;
    print_unsuitable(ctx, &planned.file.unsuitable);
    ctx.say(&format!(
        "payment run {pid}: {} {} file {} (mode 0600): {} invoice(s), total {}{}",
        kind.as_str(),
        format_name,
        path.display(),
        planned.items.len(),
        money::fmt_minor(planned.file.total_minor),
        if kind == Kind::Dd {
            format!(", collection date {date}")
        } else {
            String::new()
        }
    ));
    ctx.say(&format!(
        "next: submit the file, then `billrun collect results RESULTS.csv`; `billrun collect show {pid}`"
    ));
    if ctx.json {
        output::print_json(&serde_json::json!({
            "payment_run": pid, "kind": kind.as_str(), "format": format_name,
            "file": path, "sha256": nr.sha256, "collection_date": nr.collection_date,
            "items": planned.items.len(), "total": money::fmt_minor(planned.file.total_minor),
            "included": planned.file.included,
            "unsuitable": unsuitable_json(&planned.file.unsuitable),
        }))?;
    }
    Ok(())
}

fn dd(ctx: &Ctx, store: &mut Store, actor: &Actor, db: &Path, a: DdArgs) -> anyhow::Result<()> {
    let run = produced_run(store, &a.run)?;
    let format: DdFormat = setting(store, "dd.format")?.parse().map_err(precondition)?;
    let s = |k: &str| setting(store, k);
    let bacs = BacsOriginator {
        sun: s("dd.sun")?,
        sort_code: s("dd.sort_code")?,
        account: s("dd.account")?,
        name: s("dd.name")?,
        labels: BacsLabels::Full,
    };
    let aba = AbaOriginator {
        bank: s("dd.bank")?,
        user_name: s("dd.user_name")?,
        user_id: s("dd.user_id")?,
        description: DEFAULT_DESCRIPTION.into(),
        bsb: s("dd.bsb")?,
        account: s("dd.account")?,
        remitter: s("dd.remitter")?,
    };
    let sepa = SepaCreditor {
        creditor_id: s("dd.creditor_id")?,
        iban: s("dd.iban")?,
        bic: s("dd.bic")?,
        name: s("dd.name")?,
    };
    write_run(
        ctx,
        store,
        actor,
        db,
        &run,
        Kind::Dd,
        format.as_str(),
        format.extension(),
        a.out,
        a.date,
        a.retry_failed,
        |cands, info| {
            plan(cands, Kind::Dd, Some(format), |items| match format {
                DdFormat::Bacs18 => write_bacs18(&bacs, info, items),
                DdFormat::Aba => write_aba(&aba, info, items),
                DdFormat::Sepa => write_sepa(&sepa, info, items),
            })
        },
    )
}

fn card(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    db: &Path,
    a: CardArgs,
) -> anyhow::Result<ExitCode> {
    let run = produced_run(store, &a.run)?;
    if a.out.is_some() {
        let currency = setting(store, "currency")?;
        write_run(
            ctx,
            store,
            actor,
            db,
            &run,
            Kind::Card,
            "card_batch",
            "csv",
            a.out,
            None,
            a.retry_failed,
            |cands, _| {
                plan(cands, Kind::Card, None, |items| {
                    write_card_batch(items, &currency)
                })
            },
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    charge(ctx, store, actor, &run, a.retry_failed)
}

/// One charge's line for the report.
#[derive(serde::Serialize)]
struct Charged {
    reference: String,
    account: String,
    card: String,
    amount: String,
    state: &'static str,
    reason: Option<String>,
    gateway_id: Option<String>,
}

/// Charge card invoices through Stripe. The item, with its idempotency key,
/// is committed before each request; the outcome is recorded after it in a
/// transaction of its own. Items that got no answer (a crash, a network
/// failure) are re-sent with their recorded key first: Stripe replays the
/// first result, so nothing is charged twice.
fn charge(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    run: &runs::Run,
    retry_failed: bool,
) -> anyhow::Result<ExitCode> {
    let key = std::env::var("STRIPE_API_KEY")
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            precondition(
                "STRIPE_API_KEY is not set: export your Stripe secret key (it is never stored as a setting), \
                 or write a gateway batch file with `billrun collect card RUN --out FILE`",
            )
        })?;
    let base = setting(store, "stripe.api_base")?;
    let client = StripeClient::new(&base, key, Duration::from_secs(30));
    let max = store::max_retries(&store.conn)?;

    // Charges that got no recorded answer are re-sent with their key, but
    // only while Stripe surely remembers it; older ones need the operator.
    let now = chrono::Utc::now();
    let (mut todo, expired): (Vec<_>, Vec<_>) =
        store::unanswered_gateway_items(&store.conn, run.id)?
            .into_iter()
            .partition(|it| {
                chrono::DateTime::parse_from_rfc3339(&it.created_at)
                    .is_ok_and(|t| collect::may_resend(t.to_utc(), now))
            });
    for it in &expired {
        ctx.warn(&format!(
            "{}: its charge of {} got no recorded answer and its idempotency key {} was first used at {}, \
             more than {} hours ago: Stripe may have forgotten the key, so it is not re-sent (that could \
             charge the card twice). Find the PaymentIntent with metadata reference {} in the Stripe \
             dashboard and record its outcome with `billrun collect results FILE` (reference,status,reason)",
            it.reference,
            money::fmt_minor(it.amount_minor),
            it.idempotency_key.as_deref().unwrap_or(""),
            it.created_at,
            collect::IDEMPOTENCY_KEY_TRUSTED_HOURS,
            it.reference,
        ));
    }
    if !todo.is_empty() {
        ctx.say(&format!(
            "resuming {} charge(s) that got no recorded answer, with their original idempotency keys",
            todo.len()
        ));
    }
    let mut unsuitable = Vec::new();
    let mut new_run = None;
    {
        let currency = setting(store, "currency")?;
        let tx = store.write()?;
        let cands = store::candidates(&tx, run.id, Kind::Card, max, retry_failed)?;
        let mut items = Vec::new();
        for c in &cands {
            let token = c.card_token.as_deref().map(str::trim).unwrap_or("");
            if token.is_empty() {
                unsuitable.push(payfile::Unsuitable {
                    reference: c.number.clone(),
                    reason: "no card token".into(),
                });
                continue;
            }
            items.push(store::NewItem {
                invoice_id: c.invoice_id,
                account: c.account.clone(),
                reference: collect::item_reference(&c.number, c.attempt),
                amount_minor: c.outstanding_minor,
                sequence: None,
                mandate_ref: None,
                attempt: c.attempt,
                idempotency_key: Some(collect::idempotency_key(&c.number, c.attempt)),
                payee_masked: payee(c, Kind::Card, None),
                card_token: c.card_token.clone(),
            });
        }
        if !items.is_empty() {
            let nr = store::NewRun {
                run_id: run.id,
                kind: Kind::Card,
                format: "stripe".into(),
                collection_date: None,
                currency,
                file: None,
                sha256: None,
            };
            let pid = store::create(&tx, actor, &nr, &items)?;
            tx.commit()?;
            new_run = Some(pid);
            todo.extend(store::items(&store.conn, pid)?);
        }
    }
    print_unsuitable(ctx, &unsuitable);
    let needs_operator = |code: ExitCode| -> anyhow::Result<ExitCode> {
        if expired.is_empty() {
            Ok(code)
        } else {
            Err(precondition(format!(
                "{} card charge(s) of run {} need the operator (see above): their outcome is unknown \
                 and too old to re-send safely",
                expired.len(),
                run.id
            ))
            .into())
        }
    };
    if todo.is_empty() {
        nothing_new(ctx, run, Kind::Card)?;
        return needs_operator(ExitCode::SUCCESS);
    }
    if let Some(pid) = new_run {
        ctx.say(&format!(
            "payment run {pid}: charging {} card invoice(s) through {base}",
            todo.len()
        ));
    }
    let fee = dishonour_fee(store)?;
    let mut report = Vec::new();
    let mut unanswered = 0;
    for item in &todo {
        let req = ChargeRequest {
            amount_minor: item.amount_minor,
            currency: item.currency.to_ascii_lowercase(),
            payment_method: item.card_token.clone().unwrap_or_default(),
            customer: None,
            description: format!("Invoice {}", item.invoice),
            idempotency_key: item.idempotency_key.clone().unwrap_or_default(),
            metadata: vec![
                ("invoice".into(), item.invoice.clone()),
                ("account".into(), item.account.clone()),
                ("reference".into(), item.reference.clone()),
            ],
        };
        let outcome = client.create_payment_intent(&req);
        let tx = store.write()?;
        // Re-read: a racing invocation may have recorded it already.
        let Some(cur) = store::item(&tx, item.id)? else {
            continue;
        };
        let (state, reason, gid) = if cur.state != ItemState::Live || cur.gateway_id.is_some() {
            (
                cur.state.as_str(),
                cur.reason.clone(),
                cur.gateway_id.clone(),
            )
        } else {
            record_outcome(&tx, actor, &cur, &outcome, fee, &mut unanswered)?
        };
        tx.commit()?;
        let line = Charged {
            reference: cur.reference.clone(),
            account: cur.account.clone(),
            card: cur.payee.clone(),
            amount: money::fmt_minor(cur.amount_minor),
            state,
            reason,
            gateway_id: gid,
        };
        if !ctx.json {
            ctx.say(&format!(
                "  {} {} {} {} {}{}",
                line.reference,
                line.account,
                line.card,
                line.amount,
                line.state,
                line.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ));
        }
        report.push(line);
    }
    let approved = report.iter().filter(|l| l.state == "approved").count();
    let failed = report
        .iter()
        .filter(|l| matches!(l.state, "declined" | "failed"))
        .count();
    ctx.say(&format!(
        "{approved} charged, {failed} failed (shown in `billrun status {}`), {} awaiting an answer",
        run.id,
        report.len() - approved - failed
    ));
    if ctx.json {
        output::print_json(&serde_json::json!({
            "payment_run": new_run, "charges": report,
            "unsuitable": unsuitable_json(&unsuitable),
        }))?;
    }
    if unanswered > 0 {
        return Err(external(format!(
            "{unanswered} charge(s) got no answer from Stripe; nothing is lost: run `billrun collect card {}` again \
             to retry them with the same idempotency keys (no card is charged twice)",
            run.id
        ))
        .into());
    }
    needs_operator(ExitCode::SUCCESS)
}

/// Record a gateway outcome on a live item. Returns (state, reason, gateway id).
fn record_outcome(
    conn: &rusqlite::Connection,
    actor: &Actor,
    item: &store::Item,
    outcome: &ChargeOutcome,
    fee: i64,
    unanswered: &mut u32,
) -> anyhow::Result<(&'static str, Option<String>, Option<String>)> {
    Ok(match outcome {
        ChargeOutcome::Succeeded { id } => {
            store::approve(conn, actor, item, today(), Some(id), None)?;
            ("approved", None, Some(id.clone()))
        }
        ChargeOutcome::RequiresAction { id } => {
            let r = "requires_action: the bank wants the customer to authenticate (3-D Secure); \
                     ask them to pay online"
                .to_string();
            store::fail(
                conn,
                actor,
                item,
                ItemState::Failed,
                Some(&r),
                Some(id),
                today(),
                0,
            )?;
            ("failed", Some(r), Some(id.clone()))
        }
        ChargeOutcome::Declined {
            code,
            decline_code,
            message,
            id,
        } => {
            let r = match decline_code {
                Some(d) => format!("{code} ({d}): {message}"),
                None => format!("{code}: {message}"),
            };
            store::fail(
                conn,
                actor,
                item,
                ItemState::Declined,
                Some(&r),
                id.as_deref(),
                today(),
                fee,
            )?;
            ("declined", Some(r), id.clone())
        }
        ChargeOutcome::Pending { id, status } => {
            let r = format!(
                "Stripe status {status}: not finished; record the result with `billrun collect results`"
            );
            store::note_live(conn, actor, item, &r, Some(id))?;
            ("live", Some(r), Some(id.clone()))
        }
        ChargeOutcome::Failed {
            reason,
            retryable: true,
        } => {
            *unanswered += 1;
            let r = format!("no answer: {reason}; re-run to retry with the same key");
            store::note_live(conn, actor, item, &r, None)?;
            ("live", Some(r), None)
        }
        ChargeOutcome::Failed {
            reason,
            retryable: false,
        } => {
            store::fail(
                conn,
                actor,
                item,
                ItemState::Failed,
                Some(reason),
                None,
                today(),
                0,
            )?;
            ("failed", Some(reason.clone()), None)
        }
    })
}

fn dishonour_fee(store: &Store) -> anyhow::Result<i64> {
    let v = settings::get_or(&store.conn, "collect.dishonour_fee", "0")?;
    let d = money::parse(&v).map_err(|e| precondition(format!("collect.dishonour_fee: {e}")))?;
    Ok(money::to_minor(d))
}

/// What one results row did.
#[derive(serde::Serialize)]
struct Applied {
    line: u64,
    reference: String,
    account: String,
    invoice: String,
    amount: String,
    from: &'static str,
    to: &'static str,
    effect: &'static str,
}

/// `collect results F`. All or nothing for bad rows (file:line problems,
/// including a status the item cannot take); unknown references are
/// reported and skipped, the other rows applied, and the exit code is 4.
fn results(
    ctx: &Ctx,
    store: &mut Store,
    actor: &Actor,
    a: ResultsArgs,
) -> anyhow::Result<ExitCode> {
    let label = output::file_label(&a.file);
    let bytes = output::read_input(&a.file)?;
    let rows =
        collect::parse_results(&label, &bytes).map_err(|p| bad_input(collect::report(&p)))?;
    let fee = dishonour_fee(store)?;
    let tx = store.write()?;
    let mut problems = Vec::new();
    let mut unknown = Vec::new();
    let mut changes = Vec::new();
    for r in &rows {
        match store::item_by_reference(&tx, &r.reference)? {
            None => unknown.push(r),
            Some(item) => match collect::effect(item.state, r.status) {
                Ok(e) => changes.push((r, item, e)),
                Err(why) => problems.push(crate::domain::csvfile::Problem {
                    file: label.clone(),
                    line: r.line,
                    col: None,
                    column: Some("status".into()),
                    reason: format!("{}: {why}", r.reference),
                }),
            },
        }
    }
    if !problems.is_empty() {
        return Err(bad_input(collect::report(&problems)).into());
    }
    let mut applied = Vec::new();
    for (r, item, e) in changes {
        let reason = r.reason.as_deref();
        let effect = match e {
            Effect::Unchanged => "unchanged",
            Effect::Approve => {
                store::approve(&tx, actor, &item, today(), None, reason)?;
                "payment recorded"
            }
            Effect::Fail { reverse } => {
                store::fail(
                    &tx,
                    actor,
                    &item,
                    r.status.state(),
                    reason,
                    None,
                    today(),
                    fee,
                )?;
                if reverse {
                    "payment reversed"
                } else {
                    "invoice stays due"
                }
            }
            Effect::Refer => {
                store::refer(&tx, actor, &item, reason)?;
                "retried by the next payment run"
            }
        };
        applied.push(Applied {
            line: r.line,
            reference: item.reference.clone(),
            account: item.account.clone(),
            invoice: item.invoice.clone(),
            amount: money::fmt_minor(item.amount_minor),
            from: item.state.as_str(),
            to: r.status.state().as_str(),
            effect,
        });
    }
    crate::store::audit::log(
        &tx,
        actor,
        None,
        "collect results",
        &format!(
            "{label}: {} rows applied, {} unknown references",
            applied.len(),
            unknown.len()
        ),
    )?;
    tx.commit()?;
    if ctx.json {
        output::print_json(&serde_json::json!({
            "file": label, "applied": applied,
            "unknown": unknown.iter().map(|r| serde_json::json!({"line": r.line, "reference": r.reference})).collect::<Vec<_>>(),
        }))?;
    } else if !ctx.quiet {
        let mut t = ctx.table(&[
            "line",
            "reference",
            "account",
            "amount",
            "was",
            "now",
            "effect",
        ]);
        for x in &applied {
            t.add_row(vec![
                x.line.to_string(),
                x.reference.clone(),
                x.account.clone(),
                x.amount.clone(),
                x.from.to_string(),
                x.to.to_string(),
                x.effect.to_string(),
            ]);
        }
        output::print_table(ctx, &t)?;
    }
    let count = |s: &str| applied.iter().filter(|x| x.to == s && x.from != s).count();
    ctx.say(&format!(
        "{label}: {} approved, {} declined, {} dishonoured, {} referred, {} unchanged",
        count("approved"),
        count("declined"),
        count("dishonoured"),
        count("refer"),
        applied.iter().filter(|x| x.from == x.to).count()
    ));
    if !unknown.is_empty() {
        for r in &unknown {
            eprintln!(
                "error: {label}:{}: reference '{}' is not in any payment run; nothing changed for it",
                r.line, r.reference
            );
        }
        eprintln!(
            "error: {} unknown reference(s); the other rows were applied (importing the file again is harmless)",
            unknown.len()
        );
        return Ok(ExitCode::from(4));
    }
    Ok(ExitCode::SUCCESS)
}

fn list(ctx: &Ctx, store: &Store) -> anyhow::Result<()> {
    let all = store::list(&store.conn)?;
    if ctx.json {
        let v: Vec<_> = all.iter().map(run_json).collect();
        return output::print_json(&v);
    }
    if all.is_empty() {
        ctx.say("no payment runs yet: `billrun collect dd RUN` or `billrun collect card RUN`");
        return Ok(());
    }
    let mut t = ctx.table(&[
        "id", "run", "kind", "format", "date", "state", "items", "total", "approved", "failed",
        "refer", "live", "file",
    ]);
    for p in &all {
        t.add_row(vec![
            p.id.to_string(),
            p.run_name.clone(),
            p.kind.clone(),
            p.format.clone(),
            p.collection_date.clone().unwrap_or_default(),
            p.state.clone(),
            p.items.to_string(),
            money::fmt_minor(p.total_minor),
            p.approved.to_string(),
            p.failed.to_string(),
            p.referred.to_string(),
            p.live.to_string(),
            p.file.clone().unwrap_or_default(),
        ]);
    }
    output::print_table(ctx, &t)
}

fn run_json(p: &store::PaymentRun) -> serde_json::Value {
    serde_json::json!({
        "id": p.id, "run": p.run_id, "run_name": p.run_name, "kind": p.kind, "format": p.format,
        "collection_date": p.collection_date, "currency": p.currency, "state": p.state,
        "file": p.file, "sha256": p.sha256, "items": p.items, "total": money::fmt_minor(p.total_minor),
        "approved": p.approved, "approved_total": money::fmt_minor(p.approved_minor),
        "failed": p.failed, "refer": p.referred, "live": p.live,
        "created_at": p.created_at, "created_by": p.created_by,
    })
}

fn show(ctx: &Ctx, store: &Store, a: ShowArgs) -> anyhow::Result<()> {
    let p = store::get(&store.conn, a.id)?.ok_or_else(|| {
        bad_input(format!(
            "no payment run {}: see `billrun collect list`",
            a.id
        ))
    })?;
    let items = store::items(&store.conn, p.id)?;
    if ctx.json {
        let mut doc = run_json(&p);
        doc["items_detail"] = items
            .iter()
            .map(|i| {
                serde_json::json!({
                    "reference": i.reference, "invoice": i.invoice, "account": i.account,
                    "payee": i.payee, "amount": money::fmt_minor(i.amount_minor),
                    "sequence": i.sequence, "attempt": i.attempt, "state": i.state_str(),
                    "reason": i.reason, "gateway_id": i.gateway_id,
                })
            })
            .collect();
        return output::print_json(&doc);
    }
    println!(
        "{}",
        ctx.bold(&format!(
            "Payment run {} — {} {} for run {} '{}' — {}",
            p.id, p.kind, p.format, p.run_id, p.run_name, p.state
        ))
    );
    if let Some(d) = &p.collection_date {
        println!("collection date {d}");
    }
    if let Some(f) = &p.file {
        println!("file {f} (sha256 {})", p.sha256.as_deref().unwrap_or("-"));
    }
    println!(
        "{} items, total {} {}; approved {} ({}), failed {}, refer {}, live {}",
        p.items,
        money::fmt_minor(p.total_minor),
        p.currency,
        p.approved,
        money::fmt_minor(p.approved_minor),
        p.failed,
        p.referred,
        p.live
    );
    let mut t = ctx.table(&[
        "reference",
        "invoice",
        "account",
        "payee",
        "amount",
        "seq",
        "attempt",
        "state",
        "reason",
    ]);
    for i in &items {
        let state = match i.state {
            ItemState::Approved => ctx.green(i.state_str()),
            ItemState::Live => i.state_str().to_string(),
            _ => ctx.red(i.state_str()),
        };
        t.add_row(vec![
            i.reference.clone(),
            i.invoice.clone(),
            i.account.clone(),
            i.payee.clone(),
            money::fmt_minor(i.amount_minor),
            i.sequence.clone().unwrap_or_default(),
            i.attempt.to_string(),
            state,
            i.reason.clone().unwrap_or_default(),
        ]);
    }
    output::print_table(ctx, &t)
}
