//! ABA / Cemtex direct entry file (BECS, Australia) for a direct debit run.
//!
//! Layout (1-based character positions), from the Australian Bankers'
//! Association "Cemtex" direct entry file format as documented at
//! <http://www.cemtexaba.com/aba-format/cemtex-aba-file-format-details.html>
//! (reproduced in `whahoo/aba-tools` README.md), cross-checked against the
//! pack templates of the CPAN module Business::NAB
//! (`Business/NAB/Australian/DirectEntry/Payments/{Descriptive,Detail,Total}Record.pm`:
//! `A1 A17 A2 A3 A7 A26 A6 A12 A6 A40`, `A1 A7 A9 A1 A2 A10 A32 A18 A7 A9 A16 A8`,
//! `A1 A7 A12 A10 A10 A10 A24 A6 A40`). The README's detail table misprints
//! the trace fields as "81-87 … 9"; Business::NAB and the 120-character
//! total settle it as BSB 81–87 (7) and account 88–96 (9).
//!
//! Type 0 — descriptive record
//! | pos | len | content |
//! |---|---|---|
//! | 1 | 1 | `0` |
//! | 2–18 | 17 | blank |
//! | 19–20 | 2 | reel sequence `01` |
//! | 21–23 | 3 | bank mnemonic (`dd.bank`) |
//! | 24–30 | 7 | blank |
//! | 31–56 | 26 | user name (`dd.user_name`), left, blank-filled |
//! | 57–62 | 6 | APCA user id (`dd.user_id`), right, zero-filled |
//! | 63–74 | 12 | description, left, blank-filled |
//! | 75–80 | 6 | processing date `DDMMYY` |
//! | 81–120 | 40 | blank |
//!
//! Type 1 — detail record
//! | pos | len | content |
//! |---|---|---|
//! | 1 | 1 | `1` |
//! | 2–8 | 7 | BSB `NNN-NNN` |
//! | 9–17 | 9 | account, right-justified, blank-filled |
//! | 18 | 1 | indicator: blank |
//! | 19–20 | 2 | transaction code `13` (externally initiated debit) |
//! | 21–30 | 10 | amount in cents, zero-filled |
//! | 31–62 | 32 | title of account, left, blank-filled |
//! | 63–80 | 18 | lodgement reference (invoice number) |
//! | 81–87 | 7 | trace BSB (`dd.bsb`) |
//! | 88–96 | 9 | trace account (`dd.account`), right, blank-filled |
//! | 97–112 | 16 | remitter name (`dd.remitter`) |
//! | 113–120 | 8 | withholding tax `00000000` |
//!
//! Type 7 — file total record
//! | pos | len | content |
//! |---|---|---|
//! | 1 | 1 | `7` |
//! | 2–8 | 7 | `999-999` |
//! | 9–20 | 12 | blank |
//! | 21–30 | 10 | net total (|credits − debits|) |
//! | 31–40 | 10 | credit total |
//! | 41–50 | 10 | debit total |
//! | 51–74 | 24 | blank |
//! | 75–80 | 6 | count of type 1 records |
//! | 81–120 | 40 | blank |
//!
//! Decisions:
//! - Every record, including the last, ends with CRLF.
//! - No self-balancing (contra) record: the user's bank debits/credits the
//!   trace account itself for most users; a bank that requires a balancing
//!   record is not supported yet.
//! - The sequence (first/recurring/represent) has no ABA field and is ignored.
//! - The processing date is the run's collection date.
//! - Names are transliterated to ASCII and cut to the field width; invoice
//!   numbers longer than 18 characters fail the file (they are the key that
//!   comes back in the results, so they are never cut).

use super::{DebitItem, Limits, PayFile, PayFileError, RunInfo, accept, left, right, text, zeros};
use crate::domain::bank::{self, BankDetails};
use crate::domain::settings::DirectDebit;

const FORMAT: &str = "ABA";
/// Largest amount a 10-digit cents field holds.
const MAX_CENTS: i64 = 9_999_999_999;
/// Description used when `dd.description` is not set.
pub const DEFAULT_DESCRIPTION: &str = "INVOICES";

/// The direct entry user's settings (`dd.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct AbaOriginator {
    /// `dd.bank`: 3-letter financial institution mnemonic (e.g. `CBA`, `WBC`).
    pub bank: String,
    /// `dd.user_name`: user preferred specification, up to 26 characters.
    pub user_name: String,
    /// `dd.user_id`: APCA user identification number, up to 6 digits.
    pub user_id: String,
    /// Description of entries, up to 12 characters (e.g. `INVOICES`).
    pub description: String,
    /// `dd.bsb`: trace BSB, where returns go.
    pub bsb: String,
    /// `dd.account`: trace account.
    pub account: String,
    /// `dd.remitter`: name shown on the customer's statement, up to 16.
    pub remitter: String,
}

