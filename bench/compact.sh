#!/usr/bin/env bash
# Compaction benchmark: 1,000,000 generated orders ingested as BATCHES commits (default 30:
# the stream cut into 30 consecutive slices in arrival order, about one day each, so late events
# and day boundaries leave partitions with several files), then `lake compact curated.orders`.
# Prints files before/after, seconds, and the daily-revenue report time before and after and on
# a lake ingested in one batch. In the same run, DuckDB 1.5.5's own DuckLake gets the same
# curated rows in the same batches (same partitioning) and runs ducklake_merge_adjacent_files.
# Usage: bench/compact.sh [ORDERS] [BATCHES]     (not a test: it prints figures)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python >/dev/null
orders="${1:-1000000}"
batches="${2:-30}"
swift build -c release --static-swift-stdlib --product lake >/dev/null
lake=$PWD/.build/release/lake
work="$PWD/bench-out/compact-$orders-$batches"
rm -rf "$work"; mkdir -p "$work/split"
$lake generate --out "$work/src" --orders "$orders" --days 30 >/dev/null
# Consecutive slices of the stream (arrival order), one file per batch.
python3 - "$work/src/orders_stream.jsonl" "$work/split" "$batches" <<'PY'
import sys
src, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src, "rb").readlines()
per = (len(lines) + n - 1) // n
for k in range(n):
    with open(f"{out}/batch{k:04d}.jsonl", "wb") as f:
        f.writelines(lines[k * per:(k + 1) * per])
PY
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
best() {  # best of 3 wall-clock runs, seconds
  local b=999
  for _ in 1 2 3; do
    local s=$(date +%s.%N); "$@" >/dev/null; local e=$(date +%s.%N)
    b=$(python3 -c "print(min($b, $e - $s))")
  done
  echo "$b"
}
A="$work/lakeA"; B="$work/lakeB"
$lake ingest catalog --lake "$A" "$work/src/product_catalog.json" --quiet >/dev/null
s=$(date +%s.%N)
for f in "$work"/split/batch*.jsonl; do $lake ingest orders --lake "$A" "$f" --quiet >/dev/null; done
e=$(date +%s.%N); ingestA=$(secs $s $e)
$lake ingest catalog --lake "$B" "$work/src/product_catalog.json" --quiet >/dev/null
$lake ingest orders --lake "$B" "$work/src/orders_stream.jsonl" --quiet >/dev/null

countfiles() { sqlite3 "$1/manifest.sqlite" "SELECT count(*) FROM ducklake_data_file f JOIN ducklake_table t USING (table_id) WHERE t.table_name='orders' AND t.end_snapshot IS NULL AND f.end_snapshot IS NULL AND t.schema_id=(SELECT schema_id FROM ducklake_schema WHERE schema_name='curated' AND end_snapshot IS NULL)" 2>/dev/null \
  || .venv/bin/python -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"SELECT count(*) FROM ducklake_data_file f JOIN ducklake_table t USING (table_id) JOIN ducklake_schema s USING (schema_id) WHERE t.table_name='orders' AND s.schema_name='curated' AND t.end_snapshot IS NULL AND f.end_snapshot IS NULL\").fetchone()[0])" "$1/manifest.sqlite"; }
filesBefore=$(countfiles "$A")
reportBefore=$(best $lake report daily-revenue --lake "$A" --format csv)
reportOne=$(best $lake report daily-revenue --lake "$B" --format csv)
$lake report daily-revenue --lake "$A" --format csv > "$work/report-before.csv"
s=$(date +%s.%N)
$lake compact curated.orders --lake "$A" > "$work/compact.txt"
e=$(date +%s.%N); compactS=$(secs $s $e)
filesAfter=$(countfiles "$A")
reportAfter=$(best $lake report daily-revenue --lake "$A" --format csv)
$lake report daily-revenue --lake "$A" --format csv > "$work/report-after.csv"
cmp -s "$work/report-before.csv" "$work/report-after.csv" && same=identical || same=DIFFERENT
s=$(date +%s.%N)
$lake compact --lake "$A" > "$work/compact-all.txt"
e=$(date +%s.%N); compactAll=$(secs $s $e)

