import Foundation
import LakeTestSupport
import Testing

/// DuckDB 1.5.5 writes to the lake (rows it inlines in the catalog, an UPDATE, a delete it
/// inlines), then computes daily-revenue and top-customers with SQL at every snapshot:
/// exact decimals, averages rounded half away from zero, as the reports promise.
private let duckdbWritesAndFigures = Python.duckdbPrelude + """
from decimal import Decimal, ROUND_HALF_UP
root = sys.argv[1]
c = duck()
c.execute("SET TimeZone = 'UTC'")
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE)")
insert_duck_order(c, "l", "DUCK-1", "api")
c.execute("UPDATE l.curated.orders SET status = 'confirmed' WHERE status = 'pending' AND event_date = DATE '2024-01-05'")
c.execute("DELETE FROM l.curated.orders WHERE order_id IN (SELECT order_id FROM l.curated.orders WHERE channel = 'mobile' ORDER BY order_id LIMIT 3)")
last = c.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
def money(x): return str(Decimal(x).quantize(Decimal('0.01')))
def avg(total, n): return str((Decimal(total) / n).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP))
def ts(t): return t.strftime('%Y-%m-%dT%H:%M:%S') + (('.%06d' % t.microsecond).rstrip('0') if t.microsecond else '') + 'Z'
out = {}
for v in range(0, last + 1):
    at = f"AT (VERSION => {v})"
    try:
        daily = c.execute(f\"\"\"SELECT event_date, channel, country, count(*) FILTER (status = 'confirmed'),
            coalesce(sum(units) FILTER (status = 'confirmed'), 0), coalesce(sum(order_total) FILTER (status = 'confirmed'), 0),
            count(DISTINCT customer_id) FILTER (status = 'confirmed'), count(*) FILTER (status = 'pending'),
            count(*) FILTER (status = 'cancelled') FROM l.curated.orders {at} GROUP BY ALL ORDER BY 1, 2, 3\"\"\").fetchall()
    except duckdb.Error as e:
        if "does not exist" not in str(e): raise
        continue
    customers = c.execute(f\"\"\"SELECT customer_id, count(*), sum(order_total), min(event_time), max(event_time)
        FROM l.curated.orders {at} WHERE status = 'confirmed' GROUP BY 1\"\"\").fetchall()
    customers.sort(key=lambda r: (-r[2], -r[1], r[0]))
    out[str(v)] = {
        "daily": [{"date": str(d), "channel": ch, "country": k, "orders": o, "units": int(u), "revenue": money(r),
                   "avg_order_value": avg(r, o) if o else None, "customers": cu, "pending": p, "cancelled": ca}
                  for d, ch, k, o, u, r, cu, p, ca in daily],
        "top": [{"customer_id": cid, "rank": i + 1, "orders": n, "lifetime_value": money(s), "avg_order_value": avg(s, n),
                 "first_order": ts(f), "last_order": ts(l),
                 "avg_days_between_orders": (l - f).total_seconds() / 86400 / (n - 1) if n > 1 else None}
                for i, (cid, n, s, f, l) in enumerate(customers[:1000])],
    }
print(json.dumps(out))
"""

/// The second catalog (prices up on every 5th product, every 7th moved to another category) and
/// an inventory update with newer, older and same-time rows per product and warehouse.
private let secondCatalogAndInventory = """

import json, sys
d = sys.argv[1]
cat = json.load(open(d + "/src/product_catalog.json"))
for i, p in enumerate(cat):
    if i % 5 == 0: p["price"] = round(p["price"] * 1.1, 2)
    if i % 7 == 0: p["category"] = "Sale"
json.dump(cat, open(d + "/catalog2.json", "w"), indent=1)
lines = open(d + "/src/inventory_updates.csv").read().splitlines()
out = [lines[0]]
for i, l in enumerate(lines[1:]):
    f = l.split(",")
    if len(f) != 4 or not f[1].isdigit(): continue
    f[1] = str(int(f[1]) + 7 * (i % 4))
    if i % 3 == 0: f[3] = "2024-01-09T00:00:00Z"      # newer than the first file's
    elif i % 3 == 1: f[3] = "2023-12-01T00:00:00Z"    # older: the first file's stays
    # else the same time: the later-ingested row wins
    out.append(",".join(f))
out.append("PROD-001,5,WH-NEW,2024-01-05T00:00:00Z")
open(d + "/inventory2.csv", "w").write("\\n".join(out) + "\\n")
print("{}")
"""

