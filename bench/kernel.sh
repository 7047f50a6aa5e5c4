#!/usr/bin/env bash
# Where `lake run`'s kernel time goes (issue 17): one `lake run` of a generated folder into an
# empty lake under `perf record -g` (cpu-clock sampling: works without hardware counters) and one
# under `strace -f -c`, then prints the process's CPU split by where the samples land: user code
# by library, and kernel samples by what brought the thread into the kernel (page faults, read,
# fsync, write, directory and file creation, futex, mm calls), plus the page-fault count and the
# syscall counts. Compare builds by running it once per binary, alternated; the shares move by a
# point or so between runs on a shared machine, the counts do not.
#   bench/kernel.sh                                    # .build/release/lake, 1,000,000 orders
#   BIN=/tmp/other-lake SRC_DIR=/tmp/par-gen-1m bench/kernel.sh
#   ENV="GLIBC_TUNABLES=glibc.malloc.arena_max=4" bench/kernel.sh    # an allocator setting
# Needs perf, strace and python3 (root, or perf_event_paranoid <= 1). Not a test: figures only.
set -euo pipefail
cd "$(dirname "$0")/.."
ORDERS=${ORDERS:-1000000}
for tool in perf strace python3; do
    command -v "$tool" >/dev/null || { echo "bench/kernel.sh needs $tool" >&2; exit 1; }
done
if [ -z "${BIN:-}" ]; then
    BIN=$PWD/.build/release/lake
    [ -n "${SKIP_BUILD:-}" ] || swift build -c release --static-swift-stdlib --product lake 2>&1 | grep -E "error|Build" | tail -3
fi

tmp=$(mktemp -d /tmp/lake-bench-kernel.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${SRC_DIR:-}" ]; then ln -s "$(cd "$SRC_DIR" && pwd)" "$tmp/src"; else "$BIN" generate --orders "$ORDERS" --out "$tmp/src" >/dev/null; fi
cat "$tmp/src/orders_stream.jsonl" >/dev/null   # warm the page cache, as bench/ingest.sh does
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  commit: $(git rev-parse --short HEAD)  binary: $BIN  ${ENV:+env: $ENV}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ENV is split on spaces into VAR=value words on purpose.
# shellcheck disable=SC2086
env ${ENV:-} perf stat -x, -e page-faults,task-clock -o "$tmp/stat.csv" \
    "$BIN" run --lake "$tmp/lake-stat" --input "$tmp/src" --quiet >/dev/null
# shellcheck disable=SC2086
env ${ENV:-} perf record -q -e cpu-clock -F 999 -g -o "$tmp/perf.data" \
    "$BIN" run --lake "$tmp/lake-perf" --input "$tmp/src" --quiet >/dev/null 2>&1
# shellcheck disable=SC2086
env ${ENV:-} strace -f -c -o "$tmp/strace.txt" \
    "$BIN" run --lake "$tmp/lake-strace" --input "$tmp/src" --quiet >/dev/null
perf script -i "$tmp/perf.data" -F ip,sym,dso 2>/dev/null > "$tmp/samples.txt"

python3 - "$tmp/samples.txt" "$tmp/stat.csv" "$tmp/strace.txt" <<'PY'
import collections, sys
samples = open(sys.argv[1]).read().split('\n\n')
total = 0
dso = collections.Counter()
kern = collections.Counter()
# The first kernel entry point on the stack names why the thread was in the kernel.
causes = [('page faults', ('exc_page_fault',)), ('read(2) of the input', ('ksys_read',)),
          ('fsync', ('sys_fsync', 'sys_fdatasync')), ('write, pwrite', ('ksys_write', 'sys_pwrite64')),
          ('mkdir', ('sys_mkdir',)), ('open, link, unlink, close', ('sys_openat', 'sys_link', 'sys_unlink', 'sys_close')),
          ('pread (reports, catalog)', ('sys_pread64',)), ('munmap, madvise, brk, mmap, mprotect', ('sys_munmap', 'sys_madvise', 'sys_brk', 'sys_mmap', 'sys_mprotect')),
          ('futex (thread waits, wakeups)', ('sys_futex',)), ('clone (thread starts)', ('sys_clone',)),
          ('interrupts', ('asm_common_interrupt', 'asm_sysvec'))]
for s in samples:
    frames = [l.strip() for l in s.strip().split('\n') if l.strip()]
    if not frames:
        continue
    total += 1
    top = frames[0]
    lib = top[top.rfind('(') + 1:].rstrip(')').split('/')[-1]
    if 'kernel.kallsyms' in top:
        lib = '[kernel]'
        for name, keys in causes:
            if any(any(k in f for k in keys) for f in frames):
                kern[name] += 1
                break
        else:
            kern['other kernel'] += 1
    elif lib.startswith('lake') or '-lake' in lib:
        lib = 'lake'
    dso[lib] += 1
print(f"\nCPU samples of one lake run: {total} (cpu-clock, 999 Hz)")
for lib, n in dso.most_common(8):
    print(f"  {100 * n / total:5.1f} %  {lib}")
print("kernel samples by cause, as a share of all samples:")
for name, n in kern.most_common():
    print(f"  {100 * n / total:5.1f} %  {name}")
for line in open(sys.argv[2]):
    parts = line.strip().split(',')
    if len(parts) > 2 and parts[2] == 'page-faults':
        print(f"page faults (perf stat, another run): {parts[0]}")
print("syscalls (strace -f -c, a third run; strace's own times are inflated):")
wanted = {'fsync', 'fdatasync', 'write', 'pwrite64', 'read', 'mkdir', 'openat', 'link', 'unlink', 'clone3', 'munmap', 'madvise', 'futex'}
for line in open(sys.argv[3]):
    f = line.split()
    if f and f[-1] in wanted and len(f) >= 5:
        print(f"  {f[-1]:10s} {f[3]:>7s} calls")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
