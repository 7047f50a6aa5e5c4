import Foundation
import LakeTestSupport
import Testing

/// Twelve orders at 9,000,000,000,000,000.00 each, ingested six at a time (each batch's figures
/// fit): every command that sums their revenue must fail with a typed error naming what
/// overflowed. They run as subprocesses so a trap fails the test instead of the runner.
@Suite("Reports, quality and metrics: money sums that overflow are an error, never a trap", .serialized)
struct SumOverflowReportTests {

    @Test("each report, quality check/report (stored and rescanned), metrics, dashboard and query: exit 1 naming the overflowing figure")
    func everyCommandFailsCleanly() throws {
        let dir = try TemporaryDirectory("bigmoney-reports")
        defer { dir.remove() }
        let root = try bigMoneyLake(in: dir)
        let cases: [([String], String)] = [
            (["report", "daily-revenue"], "daily-revenue: units or revenue of 2024-01-15 web US"),
            (["report", "customers"], "spend of customer CUST-1"),
            (["report", "top-customers"], "spend of customer CUST-1"),
            (["report", "top-products"], "revenue of product PROD-001"),
            (["report", "product-metrics"], "revenue of product PROD-001"),
            (["report", "inventory"], "revenue of product PROD-001"),
            (["quality", "check"], "confirmed revenue of 2024-01-15 web"),
            (["quality", "check", "--rescan"], "confirmed revenue of 2024-01-15 web"),
            (["quality", "report"], "confirmed revenue of 2024-01-15 web"),
            (["metrics"], "confirmed revenue of 2024-01-15 web"),
            (["dashboard", "--out", dir.file("d.html")], "confirmed revenue of 2024-01-15 web"),
            (["query", "orders", "--agg", "sum(order_total)"], "query: a sum"),
        ]
        for (args, names) in cases {
            let r = try runLake(args + ["--lake", root])
            #expect(r.status == 1, "lake \(args.joined(separator: " ")) exited \(r.status) (a trap is 4 or 132): \(r.err)")
            #expect(r.err.contains("overflowed 64-bit integers") && r.err.contains(names), "lake \(args.joined(separator: " ")): \(r.err)")
        }
        // Reports that do not sum the money still answer.
        let ops = try runLake(["report", "operations", "--lake", root])
        #expect(ops.status == 0, "\(ops.err)")
    }
}