/// DuckDB 1.5.5 writes (an inlined inventory row, an UPDATE of order items, an inlined delete),
/// then computes inventory, product-metrics, customers, the operations reject table and the
/// quality report's days with SQL at every snapshot.
private let duckdbWritesAndStockFigures = Python.duckdbPrelude + """
root = sys.argv[1]
w = duck()
w.execute("SET TimeZone = 'UTC'")
w.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE)")
icols = [r[0] for r in w.execute("DESCRIBE l.curated.inventory").fetchall()]
row = {"product_id": "'PROD-002'", "available_quantity": "3", "warehouse_location": "'WH-DUCK'", "last_updated": "TIMESTAMPTZ '2024-01-08 00:00:00+00'"}
w.execute("INSERT INTO l.curated.inventory SELECT " + ", ".join(row.get(n, "NULL") for n in icols))
w.execute("UPDATE l.curated.order_items SET status = 'confirmed' WHERE status = 'pending' AND event_date = DATE '2024-01-05'")
w.execute("DELETE FROM l.curated.order_items WHERE order_id IN (SELECT order_id FROM l.curated.order_items WHERE channel = 'api' ORDER BY order_id LIMIT 2)")
w.execute("DETACH l")
w.close()
from decimal import Decimal, ROUND_HALF_UP
root = sys.argv[1]
c = duck()
c.execute("SET TimeZone = 'UTC'")
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
last = c.execute("SELECT max(snapshot_id) FROM ducklake_snapshots('l')").fetchone()[0]
def money(x): return str(Decimal(x).quantize(Decimal('0.01')))
def avg(total, n): return str((Decimal(total) / n).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP))
def ts(t): return t.strftime('%Y-%m-%dT%H:%M:%S') + (('.%06d' % t.microsecond).rstrip('0') if t.microsecond else '') + 'Z'
def q(sql):
    try: return c.execute(sql).fetchall()
    except duckdb.Error as e:
        if "does not exist" in str(e): return None
        raise
out = {}
for v in range(1, last + 1):
    at = f"AT (VERSION => {v})"
    figures = {}
    # Stock: the latest update per product and warehouse (a tie: the later-ingested row).
    stock = q(f\"\"\"SELECT product_id, warehouse_location, available_quantity FROM (SELECT *, row_number() OVER (
        PARTITION BY product_id, warehouse_location ORDER BY last_updated DESC NULLS LAST, rowid DESC) AS rn
        FROM l.curated.inventory {at}) WHERE rn = 1\"\"\") or []
    sales = q(f\"\"\"SELECT product_id, sum(quantity), sum(line_revenue), count(DISTINCT order_id) FROM l.curated.order_items {at}
        WHERE status = 'confirmed' GROUP BY 1\"\"\") or []
    units = {p: int(u) for p, u, _, _ in sales}; revenue = {p: Decimal(r) for p, _, r, _ in sales}; norders = {p: n for p, _, _, n in sales}
    span = q(f"SELECT min(event_date), max(event_date) FROM l.curated.orders {at}")
    days = (span[0][1] - span[0][0]).days + 1 if span and span[0][0] is not None else 1
    total = {}
    for p, w, n in stock: total[p] = total.get(p, 0) + n
    inv = []
    for p, w, n in stock:
        sold = units.get(p, 0); P = total[p]
        daily = sold / max(days, 1); share = n / P if P > 0 else 0
        cover = n / (daily * share) if daily * share > 0 else (0.0 if n == 0 and daily > 0 else None)
        low = n < 20 or (cover is not None and cover < 7)
        inv.append({"product_id": p, "warehouse": w, "on_hand": n, "units_sold": sold, "turnover": sold / P if P > 0 else None,
                    "days_of_cover": cover, "low_stock": low})
    inv.sort(key=lambda r: (0 if r["low_stock"] else 1, r["product_id"], r["warehouse"]))
    figures["inventory"] = inv
    # Products: the catalog entry ingested last, and products sold that the catalog lacks.
    products = q(f\"\"\"SELECT product_id, category, brand, price FROM (SELECT *, row_number() OVER (PARTITION BY product_id ORDER BY rowid DESC) AS rn
        FROM l.curated.products {at}) WHERE rn = 1\"\"\") or []
    info = {p: (cat, br, pr) for p, cat, br, pr in products}
    if sales:
        for p, cat, br in q(f\"\"\"SELECT product_id, first(category ORDER BY rowid), first(brand ORDER BY rowid) FROM l.curated.order_items {at}
            WHERE status = 'confirmed' GROUP BY 1\"\"\"):
            info.setdefault(p, (cat, br, None))
    ids = list(info)
    rrank = {p: i + 1 for i, p in enumerate(sorted(ids, key=lambda p: (-revenue.get(p, 0), p)))}
    urank = {p: i + 1 for i, p in enumerate(sorted(ids, key=lambda p: (-units.get(p, 0), p)))}
    pm = []
    for p in sorted(ids, key=lambda p: rrank[p]):
        cat, br, price = info[p]; u = units.get(p, 0); oh = total.get(p, 0); daily = u / max(days, 1)
        pm.append({"product_id": p, "category": cat, "brand": br, "revenue_rank": rrank[p], "revenue": money(revenue.get(p, 0)),
                   "units_rank": urank[p], "units": u, "orders": norders.get(p, 0), "on_hand": oh,
                   "list_price": money(price) if price is not None else None,
                   "inventory_value": money(Decimal(price) * oh) if price is not None else None,
                   "days_of_cover": oh / daily if daily > 0 else None})
    figures["product-metrics"] = pm
    # Customers: confirmed orders.
    cust = q(f\"\"\"SELECT customer_id, count(*), sum(order_total), min(event_time), max(event_time) FROM l.curated.orders {at}
        WHERE status = 'confirmed' GROUP BY 1\"\"\")
    if cust is not None:
        cust.sort(key=lambda r: (-r[2], r[0]))
        n = len(cust); orders = sum(r[1] for r in cust); spend = sum((Decimal(r[2]) for r in cust), Decimal(0)); rep = sum(1 for r in cust if r[1] > 1)
        buckets = {}
        for r in cust: b = min(r[1], 5); buckets[b] = buckets.get(b, 0) + 1
        pairs = q(f\"\"\"SELECT event_date, count(*) FILTER (first_day), count(*) FILTER (NOT first_day) FROM (
            SELECT DISTINCT customer_id, event_date, event_date = min(event_date) OVER (PARTITION BY customer_id) AS first_day
            FROM (SELECT DISTINCT customer_id, event_date FROM l.curated.orders {at} WHERE status = 'confirmed')) GROUP BY 1 ORDER BY 1\"\"\")
        figures["customers"] = {
            "top_customers_by_spend": [{"customer_id": r[0], "orders": r[1], "spend": money(r[2]), "avg_order_value": avg(r[2], r[1]),
                                        "first_order": ts(r[3]), "last_order": ts(r[4])} for r in cust],
            "customer_summary": [{"customers": n, "repeat_customers": rep, "repeat_purchase_rate": rep / n if n else None, "orders": orders,
                                  "avg_orders_per_customer": orders / n if n else None, "avg_order_value": avg(spend, orders) if orders else None}],
            "orders_per_customer": [{"orders_per_customer": "5+" if b == 5 else str(b), "customers": buckets[b]} for b in sorted(buckets)],
            "new_and_returning_customers_per_day": [{"date": str(d), "new_customers": a, "returning_customers": b} for d, a, b in pairs],
        }
    raw = q(f\"\"\"SELECT event_date, channel, count(*), count(reject_reason) FROM l.raw.orders {at} GROUP BY 1, 2 ORDER BY 1, 2\"\"\")
    if raw is not None:
        reasons = {}
        for d, ch, r, k in q(f"SELECT event_date, channel, reject_reason, count(*) FROM l.raw.orders {at} WHERE reject_reason IS NOT NULL GROUP BY 1, 2, 3"):
            reasons.setdefault((d, ch), []).append((-k, r))
        figures["operations"] = [{"date": str(d), "channel": ch, "records": n, "rejected": k, "reject_rate": k / n,
                                  "top_reason": min(reasons[(d, ch)])[1] if (d, ch) in reasons else None} for d, ch, n, k in raw]
        days_ = q(f"SELECT event_date, count(*), count(reject_reason) FROM l.raw.orders {at} GROUP BY 1 ORDER BY 1")
        figures["quality-days"] = [{"date": str(d), "records": n, "rejected": k, "reject_rate": k / n} for d, n, k in days_]
    out[str(v)] = figures
print(json.dumps(out))
"""

