import Foundation
import GRDB
import LakeFormat
import Testing
@testable import LakeCatalog

@Suite struct CatalogBasics {
    /// Paths lake writes skip Foundation's normalisation; every other path still goes through
    /// it: the result equals `URL.standardizedFileURL.path` for plain, hidden, dotted, doubled,
    /// trailing-slash, relative, unicode, space and percent paths.
    @Test func standardizedPathsEqualFoundations() {
        let paths = ["/lake/curated/orders/event_date=2024-01-05/channel=web/a1.parquet", "/lake/.hold-a1.parquet", "/lake/.tmp-x.parquet.pending",
                     "/lake/./a.parquet", "/lake/../a.parquet", "/lake//a.parquet", "/lake/a/", "/lake/a/.", "/lake/a/..", "/lake/.../b",
                     "/lake/..b/c", "/lake/b../c", "/a", "/", "//", "relative/a.parquet", "/lake with space/ünï/a%20b.parquet", "/lake/a.", "/x/..."]
        for p in paths {
            #expect(LakeFiles.standardized(p) == URL(fileURLWithPath: p).standardizedFileURL.path, "\(p)")
        }
    }

    @Test func newCatalogHasEveryDuckLakeTableAndSnapshotZero() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake")
        let catalog = try Catalog.open(root: root)
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("manifest.sqlite").path))

        let snaps = try catalog.snapshots()
        #expect(snaps.map(\.id) == [0])
        #expect(snaps[0].changesMade == #"created_schema:"main""#)
        #expect(snaps[0].schemaVersion == 0 && snaps[0].nextCatalogID == 1 && snaps[0].nextFileID == 0)
        #expect(abs(snaps[0].time.timeIntervalSinceNow) < 60)

        try catalog.read { (db: SQLDatabase) throws in
            let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ducklake_%' ORDER BY name")
            #expect(names == DuckLakeSchema.tableNames.sorted())
            #expect(names.count == 28)
            let meta = try SQLRow.fetchAll(db, sql: "SELECT key, value FROM ducklake_metadata")
            let dict = Dictionary(uniqueKeysWithValues: meta.map { ($0["key"] as String, $0["value"] as String) })
            #expect(dict["version"] == "1.0")
            #expect(dict["data_path"] == "./")  // relative: a moved lake stays whole (RelocationTests)
            #expect(dict["encrypted"] == "false")
            #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
            let schema = try SQLRow.fetchOne(db, sql: "SELECT schema_id, schema_name, path, path_is_relative, begin_snapshot FROM ducklake_schema")
            #expect(schema?["schema_name"] == "main")
            #expect(schema?["path"] == "main/")
            // DuckLake 1.0 records schema versions per table; a new catalog has no table yet.
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_schema_versions") == 0)
        }
        // Reopening finds the same catalog rather than creating another snapshot 0.
        let again = try Catalog.open(root: root, create: false)
        #expect(try again.snapshots().count == 1)
    }

    @Test func openWithoutCreateOnEmptyDirectoryIsATypedError() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        #expect(throws: CatalogError.notFound(path: dir.url.appendingPathComponent("manifest.sqlite").standardizedFileURL.path)) {
            try Catalog.open(root: dir.url, create: false)
        }
    }

    @Test func aMovedLakeStillResolvesItsFiles() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let first = dir.url.appendingPathComponent("a")
        let tid = try makeOrders(try Catalog.open(root: first))
        try Catalog.open(root: first).commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "f", date: "2024-01-15", channel: "web", rows: 1))
        }
        let moved = dir.url.appendingPathComponent("b")
        try FileManager.default.moveItem(at: first, to: moved)
        let catalog = try Catalog.open(root: moved, create: false)
        #expect(catalog.dataPath.path == moved.standardizedFileURL.path)
        let f = try #require(try catalog.dataFiles(tableID: tid).first)
        #expect(f.url.path == moved.standardizedFileURL.path + "/curated/orders/order_date=2024-01-15/channel=web/f.parquet")
    }

    @Test func otherCatalogVersionsAreRefused() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        try Catalog.open(root: dir.url).read { _ in }
        let path = dir.url.appendingPathComponent("manifest.sqlite").standardizedFileURL.path
        let q = try DatabaseQueue(path: path)
        try q.write { db in try db.execute(sql: "UPDATE ducklake_metadata SET value = '0.2' WHERE key = 'version'") }
        try q.close()
        #expect(throws: CatalogError.incompatibleCatalog(path: path, reason: "catalog version 0.2 predates DuckLake 0.3; attach it once with DuckDB 1.5 (AUTOMATIC_MIGRATION TRUE) to migrate it to 1.0")) {
            try Catalog.open(root: dir.url)
        }
        // No version at all (session 16 probe: "catalog version garbage predates DuckLake 0.3"):
        // no migration helps, so the message does not send the user to one.
        for bad in ["garbage", "", "1", "1.x"] {
            let q = try DatabaseQueue(path: path)
            try q.write { db in try db.execute(sql: "UPDATE ducklake_metadata SET value = ? WHERE key = 'version'", arguments: [bad]) }
            try q.close()
            do {
                _ = try Catalog.open(root: dir.url)
                Issue.record("a catalog whose version is \"\(bad)\" opened")
            } catch let CatalogError.incompatibleCatalog(_, reason) {
                #expect(reason.contains("is no DuckLake version") && reason.contains("\"\(bad)\"") && !reason.contains("predates"), "\(reason)")
            }
        }
    }

    @Test func commitsAreReadableAtEverySnapshot() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        let created = try catalog.latestSnapshot()
        #expect(created.id == 1)
        #expect(created.changesMade == #"created_schema:"curated",created_table:"curated"."orders""#)
        #expect(created.message == "create orders")
        #expect(created.schemaVersion == 1)

        let t = try catalog.table(schema: "curated", name: "orders")
        #expect(t.tableID == tid)
        #expect(t.columns.map(\.columnID) == [1, 2, 3, 4, 5])
        #expect(t.columns.map(\.duckLakeType) == ["int64", "date", "varchar", "decimal(12,2)", "timestamptz"])
        #expect(try t.schema().fields.map(\.fieldID) == [1, 2, 3, 4, 5])
        #expect(try t.schema().fields.map(\.type) == orderFields.map(\.type))
        #expect(t.partitionColumns.map(\.name) == ["order_date", "channel"])
        #expect(t.directory.path == dir.url.standardizedFileURL.path + "/curated/orders")

        let (s2, ids) = try catalog.commit(author: "ingest", message: "day 1") { tx in
            let tt = try tx.table(tid)
            return [try tx.addDataFile(tableID: tid, orderFile(tt, "a", date: "2024-01-15", channel: "web", rows: 3, idRange: (1, 3))),
                    try tx.addDataFile(tableID: tid, orderFile(tt, "b", date: "2024-01-15", channel: "app", rows: 2, idRange: (4, 5)))]
        }
        #expect(ids == [0, 1])
        #expect(s2.id == 2 && s2.schemaVersion == 1 && s2.nextFileID == 2)
        #expect(s2.changesMade == "inserted_into_table:\(tid)")
        #expect(s2.author == "ingest")

        let (s3, _) = try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "c", date: "2024-01-16", channel: "web", rows: 4, size: 500, idRange: (6, 9)))
        }

        #expect(try catalog.dataFiles(tableID: tid, at: .snapshot(1)).isEmpty)
        let at2 = try catalog.dataFiles(tableID: tid, at: .snapshot(s2.id))
        #expect(at2.map(\.dataFileID) == [0, 1])
        let at3 = try catalog.dataFiles(tableID: tid, at: .snapshot(s3.id))
        #expect(at3.map(\.dataFileID) == [0, 1, 2])
        #expect(at3.map(\.rowIDStart) == [0, 3, 5])
        #expect(at3.map(\.recordCount) == [3, 2, 4])
        #expect(at3[2].beginSnapshot == s3.id)
        #expect(at3[2].partitionValues == ["order_date": "2024-01-16", "channel": "web"])
        #expect(at3[2].url.path == t.directory.path + "/order_date=2024-01-16/channel=web/c.parquet")
        #expect(at3[2].columnStats[1] == ColumnStats(min: "6", max: "9", nullCount: 0, valueCount: 4))
        #expect(at3[2].columnStats[4]?.nullCount == 1 && at3[2].columnStats[4]?.valueCount == 3)
        #expect(try catalog.dataFiles(tableID: tid) == at3)

        try catalog.read { (db: SQLDatabase) throws in
            let ts = try SQLRow.fetchOne(db, sql: "SELECT record_count, next_row_id, file_size_bytes FROM ducklake_table_stats WHERE table_id = ?", arguments: [tid])
            #expect(ts?["record_count"] == 9 as Int64)
            #expect(ts?["next_row_id"] == 9 as Int64)
            #expect(ts?["file_size_bytes"] == 2500 as Int64)
            let idStats = try SQLRow.fetchOne(db, sql: "SELECT min_value, max_value, contains_null FROM ducklake_table_column_stats WHERE table_id = ? AND column_id = 1", arguments: [tid])
            // Merged numerically: "9" < "10" would go wrong as text; here max is 9 across 3..9.
            #expect(idStats?["min_value"] == "1")
            #expect(idStats?["max_value"] == "9")
            #expect(idStats?["contains_null"] == 0 as Int64)
            let dateStats = try SQLRow.fetchOne(db, sql: "SELECT min_value, max_value FROM ducklake_table_column_stats WHERE table_id = ? AND column_id = 2", arguments: [tid])
            #expect(dateStats?["min_value"] == "2024-01-15")
            #expect(dateStats?["max_value"] == "2024-01-16")
            let amount = try SQLRow.fetchOne(db, sql: "SELECT contains_null FROM ducklake_table_column_stats WHERE table_id = ? AND column_id = 4", arguments: [tid])
            #expect(amount?["contains_null"] == 1 as Int64)
        }
    }

    @Test func tableLevelStatsMergeNumericallyNotAsText() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        try catalog.commit { tx in
            let t = try tx.table(tid)
            try tx.addDataFile(tableID: tid, orderFile(t, "a", date: "2024-01-15", channel: "web", rows: 1, idRange: (9, 9)))
            try tx.addDataFile(tableID: tid, orderFile(t, "b", date: "2024-01-15", channel: "web", rows: 1, idRange: (10, 100)))
            var f = orderFile(t, "c", date: "2024-01-15", channel: "web", rows: 1, idRange: (-5, 2))
            f.columnStats[4] = ColumnStats(min: "-12.50", max: "100.00", nullCount: 0)
            try tx.addDataFile(tableID: tid, f)
        }
        try catalog.read { (db: SQLDatabase) throws in
            let r = try SQLRow.fetchAll(db, sql: "SELECT column_id, min_value, max_value FROM ducklake_table_column_stats WHERE table_id = ? ORDER BY column_id", arguments: [tid])
            #expect(r[0]["min_value"] == "-5" && r[0]["max_value"] == "100")
            #expect(r[3]["min_value"] == "-12.50" && r[3]["max_value"] == "100.00")
        }
    }

    /// A file whose column has values but no min/max (the ingest leaves them out for the verbatim
    /// source line) makes the table's bounds unknown (NULL), however many bounded files follow,
    /// and NULL stays "no value yet" for a column that only had nulls. Once no live file lacks
    /// bounds, the next bounded file brings back the bounds of every live file, not its own.
    @Test func unboundedFileMakesTableBoundsUnknown() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        func bounds(_ column: Int64) throws -> [String?] {
            try catalog.read { (db: SQLDatabase) throws -> [String?] in
                guard let r = try SQLRow.fetchOne(db, sql: "SELECT min_value, max_value FROM ducklake_table_column_stats WHERE table_id = ? AND column_id = ?",
                                                  arguments: [tid, column]) else { return [] }
                let mn: String? = try r.value("min_value"), mx: String? = try r.value("max_value")
                return [mn, mx]
            }
        }
        // order_id (column 1) bounded 5...7; amount (column 4) all null so far.
        try catalog.commit { tx in
            var f = orderFile(try tx.table(tid), "a", date: "2024-01-15", channel: "web", rows: 2, idRange: (5, 7))
            f.columnStats[4] = ColumnStats(min: nil, max: nil, nullCount: 2)
            try tx.addDataFile(tableID: tid, f)
        }
        #expect(try bounds(1) == ["5", "7"])
        #expect(try bounds(4) == [nil, nil])
        // amount's first values: NULL was "no value yet", so the new bounds are taken.
        try catalog.commit { tx in
            var f = orderFile(try tx.table(tid), "b", date: "2024-01-15", channel: "web", rows: 2, idRange: (6, 6))
            f.columnStats[4] = ColumnStats(min: "3.00", max: "4.00", nullCount: 0)
            try tx.addDataFile(tableID: tid, f)
        }
        #expect(try bounds(4) == ["3.00", "4.00"])
        // A file with order ids but no bounds, then (same commit and later) bounded ones.
        let unbounded = try catalog.commit { tx -> Int64 in
            var f = orderFile(try tx.table(tid), "c", date: "2024-01-15", channel: "web", rows: 3)
            f.columnStats[1] = ColumnStats(min: nil, max: nil, nullCount: 0)
            let id = try tx.addDataFile(tableID: tid, f)
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "d", date: "2024-01-15", channel: "web", rows: 1, idRange: (1, 1)))
            return id
        }.1
        #expect(try bounds(1) == [nil, nil])
        try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "e", date: "2024-01-15", channel: "web", rows: 1, idRange: (50, 50)))
        }
        #expect(try bounds(1) == [nil, nil], "a bounded file must not narrow unknown bounds to its own")
        #expect(try bounds(4) == ["1.00", "9.99"], "other columns keep merging")
        // Without the unbounded file, the next bounded file brings back every live file's bounds.
        try catalog.commit { tx in
            try tx.removeDataFiles([unbounded])
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "f", date: "2024-01-15", channel: "web", rows: 1, idRange: (20, 20)))
        }
        #expect(try bounds(1) == ["1", "50"])
        // The purge's recomputation reads a live unbounded file as unknown bounds too.
        try catalog.commit { tx in
            var f = orderFile(try tx.table(tid), "g", date: "2024-01-15", channel: "web", rows: 3)
            f.columnStats[1] = ColumnStats(min: nil, max: nil, nullCount: 0)
            try tx.addDataFile(tableID: tid, f)
            try tx.recomputeTableColumnStats(tableID: tid)
        }
        #expect(try bounds(1) == [nil, nil])
        #expect(try bounds(2) == ["2024-01-15", "2024-01-15"])
    }

    /// On SQLite `insertRows` binds through SQLite's C API, not GRDB: every kind of value must
    /// land as GRDB binds it (same value, same storage class), the empty text, a text with a NUL
    /// and the empty blob included; and the statement, cached, serves the next rows.
    @Test func sqliteInsertRowsBindsLikeGRDB() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let rows: [[SQLValue]] = [
            [.null, .int64(.min), .double(-0.5), .string(""), .blob(Data())],
            [.int64(42), .int64(.max), .double(1e300), .string("é😀 x\u{0}y"), .blob(Data([0, 1, 255]))],
            [.string("7"), .double(2), .int64(0), .null, .string("")],
        ]
        // hex(): the bytes stored, which a read back as a String would cut at a NUL.
        let select = "SELECT a, b, c, d, e, typeof(a), typeof(b), typeof(c), typeof(d), typeof(e), hex(d), hex(e) FROM "
        let (ours, grdbs) = try catalog.store.write { db -> ([[SQLValue]], [[SQLValue]]) in
            for t in ["lake_bind_ours", "lake_bind_grdb"] { try db.execute(sql: "CREATE TABLE " + t + " (a, b, c, d, e)") }
            try db.insertRows(into: "lake_bind_ours", row: "(?, ?, ?, ?, ?)", rows.map(SQLArguments.init))
            for r in rows { try db.execute(sql: "INSERT INTO lake_bind_grdb VALUES (?, ?, ?, ?, ?)", arguments: SQLArguments(r)) }
            return (try db.fetch(sql: select + "lake_bind_ours ORDER BY rowid", arguments: []).map(\.values),
                    try db.fetch(sql: select + "lake_bind_grdb ORDER BY rowid", arguments: []).map(\.values))
        }
        #expect(ours.count == rows.count)
        #expect(ours == grdbs)
        #expect(ours.first.map { Array($0[5 ..< 9]) } == [.string("null"), .string("integer"), .string("real"), .string("text")])
    }

    /// `addDataFiles` (a batch in a fixed number of statements) leaves exactly the catalog rows
    /// one `addDataFile` per file leaves: file ids, row ids, per-file stats, partition values,
    /// footer checksums, and the table-level stats folded over the files (numerically, nulls
    /// and NaN included) on top of an earlier commit's.
    @Test func addDataFilesEqualsOneCallPerFile() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        func files(_ t: TableInfo) -> [NewDataFile] {
            var a = orderFile(t, "a", date: "2024-01-15", channel: "web", rows: 3, idRange: (9, 12))
            a.footerChecksum = 0xDEAD_BEEF
            var b = orderFile(t, "b", date: "2024-01-16", channel: "app", rows: 2, size: 700, idRange: (100, 250))
            b.columnStats[4] = ColumnStats(min: "-12.50", max: "100.00", nullCount: 2)
            let c = orderFile(t, "c", date: "2024-01-15", channel: "web", rows: 5, idRange: (-5, 2))
            return [a, b, c]
        }
        func build(_ name: String, batched: Bool) throws -> [String: [[String]]] {
            let catalog = try Catalog.open(root: dir.url.appendingPathComponent(name))
            let tid = try makeOrders(catalog)
            try catalog.commit { tx in
                try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "first", date: "2024-01-14", channel: "web", rows: 4, idRange: (1, 4)))
            }
            let (_, ids) = try catalog.commit { tx -> [Int64] in
                let fs = files(try tx.table(tid))
                if batched { return try tx.addDataFiles(tableID: tid, fs) }
                return try fs.map { try tx.addDataFile(tableID: tid, $0) }
            }
            #expect(ids == [1, 2, 3])
            var out: [String: [[String]]] = [:]
            try catalog.read { (db: SQLDatabase) throws in
                for table in ["ducklake_data_file", "ducklake_file_column_stats", "ducklake_file_partition_value", "ducklake_table_stats",
                              "ducklake_table_column_stats", "lake_file_integrity", "ducklake_snapshot_changes"] {
                    out[table] = try SQLRow.fetchAll(db, sql: "SELECT * FROM \(table)").map { r in r.values.map { "\($0)" } }.sorted { $0.lexicographicallyPrecedes($1) }
                }
            }
            return out
        }
        let single = try build("single", batched: false), batched = try build("batched", batched: true)
        for (table, rows) in single {
            #expect(rows == batched[table], "\(table): one call per file \(rows), batched \(batched[table] ?? [])")
        }
        #expect(single["ducklake_data_file"]?.count == 4 && (single["ducklake_file_column_stats"]?.count ?? 0) >= 16)
        #expect(single["lake_file_integrity"]?.count == 1)
    }

    /// `addDataFiles` of several tables in one call (an order batch's three) leaves exactly the
    /// rows one call per table leaves, in that order: file ids and row ids per table, per-file
    /// stats, partition values, footer checksums, each table's stats and column stats, for a
    /// table with files already (its stats are folded) and one getting its first (no stats row
    /// yet), and the ids returned per table.
    @Test func addDataFilesOfSeveralTablesEqualsOneCallPerTable() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        func build(_ name: String, together: Bool) throws -> (ids: [[Int64]], rows: [String: [[String]]]) {
            let catalog = try Catalog.open(root: dir.url.appendingPathComponent(name))
            let a = try makeOrders(catalog)
            let (_, created) = try catalog.commit { tx in
                try tx.createTable(schema: "curated", name: "orders_copy", fields: orderFields, partitionBy: ["order_date", "channel"])
            }
            let b = created.tableID
            try catalog.commit { tx in
                try tx.addDataFile(tableID: a, orderFile(try tx.table(a), "first", date: "2024-01-14", channel: "web", rows: 4, idRange: (1, 4)))
            }
            let (_, ids) = try catalog.commit { tx -> [[Int64]] in
                var fa = orderFile(try tx.table(a), "a1", date: "2024-01-15", channel: "web", rows: 3, idRange: (9, 12))
                fa.footerChecksum = 0xDEAD_BEEF
                let fa2 = orderFile(try tx.table(a), "a2", date: "2024-01-16", channel: "app", rows: 2, idRange: (-3, 400))
                var fb = orderFile(try tx.table(b), "b1", date: "2024-01-15", channel: "web", rows: 5, size: 700, idRange: (100, 250))
                fb.columnStats[4] = ColumnStats(min: "-12.50", max: "100.00", nullCount: 2)
                fb.footerChecksum = 7
                if together { return try tx.addDataFiles([(b, [fb]), (a, [fa, fa2])]) }
                return [try tx.addDataFiles(tableID: b, [fb]), try tx.addDataFiles(tableID: a, [fa, fa2])]
            }
            var out: [String: [[String]]] = [:]
            try catalog.read { (db: SQLDatabase) throws in
                for table in ["ducklake_data_file", "ducklake_file_column_stats", "ducklake_file_partition_value", "ducklake_table_stats",
                              "ducklake_table_column_stats", "lake_file_integrity", "ducklake_snapshot_changes"] {
                    out[table] = try SQLRow.fetchAll(db, sql: "SELECT * FROM \(table)").map { r in r.values.map { "\($0)" } }.sorted { $0.lexicographicallyPrecedes($1) }
                }
            }
            return (ids, out)
        }
        let single = try build("single", together: false), together = try build("together", together: true)
        #expect(single.ids == [[1], [2, 3]] && together.ids == single.ids, "\(single.ids) \(together.ids)")
        for (table, rows) in single.rows {
            #expect(rows == together.rows[table], "\(table): one call per table \(rows), together \(together.rows[table] ?? [])")
        }
        #expect(single.rows["ducklake_data_file"]?.count == 4 && single.rows["ducklake_table_stats"]?.count == 2)
        #expect(single.rows["lake_file_integrity"]?.count == 2)
    }

    @Test func failedCommitLeavesNoTrace() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        let before = try catalog.snapshots()
        #expect(throws: CatalogError.self) {
            try catalog.commit { tx in
                let t = try tx.table(tid)
                try tx.addDataFile(tableID: tid, orderFile(t, "ok", date: "2024-01-15", channel: "web", rows: 1))
                try tx.database.execute(sql: "CREATE TABLE lake_probe(x)")
                // Second file is missing a partition value: the whole commit must vanish.
                var bad = orderFile(t, "bad", date: "2024-01-15", channel: "web", rows: 1)
                bad.partitionValues = ["order_date": "2024-01-15"]
                try tx.addDataFile(tableID: tid, bad)
            }
        }
        #expect(try catalog.snapshots() == before)
        #expect(try catalog.dataFiles(tableID: tid).isEmpty)
        try catalog.read { (db: SQLDatabase) throws in
            #expect(try !db.tableExists("lake_probe"))
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_data_file") == 0)
        }
    }

    @Test func invalidRegistrationsAreRefusedWithTypedErrors() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        let t = try catalog.table(id: tid)
        func attempt(_ f: NewDataFile) -> CatalogError? {
            do { try catalog.commit { tx in try tx.addDataFile(tableID: tid, f) }; return nil } catch let e as CatalogError { return e } catch { return .storage("\(error)") }
        }
        var f = orderFile(t, "x", date: "2024-01-15", channel: "web", rows: 2)
        f.relativePath = "../escape.parquet"
        guard case .invalidDataFilePath? = attempt(f) else { Issue.record("path escaping the table directory accepted"); return }
        f = orderFile(t, "x", date: "2024-01-15", channel: "web", rows: 2)
        f.columnStats[2] = nil
        guard case .invalidStats? = attempt(f) else { Issue.record("missing stats accepted"); return }
        f = orderFile(t, "x", date: "2024-01-15", channel: "web", rows: 2)
        f.columnStats[1] = ColumnStats(min: "5", max: "3", nullCount: 0)
        guard case .invalidStats? = attempt(f) else { Issue.record("min > max accepted"); return }
        f = orderFile(t, "x", date: "2024-01-15", channel: "web", rows: 2)
        f.columnStats[2] = ColumnStats(min: "2024-02-30", max: "2024-03-01", nullCount: 0)
        guard case .invalidStats? = attempt(f) else { Issue.record("bad date accepted"); return }
        f = orderFile(t, "x", date: "2024-01-15", channel: "web", rows: 2)
        f.columnStats[99] = ColumnStats(min: nil, max: nil, nullCount: 0)
        #expect(attempt(f) == .columnIDNotFound(table: "curated.orders", columnID: 99))
        #expect(throws: CatalogError.tableIDNotFound(id: 4242, snapshot: 2)) {
            try catalog.commit { tx in try tx.addDataFile(tableID: 4242, f) }
        }
        #expect(throws: CatalogError.tableExists(name: "curated.orders")) {
            try catalog.commit { tx in try tx.createTable(schema: "curated", name: "orders", fields: orderFields) }
        }
        #expect(throws: CatalogError.schemaNotFound(name: "nope", snapshot: 2)) {
            try catalog.commit { tx in try tx.createTable(schema: "nope", name: "x", fields: orderFields) }
        }
        #expect(throws: CatalogError.partitionColumnNotFound(table: "curated.x", column: "day")) {
            try catalog.commit { tx in try tx.createTable(schema: "curated", name: "x", fields: orderFields, partitionBy: ["day"]) }
        }
        #expect(throws: CatalogError.tableNotFound(name: "curated.missing", snapshot: 1)) {
            try catalog.table(schema: "curated", name: "missing")
        }
        #expect(try catalog.latestSnapshot().id == 1)
    }
}

