#!/usr/bin/env bash
# Runs the Swift tests (all, or those a --filter pattern names) up to N times under glibc's
# malloc checking, stopping at the first run that aborts in the allocator; that run's output and
# core dump are kept for gdb. How the test process's heap corruption of sessions 34-36 was caught
# (DESIGN.md, "A defect found"). Build the tests first: swift build --build-tests.
#
#   scripts/malloc-check.sh [--filter PATTERN] [--runs N] [--out DIR]
#   scripts/malloc-check.sh --filter 'FollowedFileRestartTests|IngestParallelTests' --runs 15
#   gdb .build/debug/lakePackageTests.xctest DIR/core    # then: bt, thread apply all bt
set -euo pipefail
cd "$(dirname "$0")/.."
filter="" runs=1 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --filter) filter=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "malloc-check.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done
debug=/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0
[ -f "$debug" ] || { echo "malloc-check.sh: $debug not found (glibc 2.34 or later, libc6)" >&2; exit 1; }
out=${out:-$(mktemp -d /tmp/malloc-check.XXXXXX)}
mkdir -p "$out"
export LAKE_PYTHON="$PWD/.venv/bin/python" LAKE_PYTHON_DUCKDB14="$PWD/.venv-duckdb14/bin/python"
export LAKE_PYTHON_DUCKDB2="$PWD/.venv-duckdb2/bin/python" LAKE_SCHEMATHESIS="$PWD/.venv-api/bin/schemathesis"
# A core in the package root (the kernel's default pattern "core"), the stack left to gdb (Swift's
# own backtracer would handle the abort first), glibc's message on stderr.
ulimit -c unlimited
export SWIFT_BACKTRACE=enable=no LIBC_FATAL_STDERR_=1
args=(--skip-build --disable-xctest)
[ -z "$filter" ] || args+=(--filter "$filter")
for i in $(seq 1 "$runs"); do
  rm -f core
  status=0
  LD_PRELOAD=$debug MALLOC_CHECK_=3 swift test "${args[@]}" > "$out/run-$i.log" 2>&1 || status=$?
  if [ -f core ]; then
    mv core "$out/core"
    echo "run $i: exit $status with a core dump: $out/run-$i.log, $out/core ($(grep -a -m1 -o 'malloc[^\n]*\|free()[^\n]*' "$out/run-$i.log" || echo 'a signal'))"
    exit 1
  fi
  echo "run $i: exit $status"
  [ "$status" -eq 0 ] || { echo "malloc-check.sh: run $i failed without a core dump: $out/run-$i.log" >&2; exit 1; }
done
echo "malloc-check.sh: $runs run(s) clean; logs in $out"
