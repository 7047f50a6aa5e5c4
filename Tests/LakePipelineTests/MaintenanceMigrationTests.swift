import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// The live registry (schemas/, with orders v2).
func liveRegistry() throws -> SchemaRegistry {
    try SchemaRegistry.load(directory: packageRoot.appendingPathComponent("schemas").path)
}

@Suite("Maintenance: schema migration", .serialized)
struct MaintenanceMigrationTests {
    func duck(_ lake: BatchedLake, _ sql: String) throws -> [String] {
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(lake.lakeRoot)/manifest.sqlite' AS l (DATA_PATH '\(lake.lakeRoot)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        print(json.dumps([str(v) for v in con.execute(sys.argv[1]).fetchone()]))
        """
        return try Python.json(script, [sql]) as? [String] ?? []
    }

    @Test("migrate orders to v2 without and with rewrite: new columns read their defaults, the rename keeps the data, time travel shows v1; DuckDB agrees", arguments: [false, true])
    func migrateOrders(rewrite: Bool) throws {
        let lake = try BatchedLake(batches: 2, v1Only: true)
        defer { lake.dir.remove() }
        let store = LakeStore(catalog: lake.catalog, registry: try liveRegistry())
        let before = try lake.catalog.latestSnapshot().id
        let old = try duck(lake, "SELECT count(*), count(city), sum(hash(order_id, city)), sum(order_total) FROM l.curated.orders AT (VERSION => \(before))")

        let dry = try Migration.run(store, table: "orders", to: 2, rewrite: rewrite, dryRun: true)
        let stillBefore = try lake.catalog.latestSnapshot().id
        #expect(dry.snapshotID == nil && stillBefore == before)
        #expect(dry.plan.steps == [
            .rename(id: 9, from: "city", to: "shipping_city"),
            .add(name: "currency", id: 13, type: .string, nullable: false, defaultValue: "USD"),
            .add(name: "discount_amount", id: 14, type: .decimal(precision: 18, scale: 2), nullable: false, defaultValue: "0.00"),
            .add(name: "payment_method", id: 15, type: .string, nullable: true, defaultValue: nil),
        ])

        let r = try Migration.run(store, table: "orders", to: 2, rewrite: rewrite)
        let after = try #require(r.snapshotID)
        #expect(after == before + 1)
        let table = try lake.catalog.table(schema: "curated", name: "orders")
        #expect(try lake.catalog.tableSchemaVersion(tableID: table.tableID)?.version == 2)
        #expect(table.columns.map(\.name).suffix(3) == ["currency", "discount_amount", "payment_method"])
        #expect(table.column(named: "shipping_city")?.columnID == 9 && table.column(named: "city") == nil)
        let files = try lake.catalog.dataFiles(tableID: table.tableID)
        if rewrite {
            #expect(r.filesRewritten == r.filesWritten && r.filesRewritten > 0)
            #expect(files.allSatisfy { $0.beginSnapshot == after })
            let reader = try ParquetFileReader(path: files[0].url.path)
            // The table's columns, then each row's DuckLake row id (kept through the rewrite).
            #expect(reader.schema.fields.map(\.fieldID) == (1 ... 15).map { Int32($0) } + [LineageField.rowID])
            #expect(files.allSatisfy { $0.rowIDStart == nil })
            #expect(reader.schema.fields[8].name == "shipping_city")
        } else {
            #expect(r.filesRewritten == 0 && files.allSatisfy { $0.beginSnapshot < after })
        }

        // DuckDB at the new snapshot: same rows, the renamed column carries the old values,
        // the new columns read their defaults / null.
        let new = try duck(lake, "SELECT count(*), count(shipping_city), sum(hash(order_id, shipping_city)), sum(order_total) FROM l.curated.orders AT (VERSION => \(after))")
        #expect(new == old)
        let defaults = try duck(lake, "SELECT count(*) FILTER (WHERE currency = 'USD'), sum(discount_amount), count(payment_method) FROM l.curated.orders")
        #expect(defaults == [old[0], "0.00", "0"])
        // Time travel to before the migration: v1 schema (city, no currency) and the same data.
        #expect(try duck(lake, "SELECT count(*), count(city), sum(hash(order_id, city)), sum(order_total) FROM l.curated.orders AT (VERSION => \(before))") == old)
        #expect(throws: (any Error).self) { try duck(lake, "SELECT count(currency) FROM l.curated.orders AT (VERSION => \(before))") }
        let v1 = try lake.catalog.table(schema: "curated", name: "orders", at: .snapshot(before))
        #expect(v1.column(named: "city") != nil && v1.column(named: "currency") == nil)

        // Our reader (by field id) sees the defaults too.
        var usd = 0, rows = 0
        for f in files {
            for b in try FileRows.read(f, table: table, schema: try table.schema(), files: lake.catalog.files) {
                rows += b.count
                usd += (0 ..< b.count).filter { b.column("currency")!.string(at: $0) == "USD" }.count
            }
        }
        #expect(usd == rows && String(rows) == old[0])

        // Compaction and vacuum after the migration: DuckDB still reads the same at the current snapshot.
        _ = try Compaction.run(lake.catalog, options: { var o = CompactionOptions(); o.minFiles = 2; return o }())
        _ = try lake.catalog.vacuum(retain: 0)
        #expect(try duck(lake, "SELECT count(*), count(shipping_city), sum(hash(order_id, shipping_city)), sum(order_total) FROM l.curated.orders") == old)
        #expect(try duck(lake, "SELECT count(*) FILTER (WHERE currency = 'USD'), sum(discount_amount), count(payment_method) FROM l.curated.orders") == [old[0], "0.00", "0"])

        // Migrating again to the same version is not repeated: answered as already done (a
        // retry after a crash is safe), with nothing committed.
        let latest = try lake.catalog.latestSnapshot().id
        let again = try Migration.run(store, table: "orders", to: 2)
        #expect(try again.alreadyApplied && again.snapshotID == nil && lake.catalog.latestSnapshot().id == latest)
    }

    func schema(_ dir: TemporaryDirectory, version: Int, columns: String, partitioned: Bool = true) throws -> TableSchema {
        let path = dir.file("t_v\(version).json")
        let text = """
        {"table": "t", "version": \(version), "layer": "curated", "partition_by": [\(partitioned ? "\"d\"" : "")], "columns": [\(columns)]}
        """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try SchemaRegistry.parse(Data(text.utf8), path: path)
    }

    @Test("the plan widens, drops and refuses narrowing, type changes, NOT NULL without default, naming the column")
    func planRules() throws {
        let dir = try TemporaryDirectory("plan")
        defer { dir.remove() }
        let base = #"{"id": 1, "name": "d", "type": "date", "nullable": false}, {"id": 2, "name": "n", "type": "int32", "nullable": false}, {"id": 3, "name": "m", "type": "decimal(10,2)", "nullable": false}, {"id": 4, "name": "s", "type": "string", "nullable": true}"#
        let v1 = try schema(dir, version: 1, columns: base)
        let widened = try schema(dir, version: 2, columns: #"{"id": 1, "name": "d", "type": "date", "nullable": false}, {"id": 2, "name": "n", "type": "int64", "nullable": false}, {"id": 3, "name": "m", "type": "decimal(18,2)", "nullable": false}"#)
        #expect(try Migration.plan(from: v1, to: widened) == [
            .widen(name: "n", from: .int32, to: .int64),
            .widen(name: "m", from: .decimal(precision: 10, scale: 2), to: .decimal(precision: 18, scale: 2)),
            .drop(name: "s", id: 4),
        ])
        let narrowed = try schema(dir, version: 3, columns: base.replacingOccurrences(of: "decimal(10,2)", with: "decimal(8,2)"))
        #expect(throws: MigrationError.self) { try Migration.plan(from: v1, to: narrowed) }
        do { _ = try Migration.plan(from: v1, to: narrowed) } catch { #expect("\(error)".contains("t.m")) }
        let toInt = try schema(dir, version: 4, columns: base.replacingOccurrences(of: #""name": "s", "type": "string""#, with: #""name": "s", "type": "int64""#))
        do { _ = try Migration.plan(from: v1, to: toInt); Issue.record("string -> int64 accepted") } catch { #expect("\(error)".contains("t.s")) }
        let noDefault = try schema(dir, version: 5, columns: base + #", {"id": 5, "name": "x", "type": "int64", "nullable": false}"#)
        do { _ = try Migration.plan(from: v1, to: noDefault); Issue.record("NOT NULL without default accepted") } catch { #expect("\(error)".contains("t.x")) }
        let dropPartition = try schema(dir, version: 6, columns: #"{"id": 2, "name": "n", "type": "int32", "nullable": false}"#, partitioned: false)
        #expect(throws: MigrationError.self) { try Migration.plan(from: v1, to: dropPartition) }
    }

    @Test("generate --schema-version 2 writes the v2 fields on the same orders as v1")
    func generateV2() throws {
        let dir = try TemporaryDirectory("gen-v2")
        defer { dir.remove() }
        var lines: [Int: [[String: Any]]] = [:]
        for v in [1, 2] {
            lines[v] = try generatedOrderLines(orders: 300, days: 2, schemaVersion: v, into: dir.file("v\(v)"))
                .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }
        let v1 = lines[1]!, v2 = lines[2]!
        #expect(v1.count == v2.count && v1.count >= 300)
        #expect(v1.map { $0["order_id"] as? String } == v2.map { $0["order_id"] as? String })
        #expect(v1.allSatisfy { $0["currency"] == nil && $0["discount_amount"] == nil })
        #expect(v2.allSatisfy { ["USD", "EUR", "GBP", "CAD"].contains($0["currency"] as? String ?? "") })
        #expect(v2.allSatisfy { (($0["discount_amount"] as? NSNumber)?.doubleValue ?? -1) >= 0 })
        #expect(v2.contains { (($0["discount_amount"] as? NSNumber)?.doubleValue ?? 0) > 0 })
        let methods = v2.compactMap { $0["payment_method"] as? String }
        #expect(methods.count < v2.count && methods.count > v2.count / 2)
        var config = GeneratorConfig()
        config.schemaVersion = 3
        #expect(throws: GeneratorError.self) { try OrderGenerator.generate(config, into: dir.path) }
    }
}
