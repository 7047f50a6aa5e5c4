import Foundation
import LakeTestSupport
import Testing

/// A warehouse with nothing on hand while its product sells has 0 days of cover, not an unknown
/// one: the inventory report said null (product-metrics said 0), so `--min-days-of-cover` never
/// flagged the product that had run out. Found by an exploratory test, session 33.
@Suite struct StockCoverTests {
    @Test func nothingOnHandWhileSellingIsZeroDaysOfCover() throws {
        let dir = try TemporaryDirectory("stock-cover")
        defer { dir.remove() }
        let input = dir.file("in")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try #"[{"product_id": "P1", "category": "C", "brand": "B", "price": 10.00}, {"product_id": "P2", "category": "C", "brand": "B", "price": 10.00}]"#
            .write(toFile: input + "/product_catalog.json", atomically: true, encoding: .utf8)
        try "product_id,available_quantity,warehouse_location,last_updated\nP1,0,WH-A,2024-01-02T00:00:00Z\nP2,0,WH-A,2024-01-02T00:00:00Z\n"
            .write(toFile: input + "/inventory_updates.csv", atomically: true, encoding: .utf8)
        try (#"{"order_id": "O1", "customer_id": "C1", "timestamp": "2024-01-01T10:00:00Z", "channel": "web", "items": [{"product_id": "P1", "quantity": 5, "unit_price": 10.00}], "shipping_address": {"country": "US"}, "status": "confirmed"}"# + "\n")
            .write(toFile: input + "/orders_stream.jsonl", atomically: true, encoding: .utf8)
        let root = dir.file("lake")
        let run = try runLake(["run", "--lake", root, "--input", input, "--quiet"])
        #expect(run.status == 0, "\(run.err)")
        let inventory = try runLake(["report", "inventory", "--lake", root, "--low-stock", "0", "--min-days-of-cover", "7", "--format", "csv"])
        #expect(inventory.status == 0, "\(inventory.err)")
        let rows = inventory.out.split(separator: "\n").map(String.init)
        // P1 sells and has none: 0 days, low. P2 sells nothing: cover unknown, not low at --low-stock 0.
        #expect(rows.contains("P1,WH-A,0,5,,0,true"), "\(rows)")
        #expect(rows.contains("P2,WH-A,0,0,,,false"), "\(rows)")
        let metrics = try runLake(["report", "product-metrics", "--lake", root, "--format", "csv"])
        #expect(metrics.out.split(separator: "\n").contains { $0.hasPrefix("P1,") && $0.hasSuffix(",0") }, "\(metrics.out)")
    }
}
