//! The post-billing report (docs/commands.md#prebill): what production made, what it did not
//! and why, balances carried, anomalies, and differences from the
//! pre-billing snapshot.

use super::prebill::Minor;
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::BTreeMap;

/// One produced invoice as the report sees it.
#[derive(Debug, Clone)]
pub struct Produced {
    pub number: String,
    pub account: String,
    pub name: String,
    pub delivery: String,
    pub payment_method: String,
    /// Amount ex-tax by line category (usage, fixed, one_off, …).
    pub by_category: Vec<(String, i64)>,
    pub charges_ex_tax_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub opening_balance_minor: i64,
    pub payments_minor: i64,
    /// Total charges of the previous (up to) 3 invoices, newest first.
    pub history: Vec<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sums {
    pub count: u64,
    pub charges_ex_tax: Minor,
    pub tax: Minor,
    pub total: Minor,
}

impl Sums {
    fn add(&mut self, ex: i64, tax: i64) {
        self.count += 1;
        self.charges_ex_tax.0 += ex;
        self.tax.0 += tax;
        self.total.0 += ex + tax;
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotProduced {
    pub account: String,
    pub name: String,
    pub reason: String,
    pub amount: Minor,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Carried {
    pub number: String,
    pub account: String,
    pub name: String,
    /// Opening balance less payments applied: still unpaid from before.
    pub unpaid: Minor,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    pub number: String,
    pub account: String,
    pub name: String,
    pub total: Minor,
    pub mean_previous: Decimal,
    pub change: Decimal,
    pub change_percent: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotDiff {
    pub account: String,
    /// Total in the pre-billing snapshot (`null`: not in it).
    pub prebill_total: Option<String>,
    /// Total produced (`null`: no invoice).
    pub produced_total: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report<R: Serialize> {
    pub run: R,
    pub produced: Sums,
    /// Ex-tax amount by charge type.
    pub by_charge_type: BTreeMap<String, Minor>,
    pub by_delivery: BTreeMap<String, Sums>,
    pub by_payment_method: BTreeMap<String, Sums>,
    pub not_produced: Vec<NotProduced>,
    pub carried: Vec<Carried>,
    pub anomalies: Vec<Anomaly>,
    /// `null` when the run has no pre-billing snapshot.
    pub snapshot_differences: Option<Vec<SnapshotDiff>>,
    /// Credit notes on the run's invoices, and those its invoices brought
    /// forward (filled by the caller).
    pub credit_notes: Vec<CreditNoteRow>,
}

/// A credit note in the post-billing report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditNoteRow {
    pub number: String,
    pub date: String,
    /// The invoice it credits.
    pub invoice: String,
    pub account: String,
    pub name: String,
    pub reason: String,
    pub amount_ex_tax: Minor,
    pub tax: Minor,
    pub total: Minor,
    /// The invoice that brought it forward, if any.
    pub brought_forward_on: Option<String>,
}

/// Is `total` an anomaly against the previous invoices' totals? It must
/// differ from their mean by more than their (population) standard
/// deviation, by at least `min_change`, and by at least 15 % of the mean.
/// Needs at least one previous invoice.
pub fn anomaly(
    total: i64,
    history: &[i64],
    min_change: Decimal,
) -> Option<(Decimal, Decimal, Decimal)> {
    if history.is_empty() {
        return None;
    }
    let vals: Vec<Decimal> = history.iter().map(|m| Decimal::new(*m, 2)).collect();
    let n = Decimal::from(vals.len());
    let mean = vals.iter().sum::<Decimal>() / n;
    let variance = vals
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum::<Decimal>()
        / n;
    let t = Decimal::new(total, 2);
    let diff = t - mean;
    let abs = diff.abs();
    let pct = if mean.is_zero() {
        Decimal::ONE_HUNDRED
    } else {
        abs * Decimal::ONE_HUNDRED / mean.abs()
    };
    // Compare squares: |diff| > sd  ⇔  diff² > variance.
    (diff * diff > variance && abs >= min_change && pct >= Decimal::from(15)).then(|| {
        (
            mean.round_dp(2),
            diff.round_dp(2),
            if diff.is_sign_negative() { -pct } else { pct }.round_dp(1),
        )
    })
}

/// Build the report. `snapshot` is the pre-billing report's per-customer
/// (account, total, outcome) rows, if one was taken.
pub fn report<R: Serialize>(
    run: R,
    produced: &[Produced],
    not_produced: Vec<NotProduced>,
    snapshot: Option<Vec<(String, String, String)>>,
    min_change: Decimal,
) -> Report<R> {
    let mut r = Report {
        run,
        produced: Sums::default(),
        by_charge_type: BTreeMap::new(),
        by_delivery: BTreeMap::new(),
        by_payment_method: BTreeMap::new(),
        not_produced,
        carried: Vec::new(),
        anomalies: Vec::new(),
        snapshot_differences: None,
        credit_notes: Vec::new(),
    };
    for p in produced {
        r.produced.add(p.charges_ex_tax_minor, p.tax_minor);
        for (c, m) in &p.by_category {
            r.by_charge_type.entry(c.clone()).or_default().0 += m;
        }
        r.by_delivery
            .entry(p.delivery.clone())
            .or_default()
            .add(p.charges_ex_tax_minor, p.tax_minor);
        r.by_payment_method
            .entry(p.payment_method.clone())
            .or_default()
            .add(p.charges_ex_tax_minor, p.tax_minor);
        let unpaid = p.opening_balance_minor - p.payments_minor;
        if unpaid > 0 {
            r.carried.push(Carried {
                number: p.number.clone(),
                account: p.account.clone(),
                name: p.name.clone(),
                unpaid: Minor(unpaid),
            });
        }
        if let Some((mean, change, pct)) = anomaly(p.total_minor, &p.history, min_change) {
            r.anomalies.push(Anomaly {
                number: p.number.clone(),
                account: p.account.clone(),
                name: p.name.clone(),
                total: Minor(p.total_minor),
                mean_previous: mean,
                change,
                change_percent: pct,
            });
        }
    }
    if let Some(snap) = snapshot {
        let produced_totals: BTreeMap<&str, String> = produced
            .iter()
            .map(|p| (p.account.as_str(), Minor(p.total_minor).to_string()))
            .collect();
        let snap_totals: BTreeMap<&str, String> = snap
            .iter()
            .filter(|(_, _, outcome)| outcome == "invoice")
            .map(|(a, t, _)| (a.as_str(), t.clone()))
            .collect();
        let accounts: std::collections::BTreeSet<&str> = produced_totals
            .keys()
            .chain(snap_totals.keys())
            .copied()
            .collect();
        let diffs = accounts
            .into_iter()
            .filter_map(|a| {
                let (s, p) = (snap_totals.get(a), produced_totals.get(a));
                (s != p).then(|| SnapshotDiff {
                    account: a.to_owned(),
                    prebill_total: s.cloned(),
                    produced_total: p.cloned(),
                })
            })
            .collect();
        r.snapshot_differences = Some(diffs);
    }
    r
}

/// The per-customer (account, total, outcome) rows of a stored pre-billing
/// snapshot (the JSON of `domain::prebill::Report`).
pub fn snapshot_rows(json: &str) -> Result<Vec<(String, String, String)>, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(v["customers"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                    (s("account"), s("total"), s("outcome"))
                })
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn anomalies_need_all_three_conditions() {
        // Mean 100, sd ≈ 8.16; a total of 250 is +150 (150 %).
        assert!(anomaly(25000, &[10000, 9000, 11000], dec!(100)).is_some());
        // Within the standard deviation: not an anomaly.
        assert!(anomaly(10500, &[10000, 9000, 11000], dec!(1)).is_none());
        // Beyond the sd and 15 %, but less than min_change (100).
        assert!(anomaly(13000, &[10000, 9000, 11000], dec!(100)).is_none());
        // Beyond sd and min_change but under 15 % of a large mean.
        assert!(anomaly(1_100_000, &[1_000_000, 1_000_000, 1_000_000], dec!(100)).is_none());
        // No history: nothing to compare.
        assert!(anomaly(100, &[], dec!(0)).is_none());
        let (mean, change, pct) = anomaly(25000, &[10000, 9000, 11000], dec!(100)).unwrap();
        assert_eq!(
            (mean, change, pct),
            (dec!(100.00), dec!(150.00), dec!(150.0))
        );
        // Drops count too.
        let (_, change, pct) = anomaly(0, &[30000, 30000, 30000], dec!(100)).unwrap();
        assert_eq!((change, pct), (dec!(-300.00), dec!(-100.0)));
    }

    fn produced(account: &str, total: i64) -> Produced {
        Produced {
            number: format!("N-{account}"),
            account: account.into(),
            name: account.into(),
            delivery: "email".into(),
            payment_method: "card".into(),
            by_category: vec![("usage".into(), total)],
            charges_ex_tax_minor: total,
            tax_minor: 0,
            total_minor: total,
            opening_balance_minor: 500,
            payments_minor: 200,
            history: vec![],
        }
    }

    #[test]
    fn sums_carried_and_snapshot_differences() {
        let r = report(
            "run",
            &[produced("A", 1000), produced("B", 2000)],
            vec![],
            Some(vec![
                ("A".into(), "10.00".into(), "invoice".into()),
                ("B".into(), "19.00".into(), "invoice".into()),
                ("C".into(), "0.00".into(), "empty".into()),
            ]),
            dec!(100),
        );
        assert_eq!(r.produced.count, 2);
        assert_eq!(r.produced.total, Minor(3000));
        assert_eq!(r.by_delivery["email"].count, 2);
        assert_eq!(r.by_charge_type["usage"], Minor(3000));
        assert_eq!(r.carried.len(), 2);
        assert_eq!(r.carried[0].unpaid, Minor(300));
        let d = r.snapshot_differences.unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].account, "B");
        assert_eq!(d[0].prebill_total.as_deref(), Some("19.00"));
        assert_eq!(d[0].produced_total.as_deref(), Some("20.00"));
    }
}
