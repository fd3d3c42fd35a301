//! Inclusive allowances (docs/rating.md#inclusive-allowances, README
//! "Allowances"): the minutes, messages and megabytes a plan includes, and
//! how a run's rated CDRs consume them.
//!
//! Pure: allowances, services and rated CDRs come in as values; each CDR's
//! charged amount and each allowance's included / used / remaining go out.
//! The caller streams the CDRs in consumption order (start time, then record
//! id, then CDR id) through [`Consumer::consume`]; the consumer keeps only one
//! counter per allowance instance, never the CDRs, so memory does not grow
//! with the number of CDRs.
//!
//! Decisions where the documented rules were silent (pinned by tests below):
//! - A service with no active day in the run's period gets no allowance (it
//!   is not listed); an unlimited allowance is listed with `unlimited`.
//! - "Listed first" is the allowances' stored order (the order of first
//!   import, as `allowances list` shows).
//! - A CDR whose rate has a negative price (a credit) is covered like any
//!   other; the maximum charge applies only to a charge above 0.

use std::collections::HashMap;

use chrono::{Months, NaiveDate};
use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

use super::csvfile::{Problem, Table};
use super::invoice::UsageGroup;
use super::money;
use super::rating::CallType;

/// How much an allowance includes, in its own unit (minutes, messages, MB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    Limited(u64),
    Unlimited,
}

impl std::str::FromStr for Quantity {
    type Err = String;
    /// A whole number (0 or more) or `unlimited`.
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("unlimited") {
            return Ok(Quantity::Unlimited);
        }
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "'{t}' is not a quantity: a whole number of minutes, messages or MB, or unlimited"
            ));
        }
        match t.parse::<u64>() {
            Ok(n) if n <= MAX_QUANTITY => Ok(Quantity::Limited(n)),
            _ => Err(format!("'{t}' is too large (at most {MAX_QUANTITY})")),
        }
    }
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Quantity::Limited(n) => write!(f, "{n}"),
            Quantity::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// The largest finite quantity accepted (a billion minutes, messages or MB):
/// well inside 64-bit base units after × 1,024 and pro-rata products.
pub const MAX_QUANTITY: u64 = 1_000_000_000;

/// One allowance of a plan (docs/file-formats.md#allowancescsv).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    pub plan: String,
    pub name: String,
    pub call_type: CallType,
    /// Normalised destination prefixes (digits); empty = every destination.
    pub prefixes: Vec<String>,
    pub quantity: Quantity,
    /// One allowance shared by all the account's services on the plan.
    pub pooled: bool,
}

impl Allowance {
    /// How long a prefix of `destination` this allowance matches: `Some(0)`
    /// for an allowance of every destination, `None` when it does not cover
    /// the destination.
    pub fn match_len(&self, destination: &str) -> Option<usize> {
        if self.prefixes.is_empty() {
            return Some(0);
        }
        self.prefixes
            .iter()
            .filter(|p| destination.starts_with(p.as_str()))
            .map(|p| p.len())
            .max()
    }
}

/// Base units per allowance unit: a minute is 60 seconds, a message is one
/// message, a MB is 1,024 KB (the units rating counts as billable).
pub fn unit_size(ct: CallType) -> u64 {
    match ct {
        CallType::Voice => 60,
        CallType::Sms => 1,
        CallType::Data => 1024,
    }
}

/// The name of an allowance's unit.
pub fn unit_name(ct: CallType) -> &'static str {
    match ct {
        CallType::Voice => "minutes",
        CallType::Sms => "messages",
        CallType::Data => "MB",
    }
}

/// A run's period (inclusive): from the day after the previous run's cutoff
/// in the same cycle to the run's own cutoff; for a cycle's first run, the
/// month ending at the cutoff (2026-10-31 → 2026-10-01 … 2026-10-31;
/// 2026-10-15 → 2026-09-16 … 2026-10-15).
pub fn period(cutoff: NaiveDate, previous_cutoff: Option<NaiveDate>) -> (NaiveDate, NaiveDate) {
    let start = match previous_cutoff.filter(|p| *p < cutoff) {
        Some(p) => p.succ_opt().unwrap_or(p),
        None => cutoff
            .checked_sub_months(Months::new(1))
            .and_then(|d| d.succ_opt())
            .unwrap_or(cutoff),
    };
    (start, cutoff)
}