/// Session 17 probe, kept as a test: `lake report` figures against an independent computation
/// on a lake whose history has overlapping batches (duplicates across them), a delete, a
/// compaction, and DuckDB's own writes (inlined rows, an UPDATE, an inlined delete), at every
/// snapshot (time travel through each kind of change).
@Suite(.serialized)
struct ReportOracleTests {
    @Test func dailyRevenueAndTopCustomersEqualDuckDBAtEverySnapshot() throws {
        let dir = try TemporaryDirectory("report-oracle")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let root = dir.file("lake")
        let lake = LakeCommand(executable: exe, root: root)
        let src = dir.file("src")
        _ = try runProcess(exe, ["generate", "--out", src, "--orders", "1500", "--days", "10", "--seed", "5"])
        let lines = try String(contentsOfFile: src + "/orders_stream.jsonl", encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        // Two batches that overlap by 300 lines: the second's repeats are duplicates.
        try (lines[0 ..< 900].joined(separator: "\n") + "\n").write(toFile: dir.file("a.jsonl"), atomically: true, encoding: .utf8)
        try lines[600...].joined(separator: "\n").write(toFile: dir.file("b.jsonl"), atomically: true, encoding: .utf8)
        _ = try lake(["ingest", "catalog", src + "/product_catalog.json"])
        _ = try lake(["ingest", "orders", dir.file("a.jsonl")])
        _ = try lake(["ingest", "orders", dir.file("b.jsonl")])
        _ = try lake(["delete", "curated.orders", "--where", "channel = web", "--where", "event_date <= 2024-01-04"])
        _ = try lake(["compact", "curated.orders"])

        let expected = try #require(try Python.json(duckdbWritesAndFigures, [root]) as? [String: [String: Any]])
        #expect(expected.count >= 6, "snapshots with orders: \(expected.keys.sorted())")
        func rows(_ json: String) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        }
        func same(_ a: Any?, _ b: Any?) -> Bool {
            if a == nil || a is NSNull { return b == nil || b is NSNull }
            if let x = a as? NSNumber, let y = b as? NSNumber {
                return abs(x.doubleValue - y.doubleValue) <= 1e-3 * max(1, abs(y.doubleValue))
            }
            return "\(a!)" == "\(b.map { "\($0)" } ?? "nil")"
        }
        for (snapshot, figures) in expected.sorted(by: { Int($0.key)! < Int($1.key)! }) {
            for (name, key, args) in [("daily-revenue", "daily", ["--limit", "100000"]), ("top-customers", "top", ["--limit", "1000"])] {
                let got = try rows(try lake(["report", name, "--as-of", snapshot, "--format", "json"] + args))
                let want = try #require(figures[key] as? [[String: Any]])
                #expect(got.count == want.count, "\(name) at \(snapshot): \(got.count) rows, DuckDB \(want.count)")
                var differing: [String] = []
                for (g, w) in zip(got, want) {
                    for (column, value) in w where !same(g[column], value) { differing.append("\(column): lake \(g[column] ?? "nil"), DuckDB \(value)") }
                }
                #expect(differing.isEmpty, "\(name) at snapshot \(snapshot): \(differing.prefix(5))")
            }
        }
    }