impl AbaOriginator {
    /// The originator of `dd.*` (unset settings are blank, and refused by
    /// the writer), with the default description.
    pub fn from_settings(dd: &DirectDebit) -> AbaOriginator {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        AbaOriginator {
            bank: s(&dd.bank),
            user_name: s(&dd.user_name),
            user_id: s(&dd.user_id),
            description: DEFAULT_DESCRIPTION.into(),
            bsb: s(&dd.bsb),
            account: s(&dd.account),
            remitter: s(&dd.remitter),
        }
    }
}

/// Validated, formatted settings.
struct Orig {
    bank: String,
    user_name: String,
    user_id: String,
    description: String,
    bsb: String,
    account: String,
    remitter: String,
}

fn check_text(problems: &mut Vec<String>, key: &str, v: &str, max: usize) -> String {
    let c = text::clean(v, text::becs_char, false);
    if c.is_empty() {
        problems.push(format!("{key}: must not be blank"));
    } else if c.len() > max {
        problems.push(format!(
            "{key}: '{c}' is longer than the {max} characters ABA allows"
        ));
    }
    c
}

fn check_orig(o: &AbaOriginator) -> Result<Orig, Vec<String>> {
    let mut p = Vec::new();
    let bank_code = o.bank.trim().to_ascii_uppercase();
    if bank_code.len() != 3 || !bank_code.chars().all(|c| c.is_ascii_uppercase()) {
        p.push(format!(
            "dd.bank: '{}' must be the 3-letter bank mnemonic (e.g. CBA, WBC, NAB, ANZ)",
            o.bank.trim()
        ));
    }
    let user_name = check_text(&mut p, "dd.user_name", &o.user_name, 26);
    let uid = o.user_id.trim();
    if uid.is_empty() || uid.len() > 6 || !uid.chars().all(|c| c.is_ascii_digit()) {
        p.push(format!(
            "dd.user_id: '{uid}' must be the APCA user id, up to 6 digits"
        ));
    }
    let description = check_text(&mut p, "dd.description", &o.description, 12);
    let bsb = bank::au_bsb(&o.bsb).unwrap_or_else(|e| {
        p.push(format!("dd.bsb: {e}"));
        String::new()
    });
    let account = bank::au_account(&o.account).unwrap_or_else(|e| {
        p.push(format!("dd.account: {e}"));
        String::new()
    });
    let remitter = check_text(&mut p, "dd.remitter", &o.remitter, 16);
    if !p.is_empty() {
        return Err(p);
    }
    Ok(Orig {
        bank: bank_code,
        user_name,
        user_id: right(uid, 6, '0'),
        description,
        bsb,
        account,
        remitter,
    })
}

/// Bank details for one item (BSB, account, title), or why they do not
/// suit ABA.
fn item_bank(it: &DebitItem) -> Result<(String, String, String), String> {
    let Some(BankDetails::Aba { bsb, account, name }) = &it.bank else {
        return Err("no BSB (bank_branch)".into());
    };
    let bsb = match bsb.as_deref() {
        Some(b) if !b.trim().is_empty() => bank::au_bsb(b)?,
        _ => return Err("no BSB (bank_branch)".into()),
    };
    let acct = match account.as_deref() {
        Some(a) if !a.trim().is_empty() => bank::au_account(a)?,
        _ => return Err("no bank account number".into()),
    };
    let title = text::clean(name, text::becs_char, false);
    if title.is_empty() {
        return Err("no account name (bank_account_name)".into());
    }
    Ok((bsb, acct, title))
}

fn reference_char(c: char) -> bool {
    text::becs_char(c) && c != ' '
}

