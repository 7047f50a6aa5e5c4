#!/usr/bin/env bash
# Ingest benchmark: `lake run` (catalog + inventory + orders + the batch quality hook + the
# headline reports) of a generated folder into an empty lake (release build), next to DuckDB
# (threads=2) flattening the same orders file with COPY ... TO parquet PARTITION_BY (date,
# channel), in the same run on the same machine, then `lake quality check` on the lake built.
# The peer is the newest DuckDB (2.0.1, .venv-duckdb2) and, as before, 1.5.5 (.venv, the
# version the DuckLake tests pin): the same COPY with each. Not quite the same work: with
# ignore_errors, 1.5.5 also drops the valid line after a truncated one, which 2.0.1 keeps
# (200,000 generated orders: 424,749 item rows from 1.5.5, 424,933 from 2.0.1).
# Prints the times, the ratio ours/each DuckDB, files and bytes written by each, our peak RSS, the
# date, the commit and the load average (the machine may be shared: compare ratios, not seconds),
# and the CPU-seconds (user + system) of each side, which a shared machine moves less than wall time.
#   bench/ingest.sh                          # 1,000,000 orders
#   ORDERS=3000000 bench/ingest.sh
#   BASE=/path/to/other/lake bench/ingest.sh # also time another build of lake in the same run
#   SRC_DIR=/tmp/gen-3m bench/ingest.sh       # reuse a generated folder
#   ROUNDS=5 bench/ingest.sh                 # 5 rounds, sides alternated within each: medians, and
#                                            # the median of the rounds' own ratios (a busy machine)
#   LAKE_PYTHON=/work/wt/dl10/.venv/bin/python bench/ingest.sh   # the Python with duckdb 1.5.5
#   LAKE_PYTHON_DUCKDB2=/path/.venv-duckdb2/bin/python bench/ingest.sh   # ... with the newest duckdb
# Not a test: figures only. Note what each side does: lake parses, validates every line,
# dedupes, writes three tables (raw.orders with every line, curated.orders, curated.order_items),
# computes the batch's quality figures and commits a catalog snapshot; DuckDB parses and writes
# one flattened item table, no checks.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-1000000}
PY=${LAKE_PYTHON:-$PWD/.venv/bin/python}
PY2=${LAKE_PYTHON_DUCKDB2:-$PWD/.venv-duckdb2/bin/python}
for py in "$PY" "$PY2"; do
    [ -x "$py" ] || { echo "no Python at $py: run scripts/setup.sh --python (or set LAKE_PYTHON / LAKE_PYTHON_DUCKDB2)" >&2; exit 1; }
done
V1=$("$PY" -c 'import duckdb; print(duckdb.__version__)')
V2=$("$PY2" -c 'import duckdb; print(duckdb.__version__)')

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null; else sudo apt-get install -y -qq time >/dev/null; fi
fi
[ -n "${SKIP_BUILD:-}" ] || swift build -c release --static-swift-stdlib --product lake 2>&1 | grep -E "error|Compiling|Build" | tail -3
BIN=$PWD/.build/release/lake

tmp=$(mktemp -d /tmp/lake-bench-ingest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# SRC_DIR: a folder generated before (`lake generate --orders N --out DIR`), reused as is.
if [ -n "${SRC_DIR:-}" ]; then ln -s "$(cd "$SRC_DIR" && pwd)" "$tmp/src"; else "$BIN" generate --orders "$ORDERS" --out "$tmp/src" | head -3; fi
SRC=$tmp/src/orders_stream.jsonl
echo "source: $(stat -c %s "$SRC") bytes, $(wc -l < "$SRC") lines"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources || echo '+dirty')  duckdb: $V1 and $V2"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
# Warm the page cache for both sides alike.
cat "$SRC" > /dev/null

