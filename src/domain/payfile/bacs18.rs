//! Bacs Standard 18 direct debit collection file (UK), as a direct
//! submitter or bureau uploads it through Bacstel-IP software.
//!
//! Sources (1-based positions):
//! - Bank of Ireland, "BACS File Specification", Appendix 2 (VOL1, HDR1
//!   field tables), via online.documentine.com;
//! - HSBC "Message Implementation Guide BACS Standard 18" (Aug 2012),
//!   table of contents and record list (VOL, HDR1, HDR2, UHL1, standard,
//!   contra, EOF1, EOF2, UTL1);
//! - FinDock "Bacs Direct Debit collection file" (docs.findock.com) for
//!   the record list and VOL layout;
//! - Bacs transaction codes: unifiedsoftware.co.uk "Bacs Transaction Codes"
//!   (01 first, 17 regular, 18 re-presentation, 99 credit contra balancing
//!   debits);
//! - a worked UHL1/UTL1 sample in the `bankline_parser` test suite
//!   (`UHL1 06032876543    00000000         000…`,
//!   `UTL1` + 13 + 13 + 7 + 7 digits).
//!
//! Where sources disagree: FinDock calls VOL1 38–51 a 14-character "owner
//! id"; Bank of Ireland splits it into 4 blanks, the 6-digit SUN at 42–47,
//! and 4 blanks. Both give the same bytes when the SUN sits at 42–47, which
//! is what we write. FinDock gives data records as 106 characters: that is
//! the multi-processing-day layout (a ` YYDDD` date at 101–106); we write
//! single-day (`1 DAILY`) files, whose data records are 100 characters.
//!
//! Labels (80 characters each)
//! | record | pos | content |
//! |---|---|---|
//! | VOL1 | 1–4 | `VOL1` |
//! | | 5–10 | submission serial: run number, 6 digits |
//! | | 11 | accessibility: blank |
//! | | 12–41 | blank |
//! | | 42–47 | SUN (`dd.sun`) |
//! | | 48–79 | blank |
//! | | 80 | label standard level `1` |
//! | HDR1 / EOF1 | 1–4 | `HDR1` / `EOF1` |
//! | | 5–21 | file id: `A` + SUN + `S` + 2 blanks + `1` + SUN |
//! | | 22–27 | set id = VOL1 serial |
//! | | 28–31 | file section `0001` |
//! | | 32–35 | file sequence `0001` |
//! | | 36–41 | generation number/version: blank |
//! | | 42–47 | creation date ` YYDDD` |
//! | | 48–53 | expiration date ` YYDDD` (= creation) |
//! | | 54 | accessibility: blank |
//! | | 55–60 | block count `000000` |
//! | | 61–80 | system code and reserved: blank |
//! | HDR2 / EOF2 | 1–4 | `HDR2` / `EOF2` |
//! | | 5 | record format `F` |
//! | | 6–10 | block length `02000` |
//! | | 11–15 | record length `00100` |
//! | | 16–50 | blank |
//! | | 51–52 | buffer offset `00` |
//! | | 53–80 | blank |
//! | UHL1 | 1–4 | `UHL1` |
//! | | 5–10 | processing day ` YYDDD` |
//! | | 11–20 | receiving party `999999` + 4 blanks |
//! | | 21–22 | currency `00` |
//! | | 23–28 | country `000000` |
//! | | 29–37 | work code `1 DAILY` + 2 blanks |
//! | | 38–40 | file number `001` |
//! | | 41–80 | blank |
//! | UTL1 | 1–4 | `UTL1` |
//! | | 5–17 | debit value total, pence, 13 digits |
//! | | 18–30 | credit value total (the contra), 13 digits |
//! | | 31–37 | debit item count, 7 digits |
//! | | 38–44 | credit item count (contras), 7 digits |
//! | | 45–80 | blank |
//!
//! Data records (100 characters)
//! | pos | len | standard (debit) record | contra record |
//! |---|---|---|---|
//! | 1–6 | 6 | payer's sort code | originator's sort code |
//! | 7–14 | 8 | payer's account | originator's account |
//! | 15 | 1 | `0` | `0` |
//! | 16–17 | 2 | `01` / `17` / `18` | `99` |
//! | 18–23 | 6 | originator's sort code (`dd.sort_code`) | same |
//! | 24–31 | 8 | originator's account (`dd.account`) | same |
//! | 32–35 | 4 | free: blank | blank |
//! | 36–46 | 11 | amount, pence | total of the debits |
//! | 47–64 | 18 | originator's name (`dd.name`) | narrative `DD COLLECTION` |
//! | 65–82 | 18 | reference: the mandate (DDI) reference | `CONTRA` |
//! | 83–100 | 18 | payer's account name | originator's name |
//!
//! Decisions:
//! - We write the **labelled** file (VOL1 … UTL1) by default; `BacsLabels::None`
//!   gives the "Standard 18 without labels" flavour (data records and the
//!   contra only) that many bureau upload screens accept.
//! - The Bacs collection reference must be the reference the payer's
//!   Direct Debit Instruction was lodged under, so the reference field is
//!   `mandate_ref` (6–18 characters), not the invoice number; an item with
//!   no usable mandate reference is left out. The invoice number is in
//!   [`PayFile::included`] for the caller's own matching.
//! - The run's collection date is written as the Bacs processing day.
//!   Bacs debits payers on the working day after processing; billrun does
//!   not keep a bank holiday calendar, so the caller must pass the
//!   processing day it wants. Creation date is `run.created`.
//! - Records end with CRLF. Text is upper-cased and restricted to the Bacs
//!   set `A-Z 0-9 . & / -` and space.
//! - One contra record for the whole file.

