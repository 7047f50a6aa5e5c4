import Foundation
import LakeCatalog
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// Every report recomputed in DuckDB from the same lake (DuckLake attach) and compared value by value.
@Suite struct ReportTests {
    static let dailyRevenueSQL = """
        import decimal
        def daily(at=None):
            version = f" AT (VERSION => {at})" if at else ""
            rows = con.execute(f'''SELECT event_date::VARCHAR, channel, country,
                count(*) FILTER (WHERE status = 'confirmed'),
                coalesce(sum(units) FILTER (WHERE status = 'confirmed'), 0),
                coalesce(sum(order_total) FILTER (WHERE status = 'confirmed'), 0),
                count(DISTINCT customer_id) FILTER (WHERE status = 'confirmed'),
                count(*) FILTER (WHERE status = 'pending'), count(*) FILTER (WHERE status = 'cancelled')
                FROM l.curated.orders{version} GROUP BY ALL ORDER BY 1, 2, 3''').fetchall()
            out = []
            for d, ch, co, n, units, revenue, customers, pending, cancelled in rows:
                revenue = decimal.Decimal(revenue).quantize(decimal.Decimal("0.01"))
                aov = (revenue / n).quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP) if n else None
                out.append([d, ch, co, str(n), str(units), str(revenue), str(aov) if aov is not None else "", str(customers), str(pending), str(cancelled)])
            return out

        """

