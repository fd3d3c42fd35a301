#!/usr/bin/env bash
# Benchmark (issue 15, item 20): production memory and file sizes for ONE
# account with a very large number of itemised calls.
#
#   bench/big_account.sh [CDRS]            # default 300000
#   BILLRUN_BIN=path bench/big_account.sh  # time another build (e.g. main's)
#
# Builds a database with one email customer whose one service made CDRS rated
# calls in the period (inserted straight into the store with sqlite3, as
# bench/produce.sh does: rating is measured by bench/cdr_import.sh), plus two
# ordinary customers; then runs `billrun request` (which produces the run)
# under GNU time and prints its peak RSS, its wall time and the sizes of the
# big account's PDF and itemised-calls file (NUMBER-calls.csv, or
# NUMBER-calls.csv.gz when the CSV is over 5 MB). Needs sqlite3 and GNU time.
set -euo pipefail
CDRS=${1:-300000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v sqlite3 >/dev/null || { echo "needs sqlite3: apt-get install -y sqlite3" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install -y time" >&2; exit 1; }
if [ -z "${BILLRUN_BIN:-}" ]; then
    cargo build --release --locked -q --bin billrun
    BILLRUN_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/billrun
fi
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export BILLRUN_DB=$W/big.db BILLRUN_OPERATOR=bench
B=("$BILLRUN_BIN" -q)

cat > "$W/customers.csv" <<'EOF'
account,name,email,delivery,payment_method,address1,town,postcode
BIG001,Big Call Centre Ltd,accounts@bigcalls.example,email,manual,1 Exchange Quay,Salford,M5 3EQ
SML001,Small Shop Ltd,shop@small.example,email,manual,2 High Street,Leeds,LS1 1AA
SML002,Corner Cafe,cafe@corner.example,print,manual,3 High Street,Leeds,LS1 1AB
EOF
cat > "$W/services.csv" <<'EOF'
service,account,plan,start_date,end_date,description,billed_to
01610000001,BIG001,HOME,2025-01-01,,Call centre trunk,2026-10-31
01130000001,SML001,HOME,2025-01-01,,Shop line,2026-10-31
01130000002,SML002,HOME,2025-01-01,,Cafe line,2026-10-31
EOF
"${B[@]}" init
"${B[@]}" config set company.name "Bench Telecom Ltd"
"${B[@]}" tariffs import fixtures/tariffs.csv
"${B[@]}" plans import fixtures/plans.csv
"${B[@]}" customers import "$W/customers.csv"
"${B[@]}" services import "$W/services.csv"

echo "inserting $CDRS rated calls for BIG001 (and 20 for each small account)..."
# start: local seconds since 1970 (schema migration 9); call_type voice = 0,
# state rated = 1, band peak = 1 (migration 11). Calls alternate between UK
# mobiles and UK landlines, spread over November 2026.
sqlite3 "$BILLRUN_DB" <<EOF
BEGIN;
INSERT INTO carriers VALUES ('bench', 'billrun', NULL, 'now');
INSERT INTO cdr_files (id, carrier, name, sha256, lines, state, imported_at)
VALUES (1, 'bench', 'bench.csv', 'x', $CDRS, 'processed', 'now');
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < $CDRS)
INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units, state,
                  rate_id, band, billable, charge_minor)
SELECT 1, k + 1, '01610000001',
       CAST(strftime('%s', '2026-11-01T08:00:00') AS INTEGER) + (k * 2591999) / $CDRS,
       CASE k % 2 WHEN 1 THEN printf('447700%06d', (k * 7919) % 1000000)
                  ELSE printf('44113%07d', (k * 104729) % 10000000) END,
       0, 5 + (k * 37) % 1795, 1,
       (SELECT id FROM rates WHERE tariff = 'STD' AND prefix = CASE k % 2 WHEN 1 THEN '447' ELSE '44' END
          AND call_type = 'voice' AND band = 'peak'),
       1, 5 + (k * 37) % 1795, (5 + (k * 37) % 1795) / 10
FROM n;
WITH RECURSIVE n(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM n WHERE k + 1 < 40)
INSERT INTO cdrs (file_id, line, service, start, destination, call_type, units, state,
                  rate_id, band, billable, charge_minor)
SELECT 1, $CDRS + k + 1, CASE k % 2 WHEN 0 THEN '01130000001' ELSE '01130000002' END,
       CAST(strftime('%s', '2026-11-02T09:00:00') AS INTEGER) + k * 3600,
       printf('44113%07d', k), 0, 60 + k, 1,
       (SELECT id FROM rates WHERE tariff = 'STD' AND prefix = '44' AND call_type = 'voice'
          AND band = 'peak'),
       1, 60 + k, 6 + k / 10
FROM n;
COMMIT;
EOF
"${B[@]}" new --name big --invoice-date 2026-12-01 --cutoff 2026-11-30

echo "request (creates and produces the invoices) on $(nproc) cores, $(cut -d' ' -f1 /proc/loadavg) load..."
/usr/bin/time -v "${B[@]}" request big --expert --yes > "$W/request.out" 2> "$W/request.time" || {
    cat "$W/request.out" "$W/request.time" >&2
    exit 1
}
rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$W/request.time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$W/request.time")
number=$(sqlite3 "$BILLRUN_DB" "SELECT number FROM invoices WHERE account = 'BIG001'")
dir=$W/big.db.files/invoices/big
size() { if [ -f "$1" ]; then stat -c %s "$1" | awk '{printf "%.2f MB (%d bytes)", $1/1000000, $1}'; else echo "none"; fi; }
calls=none
for f in "$dir/$number-calls.csv" "$dir/$number-calls.csv.gz"; do
    [ -f "$f" ] && calls="$(basename "$f"): $(size "$f")"
done
echo
echo "billrun:          $BILLRUN_BIN"
echo "CDRs of BIG001:   $CDRS"
echo "request wall:     $wall"
echo "request peak RSS: $rss MB"
echo "PDF $number.pdf: $(size "$dir/$number.pdf")"
echo "itemised calls:   $calls"
