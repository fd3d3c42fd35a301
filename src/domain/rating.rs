//! Rating: which rate applies to a CDR, and what it costs (docs/rating.md).
//!
//! Everything here is pure: reference data comes in as values ([`RateTable`],
//! [`ServiceInfo`], [`PeakWindow`]), a [`Charge`] or a [`RateError`] goes out
//! (`domain::cdrs::Rater` applies them to one CDR).
//!
//! Decisions where the documented rules were silent (all pinned by tests below):
//! - **Zero usage costs nothing.** A voice call of 0 seconds, an SMS line of 0
//!   messages and a data session of 0 bytes are charged 0 with 0 billable
//!   units: no flagfall, no minimum charge (the minimum and the cap only apply
//!   to a charge above 0 anyway).
//! - **Billable units** are seconds for voice, messages for SMS and *kilobytes*
//!   (after increments) for data.
//! - **Credits.** A negative flagfall or rate gives a negative charge; the
//!   minimum and maximum charge are not applied to it (the documented rules apply them
//!   only to a charge above 0). Rounding is half away from zero for both signs.
//! - **Overflow.** Amounts that would leave `Decimal`'s range (only reachable
//!   with absurd rates or durations) saturate instead of panicking; unit
//!   counts saturate at `u64::MAX`. A charge beyond `money::MAX_AMOUNT` for
//!   one record is not billed: `Rater::rate` reports it as
//!   [`RateError::ChargeTooLarge`] (a `no_rate` billing error on the CDR).
//! - **Peak window.** Peak is Monday–Friday with `start <= time < end`, judged
//!   on the CDR's *start* time only (a call is never split across bands). A
//!   window whose end is before its start wraps midnight (the weekday is the
//!   start's day); a window with equal ends is never peak.
//! - **Duplicate rate rows** with the same (tariff, call type, band, prefix):
//!   the first row given to [`RateTable::new`] wins (imports key on exactly
//!   these columns, so this does not happen with imported data).

use rustc_hash::FxHashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use rust_decimal::Decimal;

use super::money;

/// What a CDR records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallType {
    Voice,
    Sms,
    Data,
}

impl CallType {
    /// Every call type, in file order.
    pub const ALL: [CallType; 3] = [CallType::Voice, CallType::Sms, CallType::Data];

    /// The name used in files and the database (`voice`, `sms`, `data`).
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Voice => "voice",
            CallType::Sms => "sms",
            CallType::Data => "data",
        }
    }

    /// Its position in [`Self::ALL`] (0 voice, 1 sms, 2 data): the index
    /// of per-call-type tables, and the code `cdrs.call_type` stores
    /// (`store::cdrs::code`, schema.sql migration 11).
    pub fn index(self) -> usize {
        match self {
            CallType::Voice => 0,
            CallType::Sms => 1,
            CallType::Data => 2,
        }
    }

    /// The units rating charges, from a CDR's duration and quantity:
    /// seconds for voice, messages for sms, bytes for data.
    pub fn units(self, duration: u64, quantity: u64) -> u64 {
        match self {
            CallType::Voice => duration,
            CallType::Sms | CallType::Data => quantity,
        }
    }
}

impl FromStr for CallType {
    type Err = String;
    /// Exactly `voice`, `sms` or `data` (lowercase).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "voice" => Ok(CallType::Voice),
            "sms" => Ok(CallType::Sms),
            "data" => Ok(CallType::Data),
            _ => Err(format!("'{s}' is not a call type (voice, sms or data)")),
        }
    }
}

impl fmt::Display for CallType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Time band of a rate (`all` applies at any time) or of a CDR (peak/offpeak).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Band {
    All,
    Peak,
    Offpeak,
}

impl Band {
    /// The name used in files and the database (`all`, `peak`, `offpeak`).
    pub fn as_str(self) -> &'static str {
        match self {
            Band::All => "all",
            Band::Peak => "peak",
            Band::Offpeak => "offpeak",
        }
    }
}

impl FromStr for Band {
    type Err = String;
    /// Exactly `all`, `peak` or `offpeak` (lowercase).
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Band::All),
            "peak" => Ok(Band::Peak),
            "offpeak" => Ok(Band::Offpeak),
            _ => Err(format!("'{s}' is not a band (all, peak or offpeak)")),
        }
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Charging increment `F/N`: the first `F` units are charged as a block, then
/// blocks of `N` (seconds for voice, kilobytes for data). Default `1/1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Increment {
    pub first: u32,
    pub next: u32,
}

impl Default for Increment {
    fn default() -> Self {
        Increment { first: 1, next: 1 }
    }
}

