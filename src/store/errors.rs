//! Reading billing errors for `errors` (summary, drill-down, suggestions)
//! without holding them: the summary is one pass over the narrow
//! `billing_errors_summary` index (migration 28), the drill-down hands rows
//! to the caller one at a time as SQLite reads them.

use chrono::{Days, NaiveDate};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ToSql};
use rust_decimal::Decimal;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::domain::billing_errors::{ErrorRow, KindSummary};
use crate::domain::money;
use crate::domain::rating::ErrorKind;
use crate::error::{Result, bad_input};

/// Which errors: of one kind, dated on or before a cutoff (undated ones,
/// such as malformed lines, always count).
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    pub kind: Option<ErrorKind>,
    pub cutoff: Option<NaiveDate>,
}

impl Filter {
    /// The WHERE conditions (on `billing_errors` as `e`) and their values.
    fn sql(&self) -> (String, Vec<String>) {
        let mut cond = vec!["1".to_string()];
        let mut vals = Vec::new();
        if let Some(k) = self.kind {
            vals.push(k.as_str().to_string());
            cond.push(format!("e.kind = ?{}", vals.len()));
        }
        if let Some(until) = self
            .cutoff
            .and_then(|c| c.checked_add_days(Days::new(1)))
            .map(|d| d.to_string())
        {
            vals.push(until);
            cond.push(format!("(e.start IS NULL OR e.start < ?{})", vals.len()));
        }
        (cond.join(" AND "), vals)
    }
}

/// A text column's bytes, borrowed: no copy and no UTF-8 check per row
/// (the summary only compares and counts them; the few distinct costs are
/// checked once, at the end).
fn bytes_or_null<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<&'a [u8]>> {
    match r.get_ref(i)? {
        ValueRef::Text(t) => Ok(Some(t)),
        ValueRef::Null => Ok(None),
        v => Err(rusqlite::Error::InvalidColumnType(
            i,
            String::new(),
            v.data_type(),
        )),
    }
}

fn bytes<'a>(r: &'a rusqlite::Row<'_>, i: usize) -> rusqlite::Result<&'a [u8]> {
    bytes_or_null(r, i)?.ok_or_else(|| {
        rusqlite::Error::InvalidColumnType(i, String::new(), rusqlite::types::Type::Null)
    })
}

fn binds(vals: &[String]) -> Vec<&dyn ToSql> {
    vals.iter().map(|v| v as &dyn ToSql).collect()
}

/// One kind's running figures in [`summary`].
#[derive(Default)]
struct Tally {
    open: u64,
    resolved: u64,
    ignored: u64,
    /// Open errors per carrier-cost text: costs repeat (a carrier's few
    /// prices), so each distinct text is parsed once, at the end, and
    /// multiplied by its count (exact, as adding it that often).
    costs: FxHashMap<Box<[u8]>, u64>,
    /// The distinct services (destinations for no_rate) of open errors.
    seen: FxHashSet<Box<[u8]>>,
    /// The distinct files of open malformed errors (`None`: no file).
    files: FxHashSet<Option<i64>>,
}

