#!/usr/bin/env bash
# How long the daily pipeline takes under Airflow: `airflow dags test lake_pipeline DATE` on a
# landing folder holding one day's files (default: 1,000,000 generated orders), into an empty
# lake, with the release build of lake; next to `lake run` of the same files in the same run
# (the same work without the orchestrator). Prints both wall times and the per-task durations
# Airflow recorded. Not a test: figures only (the machine may be shared; see the load average).
#   bench/airflow-daily.sh
#   SRC_DIR=/tmp/gen-1m bench/airflow-daily.sh     # reuse a folder from `lake generate --out`
#   ORDERS=200000 bench/airflow-daily.sh
# Needs .venv-airflow (scripts/test-airflow.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-1000000}
DATE=${DATE:-2024-03-10}
AIRFLOW=$PWD/.venv-airflow/bin/airflow
[ -x "$AIRFLOW" ] || { echo "no $AIRFLOW: run scripts/test-airflow.sh once to install Airflow" >&2; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || swift build -c release --static-swift-stdlib --product lake 2>&1 | grep -E "error|Build" | tail -2
BIN=${LAKE_BIN:-$PWD/.build/release/lake}

tmp=$(mktemp -d /tmp/lake-bench-airflow.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/landing/$DATE"
if [ -n "${SRC_DIR:-}" ]; then src=$(cd "$SRC_DIR" && pwd); else "$BIN" generate --orders "$ORDERS" --out "$tmp/src" | head -1; src=$tmp/src; fi
# Copied, not linked: the DAG's reports SLA counts from the files' arrival (their mtime).
for f in product_catalog.json inventory_updates.csv orders_stream.jsonl; do cp "$src/$f" "$tmp/landing/$DATE/$f"; done
echo "orders file: $(stat -L -c %s "$src/orders_stream.jsonl") bytes, $(wc -l < "$src/orders_stream.jsonl") lines"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)  airflow: $("$AIRFLOW" version 2>/dev/null | tail -1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

export AIRFLOW_HOME=$tmp/airflow AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$tmp/airflow/airflow.db
mkdir -p "$AIRFLOW_HOME"
"$AIRFLOW" db migrate > "$tmp/migrate.log" 2>&1 || { tail -20 "$tmp/migrate.log"; exit 1; }

cat "$src/orders_stream.jsonl" > /dev/null   # both sides start from a warm page cache
start=$(date +%s.%N)
LAKE_BIN=$BIN LAKE_DIR=$tmp/lake LAKE_LANDING=$tmp/landing LAKE_SETTLE_SECONDS=0 LAKE_SENSOR_POKE_SECONDS=1 \
    "$AIRFLOW" dags test lake_pipeline "$DATE" > "$tmp/dag.log" 2>&1 && outcome=succeeded || outcome=failed
dag=$(echo "$(date +%s.%N) - $start" | bc)
sqlite3 "$tmp/airflow/airflow.db" \
    "SELECT task_id, state, printf('%.1f s', duration) FROM task_instance WHERE dag_id = 'lake_pipeline' ORDER BY start_date" 2>/dev/null \
    | sed 's/^/  task /' || true
# A failed task's own words (e.g. the quality gate's alerts), from the run's log.
[ "$outcome" = succeeded ] || grep -E "ALERT|failed \(|Error" "$tmp/dag.log" | grep -v "^.*DagRun" | head -8 | cut -c1-300

start=$(date +%s.%N)
"$BIN" run --input "$tmp/landing/$DATE" --lake "$tmp/lake-run" > "$tmp/run.log" 2>&1
plain=$(echo "$(date +%s.%N) - $start" | bc)
printf 'airflow dags test lake_pipeline %s (%s): %.1f s   lake run of the same files: %.1f s   (load average after: %s)\n' \
    "$DATE" "$outcome" "$dag" "$plain" "$(cut -d' ' -f1-3 /proc/loadavg)"
