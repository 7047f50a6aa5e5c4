import Foundation
import LakeTestSupport
import Testing

/// A lake whose confirmed revenue for one day does not fit Int64 cents (twelve orders at
/// 9,000,000,000,000,000.00, ingested six at a time): one request summing it once trapped the
/// whole `lake serve` process, then answered a 500 problem. DuckDB sums it in 128 bits; the API
/// answers its digits, money as JSON strings (docs/openapi.json: `^-?[0-9]+\.[0-9]{2}$`).
@Suite("lake serve: money sums past Int64 are answered, equal to DuckDB's", .serialized)
struct ServerSumOverflowTests {

    @Test("daily_sales, top_customers, product_metrics answer DuckDB's exact sums as strings; /metrics answers; the server keeps serving")
    func bigSumsAreAnswered() async throws {
        let fx = try LakeFixture.shared.get()
        let dir = try TemporaryDirectory("serve-bigmoney")
        defer { dir.remove() }
        let root = try bigMoneyLake(in: dir)
        let peer = try duckDBMoneyFigures(root: root)
        let s = try ServerProcess(lake: root, ["--tokens", fx.tokens])
        defer { s.stop() }
        func rows(_ path: String) async throws -> [[String: Any]] {
            let r = try await get(s.base + path, token: fx.token)
            #expect(r.status == 200, "\(path): \(r.status) \(r.body)")
            #expect(s.process.isRunning, "the server died on \(path): \(s.log)")
            return r.json as? [[String: Any]] ?? []
        }
        let daily = try await rows("/api/v1/daily_sales?from=2024-01-15&to=2024-01-15")
        #expect(daily.count == 1)
        for row in daily {
            let key = "\(row["date"] as? String ?? "") \(row["channel"] as? String ?? "") \(row["country"] as? String ?? "")"
            #expect(row["revenue"] as? String == peer["daily:" + key], "\(row)")
        }
        let customers = try await rows("/api/v1/top_customers")
        #expect(customers.count == 1)
        for row in customers {
            let id = row["customer_id"] as? String ?? ""
            #expect(row["lifetime_value"] as? String == peer["customer:" + id] && row["avg_order_value"] as? String == peer["customer-avg:" + id], "\(row)")
        }
        let products = try await rows("/api/v1/product_metrics").filter { ($0["product_id"] as? String) == "PROD-001" }
        #expect(products.count == 1 && products.first?["revenue"] as? String == peer["product:PROD-001"], "\(products)")
        let metrics = try await get(s.base + "/metrics", token: fx.token)
        #expect(metrics.status == 200 && metrics.body.contains("lake_quality_score{batch=\"all\"} 100\n"), "\(metrics.status) \(metrics.body)")
        let health = try await get(s.base + "/healthz", token: fx.token)
        #expect(health.status == 200, "\(health.body)")
        #expect(s.process.isRunning)
    }

    /// Session 18 probe: inventory quantities are INT64 and ingest accepts any, so one
    /// product's stock over two warehouses (5e18 each) passes Int64. The sum trapped: GET /
    /// (the dashboard), /api/v1/inventory or /api/v1/product_metrics took the server down
    /// (exit 132), as `lake report inventory` / `product-metrics` / `lake dashboard` crashed.
    @Test("stock past Int64 over a product's warehouses: a problem naming the product, the server keeps serving")
    func stockPastInt64IsAnErrorNotATrap() async throws {
        let fx = try LakeFixture.shared.get()
        let dir = try TemporaryDirectory("serve-bigstock")
        defer { dir.remove() }
        let root = dir.file("lake")
        try """
            [{"product_id": "PROD-001", "category": "Electronics", "brand": "SoundWave", "price": 10.00,
              "launch_date": "2022-06-15T00:00:00.000Z", "description": "stocked past Int64"}]
            """.write(toFile: dir.file("catalog.json"), atomically: true, encoding: .utf8)
        try """
            product_id,available_quantity,warehouse_location,last_updated
            PROD-001,5000000000000000000,WH-SF,2024-01-03T08:15:00Z
            PROD-001,5000000000000000000,WH-NY,2024-01-03T08:15:00Z

            """.write(toFile: dir.file("inventory.csv"), atomically: true, encoding: .utf8)
        for (kind, file) in [("catalog", "catalog.json"), ("inventory", "inventory.csv")] {
            let r = try lake(["ingest", kind, dir.file(file), "--lake", root])
            #expect(r.status == 0, "\(r.err)")
        }
        let what = "units on hand of product PROD-001 over its warehouses"
        for report in ["inventory", "product-metrics"] {
            let r = try lake(["report", report, "--lake", root])
            #expect(r.status == 1 && r.err.contains(what), "report \(report): \(r.status) \(r.err)")
        }
        let dashboard = try lake(["dashboard", "--lake", root, "--out", dir.file("d.html")])
        #expect(dashboard.status == 1 && dashboard.err.contains(what), "dashboard: \(dashboard.status) \(dashboard.err)")
        let s = try ServerProcess(lake: root, ["--tokens", fx.tokens])
        defer { s.stop() }
        for path in ["/api/v1/inventory", "/api/v1/product_metrics", "/"] {
            let r = try await get(s.base + path, token: fx.token)
            #expect(r.status == 500 && r.body.contains(what), "\(path): \(r.status) \(r.body)")
            #expect(s.process.isRunning, "the server died on \(path): \(s.log)")
        }
        let health = try await get(s.base + "/healthz", token: fx.token)
        #expect(health.status == 200 && s.process.isRunning, "\(health.body)")
    }
}
