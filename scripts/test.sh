#!/usr/bin/env bash
# The test command: installs what it needs, then runs every Swift test (interop tests call the
# venv's DuckDB and pyarrow through LAKE_PYTHON) and the Python tests of the debugging bonus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python
export LAKE_PYTHON="$PWD/.venv/bin/python"
export LAKE_SCHEMATHESIS="$PWD/.venv-api/bin/schemathesis"
if [ -d Evaluation-Files/tests ]; then
  .venv/bin/python -m pytest -q Evaluation-Files/tests
fi
swift build --build-tests
swift test --skip-build