@Suite struct TimeTravel {
    @Test func resolveBySnapshotIDAndTime() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        Thread.sleep(forTimeInterval: 0.01)
        let (s2, _) = try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "a", date: "2024-01-15", channel: "web", rows: 1))
        }
        Thread.sleep(forTimeInterval: 0.01)
        let (s3, _) = try catalog.commit { tx in
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "b", date: "2024-01-15", channel: "web", rows: 1))
        }
        let all = try catalog.snapshots()
        #expect(all.map(\.id) == [0, 1, 2, 3])
        #expect(zip(all, all.dropFirst()).allSatisfy { $0.timeMicros < $1.timeMicros })

        #expect(try catalog.resolve(nil).id == 3)
        #expect(try catalog.resolve(.snapshot(2)) == s2)
        // A snapshot's own time resolves to it; a time between two commits to the earlier one.
        #expect(try catalog.resolve(.time(s2.time)).id == 2)
        #expect(try catalog.resolve(.time(s3.time.addingTimeInterval(-0.000_002))).id == 2)
        #expect(try catalog.resolve(.time(s3.time.addingTimeInterval(3600))).id == 3)
        #expect(try catalog.dataFiles(tableID: tid, at: .time(s2.time)).count == 1)

        #expect(throws: CatalogError.snapshotNotFound(id: 99, oldest: 0, latest: 3)) { try catalog.resolve(.snapshot(99)) }
        let early = Date(timeIntervalSince1970: 0)
        #expect(throws: CatalogError.noSnapshotAtTime(requested: early, first: all[0].time, firstID: all[0].id)) { try catalog.resolve(.time(early)) }
        // The message tells the user what exists.
        let msg = CatalogError.snapshotNotFound(id: 99, oldest: 0, latest: 3).description
        #expect(msg.contains("99") && msg.contains("from 0 to 3") && msg.contains("lake snapshots"))
    }

    @Test func asOfParsesIDsAndISOTimes() throws {
        #expect(try AsOf.parse("12") == .snapshot(12))
        #expect(try AsOf.parse(" 0 ") == .snapshot(0))
        #expect(try AsOf.parse("2024-02-01T00:00:00Z") == .time(Date(timeIntervalSince1970: 1_706_745_600)))
        #expect(try AsOf.parse("2024-02-01") == .time(Date(timeIntervalSince1970: 1_706_745_600)))
        #expect(try AsOf.parse("2024-02-01 00:00:00") == .time(Date(timeIntervalSince1970: 1_706_745_600)))
        #expect(try AsOf.parse("2024-02-01T01:30:00+01:30") == .time(Date(timeIntervalSince1970: 1_706_745_600)))
        #expect(try AsOf.parse("2024-02-01T00:00:00.5Z") == .time(Date(timeIntervalSince1970: 1_706_745_600.5)))
        for bad in ["", "abc", "-3", "12x", "2024-13-01", "2024-02-30", "2024-02-01T25:00:00Z", "99999999999999999999", "2024-02-01T00:00:00Zjunk"] {
            #expect(throws: CatalogError.invalidAsOf(text: bad)) { try AsOf.parse(bad) }
        }
        #expect(CatalogError.invalidAsOf(text: "x").description.contains("2024-02-01T00:00:00Z"))
    }
}

