//! Expected-output ("golden") files under `tests/it/golden/`.
//!
//! [`check`] compares what the binary wrote, byte for byte, with the stored
//! file. `UPDATE_GOLDEN=1 cargo test --test it golden::` writes the stored
//! files instead (review the change with `git diff tests/it/golden`).
//!
//! Payment files carry the moment they were made (Bacs 18 creation date,
//! SEPA `CreDtTm` and `MsgId`), which no input pins: the binary takes it
//! from the local clock. [`bacs18_created`] and [`sepa_created`] check that
//! value against the clock around the command, then put a fixed token of the
//! same width in its place; nothing else is ever replaced.
#![allow(dead_code)]

use chrono::{Datelike, NaiveDateTime, Timelike};
use std::path::{Path, PathBuf};

/// The stored file `name`.
pub fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/golden")
        .join(name)
}

fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Assert that `actual` equals the stored file `name` byte for byte (or
/// store it, with `UPDATE_GOLDEN=1`).
pub fn check(name: &str, actual: &[u8]) {
    let want = path(name);
    if updating() {
        std::fs::create_dir_all(want.parent().unwrap()).unwrap();
        std::fs::write(&want, actual).unwrap();
        eprintln!("UPDATE_GOLDEN: wrote {}", want.display());
        return;
    }
    let hint = format!(
        "to accept the new output: UPDATE_GOLDEN=1 cargo test --test it golden::, then review `git diff {}`",
        want.display()
    );
    let expected = std::fs::read(&want)
        .unwrap_or_else(|e| panic!("golden file {} unreadable ({e});\n{hint}", want.display()));
    if expected == actual {
        return;
    }
    // Keep what we got beside the build, for `diff`.
    let got = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("golden")
        .join(name);
    std::fs::create_dir_all(got.parent().unwrap()).unwrap();
    std::fs::write(&got, actual).unwrap();
    let (e, a) = (
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual),
    );
    let (el, al): (Vec<&str>, Vec<&str>) = (e.split('\n').collect(), a.split('\n').collect());
    let line = el
        .iter()
        .zip(&al)
        .position(|(x, y)| x != y)
        .unwrap_or(el.len().min(al.len()));
    panic!(
        "output differs from golden file {name} ({} bytes expected, {} got), first at line {}:\n  \
         expected: {:?}\n  got:      {:?}\n\
         see: diff -u {} {}\n{hint}",
        expected.len(),
        actual.len(),
        line + 1,
        el.get(line).copied().unwrap_or("<end of file>"),
        al.get(line).copied().unwrap_or("<end of file>"),
        want.display(),
        got.display(),
    );
}

/// Local time now, to the second, as the binary reads it.
pub fn now() -> NaiveDateTime {
    let t = chrono::Local::now().naive_local();
    t.with_nanosecond(0).unwrap()
}

/// Bacs 18: the creation and expiration dates (` YYDDD` twice, positions
/// 42–53 of HDR1 and EOF1) must be a date between `before` and `after`;
/// they become ` YYDDD YYDDD`.
pub fn bacs18_created(file: &str, before: NaiveDateTime, after: NaiveDateTime) -> String {
    let julian = |t: NaiveDateTime| format!(" {:02}{:03}", t.year() % 100, t.ordinal());
    let allowed = [julian(before).repeat(2), julian(after).repeat(2)];
    let mut labels = 0;
    let out: Vec<String> = file
        .split("\r\n")
        .map(|r| {
            if (r.starts_with("HDR1") || r.starts_with("EOF1")) && r.len() == 80 {
                let dates = &r[41..53];
                assert!(
                    allowed.iter().any(|a| a == dates),
                    "{}: creation/expiration {dates:?}, expected one of {allowed:?}",
                    &r[..4]
                );
                labels += 1;
                format!("{} YYDDD YYDDD{}", &r[..41], &r[53..])
            } else {
                r.to_owned()
            }
        })
        .collect();
    assert_eq!(labels, 2, "HDR1 and EOF1 expected:\n{file}");
    out.join("\r\n")
}

/// SEPA pain.008: `CreDtTm` must lie between `before` and `after` and the
/// `MsgId` (`BILLRUN-<6 digits>-<YYYYMMDDhhmmss>`, also the start of each
/// `PmtInfId`) must carry the same moment; they become
/// `YYYY-MM-DDThh:mm:ss` and `YYYYMMDDhhmmss`.
pub fn sepa_created(
    xml: &str,
    payment_run: u32,
    before: NaiveDateTime,
    after: NaiveDateTime,
) -> String {
    let open = "<CreDtTm>";
    let at = xml.find(open).expect("CreDtTm") + open.len();
    let value = &xml[at..at + 19];
    let t = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S")
        .unwrap_or_else(|e| panic!("CreDtTm {value:?}: {e}"));
    assert!(
        before <= t && t <= after,
        "CreDtTm {t} not between {before} and {after}"
    );
    let msg_id = format!("BILLRUN-{payment_run:06}-{}", t.format("%Y%m%d%H%M%S"));
    assert!(
        xml.contains(&format!("<MsgId>{msg_id}</MsgId>")),
        "MsgId is not {msg_id}:\n{xml}"
    );
    xml.replace(
        &format!("<CreDtTm>{value}</CreDtTm>"),
        "<CreDtTm>YYYY-MM-DDThh:mm:ss</CreDtTm>",
    )
    .replace(&msg_id, &format!("BILLRUN-{payment_run:06}-YYYYMMDDhhmmss"))
}
