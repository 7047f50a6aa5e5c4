#!/usr/bin/env bash
# Follow benchmark: a writer appends order lines to a file at a fixed RATE (default 50,000
# orders/s) for DURATION seconds (default 120; issue 17 asks for 600), while
# `lake ingest orders --follow --commit-interval 1 --commit-every RATE` commits micro-batches into a lake that
# starts empty (or holds PRELOAD orders). Every commit line the follower prints is stamped
# with the wall clock; per time window the script prints the number of commits, the orders
# committed per second, and percentiles of
#   interval: time between consecutive commits (1 s plus the commit's own work when keeping up),
#   lag:      commit time minus the time the writer appended the batch's last line.
# Flat per-commit latency = interval and lag the same in the last window as in the first.
# The writer recycles a generated pool of lines with fresh order ids (prefix F<cycle>-), so
# every appended order is new and the lake grows by RATE orders per second.
#   bench/follow.sh
#   DURATION=600 bench/follow.sh
#   RATE=20000 DURATION=60 WINDOWS=3 bench/follow.sh
# Not a test: figures only; the machine may be shared, so compare windows within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-50000}
DURATION=${DURATION:-120}
WINDOWS=${WINDOWS:-6}
POOL=${POOL:-200000}
# Also a commit once this many lines are pending: a follower that reads slower than the writer
# appends would otherwise keep reading and never reach the interval check.
COMMIT_EVERY=${COMMIT_EVERY:-$RATE}
PRELOAD=${PRELOAD:-0}

swift build -c release --static-swift-stdlib --product lake 2>&1 | grep -E "error|Build" | tail -2
BIN=$PWD/.build/release/lake

tmp=$(mktemp -d /tmp/lake-bench-follow.XXXXXX)
fpid=""; wpid=""
cleanup() {
    [ -n "$wpid" ] && kill "$wpid" 2>/dev/null || true
    [ -n "$fpid" ] && kill "$fpid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
"$BIN" generate --orders "$POOL" --out "$tmp/src" >/dev/null
"$BIN" ingest catalog --lake "$tmp/lake" "$tmp/src/product_catalog.json" >/dev/null
if [ "$PRELOAD" -gt 0 ]; then
    "$BIN" generate --orders "$PRELOAD" --seed 9 --out "$tmp/pre" >/dev/null
    sed 's/"order_id": "/&PRE-/' "$tmp/pre/orders_stream.jsonl" > "$tmp/pre.jsonl"
    "$BIN" ingest orders --lake "$tmp/lake" --quiet "$tmp/pre.jsonl" >/dev/null
fi
: > "$tmp/live.jsonl"

cat > "$tmp/writer.py" <<'PYEOF'
import sys, time
pool_path, out_path, rate, duration, start_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
key = '"order_id": "'
pool = []
for line in open(pool_path, encoding="utf-8", errors="surrogateescape"):
    i = line.find(key)
    pool.append((line[:i + len(key)], line[i + len(key):]) if i >= 0 else (None, line))
out = open(out_path, "a", encoding="utf-8", errors="surrogateescape")
t0 = time.time()
open(start_path, "w").write(repr(t0))
written, n = 0, len(pool)
while True:
    now = time.time()
    if now - t0 >= duration:
        break
    target = int(rate * (now - t0))
    chunk = []
    while written < target:
        head, tail = pool[written % n]
        chunk.append(tail if head is None else f"{head}F{written // n}-{tail}")
        written += 1
    if chunk:
        out.write("".join(chunk))
        out.flush()
    time.sleep(0.02)
out.close()
print(written)
PYEOF

cat > "$tmp/stamp.py" <<'PYEOF'
import sys, time
for line in sys.stdin:
    if line.startswith("snapshot "):
        sys.stdout.write(f"{time.time():.6f} {line}")
        sys.stdout.flush()
PYEOF

"$BIN" ingest orders --lake "$tmp/lake" --follow --commit-interval 1 --commit-every "$COMMIT_EVERY" "$tmp/live.jsonl" \
    > >(python3 "$tmp/stamp.py" > "$tmp/commits.log") 2> "$tmp/follower.err" &
fpid=$!
python3 "$tmp/writer.py" "$tmp/src/orders_stream.jsonl" "$tmp/live.jsonl" "$RATE" "$DURATION" "$tmp/start" > "$tmp/written" &
wpid=$!
wait "$wpid"; wpid=""
written=$(cat "$tmp/written")
# Let the follower drain what is left, then stop it (SIGINT commits the batch in flight).
for _ in $(seq 1 60); do
    last=$(tail -1 "$tmp/commits.log" 2>/dev/null | sed -E 's/.*lines \.\.([0-9]+).*/\1/')
    [ "${last:-0}" -ge "$written" ] && break
    sleep 1
done
kill -INT "$fpid"; wait "$fpid" || true; fpid=""
sleep 0.5
echo "appended $written lines in $DURATION s at $RATE/s; follower committed up to line ${last:-0}"
[ -s "$tmp/follower.err" ] && { echo "follower stderr:"; head -5 "$tmp/follower.err"; }

python3 - "$tmp/commits.log" "$(cat "$tmp/start")" "$RATE" "$DURATION" "$WINDOWS" <<'PYEOF'
import re, sys
log, t0, rate, duration, windows = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
commits = []
for line in open(log):
    m = re.match(r"([0-9.]+) snapshot \S+: lines \.\.(\d+) .*?records (\d+)", line)
    if m: commits.append((float(m.group(1)), int(m.group(2)), int(m.group(3))))
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")
print(f"{len(commits)} commits")
print(f"{'window (s)':>12} {'commits':>8} {'orders/s':>9} {'interval p50':>13} {'p95':>6} {'max':>6} {'lag p50':>8} {'p95':>6} {'max':>6}")
width = duration / windows
prev = None
rows = [[] for _ in range(windows)]
for t, line, recs in commits:
    w = min(windows - 1, max(0, int((t - t0) // width)))
    interval = t - prev if prev is not None else float("nan")
    lag = t - (t0 + line / rate)
    rows[w].append((interval, lag, recs))
    prev = t
for w, r in enumerate(rows):
    iv = [x for x, _, _ in r if x == x]
    lg = [y for _, y, _ in r]
    recs = sum(z for _, _, z in r)
    print(f"{w * width:5.0f}-{(w + 1) * width:<6.0f} {len(r):8d} {recs / width:9.0f} {pct(iv, 50):13.3f} {pct(iv, 95):6.3f} {max(iv, default=float('nan')):6.3f}"
          f" {pct(lg, 50):8.3f} {pct(lg, 95):6.3f} {max(lg, default=float('nan')):6.3f}")
PYEOF
