import Foundation
import LakeCatalog
import LakeFormat
import LakeTestSupport
import Testing
@testable import LakePipeline

/// A lake holding Evaluation-Files' orders ingested as `batches` separate commits, so every
/// partition has several small files.
struct BatchedLake {
    let dir: TemporaryDirectory
    let store: LakeStore
    var catalog: Catalog { store.catalog }
    var root: String { dir.path }

    /// `v1Only`: build the lake with the registry as it was before v2 shipped (every table at
    /// v1), as a lake created then would be; reopen with the full registry to migrate it.
    init(batches: Int, v1Only: Bool = false) throws {
        dir = try TemporaryDirectory("lake-maint")
        let input = packageRoot.appendingPathComponent("Evaluation-Files")
        let schemas = v1Only ? try registryV1Copy(dir) : packageRoot.appendingPathComponent("schemas")
        store = try LakeStore.open(root: dir.url.appendingPathComponent("lake"), schemas: schemas)
        _ = try CatalogIngest.run(store, path: input.appendingPathComponent("product_catalog.json").path)
        let lines = try String(contentsOf: input.appendingPathComponent("orders_stream.jsonl"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: true)
        let per = (lines.count + batches - 1) / batches
        for b in 0 ..< batches {
            let part = lines[(b * per) ..< min(lines.count, (b + 1) * per)]
            let path = dir.file("batch\(b).jsonl")
            try (part.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            _ = try OrderIngest.run(store, path: path)
        }
    }

    var lakeRoot: String { dir.url.appendingPathComponent("lake").path }

    /// DuckDB (through the DuckLake attach) per table: row count and an order-independent
    /// checksum over whole rows, plus revenue by day and channel, at `snapshot`.
    func duckdbFigures(snapshot: Int64) throws -> [String: String] {
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(lakeRoot)/manifest.sqlite' AS l (DATA_PATH '\(lakeRoot)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        out = {}
        for t in ["curated.orders", "curated.order_items", "raw.orders"]:
            r = con.execute(f"SELECT count(*), sum(hash(x)) FROM (SELECT * FROM l.{t} AT (VERSION => \(snapshot))) x").fetchone()
            out[t] = f"{r[0]}:{r[1]}"
        r = con.execute("SELECT string_agg(event_date || channel || ':' || s::VARCHAR, ',' ORDER BY event_date, channel) FROM (SELECT event_date, channel, sum(order_total) s FROM l.curated.orders AT (VERSION => \(snapshot)) WHERE status = 'confirmed' GROUP BY ALL)").fetchone()
        out["revenue"] = r[0]
        print(json.dumps(out))
        """
        return try Python.json(script) as? [String: String] ?? [:]
    }

    /// DuckDB's change feed per table between two snapshots: how many changes, and a checksum
    /// over (snapshot, rowid, change type, row).
    func duckdbLineage(from: Int64, to: Int64) throws -> [String: String] {
        let script = Python.duckdbPrelude + """
        con = duck()
        con.execute("ATTACH 'ducklake:sqlite:\(lakeRoot)/manifest.sqlite' AS l (DATA_PATH '\(lakeRoot)/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
        out = {}
        for s, t in [("curated", "orders"), ("curated", "order_items"), ("raw", "orders")]:
            r = con.execute(f"SELECT count(*), coalesce(sum(hash(x)), 0) FROM ducklake_table_changes('l', '{s}', '{t}', \(from), \(to)) x").fetchone()
            out[s + "." + t] = f"{r[0]}:{r[1]}"
        print(json.dumps(out))
        """
        return try Python.json(script) as? [String: String] ?? [:]
    }

    /// The files ducklake_files_scheduled_for_deletion lists, as absolute paths.
    func scheduledPaths() throws -> [String] {
        try catalog.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT path, path_is_relative FROM ducklake_files_scheduled_for_deletion").map { r in
                let path: String = try r.value("path") ?? ""
                let relative: Int64? = try r.value("path_is_relative")
                return relative == 0 ? path : URL(fileURLWithPath: lakeRoot).appendingPathComponent(path).standardizedFileURL.path
            }
        }
    }

    /// Our own order-independent checksum over every row of a table at a snapshot, read with
    /// the maintenance reader (by field id), plus the number of live files.
    func ourChecksum(_ schema: String, _ name: String, at snapshot: Int64) throws -> (rows: Int, sum: UInt64, files: Int) {
        let table = try catalog.table(schema: schema, name: name, at: .snapshot(snapshot))
        let files = try catalog.dataFiles(tableID: table.tableID, at: .snapshot(snapshot))
        var rows = 0
        var sum: UInt64 = 0
        for f in files {
            for b in try FileRows.read(f, table: table, schema: try table.schema(), files: catalog.files) {
                for r in 0 ..< b.count {
                    var h: UInt64 = 0xCBF2_9CE4_8422_2325
                    for c in b.columns {
                        let text: String
                        if c.isNull(r) { text = "\u{0}null" } else {
                            switch c.data {
                            case .int32(let v): text = String(v[r])
                            case .int64(let v): text = String(v[r])
                            case .double(let v): text = String(v[r])
                            case .bool(let v): text = String(v[r])
                            case .string, .dictionary: text = c.string(at: r) ?? ""
                            }
                        }
                        for byte in text.utf8 + [0x1F] { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
                    }
                    sum &+= h
                    rows += 1
                }
            }
        }
        return (rows, sum, files.count)
    }
}

@Suite("Maintenance: compaction", .serialized)
struct MaintenanceCompactionTests {
    @Test("compaction merges files keeping their history: every row, figure and row id, every snapshot reads as before, DuckDB's change feed sees no change")
    func compactKeepsData() throws {
        let lake = try BatchedLake(batches: 4)
        defer { lake.dir.remove() }
        let before = try lake.catalog.latestSnapshot().id
        let history = try lake.catalog.snapshots().map(\.id).filter { $0 >= 2 }
        var oursAt: [Int64: UInt64] = [:], duckAt: [Int64: [String: String]] = [:]
        for s in history {
            oursAt[s] = try lake.ourChecksum("curated", "orders", at: s).sum
            duckAt[s] = try lake.duckdbFigures(snapshot: s)
        }
        let oursBefore = try lake.ourChecksum("curated", "orders", at: before)
        let itemsBefore = try lake.ourChecksum("curated", "order_items", at: before)
        let lineageBefore = try lake.duckdbLineage(from: history[0], to: before)
        #expect(oursBefore.rows > 500)

        let report = try Compaction.run(lake.catalog)
        let after = try #require(report.snapshotID)
        #expect(after == before + 1)
        #expect(report.filesAfter < report.filesBefore)
        #expect(!report.groups.isEmpty)
        let oursAfter = try lake.ourChecksum("curated", "orders", at: after)
        #expect(oursAfter.rows == oursBefore.rows)
        #expect(oursAfter.sum == oursBefore.sum)
        #expect(oursAfter.files < oursBefore.files)
        let itemsAfter = try lake.ourChecksum("curated", "order_items", at: after)
        #expect(itemsAfter.rows == itemsBefore.rows && itemsAfter.sum == itemsBefore.sum)
        // Every partition now has exactly one file (the data is far below the target size).
        let orders = try lake.catalog.table(schema: "curated", name: "orders")
        let files = try lake.catalog.dataFiles(tableID: orders.tableID)
        #expect(Set(files.map(\.partitionValues)).count == files.count)
        // The merged files begin at their first input's snapshot and record their last (partial_max);
        // each is sorted by event_time: the file's stats min/max bound the rows in order.
        let compacted = files.filter { $0.mergedThrough != nil }
        #expect(!compacted.isEmpty && compacted.allSatisfy { $0.beginSnapshot < after && $0.mergedThrough! < after })
        for f in compacted {
            let b = try FileRows.read(f, table: orders, schema: try orders.schema(), files: lake.catalog.files)
            let times = b.flatMap { batch -> [Int64] in
                guard case .int64(let v) = batch.column("event_time")!.data else { return [] }
                return v
            }
            #expect(times == times.sorted())
        }

        // Every snapshot, the compaction's and all before it, reads the same rows, in our reader and in DuckDB.
        for s in history {
            #expect(try lake.ourChecksum("curated", "orders", at: s).sum == oursAt[s], "snapshot \(s)")
            #expect(try lake.duckdbFigures(snapshot: s) == duckAt[s], "snapshot \(s)")
        }
        #expect(try lake.duckdbFigures(snapshot: after) == duckAt[before])
        // DuckDB's change feed: the same inserts, row ids and snapshots as before, and nothing at the compaction.
        // Until session 34 every compacted row read as deleted and inserted again, under a new row id.
        #expect(try lake.duckdbLineage(from: history[0], to: after) == lineageBefore)
        #expect(try lake.duckdbLineage(from: after, to: after).values.allSatisfy { $0 == "0:0" })

        // A second run changes nothing: no new snapshot.
        let again = try Compaction.run(lake.catalog)
        #expect(again.groups.isEmpty && again.snapshotID == nil)
        #expect(try lake.catalog.latestSnapshot().id == after)

        // The inputs are scheduled for deletion at once, as DuckDB's merge does; vacuum deletes
        // them (their rows now live in the merged files at every snapshot).
        let scheduled = try lake.scheduledPaths()
        #expect(!scheduled.isEmpty && scheduled.allSatisfy { FileManager.default.fileExists(atPath: $0) })
        let vac = try lake.catalog.vacuum(retain: 0)
        #expect(!vac.expiredSnapshots.isEmpty)
        #expect(scheduled.filter { FileManager.default.fileExists(atPath: $0) }.isEmpty)
        for f in files { #expect(FileManager.default.fileExists(atPath: f.url.path)) }
        #expect(try lake.duckdbFigures(snapshot: after) == duckAt[before])
        #expect(try lake.ourChecksum("curated", "orders", at: after).sum == oursBefore.sum)
    }

    @Test("a partition whose input files another commit removed meanwhile is skipped, the rest commits, nothing is duplicated")
    func concurrentRemovalSkips() throws {
        let lake = try BatchedLake(batches: 2)
        defer { lake.dir.remove() }
        let before = try lake.catalog.latestSnapshot().id
        let orders = try lake.ourChecksum("curated", "orders", at: before)
        let items = try lake.ourChecksum("curated", "order_items", at: before)
        var competitor = CompactionOptions()
        competitor.table = "curated.orders"
        // Our run plans every table; while it is between writing and committing, another
        // compaction of curated.orders commits first and removes the files ours read.
        let table = try lake.catalog.table(schema: "curated", name: "orders")
        let everRegistered = Set(try lake.catalog.dataFiles(tableID: table.tableID, at: .snapshot(before)).map { $0.url.standardizedFileURL.path })
        var competitorSnapshot: Int64?
        let report = try Compaction.run(lake.catalog, options: CompactionOptions()) {
            competitorSnapshot = try Compaction.run(lake.catalog, options: competitor).snapshotID
        }
        #expect(competitorSnapshot != nil)
        let skipped = report.groups.filter(\.skippedConflict)
        #expect(!skipped.isEmpty && skipped.allSatisfy { $0.table == "curated.orders" })
        #expect(report.groups.contains { $0.table == "curated.order_items" && !$0.skippedConflict })
        let latest = try #require(report.snapshotID)
        let ordersNow = try lake.ourChecksum("curated", "orders", at: latest)
        #expect(ordersNow.rows == orders.rows && ordersNow.sum == orders.sum)
        let itemsNow = try lake.ourChecksum("curated", "order_items", at: latest)
        #expect(itemsNow.rows == items.rows && itemsNow.sum == items.sum)
        // The skipped partitions' output files were deleted, not left as orphans.
        let live = Set(try lake.catalog.dataFiles(tableID: table.tableID).map { $0.url.standardizedFileURL.path })
        let onDisk = FileManager.default.enumerator(atPath: table.directory.path)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".parquet") }.map { table.directory.appendingPathComponent($0).standardizedFileURL.path }
        // The competitor's inputs are scheduled for deletion (its merge replaced them at every snapshot).
        let leftover = Set(onDisk).subtracting(live).subtracting(everRegistered)
        #expect(leftover.isEmpty, "\(leftover)")
        let scheduledOrders = try lake.scheduledPaths().filter { $0.hasPrefix(table.directory.standardizedFileURL.path + "/") }
        #expect(!scheduledOrders.isEmpty && Set(scheduledOrders).isSubset(of: everRegistered))
    }

    @Test("options are checked with messages that say what is wrong")
    func badOptions() throws {
        let lake = try BatchedLake(batches: 1)
        defer { lake.dir.remove() }
        var o = CompactionOptions()
        o.table = "curated.nope"
        #expect(throws: MaintenanceError.unknownTable("curated.nope")) { try Compaction.run(lake.catalog, options: o) }
        o = CompactionOptions()
        o.sortBy = "no_such_column"
        o.table = "orders"
        #expect(throws: MaintenanceError.unknownSortColumn(table: "curated.orders", column: "no_such_column")) {
            try Compaction.run(lake.catalog, options: o)
        }
        o = CompactionOptions()
        o.date = "2024-13-45"
        #expect(throws: MaintenanceError.badPartition("event_date=2024-13-45")) { try Compaction.run(lake.catalog, options: o) }
    }
}
