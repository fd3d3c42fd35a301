//! CDR rating against reference data held in memory, and the CDR identity
//! used for `duplicate` detection (docs/rating.md). Pure: values in, values out.
//!
//! [`Rater`] holds every service (by normalised number) and the rate table,
//! loaded once per command, so rating a line costs a few hash probes.
//!
//! The **dedupe key** is a compact 64-bit integer stored (unique, in
//! `cdr_keys`) for each CDR: the start time in seconds in the high bits (so
//! the keys of a month's CDRs sort together) and a
//! 28-bit FNV-1a hash of the identity (service, start, destination, units,
//! call type) in the low bits. A key is never trusted alone: on a key hit
//! the stored CDR's fields are compared in full, and when they differ (a
//! real hash collision) the next key of the probe sequence ([`dedupe_key`]
//! with `probe + 1`) is tried, as in open addressing. CDRs are never deleted,
//! so the first free key on the sequence proves "not seen before".
//!
//! A file's lines are parsed and rated into a [`LineBatch`] (plain rows:
//! [`RatedLine`]) off the database thread; the store only persists them
//! (`store::cdrs::store_lines`), settling duplicates by key.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use chrono::{Datelike, NaiveDateTime, Timelike};
use serde::Serialize;

use super::cdr_format::{LineView, Outcome};
use super::money;
use super::rating::{
    Band, CallType, ErrorKind, PeakWindow, RateError, RateRow, RateTable, ServiceInfo, band_at,
    charge, push_digits,
};

/// The fields that make two CDRs "identical" (docs/rating.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity<'a> {
    /// Normalised digits.
    pub service: &'a str,
    /// `YYYY-MM-DDTHH:MM:SS`.
    pub start: &'a str,
    /// Normalised digits (may be empty).
    pub destination: &'a str,
    pub call_type: CallType,
    /// Seconds (voice), messages (sms), bytes (data).
    pub units: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// The `probe`-th dedupe key of a CDR (see the module doc). Stable across
/// builds and platforms: keys are stored in the database.
pub fn dedupe_key(id: &Identity<'_>, start: NaiveDateTime, probe: u32) -> i64 {
    let mut h = fnv(
        FNV_OFFSET ^ u64::from(probe).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        b"",
    );
    h = fnv(h, id.service.as_bytes());
    h = fnv(h, b"|");
    h = fnv(h, id.start.as_bytes());
    h = fnv(h, b"|");
    h = fnv(h, id.destination.as_bytes());
    h = fnv(h, b"|");
    h = fnv(h, id.call_type.as_str().as_bytes());
    h = fnv(h, &id.units.to_le_bytes());
    // Fold the high bits in, FNV's low bits alone mix less well.
    let low = (h ^ (h >> 28) ^ (h >> 56)) & 0x0FFF_FFFF;
    let secs = start.and_utc().timestamp().clamp(0, (1 << 35) - 1);
    (secs << 28) | low as i64
}

/// A CDR start as `YYYY-MM-DDTHH:MM:SS`, on the stack (the import formats
/// one per line: no allocation, no formatting machinery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartText([u8; 19]);

impl StartText {
    /// `None` for a year outside 0000–9999 (not four digits).
    pub fn new(t: NaiveDateTime) -> Option<StartText> {
        let year = u32::try_from(t.year()).ok().filter(|y| *y <= 9999)?;
        let mut b = *b"0000-00-00T00:00:00";
        let mut put = |at: usize, width: usize, v: u32| {
            let mut v = v;
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        put(17, 2, t.second());
        Some(StartText(b))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits and separators")
    }
}

/// The stored form of a CDR's start: seconds since 1970-01-01T00:00:00 of
/// its local wall-clock time (no zone is involved; what `schema.sql`
/// migration 9 calls `start`). Order and day boundaries are those of the
/// `YYYY-MM-DDTHH:MM:SS` text it replaces.
pub fn start_secs(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp()
}

/// The first second of a day, in the form of [`start_secs`].
pub fn day_secs(d: chrono::NaiveDate) -> i64 {
    start_secs(d.and_time(chrono::NaiveTime::MIN))
}

/// A stored start back as a local time (`None` if out of range).
pub fn from_start_secs(s: i64) -> Option<NaiveDateTime> {
    chrono::DateTime::from_timestamp(s, 0).map(|d| d.naive_utc())
}

/// A rated CDR and the rate row that priced it.
#[derive(Debug, Clone, Copy)]
pub struct RatedWith<'a> {
    pub rate: &'a RateRow,
    pub band: Band,
    pub billable_units: u64,
    /// Rounded to cents.
    pub amount: rust_decimal::Decimal,
    /// `amount` in minor units (at most `money::MAX_AMOUNT`).
    pub charge_minor: i64,
}

