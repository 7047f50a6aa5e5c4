import Foundation
import LakeCatalog
import LakeFormat
@testable import LakeQuery
import LakeTestSupport
import Testing

/// The same orders in DuckDB 1.5.5's ORDER BY: VARCHARs by bytes, NULLs last in either direction.
private let duckdbOrders = Python.duckdbPrelude + """
root = sys.argv[1]
c = duck()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
def ids(sql): return [list(r[0].encode()) for r in c.execute(sql).fetchall()]
print(json.dumps({
    "top": ids("SELECT customer_id FROM l.curated.orders WHERE status = 'confirmed' GROUP BY 1 ORDER BY sum(order_total) DESC, count(*) DESC, customer_id"),
    "countries": ids("SELECT country FROM l.curated.orders WHERE status = 'confirmed' GROUP BY event_date, channel, country ORDER BY event_date, channel, country"),
    "byCustomer": ids("SELECT order_id FROM l.curated.orders ORDER BY customer_id, order_id"),
    "byCustomerDesc": ids("SELECT order_id FROM l.curated.orders ORDER BY customer_id DESC, order_id"),
    "byReasonDesc": ids("SELECT order_id FROM l.raw.orders ORDER BY reject_reason DESC, order_id"),
}))
"""

/// Session 19 probe: ties in `lake report customers` / `top-customers`, the groups of
/// daily-revenue and `lake query --order-by` compared Swift Strings, whose order is canonical
/// (an "e" + U+0301 sorts as a precomposed "é", after "f"), where DuckDB orders a VARCHAR by its
/// bytes ("e" + U+0301 before "f" before "é"). And `--order-by "c desc"` put NULLs first, DuckDB
/// last. Both now as DuckDB.
@Suite struct ByteOrderTests {
    @Test func tiesAndOrderByFollowDuckDBsByteOrder() throws {
        let dir = try TemporaryDirectory("byte-order")
        defer { dir.remove() }
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let root = dir.file("lake")
        let lake = LakeCommand(executable: exe, root: root)
        try #"[{"product_id": "PROD-1", "category": "C", "brand": "B", "price": 10.00, "launch_date": "2022-06-15T00:00:00.000Z", "description": "x"}]"#
            .write(toFile: dir.file("catalog.json"), atomically: true, encoding: .utf8)
        // Equal spend and orders: the customers tie; one day and channel: the countries order the groups.
        let customers = ["CUST-e\u{301}x", "CUST-\u{E9}a", "CUST-f", "CUST-e\u{301}b", "CUST-\u{E9}"]
        let countries = ["E\u{301}X", "\u{C9}A", "F", "E\u{301}B", "\u{C9}"]
        var lines = zip(customers, countries).enumerated().map { i, p in
            #"{"order_id": "ORD-\#(i)", "customer_id": "\#(p.0)", "timestamp": "2024-01-02T10:00:00Z", "channel": "web", "#
                + #""items": [{"product_id": "PROD-1", "quantity": 1, "unit_price": 10.00}], "#
                + #""shipping_address": {"country": "\#(p.1)", "state": "CA", "city": "LA"}, "status": "confirmed"}"#
        }
        lines.append(#"{"order_id": "ORD-9", "customer_id": "CUST-z", "timestamp": "2024-01-02T10:00:00Z", "channel": "web", "items": [{"product_id": "PROD-1", "quantity": 0, "unit_price": 10.00}], "shipping_address": {"country": "US", "state": "CA", "city": "LA"}, "status": "confirmed"}"#)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir.file("orders.jsonl"), atomically: true, encoding: .utf8)
        try lake(["ingest", "catalog", dir.file("catalog.json")])
        try lake(["ingest", "orders", dir.file("orders.jsonl")])

        let peer = try #require(try Python.json(duckdbOrders, [root]) as? [String: [[NSNumber]]])
        func expected(_ key: String) -> [[UInt8]] { (peer[key] ?? []).map { $0.map(\.uint8Value) } }
        #expect(expected("top").count == 5 && expected("byReasonDesc").count == 6, "\(peer)")
        func column(_ csv: String, _ index: Int) -> [[UInt8]] {
            csv.split(separator: "\n").dropFirst().map { Array(String($0.split(separator: ",", omittingEmptySubsequences: false)[index]).utf8) }
        }
        #expect(column(try lake(["report", "top-customers", "--format", "csv"]), 0) == expected("top"), "top-customers")
        // The customers report's first section: the top customers.
        let section = try lake(["report", "customers", "--format", "csv"]).components(separatedBy: "\n\n")[0]
        #expect(column(section.split(separator: "\n").dropFirst().joined(separator: "\n"), 0) == expected("top"), "customers: \(section)")
        #expect(column(try lake(["report", "daily-revenue", "--format", "csv"]), 2) == expected("countries"), "daily-revenue")
        for (order, key) in [("customer_id", "byCustomer"), ("customer_id desc", "byCustomerDesc")] {
            let got = try lake(["query", "curated.orders", "--columns", "order_id,customer_id", "--order-by", order, "--order-by", "order_id", "--format", "csv"])
            #expect(column(got, 0) == expected(key), "query --order-by \(order): \(got)")
        }
        let reasons = try lake(["query", "raw.orders", "--columns", "order_id,reject_reason", "--order-by", "reject_reason desc", "--order-by", "order_id", "--format", "csv"])
        #expect(column(reasons, 0) == expected("byReasonDesc"), "NULLs last in desc too: \(reasons)")
    }

    /// A lake of 50 generated orders over 5 days in `dir`, for DuckDB to add look-alike channels to.
    static func fiftyOrderLake(_ dir: TemporaryDirectory) throws -> (exe: String, root: String, lake: LakeCommand) {
        let exe = packageRoot.appendingPathComponent(".build/debug/lake").path
        let root = dir.file("lake"), src = dir.file("src")
        let lake = LakeCommand(executable: exe, root: root)
        _ = try runProcess(exe, ["generate", "--out", src, "--orders", "50", "--days", "5", "--seed", "9"])
        try lake(["ingest", "catalog", src + "/product_catalog.json"])
        try lake(["ingest", "orders", src + "/orders_stream.jsonl"])
        return (exe, root, lake)
    }

    /// A channel the lake holds only in one Unicode normalization (DuckDB inserted "wéb"
    /// precomposed): `--channel` with the other one was accepted (String ==) and its filter, by
    /// bytes, matched nothing: an empty report, exit 0. Refused now, as any channel the lake lacks.
    @Test func aChannelIsMatchedByItsBytes() throws {
        let dir = try TemporaryDirectory("byte-channel")
        defer { dir.remove() }
        let (exe, root, lake) = try Self.fiftyOrderLake(dir)
        try Python.run(Python.duckdbPrelude + """
        root = sys.argv[1]
        c = duck()
        c.execute("SET TimeZone = 'UTC'")
        c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
        insert_duck_order(c, "l", "DUCK-1", "w\\u00e9b")
        """, [root])
        let nfc = try lake(["report", "daily-revenue", "--channel", "w\u{E9}b", "--format", "csv"])
        #expect(nfc.contains("100.05"), "\(nfc)")
        let nfd = try runProcess(exe, ["report", "daily-revenue", "--channel", "we\u{301}b", "--format", "csv", "--lake", root])
        #expect(nfd.status == 64 && nfd.err.contains("is not a channel") && nfd.err.contains("also hold w\u{E9}b"), "exit \(nfd.status): \(nfd.out)\(nfd.err)")
    }

    /// Session 20: the anomaly detector's daily series (and the dashboard built on it) keyed
    /// channels by Swift String, so DuckDB's "w\u{E9}b" and "we\u{301}b" were one series there
    /// while daily-revenue, `lake query` and DuckDB count them apart. Now by bytes, as DuckDB's
    /// GROUP BY channel.
    @Test func anomalySeriesKeepsLookAlikeChannelsApart() throws {
        let dir = try TemporaryDirectory("byte-series")
        defer { dir.remove() }
        let root = try Self.fiftyOrderLake(dir).root
        let peer = try Python.json(Python.duckdbPrelude + """
        root = sys.argv[1]
        c = duck()
        c.execute("SET TimeZone = 'UTC'")
        c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
        insert_duck_order(c, "l", "DUCK-1", "w\\u00e9b")
        insert_duck_order(c, "l", "DUCK-2", "we\\u0301b")
        insert_duck_order(c, "l", "DUCK-3", "we\\u0301b")
        print(json.dumps([[list(ch.encode()), n] for ch, n in c.execute("SELECT channel, count(*) FROM l.curated.orders GROUP BY 1 ORDER BY 1").fetchall()]))
        """, [root]) as? [[Any]]
        let expected = try #require(peer).map { row in
            ((row[0] as? [NSNumber] ?? []).map(\.uint8Value), (row[1] as? NSNumber)?.int64Value ?? -1)
        }
        #expect(expected.contains { $0.0 == Array("w\u{E9}b".utf8) } && expected.contains { $0.0 == Array("we\u{301}b".utf8) }, "\(expected)")
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        for rescan in [false, true] {
            let s = try AnomalyDetector.series(catalog: catalog, asOf: nil, rescan: rescan)
            let got = s.channels.map { (Array($0.text.utf8), s.orders[$0]?.reduce(0, +) ?? -1) }
            #expect(got.map(\.0) == expected.map(\.0) && got.map(\.1) == expected.map(\.1), "rescan \(rescan): \(got) vs DuckDB \(expected)")
        }
        // The dashboard's per-channel totals: one entry per channel, as DuckDB.
        let html = try Dashboard.render(catalog: catalog)
        #expect(html.components(separatedBy: "data-total-orders=\"").count - 2 == expected.count, "one total per channel and one for all")
    }

    /// The dashboard rings an anomalous day on its channel's line: the marks were a Set of
    /// "date|channel" Strings, so a finding on "w\u{E9}b" also ringed "we\u{301}b" (String's ==
    /// is canonical equivalence). By bytes now, as the series.
    @Test func anomalyMarksKeepLookAlikeChannelsApart() {
        var s = DailySeries()
        s.days = [19_800, 19_801, 19_802]
        let nfc = "w\u{E9}b", nfd = "we\u{301}b"
        let marks: Set<ExactID> = [ExactID("\(Timestamps.dateText(days: 19_801))|\(nfc)")]
        let svg = Dashboard.lineChart(s, series: [(nfc, [1, 9, 1]), (nfd, [1, 9, 1])], marks: marks, id: "orders")
        #expect(svg.components(separatedBy: "class=\"anomaly-mark\"").count - 1 == 1, "one ring, on the NFC channel only")
    }
}