.venv/bin/python - "$A" "$work" "$batches" "$work/src/orders_stream.jsonl" <<PY
import duckdb, glob, json, sys, time, os, shutil
import duckdb_extension_ducklake, duckdb_extension_sqlite_scanner
root, work, n, src = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
con = duckdb.connect(config={"allow_unsigned_extensions": "true", "threads": 2})
# DuckDB 1.5's extension packages hold the files under extensions/v<version>/ (loaded by path, offline).
for m, name in ((duckdb_extension_sqlite_scanner, "sqlite_scanner"), (duckdb_extension_ducklake, "ducklake")):
    con.execute("LOAD '" + os.path.join(os.path.dirname(m.__file__), "extensions", "v" + duckdb.__version__, name + ".duckdb_extension") + "'")
# The same batches: each curated order belongs to the slice its first line was in.
lines = open(src, "rb").readlines()
per = (len(lines) + n - 1) // n
first = {}
for i, line in enumerate(lines):
    try: oid = json.loads(line)["order_id"]
    except Exception: continue
    if isinstance(oid, str): first.setdefault(oid, i // per)
import pandas as pd
con.register("chunkmap", pd.DataFrame({"order_id": list(first.keys()), "batch": list(first.values())}))
con.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
# Our lake at the snapshot before compaction (the last ingest).
snap = con.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l') WHERE commit_message LIKE 'ingest orders%'").fetchone()[0]
con.execute(f"CREATE TEMP TABLE curated AS SELECT o.*, m.batch FROM (SELECT * FROM l.curated.orders AT (VERSION => {snap})) o JOIN chunkmap m USING (order_id)")
d = f"{work}/duck"
shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
con.execute(f"ATTACH 'ducklake:sqlite:{d}/meta.sqlite' AS dl (DATA_PATH '{d}/data/', DATA_INLINING_ROW_LIMIT 0)")
con.execute("CREATE TABLE dl.orders AS SELECT * EXCLUDE (batch) FROM curated LIMIT 0")
con.execute("ALTER TABLE dl.orders SET PARTITIONED BY (event_date, channel)")
t = time.perf_counter()
for k in range(n):
    con.execute(f"INSERT INTO dl.orders SELECT * EXCLUDE (batch) FROM curated WHERE batch = {k}")
ins = time.perf_counter() - t
def files():
    return con.execute("SELECT count(*) FROM ducklake_list_files('dl', 'orders')").fetchone()[0]
fb = files()
t = time.perf_counter()
con.execute("CALL ducklake_merge_adjacent_files('dl')")
merge = time.perf_counter() - t
fa = files()
rows_ours = con.execute("SELECT count(*), sum(order_total) FROM l.curated.orders").fetchone()
rows_duck = con.execute("SELECT count(*), sum(order_total) FROM dl.orders").fetchone()
ours = float("$compactS")
print(f"orders {len(lines)} lines, {n} batches; curated.orders rows ours {rows_ours[0]} duckdb {rows_duck[0]} (sums {rows_ours[1]} / {rows_duck[1]})")
print(f"lake ingest of {n} batches: $ingestA s   duckdb inserts of the same curated rows: {ins:.3f} s")
print(f"{'':34}{'files before':>13}{'files after':>12}{'seconds':>9}")
print(f"{'lake compact curated.orders':34}{'$filesBefore':>13}{'$filesAfter':>12}{ours:9.3f}")
print(f"{'ducklake_merge_adjacent_files':34}{fb:>13}{fa:>12}{merge:9.3f}")
print(f"ratio lake/duckdb: {ours / merge:.2f}x   goal <= 1.0x")
print(f"lake compact (all tables, after): $compactAll s")
print(f"daily-revenue: before $reportBefore s, after $reportAfter s, one-batch lake $reportOne s; after/one-batch {float('$reportAfter') / float('$reportOne'):.2f}x (goal <= 1.2x); report before/after: $same")
PY
