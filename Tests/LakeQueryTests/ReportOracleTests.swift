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
cols = [r[0] for r in c.execute("DESCRIBE l.curated.orders").fetchall()]
row = {"order_id": "'DUCK-1'", "customer_id": "'CUST-DUCK'", "event_time": "TIMESTAMPTZ '2024-01-03 10:00:00+00'",
       "event_date": "DATE '2024-01-03'", "channel": "'api'", "status": "'confirmed'", "country": "'DE'",
       "item_count": "1", "order_total": "100.05", "units": "1", "currency": "'EUR'", "discount_amount": "0.00"}
c.execute("INSERT INTO l.curated.orders SELECT " + ", ".join(row.get(n, "NULL") for n in cols))
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
        func lake(_ args: [String]) throws -> String {
            let r = try runProcess(exe, args + ["--lake", root])
            guard r.status == 0 else { throw TestFailure("lake \(args.joined(separator: " ")) exited \(r.status): \(r.err)") }
            return r.out
        }
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
}
