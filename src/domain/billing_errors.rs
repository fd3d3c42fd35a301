//! The billing-errors report (docs/rating.md): a summary per kind, most costly
//! first, and suggestions for `unknown_service`. Pure.
//!
//! - **Summary order**: by open carrier cost (the revenue at risk), highest
//!   first; on equal cost, in the documented check order (`malformed`,
//!   `duplicate`, `unknown_service`, `service_inactive`, `no_rate`, then the
//!   fee kinds), so the listing is stable.
//! - **Distinct**: the distinct *destinations* for `no_rate` (a missing rate
//!   is per destination), the distinct *files* for `malformed`, the distinct
//!   *services* for every other kind — each counted over open errors.
//! - **Suggestions**: a known service whose number differs from the unknown
//!   one only by the national/international prefix (`0…` vs `CC…` vs
//!   `00CC…`, with `CC` the provider's country code) or a leading zero.

use rust_decimal::Decimal;
use serde::Serialize;

use super::money;
use super::rating::ErrorKind;

/// One billing error as stored (enough for the report).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorRow {
    pub id: i64,
    #[serde(serialize_with = "ser_kind")]
    pub kind: ErrorKind,
    pub state: String,
    pub service: Option<String>,
    pub destination: Option<String>,
    pub start: Option<String>,
    pub file: Option<String>,
    pub file_id: Option<i64>,
    pub line: i64,
    pub carrier_cost: Decimal,
    pub detail: String,
}

/// The figures of one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindSummary {
    #[serde(serialize_with = "ser_kind")]
    pub kind: ErrorKind,
    pub open: u64,
    pub resolved: u64,
    pub ignored: u64,
    /// Sum of the carrier cost of the open errors.
    pub carrier_cost: Decimal,
    /// Distinct services (destinations for no_rate, files for malformed) among the open errors.
    pub distinct: u64,
}

fn ser_kind<S: serde::Serializer>(k: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.as_str())
}

/// What `distinct` counts for a kind.
pub fn distinct_label(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NoRate => "destinations",
        ErrorKind::Malformed => "files",
        _ => "services",
    }
}

/// Per-kind summary of `rows` (all states), most costly first. Kinds with no
/// error at all are left out.
#[cfg(test)]
pub fn summarise(rows: &[ErrorRow]) -> Vec<KindSummary> {
    let mut out: Vec<KindSummary> = Vec::new();
    for kind in ErrorKind::ALL {
        let mut s = KindSummary {
            kind,
            open: 0,
            resolved: 0,
            ignored: 0,
            carrier_cost: Decimal::ZERO,
            distinct: 0,
        };
        let mut seen: std::collections::HashSet<String> = Default::default();
        let mut any = false;
        for r in rows.iter().filter(|r| r.kind == kind) {
            any = true;
            match r.state.as_str() {
                "open" => {
                    s.open += 1;
                    s.carrier_cost += r.carrier_cost;
                    let key = match kind {
                        ErrorKind::NoRate => r.destination.clone(),
                        ErrorKind::Malformed => r.file_id.map(|f| f.to_string()),
                        _ => r.service.clone(),
                    };
                    seen.insert(key.unwrap_or_default());
                }
                "resolved" => s.resolved += 1,
                _ => s.ignored += 1,
            }
        }
        s.distinct = seen.len() as u64;
        if any {
            out.push(s);
        }
    }
    // Stable sort keeps the documented order among equal costs.
    out.sort_by_key(|s| std::cmp::Reverse(s.carrier_cost));
    out
}

/// Format a summary's cost for display (two decimals).
pub fn cost(s: &KindSummary) -> String {
    money::fmt(s.carrier_cost)
}

/// The country calling code of the provider, from its currency (for
/// suggestions): GBP 44, AUD 61, NZD 64, USD/CAD 1; none otherwise.
pub fn country_code(currency: &str) -> &'static str {
    match currency {
        "GBP" => "44",
        "AUD" => "61",
        "NZD" => "64",
        "USD" | "CAD" => "1",
        _ => "",
    }
}

/// The number stripped of `00`, then the country code, then leading zeros.
fn core<'a>(n: &'a str, cc: &str) -> &'a str {
    let mut s = n.strip_prefix("00").unwrap_or(n);
    if !cc.is_empty()
        && let Some(rest) = s.strip_prefix(cc)
        && rest.len() >= 6
    {
        s = rest;
    }
    s.trim_start_matches('0')
}

/// Known services that differ from `unknown` only by a national or
/// international prefix or a leading zero. `known` are normalised numbers.
pub fn suggestions<'a>(
    unknown: &str,
    known: impl IntoIterator<Item = &'a String>,
    cc: &str,
) -> Vec<String> {
    let want = core(unknown, cc);
    if want.len() < 6 {
        return Vec::new();
    }
    let mut out: Vec<String> = known
        .into_iter()
        .filter(|k| k.as_str() != unknown && core(k, cc) == want)
        .cloned()
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn row(
        id: i64,
        kind: ErrorKind,
        state: &str,
        svc: &str,
        dest: &str,
        cost: Decimal,
    ) -> ErrorRow {
        ErrorRow {
            id,
            kind,
            state: state.into(),
            service: Some(svc.into()),
            destination: Some(dest.into()),
            start: None,
            file: Some("f.csv".into()),
            file_id: Some(1),
            line: id,
            carrier_cost: cost,
            detail: String::new(),
        }
    }

    #[test]
    fn summary_is_most_costly_first_then_spec_order() {
        use ErrorKind::*;
        let rows = vec![
            row(1, NoRate, "open", "1", "33", dec!(0.10)),
            row(2, NoRate, "open", "2", "33", dec!(0.10)),
            row(3, NoRate, "ignored", "2", "34", dec!(9)),
            row(4, UnknownService, "open", "9", "44", dec!(1.50)),
            row(5, Duplicate, "open", "1", "44", dec!(0)),
            row(6, Malformed, "resolved", "", "", dec!(0)),
            row(7, ServiceInactive, "open", "3", "44", dec!(0)),
        ];
        let s = summarise(&rows);
        let kinds: Vec<_> = s.iter().map(|k| k.kind).collect();
        assert_eq!(
            kinds,
            vec![
                UnknownService,
                NoRate,
                Malformed,
                Duplicate,
                ServiceInactive
            ]
        );
        let nr = &s[1];
        assert_eq!((nr.open, nr.ignored, nr.distinct), (2, 1, 1));
        assert_eq!(cost(nr), "0.20");
        assert_eq!(s[2].open, 0);
        assert_eq!(s[2].resolved, 1);
    }

    #[test]
    fn suggestions_match_national_international_and_leading_zero() {
        let known: Vec<String> = ["447700900100", "01134960000", "447700900101"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            suggestions("07700900100", &known, "44"),
            vec!["447700900100"]
        );
        assert_eq!(
            suggestions("00447700900101", &known, "44"),
            vec!["447700900101"]
        );
        assert_eq!(suggestions("1134960000", &known, "44"), vec!["01134960000"]);
        assert_eq!(
            suggestions("441134960000", &known, "44"),
            vec!["01134960000"]
        );
        // Other digits differ: no suggestion; never the number itself.
        assert!(suggestions("07700900199", &known, "44").is_empty());
        assert!(suggestions("447700900100", &known, "44").is_empty());
        assert!(suggestions("0", &known, "44").is_empty());
        assert_eq!(country_code("AUD"), "61");
    }
}
