import Foundation
import LakeQuery
import LakeTestSupport
import Testing

/// Session 18 probe: figures at the edge of the decimal type. A catalog price at the
/// DECIMAL(18,2) maximum times three warehouses of 2^31 - 1 units is an inventory value of 26
/// integer digits (exact in 128 bits, as DuckDB's DECIMAL(38) product is); the text table cut
/// every cell past 28 characters, numbers too, so it printed "64424509409999999935575490.…".
@Suite struct WideFigureTests {
    @Test func numbersAreNeverCutInTextTables() {
        let value = Value.decimal(Int128(9_999_999_999_999_999_99) * 6_442_450_941, scale: 2)
        let note = String(repeating: "x", count: 40)
        let table = ResultTable(columns: ["inventory_value", "note"], rows: [[value, .string(note)]])
        let text = table.renderTable()
        #expect(text.contains("64424509409999999935575490.59"), "\(text)")
        // Text is still cut to keep rows within a terminal.
        #expect(text.contains(String(repeating: "x", count: 27) + "…") && !text.contains(note), "\(text)")
    }

    /// Into a pipe the table format cuts nothing: `lake query raw.orders --columns line | grep`
    /// searched lines cut at 28 characters and silently found nothing (until session 35).
    @Test func aTableIntoAPipeKeepsEveryCellWhole() throws {
        let dir = try TemporaryDirectory("wide-cells")
        defer { dir.remove() }
        let lake = LakeCommand(executable: packageRoot.appendingPathComponent(".build/debug/lake").path, root: dir.file("lake"))
        let line = #"{"order_id": "ORD-WIDE-1", "customer_id": "CUST-1", "timestamp": "2024-01-15T10:30:00Z", "channel": "web", "items": [{"product_id": "PROD-001", "quantity": 2, "unit_price": 29.99}], "shipping_address": {"country": "US", "state": "CA", "city": "San Francisco"}, "status": "confirmed", "gift_note": "a note long enough to be cut"}"#
        try (line + "\n").write(toFile: dir.file("orders.jsonl"), atomically: true, encoding: .utf8)
        _ = try lake(["ingest", "catalog", packageRoot.appendingPathComponent("Evaluation-Files/product_catalog.json").path])
        _ = try lake(["ingest", "orders", dir.file("orders.jsonl")])
        let raw = try lake(["query", "raw.orders", "--columns", "order_id,line"])
        #expect(raw.contains(line) && !raw.contains("…"), "\(raw)")
    }

    @Test func productMetricsPrintsAnInventoryValueOf26DigitsWhole() throws {
        let dir = try TemporaryDirectory("wide-figure")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let root = dir.file("lake")
        let lake = LakeCommand(executable: exe, root: root)
        try """
            [{"product_id": "PROD-001", "category": "Electronics", "brand": "SoundWave", "price": 9999999999999999.99,
              "launch_date": "2022-06-15T00:00:00.000Z", "description": "at the DECIMAL(18,2) maximum"}]
            """.write(toFile: dir.file("catalog.json"), atomically: true, encoding: .utf8)
        try """
            product_id,available_quantity,warehouse_location,last_updated
            PROD-001,2147483647,WH-SF,2024-01-03T08:15:00Z
            PROD-001,2147483647,WH-DAL,2024-01-03T08:15:00Z
            PROD-001,2147483647,WH-NY,2024-01-03T08:15:00Z

            """.write(toFile: dir.file("inventory.csv"), atomically: true, encoding: .utf8)
        _ = try lake(["ingest", "catalog", dir.file("catalog.json")])
        _ = try lake(["ingest", "inventory", dir.file("inventory.csv")])
        // 3 x 2147483647 = 6442450941 units on hand, x 9999999999999999.99.
        let table = try lake(["report", "product-metrics"])
        #expect(table.contains(" 6442450941 ") && table.contains(" 9999999999999999.99 "), "\(table)")
        #expect(table.contains(" 64424509409999999935575490.59"), "\(table)")
        let json = try lake(["report", "product-metrics", "--format", "json"])
        #expect(json.contains("\"inventory_value\": \"64424509409999999935575490.59\""), "\(json)")
    }
}