/// Reference data for rating, loaded once.
#[derive(Debug, Default)]
pub struct Rater {
    /// By normalised number (Fx hash: one probe per CDR).
    pub services: FxHashMap<String, ServiceInfo>,
    pub rates: RateTable,
    pub peak: PeakWindow,
}

impl Rater {
    /// Rate one CDR whose numbers are already normalised. Checks in the documented
    /// order: `unknown_service`, `service_inactive`, `no_rate` (`malformed`
    /// and `duplicate` come before and are decided by the caller).
    pub fn rate(
        &self,
        service: &str,
        start: NaiveDateTime,
        destination: &str,
        call_type: CallType,
        units: u64,
    ) -> Result<RatedWith<'_>, RateError> {
        let info = self
            .services
            .get(service)
            .ok_or(RateError::UnknownService)?;
        if !info.active_on(start.date()) {
            return Err(RateError::ServiceInactive);
        }
        let band = band_at(start, &self.peak);
        let rate = self
            .rates
            .find(&info.tariff, call_type, band, destination)
            .ok_or(RateError::NoRate)?;
        let c = charge(rate, call_type, units);
        if c.amount.abs() > money::MAX_AMOUNT {
            return Err(RateError::ChargeTooLarge);
        }
        let charge_minor = money::to_minor(c.amount).map_err(|_| RateError::ChargeTooLarge)?;
        Ok(RatedWith {
            rate,
            band,
            billable_units: c.billable_units,
            amount: c.amount,
            charge_minor,
        })
    }

    /// The inbound rule of PBX files (docs/rating.md#pbx-files-asterisk): a
    /// call from a number that is not a known service to one that is came
    /// in from outside; it is not billed (not an `unknown_service` error).
    pub fn is_inbound(&self, caller: &str, destination: &str) -> bool {
        let known = |n: &str| {
            let d = super::rating::normalise_number(n);
            !d.is_empty() && self.services.contains_key(&d)
        };
        known(destination) && !known(caller)
    }

    /// Why rating failed, in words an operator can act on.
    pub fn explain(
        &self,
        err: RateError,
        service: &str,
        start: NaiveDateTime,
        destination: &str,
        call_type: CallType,
    ) -> String {
        match err {
            RateError::UnknownService => format!("no service {service}"),
            RateError::ServiceInactive => match self.services.get(service) {
                Some(s) => format!(
                    "service {service} is active {} to {}, the call is on {}",
                    s.start_date,
                    s.end_date.map_or("(open)".to_string(), |d| d.to_string()),
                    start.date()
                ),
                None => format!("service {service} is not active on {}", start.date()),
            },
            RateError::NoRate => {
                let band = band_at(start, &self.peak);
                let tariff = self
                    .services
                    .get(service)
                    .map_or("?", |s| s.tariff.as_str());
                let dest = if destination.is_empty() {
                    "(no digits)"
                } else {
                    destination
                };
                format!("tariff {tariff} has no {call_type} rate ({band} or all) for {dest}")
            }
            RateError::ChargeTooLarge => {
                let tariff = self
                    .services
                    .get(service)
                    .map_or("?", |s| s.tariff.as_str());
                let dest = if destination.is_empty() {
                    "(no digits)"
                } else {
                    destination
                };
                format!(
                    "the charge for this {call_type} record at tariff {tariff}'s rate for {dest} \
                     is beyond the largest amount billed for one record ({}): check the record's \
                     duration or quantity and the rate",
                    money::MAX_AMOUNT
                )
            }
        }
    }
}

/// A count as SQLite stores it (saturating).
pub fn to_i64(u: u64) -> i64 {
    i64::try_from(u).unwrap_or(i64::MAX)
}

// ---------------------------------------------------------------- import lines

/// What processing one file did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Processed {
    pub file_id: i64,
    pub lines: u64,
    pub rated: u64,
    pub not_billable: u64,
    /// Errors by kind, in documented order.
    pub errors: BTreeMap<String, u64>,
    pub charge_minor: i64,
}

