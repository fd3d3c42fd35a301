#!/usr/bin/env bash
# Progress bars' cost to throughput (issue 16 item 6): `cdr import` of the
# same file on a terminal (a pseudo-terminal from util-linux `script`, so the
# bar is drawn) and with `-q` (no bar), alternating, ROUNDS pairs each on a
# fresh copy of the prepared database. Run bench/cdr_import.sh first: it
# leaves the file and the prepared database in BENCH_DIR.
#
#   BENCH_DIR=target/bench-cdr ROUNDS=5 bench/progress_cost.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$ROOT/target/bench-cdr}
ROUNDS=${ROUNDS:-5}
B=$ROOT/target/release/billrun
command -v script >/dev/null || { echo "needs script (util-linux)" >&2; exit 1; }
[ -f "$WORK/prepared.db" ] && [ -f "$WORK/cdrs.csv" ] || { echo "run bench/cdr_import.sh first" >&2; exit 1; }
one() { # label, extra flag
    rm -rf "$WORK/p.db" "$WORK/p.db-wal" "$WORK/p.db-shm" "$WORK/p.db.files"
    cp "$WORK/prepared.db" "$WORK/p.db"
    local t0 t1
    t0=$(date +%s.%N)
    script -qec "$B --db $WORK/p.db $2 cdr import $WORK/cdrs.csv --carrier bench" /dev/null > "$WORK/progress.out"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" -v l="$1" 'BEGIN {printf "%-12s %6.2f s\n", l, b-a}'
}
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
    one "bar shown" ""
    grep -q "rating" "$WORK/progress.out" || { echo "no progress bar was drawn" >&2; exit 1; }
    one "-q" "-q"
done
echo "load average at end:   $(cut -d' ' -f1-3 /proc/loadavg)"
