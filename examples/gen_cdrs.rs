//! Benchmark data generator.
//!
//! `gen_cdrs LINES CUSTOMERS OUT_DIR [OPTIONS]` writes `customers.csv`,
//! `services.csv` and a native `cdrs.csv` of LINES CDRs over November 2026
//! that rate with the shipped tariffs (fixtures/tariffs.csv,
//! fixtures/plans.csv). Deterministic (same arguments, same bytes).
//!
//! Without options: the clean case — every line rateable, in time order,
//! 80 % voice, 15 % sms, 5 % data, services drawn uniformly.
//!
//! Options (real-shaped files):
//! - `--order time|service|random`: lines in start-time order (default),
//!   by service then start time (as carriers sorting by CLI send them), or
//!   in no order at all. (In service order the error lines of other
//!   numbers — ceased, unknown — sit among the lines of the account whose
//!   slot they took, not in a block of their own.)
//! - `--inactive P`, `--unknown P`, `--no-rate P`, `--duplicate P`,
//!   `--malformed P`: percentages of lines (decimals allowed) that are calls
//!   of a ceased service (`service_inactive`), of a number billrun does not
//!   know (`unknown_service`), to a destination no tariff rates (`no_rate`),
//!   exact repeats of an earlier line (`duplicate`) and unparsable lines
//!   (`malformed`). `--errors P` spreads P % evenly over the five.
//! - `--after-cutoff P`: percentage of lines dated 1–3 December 2026 (after
//!   a 30 November cutoff; rated, left for the next run).
//! - `--mix V,S,D`: voice, sms and data percentages (default 80,15,5).
//! - `--big N`, `--big-lines L`: N accounts (the first N) carrying L CDRs
//!   each (default 0; `--real` uses 3 × 100,000, capped at a third of the
//!   file), the rest spread uniformly over the other accounts.
//! - `--real`: the shape of a carrier's month as measured in issue 16:
//!   `--order random --inactive 11 --after-cutoff 3 --big 3`.
//!
//! Reference data: one mobile service per customer (`0770…`, plans MOBILE
//! and BIZ), plus, for every tenth customer, a second service ceased on
//! 30 June 2026 (`0771…`) that the `--inactive` lines use. Customers are
//! mixed as a provider's are: 40 % email + direct debit (with a mandate),
//! 20 % email + card, 10 % both + manual, 30 % print + manual, all with a
//! postal address.

use std::io::{BufWriter, Write};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Order {
    Time,
    Service,
    Random,
}

struct Opts {
    order: Order,
    inactive: f64,
    unknown: f64,
    no_rate: f64,
    duplicate: f64,
    malformed: f64,
    after: f64,
    mix: [u64; 3],
    big: u64,
    big_lines: u64,
}

#[allow(clippy::exit)]
fn usage() -> ! {
    eprintln!(
        "usage: gen_cdrs LINES CUSTOMERS OUT_DIR [--order time|service|random] [--errors P] \
         [--inactive P] [--unknown P] [--no-rate P] [--duplicate P] [--malformed P] \
         [--after-cutoff P] [--mix V,S,D] [--big N] [--big-lines L] [--real]"
    );
    std::process::exit(2);
}

fn parse(args: &[String]) -> Opts {
    let mut o = Opts {
        order: Order::Time,
        inactive: 0.0,
        unknown: 0.0,
        no_rate: 0.0,
        duplicate: 0.0,
        malformed: 0.0,
        after: 0.0,
        mix: [80, 15, 5],
        big: 0,
        big_lines: 100_000,
    };
    let mut i = 0;
    let pct = |s: Option<&String>| -> f64 {
        s.and_then(|v| v.parse::<f64>().ok())
            .filter(|p| (0.0..=100.0).contains(p))
            .unwrap_or_else(|| usage())
    };
    while i < args.len() {
        let v = args.get(i + 1);
        let mut took = 2;
        match args[i].as_str() {
            "--order" => {
                o.order = match v.map(String::as_str) {
                    Some("time") => Order::Time,
                    Some("service") => Order::Service,
                    Some("random") => Order::Random,
                    _ => usage(),
                }
            }
            "--errors" => {
                let p = pct(v) / 5.0;
                (o.inactive, o.unknown, o.no_rate, o.duplicate, o.malformed) = (p, p, p, p, p);
            }
            "--inactive" => o.inactive = pct(v),
            "--unknown" => o.unknown = pct(v),
            "--no-rate" => o.no_rate = pct(v),
            "--duplicate" => o.duplicate = pct(v),
            "--malformed" => o.malformed = pct(v),
            "--after-cutoff" => o.after = pct(v),
            "--mix" => {
                let m: Vec<u64> = v
                    .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
                    .unwrap_or_default();
                if m.len() != 3 || m.iter().sum::<u64>() != 100 {
                    usage()
                }
                o.mix = [m[0], m[1], m[2]];
            }
            "--big" => o.big = v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage()),
            "--big-lines" => {
                o.big_lines = v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage())
            }
            "--real" => {
                o.order = Order::Random;
                o.inactive = 11.0;
                o.after = 3.0;
                o.big = 3;
                took = 1;
            }
            _ => usage(),
        }
        i += took;
    }
    if o.inactive + o.unknown + o.no_rate + o.duplicate + o.malformed + o.after > 100.0 {
        usage()
    }
    o
}

