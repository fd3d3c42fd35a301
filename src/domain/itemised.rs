//! Itemised calls of an invoice: in the PDF, or in a CSV file beside it
//! (issue 15, item 20).
//!
//! An invoice with at most `invoice.itemise_max_lines` calls lists them in
//! its PDF. Above that, the PDF carries a usage summary (per service, call
//! type and destination description: count, quantity, amount — the same
//! groups as the invoice's usage lines) and a note naming
//! `NUMBER-calls.csv`, the full itemisation, written beside the PDF and
//! attached to the invoice email; over [`GZIP_ABOVE_BYTES`] the file is
//! gzip-compressed as `NUMBER-calls.csv.gz`. A PDF is refused over
//! [`MAX_PDF_BYTES`], an email over [`MAX_EMAIL_BYTES`] (common mail
//! limits).

use super::csvfile::safe_cell;
use super::invoice::{Call, duration, usage_quantity};
use super::money;

/// The highest `invoice.itemise_max_lines` accepted: a PDF of this many
/// calls is about 2 MB and takes some 50 MB to lay out.
pub const MAX_ITEMISE_LINES: u32 = 20_000;
/// A PDF larger than this is refused (per invoice).
pub const MAX_PDF_BYTES: u64 = 10_000_000;
/// An email larger than this (encoded, with its attachments) is refused.
pub const MAX_EMAIL_BYTES: u64 = 25_000_000;
/// An itemised-calls CSV larger than this is gzip-compressed.
pub const GZIP_ABOVE_BYTES: u64 = 5_000_000;

/// Whether an invoice with `calls` calls lists them in its PDF.
pub fn in_pdf(calls: u64, max_lines: u32) -> bool {
    calls <= u64::from(max_lines.min(MAX_ITEMISE_LINES))
}

/// The name of an invoice's itemised-calls file.
pub fn file_name(number: &str, gzip: bool) -> String {
    if gzip {
        format!("{number}-calls.csv.gz")
    } else {
        format!("{number}-calls.csv")
    }
}

/// Whether an itemised-calls file is the gzip-compressed one.
pub fn is_gzip(file_name: &str) -> bool {
    file_name.ends_with(".gz")
}

/// The columns of an itemised-calls CSV.
pub const HEADER: [&str; 9] = [
    "service",
    "date",
    "time",
    "destination",
    "description",
    "type",
    "quantity",
    "units",
    "amount",
];

/// A call as printed: `3:25` (voice), `1 message`, `15 KB` (data).
pub fn call_quantity(c: &Call) -> String {
    let units = c.units.max(0) as u64;
    match c.call_type.as_str() {
        "voice" => duration(units),
        "sms" => usage_quantity("sms", 1, units),
        _ => format!("{} KB", units.div_ceil(1024)),
    }
}

/// One call as a CSV row (text cells made safe for spreadsheets).
pub fn row(c: &Call) -> [String; 9] {
    let cell = |s: &str| safe_cell(s).into_owned();
    [
        cell(&c.service),
        c.start.format("%Y-%m-%d").to_string(),
        c.start.format("%H:%M:%S").to_string(),
        cell(&c.destination),
        cell(&c.description),
        cell(&c.call_type),
        cell(&call_quantity(c)),
        c.units.to_string(),
        money::fmt_minor(c.charge_minor),
    ]
}

/// The note printed in place of the itemised calls.
pub fn note(file_name: &str, calls: u64, by_email: bool) -> String {
    let how = if by_email {
        "attached to the email that brought this invoice"
    } else {
        "ask us for it and we will send it"
    };
    format!("Itemised calls: see {file_name} ({calls} calls, {how}).")
}

/// `12.3 MB`.
pub fn megabytes(bytes: u64) -> String {
    let tenths = bytes.div_ceil(100_000);
    format!("{}.{} MB", tenths / 10, tenths % 10)
}

/// A PDF over [`MAX_PDF_BYTES`] is refused.
pub fn check_pdf(number: &str, bytes: u64, max_lines: u32) -> Result<(), String> {
    if bytes <= MAX_PDF_BYTES {
        return Ok(());
    }
    Err(format!(
        "invoice {number}: the PDF would be {}, over the {} limit; lower \
         invoice.itemise_max_lines (now {max_lines}) with billrun config set, then run \
         billrun produce again",
        megabytes(bytes),
        megabytes(MAX_PDF_BYTES)
    ))
}

/// Bytes of `n` bytes of attachment in a message: base64, in lines of 76
/// characters and CRLF.
pub fn encoded_len(n: u64) -> u64 {
    let b64 = n.div_ceil(3) * 4;
    b64 + b64.div_ceil(76) * 2
}

