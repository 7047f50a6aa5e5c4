#!/usr/bin/env bash
# The test command: installs what it needs, then runs every Swift test (interop tests call the
# venv's DuckDB and pyarrow through LAKE_PYTHON), the Python tests of the debugging bonus, and the
# Airflow DAG's and Prometheus rules' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python
export LAKE_PYTHON="$PWD/.venv/bin/python"                   # DuckDB 1.5.5: every interop test
export LAKE_PYTHON_DUCKDB14="$PWD/.venv-duckdb14/bin/python"  # DuckDB 1.4.4: 0.3 inputs of the upgrade tests
export LAKE_PYTHON_DUCKDB2="$PWD/.venv-duckdb2/bin/python"    # DuckDB 2.0.1, the newest: a Parquet peer only
export LAKE_SCHEMATHESIS="$PWD/.venv-api/bin/schemathesis"      # schemathesis: the OpenAPI fuzz test of lake serve
if [ -d Evaluation-Files/tests ]; then
  .venv/bin/python -m pytest -q Evaluation-Files/tests
fi
swift build --build-tests
# Every test is Swift Testing; --disable-xctest drops XCTest's empty "Executed 0 tests" summary.
swift test --skip-build --disable-xctest
# The Airflow DAG and the Prometheus rules (installs promtool and .venv-airflow when missing).
LAKE_BIN="$PWD/.build/debug/lake" scripts/test-airflow.sh