# One lake build: `lake run` timed whole-process, then `lake quality check` on its lake.
lake_side() {  # $1 binary, $2 label
    local t0 t1 t2
    t0=$(now)
    /usr/bin/time -v -o "$tmp/time-run-$2.txt" "$1" run --lake "$tmp/lake-$2" --input "$tmp/src" --quiet >/dev/null
    t1=$(now)
    /usr/bin/time -v -o "$tmp/time-check-$2.txt" "$1" quality check --lake "$tmp/lake-$2" >/dev/null || true
    t2=$(now)
    echo "$(echo "$t1 - $t0" | bc -l) $(echo "$t2 - $t1" | bc -l) $(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time-run-$2.txt") $(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time-check-$2.txt") $(awk -F': ' '/Percent of CPU/ {print $2}' "$tmp/time-run-$2.txt") $(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$tmp/time-run-$2.txt")"
}

duck_side() {  # $1 the Python with duckdb, $2 the output directory
"$1" - "$SRC" "$2" <<'PYEOF'
import duckdb, resource, sys, time
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET threads=2")
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
c = cpu()
t = time.time()
# Explicit columns: the stream has schema variants and malformed lines (skipped by ignore_errors).
con.execute(f"""
COPY (
  SELECT o.order_id, o.customer_id, o.channel, o.status, o.shipping_address.country AS country,
         o.shipping_address.state AS state, o.shipping_address.city AS city,
         try_cast(o.timestamp AS TIMESTAMPTZ) AS event_time,
         CAST(timezone('UTC', try_cast(o.timestamp AS TIMESTAMPTZ)) AS DATE) AS date,
         unnest(o.items, recursive := true)
  FROM read_json('{src}', format = 'newline_delimited', ignore_errors = true, columns = {{
        order_id: 'VARCHAR', customer_id: 'VARCHAR', timestamp: 'VARCHAR', channel: 'VARCHAR',
        items: 'STRUCT(product_id VARCHAR, quantity BIGINT, unit_price DECIMAL(18,2))[]',
        shipping_address: 'STRUCT(country VARCHAR, state VARCHAR, city VARCHAR)', status: 'VARCHAR'}}) o
) TO '{out}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, channel))
""")
print(time.time() - t, cpu() - c)
PYEOF
}

# Each round runs every side once, one after the other, into fresh output; with ROUNDS > 1 the
# table shows medians (file counts and bytes are the last round's). Nothing is deleted until the
# script exits: for about a minute after many files are deleted, ext4 makes creating files slow
# (its inode allocator skips inodes freed moments ago, checking each one; measured here: 500
# directories with a file each took 0.53 CPU-s right after deleting a few lakes, 0.03 s on a
# quiet file system), which charged whoever ran first after the deletion (lake, ~800 inodes a
# run) for the last round's cleanup. A run started within a minute of another's exit pays for
# that one's cleanup in its first round.
ROUNDS=${ROUNDS:-1}
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
r_ours=""; r_check=""; r_rss=""; r_crss=""; r_duck=""; r_duck2=""; r_ratio=""; r_bours=""
r_ucpu=""; r_dcpu=""; r_d2cpu=""; r_bcpu=""
for round in $(seq "$ROUNDS"); do
    read -r ours check rss_kb check_rss_kb cpu ucpu <<<"$(lake_side "$BIN" "new-$round")"
    read -r duck dcpu <<<"$(duck_side "$PY" "$tmp/duck-$round")"
    read -r duck2 d2cpu <<<"$(duck_side "$PY2" "$tmp/duck2-$round")"
    if [ -n "${BASE:-}" ]; then read -r bours bcheck brss bcrss bcpu bucpu <<<"$(lake_side "$BASE" "base-$round")"; r_bours+=" $bours"; r_bcpu+=" $bucpu"; fi
    r_ours+=" $ours"; r_check+=" $check"; r_rss+=" $rss_kb"; r_crss+=" $check_rss_kb"; r_duck+=" $duck"; r_duck2+=" $duck2"
    r_ucpu+=" $ucpu"; r_dcpu+=" $dcpu"; r_d2cpu+=" $d2cpu"
    r_ratio+=" $(echo "$ours / $duck2" | bc -l)"
    if [ "$ROUNDS" -gt 1 ]; then
        printf 'round %d: lake %.2f s, duckdb %s %.2f s, duckdb %s %.2f s, lake/duckdb %s %.2fx%s\n' "$round" "$ours" "$V1" "$duck" "$V2" "$duck2" "$V2" \
            "$(echo "$ours / $duck2" | bc -l)" "${bours:+, BASE $(printf '%.2f' "$bours") s}"
    fi