    /// Session 18 probe, kept as a test: the other reports against DuckDB, on a lake built with
    /// orders v1 and migrated to v2, with overlapping batches, an inventory update and a second
    /// catalog between order batches, deletes from orders and from items, compactions, and
    /// DuckDB's own writes; at every snapshot.
    @Test func stockCustomerAndRejectReportsEqualDuckDBAtEverySnapshot() throws {
        let dir = try TemporaryDirectory("report-oracle-stock")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let root = dir.file("lake")
        // A registry without orders v2, so the lake starts at v1 and `schema migrate` moves it.
        let v1 = dir.file("schemas-v1")
        try FileManager.default.copyItem(atPath: packageRoot.appendingPathComponent("schemas").path, toPath: v1)
        for table in ["orders", "raw_orders"] { try FileManager.default.removeItem(atPath: v1 + "/\(table)/v2.json") }
        let lake = LakeCommand(executable: exe, root: root)
        let src = dir.file("src")
        _ = try runProcess(exe, ["generate", "--out", src, "--orders", "1500", "--days", "10", "--seed", "5"])
        _ = try Python.json(secondCatalogAndInventory, [dir.path])
        let lines = try String(contentsOfFile: src + "/orders_stream.jsonl", encoding: .utf8).split(separator: "\n")
        // Three batches; the second overlaps both others (its repeats are duplicates).
        for (name, range) in [("a", 0 ..< 900), ("b", 600 ..< 1200), ("c", 1100 ..< lines.count)] {
            try (lines[range].joined(separator: "\n") + "\n").write(toFile: dir.file(name + ".jsonl"), atomically: true, encoding: .utf8)
        }
        for (kind, file) in [("catalog", src + "/product_catalog.json"), ("inventory", src + "/inventory_updates.csv"), ("orders", dir.file("a.jsonl")),
                             ("inventory", dir.file("inventory2.csv")), ("catalog", dir.file("catalog2.json")), ("orders", dir.file("b.jsonl"))] {
            _ = try lake(["ingest", kind, file, "--schemas", v1])
        }
        _ = try lake(["delete", "curated.orders", "--where", "channel = web", "--where", "event_date <= 2024-01-04"])
        _ = try lake(["delete", "curated.order_items", "--where", "channel = mobile", "--where", "event_date = 2024-01-06"])
        _ = try lake(["compact", "curated.orders"])
        _ = try lake(["schema", "migrate", "orders", "--to", "2"])
        _ = try lake(["ingest", "orders", dir.file("c.jsonl")])
        _ = try lake(["compact", "curated.order_items"])

        let expected = try #require(try Python.json(duckdbWritesAndStockFigures, [root]) as? [String: [String: Any]])
        #expect(expected.count >= 15, "snapshots: \(expected.keys.sorted())")
        func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }
        func same(_ a: Any?, _ b: Any?) -> Bool {
            if a == nil || a is NSNull { return b == nil || b is NSNull }
            if let x = a as? NSNumber, let y = b as? NSNumber {
                return abs(x.doubleValue - y.doubleValue) <= 1e-3 * max(1, abs(y.doubleValue))
            }
            return "\(a!)" == "\(b.map { "\($0)" } ?? "nil")"
        }
        var compared = 0
        func check(_ name: String, _ snapshot: String, _ got: Any?, _ want: Any?) throws {
            let g = try #require(got as? [[String: Any]], "\(name) at \(snapshot): lake's answer"), w = try #require(want as? [[String: Any]])
            compared += 1
            #expect(g.count == w.count, "\(name) at \(snapshot): \(g.count) rows, DuckDB \(w.count)")
            var differing: [String] = []
            for (i, (gr, wr)) in zip(g, w).enumerated() {
                for (column, value) in wr where !same(gr[column], value) { differing.append("row \(i) \(column): lake \(gr[column] ?? "nil"), DuckDB \(value)") }
            }
            #expect(differing.isEmpty, "\(name) at snapshot \(snapshot): \(differing.prefix(5))")
        }
        for (snapshot, figures) in expected.sorted(by: { Int($0.key)! < Int($1.key)! }) {
            let at = ["--as-of", snapshot, "--format", "json"]
            for name in ["inventory", "product-metrics"] {
                try check(name, snapshot, try json(try lake(["report", name, "--limit", "100000"] + at)), figures[name])
            }
            if let want = figures["customers"] as? [String: Any] {
                let got = try #require(try json(try lake(["report", "customers", "--limit", "100000"] + at)) as? [String: Any])
                for (section, rows) in want { try check("customers " + section, snapshot, got[section], rows) }
            }
            if let want = figures["operations"] {
                let got = try #require(try json(try lake(["report", "operations"] + at)) as? [String: Any])
                try check("operations", snapshot, got["reject_rate_by_day_and_channel_raw_orders"], want)
                let quality = try #require(try json(try lake(["quality", "report"] + at)) as? [String: Any])
                try check("quality days", snapshot, quality["quality_per_event_day_raw_lines_of_all_batches"], figures["quality-days"])
            }
        }
        #expect(compared >= 100, "\(compared) tables compared")
    }
}