@Suite struct SchemaEvolution {
    @Test func alterationsAreVisibleOnlyFromTheirSnapshot() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        let (sAdd, added) = try catalog.commit { tx in
            try tx.addColumn(tableID: tid, Field("coupon", .string, nullable: true))
        }
        #expect(added.fieldID == 6)
        #expect(sAdd.changesMade == "altered_table:\(tid)")
        let (sRename, _) = try catalog.commit { tx in try tx.renameColumn(tableID: tid, from: "amount", to: "total") }
        let (sType, _) = try catalog.commit { tx in try tx.changeColumnType(tableID: tid, column: "total", to: .decimal(precision: 18, scale: 2)) }
        let (sDrop, _) = try catalog.commit { tx in try tx.dropColumn(tableID: tid, name: "coupon") }
        let (sDefault, f7) = try catalog.commit { tx in
            try tx.addColumn(tableID: tid, Field("qty", .int32), default: "1")
        }
        // Dropped ids are not reused.
        #expect(f7.fieldID == 7)

        let v1 = try catalog.table(schema: "curated", name: "orders", at: .snapshot(1))
        #expect(v1.columns.map(\.name) == ["order_id", "order_date", "channel", "amount", "placed_at"])
        let vAdd = try catalog.table(id: tid, at: .snapshot(sAdd.id))
        #expect(vAdd.columns.map(\.name).last == "coupon")
        #expect(vAdd.column(named: "coupon")?.beginSnapshot == sAdd.id)
        let vRename = try catalog.table(id: tid, at: .snapshot(sRename.id))
        #expect(vRename.column(id: 4)?.name == "total")
        #expect(vRename.column(id: 4)?.type == .decimal(precision: 12, scale: 2))
        #expect(vRename.columns.map(\.columnID) == [1, 2, 3, 4, 5, 6])
        let vType = try catalog.table(id: tid, at: .snapshot(sType.id))
        #expect(vType.column(id: 4)?.duckLakeType == "decimal(18,2)")
        let vDrop = try catalog.table(id: tid, at: .snapshot(sDrop.id))
        #expect(vDrop.column(named: "coupon") == nil)
        let latest = try catalog.table(id: tid)
        #expect(latest.columns.map(\.name) == ["order_id", "order_date", "channel", "total", "placed_at", "qty"])
        #expect(latest.column(named: "qty")?.initialDefault == "1")
        #expect(latest.column(named: "qty")?.nullable == false)