/// Days (inclusive) of `period` on which a service running from `start` to
/// `end` (inclusive; `None` = still active) was active.
pub fn active_days(
    start: NaiveDate,
    end: Option<NaiveDate>,
    period: (NaiveDate, NaiveDate),
) -> u64 {
    let from = start.max(period.0);
    let to = end.map_or(period.1, |e| e.min(period.1));
    if to < from {
        0
    } else {
        (to - from).num_days() as u64 + 1
    }
}

/// `quantity × active / days`, rounded down to a whole unit.
pub fn prorate(quantity: u64, active: u64, days: u64) -> u64 {
    if days == 0 {
        return 0;
    }
    let q = u128::from(quantity) * u128::from(active.min(days)) / u128::from(days);
    u64::try_from(q).unwrap_or(u64::MAX)
}

/// A service on a plan, as the consumer needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceOnPlan {
    pub service: String,
    pub account: String,
    pub plan: String,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// The price of a CDR's rate that partial coverage needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRate {
    /// Per minute (voice), per message (sms), per MB (data).
    pub rate: Decimal,
    pub maximum_charge: Option<Decimal>,
}

/// A rated CDR, as consumption needs it.
#[derive(Debug, Clone, Copy)]
pub struct RatedCdr<'a> {
    pub service: &'a str,
    pub call_type: CallType,
    /// Normalised digits.
    pub destination: &'a str,
    /// Billable seconds / messages / KB, as rated.
    pub billable: u64,
    /// The rated charge.
    pub charge_minor: i64,
    /// `None` when the rate row is gone (then the charge is shared out in
    /// proportion to the uncovered units).
    pub rate: Option<PartRate>,
}

/// What a CDR costs after allowances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charged {
    /// Units covered by allowances.
    pub covered: u64,
    pub charge_minor: i64,
}

/// The price of `uncovered` units of a partly covered CDR: the rate only
/// (no flagfall, no minimum charge), the maximum charge still applying,
/// rounded half away from zero.
pub fn partial_charge(cdr: &RatedCdr<'_>, uncovered: u64) -> i64 {
    let Some(r) = cdr.rate else {
        // Share the rated charge out (only when the rate row is missing).
        let share = Decimal::from(cdr.charge_minor).saturating_mul(Decimal::from(uncovered))
            / Decimal::from(cdr.billable.max(1));
        return money::to_minor(money::round_minor(share / Decimal::ONE_HUNDRED))
            .unwrap_or(cdr.charge_minor);
    };
    let units = Decimal::from(uncovered);
    let mut amount = match cdr.call_type {
        CallType::Voice => r.rate.saturating_mul(units) / Decimal::from(60),
        CallType::Sms => r.rate.saturating_mul(units),
        CallType::Data => r.rate.saturating_mul(units) / Decimal::from(1024),
    };
    if amount > Decimal::ZERO
        && let Some(cap) = r.maximum_charge
    {
        amount = amount.min(cap);
    }
    money::to_minor(money::round_minor(amount)).unwrap_or(cdr.charge_minor)
}

/// The columns of an allowances file.
pub const COLUMNS: &[&str] = &[
    "plan",
    "name",
    "call_type",
    "prefixes",
    "quantity",
    "pooled",
];

