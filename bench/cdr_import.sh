#!/usr/bin/env bash
# CDR import benchmark (SPEC §13, issue 3): `billrun cdr import` of a native
# CDR file (parse + dedupe + match + rate + store) against sqlite3's own
# `.import` of the same file into a plain table.
#
#   bench/cdr_import.sh [LINES] [GENERATOR OPTIONS]   # default 1000000, clean time-ordered file
#   bench/cdr_import.sh 1000000 --real                # real-shaped: random order, 11 % inactive, 3 % after cutoff, 3 big accounts
#   bench/cdr_import.sh 1000000 --order service --inactive 11 --after-cutoff 3
#   ROUNDS=3 bench/cdr_import.sh     # pairs to time (default 5)
#
# GENERATOR OPTIONS are those of examples/gen_cdrs.rs (see its doc).
#
# Times ROUNDS pairs, alternating: sqlite3 .import into a new file database,
# then billrun cdr import into a fresh copy of the prepared database, each
# pair seconds apart. Prints every pair's wall times and ratio (billrun /
# sqlite3), the median ratio (target <= 1.0: one pair on a shared machine
# can be off by 30 % either way, the median is the figure) and the worst,
# plus sqlite3 into :memory: once and the peak RSS of each (target < 200 MB
# for billrun, flat as LINES grows).
set -euo pipefail
LINES=${1:-1000000}
shift || true
GEN_OPTS=("$@")
ROUNDS=${ROUNDS:-5}
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
echo "generating $LINES CDR lines over $CUSTOMERS customers in $WORK (options: ${GEN_OPTS[*]:-none, the clean time-ordered file}) ..."
target/release/examples/gen_cdrs "$LINES" "$CUSTOMERS" "$WORK" "${GEN_OPTS[@]}"
ls -l "$WORK/cdrs.csv" | awk '{printf "file: %.1f MB\n", $5/1048576}'

B=(target/release/billrun --db "$WORK/bench.db" -q)
"${B[@]}" init
"${B[@]}" tariffs import fixtures/tariffs.csv
"${B[@]}" plans import fixtures/plans.csv
"${B[@]}" customers import "$WORK/customers.csv"
"${B[@]}" services import "$WORK/services.csv"
"${B[@]}" carriers add bench --format billrun
cp "$WORK/bench.db" "$WORK/prepared.db"

# Warm the page cache so neither side pays for the first read.
cat "$WORK/cdrs.csv" > /dev/null

measure() { # time-file, command...
    local out=$1; shift
    /usr/bin/time -v "$@" 2> "$out" >/dev/null || { cat "$out" >&2; exit 1; }
}
wall() { # seconds from GNU time's "Elapsed (wall clock) time (h:mm:ss or m:ss): M:SS.ss"
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$1"
}
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$1"; }

echo
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-6s %-8s %12s %12s %8s   %s\n" round load "sqlite3 (s)" "billrun (s)" ratio "billrun peak RSS"
ratios=(); brss=0; srss=0
for r in $(seq 1 "$ROUNDS"); do
    load=$(cut -d' ' -f1 /proc/loadavg)
    rm -f "$WORK/plain.db"
    measure "$WORK/sqlite-file.time" sqlite3 "$WORK/plain.db" ".import --csv $WORK/cdrs.csv cdrs"
    rm -rf "$WORK/bench.db" "$WORK/bench.db-wal" "$WORK/bench.db-shm" "$WORK/bench.db.files"
    cp "$WORK/prepared.db" "$WORK/bench.db"
    measure "$WORK/billrun.time" "${B[@]}" cdr import "$WORK/cdrs.csv" --carrier bench
    tf=$(wall "$WORK/sqlite-file.time"); tb=$(wall "$WORK/billrun.time")
    ratio=$(awk -v b="$tb" -v f="$tf" 'BEGIN {printf "%.2f", b/f}')
    ratios+=("$ratio")
    brss=$(awk -v a="$brss" -v b="$(rss "$WORK/billrun.time")" 'BEGIN {print (b > a ? b : a)}')
    srss=$(awk -v a="$srss" -v b="$(rss "$WORK/sqlite-file.time")" 'BEGIN {print (b > a ? b : a)}')
    printf "%-6s %-8s %12.2f %12.2f %8s   %s MB\n" "$r" "$load" "$tf" "$tb" "$ratio" "$(rss "$WORK/billrun.time")"
done
measure "$WORK/sqlite-mem.time" sqlite3 :memory: ".import --csv $WORK/cdrs.csv cdrs"

echo "load average at end:   $(cut -d' ' -f1-3 /proc/loadavg)"
rows=$(sqlite3 "$WORK/bench.db" "SELECT count(*) FROM cdrs")
rated=$(sqlite3 "$WORK/bench.db" "SELECT count(*) FROM cdrs WHERE state = 1")
errors=$(sqlite3 "$WORK/bench.db" "SELECT group_concat(kind || ' ' || n, ', ') FROM (SELECT kind, count(*) n FROM billing_errors GROUP BY kind)")
plain=$(sqlite3 "$WORK/plain.db" "SELECT count(*) FROM cdrs")
sorted=$(printf "%s\n" "${ratios[@]}" | sort -n)
median=$(echo "$sorted" | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f", (a[NR/2]+a[NR/2+1])/2}')
worst=$(echo "$sorted" | tail -1); best=$(echo "$sorted" | head -1)
echo
printf "lines                          %s (billrun stored %s, rated %s; sqlite3 table %s rows)\n" "$LINES" "$rows" "$rated" "$plain"
printf "billing errors                 %s\n" "${errors:-none}"
printf "sqlite3 .import, :memory:      %6.2f s   peak RSS %6s MB (once)\n" "$(wall "$WORK/sqlite-mem.time")" "$(rss "$WORK/sqlite-mem.time")"
printf "peak RSS, all rounds           sqlite3 %s MB, billrun %s MB (target < 200 MB)\n" "$srss" "$brss"
printf "ratio billrun / sqlite3        median %s over %s pairs (best %s, worst %s; target <= 1.0)\n" "$median" "$ROUNDS" "$best" "$worst"