        let versions = try catalog.snapshots().map(\.schemaVersion)
        #expect(versions == [0, 1, 2, 3, 4, 5, 6])
        try catalog.read { (db: SQLDatabase) throws in
            // One row per table whose columns changed (1.0): its creation and each alteration.
            let rows = try SQLRow.fetchAll(db, sql: "SELECT begin_snapshot, schema_version, table_id FROM ducklake_schema_versions ORDER BY begin_snapshot")
            #expect(rows.map { $0["begin_snapshot"] as Int64 } == [1, sAdd.id, sRename.id, sType.id, sDrop.id, sDefault.id])
            #expect(rows.allSatisfy { ($0["table_id"] as Int64) == tid })
            #expect(rows.map { $0["schema_version"] as Int64 } == [1, 2, 3, 4, 5, 6])
            // One row per column version: the rename and the type change each ended one and began one.
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_column WHERE table_id = ? AND column_id = 4", arguments: [tid]) == 3)
            #expect(try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_column WHERE table_id = ? AND column_id = 4 AND end_snapshot IS NULL", arguments: [tid]) == 1)
        }
    }

    @Test func filesRegisteredAfterAnAlterationInTheSameCommitSeeTheNewColumn() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        #expect(throws: CatalogError.invalidStats(column: "curated.orders.coupon", reason: "missing; every column needs ColumnStats (StatText.stats computes them)")) {
            try catalog.commit { tx in
                try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "a", date: "2024-01-15", channel: "web", rows: 1))
                try tx.addColumn(tableID: tid, Field("coupon", .string, nullable: true))
                // Stats computed for the old schema: the new column is missing, which must be noticed.
                try tx.addDataFile(tableID: tid, orderFile(try catalog.table(id: tid), "b", date: "2024-01-15", channel: "web", rows: 1))
            }
        }
        let (snap, _) = try catalog.commit { tx in
            try tx.addColumn(tableID: tid, Field("coupon", .string, nullable: true))
            try tx.addDataFile(tableID: tid, orderFile(try tx.table(tid), "b", date: "2024-01-15", channel: "web", rows: 1))
        }
        #expect(snap.changesMade == "inserted_into_table:\(tid),altered_table:\(tid)")
        #expect(try catalog.dataFiles(tableID: tid).first?.columnStats.keys.sorted() == [1, 2, 3, 4, 5, 6])
    }

    @Test func unsafeAlterationsAreRefused() throws {
        let dir = try TempDir(); defer { dir.cleanup() }
        let catalog = try Catalog.open(root: dir.url)
        let tid = try makeOrders(catalog)
        #expect(throws: CatalogError.cannotDropPartitionColumn(table: "curated.orders", column: "channel")) {
            try catalog.commit { tx in try tx.dropColumn(tableID: tid, name: "channel") }
        }
        #expect(throws: CatalogError.unsupportedTypeChange(table: "curated.orders", column: "order_id", from: "int64", to: "int32")) {
            try catalog.commit { tx in try tx.changeColumnType(tableID: tid, column: "order_id", to: .int32) }
        }
        #expect(throws: CatalogError.notNullWithoutDefault(table: "curated.orders", column: "n")) {
            try catalog.commit { tx in try tx.addColumn(tableID: tid, Field("n", .int64)) }
        }
        #expect(throws: CatalogError.columnExists(table: "curated.orders", column: "channel")) {
            try catalog.commit { tx in try tx.renameColumn(tableID: tid, from: "amount", to: "channel") }
        }
        #expect(throws: CatalogError.columnNotFound(table: "curated.orders", column: "nope")) {
            try catalog.commit { tx in try tx.renameColumn(tableID: tid, from: "nope", to: "x") }
        }
        #expect(try catalog.latestSnapshot().id == 1)
    }
}

