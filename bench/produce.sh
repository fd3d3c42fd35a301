#!/usr/bin/env bash
# Benchmark: produce N invoices with PDFs (default 10,000 customers with 20
# itemised calls each), release build. Prints the wall time of `produce`.
# usage: bench/produce.sh [CUSTOMERS] [CALLS_PER_CUSTOMER]
set -euo pipefail
N=${1:-10000}
CALLS=${2:-20}
cd "$(dirname "$0")/.."
cargo build --release --locked -q
B=$PWD/target/release/billrun
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
export BILLRUN_DB=$W/bench.db BILLRUN_OPERATOR=bench
python3 bench/gen_invoices.py "$W" "$N" "$CALLS"
$B -q init
$B -q config set company.name "Bench Telecom Ltd"
$B -q tariffs import fixtures/tariffs.csv
$B -q plans import fixtures/plans.csv
$B -q customers import "$W/customers.csv"
$B -q services import "$W/services.csv"
sqlite3 "$BILLRUN_DB" < "$W/cdrs.sql"
$B -q new --name bench --invoice-date 2026-12-01 --cutoff 2026-11-30
$B -q request bench --expert --no-produce --yes
echo "producing $N invoices with $CALLS itemised calls each on $(nproc) cores..."
start=$(date +%s.%N)
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "peak RSS %M KB" "$B" -q produce bench
else
  "$B" -q produce bench
fi
end=$(date +%s.%N)
pdfs=$(ls "$W/bench.db.files/invoices/bench" | grep -c '\.pdf$')
echo "produce: $(python3 -c "print(round($end - $start, 2))") s for $pdfs invoices+PDFs (target < 20 s)"
