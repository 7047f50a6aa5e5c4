#!/usr/bin/env bash
# Two builds of lake against each other: `lake run` of one generated folder into a fresh lake,
# N rounds, the two binaries' order swapped every round (on this host a run's speed drifts with
# the neighbours' load: whichever side always ran first or second took the drift with it).
# Prints each side's median wall time, CPU-seconds and peak RSS, and the mean of the rounds'
# paired differences (B - A) with its standard error: a difference smaller than about twice
# its standard error is not one. Session 38 found a setting "4-7 % faster" in single pairs
# that this showed to be noise (DESIGN "Session 38").
#   bench/compare.sh OLD_BINARY NEW_BINARY                  # 12 rounds of 1 M generated orders
#   ROUNDS=20 SRC_DIR=/tmp/par-gen-1m bench/compare.sh A B  # reuse a generated folder
#   chrt --rr 1 bench/compare.sh A B                        # as the README's figures are taken
# Not a test: figures only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: bench/compare.sh BINARY_A BINARY_B (two builds of lake)" >&2; exit 64; }
A=$(realpath "$1"); B=$(realpath "$2")
for bin in "$A" "$B"; do [ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 64; }; done
ROUNDS=${ROUNDS:-12}
if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -qq time >/dev/null; else sudo apt-get install -y -qq time >/dev/null; fi
fi
tmp=$(mktemp -d /tmp/lake-bench-compare.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -n "${SRC_DIR:-}" ]; then SRC=$(cd "$SRC_DIR" && pwd); else SRC=$tmp/src; "$A" generate --orders "${ORDERS:-1000000}" --out "$SRC" >/dev/null; fi
cat "$SRC"/* > /dev/null  # the page cache warm for both alike
echo "A: $A"
echo "B: $B"
echo "source: $SRC, $ROUNDS rounds, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$ROUNDS"); do
    if [ $((round % 2)) = 1 ]; then order="A B"; else order="B A"; fi
    for side in $order; do
        if [ "$side" = A ]; then bin=$A; else bin=$B; fi
        rm -rf "$tmp/lake"
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$bin" run --lake "$tmp/lake" --input "$SRC" --quiet >/dev/null 2>&1
        echo "$round $side $(cat "$tmp/time")" >> "$tmp/runs"
    done
done
python3 - "$tmp/runs" <<'PY'
import collections, statistics as st, sys
runs = collections.defaultdict(dict)
for line in open(sys.argv[1]):
    r, side, wall, user, system, rss = line.split()
    runs[int(r)][side] = (float(wall), float(user) + float(system), int(rss) / 1024)
rounds = sorted(runs)
for side in "AB":
    print("%s: median %.3f s wall, %.3f CPU-s, %.0f MB peak RSS" % (side, *[st.median(runs[r][side][k] for r in rounds) for k in range(3)]))
for k, what in ((0, "wall s"), (1, "CPU-s")):
    d = [runs[r]["B"][k] - runs[r]["A"][k] for r in rounds]
    se = st.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
    print("B - A, %s: mean %+.3f ± %.3f (standard error), B lower in %d of %d rounds" % (what, st.mean(d), se, sum(x < 0 for x in d), len(d)))
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