@Suite struct StatTextFormats {
    @Test func matchesDuckLakeText() {
        #expect(StatText.int(Int64(-42)) == "-42")
        #expect(StatText.decimal(unscaled: 250, scale: 2) == "2.50")
        #expect(StatText.decimal(unscaled: -5, scale: 2) == "-0.05")
        #expect(StatText.decimal(unscaled: -1_000_000, scale: 4) == "-100.0000")
        #expect(StatText.date(days: Int64(19737)) == "2024-01-15")
        #expect(StatText.date(days: Int64(-1)) == "1969-12-31")
        #expect(StatText.timestamp(micros: 1_705_314_600_000_000) == "2024-01-15 10:30:00+00")
        #expect(StatText.timestamp(micros: 1_705_318_200_123_456) == "2024-01-15 11:30:00.123456+00")
        #expect(StatText.timestamp(micros: 916_396_200_500_000) == "1999-01-15 10:30:00.5+00")
        #expect(StatText.timestamp(micros: -1) == "1969-12-31 23:59:59.999999+00")
        #expect(StatText.double(1.5) == "1.5")
        #expect(StatText.double(-3.25) == "-3.25")
        #expect(StatText.double(0.1) == "0.1")
        #expect(StatText.double(3.0) == "3.0")
        #expect(StatText.double(1e20) == "1e+20")
        #expect(StatText.double(.nan) == nil)
        #expect(StatText.bool(true) == nil)
        #expect(Timestamps.parseTimestamp("2024-01-15 11:30:00.123456+00") == 1_705_318_200_123_456)
        #expect(Timestamps.parseTimestamp("1969-12-31 23:59:59.999999+00") == -1)
        for days in stride(from: Int64(-700_000), through: 2_900_000, by: 997) {
            #expect(Timestamps.parseDate(Timestamps.dateText(days: days)) == days)
        }
    }

