//! The collection workflows on an in-memory store.

use super::*;
use crate::domain::collect::ItemState;
use crate::domain::settings::Settings;
use crate::error::Error;
use crate::gateway::stripe::fake_stripe::{FakeStripe, Reply};
use crate::ops::{FixedClock, NoProgress};
use crate::store::{Store, audit::Actor, collect::tests::seed};
use chrono::NaiveDate;
use std::path::PathBuf;

fn clock() -> FixedClock {
    FixedClock::on(NaiveDate::from_ymd_opt(2026, 12, 2).unwrap())
}

fn settings(extra: &[(&str, &str)]) -> Settings {
    let mut all = vec![
        ("dd.sun", "123456"),
        ("dd.sort_code", "40-12-34"),
        ("dd.account", "12345678"),
        ("dd.name", "NORTHERN FIBRE"),
        ("collect.dishonour_fee", "12.50"),
    ];
    all.extend_from_slice(extra);
    Settings::from_stored(|k| {
        all.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
    .unwrap()
}

/// A completed run with two Direct Debit invoices and one card invoice.
fn store() -> (Store, i64) {
    let s = Store::memory().unwrap();
    let run = seed(
        &s,
        &[
            ("C1001", "INV-1", 1000, "direct_debit"),
            ("C1002", "INV-2", 2000, "direct_debit"),
            ("C1003", "INV-3", 0, "direct_debit"),
            ("C1004", "INV-4", 500, "card"),
        ],
    );
    (s, run)
}

fn dd_opts(run: i64, dir: &tempfile::TempDir) -> DdOptions {
    DdOptions {
        run: run.to_string(),
        out: None,
        date: None,
        retry_failed: false,
        db: dir.path().join("billrun.db"),
        out_dir: None,
    }
}

fn count(s: &Store, sql: &str) -> i64 {
    s.conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_dd_run_writes_its_file_once_then_finds_nothing_new() {
    let (mut s, run) = store();
    let dir = tempfile::tempdir().unwrap();
    let (set, a) = (settings(&[]), Actor::test());
    let report = dd(&mut s, &a, &dd_opts(run, &dir), &set, &clock(), &NoProgress).unwrap();
    let FileRunReport::Written(w) = report else {
        panic!("expected a file: {report:?}")
    };
    assert_eq!(w.payment_run, 1);
    assert_eq!(w.file, dir.path().join("collect-1-bacs18.txt"));
    assert_eq!((w.items, w.total.as_str()), (2, "30.00"));
    assert_eq!(w.included, ["INV-1", "INV-2"]);
    // The due date (Tuesday 15 December) is after the clock's today: it is
    // the debit date, and the Bacs file carries the processing day before.
    assert_eq!(w.debit_date, NaiveDate::from_ymd_opt(2026, 12, 15));
    assert_eq!(w.collection_date, NaiveDate::from_ymd_opt(2026, 12, 14));
    assert_eq!(w.moved_from, None);
    let bytes = std::fs::read(&w.file).unwrap();
    assert!(bytes.starts_with(b"VOL1000001"));
    {
        use sha2::Digest;
        assert_eq!(
            w.sha256.as_deref(),
            Some(hex::encode(sha2::Sha256::digest(&bytes)).as_str())
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&w.file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The run and its items are recorded, masked.
    let shown = show(&s, 1).unwrap();
    assert_eq!(shown.run.state, "created");
    assert_eq!(shown.run.collection_date.as_deref(), Some("2026-12-14"));
    assert_eq!(shown.run.debit_date.as_deref(), Some("2026-12-15"));
    let payees: Vec<&str> = shown
        .items_detail
        .iter()
        .map(|i| i.payee.as_str())
        .collect();
    assert_eq!(payees, ["20-00-00 ****5926", "20-00-00 ****5926"]);
    let seqs: Vec<_> = shown
        .items_detail
        .iter()
        .map(|i| i.sequence.as_deref())
        .collect();
    assert_eq!(seqs, [Some("01"), Some("01")]);

    // Again: nothing new, and no second file.
    let again = dd(&mut s, &a, &dd_opts(run, &dir), &set, &clock(), &NoProgress).unwrap();
    assert!(
        matches!(again, FileRunReport::NothingNew(ref n) if n.run == run && n.kind == "dd"),
        "{again:?}"
    );
    assert_eq!(list(&s).unwrap().len(), 1);
    assert!(!dir.path().join("collect-2-bacs18.txt").exists());
    assert_eq!(count(&s, "SELECT COUNT(*) FROM payment_items"), 2);
}

#[test]
fn a_dd_run_refuses_what_cannot_be_collected() {
    let (mut s, run) = store();
    let dir = tempfile::tempdir().unwrap();
    let a = Actor::test();
    // Settings missing: a precondition, nothing recorded, no file.
    let e = dd(
        &mut s,
        &a,
        &dd_opts(run, &dir),
        &Settings::defaults(),
        &clock(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Precondition(m) if m.contains("dd.sun") && m.contains("config set")),
        "{e}"
    );
    assert_eq!(count(&s, "SELECT COUNT(*) FROM payment_runs"), 0);
    // An existing file is never overwritten.
    let out = dir.path().join("taken.txt");
    std::fs::write(&out, "x").unwrap();
    let mut opts = dd_opts(run, &dir);
    opts.out = Some(out.clone());
    let e = dd(&mut s, &a, &opts, &settings(&[]), &clock(), &NoProgress).unwrap_err();
    assert!(e.to_string().contains("never overwritten"), "{e}");
    assert_eq!(std::fs::read(&out).unwrap(), b"x");
    assert_eq!(count(&s, "SELECT COUNT(*) FROM payment_runs"), 0);
    // A run whose invoices are not produced.
    s.conn
        .execute("UPDATE runs SET status = 'approved'", [])
        .unwrap();
    let e = dd(
        &mut s,
        &a,
        &dd_opts(run, &dir),
        &settings(&[]),
        &clock(),
        &NoProgress,
    )
    .unwrap_err();
    assert!(e.to_string().contains("once they are produced"), "{e}");
}

#[test]
fn results_are_applied_once() {
    let (mut s, run) = store();
    let dir = tempfile::tempdir().unwrap();
    let (set, a) = (settings(&[]), Actor::test());
    dd(&mut s, &a, &dd_opts(run, &dir), &set, &clock(), &NoProgress).unwrap();
    let opts = ResultsOptions {
        label: "r.csv".into(),
        contents: b"reference,status,reason\nINV-1,approved,\nINV-2,dishonoured,no funds\nNOPE,approved,\n"
            .to_vec(),
    };
    let r = results(&mut s, &a, &opts, &set, &clock(), &NoProgress).unwrap();
    let effects: Vec<_> = r.applied.iter().map(|x| (x.from, x.to, x.effect)).collect();
    assert_eq!(
        effects,
        [
            ("live", "approved", "payment recorded"),
            ("live", "dishonoured", "invoice stays due")
        ]
    );
    assert_eq!(r.unknown.len(), 1);
    assert_eq!(
        (r.unknown[0].line, r.unknown[0].reference.as_str()),
        (4, "NOPE")
    );
    assert_eq!((r.moved_to("approved"), r.moved_to("dishonoured")), (1, 1));
    let payments = "SELECT COUNT(*) FROM payments WHERE source = 'collection'";
    let fees = "SELECT COALESCE(SUM(amount_minor), 0) FROM charges WHERE source = 'dishonour_fee'";
    assert_eq!((count(&s, payments), count(&s, fees)), (1, 1250));
    assert_eq!(show(&s, 1).unwrap().run.state, "settled");

    // The same file again changes nothing.
    let again = results(&mut s, &a, &opts, &set, &clock(), &NoProgress).unwrap();
    assert_eq!(again.unchanged(), 2);
    assert!(again.applied.iter().all(|x| x.effect == "unchanged"));
    assert_eq!((count(&s, payments), count(&s, fees)), (1, 1250));

    // A status the item cannot take refuses the whole file.
    let bad = ResultsOptions {
        label: "b.csv".into(),
        contents: b"reference,status\nINV-2,approved\n".to_vec(),
    };
    let e = results(&mut s, &a, &bad, &set, &clock(), &NoProgress).unwrap_err();
    assert!(
        matches!(&e, Error::BadInput(m) if m.contains("b.csv:2")),
        "{e}"
    );

    // The dishonoured invoice is collected again only when asked, as a retry.
    let mut opts = dd_opts(run, &dir);
    assert!(matches!(
        dd(&mut s, &a, &opts, &set, &clock(), &NoProgress).unwrap(),
        FileRunReport::NothingNew(_)
    ));
    opts.retry_failed = true;
    let FileRunReport::Written(w) = dd(&mut s, &a, &opts, &set, &clock(), &NoProgress).unwrap()
    else {
        panic!()
    };
    assert_eq!(w.included, ["INV-2-R1"]);
    assert_eq!(
        show(&s, w.payment_run).unwrap().items_detail[0]
            .sequence
            .as_deref(),
        Some("18")
    );
}

#[test]
fn a_card_batch_file_and_charges_through_the_gateway() {
    let (mut s, run) = store();
    let dir = tempfile::tempdir().unwrap();
    let a = Actor::test();
    let opts = CardFileOptions {
        run: run.to_string(),
        out: Some(dir.path().join("cards.csv")),
        retry_failed: false,
        db: PathBuf::from("billrun.db"),
    };
    let FileRunReport::Written(w) =
        card_file(&mut s, &a, &opts, &settings(&[]), &clock(), &NoProgress).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (w.kind, w.format.as_str(), w.items),
        ("card", "card_batch", 1)
    );
    assert_eq!(w.collection_date, None);
    let csv = std::fs::read_to_string(dir.path().join("cards.csv")).unwrap();
    assert!(
        csv.contains("INV-4,C1004,pm_test4242424242,500,GBP"),
        "{csv}"
    );
    // The batch's item is live: nothing is left for the gateway.
    let key = "sk_test_in_process";
    let fake = FakeStripe::start(key, vec![Reply::intent("pi_1", "succeeded")]);
    let set = settings(&[("stripe.api_base", &fake.base_url())]);
    let charge_opts = ChargeOptions {
        run: run.to_string(),
        retry_failed: false,
        api_key: Some(key.into()),
    };
    let r = charge(&mut s, &a, &charge_opts, &set, &clock(), &NoProgress).unwrap();
    assert_eq!((r.to_charge, r.payment_run), (0, None));
    assert_eq!(fake.charges(), 0);

    // Declined in the batch and retried: charged through the gateway.
    let failed = ResultsOptions {
        label: "r.csv".into(),
        contents: b"reference,status\nINV-4,declined\n".to_vec(),
    };
    results(&mut s, &a, &failed, &set, &clock(), &NoProgress).unwrap();
    let no_key = ChargeOptions {
        api_key: Some(" ".into()),
        retry_failed: true,
        ..charge_opts.clone()
    };
    let e = charge(&mut s, &a, &no_key, &set, &clock(), &NoProgress).unwrap_err();
    assert!(
        matches!(&e, Error::Precondition(m) if m.contains("STRIPE_API_KEY")),
        "{e}"
    );
    let retry = ChargeOptions {
        retry_failed: true,
        ..charge_opts
    };
    let r = charge(&mut s, &a, &retry, &set, &clock(), &NoProgress).unwrap();
    assert_eq!((r.to_charge, r.approved(), r.unanswered), (1, 1, 0));
    assert_eq!(r.charges[0].reference, "INV-4-R1");
    assert_eq!(r.charges[0].gateway_id.as_deref(), Some("pi_1"));
    assert_eq!(
        fake.requests()[0].idempotency_key.as_deref(),
        Some(
            format!(
                "billrun-{}-INV-4-2",
                crate::store::collect::idempotency_prefix(&s.conn).unwrap()
            )
            .as_str()
        )
    );
    let items = show(&s, r.payment_run.unwrap()).unwrap().items_detail;
    assert_eq!(items[0].state, ItemState::Approved.as_str());
    // Nothing left to charge.
    let again = charge(&mut s, &a, &retry, &set, &clock(), &NoProgress).unwrap();
    assert_eq!(again.to_charge, 0);
    assert_eq!(fake.charges(), 1);
}

/// Progress of the collection workflows (what a terminal's bar shows):
/// each phase's total is known, and its updates add up to it.
mod progress {
    use super::*;
    use crate::ops::progress_log::Log;

    #[test]
    fn a_dd_run_reports_selecting_writing_and_recording() {
        let (mut s, run) = store();
        let dir = tempfile::tempdir().unwrap();
        let (set, a) = (settings(&[]), Actor::test());
        let log = Log::default();
        let FileRunReport::Written(w) =
            dd(&mut s, &a, &dd_opts(run, &dir), &set, &clock(), &log).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            log.names(),
            [
                "selecting the invoices to collect",
                "writing the bacs18 file",
                "recording the payment run"
            ]
        );
        assert_eq!(log.phase("selecting the invoices to collect").total, None);
        let written = log.phase("writing the bacs18 file");
        assert_eq!(
            written.total,
            Some((w.items + w.unsuitable.len()) as u64),
            "{w:?}"
        );
        assert_eq!(
            log.phase("recording the payment run").total,
            Some(w.items as u64)
        );
        log.check_complete();

        // Nothing new: only the selection is reported.
        let log = Log::default();
        dd(&mut s, &a, &dd_opts(run, &dir), &set, &clock(), &log).unwrap();
        assert_eq!(log.names(), ["selecting the invoices to collect"]);
        log.check_complete();
    }

    #[test]
    fn a_card_batch_file_reports_its_invoices() {
        let (mut s, run) = store();
        let dir = tempfile::tempdir().unwrap();
        let opts = CardFileOptions {
            run: run.to_string(),
            out: Some(dir.path().join("cards.csv")),
            retry_failed: false,
            db: PathBuf::from("billrun.db"),
        };
        let log = Log::default();
        card_file(
            &mut s,
            &Actor::test(),
            &opts,
            &settings(&[]),
            &clock(),
            &log,
        )
        .unwrap();
        assert_eq!(log.phase("writing the card_batch file").total, Some(1));
        assert_eq!(log.phase("recording the payment run").total, Some(1));
        log.check_complete();
    }

    #[test]
    fn results_report_every_row_matched_and_every_change_applied() {
        let (mut s, run) = store();
        let dir = tempfile::tempdir().unwrap();
        let (set, a) = (settings(&[]), Actor::test());
        dd(&mut s, &a, &dd_opts(run, &dir), &set, &clock(), &NoProgress).unwrap();
        let opts = ResultsOptions {
            label: "r.csv".into(),
            contents: b"reference,status,reason\nINV-1,approved,\nINV-2,dishonoured,no funds\nNOPE,approved,\n"
                .to_vec(),
        };
        let log = Log::default();
        results(&mut s, &a, &opts, &set, &clock(), &log).unwrap();
        // Three rows matched (one unknown), two applied, one update each.
        let matched = log.phase("matching results");
        assert_eq!((matched.total, matched.incs), (Some(3), 3));
        let applied = log.phase("applying results");
        assert_eq!((applied.total, applied.incs), (Some(2), 2));
        log.check_complete();
    }

    #[test]
    fn charges_through_the_gateway_report_each_charge() {
        let (mut s, run) = store();
        let key = "sk_test_in_process";
        let fake = FakeStripe::start(key, vec![Reply::intent("pi_1", "succeeded")]);
        let set = settings(&[("stripe.api_base", &fake.base_url())]);
        let opts = ChargeOptions {
            run: run.to_string(),
            retry_failed: false,
            api_key: Some(key.into()),
        };
        let log = Log::default();
        let r = charge(&mut s, &Actor::test(), &opts, &set, &clock(), &log).unwrap();
        assert_eq!(r.to_charge, 1);
        let p = log.phase("charging cards");
        assert_eq!((p.total, p.done), (Some(1), 1));
        log.check_complete();
    }

    #[test]
    fn sync_reports_each_charge_asked_about() {
        let (mut s, run) = store();
        let key = "sk_test_in_process";
        // Charged, but still processing: the outcome comes from a sync.
        let fake = FakeStripe::start(key, vec![Reply::intent("pi_1", "processing")]);
        let set = settings(&[("stripe.api_base", &fake.base_url())]);
        let opts = ChargeOptions {
            run: run.to_string(),
            retry_failed: false,
            api_key: Some(key.into()),
        };
        charge(&mut s, &Actor::test(), &opts, &set, &clock(), &NoProgress).unwrap();
        fake.set_intent(Reply::intent("pi_1", "succeeded"));
        let sync_opts = SyncOptions {
            stripe_api_key: Some(key.into()),
            gocardless_token: None,
        };
        let log = Log::default();
        let r = sync(&mut s, &Actor::test(), &sync_opts, &set, &clock(), &log).unwrap();
        assert_eq!((r.items.len(), r.changed()), (1, 1), "{r:?}");
        // GoCardless is not used: no phase of its own.
        assert_eq!(log.names(), ["asking Stripe"]);
        let p = log.phase("asking Stripe");
        assert_eq!((p.total, p.done), (Some(1), 1));
        log.check_complete();
    }

    #[test]
    fn sync_reports_gocardless_events_read_then_recorded() {
        use crate::gateway::gocardless::fake_gocardless::FakeGoCardless;
        let (mut s, _) = store();
        let token = "sandbox_progress_token";
        let fake = FakeGoCardless::start(token, &[]);
        // Events about payments billrun did not make: read, and skipped.
        fake.event("payments", "confirmed", "PM0001", "payment_confirmed");
        fake.event("payments", "paid_out", "PM0002", "payment_paid_out");
        let base = fake.base_url();
        let set = settings(&[
            ("dd.provider", "gocardless"),
            ("gocardless.api_base", &base),
        ]);
        let opts = SyncOptions {
            stripe_api_key: None,
            gocardless_token: Some(token.into()),
        };
        let log = Log::default();
        let r = sync(&mut s, &Actor::test(), &opts, &set, &clock(), &log).unwrap();
        assert_eq!(r.events, 2, "{r:?}");
        assert_eq!(
            log.names(),
            [
                "asking GoCardless for events",
                "recording GoCardless events"
            ]
        );
        let p = log.phase("recording GoCardless events");
        assert_eq!((p.total, p.done), (Some(2), 2));
        log.check_complete();
    }
}
