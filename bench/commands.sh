#!/usr/bin/env bash
# Times read-side commands on a database left by bench/cdr_import.sh
# (issue 16 item 3): `status`, `runs`, `errors` (summary, `--detail`,
# `--kind`, `--json`), `cdr list` (table and `--json`), `prebill`, each
# ROUNDS times (default 3) with GNU time, stdout to /dev/null. Prints, per command, the median wall time, the spread (min–max)
# and the largest peak RSS, with the load average before each command.
#
#   BENCH_DIR=bench-data/real bench/cdr_import.sh 1000000 --real
#   bench/commands.sh bench-data/real/bench.db
#   ROUNDS=5 NO_PREBILL=1 bench/commands.sh DB      # five rounds, without prebill
#
# Creates run 1 (`new --invoice-date 2026-12-01 --cutoff 2026-11-30`) when
# the database has no run yet; it writes nothing else.
set -euo pipefail
DB=${1:?usage: bench/commands.sh DB}
ROUNDS=${ROUNDS:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=("$ROOT/target/release/billrun" --db "$DB" -q)
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time): apt-get install -y time" >&2; exit 1; }
T=$(mktemp)
trap 'rm -f "$T"' EXIT

if [ "$(sqlite3 "$DB" 'SELECT count(*) FROM runs')" = 0 ]; then
    "${B[@]}" new --invoice-date 2026-12-01 --cutoff 2026-11-30 >/dev/null
fi
echo "CDRs: $(sqlite3 "$DB" 'SELECT count(*) FROM cdrs'), billing errors: $(sqlite3 "$DB" 'SELECT count(*) FROM billing_errors')"

wall() {
    awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$1"
}
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$1"; }

printf "%-48s %-16s %10s %16s %10s\n" command "load (1/5/15)" "median s" "min–max s" "peak RSS"
run() { # command args...
    local load times=() peak=0 t
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    for _ in $(seq 1 "$ROUNDS"); do
        /usr/bin/time -v "${B[@]}" "$@" 2>"$T" >/dev/null || { cat "$T" >&2; exit 1; }
        times+=("$(wall "$T")")
        peak=$(awk -v a="$peak" -v b="$(rss "$T")" 'BEGIN {print (b > a ? b : a)}')
    done
    t=$(printf "%s\n" "${times[@]}" | sort -n)
    printf "%-48s %-16s %10s %16s %7s MB\n" "$*" "$load" \
        "$(echo "$t" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')" \
        "$(echo "$t" | head -1)–$(echo "$t" | tail -1)" "$peak"
}
run status
run runs
run errors 1
run errors 1 --kind service_inactive
run errors 1 --kind service_inactive --detail
run errors 1 --detail --all
run --json errors 1
run cdr list
run --json cdr list
[ -n "${NO_PREBILL:-}" ] || run prebill 1
