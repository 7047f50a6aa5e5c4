#!/usr/bin/env bash
# Installs what a fresh machine lacks: the C libraries the package links, and (with --python)
# the Python venv whose real DuckDB, DuckLake and pyarrow check our files in the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in libzstd-dev libsqlite3-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  $SUDO apt-get install -y "${need[@]}"
fi

if [ "${1:-}" = "--python" ]; then
  if ! .venv/bin/python -c 'import duckdb, pyarrow, pandas, pytest' >/dev/null 2>&1; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
  fi
fi

# --- lake serve's API tests (issue 19): headless Chromium for the dashboard test, and
# schemathesis in its own venv (.venv-api, passed to the tests as LAKE_SCHEMATHESIS) so its
# dependencies never meet the interop peers' pins in .venv.
if [ "${1:-}" = "--python" ] || [ "${1:-}" = "--api-tests" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    $SUDO apt-get install -y chromium
  fi
  if ! .venv-api/bin/schemathesis --version >/dev/null 2>&1; then
    python3 -m venv .venv-api
    .venv-api/bin/pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
  fi
fi