use super::{
    DebitItem, Limits, PayFile, PayFileError, RunInfo, Sequence, accept, left, text, zeros,
};
use crate::domain::bank::{self, BankDetails};
use crate::domain::settings::DirectDebit;
use chrono::{Datelike, NaiveDate};

const FORMAT: &str = "Bacs Standard 18";
/// 11-digit pence field.
const MAX_PENCE: i64 = 99_999_999_999;

/// Whether to wrap the data records in the VOL/HDR/UHL … EOF/UTL labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BacsLabels {
    /// VOL1, HDR1, HDR2, UHL1, data, contra, EOF1, EOF2, UTL1.
    #[default]
    Full,
    /// Data records and contra only.
    #[cfg(test)]
    None,
}

/// The service user's settings (`dd.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct BacsOriginator {
    /// `dd.sun`: 6-digit service user number.
    pub sun: String,
    /// `dd.sort_code`: the originator's (collecting) account sort code.
    pub sort_code: String,
    /// `dd.account`: the originator's account number.
    pub account: String,
    /// `dd.name`: service user name, up to 18 characters.
    pub name: String,
    pub labels: BacsLabels,
}

impl BacsOriginator {
    /// The originator of `dd.*` (unset settings are blank, and refused by
    /// the writer), with full labels.
    pub fn from_settings(dd: &DirectDebit) -> BacsOriginator {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        BacsOriginator {
            sun: s(&dd.sun),
            sort_code: s(&dd.sort_code),
            account: s(&dd.account),
            name: s(&dd.name),
            labels: BacsLabels::Full,
        }
    }
}

struct Orig {
    sun: String,
    sort: String,
    account: String,
    name: String,
}

fn check_orig(o: &BacsOriginator) -> Result<Orig, Vec<String>> {
    let mut p = Vec::new();
    let sun = o.sun.trim().to_string();
    if sun.len() != 6 || !sun.chars().all(|c| c.is_ascii_digit()) {
        p.push(format!(
            "dd.sun: '{sun}' must be the 6-digit Bacs service user number"
        ));
    }
    let sort = bank::uk_sort_code(&o.sort_code).unwrap_or_else(|e| {
        p.push(format!("dd.sort_code: {e}"));
        String::new()
    });
    let account = bank::uk_account(&o.account).unwrap_or_else(|e| {
        p.push(format!("dd.account: {e}"));
        String::new()
    });
    let name = text::clean(&o.name, text::bacs_char, true);
    if name.is_empty() {
        p.push("dd.name: must not be blank".into());
    } else if name.len() > 18 {
        p.push(format!(
            "dd.name: '{name}' is longer than the 18 characters Bacs allows"
        ));
    }
    if !p.is_empty() {
        return Err(p);
    }
    Ok(Orig {
        sun,
        sort: sort.replace('-', ""),
        account,
        name,
    })
}

/// Bacs date: a blank then `YYDDD` (two-digit year, day of the year).
pub fn bacs_date(d: NaiveDate) -> String {
    format!(" {:02}{:03}", d.year().rem_euclid(100), d.ordinal())
}

/// Bacs transaction code for a collection.
pub fn transaction_code(s: Sequence) -> &'static str {
    match s {
        Sequence::First => "01",
        Sequence::Recurring => "17",
        Sequence::Represent => "18",
    }
}

/// A payer's line, validated for Bacs.
struct Line {
    sort: String,
    account: String,
    name: String,
    mandate: String,
    code: &'static str,
}

