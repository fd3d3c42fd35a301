//! Money: exact decimals, and the one rounding rule (docs/rating.md).
//!
//! Every amount is a `rust_decimal::Decimal`. Rounding happens only where the
//! spec says (per CDR, per plan-fee line, tax once per invoice), always
//! half away from zero to the minor unit (two decimals for GBP, AUD, EUR).
//! Rounded amounts are stored as integer minor units (pence, cents) so SQL
//! sums stay exact; unrounded prices (rates, fees) are stored as decimal text.

use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

/// Decimal places of the minor unit of every supported currency (GBP, AUD, EUR).
pub const MINOR_DIGITS: u32 = 2;

/// Round half away from zero to the minor unit (the only rounding rule, docs/rating.md).
pub fn round_minor(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(MINOR_DIGITS, RoundingStrategy::MidpointAwayFromZero)
}

/// A rounded amount as integer minor units. Rounds first (half away from
/// zero). `Err` when the amount does not fit in 64-bit minor units (only
/// reachable from absurd stored values: every input is at most
/// [`MAX_AMOUNT`]); the message says which amount.
pub fn to_minor(d: Decimal) -> Result<i64, String> {
    round_minor(d)
        .checked_mul(Decimal::ONE_HUNDRED)
        .and_then(|r| i64::try_from(r.trunc()).ok())
        .ok_or_else(|| format!("the amount {d} is too large to bill"))
}

/// Sum minor units, `None` on overflow.
pub fn checked_sum(amounts: impl IntoIterator<Item = i64>) -> Option<i64> {
    amounts.into_iter().try_fold(0i64, i64::checked_add)
}

/// Integer minor units back to a decimal amount with two places.
pub fn from_minor(m: i64) -> Decimal {
    Decimal::new(m, MINOR_DIGITS)
}

/// Format an amount with exactly two decimals (`"12.30"`), as JSON and CSV want.
/// Zero is always `0.00`, never `-0.00` (a negated or rounded-away zero
/// keeps its sign in `Decimal`).
pub fn fmt(d: Decimal) -> String {
    let mut r = round_minor(d);
    r.rescale(MINOR_DIGITS);
    if r.is_zero() {
        r.set_sign_positive(true);
    }
    r.to_string()
}

/// Format minor units with exactly two decimals.
pub fn fmt_minor(m: i64) -> String {
    fmt(from_minor(m))
}

/// Parse a plain decimal amount as files carry it (`12.5`, `-3.00`, `0`).
/// No currency symbols, thousands separators or exponents.
pub fn parse(s: &str) -> Result<Decimal, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty amount".into());
    }
    let ok = t
        .char_indices()
        .all(|(i, c)| c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0));
    if !ok || t.matches('.').count() > 1 || t == "-" || t == "+" || t == "." {
        return Err(format!("'{t}' is not a plain decimal amount (e.g. 12.50)"));
    }
    let d = Decimal::from_str(t).map_err(|e| format!("'{t}' is not a decimal amount: {e}"))?;
    if d.abs() > MAX_AMOUNT {
        return Err(format!(
            "'{t}' is beyond the largest amount billrun accepts ({MAX_AMOUNT}, in either direction)"
        ));
    }
    Ok(d)
}

/// The largest amount, price or rate billrun accepts from any input (files,
/// the command line, settings): ten million in the currency. Anything larger
/// is a typing or export error; refusing it at the door keeps every sum of a
/// month (even 10M CDRs at this rate) far inside the range of the arithmetic.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 0);