const MONTH: u64 = 30 * 86_400;

/// `YYYY-MM-DDTHH:MM:SS` for seconds since 2026-11-01 (November, or the
/// first days of December).
fn stamp(off: u64) -> String {
    let (d, secs) = (off / 86_400, off % 86_400);
    let (month, day) = if d < 30 { (11, d + 1) } else { (12, d - 29) };
    format!(
        "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn write_reference(dir: &std::path::Path, customers: u64) -> std::io::Result<()> {
    let mut c = BufWriter::new(std::fs::File::create(dir.join("customers.csv"))?);
    let mut s = BufWriter::new(std::fs::File::create(dir.join("services.csv"))?);
    writeln!(
        c,
        "account,name,email,delivery,payment_method,bank_branch,bank_account,bank_account_name,\
         iban,bic,mandate_ref,mandate_date,card_token,address1,address2,town,region,postcode,\
         invoice_message,tax_exempt,cycle,min_invoice"
    )?;
    writeln!(s, "service,account,plan,start_date,end_date,description")?;
    for i in 0..customers {
        let addr = format!("{} High Street,,Leeds,West Yorkshire,LS1 4AP", i % 200 + 1);
        let email = format!("b{i:05}@example.com");
        match i % 10 {
            0..=3 => writeln!(
                c,
                "B{i:05},Bench customer {i},{email},email,direct_debit,20-00-00,{:08},BENCH {i},,,BM{i:05},2025-01-01,,{addr},,false,monthly,",
                10_000_000 + i
            )?,
            4 | 5 => writeln!(
                c,
                "B{i:05},Bench customer {i},{email},email,card,,,,,,,,pm_bench{i:06},{addr},,false,monthly,"
            )?,
            6 => writeln!(
                c,
                "B{i:05},Bench customer {i},{email},both,manual,,,,,,,,,{addr},,false,monthly,"
            )?,
            _ => writeln!(
                c,
                "B{i:05},Bench customer {i},,print,manual,,,,,,,,,{addr},,false,monthly,"
            )?,
        }
        let plan = if i % 4 == 0 { "BIZ" } else { "MOBILE" };
        writeln!(
            s,
            "0770{:07},B{i:05},{plan},2025-01-01,,Bench",
            1_000_000 + i
        )?;
        if i % 10 == 0 {
            writeln!(
                s,
                "0771{:07},B{i:05},MOBILE,2025-01-01,2026-06-30,Ceased",
                1_000_000 + i
            )?;
        }
    }
    c.flush()?;
    s.flush()
}

/// One line's body after its service and start.
fn call(r: &mut Lcg, o: &Opts, i: u64, no_rate: bool) -> String {
    let prefixes = ["4420", "4411", "447700", "447800", "1212", "3314"];
    let cost = r.next() % 500;
    if no_rate {
        // No tariff has a prefix 86 (China) or 7 (Russia).
        let p = if r.next().is_multiple_of(2) {
            "86"
        } else {
            "7"
        };
        let dur = r.next() % 1200;
        return format!(
            "{dur},{p}{:09},voice,,0.{cost:04},R{i}",
            r.next() % 1_000_000_000
        );
    }
    let kind = r.next() % 100;
    let dest = format!(
        "{}{:07}",
        prefixes[(r.next() % prefixes.len() as u64) as usize],
        r.next() % 10_000_000
    );
    if kind < o.mix[0] {
        let dur = r.next() % 1200;
        format!("{dur},{dest},voice,,0.{cost:04},R{i}")
    } else if kind < o.mix[0] + o.mix[1] {
        format!(",{dest},sms,1,0.{cost:04},R{i}")
    } else {
        let bytes = r.next() % 50_000_000;
        format!(",internet,data,{bytes},0.{cost:04},R{i}")
    }
}

/// How many lines each account's main service gets: the first `big`
/// accounts `big_lines` each (at most a third of the file together), the
/// others an even share (the remainder one each from the first).
fn counts(o: &Opts, lines: u64, customers: u64) -> Vec<u64> {
    let big = o.big.min(customers.saturating_sub(1));
    let per_big = (lines / 3)
        .checked_div(big)
        .map_or(0, |n| o.big_lines.min(n));
    let rest = lines - per_big * big;
    let others = customers - big;
    (0..customers)
        .map(|i| {
            if i < big {
                per_big
            } else {
                let k = i - big;
                rest / others + u64::from(k < rest % others)
            }
        })
        .collect()
}

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        usage();
    }
    let lines: u64 = a[1].parse().unwrap_or_else(|_| usage());
    let customers: u64 = a[2].parse().unwrap_or_else(|_| usage());
    if customers == 0 {
        usage();
    }
    let dir = std::path::Path::new(&a[3]);
    let o = parse(&a[4..]);
    std::fs::create_dir_all(dir)?;
    write_reference(dir, customers)?;

    let counts = counts(&o, lines, customers);
    // Cumulative counts: a line's service in time/random order is drawn
    // with these weights, so the skew is the same in every order.
    let mut cum = Vec::with_capacity(counts.len());
    let mut acc = 0;
    for n in &counts {
        acc += n;
        cum.push(acc);
    }
    let ceased: Vec<u64> = (0..customers).filter(|i| i % 10 == 0).collect();

    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("cdrs.csv"))?);
    writeln!(
        out,
        "service,start,duration,destination,call_type,quantity,carrier_cost,record_id"
    )?;
    let mut r = Lcg(42);
    let mut last = String::new();
    // Service order: account by account, each account's times sorted.
    let mut svc_iter =
        (0..customers).flat_map(|c| std::iter::repeat_n(c, counts[c as usize] as usize));
    let mut times: Vec<u64> = Vec::new();
    let mut times_of = u64::MAX;
    for i in 0..lines {
        let (cust, mut off) = match o.order {
            Order::Time => {
                let w = r.next() * r.next() % lines.max(1);
                (
                    cum.partition_point(|&c| c <= w) as u64,
                    i * MONTH / lines.max(1),
                )
            }
            Order::Random => {
                let w = r.next() * r.next() % lines.max(1);
                (cum.partition_point(|&c| c <= w) as u64, r.next() % MONTH)
            }
            Order::Service => {
                let c = svc_iter.next().unwrap_or(0);
                if times_of != c {
                    let mut g = Lcg(c + 7);
                    times = (0..counts[c as usize]).map(|_| g.next() % MONTH).collect();
                    times.sort_unstable();
                    times.reverse();
                    times_of = c;
                }
                (c, times.pop().unwrap_or(0))
            }
        };
        let roll = (r.next() % 1_000_000) as f64 / 10_000.0;
        let mut t = 0.0;
        let mut pick = |p: f64| {
            t += p;
            roll < t
        };
        let line = if pick(o.duplicate) && !last.is_empty() {
            last.clone()
        } else if pick(o.malformed) {
            format!(
                "0770{:07},{},12x,441130000000,voice,,0.01,R{i}",
                1_000_000 + cust,
                stamp(off)
            )
        } else if pick(o.unknown) {
            format!(
                "0779{:07},{},{}",
                1_000_000 + cust,
                stamp(off),
                call(&mut r, &o, i, false)
            )
        } else if pick(o.inactive) && !ceased.is_empty() {
            let c = ceased[(r.next() % ceased.len() as u64) as usize];
            format!(
                "0771{:07},{},{}",
                1_000_000 + c,
                stamp(off),
                call(&mut r, &o, i, false)
            )
        } else if pick(o.no_rate) {
            format!(
                "0770{:07},{},{}",
                1_000_000 + cust,
                stamp(off),
                call(&mut r, &o, i, true)
            )
        } else {
            if pick(o.after) {
                off = MONTH + off % (3 * 86_400);
            }
            format!(
                "0770{:07},{},{}",
                1_000_000 + cust,
                stamp(off),
                call(&mut r, &o, i, false)
            )
        };
        writeln!(out, "{line}")?;
        last = line;
    }
    out.flush()
}