done
if [ "$ROUNDS" -gt 1 ]; then
    ours=$(median <<<"$r_ours"); check=$(median <<<"$r_check"); rss_kb=$(median <<<"$r_rss"); check_rss_kb=$(median <<<"$r_crss")
    duck=$(median <<<"$r_duck"); duck2=$(median <<<"$r_duck2")
    ucpu=$(median <<<"$r_ucpu"); dcpu=$(median <<<"$r_dcpu"); d2cpu=$(median <<<"$r_d2cpu")
    [ -z "${BASE:-}" ] || { bours=$(median <<<"$r_bours"); bucpu=$(median <<<"$r_bcpu"); }
    echo "medians of $ROUNDS rounds below; median of the rounds' own lake/duckdb $V2 ratios: $(printf '%.2f' "$(median <<<"$r_ratio")")x"
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
last=$ROUNDS
our_files=$(find "$tmp/lake-new-$last" -name '*.parquet' | wc -l)
our_bytes=$(find "$tmp/lake-new-$last" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s+0}')
files() { find "$1" -name '*.parquet' | wc -l; }
bytes() { find "$1" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s+0}'; }

printf '\n%-32s %12s %14s %14s %12s\n' "" "lake" "duckdb $V1" "duckdb $V2" "${BASE:+lake (BASE)}"
printf '%-32s %12.2f %14.2f %14.2f %12s\n' "seconds (lake run | COPY)" "$ours" "$duck" "$duck2" "${bours:-}"
printf '%-32s %12.2f %14s %14s %12s\n' "seconds, lake quality check" "$check" "" "" "${bcheck:-}"
printf '%-32s %12d %14d %14d\n' "parquet files" "$our_files" "$(files "$tmp/duck-$last")" "$(files "$tmp/duck2-$last")"
printf '%-32s %12d %14d %14d\n' "parquet bytes" "$our_bytes" "$(bytes "$tmp/duck-$last")" "$(bytes "$tmp/duck2-$last")"
printf '%-32s %12.1f %14s %14s %12s\n' "peak RSS (MB), lake run" "$(echo "$rss_kb / 1024" | bc -l)" "" "" "${brss:+$(echo "$brss / 1024" | bc)}"
printf '%-32s %12.1f %14s %14s %12s\n' "peak RSS (MB), quality check" "$(echo "$check_rss_kb / 1024" | bc -l)" "" "" "${bcrss:+$(echo "$bcrss / 1024" | bc)}"
printf '%-32s %12s %14s %14s %12s\n' "CPU, lake run" "$cpu" "" "" "${bcpu:-}"
# CPU-seconds (user + system) of the whole lake process, and of DuckDB's COPY (getrusage of the
# Python process around it): on a shared machine these move less than wall time.
printf '%-32s %12.2f %14.2f %14.2f %12s\n' "CPU-seconds (user+system)" "$ucpu" "$dcpu" "$d2cpu" "${bucpu:-}"
printf 'ratio lake/duckdb %s: %.2fx   lake/duckdb %s: %.2fx   (duckdb %s/%s: %.2fx)\n' \
    "$V2" "$(echo "$ours / $duck2" | bc -l)" "$V1" "$(echo "$ours / $duck" | bc -l)" "$V2" "$V1" "$(echo "$duck2 / $duck" | bc -l)"
printf 'CPU-seconds ratio lake/duckdb %s: %.2fx\n' "$V2" "$(echo "$ucpu / $d2cpu" | bc -l)"
if [ -n "${BASE:-}" ]; then printf 'ratio BASE/duckdb %s: %.2fx   BASE/duckdb %s: %.2fx; this build vs BASE: %.2fx (run), %.2fx (quality check)\n' \
    "$V2" "$(echo "$bours / $duck2" | bc -l)" "$V1" "$(echo "$bours / $duck" | bc -l)" "$(echo "$ours / $bours" | bc -l)" "$(echo "$check / $bcheck" | bc -l)"; fi
