#!/usr/bin/env bash
# Ingest benchmark: `lake ingest catalog` + `lake ingest orders` of a generated orders file into
# an empty lake (release build), next to DuckDB 1.4.4 (threads=2) flattening the same file with
# COPY ... TO parquet PARTITION_BY (date, channel), in the same run on the same machine.
# Prints both times, the ratio ours/DuckDB, files and bytes written by each, and our peak RSS.
#   bench/ingest.sh            # 1,000,000 orders
#   ORDERS=200000 bench/ingest.sh
# Not a test: figures only. Note what each side does: lake parses, validates every line,
# dedupes, writes three tables (raw.orders with every line, curated.orders, curated.order_items)
# and commits a catalog snapshot; DuckDB parses and writes one flattened item table, no checks.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-1000000}
PY=${LAKE_PYTHON:-$PWD/.venv/bin/python}

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null; else sudo apt-get install -y -qq time >/dev/null; fi
fi
swift build -c release --product lake 2>&1 | grep -E "error|Compiling|Build" | tail -3
BIN=$PWD/.build/release/lake

tmp=$(mktemp -d /tmp/lake-bench-ingest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$BIN" generate --orders "$ORDERS" --out "$tmp/src" | head -3
SRC=$tmp/src/orders_stream.jsonl
echo "source: $(stat -c %s "$SRC") bytes, $(wc -l < "$SRC") lines"

now() { date +%s.%N; }
# Warm the page cache for both sides alike.
cat "$SRC" > /dev/null

t0=$(now)
/usr/bin/time -v -o "$tmp/time-catalog.txt" "$BIN" ingest catalog --lake "$tmp/lake" "$tmp/src/product_catalog.json" >/dev/null
/usr/bin/time -v -o "$tmp/time-orders.txt" "$BIN" ingest orders --lake "$tmp/lake" --quiet "$SRC"
t1=$(now)
ours=$(echo "$t1 - $t0" | bc -l)
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time-orders.txt")
our_files=$(find "$tmp/lake" -name '*.parquet' | wc -l)
our_bytes=$(find "$tmp/lake" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s+0}')

duck=$("$PY" - "$SRC" "$tmp/duck" <<'PYEOF'
import duckdb, sys, time
src, out = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET threads=2")
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
print(time.time() - t)
PYEOF
)
duck_files=$(find "$tmp/duck" -name '*.parquet' | wc -l)
duck_bytes=$(find "$tmp/duck" -name '*.parquet' -printf '%s\n' | awk '{s+=$1} END {print s+0}')

printf '\n%-28s %12s %12s\n' "" "lake" "duckdb"
printf '%-28s %12.2f %12.2f\n' "seconds" "$ours" "$duck"
printf '%-28s %12d %12d\n' "parquet files" "$our_files" "$duck_files"
printf '%-28s %12d %12d\n' "parquet bytes" "$our_bytes" "$duck_bytes"
printf '%-28s %12.1f\n' "peak RSS (MB), ingest orders" "$(echo "$rss_kb / 1024" | bc -l)"
printf 'ratio lake/duckdb: %.2fx\n' "$(echo "$ours / $duck" | bc -l)"