impl Increment {
    /// Round `units` up to the increment: 0 stays 0; up to `first` is `first`;
    /// beyond, `first` plus whole blocks of `next`.
    pub fn billable(self, units: u64) -> u64 {
        let first = u64::from(self.first);
        let next = u64::from(self.next).max(1);
        if units == 0 {
            0
        } else if units <= first {
            first
        } else {
            let blocks = (units - first).div_ceil(next);
            first.saturating_add(blocks.saturating_mul(next))
        }
    }
}

impl FromStr for Increment {
    type Err = String;
    /// `F/N` with both whole numbers above 0, e.g. `60/60`, `30/30`, `1/1`, `60/1`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "'{t}' is not an increment: expected F/N in whole numbers above 0, e.g. 60/60 or 1/1"
            )
        };
        let (f, n) = t.split_once('/').ok_or_else(bad)?;
        let num = |x: &str| -> Result<u32, String> {
            let x = x.trim();
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match x.parse::<u32>() {
                Ok(0) => Err(format!("'{t}': both parts of an increment must be above 0")),
                Ok(v) => Ok(v),
                Err(_) => Err(format!("'{t}': increment part '{x}' is too large")),
            }
        };
        Ok(Increment {
            first: num(f)?,
            next: num(n)?,
        })
    }
}

impl fmt::Display for Increment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.first, self.next)
    }
}

/// One row of a tariff (docs/file-formats.md#tariffscsv).
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    pub id: i64,
    pub tariff: String,
    /// Digits; empty matches every destination.
    pub prefix: String,
    pub description: String,
    pub call_type: CallType,
    pub band: Band,
    pub flagfall: Decimal,
    /// Per minute (voice), per message (sms), per MB (data).
    pub rate: Decimal,
    pub increment: Increment,
    pub minimum_charge: Decimal,
    pub maximum_charge: Option<Decimal>,
}

/// The weekday peak window (settings `bands.peak_start`, `bands.peak_end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeakWindow {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Default for PeakWindow {
    /// 07:00–19:00.
    fn default() -> Self {
        PeakWindow {
            start: NaiveTime::from_hms_opt(7, 0, 0).unwrap_or(NaiveTime::MIN),
            end: NaiveTime::from_hms_opt(19, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}

/// The band of a CDR starting at `start`: peak on Monday–Friday when
/// `w.start <= time < w.end` (07:00:00 is peak, 19:00:00 is offpeak), else
/// offpeak. Weekends are always offpeak.
pub fn band_at(start: NaiveDateTime, w: &PeakWindow) -> Band {
    if matches!(start.weekday(), Weekday::Sat | Weekday::Sun) {
        return Band::Offpeak;
    }
    let t = start.time();
    let peak = if w.start <= w.end {
        w.start <= t && t < w.end
    } else {
        t >= w.start || t < w.end
    };
    if peak { Band::Peak } else { Band::Offpeak }
}

/// A number reduced to its digits: `+44 20-7946 0000` → `442079460000`. A
/// value with no digits (an APN such as `internet`) becomes empty.
pub fn normalise_number(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_digits(s, &mut out);
    out
}

/// [`normalise_number`] appended to `out` (the CDR import writes many
/// numbers into one string); a number that is all digits already is
/// copied as it is.
pub fn push_digits(s: &str, out: &mut String) {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        out.push_str(s);
    } else {
        out.extend(s.chars().filter(char::is_ascii_digit));
    }
}

/// Row indices for one prefix, one slot per band.
#[derive(Debug, Default, Clone, Copy)]
struct BandSlots {
    all: Option<usize>,
    peak: Option<usize>,
    offpeak: Option<usize>,
}

impl BandSlots {
    fn slot(&mut self, band: Band) -> &mut Option<usize> {
        match band {
            Band::All => &mut self.all,
            Band::Peak => &mut self.peak,
            Band::Offpeak => &mut self.offpeak,
        }
    }

    /// The specific band first, then `all`.
    fn pick(&self, band: Band) -> Option<usize> {
        let specific = match band {
            Band::All => None,
            Band::Peak => self.peak,
            Band::Offpeak => self.offpeak,
        };
        specific.or(self.all)
    }
}

// The rate index hashes with rustc's Fx hash (`rustc_hash`): keys are the
// operator's own tariff names and digit prefixes, looked up several times
// per CDR, so the default SipHash (built to resist hostile keys) is
// needless cost here.
/// The rates of one (tariff, call type), indexed by prefix.
#[derive(Debug, Default)]
struct PrefixIndex {
    by_prefix: FxHashMap<String, BandSlots>,
    max_len: usize,
}

/// Every rate, indexed for the hot path: per tariff and call type a hash map
/// from prefix to the rows of each band. A lookup tries the destination's
/// prefixes from the longest (capped at the longest prefix of that tariff)
/// down to the empty one, so it costs at most `max prefix length + 1` hash
/// probes and allocates nothing.
#[derive(Debug, Default)]
pub struct RateTable {
    rows: Vec<RateRow>,
    index: FxHashMap<String, [PrefixIndex; 3]>,
}

impl RateTable {
    /// Index `rows`. For duplicate (tariff, call type, band, prefix) rows the
    /// first wins.
    pub fn new(rows: Vec<RateRow>) -> RateTable {
        let mut index: FxHashMap<String, [PrefixIndex; 3]> = FxHashMap::default();
        for (i, r) in rows.iter().enumerate() {
            let per_type = index.entry(r.tariff.clone()).or_default();
            let pi = &mut per_type[r.call_type.index()];
            let slots = pi.by_prefix.entry(r.prefix.clone()).or_default();
            let slot = slots.slot(r.band);
            if slot.is_none() {
                *slot = Some(i);
            }
            pi.max_len = pi.max_len.max(r.prefix.len());
        }
        RateTable { rows, index }
    }

    /// Every row, in the order given.
    #[cfg(test)]
    pub fn rows(&self) -> &[RateRow] {
        &self.rows
    }

    /// The rate for a CDR: same tariff and call type, band equal to `band` or
    /// `all`; the longest prefix of `normalised_dest` wins; on equal prefix
    /// length a specific band beats `all`. `None` is the `no_rate` error.
    pub fn find(
        &self,
        tariff: &str,
        call_type: CallType,
        band: Band,
        normalised_dest: &str,
    ) -> Option<&RateRow> {
        let pi = &self.index.get(tariff)?[call_type.index()];
        let longest = pi.max_len.min(normalised_dest.len());
        for len in (0..=longest).rev() {
            let Some(prefix) = normalised_dest.get(..len) else {
                continue; // not a char boundary: cannot equal a digit prefix
            };
            if let Some(i) = pi.by_prefix.get(prefix).and_then(|s| s.pick(band)) {
                return self.rows.get(i);
            }
        }
        None
    }
}

/// The price of one CDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// Ex-tax, rounded half away from zero to cents.
    pub amount: Decimal,
    /// Seconds (voice), messages (sms) or kilobytes (data) after increments.
    pub billable_units: u64,
}

