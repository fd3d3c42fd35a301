#!/usr/bin/env bash
# CDR import benchmark (SPEC §13, issue 3): `billrun cdr import` of a native
# CDR file (parse + dedupe + match + rate + store) against sqlite3's own
# `.import` of the same file into a plain table.
#
#   bench/cdr_import.sh [LINES]      # default 1000000; try 5000000
#
# Prints both wall times, the ratio (billrun / sqlite3; target <= 1.0) and
# peak RSS of each (target < 200 MB for billrun, flat as LINES grows).
set -euo pipefail
LINES=${1:-1000000}
CUSTOMERS=${CUSTOMERS:-2000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$ROOT/target/bench-cdr}
cd "$ROOT"

if ! command -v sqlite3 >/dev/null; then
    echo "sqlite3 is missing: installing it (apt-get install -y sqlite3)" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y sqlite3; else sudo apt-get install -y sqlite3; fi
fi
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install -y time" >&2; exit 1; }

cargo build --release --quiet --bin billrun --example gen_cdrs
rm -rf "$WORK"; mkdir -p "$WORK"
echo "generating $LINES CDR lines over $CUSTOMERS customers in $WORK ..."
target/release/examples/gen_cdrs "$LINES" "$CUSTOMERS" "$WORK"
ls -l "$WORK/cdrs.csv" | awk '{printf "file: %.1f MB\n", $5/1048576}'

B=(target/release/billrun --db "$WORK/bench.db" -q)
"${B[@]}" init
"${B[@]}" tariffs import fixtures/tariffs.csv
"${B[@]}" plans import fixtures/plans.csv
"${B[@]}" customers import "$WORK/customers.csv"
"${B[@]}" services import "$WORK/services.csv"
"${B[@]}" carriers add bench --format billrun

# Warm the page cache so neither side pays for the first read.
cat "$WORK/cdrs.csv" > /dev/null

measure() { # label, time-file, command...
    local label=$1 out=$2; shift 2
    /usr/bin/time -v "$@" 2> "$out" >/dev/null || { cat "$out" >&2; exit 1; }
}
wall() { # seconds from GNU time's "Elapsed (wall clock) time (h:mm:ss or m:ss): M:SS.ss"
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$1"
}
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$1"; }

measure sqlite3-file "$WORK/sqlite-file.time" \
    sqlite3 "$WORK/plain.db" ".import --csv $WORK/cdrs.csv cdrs"
measure sqlite3-mem "$WORK/sqlite-mem.time" \
    sqlite3 :memory: ".import --csv $WORK/cdrs.csv cdrs"
measure billrun "$WORK/billrun.time" \
    "${B[@]}" cdr import "$WORK/cdrs.csv" --carrier bench

rows=$(sqlite3 "$WORK/bench.db" "SELECT count(*) FROM cdrs")
rated=$(sqlite3 "$WORK/bench.db" "SELECT count(*) FROM cdrs WHERE state = 1")
plain=$(sqlite3 "$WORK/plain.db" "SELECT count(*) FROM cdrs")
tb=$(wall "$WORK/billrun.time"); tf=$(wall "$WORK/sqlite-file.time"); tm=$(wall "$WORK/sqlite-mem.time")
echo
printf "lines                          %s (billrun stored %s, rated %s; sqlite3 table %s rows)\n" "$LINES" "$rows" "$rated" "$plain"
printf "sqlite3 .import, file db       %6.2f s   peak RSS %6s MB\n" "$tf" "$(rss "$WORK/sqlite-file.time")"
printf "sqlite3 .import, :memory:      %6.2f s   peak RSS %6s MB\n" "$tm" "$(rss "$WORK/sqlite-mem.time")"
printf "billrun cdr import             %6.2f s   peak RSS %6s MB\n" "$tb" "$(rss "$WORK/billrun.time")"
awk -v b="$tb" -v f="$tf" -v m="$tm" 'BEGIN {printf "ratio billrun / sqlite3 file   %6.2f   (target <= 1.0)\nratio billrun / sqlite3 memory %6.2f\n", b/f, b/m}'