    @Test func dailyRevenueMatchesDuckDB() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let ours = try Reports.run(.dailyRevenue, catalog: lake.catalog, options: ReportOptions()).sections[0]
        let duck = try Python.json(lake.attach + Self.dailyRevenueSQL + "print(json.dumps(daily()))") as? [[String]]
        #expect(ours.rows.count > 100)
        #expect(ours.rows.map { $0.map(\.text) } == duck)
    }

    @Test("reports sharing a session (as lake run prints them) equal the same reports run alone, window by window")
    func sessionSharesProductSales() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let session = ReportSession()
        var narrow = ReportOptions()
        narrow.channel = "web"
        for o in [ReportOptions(), ReportOptions(), narrow, ReportOptions()] {
            for name in [ReportName.topProducts, .inventory] {
                let shared = try Reports.run(name, catalog: lake.catalog, options: o, session: session).sections.map(\.rows)
                let alone = try Reports.run(name, catalog: lake.catalog, options: o).sections.map(\.rows)
                #expect(shared == alone, "\(name) channel \(o.channel ?? "all")")
            }
        }
        // all (scan), all (kept), web (scan), all (scan again: one entry is kept): inventory never scans.
        #expect(session.scans == 3)
    }

    @Test func topProductsAndCustomersMatchDuckDB() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        var o = ReportOptions()
        o.limit = 10
        let products = try Reports.run(.topProducts, catalog: lake.catalog, options: o).sections[0]
        let customers = try Reports.run(.customers, catalog: lake.catalog, options: o)
        let duck = try Python.json(lake.attach + """
            p = con.execute('''SELECT product_id, sum(line_revenue)::VARCHAR, sum(quantity), count(DISTINCT order_id)
                FROM l.curated.order_items WHERE status = 'confirmed' GROUP BY 1 ORDER BY sum(line_revenue) DESC, 1 LIMIT 10''').fetchall()
            c = con.execute('''SELECT customer_id, count(*), sum(order_total)::VARCHAR FROM l.curated.orders
                WHERE status = 'confirmed' GROUP BY 1 ORDER BY sum(order_total) DESC, 1 LIMIT 10''').fetchall()
            s = con.execute('''SELECT count(*), count(*) FILTER (WHERE n > 1), sum(n) FROM
                (SELECT customer_id, count(*) n FROM l.curated.orders WHERE status = 'confirmed' GROUP BY 1)''').fetchone()
            print(json.dumps({"products": [[str(v) for v in r] for r in p], "customers": [[str(v) for v in r] for r in c],
                              "summary": [str(v) for v in s]}))
            """) as? [String: Any]
        let ourProducts = products.rows.map { [$0[0].text, $0[4].text, $0[6].text, $0[7].text] }
        #expect(ourProducts == duck?["products"] as? [[String]])
        let ourCustomers = customers.sections[0].rows.map { [$0[0].text, $0[1].text, $0[2].text] }
        #expect(ourCustomers == duck?["customers"] as? [[String]])
        let summary = customers.sections[1].rows[0]
        #expect([summary[0].text, summary[1].text, summary[3].text] == duck?["summary"] as? [String])
    }

    /// Order ids in two files (DuckDB copies some confirmed orders' items into a file of their
    /// own, then three more rows inlined in the catalog): the first read's run hashes repeat, the
    /// files are read again keeping the runs' ids, and every product's distinct orders, units and
    /// revenue equal DuckDB's.
    @Test func topProductsUnionOrdersSpreadOverFiles() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let write = Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
            ids = [r[0] for r in con.execute('''SELECT DISTINCT order_id FROM l.curated.order_items WHERE status = 'confirmed'
                ORDER BY order_id LIMIT 40''').fetchall()]
            idlist = ", ".join("'" + i + "'" for i in ids)
            con.execute(f"INSERT INTO l.curated.order_items SELECT * FROM l.curated.order_items WHERE order_id IN ({idlist})")
            con.execute("DETACH l")
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE)")
            con.execute(f"INSERT INTO l.curated.order_items SELECT * FROM l.curated.order_items WHERE order_id = '{ids[-1]}' LIMIT 3")
            print(json.dumps({"ids": len(ids)}))
            """
        #expect((try Python.json(write) as? [String: Any])?["ids"] as? Int == 40)
        var o = ReportOptions()
        o.limit = 1_000
        let products = try Reports.run(.topProducts, catalog: lake.catalog, options: o).sections[0]
        let duck = try Python.json(lake.attach + """
            p = con.execute('''SELECT product_id, sum(line_revenue)::VARCHAR, sum(quantity), count(DISTINCT order_id),
                count(*) - count(DISTINCT order_id) FROM l.curated.order_items WHERE status = 'confirmed' GROUP BY 1 ORDER BY 1''').fetchall()
            print(json.dumps({"products": [[str(v) for v in r[:4]] for r in p], "repeats": sum(r[4] for r in p)}))
            """) as? [String: Any]
        // Some product's rows hold an order twice: the union is what its count rests on.
        #expect((duck?["repeats"] as? Int ?? 0) > 0)
        let ours = products.rows.map { [$0[0].text, $0[4].text, $0[6].text, $0[7].text] }.sorted { $0[0] < $1[0] }
        #expect(!ours.isEmpty)
        #expect(ours == duck?["products"] as? [[String]])
    }

    @Test func inventoryAndOperationsReflectTheSources() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let inventory = try Reports.run(.inventory, catalog: lake.catalog, options: ReportOptions()).sections[0]
        let duck = try Python.json(lake.attach + """
            inv = con.execute('''SELECT product_id, warehouse_location, arg_max(available_quantity, last_updated)
                FROM l.curated.inventory GROUP BY 1, 2 ORDER BY 1, 2''').fetchall()
            rej = con.execute("SELECT count(*), count(reject_reason) FROM l.raw.orders").fetchone()
            print(json.dumps({"inventory": [[str(v) for v in r] for r in inv], "raw": list(rej)}))
            """) as? [String: Any]
        let ours = inventory.rows.map { [$0[0].text, $0[1].text, $0[2].text] }.sorted { $0.joined() < $1.joined() }
        let theirs = (duck?["inventory"] as? [[String]] ?? []).sorted { $0.joined() < $1.joined() }
        #expect(ours == theirs)
        // Every low-stock row really is under a threshold.
        for row in inventory.rows where row[6] == .bool(true) {
            if case .int(let onHand) = row[2], onHand >= 20 { #expect(row[5].text != "" ) }
        }
        let ops = try Reports.run(.operations, catalog: lake.catalog, options: ReportOptions())
        let orderRun = try #require(ops.sections[0].rows.first { $0[1] == .string("orders") })
        let raw = duck?["raw"] as? [Int] ?? []
        #expect(orderRun[3] == .int(Int64(raw.first ?? -1)))
        let rejectedByDay = ops.sections[1].rows.reduce(Int64(0)) { if case .int(let n) = $1[3] { return $0 + n }; return $0 }
        #expect(rejectedByDay == Int64(raw.last ?? -1))
    }

    /// Two ingests give two snapshots: the report as of the first equals DuckDB's AT (VERSION),
    /// and diff lists exactly the rows that differ.
    @Test func timeTravelAndDiff() throws {
        let dir = try TemporaryDirectory("lake-tt")
        defer { dir.remove() }
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let store = try LakeStore.open(root: dir.url, schemas: packageRoot.appendingPathComponent("schemas"))
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false)
        try (lines[..<600].joined(separator: "\n") + "\n").write(toFile: dir.file("part1.jsonl"), atomically: true, encoding: .utf8)
        try lines[600...].joined(separator: "\n").write(toFile: dir.file("part2.jsonl"), atomically: true, encoding: .utf8)
        let first = try OrderIngest.run(store, path: dir.file("part1.jsonl"))
        let second = try OrderIngest.run(store, path: dir.file("part2.jsonl"))
        let s1 = try #require(first.snapshotID), s2 = try #require(second.snapshotID)

        var o = ReportOptions()
        o.asOf = .snapshot(s1)
        let before = try Reports.run(.dailyRevenue, catalog: store.catalog, options: o).sections[0]
        o.asOf = .snapshot(s2)
        let after = try Reports.run(.dailyRevenue, catalog: store.catalog, options: o).sections[0]
        let attach = Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(dir.path)/manifest.sqlite' AS l (DATA_PATH '\(dir.path)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")

            """
        let duck = try Python.json(attach + Self.dailyRevenueSQL + "print(json.dumps([daily(\(s1)), daily(\(s2))]))") as? [[[String]]]
        #expect(before.rows.map { $0.map(\.text) } == duck?[0])
        #expect(after.rows.map { $0.map(\.text) } == duck?[1])
        #expect(before.rows != after.rows)

        let diff = try ReportDiff.run(.dailyRevenue, catalog: store.catalog, from: s1, to: s2, options: ReportOptions())
        let beforeKeys = Dictionary(uniqueKeysWithValues: before.rows.map { (Array($0.prefix(3)), $0) })
        let afterKeys = Dictionary(uniqueKeysWithValues: after.rows.map { (Array($0.prefix(3)), $0) })
        let added = afterKeys.keys.filter { beforeKeys[$0] == nil }.count
        let changedCells = afterKeys.reduce(0) { n, kv in
            guard let old = beforeKeys[kv.key] else { return n }
            return n + zip(old, kv.value).filter { $0 != $1 }.count
        }
        // An added row is listed one labelled column per line (key, column name, new value).
        #expect(added > 0)
        #expect(diff.rows.filter { $0[0] == .string("added") }.count == added * (after.columns.count - 3))
        for row in diff.rows where row[0] == .string("added") {
            let column = try #require(after.columns.firstIndex(of: row[4].text), "added line without a column label")
            #expect(column >= 3)
            #expect(afterKeys[Array(row[1 ... 3])]?[column] == row[6])
            #expect(row[5] == .null)
        }
        #expect(diff.rows.filter { $0[0] == .string("changed") }.count == changedCells)
        #expect(diff.rows.filter { $0[0] == .string("removed") }.isEmpty)
        // Each change shows the new value the later snapshot reports.
        for row in diff.rows where row[0] == .string("changed") {
            let key = Array(row[1 ... 3])
            let column = try #require(after.columns.firstIndex(of: row[4].text))
            #expect(afterKeys[key]?[column] == row[6])
            #expect(beforeKeys[key]?[column] == row[5])
        }
    }

    /// At a snapshot before the lake's first orders (its catalog and inventory only, as right
    /// after `lake ingest catalog` and `lake ingest inventory`) every report answers instead of
    /// failing with "no table curated.order_items": the stock on hand with nothing sold, and no
    /// order rows. The stock is the latest snapshot's (no inventory came after).
    @Test func reportsBeforeTheFirstOrdersAnswerWithNothingSold() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let latest = try lake.catalog.latestSnapshot()
        var before = ReportOptions(), now = ReportOptions()
        before.asOf = .snapshot(latest.id - 1)
        before.limit = 1000
        now.limit = 1000
        #expect(try TableScan.ifPresent(catalog: lake.catalog, table: .curatedOrders, asOf: before.asOf) == nil, "the snapshot before has orders")
        func rows(_ name: ReportName, _ o: ReportOptions, section: Int = 0) throws -> [[String]] {
            try Reports.run(name, catalog: lake.catalog, options: o).sections[section].rows.map { $0.map(\.text) }
        }
        // Inventory: product, warehouse, on hand as now; units sold 0 (now: some sold).
        let stock = try rows(.inventory, before), stockNow = try rows(.inventory, now)
        #expect(!stock.isEmpty)
        #expect(Set(stock.map { $0[0 ... 2] }) == Set(stockNow.map { $0[0 ... 2] }))
        #expect(stock.allSatisfy { $0[3] == "0" })
        #expect(stockNow.contains { $0[3] != "0" })
        // Product metrics: every product, nothing sold, on hand as now.
        let metrics = try rows(.productMetrics, before), metricsNow = try rows(.productMetrics, now)
        #expect(metrics.count == metricsNow.count && metrics.allSatisfy { $0[6] == "0" && $0[7] == "0" })
        #expect(Dictionary(uniqueKeysWithValues: metrics.map { ($0[0], $0[8]) }) == Dictionary(uniqueKeysWithValues: metricsNow.map { ($0[0], $0[8]) }))
        for name in [ReportName.dailyRevenue, .topProducts, .customers, .topCustomers] {
            #expect(try rows(name, before).isEmpty, "\(name)")
            #expect(try !rows(name, now).isEmpty, "\(name)")
        }
        #expect(try rows(.customers, before, section: 1).map { $0[0] } == ["0"], "customer summary: 0 customers")
    }
}
