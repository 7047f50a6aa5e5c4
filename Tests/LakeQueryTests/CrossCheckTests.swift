import Foundation
import LakeTestSupport
import Testing

/// The corrected Python script (Evaluation-Files/fixed_pipeline_code.py, see DEBUGGING.md) and
/// the lake compute the same reports from the same file independently: the script with
/// `decimal.Decimal` over its own parser, the lake with its byte parser, Parquet files and the
/// `lake report` CLI. Under the same rules (only confirmed orders are revenue, first occurrence
/// of an order id wins, orders naming a product outside the catalog are rejected, order totals
/// exact and averages rounded half-up) they must agree to the cent on Evaluation-Files.
@Suite("Cross-check: fixed_pipeline_code.py against lake reports")
struct CrossCheckTests {
    static let evaluation = packageRoot.appendingPathComponent("Evaluation-Files")

    /// Per (date, channel): confirmed revenue in cents, confirmed orders, distinct customers.
    struct DailyCell: Equatable, CustomStringConvertible {
        var revenueCents: Int64
        var orders: Int
        var customers: Int
        var description: String { "revenue \(revenueCents)c, \(orders) orders, \(customers) customers" }
    }

    @Test("Daily revenue, top customers and status counts are equal on Evaluation-Files")
    func reportsAgree() throws {
        let dir = try TemporaryDirectory("crosscheck")
        defer { dir.remove() }
        let lake = dir.file("lake")
        let orders = Self.evaluation.appendingPathComponent("orders_stream.jsonl").path
        let catalog = Self.evaluation.appendingPathComponent("product_catalog.json").path

        // The lake: catalog first, so orders are enriched and checked against it.
        for args in [["ingest", "catalog", catalog, "--lake", lake], ["ingest", "orders", orders, "--lake", lake]] {
            let r = try runLake(args)
            try #require(r.status == 0, "lake \(args.joined(separator: " ")) failed: \(r.err)")
        }

        // The script, run as a user would run it.
        let out = dir.file("processed.json")
        let script = try String(contentsOf: Self.evaluation.appendingPathComponent("fixed_pipeline_code.py"), encoding: .utf8)
        try Python.run(script, [orders, "--catalog", catalog, "--out", out, "--top", "10", "--log-level", "ERROR"])
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out))) as? [String: Any])

        // Daily revenue. The lake's report is finer (date, channel, country): sum it to the
        // script's grain. Distinct customers do not add up across countries, so they come
        // from a lake query over the same curated table.
        var lakeDaily: [String: DailyCell] = [:]
        for row in try lakeRows(["report", "daily-revenue", "--lake", lake, "--format", "json"]) {
            let key = "\(row["date"] as? String ?? "?") \(row["channel"] as? String ?? "?")"
            var cell = lakeDaily[key] ?? DailyCell(revenueCents: 0, orders: 0, customers: 0)
            cell.revenueCents += try cents(row["revenue"])
            cell.orders += row["orders"] as? Int ?? -1_000_000
            lakeDaily[key] = cell
        }
        lakeDaily = lakeDaily.filter { $0.value.orders > 0 }  // the script lists confirmed days only
        let distinct = try lakeRows([
            "query", "orders", "--lake", lake, "--where", "status = confirmed",
            "--group-by", "event_date,channel", "--agg", "count_distinct(customer_id)", "--format", "json",
        ])
        for row in distinct {
            let key = "\(row["event_date"] as? String ?? "?") \(row["channel"] as? String ?? "?")"
            lakeDaily[key]?.customers = row["count_distinct_customer_id"] as? Int ?? -1
        }

        var scriptDaily: [String: DailyCell] = [:]
        let scriptRows = try #require(document["daily_report"] as? [[String: Any]])
        for row in scriptRows {
            let key = "\(row["order_date"] as? String ?? "?") \(row["channel"] as? String ?? "?")"
            let cell = DailyCell(revenueCents: try cents(row["revenue"]), orders: row["orders"] as? Int ?? -1,
                                 customers: row["unique_customers"] as? Int ?? -1)
            scriptDaily[key] = cell
            // The script's average is revenue / orders rounded half-up; the lake's sums give the same.
            let expectedAverage = (2 * cell.revenueCents + Int64(cell.orders)) / (2 * Int64(cell.orders))
            #expect(try cents(row["avg_order_value"]) == expectedAverage, "\(key): average")
        }
        #expect(scriptRows.count > 50, "Evaluation-Files spans a month of dates and three channels")
        #expect(scriptDaily.count == scriptRows.count, "one script row per (date, channel)")
        #expect(Set(lakeDaily.keys) == Set(scriptDaily.keys))
        for (key, cell) in scriptDaily.sorted(by: { $0.key < $1.key }) {
            #expect(lakeDaily[key] == cell, "\(key): lake \(lakeDaily[key].map(String.init(describing:)) ?? "missing") vs script \(cell)")
        }

        // Top customers: same ids in the same order, same spend and order counts.
        let lakeTop = try lakeSection(["report", "customers", "--lake", lake, "--limit", "10", "--format", "json"],
                                      "top_customers_by_spend")
        let scriptTop = try #require(document["top_customers"] as? [[String: Any]])
        #expect(scriptTop.count == 10)
        #expect(lakeTop.map { $0["customer_id"] as? String } == scriptTop.map { $0["customer_id"] as? String })
        for (l, s) in zip(lakeTop, scriptTop) {
            #expect(try cents(l["spend"]) == cents(s["revenue"]), "\(s["customer_id"] ?? "?") spend")
            #expect(l["orders"] as? Int == s["orders"] as? Int, "\(s["customer_id"] ?? "?") orders")
        }

        // Accepted orders by status: the same deduplicated set on both sides.
        let summary = try #require(document["summary"] as? [String: Any])
        let scriptStatuses = try #require(summary["status_counts"] as? [String: Int])
        var lakeStatuses: [String: Int] = [:]
        for row in try lakeRows(["query", "orders", "--lake", lake, "--group-by", "status", "--agg", "count(*)", "--format", "json"]) {
            lakeStatuses[row["status"] as? String ?? "?"] = row["count"] as? Int ?? row["count_star"] as? Int ?? -1
        }
        #expect(lakeStatuses == scriptStatuses)
        // Repeated --group-by (and --columns) add up; the last one used to replace the others silently.
        let repeated = try runLake(["query", "orders", "--lake", lake, "--group-by", "status", "--group-by", "channel", "--agg", "count(*)",
                                    "--order-by", "status", "--order-by", "channel", "--format", "csv"])
        let listed = try runLake(["query", "orders", "--lake", lake, "--group-by", "status,channel", "--agg", "count(*)",
                                  "--order-by", "status", "--order-by", "channel", "--format", "csv"])
        #expect(repeated.status == 0 && repeated.out == listed.out && repeated.out.hasPrefix("status,channel,"), "\(repeated.out.prefix(200)) \(repeated.err)")
        #expect(summary["accepted"] as? Int == scriptStatuses.values.reduce(0, +))

        // What was not accepted: the same input lines on both sides (the lake keeps them in raw
        // with a reason; the script lists malformed, rejected and duplicate lines).
        let lakeRejected = try lakeRows([
            "query", "raw.orders", "--lake", lake, "--where", "reject_reason != ''",
            "--columns", "line_number,reject_reason", "--format", "json",
        ])
        var scriptNotAccepted: [Int] = []
        for key in ["malformed_lines", "rejected", "duplicates"] {
            let issues = try #require(document[key] as? [[String: Any]])
            scriptNotAccepted += issues.compactMap { $0["line"] as? Int }
        }
        #expect(scriptNotAccepted.count > 40, "Evaluation-Files carries malformed, invalid and repeated lines")
        #expect(lakeRejected.compactMap { $0["line_number"] as? Int }.sorted() == scriptNotAccepted.sorted())
        let lakeDuplicates = lakeRejected.filter { ($0["reject_reason"] as? String)?.contains("duplicate") == true }
        #expect(lakeDuplicates.count == (document["duplicates"] as? [Any])?.count)
    }

    /// The rows of a one-table `--format json` output.
    private func lakeRows(_ args: [String]) throws -> [[String: Any]] {
        let r = try runLake(args)
        guard r.status == 0 else { throw TestFailure("lake \(args.joined(separator: " ")) failed: \(r.err)") }
        guard let rows = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]] else {
            throw TestFailure("lake \(args.joined(separator: " ")) did not print a JSON array: \(r.out.prefix(200))")
        }
        return rows
    }

    /// One named table of a multi-table report's `--format json` output.
    private func lakeSection(_ args: [String], _ name: String) throws -> [[String: Any]] {
        let r = try runLake(args)
        guard r.status == 0 else { throw TestFailure("lake \(args.joined(separator: " ")) failed: \(r.err)") }
        guard let doc = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any],
              let rows = doc[name] as? [[String: Any]] else {
            throw TestFailure("lake \(args.joined(separator: " ")) has no JSON table \(name): \(r.out.prefix(200))")
        }
        return rows
    }

    /// Cents of a money string with exactly two decimals ("1234.50"), as both sides print money.
    private func cents(_ value: Any?) throws -> Int64 {
        guard let text = value as? String, let dot = text.firstIndex(of: "."),
              text.distance(from: dot, to: text.endIndex) == 3,
              let whole = Int64(text[..<dot]), let fraction = Int64(text[text.index(after: dot)...]) else {
            throw TestFailure("not a money string with two decimals: \(String(describing: value))")
        }
        return whole * 100 + fraction
    }
}
