#!/usr/bin/env bash
# The Airflow and Prometheus tests (issue 21): installs promtool (Debian's prometheus package) and
# the venv .venv-airflow (Apache Airflow 3 and pytest, pinned in scripts/requirements-airflow.txt)
# when missing, then runs tests/airflow with the lake binary $LAKE_BIN (default .build/debug/lake,
# built by `swift build` in scripts/test.sh; built here only when missing). Every Airflow run uses
# a temporary AIRFLOW_HOME with an SQLite metadata database. Ends with pytest's summary line and
# exits non-zero when a test fails. With --install-only it installs promtool and the venv and stops
# (scripts/test.sh runs that beside the Swift build).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null 2>&1; then
  echo "test-airflow: installing promtool (apt package prometheus)" >&2
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >&2
  # The package starts a Prometheus service where systemd runs; the tests need only promtool.
fi

VENV=.venv-airflow
REQ=scripts/requirements-airflow.txt
STAMP="$VENV/.requirements.sha256"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/airflow" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "test-airflow: installing $VENV from $REQ (about 70 s)" >&2
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ" >&2
  echo "$want" > "$STAMP"
fi

[ "${1:-}" = "--install-only" ] && exit 0

export LAKE_BIN="${LAKE_BIN:-$PWD/.build/debug/lake}"
if [ ! -x "$LAKE_BIN" ]; then
  echo "test-airflow: building $LAKE_BIN" >&2
  swift build --product lake >&2
fi

# Nothing of the caller's Airflow setup leaks in: each test run makes its own AIRFLOW_HOME.
unset AIRFLOW_HOME AIRFLOW__CORE__DAGS_FOLDER
export AIRFLOW__CORE__LOAD_EXAMPLES=False PYTHONDONTWRITEBYTECODE=1
# A migrated empty metadata DB, copied for every run; kept per pinned requirements.
export AIRFLOW_TEMPLATE_DB_DIR="$PWD/$VENV/airflow-db-template-${want:0:12}"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/airflow "$@"
