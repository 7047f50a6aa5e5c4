import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// DuckDB attached to our lake alters a table outside the schema registry; the next
/// `lake ingest orders` never traps: a column DuckDB added is written with its default (NULL
/// when it has none), as DuckLake fills a column an INSERT leaves out, and DuckDB then agrees
/// with every report (widenings, SET NOT NULL and a column added back: WidenedTableTests); a
/// column of a type lake cannot write (TINYINT, FLOAT, a list) is left out of lake's files
/// when its default is NULL, which is what DuckDB reads there; a dropped, renamed or retyped
/// column, a NOT NULL one without a default or one of a type lake cannot write with a default
/// is refused with a typed error that names the table and the column, and nothing is committed.
@Suite(.serialized) struct AlteredTableIngestTests {
    /// Evaluation orders under new ids (ORD-X…), so an ingest accepts them again.
    static func freshOrders(_ dir: TemporaryDirectory, count: Int = 150) throws -> String {
        let source = try String(contentsOf: packageRoot.appendingPathComponent("Evaluation-Files/orders_stream.jsonl"), encoding: .utf8)
        let lines = source.split(separator: "\n").prefix(count).map { $0.replacingOccurrences(of: "\"ORD-", with: "\"ORD-X") }
        let path = dir.file("fresh.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `statements` in DuckDB with the lake attached as `l`; `inlining: false` makes
    /// DuckDB write even a few rows as files (its UPDATEs then rewrite files, as on big tables).
    static func alter(_ root: String, _ statements: [String], inlining: Bool = true) throws {
        _ = try Python.run(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(root)/manifest.sqlite' AS l (DATA_PATH '\(root)/', OVERRIDE_DATA_PATH TRUE\(inlining ? "" : ", DATA_INLINING_ROW_LIMIT 0"))")
            for s in sys.argv[1:]:
                con.execute(s)
            """, statements)
    }

    @Test func aColumnDuckDBAddedIsWrittenAsItsDefaultAndDuckDBAgrees() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let inputs = try TemporaryDirectory("altered-input")
        defer { inputs.remove() }
        try Self.alter(lake.root, ["ALTER TABLE l.curated.orders ADD COLUMN note VARCHAR",
                                   "ALTER TABLE l.curated.order_items ADD COLUMN gift VARCHAR DEFAULT 'none'",
                                   "ALTER TABLE l.raw.orders ADD COLUMN reviewed BOOLEAN"])
        let before = try lake.catalog.latestSnapshot().id
        let r = try runLake(["ingest", "orders", try Self.freshOrders(inputs), "--lake", lake.root])
        #expect(r.status == 0, "lake ingest after DuckDB's ADD COLUMN: \(r.status) \(r.err)")
        let s = try lake.catalog.latestSnapshot().id
        #expect(s == before + 1)
        let fresh = try RowDeleteTests.count(lake.catalog, "orders", ["order_id between ORD-X and ORD-Y"])
        #expect(fresh > 100, "the new orders are in: \(fresh)")

        // Every report, query and quality figure equals DuckDB's; our rows read the defaults.
        let duck = try Python.json(lake.attach + DeleteFileTests.answersSQL + """
            extra = con.execute('''SELECT (SELECT count(*) FROM l.curated.orders WHERE order_id LIKE 'ORD-X%' AND note IS NULL),
                (SELECT count(*) FROM l.curated.orders WHERE note IS NOT NULL),
                (SELECT count(*) FROM l.curated.order_items WHERE order_id LIKE 'ORD-X%'),
                (SELECT count(*) FROM l.curated.order_items WHERE order_id LIKE 'ORD-X%' AND gift = 'none'),
                (SELECT count(*) FROM l.raw.orders WHERE reviewed IS NOT NULL)''').fetchone()
            print(json.dumps({"answers": answers(\(s)), "extra": list(extra)}))
            """) as? [String: Any]
        DeleteFileTests.expectSame(try DeleteFileTests.ours(lake.catalog, s), duck?["answers"] as? [String: [[String]]], "after the ingest")
        let extra = duck?["extra"] as? [Int] ?? []
        #expect(extra.count == 5 && extra[0] == Int(fresh) && extra[1] == 0, "DuckDB reads NULL notes on our rows: \(extra)")
        #expect(extra.count == 5 && extra[2] > 0 && extra[3] == extra[2] && extra[4] == 0, "and the items' default: \(extra)")

        // Our reader agrees on the new columns.
        var spec = QuerySpec(table: "orders")
        spec.conditions = ["order_id between ORD-X and ORD-Y"]
        spec.aggregates = try ["count(*)", "count(note)"].map(AggregateSpec.parse)
        let counts = try Query.run(spec, catalog: lake.catalog).table.rows.first?.map(\.text)
        #expect(counts == [String(fresh), "0"])
        spec = QuerySpec(table: "order_items")
        spec.conditions = ["gift = none"]
        spec.aggregates = [try AggregateSpec.parse("count(*)")]
        #expect(try Query.run(spec, catalog: lake.catalog).table.rows.first?.first?.text == String(try RowDeleteTests.count(lake.catalog, "order_items")))
    }

    /// A DuckDB user adds columns lake has no type for and sets a few rows: the main job went on
    /// failing ("which lake cannot write") until someone dropped them. Now the ingest leaves
    /// them out of its files, DuckDB reads NULL there and keeps its own values, every report
    /// agrees, and lake verify finds nothing wrong.
    @Test func aColumnOfATypeLakeCannotWriteIsLeftOutAndReadsNull() throws {
        let lake = try EvaluationLake()
        defer { lake.dir.remove() }
        let inputs = try TemporaryDirectory("altered-input")
        defer { inputs.remove() }
        try Self.alter(lake.root, ["ALTER TABLE l.curated.orders ADD COLUMN gift TINYINT",
                                   "ALTER TABLE l.curated.order_items ADD COLUMN weight FLOAT",
                                   "ALTER TABLE l.raw.orders ADD COLUMN tags VARCHAR[]",
                                   "UPDATE l.curated.orders SET gift = 1 WHERE order_id IN (SELECT order_id FROM l.curated.orders ORDER BY order_id LIMIT 3)",
                                   "UPDATE l.curated.order_items SET weight = 0.5 WHERE order_id IN (SELECT order_id FROM l.curated.order_items ORDER BY order_id LIMIT 3)",
                                   "UPDATE l.raw.orders SET tags = ['seen'] WHERE line_number <= 3"], inlining: false)
        let before = try lake.catalog.latestSnapshot().id
        let r = try runLake(["ingest", "orders", try Self.freshOrders(inputs), "--lake", lake.root])
        #expect(r.status == 0, "lake ingest after DuckDB added TINYINT, FLOAT and VARCHAR[] columns: \(r.status) \(r.err)")
        let s = try lake.catalog.latestSnapshot().id
        #expect(s == before + 1)
        let fresh = try RowDeleteTests.count(lake.catalog, "orders", ["order_id between ORD-X and ORD-Y"])
        #expect(fresh > 100, "the new orders are in: \(fresh)")
        let verify = try runLake(["verify", "--lake", lake.root])
        #expect(verify.status == 0, "lake verify: \(verify.out)\(verify.err)")

        // DuckDB: NULL on our rows, its own values kept, every report as ours.
        let duck = try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("SET TimeZone = 'UTC'")
            con.execute("ATTACH 'ducklake:sqlite:\(lake.root)/manifest.sqlite' AS l (DATA_PATH '\(lake.root)/', OVERRIDE_DATA_PATH TRUE)")

            """ + DeleteFileTests.answersSQL + """
            def extra():
                return list(con.execute('''SELECT
                    (SELECT count(*) FROM l.curated.orders WHERE order_id LIKE 'ORD-X%' AND gift IS NULL),
                    (SELECT count(*) FROM l.curated.orders WHERE gift = 1),
                    (SELECT count(*) FROM l.curated.order_items WHERE order_id LIKE 'ORD-X%' AND weight IS NULL),
                    (SELECT count(*) FROM l.curated.order_items WHERE order_id LIKE 'ORD-X%'),
                    (SELECT count(*) FROM l.curated.order_items WHERE weight = 0.5),
                    (SELECT count(*) FROM l.raw.orders WHERE tags IS NOT NULL),
                    (SELECT count(*) FROM l.curated.orders)''').fetchone())
            print(json.dumps({"answers": answers(\(s)), "extra": extra()}))
            """) as? [String: Any]
        DeleteFileTests.expectSame(try DeleteFileTests.ours(lake.catalog, s), duck?["answers"] as? [String: [[String]]], "after the ingest")
        let extra = duck?["extra"] as? [Int] ?? []
        #expect(extra.count == 7 && extra[0] == Int(fresh) && extra[1] == 3, "orders.gift: NULL on ours, DuckDB's 3 kept: \(extra)")
        #expect(extra.count == 7 && extra[3] > 0 && extra[2] == extra[3] && extra[4] > 0, "order_items.weight: \(extra)")
        let orders = Int(try RowDeleteTests.count(lake.catalog, "orders"))
        #expect(extra.count == 7 && extra[5] == 3 && extra[6] == orders,
                "raw.orders.tags: DuckDB's 3 kept, none on ours; the orders DuckDB counts: \(extra)")
    }

    @Test func droppedRenamedRetypedNotNullOrUnwritableColumnsAreRefusedWithATypedError() throws {
        let base = try EvaluationLake()
        defer { base.dir.remove() }
        let inputs = try TemporaryDirectory("altered-input")
        defer { inputs.remove() }
        let fresh = try Self.freshOrders(inputs, count: 20)
        let cases: [(name: String, statements: [String], message: [String])] = [
            ("drop", ["ALTER TABLE l.curated.orders DROP COLUMN item_count"],
             ["curated.orders column item_count", "no longer has it", "ADD COLUMN item_count INTEGER", "nothing was committed"]),
            ("rename", ["ALTER TABLE l.curated.orders RENAME COLUMN customer_id TO cust"],
             ["curated.orders column cust", "RENAME COLUMN cust TO customer_id", "nothing was committed"]),
            // BIGINT is a widening lake writes (WidenedTableTests); DOUBLE is not.
            ("retype", ["ALTER TABLE l.curated.order_items ALTER COLUMN quantity TYPE DOUBLE"],
             ["curated.order_items column quantity", "type is now float64", "nothing was committed"]),
            // DuckDB cannot add a NOT NULL column yet; another engine could: its catalog row says so.
            ("not null", ["ALTER TABLE l.curated.orders ADD COLUMN note VARCHAR",
                          "UPDATE __ducklake_metadata_l.ducklake_column SET nulls_allowed = false WHERE column_name = 'note'"],
             ["curated.orders column note", "NOT NULL without a default", "nothing was committed"]),
            // Without the default the column is left out of the files (above).
            ("unwritable type with a default", ["ALTER TABLE l.raw.orders ADD COLUMN priority TINYINT DEFAULT 5"],
             ["raw.orders column priority", "type int8 with a default (5", "which lake cannot write in that type", "nothing was committed"]),
        ]
        for c in cases {
            let copy = try TemporaryDirectory("altered-\(c.name)")
            defer { copy.remove() }
            let root = copy.url.appendingPathComponent("lake")
            try FileManager.default.copyItem(at: base.dir.url, to: root)
            try Self.alter(root.path, c.statements)
            let catalog = try Catalog.open(root: root, create: false)
            let before = try catalog.latestSnapshot().id
            let r = try runLake(["ingest", "orders", fresh, "--lake", root.path])
            #expect(r.status == 1, "\(c.name): exit \(r.status) (a trap exits by a signal): \(r.err)")
            for m in c.message { #expect(r.err.contains(m), "\(c.name): \(r.err)") }
            #expect(try catalog.latestSnapshot().id == before, "\(c.name): nothing committed")
            let stray = try FileManager.default.subpathsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".parquet") }.count
            let known = try catalog.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_data_file") ?? 0 }
                + catalog.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file") ?? 0 }
            #expect(stray == known, "\(c.name): refused before writing a file (\(stray) on disk, \(known) in the catalog)")
        }
    }
}
