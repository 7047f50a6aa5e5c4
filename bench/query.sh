#!/usr/bin/env bash
# Query benchmark: the daily-revenue, top-products and customers reports and a one-day,
# one-channel query on a lake of 1,000,000 generated orders, next to the newest DuckDB (2.0.1,
# .venv-duckdb2; LAKE_PYTHON_DUCKDB2 overrides; 2 threads) computing the same results over the
# very same Parquet files.
# Usage: bench/query.sh [ORDERS] [ROUNDS]   (defaults 1000000 and 5; the lake is built once under
# bench-out/). Each round runs every workload once on each side, interleaved, so both see the same
# machine load; the table shows the median of the rounds and the ratio of the medians.
# BEFORE=path/to/an/older/lake adds that binary's medians (same rounds) as a first column.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python
orders="${1:-1000000}"
rounds="${2:-5}"
swift build -c release --static-swift-stdlib --product lake >/dev/null
lake=.build/release/lake
work="bench-out/query-$orders"
if [ ! -f "$work/lake/manifest.sqlite" ]; then
  rm -rf "$work"; mkdir -p "$work"
  $lake generate --out "$work/src" --orders "$orders" --days 30 >/dev/null
  $lake ingest catalog --lake "$work/lake" "$work/src/product_catalog.json" --quiet >/dev/null
  $lake ingest orders --lake "$work/lake" "$work/src/orders_stream.jsonl" --quiet >/dev/null
fi
day=2024-01-15
plan=$($lake query orders --lake "$work/lake" --where "event_date = $day" --where "channel = web" --agg "count(*)" --explain 2>&1 >/dev/null | sed -n '3,4p')
"${LAKE_PYTHON_DUCKDB2:-.venv-duckdb2/bin/python}" - "$lake" "$work/lake" "$day" "$rounds" "$plan" "${BEFORE:-}" <<'PY'
import duckdb, statistics, subprocess, sys, time
lake, root, day, rounds, plan, before = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
orders = f"read_parquet('{root}/curated/orders/**/*.parquet', hive_partitioning = true)"
items = f"read_parquet('{root}/curated/order_items/**/*.parquet', hive_partitioning = true)"
# The same results each report prints (rows, ranks, summaries), as DuckDB would compute them.
workloads = [
    ("daily-revenue", ["report", "daily-revenue", "--format", "csv"], [f"""
        SELECT event_date, channel, country, count(*) FILTER (WHERE status = 'confirmed'),
            sum(units) FILTER (WHERE status = 'confirmed'), sum(order_total) FILTER (WHERE status = 'confirmed'),
            count(DISTINCT customer_id) FILTER (WHERE status = 'confirmed'),
            count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'cancelled')
        FROM {orders} GROUP BY ALL ORDER BY 1, 2, 3"""]),
    ("top-products", ["report", "top-products", "--format", "csv"], [f"""
        WITH p AS (SELECT product_id, any_value(category) category, any_value(brand) brand, sum(line_revenue) revenue,
                sum(quantity) units, count(DISTINCT order_id) orders FROM {items} WHERE status = 'confirmed' GROUP BY 1)
        SELECT product_id, category, brand, row_number() OVER (ORDER BY revenue DESC, product_id) r, revenue,
            row_number() OVER (ORDER BY units DESC, product_id), units, orders FROM p ORDER BY r LIMIT 10"""]),
    ("customers", ["report", "customers", "--format", "csv"], [
        f"""CREATE OR REPLACE TEMP TABLE c AS SELECT customer_id, count(*) n, sum(order_total) spend,
            min(event_time) first_at, max(event_time) last_at, min(event_date) first_day
            FROM {orders} WHERE status = 'confirmed' GROUP BY 1""",
        "SELECT customer_id, n, spend, round(spend / n, 2), first_at, last_at FROM c ORDER BY spend DESC, customer_id LIMIT 10",
        "SELECT count(*), count(*) FILTER (WHERE n > 1), sum(n), sum(spend) / sum(n) FROM c",
        "SELECT least(n, 5), count(*) FROM c GROUP BY 1 ORDER BY 1",
        f"""SELECT d.event_date, count(*) FILTER (WHERE d.event_date = c.first_day), count(*) FILTER (WHERE d.event_date > c.first_day)
            FROM (SELECT DISTINCT customer_id, event_date FROM {orders} WHERE status = 'confirmed') d JOIN c USING (customer_id)
            GROUP BY 1 ORDER BY 1"""]),
    ("one day, one channel", ["query", "orders", "--where", f"event_date = {day}", "--where", "channel = web",
                              "--agg", "count(*)", "--agg", "sum(order_total)"], [f"""
        SELECT count(*), sum(order_total) FROM {orders} WHERE event_date = '{day}' AND channel = 'web'"""]),
]

def ours(args, binary=lake):
    t = time.perf_counter()
    subprocess.run([binary] + args + ["--lake", root], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t

def theirs(sqls):
    # Our figure includes starting the lake process and opening its catalog; DuckDB's includes
    # connecting (not starting Python).
    t = time.perf_counter()
    con = duckdb.connect(config={"threads": 2})
    for sql in sqls:
        con.execute(sql).fetchall()
    con.close()
    return time.perf_counter() - t

times = {name: ([], [], []) for name, _, _ in workloads}
for name, args, sqls in workloads:  # warm the page cache and the binaries
    ours(args); theirs(sqls)
    if before: ours(args, before)
for _ in range(rounds):
    for name, args, sqls in workloads:
        if before: times[name][2].append(ours(args, before))
        times[name][0].append(ours(args))
        times[name][1].append(theirs(sqls))
print(f"lake: {root}   DuckDB {duckdb.__version__}   medians of {rounds} interleaved rounds")
print(f"{'':24}" + (f"{'before s':>10}" if before else "") + f"{'lake s':>9}{'duckdb s':>10}{'ratio':>8}")
for name, _, _ in workloads:
    a, b = statistics.median(times[name][0]), statistics.median(times[name][1])
    old = f"{statistics.median(times[name][2]):10.3f}" if before else ""
    print(f"{name:24}{old}{a:9.3f}{b:10.3f}{a / b:7.2f}x   goal <= 1.0x")
print("lake plan for the one-day query:\n" + plan)
PY