impl Processed {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// A CDR's rating, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating {
    pub rate_id: i64,
    pub band: Band,
    pub billable_units: u64,
    /// The charge in minor units (rounded to cents by rating).
    pub charge_minor: i64,
}

impl Rating {
    /// The stored form of a successful [`Rater::rate`].
    pub fn of(r: &RatedWith<'_>) -> Rating {
        Rating {
            rate_id: r.rate.id,
            band: r.band,
            billable_units: r.billable_units,
            charge_minor: r.charge_minor,
        }
    }
}

/// Where a text of a line is in its batch's `text`.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    at: usize,
    len: usize,
}

/// Lines parsed and rated, with all their texts in one string: a batch
/// allocates nothing per line, and is emptied and reused.
#[derive(Debug, Default)]
pub struct LineBatch {
    text: String,
    pub lines: Vec<RatedLine>,
}

/// One line of a CDR file, parsed and rated; its texts are in its
/// [`LineBatch`].
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum RatedLine {
    NotBillable,
    Malformed {
        line: i64,
        detail: String,
        raw: Span,
    },
    Cdr(RatedCdr),
}

/// A well-formed CDR line: its stored fields, its first dedupe key and its
/// rating (or why it does not rate).
#[derive(Debug)]
pub struct RatedCdr {
    pub line: i64,
    pub raw: Span,
    /// Normalised digits.
    pub service: Span,
    pub start: StartText,
    /// `start` as stored ([`start_secs`]).
    pub secs: i64,
    /// The first dedupe key ([`dedupe_key`] probe 0).
    pub key: i64,
    /// Normalised digits.
    pub destination: Span,
    pub call_type: CallType,
    pub units: u64,
    /// The carrier cost, canonical text.
    pub cost: Span,
    pub record_id: Option<Span>,
    /// The rating, or the error kind and the operator's explanation.
    pub rated: Result<Rating, (ErrorKind, String)>,
}

/// The texts of a [`RatedCdr`], out of its batch.
#[derive(Debug, Clone, Copy)]
pub struct CdrText<'a> {
    pub raw: &'a str,
    pub service: &'a str,
    pub destination: &'a str,
    pub cost: &'a str,
    pub record_id: Option<&'a str>,
}

impl LineBatch {
    /// An empty batch with room for `lines` lines.
    pub fn with_capacity(lines: usize) -> LineBatch {
        LineBatch {
            text: String::with_capacity(lines * 128),
            lines: Vec::with_capacity(lines),
        }
    }

    /// This batch, empty, its memory kept for reuse.
    pub fn emptied(mut self) -> Self {
        self.text.clear();
        self.lines.clear();
        self
    }

    fn push(&mut self, s: &str) -> Span {
        let at = self.text.len();
        self.text.push_str(s);
        Span { at, len: s.len() }
    }

    /// `s` normalised to its digits (see `rating::normalise_number`).
    fn push_digits(&mut self, s: &str) -> Span {
        let at = self.text.len();
        push_digits(s, &mut self.text);
        Span {
            at,
            len: self.text.len() - at,
        }
    }

    /// The text at `s`.
    pub fn str(&self, s: Span) -> &str {
        &self.text[s.at..s.at + s.len]
    }

