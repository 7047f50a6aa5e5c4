#!/usr/bin/env bash
# Runs the seed's broken_pipeline_code.py exactly as shipped on one input file. The script
# hard-codes 'orders_stream.jsonl' and 'processed_orders.json' relative to the working
# directory, so we copy the input into a scratch directory under that name and run it there.
# Usage: Evaluation-Files/tests/run_broken.sh FIXTURE.jsonl   (from the repo root)
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="${PYTHON:-$root/.venv/bin/python}"
input="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cp "$input" "$scratch/orders_stream.jsonl"
cd "$scratch"
"$py" "$root/Evaluation-Files/broken_pipeline_code.py" 2>&1
rc=$?
echo "[exit status $rc]"
if [ -e processed_orders.json ]; then
  echo "[processed_orders.json left behind: $(wc -c < processed_orders.json) bytes]"
fi
