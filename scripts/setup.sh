#!/usr/bin/env bash
# Installs what a fresh machine lacks: the C libraries the package links, and (with --python)
# the Python venvs whose real DuckDB, DuckLake and pyarrow check our files in the tests:
# .venv (DuckDB 1.5.5, DuckLake 1.0, pyarrow, pandas, pytest), .venv-duckdb14 (DuckDB 1.4.4,
# DuckLake 0.3: it makes the old catalogs the `lake upgrade` tests migrate) and .venv-duckdb2
# (DuckDB 2.0.1, the newest: a Parquet peer only, as no DuckLake extension package exists for it).
set -euo pipefail
cd "$(dirname "$0")/.."

# What `lake` links: libzstd, libsqlite3, zlib and libbrotli (reading GZIP and BROTLI pages
# another engine wrote); what it builds against and loads when needed: libpq (the PostgreSQL
# catalog's client, CLibPQ) and libcurl (the alert webhook, CWebhook).
# The tests (--python) also need the PostgreSQL server (PostgresCluster starts throwaway clusters)
# and strace (StorageLakeTests reads the system calls that make a data file durable).
pkgs=(libzstd-dev libsqlite3-dev libpq-dev zlib1g-dev libbrotli-dev libcurl4-openssl-dev)
[ "${1:-}" = "--python" ] && pkgs+=(postgresql strace)
need=()
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi

if [ "${1:-}" = "--python" ]; then
  # Reinstalled when the pinned DuckDB or one of its extension packages is missing, so an old
  # .venv with DuckDB 1.4.4 moves to 1.5.5.
  if ! .venv/bin/python -c 'import duckdb, duckdb_extension_ducklake, duckdb_extension_sqlite_scanner, duckdb_extension_postgres_scanner, pyarrow, pandas, pytz, pytest; assert duckdb.__version__ == "1.5.5"' >/dev/null 2>&1; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt
  fi
  if ! .venv-duckdb14/bin/python -c 'import duckdb, duckdb_ext; assert duckdb.__version__ == "1.4.4"' >/dev/null 2>&1; then
    python3 -m venv .venv-duckdb14
    .venv-duckdb14/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-duckdb14.txt
  fi
  if ! .venv-duckdb2/bin/python -c 'import duckdb, pyarrow; assert duckdb.__version__ == "2.0.1"' >/dev/null 2>&1; then
    python3 -m venv .venv-duckdb2
    .venv-duckdb2/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-duckdb2.txt
  fi
fi

# --- lake serve's API tests (issue 19): headless Chromium for the dashboard test, and
# schemathesis in its own venv (.venv-api, passed to the tests as LAKE_SCHEMATHESIS) so its
# dependencies never meet the interop peers' pins in .venv.
if [ "${1:-}" = "--python" ] || [ "${1:-}" = "--api-tests" ]; then
  if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
  fi
  if ! .venv-api/bin/schemathesis --version >/dev/null 2>&1; then
    python3 -m venv .venv-api
    .venv-api/bin/pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5'
  fi
fi