/// The per-kind figures of `billing_errors::summarise` (all states; kinds
/// without an error left out; most costly first, then in documented order),
/// computed in one pass without keeping the rows: memory grows with the
/// distinct services/destinations/files and costs among open errors, not
/// with the errors.
///
/// The per-row work is kept small: the index is in kind order, so a row's
/// kind is compared with the previous row's and looked up only when it
/// changes; costs and keys go through FxHash (short texts), not SipHash.
pub fn summary(conn: &Connection, f: &Filter) -> Result<Vec<KindSummary>> {
    let (cond, vals) = f.sql();
    let mut st = conn.prepare(&format!(
        "SELECT e.kind, e.state, e.service, e.destination, e.file_id, e.carrier_cost
         FROM billing_errors e WHERE {cond}"
    ))?;
    let mut q = st.query(binds(&vals).as_slice())?;
    let mut tallies: Vec<Tally> = ErrorKind::ALL.iter().map(|_| Tally::default()).collect();
    // The kind of the previous row (its index in ALL).
    let mut cur: Option<usize> = None;
    while let Some(r) = q.next()? {
        let kind = bytes(r, 0)?;
        let i = match cur {
            Some(i) if ErrorKind::ALL[i].as_str().as_bytes() == kind => i,
            _ => {
                let i = ErrorKind::ALL
                    .iter()
                    .position(|k| k.as_str().as_bytes() == kind)
                    .ok_or_else(|| {
                        bad_input(format!(
                            "'{}' is not an error kind",
                            String::from_utf8_lossy(kind)
                        ))
                    })?;
                cur = Some(i);
                i
            }
        };
        let t = &mut tallies[i];
        match bytes(r, 1)? {
            b"open" => {
                t.open += 1;
                let cost = bytes(r, 5)?;
                match t.costs.get_mut(cost) {
                    Some(c) => *c += 1,
                    None => {
                        t.costs.insert(cost.into(), 1);
                    }
                }
                match ErrorKind::ALL[i] {
                    ErrorKind::Malformed => {
                        t.files.insert(r.get(4)?);
                    }
                    k => {
                        let col = if k == ErrorKind::NoRate { 3 } else { 2 };
                        let key = bytes_or_null(r, col)?.unwrap_or(b"");
                        if !t.seen.contains(key) {
                            t.seen.insert(key.into());
                        }
                    }
                }
            }
            b"resolved" => t.resolved += 1,
            _ => t.ignored += 1,
        }
    }
    let mut out = Vec::new();
    for (kind, t) in ErrorKind::ALL.iter().zip(tallies) {
        if t.open + t.resolved + t.ignored == 0 {
            continue;
        }
        // A cost beyond money::MAX_AMOUNT never parses (it counts as 0),
        // so the sums stay far inside Decimal's range; checked anyway.
        let mut carrier_cost = Decimal::ZERO;
        for (text, count) in &t.costs {
            let text = std::str::from_utf8(text)
                .map_err(|e| bad_input(format!("a carrier cost is not text: {e}")))?;
            carrier_cost = money::parse(text)
                .unwrap_or_default()
                .checked_mul(Decimal::from(*count))
                .and_then(|c| carrier_cost.checked_add(c))
                .unwrap_or(Decimal::MAX);
        }
        out.push(KindSummary {
            kind: *kind,
            open: t.open,
            resolved: t.resolved,
            ignored: t.ignored,
            carrier_cost,
            distinct: (t.seen.len() + t.files.len()) as u64,
        });
    }
    // Stable sort keeps the documented order among equal costs.
    out.sort_by_key(|s| std::cmp::Reverse(s.carrier_cost));
    Ok(out)
}

