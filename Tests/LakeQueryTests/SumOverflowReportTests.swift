import Foundation
import LakeTestSupport
import Testing

/// Twelve orders at 9,000,000,000,000,000.00 each, ingested six at a time: the lake's confirmed
/// revenue of 2024-01-15 web is 108000000000000000.00, past Int64 cents. DuckDB sums such
/// columns in 128 bits (DECIMAL(38,2)); every lake answer that shows money must equal its
/// digits. They run as subprocesses, so a trap fails the test instead of the runner.
@Suite("Reports, quality, metrics and dashboard on money sums past Int64 equal DuckDB's", .serialized)
struct SumOverflowReportTests {
    struct Failed: Error, CustomStringConvertible { var description: String }

    static func json(_ args: [String], _ root: String) throws -> Any {
        let r = try runLake(args + ["--format", "json", "--lake", root])
        guard r.status == 0 else { throw Failed(description: "lake \(args.joined(separator: " ")) exited \(r.status): \(r.err)") }
        return try JSONSerialization.jsonObject(with: Data(r.out.utf8))
    }

    static func rows(_ args: [String], _ root: String, section: String? = nil) throws -> [[String: Any]] {
        let doc = try json(args, root)
        let rows = section.map { (doc as? [String: Any])?[$0] } ?? doc
        guard let rows = rows as? [[String: Any]] else { throw Failed(description: "lake \(args.joined(separator: " ")): not rows: \(doc)") }
        return rows
    }

    @Test("each report's money, lake query, quality check/report (stored and rescanned), metrics and the dashboard: DuckDB's exact digits")
    func everyAnswerEqualsDuckDB() throws {
        let dir = try TemporaryDirectory("bigmoney-reports")
        defer { dir.remove() }
        let root = try bigMoneyLake(in: dir)
        let peer = try duckDBMoneyFigures(root: root)
        #expect(peer["total"] == "108000000000000000.00", "\(peer)")

        let daily = try Self.rows(["report", "daily-revenue"], root)
        #expect(daily.count == 1)
        for row in daily {
            let key = "\(row["date"] as? String ?? "") \(row["channel"] as? String ?? "") \(row["country"] as? String ?? "")"
            #expect(row["revenue"] as? String == peer["daily:" + key], "daily-revenue \(key): \(row)")
            #expect((row["units"] as? Int).map(String.init) == peer["daily-units:" + key], "daily-revenue \(key): \(row)")
        }
        for (args, section, money) in [(["report", "customers"], "top_customers_by_spend", "spend"), (["report", "top-customers"], nil, "lifetime_value")] {
            let top = try Self.rows(args, root, section: section)
            #expect(!top.isEmpty)
            for row in top {
                let id = row["customer_id"] as? String ?? ""
                #expect(row[money] as? String == peer["customer:" + id], "\(args): \(row)")
                #expect(row["avg_order_value"] as? String == peer["customer-avg:" + id], "\(args): \(row)")
            }
        }
        let summary = try Self.rows(["report", "customers"], root, section: "customer_summary")
        #expect(summary.first?["avg_order_value"] as? String == peer["avg"], "\(summary)")
        for args in [["report", "top-products"], ["report", "product-metrics"]] {
            let sold = try Self.rows(args, root).filter { peer["product:" + ($0["product_id"] as? String ?? "")] != nil }
            #expect(sold.count == 1, "\(args)")
            for row in sold {
                let id = row["product_id"] as? String ?? ""
                #expect(row["revenue"] as? String == peer["product:" + id], "\(args): \(row)")
                #expect((row["units"] as? Int).map(String.init) == peer["product-units:" + id], "\(args): \(row)")
            }
        }
        let inventory = try Self.rows(["report", "inventory", "--limit", "1000"], root)
        #expect(inventory.contains { $0["product_id"] as? String == "PROD-001" && ($0["units_sold"] as? Int).map(String.init) == peer["product-units:PROD-001"] })

        let query = try Self.rows(["query", "orders", "--where", "status = confirmed", "--group-by", "channel", "--agg", "sum(order_total)",
                                   "--agg", "avg(order_total)"], root)
        #expect(query.count == 1)
        for row in query {
            #expect(row["sum_order_total"] as? String == peer["channel:" + (row["channel"] as? String ?? "")], "\(row)")
            #expect(row["avg_order_total"] as? String == peer["avg"], "\(row)")
        }

        // Quality from the stored figures and from a rescan: both score the lake, the same.
        for args in [["quality", "check"], ["quality", "check", "--rescan"]] {
            let r = try runLake(args + ["--lake", root])
            #expect(r.status == 0 && r.out.contains("score 100.0"), "lake \(args.joined(separator: " ")): \(r.out)\(r.err)")
        }
        let quality = try Self.rows(["quality", "report"], root, section: "quality_summary")
        #expect(quality.first?["lake_score"] as? Double == 100, "\(quality)")
        let metrics = try runLake(["metrics", "--lake", root])
        #expect(metrics.status == 0 && metrics.out.contains("lake_quality_score{batch=\"all\"} 100\n"), "\(metrics.err)")
        let page = dir.file("d.html")
        let dashboard = try runLake(["dashboard", "--out", page, "--lake", root])
        #expect(dashboard.status == 0, "\(dashboard.err)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(html.contains("data-total-revenue=\"all\">\(peer["total"] ?? "-")<"), "dashboard total")
        #expect(html.contains("data-total-revenue=\"web\">\(peer["channel:web"] ?? "-")<"), "dashboard web")
    }
}