/// Price `units` (seconds for voice, messages for sms, bytes for data) at
/// `rate`, exactly per docs/rating.md; zero units cost nothing (see module doc).
pub fn charge(rate: &RateRow, call_type: CallType, units: u64) -> Charge {
    if units == 0 {
        return Charge {
            amount: Decimal::ZERO,
            billable_units: 0,
        };
    }
    let (billable, variable) = match call_type {
        CallType::Voice => {
            let b = rate.increment.billable(units);
            (b, per(rate.rate, b, 60))
        }
        CallType::Sms => (units, rate.rate.saturating_mul(Decimal::from(units))),
        CallType::Data => {
            let kb = units.div_ceil(1024);
            let b = rate.increment.billable(kb);
            (b, per(rate.rate, b, 1024))
        }
    };
    let mut amount = rate.flagfall.saturating_add(variable);
    if amount > Decimal::ZERO {
        amount = amount.max(rate.minimum_charge);
        if let Some(cap) = rate.maximum_charge {
            amount = amount.min(cap);
        }
    }
    Charge {
        amount: money::round_minor(amount),
        billable_units: billable,
    }
}

/// `rate × units / divisor`, multiplying first so the result stays exact.
fn per(rate: Decimal, units: u64, divisor: u32) -> Decimal {
    let d = Decimal::from(divisor);
    match rate.checked_mul(Decimal::from(units)) {
        Some(x) => x / d,
        None => (rate / d).saturating_mul(Decimal::from(units)),
    }
}

/// What rating needs to know about the CDR's service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    /// The service's plan's tariff.
    pub tariff: String,
    pub start_date: NaiveDate,
    /// Inclusive; `None` = still active.
    pub end_date: Option<NaiveDate>,
}

impl ServiceInfo {
    /// Whether `date` is within `start_date..=end_date`.
    pub fn active_on(&self, date: NaiveDate) -> bool {
        date >= self.start_date && self.end_date.is_none_or(|e| date <= e)
    }
}

/// Why a well-formed, non-duplicate CDR could not be rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum RateError {
    #[error("no service with this number")]
    UnknownService,
    #[error("the service is not active on the call date")]
    ServiceInactive,
    #[error("no rate in the tariff for this destination, call type and band")]
    NoRate,
    /// The charge is beyond `money::MAX_AMOUNT` for one record (absurd
    /// units or rate): recorded as a `no_rate` error (no usable rate), with
    /// its own explanation, rather than billed or panicking.
    #[error("the charge is beyond the largest amount billed for one record")]
    ChargeTooLarge,
}

