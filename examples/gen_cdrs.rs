//! Benchmark data generator: `gen_cdrs LINES CUSTOMERS OUT_DIR` writes
//! `customers.csv`, `services.csv` (one mobile service per customer) and a
//! native `cdrs.csv` of LINES CDRs over November 2026, in time order,
//! 80 % voice, 15 % sms, 5 % data, to destinations that all rate with the
//! shipped tariffs (fixtures/tariffs.csv, fixtures/plans.csv). Deterministic.

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

fn main() -> std::io::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: gen_cdrs LINES CUSTOMERS OUT_DIR");
        std::process::exit(2);
    }
    let lines: u64 = a[1].parse().expect("LINES");
    let customers: u64 = a[2].parse().expect("CUSTOMERS");
    let dir = std::path::Path::new(&a[3]);
    std::fs::create_dir_all(dir)?;
    let mut c = BufWriter::new(std::fs::File::create(dir.join("customers.csv"))?);
    let mut s = BufWriter::new(std::fs::File::create(dir.join("services.csv"))?);
    writeln!(c, "account,name,delivery,payment_method")?;
    writeln!(s, "service,account,plan,start_date,end_date,description")?;
    for i in 0..customers {
        writeln!(c, "B{i:05},Bench customer {i},print,manual")?;
        let plan = if i % 4 == 0 { "BIZ" } else { "MOBILE" };
        writeln!(
            s,
            "0770{:07},B{i:05},{plan},2025-01-01,,Bench",
            1_000_000 + i
        )?;
    }
    c.flush()?;
    s.flush()?;
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(dir.join("cdrs.csv"))?);
    writeln!(
        out,
        "service,start,duration,destination,call_type,quantity,carrier_cost,record_id"
    )?;
    let mut r = Lcg(42);
    let start = 1_793_491_200u64; // 2026-11-01T00:00:00
    let span = 30 * 86_400u64;
    let prefixes = ["4420", "4411", "447700", "447800", "1212", "3314"];
    for i in 0..lines {
        let t = start + i * span / lines.max(1);
        let (days, secs) = (t / 86_400, t % 86_400);
        // civil date from days since 1970 (November 2026 only needs this)
        let d = days - 20_758; // 2026-11-01
        let svc = 1_000_000 + r.next() % customers;
        let p = prefixes[(r.next() % prefixes.len() as u64) as usize];
        let dest = format!("{p}{:07}", r.next() % 10_000_000);
        let kind = r.next() % 100;
        let stamp = format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}",
            d + 1,
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        );
        let cost = r.next() % 500;
        if kind < 80 {
            let dur = r.next() % 1200;
            writeln!(
                out,
                "0770{svc:07},{stamp},{dur},{dest},voice,,0.{cost:04},R{i}"
            )?;
        } else if kind < 95 {
            writeln!(out, "0770{svc:07},{stamp},,{dest},sms,1,0.{cost:04},R{i}")?;
        } else {
            let bytes = r.next() % 50_000_000;
            writeln!(
                out,
                "0770{svc:07},{stamp},,internet,data,{bytes},0.{cost:04},R{i}"
            )?;
        }
    }
    out.flush()
}
