import Foundation
import LakeTestSupport
import Testing

/// README's "Schema v2 of orders" walkthrough, run as written with the `lake` binary: a lake
/// created at orders v1, a v2 source refused, the migration planned and run, the source
/// accepted, and time travel back to the v1 table.
@Suite("README v2 walkthrough")
struct WalkthroughTests {
    @Test("init at orders v1, v2 source refused, migrate dry-run and real, accepted, time travel")
    func v2Walkthrough() throws {
        let dir = try TemporaryDirectory("walkthrough")
        defer { dir.remove() }
        let lake = ["--lake", dir.file("lake")]
        func lakeOK(_ args: [String]) throws -> String {
            let r = try runLake(args + lake)
            try #require(r.status == 0, "lake \(args.joined(separator: " ")): \(r.err)")
            return r.out
        }
        func rows(_ args: [String]) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(try lakeOK(args + ["--format", "json"]).utf8)) as? [[String: Any]])
        }
        func latestSnapshot() throws -> Int { try #require(try rows(["snapshots"]).compactMap { $0["snapshot_id"] as? Int }.max()) }

        let initOut = try lakeOK(["init", "--schema-version", "orders=1"])
        #expect(initOut.contains("curated.orders"), "\(initOut)")
        // v1 history to travel back to, and v2 lines with other order ids (another seed).
        _ = try runLake(["generate", "--out", dir.file("v1"), "--orders", "300", "--seed", "7"])
        _ = try runLake(["generate", "--out", dir.file("v2"), "--orders", "300", "--seed", "8", "--schema-version", "2"])
        _ = try lakeOK(["ingest", "catalog", dir.file("v1/product_catalog.json")])
        _ = try lakeOK(["ingest", "orders", dir.file("v1/orders_stream.jsonl")])
        let v1Columns = Set(try #require(try rows(["query", "orders", "--limit", "1"]).first).keys)
        #expect(v1Columns.contains("city") && !v1Columns.contains("currency"), "the table was created at v1: \(v1Columns.sorted())")

        let refused = try runLake(["ingest", "orders", dir.file("v2/orders_stream.jsonl")] + lake)
        #expect(refused.status == 1)
        #expect(refused.err.contains("belongs to orders schema v2, but the lake's orders table is at v1"), "\(refused.err)")
        #expect(refused.err.contains("lake schema migrate orders --to 2"), "\(refused.err)")
        let beforeMigration = try latestSnapshot()

        let plan = try lakeOK(["schema", "migrate", "orders", "--to", "2", "--dry-run"])
        #expect(plan.contains("city") && plan.contains("shipping_city") && plan.contains("currency"), "\(plan)")
        #expect(try latestSnapshot() == beforeMigration, "a dry run commits nothing")
        _ = try lakeOK(["schema", "migrate", "orders", "--to", "2"])
        // Run again (a retry after a crash that followed the commit): exit 0, nothing committed.
        let migrated = try latestSnapshot()
        let again = try lakeOK(["schema", "migrate", "orders", "--to", "2"])
        #expect(again.contains("curated.orders is already at schema v2") && again.contains("nothing committed"), "\(again)")
        #expect(try latestSnapshot() == migrated)
        _ = try lakeOK(["ingest", "orders", dir.file("v2/orders_stream.jsonl")])

        let now = try rows(["query", "orders"])
        #expect(now.allSatisfy { $0["shipping_city"] != nil && $0["city"] == nil })
        #expect(now.contains { $0["currency"] as? String != "USD" }, "v2 values from the source")
        let then = try rows(["query", "orders", "--as-of", String(beforeMigration)])
        #expect(!then.isEmpty && then.allSatisfy { $0["city"] != nil && $0["currency"] == nil }, "time travel reads the v1 schema")
        #expect(then.count < now.count)
    }
}