fn item_bank(it: &DebitItem) -> Result<Line, String> {
    let Some(BankDetails::Bacs {
        sort_code,
        account,
        name,
    }) = &it.bank
    else {
        return Err("no sort code (bank_branch)".into());
    };
    let sort = match sort_code.as_deref() {
        Some(b) if !b.trim().is_empty() => bank::uk_sort_code(b)?.replace('-', ""),
        _ => return Err("no sort code (bank_branch)".into()),
    };
    let account = match account.as_deref() {
        Some(a) if !a.trim().is_empty() => bank::uk_account(a)?,
        _ => return Err("no bank account number".into()),
    };
    let name = text::clean(name, text::bacs_char, true);
    if name.is_empty() {
        return Err("no account name (bank_account_name)".into());
    }
    let mandate = match it.mandate_ref.as_deref().map(str::trim) {
        Some(m) if !m.is_empty() => m.to_ascii_uppercase(),
        _ => return Err("no mandate reference (the DDI reference)".into()),
    };
    if !(6..=18).contains(&mandate.len()) || !mandate.chars().all(text::bacs_char) {
        return Err(format!(
            "mandate reference '{mandate}' must be 6 to 18 characters of A-Z 0-9 . & / - and space"
        ));
    }
    Ok(Line {
        sort,
        account,
        name,
        mandate,
        code: transaction_code(it.sequence),
    })
}

/// Write a Bacs Standard 18 direct debit file for `items`, processed on
/// `run.collection_date`.
pub fn write_bacs18(
    orig: &BacsOriginator,
    run: &RunInfo,
    items: &[DebitItem],
) -> Result<PayFile, PayFileError> {
    let limits = Limits {
        format: FORMAT,
        max_minor: MAX_PENCE,
        // Invoice numbers are not written to the file, so any printable
        // reference is fine; 35 keeps it consistent with the other formats.
        max_ref: 35,
        ref_ok: |c| c.is_ascii_graphic(),
        max_total: Some((MAX_PENCE, "11-digit contra amount")),
    };
    let (o, acc) = accept(&limits, check_orig(orig), items, item_bank)?;
    let total = acc.total;

    let serial = zeros(i64::from(run.run_number % 1_000_000), 6);
    let created = bacs_date(run.created.date());
    let processing = bacs_date(run.collection_date);
    let hdr1 = |label: &str| {
        format!(
            "{label}A{sun}S  1{sun}{serial}00010001{gen}{created}{created} 000000{tail}",
            sun = o.sun,
            gen = " ".repeat(6),
            tail = " ".repeat(20),
        )
    };
    let hdr2 = |label: &str| format!("{label}F0200000100{}00{}", " ".repeat(35), " ".repeat(28));

    let mut records = Vec::new();
    if o_labels(orig) {
        records.push(format!(
            "VOL1{serial} {}{}{}1",
            " ".repeat(30),
            o.sun,
            " ".repeat(32)
        ));
        records.push(hdr1("HDR1"));
        records.push(hdr2("HDR2"));
        records.push(format!(
            "UHL1{processing}999999    00000000{}001{}",
            left("1 DAILY", 9),
            " ".repeat(40)
        ));
    }
    for line in &acc.lines {
        let l = &line.item;
        records.push(format!(
            "{}{}0{}{}{}    {}{}{}{}",
            l.sort,
            l.account,
            l.code,
            o.sort,
            o.account,
            zeros(line.minor, 11),
            left(&o.name, 18),
            left(&l.mandate, 18),
            left(&l.name, 18),
        ));
    }
    records.push(format!(
        "{s}{a}099{s}{a}    {}{}{}{}",
        zeros(total, 11),
        left("DD COLLECTION", 18),
        left("CONTRA", 18),
        left(&o.name, 18),
        s = o.sort,
        a = o.account,
    ));
    if o_labels(orig) {
        records.push(hdr1("EOF1"));
        records.push(hdr2("EOF2"));
        records.push(format!(
            "UTL1{}{}{}{}{}",
            zeros(total, 13),
            zeros(total, 13),
            zeros(acc.lines.len() as i64, 7),
            zeros(1, 7),
            " ".repeat(36)
        ));
    }
    let mut contents = String::new();
    for r in &records {
        contents.push_str(r);
        contents.push_str("\r\n");
    }
    Ok(acc.into_file(contents.into_bytes()))
}

