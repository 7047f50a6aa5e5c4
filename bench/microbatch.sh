#!/usr/bin/env bash
# Micro-batch benchmark: one batch of BATCH orders (default 3,334) ingested by a whole
# `lake ingest orders` process into an empty lake, and the same batch into a lake already
# holding ORDERS orders (default 1,000,000), in the same run, alternated REPS times (default 5)
# on fresh copies of each lake. Prints every time, the medians and the ratio big/empty
# (issue 17's goal: at most 1.5x). The batch's ids are made unique (prefix MB-), so both runs
# accept the same orders and the big lake's dedupe has to prove every id new.
#   bench/microbatch.sh
#   ORDERS=200000 REPS=3 bench/microbatch.sh
# Not a test: figures only; the machine may be shared, so compare within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-1000000}
BATCH=${BATCH:-3334}
REPS=${REPS:-5}

swift build -c release --static-swift-stdlib --product lake 2>&1 | grep -E "error|Build" | tail -2
BIN=$PWD/.build/release/lake

tmp=$(mktemp -d /tmp/lake-bench-microbatch.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$BIN" generate --orders "$ORDERS" --out "$tmp/src" >/dev/null
"$BIN" generate --orders "$BATCH" --seed 7 --out "$tmp/batchsrc" >/dev/null
sed 's/"order_id": "/&MB-/' "$tmp/batchsrc/orders_stream.jsonl" > "$tmp/batch.jsonl"
echo "lake source: $(wc -l < "$tmp/src/orders_stream.jsonl") lines; batch: $(wc -l < "$tmp/batch.jsonl") lines"

"$BIN" ingest catalog --lake "$tmp/empty" "$tmp/src/product_catalog.json" >/dev/null
cp -a "$tmp/empty" "$tmp/big"
t0=$(date +%s.%N)
"$BIN" ingest orders --lake "$tmp/big" --quiet "$tmp/src/orders_stream.jsonl" >/dev/null
echo "built the big lake in $(echo "$(date +%s.%N) - $t0" | bc -l | cut -c1-6) s"

now() { date +%s.%N; }
# One whole process: open, dedupe, validate, write, commit, batch quality hook. Prints the
# wall time and the ingest's own seconds (its summary: base, dedupe set, validate, write,
# commit; without process start and the quality hook that follows the commit).
timed() {
    rm -rf "$tmp/run"; cp -a "$1" "$tmp/run"; sync
    local a b own; a=$(now)
    own=$("$BIN" ingest orders --lake "$tmp/run" --quiet --format json "$tmp/batch.jsonl" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
    b=$(now)
    echo "$(echo "$b - $a" | bc -l) $own"
}
timed "$tmp/empty" >/dev/null; timed "$tmp/big" >/dev/null  # warm the binary and page cache
empty=(); big=(); empty_own=(); big_own=()
for i in $(seq 1 "$REPS"); do
    read -r w o < <(timed "$tmp/empty"); empty+=("$w"); empty_own+=("$o")
    read -r w o < <(timed "$tmp/big"); big+=("$w"); big_own+=("$o")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
me=$(median "${empty[@]}"); mb=$(median "${big[@]}")
oe=$(median "${empty_own[@]}"); ob=$(median "${big_own[@]}")
printf '\n%-36s %s\n' "empty lake, whole process (s)" "$(printf '%.3f ' "${empty[@]}")"
printf '%-36s %s\n' "$ORDERS-order lake, whole process (s)" "$(printf '%.3f ' "${big[@]}")"
printf '%-36s %s\n' "empty lake, ingest's own (s)" "$(printf '%.3f ' "${empty_own[@]}")"
printf '%-36s %s\n' "$ORDERS-order lake, ingest's own (s)" "$(printf '%.3f ' "${big_own[@]}")"
printf 'median whole process: empty %.3f s, big %.3f s, ratio big/empty %.2fx\n' "$me" "$mb" "$(echo "$mb / $me" | bc -l)"
printf 'median ingest own:    empty %.3f s, big %.3f s, ratio big/empty %.2fx\n' "$oe" "$ob" "$(echo "$ob / $oe" | bc -l)"
