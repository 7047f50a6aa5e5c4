#!/usr/bin/env bash
# Parquet write/read benchmark: ours vs pyarrow on identical data, zstd level 3, one run.
# Usage: bench/format.sh [ROWS]   (default 2,500,000 order-item rows, 13 columns)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python
rows="${1:-2500000}"
swift build -c release --product LakeBench >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
ours=$(.build/release/LakeBench "$rows" "$out/ours.parquet")
.venv/bin/python - "$out" "$ours" <<'PY'
import json, os, sys, time
import pyarrow.parquet as pq
out, ours = sys.argv[1], json.loads(sys.argv[2])
table = pq.read_table(f"{out}/ours.parquet")  # the identical data, untimed
t = time.perf_counter(); pq.write_table(table, f"{out}/arrow.parquet", compression="zstd", compression_level=3); w = time.perf_counter() - t
t = time.perf_counter(); back = pq.read_table(f"{out}/arrow.parquet"); r = time.perf_counter() - t
assert back.num_rows == ours["rows"]
size = os.path.getsize(f"{out}/arrow.parquet")
raw_mb = table.nbytes / 1e6
rows = ours["rows"]
print(f"rows: {rows:,}  columns: {table.num_columns}  in-memory size: {raw_mb:.0f} MB")
print(f"{'':10}{'write s':>10}{'rows/s':>14}{'MB/s':>9}{'read s':>10}{'rows/s':>14}{'MB/s':>9}{'file MB':>10}")
for name, ws, rs, b in (("lake", ours["write_s"], ours["read_s"], ours["bytes"]), ("pyarrow", w, r, size)):
    print(f"{name:10}{ws:10.3f}{rows/ws:14,.0f}{raw_mb/ws:9.0f}{rs:10.3f}{rows/rs:14,.0f}{raw_mb/rs:9.0f}{b/1e6:10.2f}")
print(f"ratio lake/pyarrow: write {ours['write_s']/w:.2f}x  read {ours['read_s']/r:.2f}x  size {ours['bytes']/size:.2f}x"
      f"   (goals: <= 1.5x, <= 1.5x, <= 1.1x)")
PY