/// `d`, read by [`parse`] from `s`, as text: `s` itself when it already
/// is what `d.to_string()` would give (no formatting: the CDR import
/// stores one per line), else `d.to_string()`. The fast form: up to 20
/// characters, an optional `-` on a non-zero amount, digits without a
/// leading zero (but a lone `0` before the point), optionally a point
/// followed by digits.
pub fn canonical_text(s: &str, d: Decimal) -> std::borrow::Cow<'_, str> {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let (int, frac) = match memchr::memchr(b'.', digits) {
        Some(p) => (&digits[..p], Some(&digits[p + 1..])),
        None => (digits, None),
    };
    let canonical = b.len() <= 20
        && !int.is_empty()
        && int.iter().all(u8::is_ascii_digit)
        && (int[0] != b'0' || int.len() == 1)
        && frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit))
        && (digits.len() == b.len() || !d.is_zero());
    if canonical {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(d.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parse_refuses_amounts_beyond_the_maximum() {
        assert_eq!(parse("10000000").unwrap(), MAX_AMOUNT);
        assert_eq!(parse("-10000000.00").unwrap(), -MAX_AMOUNT);
        let e = parse("99999999999999999999999999.99").unwrap_err();
        assert!(e.contains("largest amount"), "{e}");
        assert!(parse("10000000.01").is_err());
        assert!(parse("-10000000.01").is_err());
    }

    #[test]
    fn canonical_text_is_what_to_string_gives() {
        for s in [
            "0",
            "0.0294",
            "12",
            "12.50",
            "-3.00",
            "-0",
            "-0.00",
            "0.00",
            "007",
            "07.5",
            ".5",
            "+1.5",
            "10.",
            "-.5",
            "1234567890.1234567890",
            "12345678901234567890.5",
            "0.0000000000000000000000000001",
        ] {
            // Beyond MAX_AMOUNT parse refuses; canonical_text must still agree.
            let d = parse(s).or_else(|_| Decimal::from_str(s)).unwrap();
            assert_eq!(canonical_text(s, d), d.to_string(), "{s}");
        }
        assert!(matches!(
            canonical_text("0.0294", dec!(0.0294)),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn rounds_half_away_from_zero_both_signs() {
        assert_eq!(round_minor(dec!(0.005)), dec!(0.01));
        assert_eq!(round_minor(dec!(-0.005)), dec!(-0.01));
        assert_eq!(round_minor(dec!(1.0049)), dec!(1.00));
        assert_eq!(round_minor(dec!(2.675)), dec!(2.68));
    }

    #[test]
    fn zero_is_never_printed_negative() {
        assert_eq!(fmt(-dec!(0.00)), "0.00");
        assert_eq!(fmt(-Decimal::ZERO), "0.00");
        assert_eq!(fmt(dec!(-0.004)), "0.00");
        assert_eq!(fmt(-from_minor(0)), "0.00");
        assert_eq!(fmt(dec!(-0.005)), "-0.01");
    }

    #[test]
    fn to_minor_and_sums_refuse_overflow_instead_of_panicking() {
        assert!(to_minor(Decimal::MAX).unwrap_err().contains("too large"));
        assert!(to_minor(Decimal::MIN).is_err());
        assert!(to_minor(Decimal::from(i64::MAX)).is_err());
        assert_eq!(to_minor(MAX_AMOUNT), Ok(1_000_000_000));
        assert_eq!(checked_sum([1, 2, 3]), Some(6));
        assert_eq!(checked_sum([i64::MAX, 1]), None);
        assert_eq!(checked_sum([i64::MIN, -1]), None);
    }

    #[test]
    fn minor_units_round_trip() {
        assert_eq!(to_minor(dec!(12.305)), Ok(1231));
        assert_eq!(to_minor(dec!(-12.305)), Ok(-1231));
        assert_eq!(from_minor(1230), dec!(12.30));
        assert_eq!(fmt_minor(-5), "-0.05");
        assert_eq!(fmt(dec!(12.3)), "12.30");
        assert_eq!(fmt(dec!(7)), "7.00");
    }

    #[test]
    fn parses_plain_decimals_only() {
        assert_eq!(parse("12.5").unwrap(), dec!(12.5));
        assert_eq!(parse("-3.00").unwrap(), dec!(-3.00));
        assert!(parse("£3").is_err());
        assert!(parse("1,000").is_err());
        assert!(parse("1e3").is_err());
        assert!(parse("").is_err());
        assert!(parse("1.2.3").is_err());
    }
}
