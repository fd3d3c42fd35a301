#!/usr/bin/env bash
# Benchmark (issue 16 items 3-4): production of CUSTOMERS invoices carrying
# CALLS itemised calls each (default 2,000 x 500 = 1M CDRs), the calls of
# all customers interleaved in time as a carrier's file is, then the
# commands that follow production on the same database.
#
#   bench/production.sh [CUSTOMERS] [CALLS]        # default 2000 500
#   BENCH_DIR=dir KEEP=1 bench/production.sh        # keep the database
#
# Builds the database (customers and services from bench/gen_invoices.py,
# rated CDRs inserted straight into the store with one sqlite3 statement:
# rating is measured by bench/cdr_import.sh), copies it, then times on the
# copy, under GNU time: `prebill`, `request --expert` (which creates the
# invoices, renders every PDF on every core and completes the run), then
# `invoices`, `postbill`, `email --dry-run`, `collect dd` (writes the
# Direct Debit file), `xero export`, `print`. Prints per command the wall time, user+system CPU, the
# CPU/wall ratio (2.0 = both cores busy all along), the peak RSS and the
# load average before it. Needs sqlite3, python3 and GNU time.
set -euo pipefail
N=${1:-2000}
CALLS=${2:-500}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install -y time" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "needs sqlite3: apt-get install -y sqlite3" >&2; exit 1; }
if [ -z "${BILLRUN_BIN:-}" ]; then
    cargo build --release --locked -q --bin billrun
    BILLRUN_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/billrun
fi
W=${BENCH_DIR:-$ROOT/target/bench-production}
rm -rf "$W"; mkdir -p "$W"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
export BILLRUN_DB=$W/bench.db BILLRUN_OPERATOR=bench
B=("$BILLRUN_BIN" -q)
CDRS=$((N * CALLS))

python3 bench/gen_invoices.py "$W" "$N" 0
"${B[@]}" init
"${B[@]}" config set company.name "Bench Telecom Ltd"
"${B[@]}" config set smtp.from billing@bench.example
"${B[@]}" config set dd.sun 123456
"${B[@]}" config set dd.sort_code 20-00-00
"${B[@]}" config set dd.account 12345678
"${B[@]}" config set dd.name "BENCH TELECOM"
"${B[@]}" tariffs import fixtures/tariffs.csv
"${B[@]}" plans import fixtures/plans.csv
"${B[@]}" customers import "$W/customers.csv"
"${B[@]}" services import "$W/services.csv"
echo "inserting $CDRS rated calls over $N services, interleaved in time..."
# start: local seconds since 1970 (migration 9); voice = 0, rated = 1,
# peak = 1 (migration 11). Call k is service k % N's, at a time growing with
# k over November; UK mobiles and landlines alternate.
sqlite3 "$BILLRUN_DB" <<SQL
BEGIN;
INSERT INTO carriers VALUES ('bench', 'billrun', NULL, 'now');
INSERT INTO cdr_files (id, carrier, name, sha256, lines, state, imported_at)
VALUES (1, 'bench', 'bench.csv', 'x', $CDRS, 'processed', 'now');
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < $CDRS)
INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units, state,
                  rate_id, band, billable, charge_minor, dedupe)
SELECT 1, k + 1, printf('0113%07d', k % $N),
       CAST(strftime('%s', '2026-11-01T08:00:00') AS INTEGER) + (k * 2591999) / $CDRS,
       CASE (k / $N) % 2 WHEN 1 THEN printf('447700%06d', (k * 7919) % 1000000)
                        ELSE printf('44113%07d', (k * 104729) % 10000000) END,
       0, 5 + (k * 37) % 1795, 1,
       (SELECT id FROM rates WHERE tariff = 'STD' AND prefix = CASE (k / $N) % 2 WHEN 1 THEN '447' ELSE '44' END
          AND call_type = 'voice' AND band = 'peak'),
       1, 5 + (k * 37) % 1795, (5 + (k * 37) % 1795) / 10, k + 1
FROM n;
COMMIT;
SQL
"${B[@]}" new --name bench --invoice-date 2026-12-01 --cutoff 2026-11-30
cp "$W/bench.db" "$W/prepared.db"

T=$W/time.txt
printf "%-40s %8s %8s %6s %10s  %s\n" command "wall s" "cpu s" cpu/wall "peak RSS" "load (1/5/15)"
run() { # command args...
    local load
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    /usr/bin/time -f "%e %U %S %M" -o "$T" "${B[@]}" "$@" >/dev/null || { echo "failed: $*" >&2; exit 1; }
    read -r e u s m < "$T"
    awk -v e="$e" -v u="$u" -v s="$s" -v m="$m" -v c="${*//$W/\$W}" -v l="$load" 'BEGIN {
        printf "%-40s %8.2f %8.2f %6.2f %7.1f MB  %s\n", c, e, u + s, (e > 0 ? (u + s) / e : 0), m / 1024, l }'
}
run prebill bench
run request bench --expert --yes
run invoices bench
run postbill bench
run email bench --dry-run "$W/eml"
run collect dd bench --yes --out "$W/dd.txt"
run xero export bench --out "$W/xero.csv"
run print bench --out "$W/print"
echo "PDFs: $(find "$W/bench.db.files/invoices/bench" -name '*.pdf' | wc -l)"