/// Read an allowances file (docs/file-formats.md#allowancescsv): every
/// problem of the file at once, with file:line:column. `plans` are the known
/// plan codes.
pub fn parse_allowances(
    file: &str,
    bytes: &[u8],
    plans: &std::collections::HashSet<String>,
) -> Result<Vec<Allowance>, Vec<Problem>> {
    let t = Table::read(
        file,
        bytes,
        &["plan", "name", "call_type", "quantity"],
        COLUMNS,
    )?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    let mut seen: HashMap<(String, String), u64> = HashMap::new();
    for i in 0..t.rows.len() {
        let mut r = t.row(i, &mut problems);
        let plan = r.req("plan");
        if !plan.is_empty() && !plans.contains(&plan) {
            r.problem("plan", format!("unknown plan '{plan}': import plans first"));
        }
        let name = r.req("name");
        if !plan.is_empty()
            && !name.is_empty()
            && let Some(first) = seen.insert((plan.clone(), name.clone()), r.line)
        {
            r.problem(
                "name",
                format!("duplicate allowance '{name}' of plan '{plan}' (first on line {first})"),
            );
        }
        let call_type = r.parse_req("call_type", |s| s.parse::<CallType>());
        let prefixes: Vec<String> = r
            .opt("prefixes")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if let Some(bad) = prefixes
            .iter()
            .find(|p| !p.bytes().all(|b| b.is_ascii_digit()))
        {
            r.problem(
                "prefixes",
                format!(
                    "'{bad}' is not a normalised prefix: digits only, separated by spaces \
                     (empty = every destination)"
                ),
            );
        }
        let quantity = r.parse_req("quantity", |s| s.parse::<Quantity>());
        let pooled = r
            .parse_opt("pooled", |s| match s.to_ascii_lowercase().as_str() {
                "yes" => Ok(true),
                "no" => Ok(false),
                _ => Err(format!("'{s}' is not yes or no")),
            })
            .unwrap_or(false);
        out.push(Allowance {
            plan,
            name,
            call_type: call_type.unwrap_or(CallType::Voice),
            prefixes,
            quantity: quantity.unwrap_or(Quantity::Limited(0)),
            pooled,
        });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Fold the allowances' changes into the usage groups: each group's amount
/// becomes the sum of its CDRs' charges after allowances. `changes` is per
/// (account, service, call type, rate description). `Err` on overflow.
pub fn adjust_usage(
    usage: &mut HashMap<String, Vec<UsageGroup>>,
    changes: &HashMap<(String, String, String, String), i64>,
) -> Result<(), String> {
    for ((account, service, call_type, description), delta) in changes {
        let group = usage.get_mut(account).and_then(|gs| {
            gs.iter_mut().find(|g| {
                &g.service == service && &g.call_type == call_type && &g.description == description
            })
        });
        if let Some(g) = group {
            g.amount_minor = g.amount_minor.checked_add(*delta).ok_or_else(|| {
                format!("customer {account}: the usage of service {service} is too large to add up")
            })?;
        }
    }
    Ok(())
}

/// One allowance instance: a service's own, or a pool of an account.
#[derive(Debug, Clone)]
struct Bucket {
    allowance: usize,
    account: String,
    services: Vec<String>,
    /// Base units; `None` = unlimited.
    included: Option<u64>,
    used: u64,
}

/// Consumes allowances CDR by CDR (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct Consumer {
    allowances: Vec<Allowance>,
    buckets: Vec<Bucket>,
    /// Per service: its buckets in the allowances' listed order.
    by_service: HashMap<String, Vec<usize>>,
}

impl Consumer {
    /// The allowance instances of `services` for a run's `period`:
    /// `allowances` in listed order; a service's allowance is pro-rated by
    /// its active days, a pool is the sum of its services' pro-rated
    /// allowances.
    pub fn new(
        allowances: Vec<Allowance>,
        services: &[ServiceOnPlan],
        period: (NaiveDate, NaiveDate),
    ) -> Consumer {
        let days = active_days(period.0, Some(period.1), period);
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut pools: HashMap<(usize, &str), usize> = HashMap::new();
        let mut by_service: HashMap<String, Vec<usize>> = HashMap::new();
        for (ai, a) in allowances.iter().enumerate() {
            for s in services.iter().filter(|s| s.plan == a.plan) {
                let active = active_days(s.start, s.end, period);
                if active == 0 {
                    continue;
                }
                let included = match a.quantity {
                    Quantity::Unlimited => None,
                    Quantity::Limited(q) => {
                        Some(prorate(q, active, days).saturating_mul(unit_size(a.call_type)))
                    }
                };
                let bi = if a.pooled {
                    if let Some(&bi) = pools.get(&(ai, s.account.as_str())) {
                        let b = &mut buckets[bi];
                        b.services.push(s.service.clone());
                        b.included = match (b.included, included) {
                            (Some(x), Some(y)) => Some(x.saturating_add(y)),
                            _ => None,
                        };
                        bi
                    } else {
                        pools.insert((ai, s.account.as_str()), buckets.len());
                        buckets.push(Bucket {
                            allowance: ai,
                            account: s.account.clone(),
                            services: vec![s.service.clone()],
                            included,
                            used: 0,
                        });
                        buckets.len() - 1
                    }
                } else {
                    buckets.push(Bucket {
                        allowance: ai,
                        account: s.account.clone(),
                        services: vec![s.service.clone()],
                        included,
                        used: 0,
                    });
                    buckets.len() - 1
                };
                by_service.entry(s.service.clone()).or_default().push(bi);
            }
        }
        Consumer {
            allowances,
            buckets,
            by_service,
        }
    }

    /// Whether no service has an allowance (nothing to consume).
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Consume the allowances `cdr` matches — longest matching prefix first,
    /// then the one listed first; what one cannot cover goes on into the
    /// next — and return what the CDR costs: 0 when fully covered, the
    /// uncovered units at the rate when partly covered, the rated charge
    /// when not covered at all.
    pub fn consume(&mut self, cdr: &RatedCdr<'_>) -> Charged {
        let not_covered = Charged {
            covered: 0,
            charge_minor: cdr.charge_minor,
        };
        if cdr.billable == 0 {
            return not_covered;
        }
        let Some(ids) = self.by_service.get(cdr.service) else {
            return not_covered;
        };
        let mut matching: Vec<(usize, usize)> = ids
            .iter()
            .filter_map(|&bi| {
                let a = &self.allowances[self.buckets[bi].allowance];
                if a.call_type != cdr.call_type {
                    return None;
                }
                a.match_len(cdr.destination).map(|len| (len, bi))
            })
            .collect();
        // Longest prefix first; on equal length the listed order (bucket
        // ids of a service follow it) is kept by the stable sort.
        matching.sort_by_key(|m| std::cmp::Reverse(m.0));
        let mut left = cdr.billable;
        for (_, bi) in matching {
            if left == 0 {
                break;
            }
            let b = &mut self.buckets[bi];
            let take = match b.included {
                None => left,
                Some(inc) => left.min(inc.saturating_sub(b.used)),
            };
            b.used = b.used.saturating_add(take);
            left -= take;
        }
        let covered = cdr.billable - left;
        let charge_minor = if covered == 0 {
            cdr.charge_minor
        } else if left == 0 {
            0
        } else {
            partial_charge(cdr, left)
        };
        Charged {
            covered,
            charge_minor,
        }
    }

    /// Each allowance instance's figures with its account, in the listed
    /// order of the allowances, then of the services.
    pub fn report(&self) -> Vec<(String, AllowanceUse)> {
        self.buckets
            .iter()
            .map(|b| {
                let a = &self.allowances[b.allowance];
                (
                    b.account.clone(),
                    AllowanceUse::new(a, b.services.clone(), b.included, b.used),
                )
            })
            .collect()
    }
}

/// Base units shown in an allowance's unit: voice `M:SS` of minutes, sms
/// messages, data MB to one decimal.
pub fn show_units(ct: CallType, units: u64) -> String {
    match ct {
        CallType::Voice => format!("{}:{:02}", units / 60, units % 60),
        CallType::Sms => units.to_string(),
        CallType::Data => {
            let mb = Decimal::from(units) / Decimal::from(1024);
            format!("{}", mb.round_dp(1))
        }
    }
}

/// `None` serialises as `"unlimited"`.
fn ser_units<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(n) => s.serialize_u64(*n),
        None => s.serialize_str("unlimited"),
    }
}