impl RateError {
    pub fn kind(self) -> ErrorKind {
        match self {
            RateError::UnknownService => ErrorKind::UnknownService,
            RateError::ServiceInactive => ErrorKind::ServiceInactive,
            RateError::NoRate | RateError::ChargeTooLarge => ErrorKind::NoRate,
        }
    }
}

/// Every kind of billing error (docs/rating.md, docs/rating.md#wholesale-fixed-fees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    Malformed,
    Duplicate,
    UnknownService,
    ServiceInactive,
    NoRate,
    FeeUnknownService,
    FeeUnknownCode,
}

impl ErrorKind {
    /// In the order the checks run (CDR kinds, then fee kinds).
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Malformed,
        ErrorKind::Duplicate,
        ErrorKind::UnknownService,
        ErrorKind::ServiceInactive,
        ErrorKind::NoRate,
        ErrorKind::FeeUnknownService,
        ErrorKind::FeeUnknownCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Malformed => "malformed",
            ErrorKind::Duplicate => "duplicate",
            ErrorKind::UnknownService => "unknown_service",
            ErrorKind::ServiceInactive => "service_inactive",
            ErrorKind::NoRate => "no_rate",
            ErrorKind::FeeUnknownService => "fee_unknown_service",
            ErrorKind::FeeUnknownCode => "fee_unknown_code",
        }
    }

    /// Whether this kind belongs to wholesale fixed fees (docs/rating.md#wholesale-fixed-fees).
    pub fn is_fee(self) -> bool {
        matches!(
            self,
            ErrorKind::FeeUnknownService | ErrorKind::FeeUnknownCode
        )
    }
}