/// Room for the headers, the text and HTML bodies and the MIME parts.
pub const EMAIL_OVERHEAD_BYTES: u64 = 64_000;

/// The size of an invoice email with these attachments, as sent (bounded
/// from above: bodies are counted at [`EMAIL_OVERHEAD_BYTES`]).
pub fn email_len(attachments: &[u64]) -> u64 {
    EMAIL_OVERHEAD_BYTES + attachments.iter().map(|n| encoded_len(*n)).sum::<u64>()
}

/// An email over [`MAX_EMAIL_BYTES`] is refused, saying what is in it.
pub fn check_email(number: &str, pdf: u64, calls: Option<(&str, u64)>) -> Result<(), String> {
    let sizes: Vec<u64> = std::iter::once(pdf).chain(calls.map(|c| c.1)).collect();
    let total = email_len(&sizes);
    if total <= MAX_EMAIL_BYTES {
        return Ok(());
    }
    let calls_part = calls
        .map(|(name, n)| format!(" and {name} ({})", megabytes(n)))
        .unwrap_or_default();
    Err(format!(
        "invoice {number}: the email would be {} with the PDF ({}){calls_part}, over the {} \
         that mail servers accept; deliver the files another way (they are beside the \
         invoice's PDF)",
        megabytes(total),
        megabytes(pdf),
        megabytes(MAX_EMAIL_BYTES)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn call(call_type: &str, units: i64, destination: &str) -> Call {
        Call {
            service: "01130000001".into(),
            start: NaiveDate::from_ymd_opt(2026, 11, 2)
                .unwrap()
                .and_hms_opt(9, 5, 7)
                .unwrap(),
            destination: destination.into(),
            description: "UK mobile".into(),
            call_type: call_type.into(),
            units,
            charge_minor: 123,
        }
    }

    #[test]
    fn at_most_the_setting_is_itemised_in_the_pdf() {
        assert!(in_pdf(0, 0));
        assert!(!in_pdf(1, 0));
        assert!(in_pdf(2000, 2000));
        assert!(!in_pdf(2001, 2000));
        // A hand-edited setting above the maximum counts as the maximum.
        assert!(!in_pdf(20_001, u32::MAX));
    }

    #[test]
    fn rows_are_safe_for_spreadsheets() {
        assert_eq!(
            row(&call("voice", 205, "447700900123")),
            [
                "01130000001",
                "2026-11-02",
                "09:05:07",
                "447700900123",
                "UK mobile",
                "voice",
                "3:25",
                "205",
                "1.23"
            ]
        );
        let mut c = call("sms", 2, "=HYPERLINK(\"x\")");
        c.description = "@SUM(A1)".into();
        c.charge_minor = -5;
        let r = row(&c);
        assert_eq!(r[3], "'=HYPERLINK(\"x\")");
        assert_eq!(r[4], "'@SUM(A1)");
        assert_eq!(r[6], "2 messages");
        assert_eq!(r[8], "-0.05", "a genuine number stays a number");
        assert_eq!(row(&call("data", 1025, "internet"))[6], "2 KB");
    }

    #[test]
    fn file_names_and_note() {
        assert_eq!(file_name("INV000007", false), "INV000007-calls.csv");
        assert_eq!(file_name("INV000007", true), "INV000007-calls.csv.gz");
        assert!(is_gzip("INV000007-calls.csv.gz"));
        let n = note("INV000007-calls.csv", 30_000, true);
        assert!(n.starts_with("Itemised calls: see INV000007-calls.csv (30000 calls"));
    }

    #[test]
    fn sizes_are_checked_against_the_limits() {
        assert_eq!(megabytes(27_000_000), "27.0 MB");
        assert_eq!(megabytes(1), "0.1 MB");
        assert_eq!(encoded_len(3), 4 + 2);
        assert_eq!(encoded_len(57), 76 + 2);
        assert!(check_pdf("INV1", MAX_PDF_BYTES, 2000).is_ok());
        let e = check_pdf("INV1", MAX_PDF_BYTES + 1, 2000).unwrap_err();
        assert!(
            e.contains("INV1") && e.contains("invoice.itemise_max_lines (now 2000)"),
            "{e}"
        );
        assert!(check_email("INV1", 2_000_000, Some(("INV1-calls.csv.gz", 15_000_000))).is_ok());
        let e =
            check_email("INV1", 2_000_000, Some(("INV1-calls.csv.gz", 17_000_000))).unwrap_err();
        assert!(
            e.contains("INV1-calls.csv.gz (17.0 MB)") && e.contains("25.0 MB"),
            "{e}"
        );
        assert!(check_email("INV1", 19_000_000, None).is_err());
    }
}