fn o_labels(o: &BacsOriginator) -> bool {
    o.labels == BacsLabels::Full
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{fields, item, run};
    use super::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn orig() -> BacsOriginator {
        BacsOriginator {
            sun: "123456".into(),
            sort_code: "40-11-22".into(),
            account: "87654321".into(),
            name: "Northern Telecom".into(),
            labels: BacsLabels::Full,
        }
    }

    fn uk(reference: &str, amount: Decimal, seq: Sequence) -> DebitItem {
        let mut it = item(reference, amount);
        it.bank = Some(BankDetails::Bacs {
            sort_code: Some("20-00-00".into()),
            account: Some("12345678".into()),
            name: "Jane Citizen".into(),
        });
        it.mandate_ref = Some(format!("MND-{reference}"));
        it.sequence = seq;
        it
    }

    fn f(r: &str, from: usize, to: usize) -> &str {
        &r[from - 1..to]
    }

    #[test]
    fn dates_are_blank_yy_ddd() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(bacs_date(d(2026, 2, 3)), " 26034");
        assert_eq!(bacs_date(d(2024, 12, 31)), " 24366");
        assert_eq!(bacs_date(d(2030, 1, 1)), " 30001");
    }

    #[test]
    fn name_too_long_for_bacs_is_a_settings_error() {
        let mut o = orig();
        o.name = "Northern Telecommunications".into();
        o.sun = "12345".into();
        o.sort_code = "401122".into();
        let e = write_bacs18(&o, &run(), &[uk("INV-1", dec!(1), Sequence::First)]).unwrap_err();
        let PayFileError::Invalid { settings, .. } = e else {
            panic!()
        };
        assert_eq!(settings.len(), 2, "{settings:?}");
        assert!(settings[0].starts_with("dd.sun"));
        assert!(settings[1].starts_with("dd.name"));
    }

    #[test]
    fn labelled_file_field_by_field() {
        let mut o = orig();
        o.name = "Northern Telecom".into();
        let mut c = uk("INV-3", dec!(7.005), Sequence::Represent);
        *fields(&mut c).2 = "Zoë O’Brien & Co. Holdings Ltd".into();
        let items = vec![
            uk("INV-1", dec!(10.50), Sequence::First),
            uk("INV-2", dec!(1234.56), Sequence::Recurring),
            c,
        ];
        let file = write_bacs18(&o, &run(), &items).unwrap();
        let s = String::from_utf8(file.contents).unwrap();
        let recs: Vec<&str> = s.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        assert_eq!(recs.len(), 4 + 3 + 1 + 3);

        let vol = recs[0];
        assert_eq!(vol.len(), 80);
        assert_eq!(f(vol, 1, 4), "VOL1");
        assert_eq!(f(vol, 5, 10), "000042");
        assert_eq!(f(vol, 11, 41), " ".repeat(31));
        assert_eq!(f(vol, 42, 47), "123456");
        assert_eq!(f(vol, 48, 79), " ".repeat(32));
        assert_eq!(f(vol, 80, 80), "1");

        let expected_hdr1 = format!(
            "HDR1A123456S  1123456000042{}{} 26030 26030 000000{}",
            "00010001",
            " ".repeat(6),
            " ".repeat(20)
        );
        assert_eq!(recs[1], expected_hdr1);
        let h1 = recs[1];
        assert_eq!(h1.len(), 80);
        assert_eq!(f(h1, 5, 21), "A123456S  1123456");
        assert_eq!(f(h1, 22, 27), "000042");
        assert_eq!(f(h1, 28, 31), "0001");
        assert_eq!(f(h1, 32, 35), "0001");
        assert_eq!(f(h1, 36, 41), "      ");
        assert_eq!(f(h1, 42, 47), " 26030", "created 30 Jan 2026");
        assert_eq!(f(h1, 48, 53), " 26030");
        assert_eq!(f(h1, 54, 54), " ");
        assert_eq!(f(h1, 55, 60), "000000");

        let h2 = recs[2];
        assert_eq!(h2.len(), 80);
        assert_eq!(f(h2, 1, 15), "HDR2F0200000100");
        assert_eq!(f(h2, 16, 50), " ".repeat(35));
        assert_eq!(f(h2, 51, 52), "00");
        assert_eq!(f(h2, 53, 80), " ".repeat(28));

        let uhl = recs[3];
        assert_eq!(uhl.len(), 80);
        assert_eq!(f(uhl, 1, 4), "UHL1");
        assert_eq!(f(uhl, 5, 10), " 26034", "processing day 3 Feb 2026");
        assert_eq!(f(uhl, 11, 20), "999999    ");
        assert_eq!(f(uhl, 21, 22), "00");
        assert_eq!(f(uhl, 23, 28), "000000");
        assert_eq!(f(uhl, 29, 37), "1 DAILY  ");
        assert_eq!(f(uhl, 38, 40), "001");
        assert_eq!(f(uhl, 41, 80), " ".repeat(40));

        let expected_d1 = format!(
            "200000{}0{}401122{}    {}{:<18}{:<18}{:<18}",
            "12345678",
            "01",
            "87654321",
            "00000001050",
            "NORTHERN TELECOM",
            "MND-INV-1",
            "JANE CITIZEN"
        );
        assert_eq!(recs[4], expected_d1);
        for (r, code, pence, mandate, name) in [
            (recs[4], "01", "00000001050", "MND-INV-1", "JANE CITIZEN"),
            (recs[5], "17", "00000123456", "MND-INV-2", "JANE CITIZEN"),
            (
                recs[6],
                "18",
                "00000000701",
                "MND-INV-3",
                "ZOE O BRIEN & CO. ",
            ),
        ] {
            assert_eq!(r.len(), 100);
            assert_eq!(f(r, 1, 6), "200000");
            assert_eq!(f(r, 7, 14), "12345678");
            assert_eq!(f(r, 15, 15), "0");
            assert_eq!(f(r, 16, 17), code);
            assert_eq!(f(r, 18, 23), "401122");
            assert_eq!(f(r, 24, 31), "87654321");
            assert_eq!(f(r, 32, 35), "    ");
            assert_eq!(f(r, 36, 46), pence);
            assert_eq!(f(r, 47, 64), "NORTHERN TELECOM  ");
            assert_eq!(f(r, 65, 82), format!("{mandate:<18}"));
            assert_eq!(f(r, 83, 100), format!("{name:<18}"));
        }

        let contra = recs[7];
        assert_eq!(contra.len(), 100);
        assert_eq!(f(contra, 1, 6), "401122");
        assert_eq!(f(contra, 7, 14), "87654321");
        assert_eq!(f(contra, 15, 17), "099");
        assert_eq!(f(contra, 18, 31), "40112287654321");
        assert_eq!(f(contra, 32, 35), "    ");
        assert_eq!(f(contra, 36, 46), "00000125207");
        assert_eq!(f(contra, 47, 64), "DD COLLECTION     ");
        assert_eq!(f(contra, 65, 82), "CONTRA            ");
        assert_eq!(f(contra, 83, 100), "NORTHERN TELECOM  ");

        assert_eq!(recs[8], expected_hdr1.replacen("HDR1", "EOF1", 1));
        assert_eq!(recs[9], recs[2].replacen("HDR2", "EOF2", 1));
        let utl = recs[10];
        assert_eq!(utl.len(), 80);
        assert_eq!(f(utl, 1, 4), "UTL1");
        assert_eq!(f(utl, 5, 17), "0000000125207");
        assert_eq!(f(utl, 18, 30), "0000000125207");
        assert_eq!(f(utl, 31, 37), "0000003");
        assert_eq!(f(utl, 38, 44), "0000001");
        assert_eq!(f(utl, 45, 80), " ".repeat(36));

        assert_eq!(file.total_minor, 125207);
        assert_eq!(file.included, ["INV-1", "INV-2", "INV-3"]);
    }

    #[test]
    fn unlabelled_flavour_is_data_and_contra_only() {
        let mut o = orig();
        o.labels = BacsLabels::None;
        let file = write_bacs18(&o, &run(), &[uk("INV-1", dec!(1), Sequence::First)]).unwrap();
        let s = String::from_utf8(file.contents).unwrap();
        let recs: Vec<&str> = s.strip_suffix("\r\n").unwrap().split("\r\n").collect();
        assert_eq!(recs.len(), 2);
        assert!(recs.iter().all(|r| r.len() == 100));
        assert_eq!(f(recs[1], 16, 17), "99");
    }

    #[test]
    fn unsuitable_items_are_listed() {
        let mut no_mandate = uk("INV-2", dec!(1), Sequence::First);
        no_mandate.mandate_ref = None;
        let mut short_mandate = uk("INV-3", dec!(1), Sequence::First);
        short_mandate.mandate_ref = Some("AB1".into());
        let mut bsb = uk("INV-4", dec!(1), Sequence::First);
        *fields(&mut bsb).0 = Some("062-000".into());
        let items = vec![
            uk("INV-1", dec!(1), Sequence::First),
            no_mandate,
            short_mandate,
            bsb,
            item("INV-5", dec!(1)),
        ];
        let file = write_bacs18(&orig(), &run(), &items).unwrap();
        assert_eq!(file.included, ["INV-1"]);
        let reasons: Vec<String> = file.unsuitable.iter().map(|u| u.to_string()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].starts_with("INV-2: no mandate reference"));
        assert!(reasons[1].contains("6 to 18"));
        assert!(reasons[2].contains("sort code '062-000'"));
        assert!(reasons[3].starts_with("INV-5: no sort code"));
    }
}
