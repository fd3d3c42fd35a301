#!/usr/bin/env bash
# SQL-only measurement of the CDR import's index work (issue 16): sqlite3
# inserts 1M rows of billrun's `cdrs` row (unique dedupe index, partial
# invoice index, 16 KiB pages, WAL, 64 MB cache, one transaction) from a
# prepared table whose start times are random, with `cdrs_unbilled` keyed
# by `start` (before migration 17) or by `file_id` (migration 17), and once
# in time order. Prints wall, user and system time and peak RSS of each;
# on a shared host compare the user times.
#   bench/unbilled_index.sh [ROWS]     # default 1000000; needs sqlite3 and GNU time
set -euo pipefail
ROWS=${1:-1000000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$ROOT/target/bench-unbilled}
rm -rf "$WORK"; mkdir -p "$WORK"; cd "$WORK"
sqlite3 src.db <<SQL >/dev/null
PRAGMA page_size=16384;
PRAGMA journal_mode=WAL;
CREATE TABLE src (line INTEGER, service TEXT, start INTEGER, destination TEXT, call_type INTEGER,
  units INTEGER, carrier_cost TEXT, record_id TEXT, state INTEGER, rate_id INTEGER, band INTEGER,
  billable INTEGER, charge_minor INTEGER, dedupe INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $ROWS)
INSERT INTO src SELECT i, '0770' || (1000000 + abs(random()) % 2000), 1793491200 + abs(random()) % 2592000,
  '4420' || abs(random()) % 10000000, 0, abs(random()) % 1200, '0.0123', 'R' || i,
  CASE WHEN abs(random()) % 100 < 11 THEN 0 ELSE 1 END, 3, 1, 60, 9, 0 FROM n;
UPDATE src SET dedupe = (start << 28) | (abs(random()) % 268435456);
SQL
run() { # label, unbilled index, order
    rm -f t.db t.db-wal t.db-shm
    sqlite3 t.db >/dev/null <<SQL
PRAGMA page_size=16384;
PRAGMA journal_mode=WAL;
CREATE TABLE cdrs (id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, line INTEGER NOT NULL,
  service TEXT NOT NULL, start INTEGER NOT NULL, destination TEXT NOT NULL,
  call_type INTEGER NOT NULL CHECK (call_type BETWEEN 0 AND 2), units INTEGER NOT NULL,
  carrier_cost TEXT NOT NULL DEFAULT '0', record_id TEXT,
  state INTEGER NOT NULL CHECK (state BETWEEN 0 AND 2), rate_id INTEGER,
  band INTEGER CHECK (band BETWEEN 0 AND 2), billable INTEGER, charge_minor INTEGER,
  invoice_id INTEGER, dedupe INTEGER);
CREATE UNIQUE INDEX cdrs_dedupe ON cdrs(dedupe);
CREATE INDEX cdrs_invoice ON cdrs(invoice_id) WHERE invoice_id IS NOT NULL;
$2;
SQL
    /usr/bin/time -f "$1: %e s wall, %U s user, %S s sys, peak RSS %M KB" sqlite3 t.db <<SQL
PRAGMA cache_size=-65536;
ATTACH 'src.db' AS s;
BEGIN;
INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units, carrier_cost,
  record_id, state, rate_id, band, billable, charge_minor, dedupe)
SELECT 1, line, service, start, destination, call_type, units, carrier_cost, record_id, state,
  rate_id, band, billable, charge_minor, dedupe FROM s.src ORDER BY $3;
COMMIT;
SQL
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run "cdrs_unbilled on start (before), random order" \
    "CREATE INDEX cdrs_unbilled ON cdrs(start) WHERE invoice_id IS NULL AND state = 1" line
run "cdrs_unbilled on file_id (migration 17), random order" \
    "CREATE INDEX cdrs_unbilled ON cdrs(file_id) WHERE invoice_id IS NULL AND state = 1" line
run "cdrs_unbilled on start (before), time order" \
    "CREATE INDEX cdrs_unbilled ON cdrs(start) WHERE invoice_id IS NULL AND state = 1" start
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
