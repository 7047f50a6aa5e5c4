import Foundation
import LakeTestSupport
import Testing

/// DuckDB's product figures by product id, grouped by the ids' bytes as DuckDB compares them.
private let duckdbProductFigures = Python.duckdbPrelude + """
root = sys.argv[1]
c = duck()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
sales = c.execute("SELECT product_id, sum(quantity), CAST(sum(line_revenue) AS VARCHAR) FROM l.curated.order_items WHERE status = 'confirmed' GROUP BY 1").fetchall()
stock = c.execute("SELECT product_id, sum(available_quantity) FROM l.curated.inventory GROUP BY 1").fetchall()
days = c.execute("SELECT DISTINCT CAST(event_date AS VARCHAR), channel, country FROM l.curated.orders").fetchall()
print(json.dumps({"sales": [[list(p.encode()), int(u), r] for p, u, r in sales], "stock": [[list(p.encode()), int(n)] for p, n in stock],
                  "groups": [[list("|".join(g).encode())] for g in days]}))
"""

/// Session 18 probe: two product ids that differ only in Unicode normalization ("PROD-é"
/// precomposed, and "e" + U+0301) are two products in the lake and in DuckDB, but equal Swift
/// Strings. The product reports keyed their figures by String: top-products, inventory,
/// product-metrics and the dashboard trapped ("Fatal error: Duplicate values for key", exit 132;
/// `lake serve` died on the same request). They are told apart by their bytes now.
@Suite struct CanonicallyEqualIDTests {
    @Test func productsWhoseIdsDifferOnlyInNormalizationAreReportedApart() throws {
        let dir = try TemporaryDirectory("canonical-ids")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let root = dir.file("lake")
        let lake = LakeCommand(executable: exe, root: root)
        let nfc = "PROD-\u{E9}", nfd = "PROD-e\u{301}"
        #expect(nfc == nfd && Array(nfc.utf8) != Array(nfd.utf8), "equal Strings, different bytes")
        let (cafeC, cafeD) = ("Caf\u{E9}", "Cafe\u{301}")  // categories that look alike too
        let catalog = [(nfc, cafeC, "10.00"), (nfd, cafeD, "20.00"), ("PROD-001", "Plain", "5.00")].map {
            #"{"product_id": "\#($0.0)", "category": "\#($0.1)", "brand": "B", "price": \#($0.2), "launch_date": "2022-06-15T00:00:00.000Z", "description": "x"}"#
        }
        try ("[" + catalog.joined(separator: ",\n") + "]").write(toFile: dir.file("catalog.json"), atomically: true, encoding: .utf8)
        let orders = [(nfc, "10.00", 1), (nfd, "20.00", 2), (nfd, "20.00", 1), (nfc, "10.00", 3), ("PROD-001", "5.00", 1)].enumerated().map { i, o in
            #"{"order_id": "ORD-\#(i)", "customer_id": "CUST-\#(i % 2)", "timestamp": "2024-01-02T1\#(i):00:00Z", "channel": "web", "#
                + #""items": [{"product_id": "\#(o.0)", "quantity": \#(o.2), "unit_price": \#(o.1)}], "#
                + #""shipping_address": {"country": "\#(["E\u{301}", "US", "\u{C9}", "US", "US"][i])", "state": "CA", "city": "LA"}, "status": "confirmed"}"#
        }
        try (orders.joined(separator: "\n") + "\n").write(toFile: dir.file("orders.jsonl"), atomically: true, encoding: .utf8)
        try "product_id,available_quantity,warehouse_location,last_updated\n\(nfc),5,WH-1,2024-01-03T08:15:00Z\n\(nfd),7,WH-1,2024-01-03T08:15:00Z\n"
            .write(toFile: dir.file("inventory.csv"), atomically: true, encoding: .utf8)
        _ = try lake(["ingest", "catalog", dir.file("catalog.json")])
        _ = try lake(["ingest", "orders", dir.file("orders.jsonl")])
        _ = try lake(["ingest", "inventory", dir.file("inventory.csv")])

        let peer = try #require(try Python.json(duckdbProductFigures, [root]) as? [String: [[Any]]])
        func bytes(_ a: Any) -> [UInt8] { (a as? [NSNumber] ?? []).map { $0.uint8Value } }
        let sales = Dictionary(uniqueKeysWithValues: (peer["sales"] ?? []).map { (bytes($0[0]), ($0[1] as? Int ?? -1, $0[2] as? String ?? "")) })
        let stock = Dictionary(uniqueKeysWithValues: (peer["stock"] ?? []).map { (bytes($0[0]), $0[1] as? Int ?? -1) })
        #expect(sales.count == 3 && stock.count == 2, "DuckDB tells the ids apart: \(peer)")
        func rows(_ report: String) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(try lake(["report", report, "--format", "json", "--limit", "100"]).utf8)) as? [[String: Any]])
        }
        for report in ["top-products", "product-metrics"] {
            let got = try rows(report)
            #expect(got.count == 3, "\(report): \(got)")
            for row in got {
                let id = Array((row["product_id"] as? String ?? "").utf8)
                #expect(row["units"] as? Int == sales[id]?.0 && row["revenue"] as? String == sales[id]?.1, "\(report) \(id): \(row), DuckDB \(String(describing: sales[id]))")
            }
            #expect(Set(got.map { Array(($0["product_id"] as? String ?? "").utf8) }) == Set(sales.keys), "\(report): every product once")
        }
        let metrics = try rows("product-metrics")
        for row in metrics where stock[Array((row["product_id"] as? String ?? "").utf8)] != nil {
            let id = Array((row["product_id"] as? String ?? "").utf8)
            #expect(row["on_hand"] as? Int == stock[id], "product-metrics on_hand \(id): \(row)")
            #expect(Array((row["category"] as? String ?? "").utf8) == Array((id == Array(nfc.utf8) ? cafeC : cafeD).utf8), "\(row)")
        }
        // --category by bytes, as DuckDB's WHERE category = 'Café' (String == took both).
        let cafe = try #require(try JSONSerialization.jsonObject(with: Data(try lake(["report", "product-metrics", "--category", cafeC, "--format", "json"]).utf8)) as? [[String: Any]])
        #expect(cafe.map { Array(($0["product_id"] as? String ?? "").utf8) } == [Array(nfc.utf8)], "\(cafe)")
        let inventory = try rows("inventory")
        #expect(inventory.count == 2 && inventory.allSatisfy { stock[Array(($0["product_id"] as? String ?? "").utf8)] == $0["on_hand"] as? Int }, "\(inventory)")
        _ = try lake(["dashboard", "--out", dir.file("dashboard.html")])

        // report diff matched rows by their keys as Strings: of two countries (or products) that
        // differ only in normalization, one was missing from the diff.
        func diff(_ report: String, _ from: Int, _ to: Int) throws -> [[String: Any]] {
            try #require(try JSONSerialization.jsonObject(with: Data(try lake(["report", "diff", report, "--from-snapshot", "\(from)", "--to-snapshot", "\(to)",
                                                                               "--format", "json"]).utf8)) as? [[String: Any]])
        }
        let added = try diff("daily-revenue", 1, 2).filter { $0["change"] as? String == "added" && $0["column"] as? String == "orders" }
        #expect(added.count == 3, "one day, three countries (two equal as Strings): \(added)")
        let keys = Set(added.map { row in Array(["date", "channel", "country"].map { row[$0] as? String ?? "" }.joined(separator: "|").utf8) })
        #expect(keys == Set((peer["groups"] ?? []).map { bytes($0[0]) }), "daily-revenue diff: \(added)")
        let stocked = try diff("inventory", 2, 3).filter { $0["change"] as? String == "added" && $0["column"] as? String == "on_hand" }
        #expect(Set(stocked.map { Array(($0["product_id"] as? String ?? "").utf8) }) == Set(stock.keys), "inventory diff: \(stocked)")
    }

    /// `lake delete` of one order collected the ids whose items it cascades to in a Set<String>:
    /// it also deleted the items of the order whose id differs only in normalization (5 rows
    /// deleted for 3). `lake erase customer` matched the customer id with String ==: it erased
    /// the other customer's orders in the same file too. Both match by bytes now.
    @Test func deletesAndErasuresMatchIDsByBytes() throws {
        let dir = try TemporaryDirectory("canonical-ids-delete")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        func lake(_ root: String, _ args: [String]) throws -> String { try LakeCommand(executable: exe, root: root)(args) }
        let (orderC, orderD) = ("ORD-\u{E9}", "ORD-e\u{301}"), (custC, custD) = ("CUST-\u{E9}", "CUST-e\u{301}")
        try #"[{"product_id": "PROD-001", "category": "C", "brand": "B", "price": 1.00, "launch_date": "2022-06-15T00:00:00.000Z", "description": "x"}]"#
            .write(toFile: dir.file("catalog.json"), atomically: true, encoding: .utf8)
        // The two look-alike orders on one day and channel: one file per table.
        // ORD-N is the decomposed customer's, with the precomposed id in another field of its raw line.
        let orders = [(orderC, custC, "02"), (orderD, custD, "02"), ("ORD-F", custC, "03"), ("ORD-Z", "CUST-Z", "04"), ("ORD-N", custD, "05")].map { o in
            #"{"order_id": "\#(o.0)", "customer_id": "\#(o.1)", \#(o.0 == "ORD-N" ? "\"note\": \"\(custC)\", " : "")"timestamp": "2024-01-\#(o.2)T10:00:00Z", "channel": "web", "items": "#
                + #"[{"product_id": "PROD-001", "quantity": 1, "unit_price": 1.00}, {"product_id": "PROD-001", "quantity": 2, "unit_price": 1.00}], "#
                + #""shipping_address": {"country": "US", "state": "X", "city": "Y"}, "status": "confirmed"}"#
        }
        try (orders.joined(separator: "\n") + "\n").write(toFile: dir.file("orders.jsonl"), atomically: true, encoding: .utf8)
        func items(_ root: String) throws -> [[UInt8]: Int] {
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(try lake(root, ["query", "order_items", "--group-by", "order_id", "--agg", "count(*)",
                                                                                                   "--format", "json"]).utf8)) as? [[String: Any]])
            return Dictionary(uniqueKeysWithValues: rows.map { (Array(($0["order_id"] as? String ?? "").utf8), $0["count"] as? Int ?? -1) })
        }
        func ids(_ root: String, _ table: String, _ column: String) throws -> Set<[UInt8]> {
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(try lake(root, ["query", table, "--columns", column, "--format", "json"]).utf8)) as? [[String: Any]])
            return Set(rows.map { Array(($0[column] as? String ?? "").utf8) })
        }
        for root in [dir.file("deleted"), dir.file("erased"), dir.file("checked")] {
            _ = try lake(root, ["ingest", "catalog", dir.file("catalog.json")])
            _ = try lake(root, ["ingest", "orders", dir.file("orders.jsonl")])
        }
        let deleted = dir.file("deleted")
        let out = try lake(deleted, ["delete", "curated.orders", "--where", "order_id = \(orderC)"])
        #expect(out.contains("Deleted 3 rows"), "the order and its 2 items: \(out)")
        let left = try items(deleted)
        #expect(left[Array(orderC.utf8)] == nil && left[Array(orderD.utf8)] == 2 && left.count == 4, "\(left)")

        let erased = dir.file("erased")
        _ = try lake(erased, ["erase", "customer", custC])
        #expect(try ids(erased, "orders", "customer_id") == [Array(custD.utf8), Array("CUST-Z".utf8)])
        #expect(try ids(erased, "orders", "order_id") == [Array(orderD.utf8), Array("ORD-Z".utf8), Array("ORD-N".utf8)])
        let kept = try items(erased)
        #expect(kept[Array(orderD.utf8)] == 2 && kept[Array("ORD-Z".utf8)] == 2 && kept.count == 3, "\(kept)")
        #expect(try ids(erased, "raw.orders", "order_id") == [Array(orderD.utf8), Array("ORD-Z".utf8), Array("ORD-N".utf8)])

        // After any delete the quality checks rescan the tables, keyed by order id: the two
        // look-alike orders were one id seen twice (uniqueness.curated failed) whose total did not
        // match both orders' items (consistency failed), and `lake quality check` alerted.
        let checked = dir.file("checked")
        _ = try lake(checked, ["delete", "curated.orders", "--where", "order_id = ORD-Z"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(try lake(checked, ["quality", "report", "--format", "json"]).utf8)) as? [String: Any])
        let checks = try #require(report["checks_per_batch"] as? [[String: Any]])
        let failed = checks.filter { ($0["passed"] as? Bool) == false }.map { "\($0["check"] ?? "") \($0["detail"] ?? "")" }
        #expect(failed.isEmpty, "\(failed)")
        #expect(checks.contains { $0["check"] as? String == "uniqueness.curated" })
        // (ORD-N's extra field is schema drift, an alert of its own.)
        let alerts = try runProcess(exe, ["quality", "check", "--lake", checked])
        #expect(!alerts.out.contains("uniqueness") && !alerts.out.contains("consistency") && alerts.out.contains("schema_drift"), "\(alerts.out)")
    }

    /// DuckDB deletes both look-alike orders; a compaction drops their rows and records the ids
    /// (`DeletedOrderIDs`), a vacuum forgets the delete files. The record kept the ids in a
    /// Set<String>: one of the two went unrecorded and `lake quality check` alerted ("3 curated
    /// orders for 5 accepted raw lines (and 1 deleted …)") on a lake nothing was missing from.
    @Test func deletedLookAlikeOrdersAreBothRecorded() throws {
        let dir = try TemporaryDirectory("canonical-ids-record")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let root = dir.file("lake")
        let lake = LakeCommand(executable: exe, root: root)
        try #"[{"product_id": "PROD-001", "category": "C", "brand": "B", "price": 1.00, "launch_date": "2022-06-15T00:00:00.000Z", "description": "x"}]"#
            .write(toFile: dir.file("catalog.json"), atomically: true, encoding: .utf8)
        let orders = [("ORD-\u{E9}", "02"), ("ORD-e\u{301}", "02"), ("ORD-F", "03"), ("ORD-Z", "04")].map { o in
            #"{"order_id": "\#(o.0)", "customer_id": "CUST-1", "timestamp": "2024-01-\#(o.1)T10:00:00Z", "channel": "web", "#
                + #""items": [{"product_id": "PROD-001", "quantity": 1, "unit_price": 1.00}], "#
                + #""shipping_address": {"country": "US", "state": "X", "city": "Y"}, "status": "confirmed"}"#
        }
        try (orders.joined(separator: "\n") + "\n").write(toFile: dir.file("orders.jsonl"), atomically: true, encoding: .utf8)
        _ = try lake(["ingest", "catalog", dir.file("catalog.json")])
        _ = try lake(["ingest", "orders", dir.file("orders.jsonl")])
        try Python.run(Python.duckdbPrelude + """
            root = sys.argv[1]
            c = duck()
            c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE)")
            c.execute("DELETE FROM l.curated.orders WHERE event_date = DATE '2024-01-02'")
            c.execute("DELETE FROM l.curated.order_items WHERE event_date = DATE '2024-01-02'")
            """, [root])
        _ = try lake(["compact", "curated.orders"])
        _ = try lake(["compact", "curated.order_items"])
        _ = try lake(["vacuum", "--retain", "0s", "--force"])
        let check = try lake(["quality", "check"])
        #expect(check.contains("0 alert(s)"), "\(check)")
    }
}