/// The open `unknown_service` errors by service number (`""` for none),
/// in number order, with their counts.
pub fn unknown_services(conn: &Connection, f: &Filter) -> Result<Vec<(String, u64)>> {
    if f.kind.is_some_and(|k| k != ErrorKind::UnknownService) {
        return Ok(Vec::new());
    }
    let f = Filter {
        kind: Some(ErrorKind::UnknownService),
        ..*f
    };
    let (cond, vals) = f.sql();
    let mut st = conn.prepare(&format!(
        "SELECT coalesce(e.service, '') AS s, count(*) FROM billing_errors e
         WHERE {cond} AND e.state = 'open' GROUP BY s ORDER BY s"
    ))?;
    let v = st
        .query_map(binds(&vals).as_slice(), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(v)
}

/// Hand the errors of `f` to `each` one by one, oldest first (open ones
/// only unless `all_states`), as SQLite reads them.
pub fn each(
    conn: &Connection,
    f: &Filter,
    all_states: bool,
    mut each: impl FnMut(ErrorRow),
) -> Result<()> {
    let (cond, vals) = f.sql();
    let state = if all_states {
        ""
    } else {
        " AND e.state = 'open'"
    };
    let mut st = conn.prepare(&format!(
        "SELECT e.id, e.kind, e.state, e.service, e.destination, e.start,
                CASE WHEN e.kind LIKE 'fee\\_%' ESCAPE '\\' THEN ff.name ELSE f.name END,
                e.file_id, e.line, e.carrier_cost, e.detail
         FROM billing_errors e
         LEFT JOIN cdr_files f ON f.id = e.file_id
         LEFT JOIN fee_files ff ON ff.id = e.file_id
         WHERE {cond}{state}
         ORDER BY e.id"
    ))?;
    let mut q = st.query(binds(&vals).as_slice())?;
    while let Some(r) = q.next()? {
        let kind: String = r.get(1)?;
        let cost: String = r.get(9)?;
        each(ErrorRow {
            id: r.get(0)?,
            kind: kind.parse().map_err(bad_input)?,
            state: r.get(2)?,
            service: r.get(3)?,
            destination: r.get(4)?,
            start: r.get(5)?,
            file: r.get(6)?,
            file_id: r.get(7)?,
            line: r.get(8)?,
            carrier_cost: money::parse(&cost).unwrap_or_default(),
            detail: r.get(10)?,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::billing_errors::summarise;
    use crate::store::{Store, cdrs};

    /// Errors of every kind and state, some undated, some with NULL keys.
    fn seeded() -> Store {
        let s = Store::memory().unwrap();
        s.conn
            .execute_batch(
                "INSERT INTO carriers (name, format, created_at) VALUES ('c', 'billrun', 'x');
                 INSERT INTO cdr_files (id, carrier, name, sha256, state, imported_at)
                 VALUES (1, 'c', 'a.csv', 'a', 'processed', 'x'), (2, 'c', 'b.csv', 'b', 'processed', 'x');",
            )
            .unwrap();
        let kinds = [
            "malformed",
            "duplicate",
            "unknown_service",
            "service_inactive",
            "no_rate",
        ];
        let states = ["open", "open", "resolved", "ignored", "open"];
        let services = [Some("0113"), Some("0114"), None, Some("0113")];
        let dests = [Some("44"), None, Some("33"), Some("44"), Some("1")];
        let costs = ["0.01", "0.0123", "1", "0", "2.5", "0.01"];
        for i in 0..120usize {
            let start = (i % 7 != 0).then(|| format!("2026-11-{:02}T10:00:00", 1 + i % 30));
            s.conn
                .execute(
                    "INSERT INTO billing_errors (kind, state, file_id, line, service, destination,
                        start, carrier_cost, detail, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'd', 'x')",
                    rusqlite::params![
                        kinds[i % 5],
                        states[(i / 5) % 5],
                        (i % 3 != 0).then_some(1 + (i % 2) as i64),
                        i as i64,
                        services[i % 4],
                        dests[i % 5],
                        start,
                        costs[i % 6],
                    ],
                )
                .unwrap();
        }
        s
    }

    #[test]
    fn the_summary_is_the_summary_of_the_rows() {
        let s = seeded();
        let d = |t: &str| t.parse::<NaiveDate>().unwrap();
        for kind in std::iter::once(None).chain(ErrorKind::ALL.map(Some)) {
            for cutoff in [None, Some(d("2026-11-15")), Some(d("2026-10-01"))] {
                let f = Filter { kind, cutoff };
                let rows = cdrs::list_errors(&s.conn, kind, cutoff, true).unwrap();
                assert!(kind.is_some() || cutoff.is_some() || rows.len() == 120);
                assert_eq!(summary(&s.conn, &f).unwrap(), summarise(&rows), "{f:?}");
                let mut streamed = Vec::new();
                each(&s.conn, &f, true, |r| streamed.push(r)).unwrap();
                assert_eq!(streamed, rows);
                let mut open = Vec::new();
                each(&s.conn, &f, false, |r| open.push(r)).unwrap();
                let want: Vec<_> = rows.into_iter().filter(|r| r.state == "open").collect();
                assert_eq!(open, want);
            }
        }
    }

    #[test]
    fn a_carrier_cost_beyond_the_largest_amount_counts_as_zero_as_in_the_listing() {
        let s = Store::memory().unwrap();
        for line in 1..=3 {
            s.conn
                .execute(
                    "INSERT INTO billing_errors (kind, state, line, service, carrier_cost, detail, created_at)
                     VALUES ('unknown_service', 'open', ?1, '0113', '79228162514264337593543950335', 'd', 'x')",
                    [line],
                )
                .unwrap();
        }
        let got = summary(&s.conn, &Filter::default()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].open, got[0].carrier_cost), (3, Decimal::ZERO));
        let rows = cdrs::list_errors(&s.conn, None, None, true).unwrap();
        assert_eq!(summarise(&rows), got);
    }

    #[test]
    fn unknown_services_are_counted_by_number() {
        let s = seeded();
        let got = unknown_services(&s.conn, &Filter::default()).unwrap();
        let rows =
            cdrs::list_errors(&s.conn, Some(ErrorKind::UnknownService), None, false).unwrap();
        let mut want = std::collections::BTreeMap::<String, u64>::new();
        for r in rows {
            *want.entry(r.service.unwrap_or_default()).or_default() += 1;
        }
        assert!(!want.is_empty());
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
        let other = Filter {
            kind: Some(ErrorKind::NoRate),
            cutoff: None,
        };
        assert!(unknown_services(&s.conn, &other).unwrap().is_empty());
    }

    #[test]
    fn the_summary_reads_the_summary_index() {
        let s = seeded();
        for f in [
            Filter::default(),
            Filter {
                kind: Some(ErrorKind::NoRate),
                cutoff: "2026-11-30".parse().ok(),
            },
        ] {
            let (cond, vals) = f.sql();
            let plan: Vec<String> = s
                .conn
                .prepare(&format!(
                    "EXPLAIN QUERY PLAN SELECT e.kind, e.state, e.service, e.destination, e.file_id, e.carrier_cost
                     FROM billing_errors e WHERE {cond}"
                ))
                .unwrap()
                .query_map(binds(&vals).as_slice(), |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                plan.iter()
                    .any(|p| p.contains("COVERING INDEX billing_errors_summary")),
                "{plan:?}"
            );
        }
    }
}