/// Write an ABA direct debit file for `items`, collected on
/// `run.collection_date`.
pub fn write_aba(
    orig: &AbaOriginator,
    run: &RunInfo,
    items: &[DebitItem],
) -> Result<PayFile, PayFileError> {
    let limits = Limits {
        format: FORMAT,
        max_minor: MAX_CENTS,
        max_ref: 18,
        ref_ok: reference_char,
        max_total: Some((MAX_CENTS, "10-digit ABA total field")),
    };
    let (o, acc) = accept(&limits, check_orig(orig), items, item_bank)?;
    let total = acc.total;
    let details = &acc.lines;

    let mut records = Vec::with_capacity(details.len() + 2);
    records.push(format!(
        "0{}01{}{}{}{}{}{}{}",
        " ".repeat(17),
        o.bank,
        " ".repeat(7),
        left(&o.user_name, 26),
        o.user_id,
        left(&o.description, 12),
        run.collection_date.format("%d%m%y"),
        " ".repeat(40)
    ));
    for line in details {
        let (bsb, acct, title) = &line.item;
        records.push(format!(
            "1{}{} 13{}{}{}{}{}{}00000000",
            bsb,
            right(acct, 9, ' '),
            zeros(line.minor, 10),
            left(title, 32),
            left(&line.reference, 18),
            o.bsb,
            right(&o.account, 9, ' '),
            left(&o.remitter, 16),
        ));
    }
    records.push(format!(
        "7999-999{}{}{}{}{}{}{}",
        " ".repeat(12),
        zeros(total, 10),
        zeros(0, 10),
        zeros(total, 10),
        " ".repeat(24),
        zeros(details.len() as i64, 6),
        " ".repeat(40)
    ));
    debug_assert!(records.iter().all(|r| r.len() == 120));
    let mut contents = String::with_capacity(records.len() * 122);
    for r in &records {
        contents.push_str(r);
        contents.push_str("\r\n");
    }
    Ok(acc.into_file(contents.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{fields, item, run};
    use super::*;
    use rust_decimal_macros::dec;

    fn orig() -> AbaOriginator {
        AbaOriginator {
            bank: "cba".into(),
            user_name: "Outback Telecom Pty Ltd".into(),
            user_id: "12345".into(),
            description: DEFAULT_DESCRIPTION.into(),
            bsb: "062000".into(),
            account: "12345678".into(),
            remitter: "OUTBACK TELECOM".into(),
        }
    }

    fn au(reference: &str, amount: rust_decimal::Decimal, bsb: &str, acct: &str) -> DebitItem {
        let mut it = item(reference, amount);
        it.bank = Some(BankDetails::Aba {
            bsb: Some(bsb.into()),
            account: Some(acct.into()),
            name: "Jane Citizen".into(),
        });
        it
    }

    /// Field `pos` (1-based, inclusive) of a record.
    fn f(r: &str, from: usize, to: usize) -> &str {
        &r[from - 1..to]
    }

    #[test]
    fn writes_records_field_by_field() {
        let mut b = au("INV-1001", dec!(123.45), "062-001", "98765");
        *fields(&mut b).2 = "Ms Zoë O’Brien-Smith of the Very Long Name Family".into();
        let items = vec![
            au("INV-1000", dec!(45.5), "032000", "123456789"),
            b,
            au("INV-1002", dec!(0.005), "733-000", "00123456"),
        ];
        let file = write_aba(&orig(), &run(), &items).unwrap();
        let s = String::from_utf8(file.contents).unwrap();
        assert!(s.ends_with("\r\n"));
        assert!(!s.contains("\n\r"));
        let recs: Vec<&str> = s.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        assert_eq!(recs.len(), 5);
        for r in &recs {
            assert_eq!(r.len(), 120, "record {r:?}");
            assert!(r.is_ascii());
        }

        // Hand-built expected records.
        let expected_0 = format!(
            "0{}01CBA{}{:<26}012345{}030226{}",
            " ".repeat(17),
            " ".repeat(7),
            "Outback Telecom Pty Ltd",
            "INVOICES    ",
            " ".repeat(40)
        );
        assert_eq!(recs[0], expected_0);
        let d0 = recs[0];
        assert_eq!(f(d0, 1, 1), "0");
        assert_eq!(f(d0, 2, 18), " ".repeat(17));
        assert_eq!(f(d0, 19, 20), "01");
        assert_eq!(f(d0, 21, 23), "CBA");
        assert_eq!(f(d0, 24, 30), " ".repeat(7));
        assert_eq!(f(d0, 31, 56), "Outback Telecom Pty Ltd   ");
        assert_eq!(f(d0, 57, 62), "012345");
        assert_eq!(f(d0, 63, 74), "INVOICES    ");
        assert_eq!(f(d0, 75, 80), "030226");
        assert_eq!(f(d0, 81, 120), " ".repeat(40));

        let expected_1 = format!(
            "1032-000123456789 130000004550{:<32}{:<18}062-000 12345678OUTBACK TELECOM 00000000",
            "Jane Citizen", "INV-1000"
        );
        assert_eq!(recs[1], expected_1);
        let d1 = recs[2];
        assert_eq!(f(d1, 1, 1), "1");
        assert_eq!(f(d1, 2, 8), "062-001");
        assert_eq!(f(d1, 9, 17), "    98765");
        assert_eq!(f(d1, 18, 18), " ");
        assert_eq!(f(d1, 19, 20), "13");
        assert_eq!(f(d1, 21, 30), "0000012345");
        assert_eq!(f(d1, 31, 62), "Ms Zoe O'Brien-Smith of the Very");
        assert_eq!(f(d1, 63, 80), "INV-1001          ");
        assert_eq!(f(d1, 81, 87), "062-000");
        assert_eq!(f(d1, 88, 96), " 12345678");
        assert_eq!(f(d1, 97, 112), "OUTBACK TELECOM ");
        assert_eq!(f(d1, 113, 120), "00000000");
        let d2 = recs[3];
        assert_eq!(f(d2, 2, 8), "733-000");
        assert_eq!(f(d2, 9, 17), " 00123456", "leading zeros kept");
        assert_eq!(
            f(d2, 21, 30),
            "0000000001",
            "0.005 rounds half away to 1 cent"
        );

        let t = recs[4];
        let expected_7 = format!(
            "7999-999{}000001689600000000000000016896{}000003{}",
            " ".repeat(12),
            " ".repeat(24),
            " ".repeat(40)
        );
        assert_eq!(t, expected_7);
        assert_eq!(f(t, 1, 1), "7");
        assert_eq!(f(t, 2, 8), "999-999");
        assert_eq!(f(t, 9, 20), " ".repeat(12));
        assert_eq!(f(t, 21, 30), "0000016896", "net");
        assert_eq!(f(t, 31, 40), "0000000000", "credits");
        assert_eq!(f(t, 41, 50), "0000016896", "debits");
        assert_eq!(f(t, 51, 74), " ".repeat(24));
        assert_eq!(f(t, 75, 80), "000003");
        assert_eq!(f(t, 81, 120), " ".repeat(40));

        // totals agree with the detail records
        let sum: i64 = recs[1..4]
            .iter()
            .map(|r| f(r, 21, 30).parse::<i64>().unwrap())
            .sum();
        assert_eq!(sum, 16896);
        assert_eq!(file.total_minor, 16896);
        assert_eq!(file.included, ["INV-1000", "INV-1001", "INV-1002"]);
        assert!(file.unsuitable.is_empty());
    }

    #[test]
    fn unsuitable_bank_details_are_left_out_not_guessed() {
        let mut no_name = au("INV-4", dec!(4), "062-000", "12345");
        *fields(&mut no_name).2 = "  ".into();
        let items = vec![
            au("INV-1", dec!(1), "062-000", "12345"),
            item("INV-2", dec!(2)),
            au("INV-3", dec!(3), "20-00-00", "12345678"),
            no_name,
            au("INV-5", dec!(5), "062-000", "1234"),
        ];
        let file = write_aba(&orig(), &run(), &items).unwrap();
        assert_eq!(file.included, ["INV-1"]);
        let why: Vec<(&str, &str)> = file
            .unsuitable
            .iter()
            .map(|u| (u.reference.as_str(), u.reason.as_str()))
            .collect();
        assert_eq!(why.len(), 4);
        assert_eq!(why[0], ("INV-2", "no BSB (bank_branch)"));
        assert!(why[1].1.contains("BSB '20-00-00'"));
        assert!(why[2].1.contains("account name"));
        assert!(why[3].1.contains("5 to 9 digits"));
        assert!(!why[3].1.contains("1234'"), "account masked: {}", why[3].1);
    }

    #[test]
    fn bad_settings_and_items_are_all_reported() {
        let o = AbaOriginator {
            bank: "C1".into(),
            user_name: "".into(),
            user_id: "1234567".into(),
            description: "A DESCRIPTION TOO LONG".into(),
            bsb: "06200".into(),
            account: "12".into(),
            remitter: "".into(),
        };
        let items = vec![
            au("INV-1", dec!(-1), "062-000", "12345"),
            au("INV 2", dec!(1), "062-000", "12345"),
        ];
        let Err(PayFileError::Invalid {
            settings, items, ..
        }) = write_aba(&o, &run(), &items)
        else {
            panic!("expected Invalid");
        };
        let keys: Vec<&str> = settings
            .iter()
            .map(|s| s.split(':').next().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "dd.bank",
                "dd.user_name",
                "dd.user_id",
                "dd.description",
                "dd.bsb",
                "dd.account",
                "dd.remitter"
            ]
        );
        assert_eq!(items.len(), 2);
        assert!(items[0].reason.contains("not positive"));
        assert!(items[1].reason.contains("characters"));
    }

    #[test]
    fn nothing_to_collect_carries_the_reasons() {
        let e = write_aba(&orig(), &run(), &[item("INV-1", dec!(1))]).unwrap_err();
        let PayFileError::NothingToCollect { unsuitable, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(unsuitable.len(), 1);
        assert!(e.to_string().contains("INV-1: no BSB"));
        assert!(matches!(
            write_aba(&orig(), &run(), &[]),
            Err(PayFileError::NothingToCollect { .. })
        ));
    }

    #[test]
    fn file_total_over_ten_digits_fails() {
        let items = vec![
            au("INV-1", dec!(60000000), "062-000", "12345"),
            au("INV-2", dec!(60000000), "062-000", "12345"),
        ];
        let e = write_aba(&orig(), &run(), &items).unwrap_err();
        assert!(e.to_string().contains("split the run"), "{e}");
    }
}
