#!/usr/bin/env bash
# The test command: installs what it needs, then runs every Swift test (interop tests call the
# venv's DuckDB and pyarrow through LAKE_PYTHON), the Python tests of the debugging bonus, and the
# Airflow DAG's and Prometheus rules' tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# A sudo password prompt comes now, not in the middle of the build's output.
[ "$(id -u)" -eq 0 ] || sudo -v
scripts/setup.sh   # the C libraries the build needs

# Two jobs run in the background, one at a time, each with its output in a log shown once it is
# waited for. On any exit (a failure, Ctrl-C, a CI timeout) the Airflow tests are stopped (their
# process group), the installs are waited for (apt must not be cut off mid-install), and the logs
# not yet shown are shown.
logs=$(mktemp -d)
bg="" bg_stop=""   # the background job's pid; bg_stop set: stop it on an early exit, else wait
show() { if [ -f "$1" ]; then cat "$1"; rm -f "$1"; fi; }
finish() {
  if [ -n "$bg" ]; then
    if [ -n "$bg_stop" ]; then kill -- "-$bg" 2>/dev/null || true; fi
    wait "$bg" 2>/dev/null || true
  fi
  for log in "$logs"/*.log; do show "$log"; done
  rm -rf "$logs"
  if [ -n "${test_tmp:-}" ]; then rm -rf "$test_tmp"; fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# `beside NAME BACKGROUND_NAME LOG COMMAND...`: runs COMMAND while the background job writes LOG,
# waits for the job, shows LOG, and exits naming the first of the two that failed.
beside() {
  local name=$1 bg_name=$2 log=$3 status=0 bg_status=0
  shift 3
  "$@" || status=$?
  wait "$bg" || bg_status=$?
  bg="" bg_stop=""
  show "$log"
  [ "$status" -eq 0 ] || { echo "test.sh: $name failed" >&2; exit "$status"; }
  [ "$bg_status" -eq 0 ] || { echo "test.sh: $bg_name failed" >&2; exit "$bg_status"; }
}

# The tests' environment is set before the build: SwiftPM compiles every package manifest again
# (about 20 s) when `swift test` runs in another environment than the build did.
export LAKE_PYTHON="$PWD/.venv/bin/python"                   # DuckDB 1.5.5: every interop test
export LAKE_PYTHON_DUCKDB14="$PWD/.venv-duckdb14/bin/python"  # DuckDB 1.4.4: 0.3 inputs of the upgrade tests
export LAKE_PYTHON_DUCKDB2="$PWD/.venv-duckdb2/bin/python"    # DuckDB 2.0.1, the newest: a Parquet peer only
export LAKE_SCHEMATHESIS="$PWD/.venv-api/bin/schemathesis"      # schemathesis: the OpenAPI fuzz test of lake serve
# Temporary files go to tmpfs when /dev/shm has room (8 GiB free there and in memory): the tests
# make and remove lakes, catalogs and PostgreSQL clusters by the hundred thousand files, which on
# ext4 cost about 180 CPU-seconds of kernel time (inode allocation) a run, on tmpfs almost none
# (a run's peak there: 0.9 GB). Mode 0755, not mktemp's 0700: the postgres user runs the test
# clusters in directories below it. Only where programs may run (SwiftPM runs the package
# manifests it compiles from $TMPDIR; hardened hosts mount /dev/shm noexec). Removed on exit.
mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] && [ "$(df -k --output=avail /dev/shm | tail -1)" -gt $((8 * 1024 * 1024)) ] \
   && [ "${mem_kb:-0}" -gt $((8 * 1024 * 1024)) ]; then
  test_tmp=$(mktemp -d /dev/shm/lake-tests.XXXXXX)
  chmod 0755 "$test_tmp"
  printf '#!/bin/sh\nexit 0\n' > "$test_tmp/exec-check" && chmod +x "$test_tmp/exec-check"
  if "$test_tmp/exec-check" 2>/dev/null; then
    rm -f "$test_tmp/exec-check"
    export TMPDIR="$test_tmp"
  else
    rm -rf "$test_tmp"
    test_tmp=""
  fi
fi

# The build keeps both cores busy for minutes; the test peers (apt packages and Python venvs: on a
# fresh machine mostly network and disk) install beside it.
(scripts/setup.sh --python && scripts/test-airflow.sh --install-only) > "$logs/peers.log" 2>&1 &
bg=$!
beside "swift build --build-tests" "installing the test peers (scripts/setup.sh --python, scripts/test-airflow.sh --install-only)" \
  "$logs/peers.log" swift build --build-tests

if [ -d Evaluation-Files/tests ]; then
  .venv/bin/python -m pytest -q Evaluation-Files/tests
fi
# The Airflow DAG's and the Prometheus rules' tests (about 2 minutes, mostly Airflow starting up)
# run beside the Swift suite, which leaves a core idle much of its time (tests waiting on
# processes and servers); setsid gives them a process group of their own to stop.
LAKE_BIN="$PWD/.build/debug/lake" setsid scripts/test-airflow.sh > "$logs/airflow.log" 2>&1 &
bg=$! bg_stop=1
# Every test is Swift Testing; --disable-xctest drops XCTest's empty "Executed 0 tests" summary.
# LIBC_FATAL_STDERR_: a heap-corruption abort names itself on stderr, not only on the terminal.
swift_tests() { LIBC_FATAL_STDERR_=1 swift test --skip-build --disable-xctest; }
beside "the Swift tests" "the Airflow/Prometheus tests (scripts/test-airflow.sh)" "$logs/airflow.log" swift_tests