/// One allowance's figures for a service (or a pool of services) in a run:
/// what the pre-billing report and the invoice show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowanceUse {
    pub plan: String,
    pub name: String,
    pub call_type: &'static str,
    pub pooled: bool,
    /// The service, or the pool's services.
    pub services: Vec<String>,
    /// `minutes`, `messages` or `MB`.
    pub unit: &'static str,
    /// In the unit (`M:SS` for minutes) or `unlimited`.
    pub included: String,
    pub used: String,
    pub remaining: String,
    /// Exact figures in billable units (seconds, messages, KB).
    #[serde(serialize_with = "ser_units")]
    pub included_units: Option<u64>,
    pub used_units: u64,
    #[serde(serialize_with = "ser_units")]
    pub remaining_units: Option<u64>,
}

impl AllowanceUse {
    /// From the exact figures (base units; `None` = unlimited).
    pub fn new(a: &Allowance, services: Vec<String>, included: Option<u64>, used: u64) -> Self {
        Self::from_parts(
            &a.plan,
            &a.name,
            a.call_type,
            a.pooled,
            services,
            included,
            used,
        )
    }

    /// From stored parts (an invoice keeps them).
    pub fn from_parts(
        plan: &str,
        name: &str,
        ct: CallType,
        pooled: bool,
        services: Vec<String>,
        included: Option<u64>,
        used: u64,
    ) -> Self {
        let remaining = included.map(|i| i.saturating_sub(used));
        let show = |v: Option<u64>| v.map_or_else(|| "unlimited".into(), |n| show_units(ct, n));
        AllowanceUse {
            plan: plan.to_string(),
            name: name.to_string(),
            call_type: ct.as_str(),
            pooled,
            services,
            unit: unit_name(ct),
            included: show(included),
            used: show_units(ct, used),
            remaining: show(remaining),
            included_units: included,
            used_units: used,
            remaining_units: remaining,
        }
    }