impl FromStr for ErrorKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ErrorKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("'{s}' is not an error kind ({})", names.join(", "))
            })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_type_index_is_its_position_in_all() {
        for (i, c) in CallType::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(c.as_str().parse::<CallType>(), Ok(c));
        }
    }

    #[test]
    fn numbers_are_reduced_to_their_digits() {
        assert_eq!(normalise_number("+44 (0) 20-79"), "4402079");
        assert_eq!(normalise_number("internet"), "");
        let mut s = String::from("x");
        push_digits("+44 (0) 20-79", &mut s);
        push_digits("|0770", &mut s);
        push_digits("0771", &mut s);
        assert_eq!(s, "x440207907700771");
    }
    use rust_decimal_macros::dec;

    fn row(id: i64, prefix: &str, ct: CallType, band: Band) -> RateRow {
        RateRow {
            id,
            tariff: "T1".into(),
            prefix: prefix.into(),
            description: format!("rate {id}"),
            call_type: ct,
            band,
            flagfall: Decimal::ZERO,
            rate: dec!(0.60),
            increment: Increment::default(),
            minimum_charge: Decimal::ZERO,
            maximum_charge: None,
        }
    }

    fn voice(rate: Decimal, flagfall: Decimal, inc: &str) -> RateRow {
        RateRow {
            rate,
            flagfall,
            increment: inc.parse().unwrap(),
            ..row(1, "", CallType::Voice, Band::All)
        }
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    // ---- names -------------------------------------------------------------

    #[test]
    fn call_type_and_band_names_round_trip() {
        for ct in CallType::ALL {
            assert_eq!(ct.as_str().parse::<CallType>().unwrap(), ct);
        }
        for b in [Band::All, Band::Peak, Band::Offpeak] {
            assert_eq!(b.as_str().parse::<Band>().unwrap(), b);
        }
        assert!("Voice".parse::<CallType>().is_err());
        assert!(
            "mms"
                .parse::<CallType>()
                .unwrap_err()
                .contains("voice, sms or data")
        );
        assert!("off-peak".parse::<Band>().is_err());
    }

    #[test]
    fn error_kind_names_round_trip() {
        let names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "malformed",
                "duplicate",
                "unknown_service",
                "service_inactive",
                "no_rate",
                "fee_unknown_service",
                "fee_unknown_code"
            ]
        );
        for k in ErrorKind::ALL {
            assert_eq!(k.as_str().parse::<ErrorKind>().unwrap(), k);
            assert_eq!(k.to_string(), k.as_str());
        }
        assert!("nope".parse::<ErrorKind>().unwrap_err().contains("no_rate"));
        assert!(ErrorKind::FeeUnknownCode.is_fee());
        assert!(!ErrorKind::NoRate.is_fee());
        assert_eq!(RateError::NoRate.kind(), ErrorKind::NoRate);
        assert_eq!(RateError::UnknownService.kind(), ErrorKind::UnknownService);
        assert_eq!(
            RateError::ServiceInactive.kind(),
            ErrorKind::ServiceInactive
        );
    }

    // ---- increments --------------------------------------------------------

    #[test]
    fn increment_parses_and_displays() {
        for s in ["60/60", "30/30", "1/1", "60/1"] {
            assert_eq!(s.parse::<Increment>().unwrap().to_string(), s);
        }
        assert_eq!(
            " 30/6 ".parse::<Increment>().unwrap(),
            Increment { first: 30, next: 6 }
        );
        assert_eq!(Increment::default(), Increment { first: 1, next: 1 });
        assert_eq!(Increment::default().to_string(), "1/1");
    }

    #[test]
    fn increment_rejects_bad_text_clearly() {
        for s in [
            "", "60", "60/", "/60", "a/b", "60/60/60", "-1/1", "1.5/1", "+1/1",
        ] {
            let e = s.parse::<Increment>().unwrap_err();
            assert!(e.contains("F/N"), "{s}: {e}");
        }
        assert!("0/60".parse::<Increment>().unwrap_err().contains("above 0"));
        assert!("60/0".parse::<Increment>().unwrap_err().contains("above 0"));
        assert!(
            "99999999999/1"
                .parse::<Increment>()
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn increment_billable_units() {
        let i = |s: &str| s.parse::<Increment>().unwrap();
        assert_eq!(i("60/60").billable(0), 0);
        assert_eq!(i("60/60").billable(1), 60);
        assert_eq!(i("60/60").billable(60), 60);
        assert_eq!(i("60/60").billable(61), 120);
        assert_eq!(i("60/60").billable(120), 120);
        assert_eq!(i("30/30").billable(30), 30);
        assert_eq!(i("30/30").billable(31), 60);
        assert_eq!(i("60/1").billable(59), 60);
        assert_eq!(i("60/1").billable(61), 61);
        assert_eq!(i("1/1").billable(1), 1);
        assert_eq!(i("1/1").billable(61), 61);
        assert_eq!(i("30/6").billable(31), 36);
        assert_eq!(i("60/60").billable(u64::MAX), u64::MAX);
    }

    // ---- voice -------------------------------------------------------------

    #[test]
    fn voice_zero_duration_is_free_even_with_flagfall() {
        let r = RateRow {
            minimum_charge: dec!(0.50),
            ..voice(dec!(1.20), dec!(0.30), "60/60")
        };
        assert_eq!(
            charge(&r, CallType::Voice, 0),
            Charge {
                amount: dec!(0),
                billable_units: 0
            }
        );
    }

    #[test]
    fn voice_60_60_edges() {
        let r = voice(dec!(1.20), dec!(0), "60/60");
        let c = |s| charge(&r, CallType::Voice, s);
        assert_eq!(
            c(1),
            Charge {
                amount: dec!(1.20),
                billable_units: 60
            }
        );
        assert_eq!(
            c(60),
            Charge {
                amount: dec!(1.20),
                billable_units: 60
            }
        ); // d = F
        assert_eq!(
            c(61),
            Charge {
                amount: dec!(2.40),
                billable_units: 120
            }
        ); // d = F+1
        assert_eq!(
            c(120),
            Charge {
                amount: dec!(2.40),
                billable_units: 120
            }
        );
    }

    #[test]
    fn voice_30_30_edges() {
        let r = voice(dec!(1.20), dec!(0), "30/30");
        assert_eq!(
            charge(&r, CallType::Voice, 30),
            Charge {
                amount: dec!(0.60),
                billable_units: 30
            }
        );
        assert_eq!(
            charge(&r, CallType::Voice, 31),
            Charge {
                amount: dec!(1.20),
                billable_units: 60
            }
        );
        assert_eq!(
            charge(&r, CallType::Voice, 1),
            Charge {
                amount: dec!(0.60),
                billable_units: 30
            }
        );
    }

    #[test]
    fn voice_60_1_edges() {
        let r = voice(dec!(0.60), dec!(0), "60/1");
        assert_eq!(
            charge(&r, CallType::Voice, 1),
            Charge {
                amount: dec!(0.60),
                billable_units: 60
            }
        );
        assert_eq!(
            charge(&r, CallType::Voice, 60),
            Charge {
                amount: dec!(0.60),
                billable_units: 60
            }
        );
        // 61 s × 0.60/60 = 0.61
        assert_eq!(
            charge(&r, CallType::Voice, 61),
            Charge {
                amount: dec!(0.61),
                billable_units: 61
            }
        );
    }

    #[test]
    fn voice_1_1_per_second_with_flagfall() {
        let r = voice(dec!(0.60), dec!(0.10), "1/1");
        assert_eq!(
            charge(&r, CallType::Voice, 1),
            Charge {
                amount: dec!(0.11),
                billable_units: 1
            }
        );
        assert_eq!(
            charge(&r, CallType::Voice, 90),
            Charge {
                amount: dec!(1.00),
                billable_units: 90
            }
        );
    }

    #[test]
    fn minimum_charge_applies_above_zero() {
        let r = RateRow {
            minimum_charge: dec!(0.25),
            ..voice(dec!(0.60), dec!(0), "1/1")
        };
        assert_eq!(charge(&r, CallType::Voice, 1).amount, dec!(0.25)); // 0.01 → 0.25
        assert_eq!(charge(&r, CallType::Voice, 60).amount, dec!(0.60)); // above minimum
    }

    #[test]
    fn maximum_charge_caps() {
        let r = RateRow {
            maximum_charge: Some(dec!(2.00)),
            ..voice(dec!(1.20), dec!(0), "60/60")
        };
        assert_eq!(charge(&r, CallType::Voice, 60).amount, dec!(1.20));
        assert_eq!(charge(&r, CallType::Voice, 3600).amount, dec!(2.00));
        assert_eq!(charge(&r, CallType::Voice, 3600).billable_units, 3600);
    }

    #[test]
    fn cap_wins_over_minimum_when_both_apply() {
        // max(x, min) first, then min(x, cap): a cap below the minimum wins.
        let r = RateRow {
            minimum_charge: dec!(1.00),
            maximum_charge: Some(dec!(0.50)),
            ..voice(dec!(0.60), dec!(0), "1/1")
        };
        assert_eq!(charge(&r, CallType::Voice, 1).amount, dec!(0.50));
    }

    #[test]
    fn zero_charge_gets_no_minimum() {
        let r = RateRow {
            minimum_charge: dec!(0.25),
            ..voice(dec!(0), dec!(0), "60/60")
        };
        assert_eq!(charge(&r, CallType::Voice, 30).amount, dec!(0));
    }

    #[test]
    fn rounding_half_away_from_zero_both_signs() {
        // 0.0125 × 1 message... use sms for an exact .xx5
        let r = RateRow {
            rate: dec!(0.125),
            ..row(1, "", CallType::Sms, Band::All)
        };
        assert_eq!(charge(&r, CallType::Sms, 1).amount, dec!(0.13));
        let credit = RateRow {
            rate: dec!(-0.125),
            ..r.clone()
        };
        assert_eq!(charge(&credit, CallType::Sms, 1).amount, dec!(-0.13));
        // voice: 0.0125/s... 0.75/min × 1 s (1/1) = 0.0125 → 0.01; 0.45/min × 1 s = 0.0075 → 0.01
        let v = voice(dec!(0.45), dec!(0), "1/1");
        assert_eq!(charge(&v, CallType::Voice, 1).amount, dec!(0.01));
        let v = voice(dec!(-0.45), dec!(0), "1/1");
        assert_eq!(charge(&v, CallType::Voice, 1).amount, dec!(-0.01));
        // 0.3 s of a 0.0149 → 0.01, not 0.02 (no double rounding)
        let v = voice(dec!(0.894), dec!(0), "1/1");
        assert_eq!(charge(&v, CallType::Voice, 1).amount, dec!(0.01)); // 0.0149
    }

    #[test]
    fn credit_lines_skip_minimum_and_cap() {
        let r = RateRow {
            minimum_charge: dec!(1.00),
            maximum_charge: Some(dec!(0.10)),
            ..voice(dec!(0), dec!(-5.005), "60/60")
        };
        assert_eq!(charge(&r, CallType::Voice, 10).amount, dec!(-5.01));
    }

    #[test]
    fn huge_inputs_do_not_panic() {
        let r = RateRow {
            rate: Decimal::MAX,
            ..voice(dec!(0), dec!(0), "1/1")
        };
        let c = charge(&r, CallType::Voice, u64::MAX);
        assert!(c.amount > dec!(0));
        let c = charge(
            &RateRow {
                rate: Decimal::MAX,
                ..r.clone()
            },
            CallType::Sms,
            u64::MAX,
        );
        assert!(c.amount > dec!(0));
    }

    // ---- sms ---------------------------------------------------------------

    #[test]
    fn sms_is_per_message_and_ignores_increment() {
        let r = RateRow {
            flagfall: dec!(0.01),
            rate: dec!(0.08),
            increment: "60/60".parse().unwrap(),
            ..row(1, "", CallType::Sms, Band::All)
        };
        assert_eq!(
            charge(&r, CallType::Sms, 1),
            Charge {
                amount: dec!(0.09),
                billable_units: 1
            }
        );
        assert_eq!(
            charge(&r, CallType::Sms, 3),
            Charge {
                amount: dec!(0.25),
                billable_units: 3
            }
        );
        assert_eq!(
            charge(&r, CallType::Sms, 0),
            Charge {
                amount: dec!(0),
                billable_units: 0
            }
        );
    }

    // ---- data --------------------------------------------------------------

    fn data(inc: &str) -> RateRow {
        RateRow {
            rate: dec!(1.024), // per MB → 0.001 per KB
            increment: inc.parse().unwrap(),
            ..row(1, "", CallType::Data, Band::All)
        }
    }

    #[test]
    fn data_bytes_round_up_to_kilobytes() {
        let r = data("1/1");
        let c = |b| charge(&r, CallType::Data, b);
        assert_eq!(
            c(0),
            Charge {
                amount: dec!(0),
                billable_units: 0
            }
        );
        assert_eq!(
            c(1),
            Charge {
                amount: dec!(0.00),
                billable_units: 1
            }
        );
        assert_eq!(
            c(1024),
            Charge {
                amount: dec!(0.00),
                billable_units: 1
            }
        );
        assert_eq!(
            c(1025),
            Charge {
                amount: dec!(0.00),
                billable_units: 2
            }
        );
        assert_eq!(
            c(5 * 1024),
            Charge {
                amount: dec!(0.01),
                billable_units: 5
            }
        ); // 0.005 → 0.01
        assert_eq!(
            c(1024 * 1024),
            Charge {
                amount: dec!(1.02),
                billable_units: 1024
            }
        );
    }

    #[test]
    fn data_with_10_10_increments() {
        let r = data("10/10");
        let c = |b| charge(&r, CallType::Data, b);
        assert_eq!(c(1).billable_units, 10);
        assert_eq!(c(10 * 1024).billable_units, 10);
        assert_eq!(c(10 * 1024 + 1).billable_units, 20);
        assert_eq!(c(10 * 1024 + 1).amount, dec!(0.02));
        let zero_flagfall = RateRow {
            flagfall: dec!(0.50),
            ..data("10/10")
        };
        assert_eq!(charge(&zero_flagfall, CallType::Data, 0).amount, dec!(0));
        assert_eq!(charge(&zero_flagfall, CallType::Data, 1).amount, dec!(0.51));
    }

    #[test]
    fn data_rate_per_mb_exact() {
        let r = RateRow {
            rate: dec!(10),
            ..data("1/1")
        };
        // 1 MB at 10/MB
        assert_eq!(charge(&r, CallType::Data, 1_048_576).amount, dec!(10.00));
        // 1 GB
        assert_eq!(charge(&r, CallType::Data, 1 << 30).amount, dec!(10240.00));
    }

    // ---- bands -------------------------------------------------------------

    #[test]
    fn band_boundaries_on_a_weekday() {
        let w = PeakWindow::default();
        // 2026-11-02 is a Monday, 2026-11-06 a Friday.
        assert_eq!(band_at(dt("2026-11-02 06:59:59"), &w), Band::Offpeak);
        assert_eq!(band_at(dt("2026-11-02 07:00:00"), &w), Band::Peak);
        assert_eq!(band_at(dt("2026-11-02 18:59:59"), &w), Band::Peak);
        assert_eq!(band_at(dt("2026-11-02 19:00:00"), &w), Band::Offpeak);
        assert_eq!(band_at(dt("2026-11-06 12:00:00"), &w), Band::Peak);
        assert_eq!(band_at(dt("2026-11-06 00:00:00"), &w), Band::Offpeak);
    }

    #[test]
    fn weekends_are_offpeak() {
        let w = PeakWindow::default();
        assert_eq!(band_at(dt("2026-11-07 12:00:00"), &w), Band::Offpeak); // Saturday
        assert_eq!(band_at(dt("2026-11-08 07:00:00"), &w), Band::Offpeak); // Sunday
    }

    #[test]
    fn custom_and_wrapping_windows() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        let w = PeakWindow {
            start: t(8, 30),
            end: t(17, 30),
        };
        assert_eq!(band_at(dt("2026-11-02 08:29:59"), &w), Band::Offpeak);
        assert_eq!(band_at(dt("2026-11-02 08:30:00"), &w), Band::Peak);
        let night = PeakWindow {
            start: t(22, 0),
            end: t(6, 0),
        };
        assert_eq!(band_at(dt("2026-11-02 23:00:00"), &night), Band::Peak);
        assert_eq!(band_at(dt("2026-11-02 05:59:59"), &night), Band::Peak);
        assert_eq!(band_at(dt("2026-11-02 06:00:00"), &night), Band::Offpeak);
        let never = PeakWindow {
            start: t(7, 0),
            end: t(7, 0),
        };
        assert_eq!(band_at(dt("2026-11-02 07:00:00"), &never), Band::Offpeak);
    }

    // ---- numbers -----------------------------------------------------------

    #[test]
    fn numbers_normalise_to_digits() {
        assert_eq!(normalise_number("+44 20 7946-0000"), "442079460000");
        assert_eq!(normalise_number("07700 900123"), "07700900123");
        assert_eq!(normalise_number("internet"), "");
        assert_eq!(normalise_number(""), "");
        assert_eq!(normalise_number("(02) 9999 0000"), "0299990000");
    }

    // ---- rate lookup -------------------------------------------------------

    #[test]
    fn longest_prefix_wins() {
        let t = RateTable::new(vec![
            row(1, "44", CallType::Voice, Band::All),
            row(2, "447", CallType::Voice, Band::All),
            row(3, "4477", CallType::Voice, Band::All),
        ]);
        let f = |dest| {
            t.find("T1", CallType::Voice, Band::Peak, dest)
                .map(|r| r.id)
        };
        assert_eq!(f("447712345678"), Some(3));
        assert_eq!(f("447612345678"), Some(2));
        assert_eq!(f("442079460000"), Some(1));
        assert_eq!(f("33123456789"), None);
        assert_eq!(f("4"), None);
        assert_eq!(f("44"), Some(1)); // the whole number equals the prefix
    }

    #[test]
    fn empty_prefix_matches_everything() {
        let t = RateTable::new(vec![
            row(1, "", CallType::Data, Band::All),
            row(2, "44", CallType::Voice, Band::All),
            row(3, "", CallType::Voice, Band::All),
        ]);
        assert_eq!(
            t.find("T1", CallType::Data, Band::Peak, "").map(|r| r.id),
            Some(1)
        );
        assert_eq!(
            t.find("T1", CallType::Data, Band::Offpeak, "123")
                .map(|r| r.id),
            Some(1)
        );
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Peak, "3312")
                .map(|r| r.id),
            Some(3)
        );
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Peak, "4412")
                .map(|r| r.id),
            Some(2)
        );
    }

    #[test]
    fn equal_prefix_specific_band_beats_all() {
        let t = RateTable::new(vec![
            row(1, "44", CallType::Voice, Band::All),
            row(2, "44", CallType::Voice, Band::Peak),
        ]);
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Peak, "4420")
                .map(|r| r.id),
            Some(2)
        );
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Offpeak, "4420")
                .map(|r| r.id),
            Some(1)
        );
    }

    #[test]
    fn longer_all_prefix_beats_shorter_specific_band() {
        let t = RateTable::new(vec![
            row(1, "44", CallType::Voice, Band::Peak),
            row(2, "447", CallType::Voice, Band::All),
            row(3, "4477", CallType::Voice, Band::Offpeak),
        ]);
        // 4477 offpeak-only does not apply at peak: fall back to 447 (all).
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Peak, "447700")
                .map(|r| r.id),
            Some(2)
        );
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Offpeak, "447700")
                .map(|r| r.id),
            Some(3)
        );
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Peak, "4420")
                .map(|r| r.id),
            Some(1)
        );
        assert_eq!(t.find("T1", CallType::Voice, Band::Offpeak, "4420"), None);
    }

    #[test]
    fn lookup_respects_tariff_and_call_type() {
        let mut other = row(9, "44", CallType::Voice, Band::All);
        other.tariff = "T2".into();
        let t = RateTable::new(vec![row(1, "44", CallType::Sms, Band::All), other]);
        assert_eq!(t.find("T1", CallType::Voice, Band::Peak, "4420"), None);
        assert_eq!(
            t.find("T1", CallType::Sms, Band::Peak, "4420")
                .map(|r| r.id),
            Some(1)
        );
        assert_eq!(
            t.find("T2", CallType::Voice, Band::Peak, "4420")
                .map(|r| r.id),
            Some(9)
        );
        assert_eq!(t.find("T3", CallType::Voice, Band::Peak, "4420"), None);
        assert_eq!(t.rows().len(), 2);
        assert!(!t.rows().is_empty());
        assert!(RateTable::new(vec![]).rows().is_empty());
    }

    #[test]
    fn first_of_duplicate_rows_wins() {
        let t = RateTable::new(vec![
            row(1, "44", CallType::Voice, Band::All),
            row(2, "44", CallType::Voice, Band::All),
        ]);
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Peak, "44")
                .map(|r| r.id),
            Some(1)
        );
    }

    #[test]
    fn non_ascii_destination_does_not_panic() {
        let t = RateTable::new(vec![row(1, "4", CallType::Voice, Band::All)]);
        assert_eq!(
            t.find("T1", CallType::Voice, Band::Peak, "é4")
                .map(|r| r.id),
            None
        );
    }
}