    @Test func statsFromColumns() {
        let ints = Column(.int64([5, -2, 9, 0]), validity: [true, true, false, true])
        #expect(StatText.stats(ints, type: .int64) == ColumnStats(min: "-2", max: "5", nullCount: 1, valueCount: 3))
        let money = Column(.int64([1999, 250, -5]))
        #expect(StatText.stats(money, type: .decimal(precision: 12, scale: 2)) == ColumnStats(min: "-0.05", max: "19.99", nullCount: 0, valueCount: 3))
        let dates = Column(.int32([19738, 19737]))
        #expect(StatText.stats(dates, type: .date).min == "2024-01-15")
        let ts = Column(.int64([1_705_314_600_000_000]))
        #expect(StatText.stats(ts, type: .timestamp).max == "2024-01-15 10:30:00+00")
        let strings = Column(.string(StringColumn(["web", "Zed", "app", "é"])))
        let s = StatText.stats(strings, type: .string)
        #expect(s.min == "Zed" && s.max == "é")  // byte order, as DuckDB compares VARCHAR
        let dict = Column(.dictionary(indices: [1, 1, 0], values: StringColumn(["b", "a"])), validity: [true, true, false])
        #expect(StatText.stats(dict, type: .string) == ColumnStats(min: "a", max: "a", nullCount: 1, valueCount: 2))
        let doubles = Column(.double([.nan, 2.5, -1]))
        #expect(StatText.stats(doubles, type: .double) == ColumnStats(min: "-1.0", max: "2.5", nullCount: 0, valueCount: 3, containsNaN: true))
        let allNull = Column(.int32([0, 0]), validity: [false, false])
        #expect(StatText.stats(allNull, type: .int32) == ColumnStats(min: nil, max: nil, nullCount: 2, valueCount: 0))
        #expect(StatText.stats(Column(.bool([true, false])), type: .bool) == ColumnStats(min: nil, max: nil, nullCount: 0, valueCount: 2))
    }