    /// "07700900001" or "pool: 07700900001, 07700900002".
    pub fn holder(&self) -> String {
        if self.pooled {
            format!("pool: {}", self.services.join(", "))
        } else {
            self.services.join(", ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn allowance(
        name: &str,
        ct: CallType,
        prefixes: &[&str],
        q: Quantity,
        pooled: bool,
    ) -> Allowance {
        Allowance {
            plan: "P".into(),
            name: name.into(),
            call_type: ct,
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            quantity: q,
            pooled,
        }
    }

    fn service(s: &str, account: &str, start: &str) -> ServiceOnPlan {
        ServiceOnPlan {
            service: s.into(),
            account: account.into(),
            plan: "P".into(),
            start: d(start),
            end: None,
        }
    }

    const OCT: (&str, &str) = ("2026-10-01", "2026-10-31");

    fn oct() -> (NaiveDate, NaiveDate) {
        (d(OCT.0), d(OCT.1))
    }

    fn voice<'a>(service: &'a str, dest: &'a str, secs: u64, charge: i64) -> RatedCdr<'a> {
        RatedCdr {
            service,
            call_type: CallType::Voice,
            destination: dest,
            billable: secs,
            charge_minor: charge,
            rate: Some(PartRate {
                rate: dec!(0.60),
                maximum_charge: None,
            }),
        }
    }

    #[test]
    fn period_follows_the_previous_cutoff_or_is_the_month_ending_at_the_cutoff() {
        assert_eq!(
            period(d("2026-10-31"), None),
            (d("2026-10-01"), d("2026-10-31"))
        );
        assert_eq!(
            period(d("2026-10-15"), None),
            (d("2026-09-16"), d("2026-10-15"))
        );
        assert_eq!(
            period(d("2026-03-31"), None),
            (d("2026-03-01"), d("2026-03-31"))
        );
        assert_eq!(
            period(d("2026-11-30"), Some(d("2026-10-31"))),
            (d("2026-11-01"), d("2026-11-30"))
        );
        assert_eq!(
            period(d("2026-11-30"), Some(d("2026-11-10"))),
            (d("2026-11-11"), d("2026-11-30"))
        );
        // A previous cutoff not before this one is ignored.
        assert_eq!(
            period(d("2026-10-31"), Some(d("2026-10-31"))).0,
            d("2026-10-01")
        );
    }

    #[test]
    fn active_days_and_prorate_round_down() {
        assert_eq!(active_days(d("2026-01-01"), None, oct()), 31);
        assert_eq!(active_days(d("2026-10-17"), None, oct()), 15);
        assert_eq!(
            active_days(d("2026-10-17"), Some(d("2026-10-20")), oct()),
            4
        );
        assert_eq!(active_days(d("2026-11-01"), None, oct()), 0);
        assert_eq!(
            active_days(d("2026-01-01"), Some(d("2026-09-30")), oct()),
            0
        );
        // 100 × 15 / 31 = 48.38… → 48
        assert_eq!(prorate(100, 15, 31), 48);
        assert_eq!(prorate(100, 31, 31), 100);
        assert_eq!(prorate(u64::MAX, 31, 31), u64::MAX);
        assert_eq!(prorate(5, 1, 0), 0);
    }

    #[test]
    fn quantity_parses_whole_numbers_and_unlimited() {
        assert_eq!("1000".parse::<Quantity>(), Ok(Quantity::Limited(1000)));
        assert_eq!("Unlimited".parse::<Quantity>(), Ok(Quantity::Unlimited));
        assert!("1.5".parse::<Quantity>().is_err());
        assert!("-1".parse::<Quantity>().is_err());
        assert!("".parse::<Quantity>().is_err());
        assert!("99999999999999999999999".parse::<Quantity>().is_err());
    }

    #[test]
    fn prorata_for_a_service_activated_mid_period() {
        let a = allowance(
            "UK minutes",
            CallType::Voice,
            &[],
            Quantity::Limited(100),
            false,
        );
        let c = Consumer::new(vec![a], &[service("S1", "A", "2026-10-17")], oct());
        let r = c.report();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].1.included_units, Some(48 * 60));
        assert_eq!(r[0].1.included, "48:00");
    }