    /// The texts of CDR `c` of this batch.
    pub fn texts(&self, c: &RatedCdr) -> CdrText<'_> {
        CdrText {
            raw: self.str(c.raw),
            service: self.str(c.service),
            destination: self.str(c.destination),
            cost: self.str(c.cost),
            record_id: c.record_id.map(|r| self.str(r)),
        }
    }

    /// Parse and rate one line into the batch.
    pub fn push_line(&mut self, l: LineView<'_>, rater: &Rater) {
        let line = to_i64(l.line);
        let rec = match l.outcome {
            Outcome::NotBillable(_) => return self.lines.push(RatedLine::NotBillable),
            Outcome::Malformed { column, reason } => {
                let detail = match column {
                    Some(c) => format!("{c}: {reason}"),
                    None => reason,
                };
                let raw = self.push(l.raw);
                return self.lines.push(RatedLine::Malformed { line, detail, raw });
            }
            Outcome::Cdr(rec) => rec,
        };
        if let Some(caller) = rec.caller
            && rater.is_inbound(caller, rec.destination)
        {
            return self.lines.push(RatedLine::NotBillable);
        }
        let Some(start) = StartText::new(rec.start) else {
            let raw = self.push(l.raw);
            return self.lines.push(RatedLine::Malformed {
                line,
                detail: "start: the year is not between 0000 and 9999".into(),
                raw,
            });
        };
        let units = rec.units();
        let raw = self.push(l.raw);
        let service = self.push_digits(rec.service);
        let destination = self.push_digits(rec.destination);
        let cost = self.push(&money::canonical_text(
            rec.carrier_cost_text,
            rec.carrier_cost,
        ));
        let record_id = rec.record_id.map(|r| self.push(r));
        let (service_s, destination_s) = (self.str(service), self.str(destination));
        let rated = rater
            .rate(service_s, rec.start, destination_s, rec.call_type, units)
            .map(|r| Rating::of(&r))
            .map_err(|e| {
                (
                    e.kind(),
                    rater.explain(e, service_s, rec.start, destination_s, rec.call_type),
                )
            });
        let key = dedupe_key(
            &Identity {
                service: service_s,
                start: start.as_str(),
                destination: destination_s,
                call_type: rec.call_type,
                units,
            },
            rec.start,
            0,
        );
        self.lines.push(RatedLine::Cdr(RatedCdr {
            line,
            raw,
            service,
            start,
            secs: start_secs(rec.start),
            key,
            destination,
            call_type: rec.call_type,
            units,
            cost,
            record_id,
            rated,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").unwrap()
    }

    fn id<'a>(svc: &'a str, start: &'a str, dest: &'a str, units: u64) -> Identity<'a> {
        Identity {
            service: svc,
            start,
            destination: dest,
            call_type: CallType::Voice,
            units,
        }
    }

    #[test]
    fn dedupe_key_is_stable_and_ordered_by_time() {
        let a = id("441134960000", "2026-11-02T09:00:00", "442079460000", 60);
        let k = dedupe_key(&a, t("2026-11-02T09:00:00"), 0);
        // Pinned: keys are stored, so the function must never change.
        assert_eq!(k, dedupe_key(&a.clone(), t("2026-11-02T09:00:00"), 0));
        assert_eq!(k >> 28, t("2026-11-02T09:00:00").and_utc().timestamp());
        assert_eq!(
            k, 481_468_518_502_041_433,
            "dedupe key changed: stored keys would break"
        );
        let later = dedupe_key(&a, t("2026-11-02T09:00:01"), 0);
        assert!(later > k);
        // Each identity field matters, and probes differ.
        for other in [
            id("441134960001", "2026-11-02T09:00:00", "442079460000", 60),
            id("441134960000", "2026-11-02T09:00:00", "442079460001", 60),
            id("441134960000", "2026-11-02T09:00:00", "442079460000", 61),
        ] {
            assert_ne!(dedupe_key(&other, t("2026-11-02T09:00:00"), 0), k);
        }
        let mut sms = a.clone();
        sms.call_type = CallType::Sms;
        assert_ne!(dedupe_key(&sms, t("2026-11-02T09:00:00"), 0), k);
        assert_ne!(dedupe_key(&a, t("2026-11-02T09:00:00"), 1), k);
    }

    #[test]
    fn start_is_formatted_without_fractions() {
        let ts = NaiveDate::from_ymd_opt(2026, 1, 2)
            .unwrap()
            .and_hms_milli_opt(3, 4, 5, 678)
            .unwrap();
        assert_eq!(StartText::new(ts).unwrap().as_str(), "2026-01-02T03:04:05");
        let far = NaiveDate::from_ymd_opt(12026, 12, 31)
            .unwrap()
            .and_hms_opt(23, 59, 58)
            .unwrap();
        assert!(StartText::new(far).is_none());
    }

    fn rater() -> Rater {
        let row = |id, prefix: &str, band, rate: &str, inc: &str| RateRow {
            id,
            tariff: "STD".into(),
            prefix: prefix.into(),
            description: format!("d{id}"),
            call_type: CallType::Voice,
            band,
            flagfall: "0".parse().unwrap(),
            rate: rate.parse().unwrap(),
            increment: inc.parse().unwrap(),
            minimum_charge: "0".parse().unwrap(),
            maximum_charge: None,
        };
        let mut services = FxHashMap::default();
        services.insert(
            "447700900300".to_string(),
            ServiceInfo {
                tariff: "STD".into(),
                start_date: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
                end_date: None,
            },
        );
        Rater {
            services,
            rates: RateTable::new(vec![
                row(1, "44", Band::Peak, "0.09", "60/60"),
                row(2, "44", Band::Offpeak, "0.04", "60/60"),
            ]),
            peak: PeakWindow::default(),
        }
    }

    #[test]
    fn inbound_pbx_calls_are_calls_to_a_known_service_from_an_unknown_number() {
        let r = rater();
        // Outside caller to our service (written as the PBX writes it).
        assert!(r.is_inbound("02079460000", "+44 7700 900300"));
        // Our service calling out, or calling another of ours: outbound.
        assert!(!r.is_inbound("447700900300", "02079460000"));
        assert!(!r.is_inbound("447700900300", "447700900300"));
        // Neither known: not inbound (stays unknown_service when rated).
        assert!(!r.is_inbound("1", "2"));
        // No digits is never a known service.
        assert!(!r.is_inbound("anonymous", "s"));
    }

    #[test]
    fn rater_checks_in_spec_order() {
        let r = rater();
        let svc = "447700900300";
        assert_eq!(
            r.rate("1", t("2026-11-17T10:00:00"), "44", CallType::Voice, 1)
                .unwrap_err(),
            RateError::UnknownService
        );
        assert_eq!(
            r.rate(svc, t("2026-11-15T23:59:59"), "44", CallType::Voice, 1)
                .unwrap_err(),
            RateError::ServiceInactive
        );
        assert_eq!(
            r.rate(svc, t("2026-11-17T10:00:00"), "33", CallType::Voice, 1)
                .unwrap_err(),
            RateError::NoRate
        );
        // Tuesday 10:00 peak, 61 s at 60/60 → 120 s × 0.09/60 = 0.18.
        let ok = r
            .rate(svc, t("2026-11-17T10:00:00"), "4420", CallType::Voice, 61)
            .unwrap();
        assert_eq!(ok.rate.id, 1);
        assert_eq!(ok.band, Band::Peak);
        assert_eq!(ok.billable_units, 120);
        assert_eq!(ok.amount.to_string(), "0.18");
        let why = r.explain(
            RateError::ServiceInactive,
            svc,
            t("2026-11-15T10:00:00"),
            "",
            CallType::Voice,
        );
        assert!(why.contains("2026-11-16 to (open)"), "{why}");
        let why = r.explain(
            RateError::NoRate,
            svc,
            t("2026-11-17T10:00:00"),
            "33",
            CallType::Voice,
        );
        assert_eq!(why, "tariff STD has no voice rate (peak or all) for 33");
    }

    // Ported from `rating::rate_cdr`'s tests (that function was unused):
    // the same cases through the `Rater` the import uses.

    fn rater_t1() -> Rater {
        let row = |id, prefix: &str, ct, band, rate: &str, inc: &str| RateRow {
            id,
            tariff: "T1".into(),
            prefix: prefix.into(),
            description: format!("d{id}"),
            call_type: ct,
            band,
            flagfall: "0".parse().unwrap(),
            rate: rate.parse().unwrap(),
            increment: inc.parse().unwrap(),
            minimum_charge: "0".parse().unwrap(),
            maximum_charge: None,
        };
        let mut services = FxHashMap::default();
        services.insert(
            "0770".to_string(),
            ServiceInfo {
                tariff: "T1".into(),
                start_date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                end_date: NaiveDate::from_ymd_opt(2026, 11, 30),
            },
        );
        Rater {
            services,
            rates: RateTable::new(vec![
                row(10, "44", CallType::Voice, Band::Peak, "1.20", "60/60"),
                row(11, "44", CallType::Voice, Band::All, "0.60", "60/60"),
                row(12, "", CallType::Sms, Band::All, "0.10", "1/1"),
            ]),
            peak: PeakWindow::default(),
        }
    }

    fn rated(
        r: &Rater,
        start: &str,
        dest: &str,
        ct: CallType,
        units: u64,
    ) -> Result<Rating, RateError> {
        r.rate("0770", t(start), dest, ct, units)
            .map(|x| Rating::of(&x))
    }

    #[test]
    fn rater_rates_peak_offpeak_and_sms() {
        let r = rater_t1();
        let ok = |rate_id, band, billable_units, charge_minor| {
            Ok(Rating {
                rate_id,
                band,
                billable_units,
                charge_minor,
            })
        };
        // Monday 09:00 peak: 61 s at 60/60 → 120 s × 1.20/min.
        assert_eq!(
            rated(
                &r,
                "2026-11-02T09:00:00",
                "442079460000",
                CallType::Voice,
                61
            ),
            ok(10, Band::Peak, 120, 240)
        );
        // Saturday: offpeak, the all-band row.
        assert_eq!(
            rated(
                &r,
                "2026-11-07T09:00:00",
                "442079460000",
                CallType::Voice,
                61
            ),
            ok(11, Band::Offpeak, 120, 120)
        );
        assert_eq!(
            rated(&r, "2026-11-07T09:00:00", "4479", CallType::Sms, 3),
            ok(12, Band::Offpeak, 3, 30)
        );
    }

    #[test]
    fn rater_checks_in_order_and_service_dates_are_inclusive() {
        let r = rater_t1();
        assert_eq!(
            r.rate("0771", t("2020-01-01T09:00:00"), "33", CallType::Data, 1)
                .unwrap_err(),
            RateError::UnknownService
        );
        // Inactive wins over no_rate.
        assert_eq!(
            rated(&r, "2020-01-01T09:00:00", "33", CallType::Data, 1),
            Err(RateError::ServiceInactive)
        );
        assert_eq!(
            rated(&r, "2026-11-15T09:00:00", "33", CallType::Data, 1),
            Err(RateError::NoRate)
        );
        let at = |s| rated(&r, s, "44", CallType::Voice, 1).map(|_| ());
        assert_eq!(at("2026-10-31T23:59:59"), Err(RateError::ServiceInactive));
        assert!(at("2026-11-01T00:00:00").is_ok());
        assert!(at("2026-11-30T23:59:59").is_ok());
        assert_eq!(at("2026-12-01T00:00:00"), Err(RateError::ServiceInactive));
        let mut open = rater_t1();
        open.services.get_mut("0770").unwrap().end_date = None;
        assert!(
            open.rate("0770", t("2030-01-01T10:00:00"), "44", CallType::Voice, 1)
                .is_ok()
        );
    }

    #[test]
    fn a_batch_holds_parsed_and_rated_lines() {
        use crate::domain::cdr_format::{CdrFormat, CdrReader};
        let body = "service,start,duration,destination,call_type,quantity,carrier_cost,record_id\n\
                    0770,2026-11-02T09:00:00,61,+44 20 7946 0000,voice,,0.0100,r1\n\
                    0770,not a time,61,44,voice,,0.01,\n\
                    0999,2026-11-02T09:00:00,61,44,voice,,0.01,\n";
        let mut reader = CdrReader::new(CdrFormat::Billrun, body.as_bytes()).unwrap();
        let r = rater_t1();
        let mut b = LineBatch::with_capacity(4);
        while let Some(l) = reader.next_line() {
            b.push_line(l.unwrap(), &r);
        }
        assert_eq!(b.lines.len(), 3);
        let RatedLine::Cdr(c) = &b.lines[0] else {
            panic!("{:?}", b.lines[0])
        };
        let txt = b.texts(c);
        assert_eq!((txt.service, txt.destination), ("0770", "442079460000"));
        assert_eq!((txt.cost, txt.record_id), ("0.0100", Some("r1")));
        assert_eq!(c.line, 2);
        assert_eq!(c.start.as_str(), "2026-11-02T09:00:00");
        let identity = Identity {
            service: txt.service,
            start: c.start.as_str(),
            destination: txt.destination,
            call_type: c.call_type,
            units: c.units,
        };
        let when = from_start_secs(c.secs).unwrap();
        assert_eq!(c.key, dedupe_key(&identity, when, 0));
        assert_eq!(c.rated.as_ref().unwrap().charge_minor, 240);
        assert!(matches!(&b.lines[1], RatedLine::Malformed { line: 3, .. }));
        let RatedLine::Cdr(u) = &b.lines[2] else {
            panic!("{:?}", b.lines[2])
        };
        assert_eq!(
            u.rated.as_ref().unwrap_err(),
            &(ErrorKind::UnknownService, "no service 0999".to_string())
        );
        let b = b.emptied();
        assert!(b.lines.is_empty() && b.text.is_empty());
    }
}
