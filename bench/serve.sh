#!/usr/bin/env bash
# HTTP benchmark of `lake serve` with wrk (Debian's wrk) on loopback: requests/s and p99 latency of
# GET /api/v1/daily_sales for one day on a lake of ORDERS generated orders, first alone, then while
# `lake ingest orders` commits new batches in a loop (each commit is a new snapshot, so the answer
# cache turns over and the server recomputes).
# Usage: bench/serve.sh [-c release|debug] [ORDERS] [SECONDS]   (defaults release, 1000000, 15)
# Both runs end by themselves after SECONDS; the server is stopped with SIGTERM at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
config=release
if [ "${1:-}" = "-c" ]; then config="$2"; shift 2; fi
orders="${1:-1000000}"
seconds="${2:-15}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
swift build -c "$config" --product lake >/dev/null
lake=".build/$config/lake"
work="bench-out/serve-$orders"
if [ ! -f "$work/lake/manifest.sqlite" ]; then
  rm -rf "$work"; mkdir -p "$work"
  $lake generate --out "$work/src" --orders "$orders" --days 30 >/dev/null
  $lake ingest catalog --lake "$work/lake" "$work/src/product_catalog.json" --quiet >/dev/null
  $lake ingest inventory --lake "$work/lake" "$work/src/inventory_updates.csv" --quiet >/dev/null
  $lake ingest orders --lake "$work/lake" "$work/src/orders_stream.jsonl" --quiet >/dev/null
fi

out="$work/serve.out"; : > "$out"
$lake serve --lake "$work/lake" --port 0 --rate-limit 0 >"$out" 2>"$work/serve.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$out" && break; sleep 0.1; done
base=$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$out")
url="$base/api/v1/daily_sales?from=2024-01-15&to=2024-01-15"
curl -sf "$url" >/dev/null   # warm: the first answer of a snapshot is computed, later ones cached

run() {  # prints "requests/s p99"
  wrk -t2 -c16 -d"${seconds}s" --latency "$url" | awk '
    /Requests\/sec/ {rps=$2}
    /^ +99%/ {p=$2}
    END {print rps, p}'
}
alone=$(run)

# Ingests during the second run: batches generated beforehand, with ids outside the big lake's
# range (the generator's id width follows the file's size), each 10 000 orders larger than the
# last (and than any earlier run's) so that every batch is new to the ledger and adds orders.
k=$(find "$work" -maxdepth 1 -name 'more-*' | wc -l)
batches=()
for i in 0 1 2; do
  n=$((50000 + (k + i) * 10000)); src="$work/more-$n"
  $lake generate --out "$src" --orders "$n" --days 30 >/dev/null
  batches+=("$src/orders_stream.jsonl")
done
before=$($lake report snapshots --lake "$work/lake" --format csv | tail -1 | cut -d, -f1)
touch "$work/ingesting"
( for f in "${batches[@]}"; do
    [ -f "$work/ingesting" ] || break
    $lake ingest orders --lake "$work/lake" "$f" --quiet >/dev/null || echo "ingest of $f failed" >&2
  done ) &
ingester=$!
during=$(run)
# The snapshots committed while wrk ran; a batch still running is let finish.
after=$($lake report snapshots --lake "$work/lake" --format csv | tail -1 | cut -d, -f1)
rm -f "$work/ingesting"; wait $ingester

commit=$(git rev-parse --short HEAD)
echo "lake serve, $config build, $orders orders, $(date -u +%Y-%m-%d), commit $commit; wrk -t2 -c16 -d${seconds}s"
printf '%-34s %12s %10s\n' "GET daily_sales one day" "requests/s" "p99"
printf '%-34s %12s %10s\n' "alone" $alone
printf '%-34s %12s %10s\n' "during ingests (snapshots $before->$after)" $during
