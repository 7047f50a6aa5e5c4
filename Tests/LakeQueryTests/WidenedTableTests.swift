import Foundation
import LakeCatalog
import LakeFormat
import LakePipeline
import LakeQuery
import LakeTestSupport
import Testing

/// DuckDB (1.5.5) attached to our lake widens or constrains a table outside the registry. A
/// widening it allows (int32 -> int64, DECIMAL(18,2) -> DECIMAL(38,2)) is metadata only: its old
/// files keep their physical types and its new files store DECIMAL(38,2) as
/// FIXED_LEN_BYTE_ARRAY(16). lake reads both, ingests into the widened table in its new type,
/// and every report then equals DuckDB's; what lake cannot write is refused with a fix DuckDB
/// can run, which the tests run before ingesting again.
@Suite(.serialized) struct WidenedTableTests {
    static func copy(_ base: EvaluationLake, _ label: String) throws -> (TemporaryDirectory, String) {
        let dir = try TemporaryDirectory("widened-\(label)")
        let root = dir.url.appendingPathComponent("lake")
        try FileManager.default.copyItem(at: base.dir.url, to: root)
        return (dir, root.path)
    }

    /// Our reports, queries and quality figures at the latest snapshot against DuckDB's.
    static func expectSameAsDuckDB(_ root: String, _ label: String) throws {
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let s = try catalog.latestSnapshot().id
        let duck = try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(root)/manifest.sqlite' AS l (DATA_PATH '\(root)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")

            """ + DeleteFileTests.answersSQL + "print(json.dumps(answers(\(s))))\n") as? [String: [[String]]]
        DeleteFileTests.expectSame(try DeleteFileTests.ours(catalog, s), duck, label)
    }

    /// DuckDB's answer to each query (first row, as text).
    static func duckRows(_ root: String, _ statements: [String]) throws -> [[String]] {
        let out = try Python.json(Python.duckdbPrelude + """
            con = duck()
            con.execute("ATTACH 'ducklake:sqlite:\(root)/manifest.sqlite' AS l (DATA_PATH '\(root)/', OVERRIDE_DATA_PATH TRUE, DATA_INLINING_ROW_LIMIT 0)")
            out = []
            for s in sys.argv[1:]:
                r = con.execute(s).fetchall()
                out.append([("" if v is None else str(v)) for v in r[0]] if r else [])
            print(json.dumps(out))
            """, statements)
        return try #require(out as? [[String]])
    }

    static func ingest(_ root: String, _ input: String) throws -> (status: Int32, out: String, err: String) {
        try runLake(["ingest", "orders", input, "--lake", root])
    }

    /// Parquet files on disk equal files the catalog knows: a refused ingest left none behind.
    static func expectNoStrayFile(_ root: String, _ label: String) throws {
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let stray = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".parquet") }.count
        let known = try catalog.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_data_file") ?? 0 }
            + catalog.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file") ?? 0 }
        #expect(stray == known, "\(label): \(stray) Parquet files on disk, \(known) in the catalog")
    }

    @Test func orderTotalWidenedToDecimal38IsReadAndWrittenAsDuckDBDoes() throws {
        let base = try EvaluationLake()
        defer { base.dir.remove() }
        let (dir, root) = try Self.copy(base, "decimal")
        defer { dir.remove() }
        let inputs = try TemporaryDirectory("widened-input")
        defer { inputs.remove() }
        _ = try Self.duckRows(root, ["ALTER TABLE l.curated.orders ALTER COLUMN order_total SET DATA TYPE DECIMAL(38,2)"])
        // Before: "has type decimal(38,2), which lake cannot read" from every revenue report.
        let report = try runLake(["report", "daily-revenue", "--lake", root])
        #expect(report.status == 0, "\(report.err)")
        try Self.expectSameAsDuckDB(root, "widened, before lake ingests")

        let r = try Self.ingest(root, try AlteredTableIngestTests.freshOrders(inputs))
        #expect(r.status == 0, "ingest into the widened table: \(r.err)")
        try Self.expectSameAsDuckDB(root, "after lake ingested into the widened table")
        let sum = try runLake(["query", "orders", "--agg", "sum(order_total)", "--format", "csv", "--lake", root])
        let duck = try Self.duckRows(root, [
            "SELECT sum(order_total)::VARCHAR, typeof(sum(order_total)), typeof(any_value(order_total)) FROM l.curated.orders",
            "SELECT count(*), sum(order_total)::VARCHAR FROM l.curated.orders WHERE order_id LIKE 'ORD-X%'",
        ])
        #expect(sum.status == 0 && sum.out.split(separator: "\n").last.map(String.init) == duck[0][0], "lake query \(sum.out) \(sum.err), DuckDB \(duck)")
        #expect(duck[0][2] == "DECIMAL(38,2)")
        #expect(Int(duck[1][0]) ?? 0 > 100, "DuckDB reads our new rows: \(duck[1])")

        // Our new files store it as DuckDB does (FIXED_LEN_BYTE_ARRAY(16), DECIMAL(38,2)), and
        // the catalog's min/max for one of them are DuckDB's for a file of the same rows.
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let s = try catalog.latestSnapshot().id
        let orders = try catalog.table(schema: "curated", name: "orders")
        let column = try #require(orders.column(named: "order_total"))
        let ours = try catalog.dataFiles(tableID: orders.tableID).filter { $0.beginSnapshot == s }
        let file = try #require(ours.max { $0.recordCount < $1.recordCount })
        let physical = try Python.run("""
            import pyarrow.parquet as pq, sys
            f = pq.ParquetFile(sys.argv[1]); c = f.schema.column(f.schema.names.index('order_total'))
            print(c.physical_type, c.length, c.logical_type)
            """, [file.path])
        #expect(physical.hasPrefix("FIXED_LEN_BYTE_ARRAY 16 Decimal(precision=38, scale=2)"), "\(physical)")
        let ids = try Python.run("""
            import pyarrow.parquet as pq, sys
            print(",".join("'" + i + "'" for i in pq.read_table(sys.argv[1], columns=['order_id']).column(0).to_pylist()))
            """, [file.path]).trimmingCharacters(in: .whitespacesAndNewlines)
        let before = try catalog.latestSnapshot().id
        _ = try Self.duckRows(root, ["INSERT INTO l.curated.orders SELECT * FROM l.curated.orders WHERE order_id IN (\(ids))"])
        let theirs = try catalog.dataFiles(tableID: orders.tableID).filter { $0.beginSnapshot > before }
        #expect(theirs.count == 1, "DuckDB wrote one file of those rows: \(theirs.map(\.path))")
        let a = try #require(file.columnStats[column.columnID]), b = try #require(theirs.first?.columnStats[column.columnID])
        #expect(a.min == b.min && a.max == b.max && a.nullCount == b.nullCount, "catalog stats: ours \(a), DuckDB's \(b)")

        // A value past what lake holds (Int64 cents) is a typed error naming file and column.
        _ = try Self.duckRows(root, ["INSERT INTO l.curated.orders SELECT * REPLACE (100000000000000000.00::DECIMAL(38,2) AS order_total) "
                                     + "FROM l.curated.orders WHERE order_id IN (\(ids)) LIMIT 1"])
        let big = try runLake(["report", "daily-revenue", "--lake", root])
        #expect(big.status == 1, "\(big.status) \(big.out.prefix(200)) \(big.err)")
        #expect(big.err.contains("order_total") && big.err.contains(".parquet") && big.err.contains("does not fit"), "\(big.err)")
        // ... and not damage: verify does not send the user to a backup.
        let verify = try runLake(["verify", "--lake", root])
        #expect(verify.out.contains(" unsupported ") && !verify.err.contains("restore"), "\(verify.err)")
    }

    @Test func quantityWidenedToBigintIngestsAndDuckDBAgrees() throws {
        let base = try EvaluationLake()
        defer { base.dir.remove() }
        let (dir, root) = try Self.copy(base, "bigint")
        defer { dir.remove() }
        let inputs = try TemporaryDirectory("widened-input")
        defer { inputs.remove() }
        _ = try Self.duckRows(root, ["ALTER TABLE l.curated.order_items ALTER COLUMN quantity SET DATA TYPE BIGINT"])
        let r = try Self.ingest(root, try AlteredTableIngestTests.freshOrders(inputs))
        #expect(r.status == 0, "ingest into the widened table: \(r.err)")
        try Self.expectSameAsDuckDB(root, "quantity widened")
        let duck = try Self.duckRows(root, ["SELECT sum(quantity), typeof(any_value(quantity)) FROM l.curated.order_items WHERE order_id LIKE 'ORD-X%'"])
        let sum = try runLake(["query", "order_items", "--where", "order_id between ORD-X and ORD-Y", "--agg", "sum(quantity)", "--format", "csv", "--lake", root])
        #expect(duck[0][1] == "BIGINT" && sum.out.split(separator: "\n").last.map(String.init) == duck[0][0], "lake \(sum.out) \(sum.err), DuckDB \(duck)")
    }

    /// A change lake does not write into (DuckDB's INTEGER -> DOUBLE, or a narrowing another
    /// engine wrote into the catalog) is refused; the fix named is run in DuckDB, then the
    /// ingest works and DuckDB agrees.
    @Test func otherTypeChangesAreRefusedWithAFixThatWorks() throws {
        let base = try EvaluationLake()
        defer { base.dir.remove() }
        let inputs = try TemporaryDirectory("widened-input")
        defer { inputs.remove() }
        let fresh = try AlteredTableIngestTests.freshOrders(inputs, count: 40)
        let cases: [(name: String, statements: [String], message: [String], fix: [String])] = [
            ("double", ["ALTER TABLE l.curated.order_items ALTER COLUMN quantity SET DATA TYPE DOUBLE"],
             ["curated.order_items column quantity", "type is now float64", "nothing was committed"],
             ["ALTER TABLE curated.order_items ADD COLUMN quantity_new INTEGER", "UPDATE curated.order_items SET quantity_new = quantity",
              "ALTER TABLE curated.order_items DROP COLUMN quantity", "ALTER TABLE curated.order_items RENAME COLUMN quantity_new TO quantity"]),
            ("narrowing", ["UPDATE __ducklake_metadata_l.ducklake_column SET column_type = 'decimal(12,2)' WHERE column_name = 'order_total' AND end_snapshot IS NULL"],
             ["curated.orders column order_total", "type is now decimal(12,2)", "nothing was committed"],
             ["ALTER TABLE curated.orders ADD COLUMN order_total_new DECIMAL(18,2)", "UPDATE curated.orders SET order_total_new = order_total",
              "ALTER TABLE curated.orders DROP COLUMN order_total", "ALTER TABLE curated.orders RENAME COLUMN order_total_new TO order_total"]),
        ]
        for c in cases {
            let (dir, root) = try Self.copy(base, c.name)
            defer { dir.remove() }
            _ = try Self.duckRows(root, c.statements)
            let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
            let before = try catalog.latestSnapshot().id
            let r = try Self.ingest(root, fresh)
            #expect(r.status == 1, "\(c.name): \(r.status) \(r.err)")
            for m in c.message + c.fix { #expect(r.err.contains(m), "\(c.name): \(m) in \(r.err)") }
            #expect(!r.err.contains("change it back"))
            #expect(try catalog.latestSnapshot().id == before, "\(c.name): nothing committed")
            try Self.expectNoStrayFile(root, c.name)
            // The fix, as printed, run in DuckDB (USE l: the message names tables without the catalog).
            _ = try Self.duckRows(root, ["USE l"] + c.fix)
            let again = try Self.ingest(root, fresh)
            #expect(again.status == 0, "\(c.name): after the fix: \(again.err)")
            try Self.expectSameAsDuckDB(root, "\(c.name): after the fix and an ingest")
        }
    }

    @Test func setNotNullRefusesOnlyABatchWithANullAndNamesTheFix() throws {
        let base = try EvaluationLake()
        defer { base.dir.remove() }
        let (dir, root) = try Self.copy(base, "notnull")
        defer { dir.remove() }
        let inputs = try TemporaryDirectory("widened-input")
        defer { inputs.remove() }
        let lines = try String(contentsOfFile: try AlteredTableIngestTests.freshOrders(inputs, count: 60), encoding: .utf8)
            .split(separator: "\n").map(String.init).filter { $0.contains("\"state\": \"") }
        let stated = inputs.file("stated.jsonl"), stateless = inputs.file("stateless.jsonl")
        try (lines.prefix(30).joined(separator: "\n") + "\n").write(toFile: stated, atomically: true, encoding: .utf8)
        let dropped = lines.suffix(10).map { $0.replacingOccurrences(of: #""state": "[A-Z]+", "#, with: "", options: .regularExpression) }
        try (dropped.joined(separator: "\n") + "\n").write(toFile: stateless, atomically: true, encoding: .utf8)
        _ = try Self.duckRows(root, ["ALTER TABLE l.curated.orders ALTER COLUMN state SET NOT NULL"])
        let catalog = try Catalog.open(root: URL(fileURLWithPath: root), create: false)
        let before = try catalog.latestSnapshot().id
        let r = try Self.ingest(root, stateless)
        #expect(r.status == 1, "\(r.status) \(r.err)")
        for m in ["curated.orders column state", "NOT NULL", "ALTER TABLE curated.orders ALTER COLUMN state DROP NOT NULL", "nothing was committed"] {
            #expect(r.err.contains(m), "\(m) in \(r.err)")
        }
        #expect(!r.err.contains("batch does not match"), "\(r.err)")
        #expect(try catalog.latestSnapshot().id == before, "nothing committed")
        try Self.expectNoStrayFile(root, "SET NOT NULL")
        // Orders that all have a state meet the constraint: accepted.
        let ok = try Self.ingest(root, stated)
        #expect(ok.status == 0, "\(ok.err)")
        // The fix, then the refused batch goes in.
        _ = try Self.duckRows(root, ["ALTER TABLE l.curated.orders ALTER COLUMN state DROP NOT NULL"])
        let again = try Self.ingest(root, stateless)
        #expect(again.status == 0, "\(again.err)")
        try Self.expectSameAsDuckDB(root, "after DROP NOT NULL and the ingest")
    }

    @Test func aDroppedColumnAddedBackIsWrittenAgain() throws {
        let base = try EvaluationLake()
        defer { base.dir.remove() }
        let inputs = try TemporaryDirectory("widened-input")
        defer { inputs.remove() }
        let fresh = try AlteredTableIngestTests.freshOrders(inputs, count: 80)
        // DROP then ADD under the same name: lake writes the new column, DuckDB reads our values.
        let (d1, added) = try Self.copy(base, "readded")
        defer { d1.remove() }
        _ = try Self.duckRows(added, ["ALTER TABLE l.curated.orders DROP COLUMN shipping_city", "ALTER TABLE l.curated.orders ADD COLUMN shipping_city VARCHAR"])
        let r = try Self.ingest(added, fresh)
        #expect(r.status == 0, "\(r.err)")
        let counts = try Self.duckRows(added, ["SELECT count(shipping_city), count(*) FILTER (WHERE order_id LIKE 'ORD-X%') FROM l.curated.orders"])
        let ours = try runLake(["query", "orders", "--agg", "count(shipping_city)", "--format", "csv", "--lake", added])
        #expect(Int(counts[0][0]) ?? 0 > 0 && ours.out.split(separator: "\n").last.map(String.init) == counts[0][0], "lake \(ours.out) \(ours.err), DuckDB \(counts)")
        try Self.expectSameAsDuckDB(added, "after DROP + ADD and an ingest")

        // DROP only: refused with the ADD COLUMN to run; run it, and the ingest works.
        let (d2, dropped) = try Self.copy(base, "dropped")
        defer { d2.remove() }
        _ = try Self.duckRows(dropped, ["ALTER TABLE l.curated.orders DROP COLUMN shipping_city"])
        let refused = try Self.ingest(dropped, fresh)
        let fix = "ALTER TABLE curated.orders ADD COLUMN shipping_city VARCHAR"
        #expect(refused.status == 1 && refused.err.contains(fix) && !refused.err.contains("restore the lake"), "\(refused.err)")
        try Self.expectNoStrayFile(dropped, "DROP COLUMN")
        _ = try Self.duckRows(dropped, ["USE l", fix])
        let again = try Self.ingest(dropped, fresh)
        #expect(again.status == 0, "\(again.err)")
        try Self.expectSameAsDuckDB(dropped, "after the ADD COLUMN fix and an ingest")
    }

    @Test func lakeTablesShowsTheDefaultDuckDBSet() throws {
        let base = try EvaluationLake()
        defer { base.dir.remove() }
        _ = try Self.duckRows(base.root, ["ALTER TABLE l.curated.orders ALTER COLUMN payment_method SET DEFAULT 'card'"])
        let r = try runLake(["tables", "--lake", base.root])
        let line = r.out.split(separator: "\n").first { $0.contains(" payment_method ") }.map(String.init) ?? ""
        #expect(r.status == 0 && line.contains(" card"), "\(line) \(r.err)")
        // A column without a default shows none (DuckLake's text NULL is no default).
        let state = r.out.split(separator: "\n").first { $0.contains(" state ") }.map(String.init) ?? "?"
        #expect(!state.contains("NULL"), "\(state)")
    }
}