    @Test func typeNamesRoundTrip() {
        let all: [ColumnType] = [.bool, .int32, .int64, .double, .string, .date, .timestamp, .decimal(precision: 12, scale: 2)]
        #expect(all.map(DuckLakeType.name) == ["boolean", "int32", "int64", "float64", "varchar", "date", "timestamptz", "decimal(12,2)"])
        for t in all { #expect(DuckLakeType.columnType(DuckLakeType.name(t)) == t) }
        #expect(DuckLakeType.columnType("int8") == nil)
        // DuckDB widens DECIMAL(18,2) up to 38 digits; lake reads and writes those (values within Int64).
        #expect(DuckLakeType.columnType("decimal(38,2)") == .decimal(precision: 38, scale: 2))
        #expect(DuckLakeType.columnType("decimal(39,2)") == nil)
    }
}

@Suite struct SQLiteErrorText {
    /// A failed multi-row insert (as `recordQualityFigures` sends: 120 rows of placeholders)
    /// named its whole statement, several KB, after the cause (session 13 probe: "database or
    /// disk is full" ahead of 5 KB of "(?, ?, …)"). The cause and the statement's start stay.
    @Test func aLongStatementIsCutInTheMessage() throws {
        let db = try DatabaseQueue()
        let rows = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: 120).joined(separator: ", ")
        let sql = "INSERT INTO lake_quality_figure VALUES " + rows
        do {
            try db.write { try $0.execute(sql: sql, arguments: StatementArguments(Array(repeating: 1, count: 960))) }
            Issue.record("the table does not exist")
        } catch let e as DatabaseError {
            #expect(e.description.count > 3000, "GRDB names the whole statement: \(e.description.count) characters")
            let message = SQLiteStore.sqlError(e).message
            #expect(message.count < 400, "\(message)")
            #expect(message.contains("no such table: lake_quality_figure") && message.contains("INSERT INTO lake_quality_figure VALUES (?, ?"))
            #expect(message.contains("(\(sql.count) characters)"), "\(message)")
        }
        let short = SQLiteStore.shortened("SQLite error 13: database or disk is full - while executing `COMMIT TRANSACTION`")
        #expect(short == "SQLite error 13: database or disk is full - while executing `COMMIT TRANSACTION`")
    }
}