    #[test]
    fn pooled_allowance_is_the_sum_shared_by_the_services() {
        let a = allowance("Texts", CallType::Sms, &[], Quantity::Limited(10), true);
        let services = [
            service("S1", "A", "2026-01-01"),
            service("S2", "A", "2026-10-17"), // 10 × 15/31 = 4
            service("S3", "B", "2026-01-01"),
        ];
        let mut c = Consumer::new(vec![a], &services, oct());
        let sms = |s, n| RatedCdr {
            service: s,
            call_type: CallType::Sms,
            destination: "447700",
            billable: n,
            charge_minor: 10 * n as i64,
            rate: Some(PartRate {
                rate: dec!(0.10),
                maximum_charge: None,
            }),
        };
        assert_eq!(c.consume(&sms("S1", 8)).charge_minor, 0);
        // 14 in the pool: 6 left; S2 sends 8 → 2 charged at 0.10.
        assert_eq!(
            c.consume(&sms("S2", 8)),
            Charged {
                covered: 6,
                charge_minor: 20
            }
        );
        // B's pool is its own.
        assert_eq!(c.consume(&sms("S3", 10)).charge_minor, 0);
        let r = c.report();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "A");
        assert_eq!(r[0].1.services, vec!["S1", "S2"]);
        assert_eq!(r[0].1.holder(), "pool: S1, S2");
        assert_eq!((r[0].1.included_units, r[0].1.used_units), (Some(14), 14));
        assert_eq!(r[0].1.remaining, "0");
        assert_eq!((r[1].0.as_str(), r[1].1.used_units), ("B", 10));
    }

    #[test]
    fn a_call_straddling_the_boundary_pays_uncovered_seconds_without_flagfall() {
        let a = allowance("UK", CallType::Voice, &[], Quantity::Limited(1), false);
        let mut c = Consumer::new(vec![a], &[service("S1", "A", "2026-01-01")], oct());
        // 40 s covered (0.60/min flagfall 0.05 rated 0.45); then 60 s: 20 s
        // covered, 40 s charged 0.60 × 40/60 = 0.40 (no flagfall, no minimum).
        assert_eq!(c.consume(&voice("S1", "44", 40, 45)).charge_minor, 0);
        assert_eq!(
            c.consume(&voice("S1", "44", 60, 65)),
            Charged {
                covered: 20,
                charge_minor: 40
            }
        );
        // Exhausted: charged as rated.
        assert_eq!(
            c.consume(&voice("S1", "44", 60, 65)),
            Charged {
                covered: 0,
                charge_minor: 65
            }
        );
        let u = &c.report()[0].1;
        assert_eq!((u.used.as_str(), u.remaining.as_str()), ("1:00", "0:00"));
    }

    #[test]
    fn the_maximum_charge_still_applies_to_the_uncovered_part() {
        let a = allowance("UK", CallType::Voice, &[], Quantity::Limited(1), false);
        let mut c = Consumer::new(vec![a], &[service("S1", "A", "2026-01-01")], oct());
        let mut cdr = voice("S1", "44", 3600, 100);
        cdr.rate = Some(PartRate {
            rate: dec!(0.60),
            maximum_charge: Some(dec!(1.00)),
        });
        // 3540 s × 0.60/60 = 35.40, capped at 1.00
        assert_eq!(c.consume(&cdr).charge_minor, 100);
    }

    #[test]
    fn data_and_sms_partial_charges() {
        let cdr = RatedCdr {
            service: "S",
            call_type: CallType::Data,
            destination: "",
            billable: 2048,
            charge_minor: 0,
            rate: Some(PartRate {
                rate: dec!(1.00),
                maximum_charge: None,
            }),
        };
        // 1536 KB uncovered × 1.00 / 1024 = 1.50
        assert_eq!(partial_charge(&cdr, 1536), 150);
        let sms = RatedCdr {
            call_type: CallType::Sms,
            rate: Some(PartRate {
                rate: dec!(0.125),
                maximum_charge: None,
            }),
            ..cdr
        };
        assert_eq!(partial_charge(&sms, 1), 13);
        let gone = RatedCdr {
            rate: None,
            charge_minor: 100,
            billable: 4,
            ..sms
        };
        assert_eq!(partial_charge(&gone, 1), 25);
        // Absurd stored values do not panic.
        let absurd = RatedCdr {
            charge_minor: i64::MAX,
            billable: u64::MAX,
            ..gone
        };
        let _ = partial_charge(&absurd, u64::MAX - 1);
        let huge_rate = RatedCdr {
            rate: Some(PartRate {
                rate: Decimal::MAX,
                maximum_charge: None,
            }),
            ..absurd
        };
        assert_eq!(partial_charge(&huge_rate, u64::MAX - 1), i64::MAX);
    }

    #[test]
    fn longest_prefix_first_then_listed_first_with_spill_over() {
        let general = allowance("All UK", CallType::Voice, &[], Quantity::Limited(1), false);
        let mobile = allowance(
            "Mobiles",
            CallType::Voice,
            &["447", "4477"],
            Quantity::Limited(1),
            false,
        );
        let second = allowance("Bonus", CallType::Voice, &[], Quantity::Limited(1), false);
        let mut c = Consumer::new(
            vec![general, mobile, second],
            &[service("S1", "A", "2026-01-01")],
            oct(),
        );
        // A mobile call of 150 s: Mobiles (longest prefix) 60, then All UK
        // (listed first among equal lengths) 60, then Bonus 30.
        assert_eq!(c.consume(&voice("S1", "447712", 150, 200)).charge_minor, 0);
        let used: Vec<(String, u64)> = c
            .report()
            .into_iter()
            .map(|(_, u)| (u.name, u.used_units))
            .collect();
        assert_eq!(
            used,
            vec![
                ("All UK".to_string(), 60),
                ("Mobiles".to_string(), 60),
                ("Bonus".to_string(), 30)
            ]
        );
        // A landline call does not match Mobiles: Bonus covers 30 s of it.
        assert_eq!(
            c.consume(&voice("S1", "4420", 60, 65)),
            Charged {
                covered: 30,
                charge_minor: 30
            }
        );
    }

    #[test]
    fn unlimited_covers_everything_and_other_call_types_do_not_consume() {
        let texts = allowance("Texts", CallType::Sms, &[], Quantity::Unlimited, false);
        let mut c = Consumer::new(vec![texts], &[service("S1", "A", "2026-10-20")], oct());
        let sms = RatedCdr {
            service: "S1",
            call_type: CallType::Sms,
            destination: "44",
            billable: 1_000_000,
            charge_minor: 100_000,
            rate: None,
        };
        assert_eq!(c.consume(&sms).charge_minor, 0);
        assert_eq!(c.consume(&voice("S1", "44", 60, 65)).charge_minor, 65);
        assert_eq!(c.consume(&voice("S9", "44", 60, 65)).charge_minor, 65);
        let u = &c.report()[0].1;
        assert_eq!(u.included, "unlimited");
        assert_eq!(u.remaining, "unlimited");
        assert_eq!(u.used, "1000000");
        let json = serde_json::to_value(u).unwrap();
        assert_eq!(json["included_units"], "unlimited");
        assert_eq!(json["used_units"], 1_000_000);
    }

    #[test]
    fn order_decides_who_is_covered_and_the_same_order_gives_the_same_result() {
        // The caller sorts by start, record id, CDR id; the consumer is
        // deterministic for a given order.
        let a = allowance("UK", CallType::Voice, &[], Quantity::Limited(1), false);
        let run = || {
            let mut c = Consumer::new(vec![a.clone()], &[service("S1", "A", "2026-01-01")], oct());
            [voice("S1", "44", 45, 50), voice("S1", "44", 45, 50)]
                .iter()
                .map(|x| c.consume(x).charge_minor)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), vec![0, 30]); // 30 s uncovered × 0.60/60
        assert_eq!(run(), run());
    }

    #[test]
    fn services_without_active_days_and_zero_usage() {
        let a = allowance("UK", CallType::Voice, &[], Quantity::Limited(10), false);
        let mut c = Consumer::new(vec![a], &[service("S1", "A", "2026-11-05")], oct());
        assert!(c.is_empty());
        assert_eq!(c.consume(&voice("S1", "44", 0, 0)).covered, 0);
    }

    #[test]
    fn import_file_reports_every_problem_with_line_and_column() {
        let plans: std::collections::HashSet<String> = ["P".to_string()].into();
        let good = "plan,name,call_type,prefixes,quantity,pooled\n\
                    P,UK minutes,voice,44 0,1000,no\n\
                    P,Texts,sms,,unlimited,yes\n\
                    P,Data,data,,10240,\n";
        let a = parse_allowances("a.csv", good.as_bytes(), &plans).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].prefixes, vec!["44", "0"]);
        assert_eq!(a[1].quantity, Quantity::Unlimited);
        assert!(a[1].pooled && !a[2].pooled);
        let bad = "plan,name,call_type,prefixes,quantity,pooled\n\
                   X,UK,voice,,10,no\n\
                   P,UK,fax,+44,1.5,maybe\n\
                   P,UK,voice,,10,no\n";
        let e = parse_allowances("a.csv", bad.as_bytes(), &plans).unwrap_err();
        let msgs: Vec<String> = e.iter().map(|p| p.to_string()).collect();
        for want in [
            "a.csv:2:1: plan: unknown plan 'X'",
            "a.csv:3:3: call_type:",
            "a.csv:3:4: prefixes: '+44' is not a normalised prefix",
            "a.csv:3:5: quantity:",
            "a.csv:3:6: pooled: 'maybe' is not yes or no",
            "a.csv:4:2: name: duplicate allowance 'UK' of plan 'P' (first on line 3)",
        ] {
            assert!(
                msgs.iter().any(|m| m.starts_with(want)),
                "{want}: {msgs:#?}"
            );
        }
        let e = parse_allowances("a.csv", b"plan,name\nP,UK\n", &plans).unwrap_err();
        assert!(e.iter().any(|p| p.to_string().contains("call_type")));
    }

    #[test]
    fn usage_groups_take_the_changes() {
        let g = |service: &str, amount_minor| UsageGroup {
            service: service.into(),
            call_type: "voice".into(),
            description: "UK".into(),
            count: 2,
            units: 120,
            amount_minor,
        };
        let mut usage: HashMap<String, Vec<UsageGroup>> =
            [("A".to_string(), vec![g("S1", 130), g("S2", 50)])].into();
        let changes: HashMap<(String, String, String, String), i64> = [(
            (
                "A".to_string(),
                "S2".to_string(),
                "voice".to_string(),
                "UK".to_string(),
            ),
            -50,
        )]
        .into();
        adjust_usage(&mut usage, &changes).unwrap();
        assert_eq!(usage["A"][0].amount_minor, 130);
        assert_eq!(usage["A"][1].amount_minor, 0);
        let mut huge: HashMap<String, Vec<UsageGroup>> =
            [("A".to_string(), vec![g("S2", i64::MIN)])].into();
        assert!(adjust_usage(&mut huge, &changes).is_err());
    }

    #[test]
    fn data_units_show_in_mb() {
        assert_eq!(show_units(CallType::Data, 1536), "1.5");
        assert_eq!(show_units(CallType::Voice, 3725), "62:05");
        let u = AllowanceUse::from_parts(
            "P",
            "Data",
            CallType::Data,
            false,
            vec!["S".into()],
            Some(10 * 1024),
            512,
        );
        assert_eq!(
            (u.included.as_str(), u.used.as_str(), u.remaining.as_str()),
            ("10", "0.5", "9.5")
        );
        assert_eq!(u.unit, "MB");
    }
}
