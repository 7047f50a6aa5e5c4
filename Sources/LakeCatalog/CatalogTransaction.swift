import Foundation
import LakeFormat

/// The write side of one commit. Everything here becomes visible at `snapshotID` when the
/// surrounding `Catalog.commit` returns, and not before.
///
/// Objects are looked up "as of the new snapshot", so a table created earlier in the same
/// transaction can be appended to or altered right away.
public struct CatalogTransaction {
    /// The open SQLite transaction, for the pipeline's own `lake_*` tables. Do not COMMIT or
    /// ROLLBACK through it and leave the `ducklake_*` tables to this type.
    public let database: SQLDatabase
    /// The id the snapshot being written will have.
    public let snapshotID: Int64
    public let previous: SnapshotInfo
    let dataPath: URL
    /// The lake's data files, for the checks a commit makes on the files it registers.
    let files: LakeFiles
    let hooks: CommitHooks
    var nextCatalogID: Int64
    var nextFileID: Int64
    var schemaChanged = false
    /// Tables as of this transaction, for registering many files without re-reading the schema
    /// each time; emptied by every schema change.
    var tableCache: [Int64: TableInfo] = [:]
    /// The files `requireFilesPresent` checked: their hold names are released after the commit.
    var filesToSettle: [String] = []
    /// Leases this transaction deletes: marked ended once it commits, not before (rolled back,
    /// the row is still there and the lease's own release must delete it).
    var leasesEnded: [WriteLease] = []

    // changes_made entries in DuckLake's order of kinds.
    var createdSchemas: [String] = []
    var createdTables: [String] = []
    var insertedTables: [Int64] = []
    var deletedTables: [Int64] = []
    var alteredTables: [Int64] = []
    /// Tables created or whose columns changed here: DuckLake 1.0 records a
    /// ducklake_schema_versions row per such table (not per snapshot, as 0.3 did).
    var schemaVersionTables: Set<Int64> = []

    /// The catalog's tables as of a schema_version; used while this transaction has not changed
    /// the schema, since the tables at the new snapshot are then those at `previous`.
    let schemaCache: SchemaCache

    init(db: SQLDatabase, dataPath: URL, files: LakeFiles, hooks: CommitHooks = .none, schemaCache: SchemaCache = SchemaCache()) throws {
        database = db
        self.dataPath = dataPath
        self.files = files
        self.hooks = hooks
        self.schemaCache = schemaCache
        previous = try Catalog.latest(db)
        snapshotID = previous.id + 1
        nextCatalogID = previous.nextCatalogID
        nextFileID = previous.nextFileID
        // On PostgreSQL, claim the snapshot id before touching any other row, as DuckDB's
        // ducklake commit does (its first statement inserts the snapshot). Inserting it last
        // let the two deadlock: we held ducklake_table_stats' row and waited on DuckDB's
        // uncommitted snapshot row, DuckDB waited on ours. Claimed first, the later writer
        // waits on the snapshot key alone and then fails on it (23505: retried, on our side).
        // `finish` fills in the snapshot's final values. SQLite writers hold the whole database.
        if db.dialect == .postgres {
            try db.execute(sql: "INSERT INTO ducklake_snapshot VALUES (?, ?, ?, ?, ?)",
                           arguments: [snapshotID, Timestamps.timestampText(micros: max(Timestamps.micros(Date()), previous.timeMicros + 1)),
                                       previous.schemaVersion, nextCatalogID, nextFileID])
            snapshotClaimed = true
        }
    }

    /// Whether `init` inserted this transaction's ducklake_snapshot row (see there).
    private var snapshotClaimed = false

    private var db: SQLDatabase { database }
    private var s: Int64 { snapshotID }

    // MARK: Schemas

    /// Creates a schema (a lake layer such as "raw" or "curated"); its files live under `<root>/<name>/`.
    @discardableResult
    public mutating func createSchema(_ name: String) throws -> Int64 {
        try Self.checkName(name, kind: "schema")
        if try schemaID(name) != nil { throw CatalogError.schemaExists(name: name) }
        let id = nextCatalogID
        nextCatalogID += 1
        try db.execute(sql: "INSERT INTO ducklake_schema VALUES (?, ?, ?, NULL, ?, ?, TRUE)",
                       arguments: [id, UUID().uuidString.lowercased(), s, name, name + "/"])
        createdSchemas.append(ChangeLog.quote(name))
        schemaChanged = true
        return id
    }

    /// The schema's id, creating it when it does not exist yet.
    @discardableResult
    public mutating func ensureSchema(_ name: String) throws -> Int64 {
        if let id = try schemaID(name) { return id }
        return try createSchema(name)
    }

    func schemaID(_ name: String) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT schema_id FROM ducklake_schema WHERE schema_name = ? AND \(visibleAt)",
                           arguments: [name, s, s])
    }

    // MARK: Tables

    /// Creates a table. Columns get DuckLake column ids 1, 2, … in field order; the returned
    /// fields carry them as `fieldID`, which must be written as the Parquet field_id.
    /// `partitionBy` names columns for identity (Hive-style `col=value/`) partitioning.
    public mutating func createTable(schema: String, name: String, fields: [Field],
                                     partitionBy: [String] = []) throws -> CreatedTable {
        try Self.checkName(name, kind: "table")
        let qualified = schema + "." + name
        guard let schemaID = try schemaID(schema) else { throw CatalogError.schemaNotFound(name: schema, snapshot: s) }
        guard !fields.isEmpty else { throw CatalogError.invalidName(kind: "table", name: qualified, reason: "a table needs at least one column") }
        let existing = try Int64.fetchOne(db, sql: "SELECT table_id FROM ducklake_table WHERE schema_id = ? AND table_name = ? AND \(visibleAt)",
                                          arguments: [schemaID, name, s, s])
        if existing != nil { throw CatalogError.tableExists(name: qualified) }
        var seen = Set<String>()
        for f in fields {
            try Self.checkName(f.name, kind: "column")
            guard seen.insert(f.name).inserted else { throw CatalogError.duplicateColumn(table: qualified, column: f.name) }
        }
        var seenPartition = Set<String>()
        for p in partitionBy {
            guard seen.contains(p) else { throw CatalogError.partitionColumnNotFound(table: qualified, column: p) }
            guard seenPartition.insert(p).inserted else { throw CatalogError.duplicateColumn(table: qualified, column: p) }
        }

        let tableID = nextCatalogID
        nextCatalogID += 1
        try db.execute(sql: "INSERT INTO ducklake_table VALUES (?, ?, ?, NULL, ?, ?, ?, TRUE)",
                       arguments: [tableID, UUID().uuidString.lowercased(), s, schemaID, name, name + "/"])
        var out: [Field] = []
        for (i, f) in fields.enumerated() {
            let cid = Int64(i + 1)
            try insertColumn(columnID: cid, tableID: tableID, order: cid, name: f.name, type: DuckLakeType.name(f.type),
                             initialDefault: nil, defaultValue: nil, nullable: f.nullable)
            var g = f
            g.fieldID = Int32(cid)
            out.append(g)
        }
        if !partitionBy.isEmpty {
            let pid = nextCatalogID
            nextCatalogID += 1
            try db.execute(sql: "INSERT INTO ducklake_partition_info VALUES (?, ?, ?, NULL)", arguments: [pid, tableID, s])
            for (k, p) in partitionBy.enumerated() {
                guard let idx = fields.firstIndex(where: { $0.name == p }) else { continue }
                try db.execute(sql: "INSERT INTO ducklake_partition_column VALUES (?, ?, ?, ?, 'identity')",
                               arguments: [pid, tableID, k, Int64(idx + 1)])
            }
        }
        createdTables.append(ChangeLog.quote(schema) + "." + ChangeLog.quote(name))
        schemaVersionTables.insert(tableID)
        schemaChanged = true
        return CreatedTable(tableID: tableID, fields: out)
    }

    /// The table as this transaction currently sees it.
    public func table(_ tableID: Int64) throws -> TableInfo {
        let found = schemaChanged ? try Catalog.fetchTables(db, snapshot: s, dataPath: dataPath, tableID: tableID).first
                                  : try unchangedTables().first { $0.tableID == tableID }
        guard let t = found else { throw CatalogError.tableIDNotFound(id: tableID, snapshot: s) }
        return t
    }

    public func table(schema: String, name: String) throws -> TableInfo? {
        if schemaChanged { return try Catalog.fetchTables(db, snapshot: s, dataPath: dataPath, schema: schema, name: name).first }
        return try unchangedTables().first { $0.schemaName == schema && $0.name == name }
    }

    /// The tables at the new snapshot while this transaction has changed no schema: those at
    /// `previous` (read under the write lock, so its schema_version is the catalog's current
    /// one), from the catalog's cache when it holds that schema_version.
    private func unchangedTables() throws -> [TableInfo] {
        var all = try schemaCache.tables(db, at: previous, dataPath: dataPath)
        for i in all.indices { all[i].snapshot = s }
        return all
    }

    // MARK: Data files

    /// Registers a Parquet file already written under the table's directory. Assigns its
    /// data_file_id (from the snapshot's next_file_id) and row_id_start (from the table's
    /// next_row_id), and folds its stats into the table-level stats.
    /// `columnStats` must cover every column of the table (`StatText.stats` computes them), so
    /// the table-level min/max DuckDB may prune with are never narrower than the data.
    @discardableResult
    public mutating func addDataFile(tableID: Int64, _ file: NewDataFile) throws -> Int64 {
        try addDataFiles(tableID: tableID, [file])[0]
    }

    /// `addDataFile` for several files of one table, in a fixed number of statements: one read
    /// and one write of the table stats, multi-row INSERTs for the files, their partition values
    /// and column stats, and one merge per column of the table-level stats. Row ids and file ids
    /// are assigned in order, exactly as that many `addDataFile` calls would. A commit runs under
    /// the catalog's write lock, so on PostgreSQL every statement there is a round trip other
    /// writers wait for (one statement per file and column made a 1,000-order batch ~2,600).
    @discardableResult
    public mutating func addDataFiles(tableID: Int64, _ files: [NewDataFile]) throws -> [Int64] {
        try addDataFiles([(tableID, files)])[0]
    }

    /// `addDataFiles` for several tables at once (an order batch's raw lines, orders and items),
    /// in the statements of one: the tables' stats claimed in one UPDATE, every table's files,
    /// partition values, footer checksums and column stats in one INSERT each, the table-level
    /// column stats read and written once. File and row ids are those the calls one table at a
    /// time, in this order, would assign. Each table at most once; returns each table's file
    /// ids in the order of `groups`.
    @discardableResult
    public mutating func addDataFiles(_ groups: [(tableID: Int64, files: [NewDataFile])]) throws -> [[Int64]] {
        let work = groups.filter { !$0.files.isEmpty }
        guard !work.isEmpty else { return groups.map { _ in [] } }
        precondition(Set(groups.map(\.tableID)).count == groups.count, "addDataFiles: each table at most once")
        var tables: [TableInfo] = []
        for (tableID, files) in work {
            let t: TableInfo
            if let cached = tableCache[tableID] {
                t = cached
            } else {
                t = try table(tableID)
                tableCache[tableID] = t
            }
            try Self.checkNewFiles(files, of: t)
            tables.append(t)
        }

        var firstFileIDs: [Int64] = []
        for (_, files) in work {
            firstFileIDs.append(nextFileID)
            nextFileID += Int64(files.count)
        }
        let firstRowIDs = try claimRowIDs(work.map { g in
            (g.tableID, g.files.reduce(Int64(0)) { $0 + $1.recordCount }, g.files.reduce(Int64(0)) { $0 + ($1.keepsRowIDs ? 0 : $1.recordCount) },
             g.files.reduce(Int64(0)) { $0 + $1.fileSizeBytes })
        })
        var fileRows: [SQLArguments] = [], partitionRows: [SQLArguments] = [], statRows: [SQLArguments] = []
        var merged: [[Int64: TableColumnStats]] = []
        for (g, (tableID, files)) in work.enumerated() {
            let t = tables[g]
            var tableMerged: [Int64: TableColumnStats] = [:]
            var rowIDStart = firstRowIDs[g]
            for (i, file) in files.enumerated() {
                let fileID = firstFileIDs[g] + Int64(i)
                fileRows.append([fileID, tableID, s, file.relativePath, file.recordCount, file.fileSizeBytes,
                                 file.footerSize, file.keepsRowIDs ? nil : rowIDStart, t.partitionID])
                if !file.keepsRowIDs { rowIDStart += file.recordCount }
                for (k, c) in t.partitionColumns.enumerated() {
                    partitionRows.append([fileID, tableID, k, file.partitionValues[c.name]])
                }
                for c in t.columns {
                    guard let st = file.columnStats[c.columnID] else {
                        // Left out: NULL on each of the file's rows (no stats row, as DuckDB
                        // records none for a file without the column).
                        if file.omittedColumns.contains(c.columnID) && file.recordCount > 0 {
                            let these = TableColumnStats(containsNull: 1, containsNaN: nil, min: nil, max: nil)
                            tableMerged[c.columnID] = tableMerged[c.columnID].map { $0.merged(with: these, type: c.type) } ?? these
                        }
                        continue
                    }
                    let nan = Self.nanFlag(st, c)
                    statRows.append(Self.statRow(fileID: fileID, tableID: tableID, column: c, stats: st, recordCount: file.recordCount))
                    // A file whose column has values but no bounds (a writer may leave them out, as
                    // ours does for the verbatim source line) leaves the table's bounds unknown.
                    let hasValues = (st.valueCount ?? (file.recordCount - st.nullCount)) > 0
                    let these = TableColumnStats(containsNull: st.nullCount > 0 ? 1 : 0, containsNaN: nan, min: st.min, max: st.max,
                                                 boundsUnknown: hasValues && (st.min == nil || st.max == nil))
                    tableMerged[c.columnID] = tableMerged[c.columnID].map { $0.merged(with: these, type: c.type) } ?? these
                }
            }
            merged.append(tableMerged)
        }
        try db.insertRows(into: """
            ducklake_data_file (data_file_id, table_id, begin_snapshot, end_snapshot, file_order, path,
                path_is_relative, file_format, record_count, file_size_bytes, footer_size, row_id_start, partition_id,
                encryption_key, mapping_id, partial_max)
            """, row: "(?, ?, ?, NULL, NULL, ?, TRUE, 'parquet', ?, ?, ?, ?, ?, NULL, NULL, NULL)", fileRows)
        try FileIntegrity.record(db, work.indices.map { (firstFileIDs[$0], work[$0].tableID, work[$0].files) })
        try db.insertRows(into: "ducklake_file_partition_value", row: "(?, ?, ?, ?)", partitionRows)
        try db.insertRows(into: "ducklake_file_column_stats", row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", statRows)
        try mergeTableColumnStats(Array(zip(tables, merged)))
        var ids: [Int64: [Int64]] = [:]
        for (g, (tableID, files)) in work.enumerated() {
            if !insertedTables.contains(tableID) { insertedTables.append(tableID) }
            for _ in files { hooks(.dataFileAdded) }
            ids[tableID] = (0 ..< files.count).map { firstFileIDs[g] + Int64($0) }
        }
        return groups.map { ids[$0.tableID] ?? [] }
    }

    /// contains_nan as DuckLake records it: 0 or 1 for a DOUBLE column, NULL otherwise.
    static func nanFlag(_ st: ColumnStats, _ c: ColumnInfo) -> Int64? {
        c.type == .double ? ((st.containsNaN ?? false) ? 1 : 0) : nil
    }

    /// One file's ducklake_file_column_stats row for a column (the INSERT's last column, extra_stats, is NULL).
    static func statRow(fileID: Int64, tableID: Int64, column c: ColumnInfo, stats st: ColumnStats, recordCount: Int64) -> SQLArguments {
        [fileID, tableID, c.columnID, st.columnSizeBytes, st.valueCount ?? (recordCount - st.nullCount), st.nullCount, st.min, st.max, nanFlag(st, c)]
    }

    /// A new file's path, sizes, partition values and column stats, checked against its table.
    static func checkNewFiles(_ files: [NewDataFile], of t: TableInfo) throws {
        let expected = t.partitionColumns.map(\.name)
        for file in files {
            try checkRelativePath(file.relativePath)
            guard file.recordCount >= 0, file.fileSizeBytes >= 0, (file.footerSize ?? 0) >= 0 else {
                throw CatalogError.invalidDataFilePath(path: file.relativePath, reason: "record count and sizes must not be negative")
            }
            guard Set(file.partitionValues.keys) == Set(expected) else {
                throw CatalogError.partitionValuesMismatch(table: t.qualifiedName, expected: expected,
                                                           got: file.partitionValues.keys.sorted())
            }
            for c in t.columns {
                guard let st = file.columnStats[c.columnID] else {
                    if file.omittedColumns.contains(c.columnID) && c.initialDefault == nil { continue }
                    throw CatalogError.invalidStats(column: "\(t.qualifiedName).\(c.name)", reason: file.omittedColumns.contains(c.columnID)
                        ? "left out of a file, but its initial default is \(c.initialDefault ?? ""), not NULL: readers would read that"
                        : "missing; every column needs ColumnStats (StatText.stats computes them)")
                }
                try checkStats(st, column: c, table: t, recordCount: file.recordCount)
            }
            for cid in file.columnStats.keys where file.omittedColumns.contains(cid) {
                throw CatalogError.invalidStats(column: "\(t.qualifiedName) column id \(cid)", reason: "both left out of the file and given stats")
            }
            for cid in Set(file.columnStats.keys).union(file.omittedColumns) where t.column(id: cid) == nil {
                throw CatalogError.columnIDNotFound(table: t.qualifiedName, columnID: cid)
            }
        }
    }

    /// Claims each table's row ids and bumps its stats in one statement for all the tables (the
    /// read and the write were two round trips a table under the write lock on PostgreSQL): a
    /// table's new next_row_id less its new rows is the first id they get. A table with no
    /// stats row yet (its first files) starts at 0. Returns the first row id of each, in order.
    /// `newIDs`: the rows that take new ids (a rewrite's rows keep theirs, `NewDataFile.keepsRowIDs`).
    private func claimRowIDs(_ tables: [(tableID: Int64, records: Int64, newIDs: Int64, bytes: Int64)]) throws -> [Int64] {
        let row = "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))"
        let values = tables.flatMap { [SQLValue.int64($0.tableID), .int64($0.records), .int64($0.bytes), .int64($0.newIDs)] }
        var next: [Int64: Int64] = [:]
        for r in try SQLRow.fetchAll(db, sql: """
            UPDATE ducklake_table_stats SET record_count = record_count + v.column2, next_row_id = coalesce(next_row_id, 0) + v.column4,
                   file_size_bytes = file_size_bytes + v.column3
            FROM (VALUES \(Array(repeating: row, count: tables.count).joined(separator: ", "))) AS v
            WHERE ducklake_table_stats.table_id = v.column1 RETURNING ducklake_table_stats.table_id, ducklake_table_stats.next_row_id
            """, arguments: SQLArguments(values)) {
            next[try r.value(at: 0, "table_id")] = try r.value(at: 1, "next_row_id")
        }
        let missing = tables.filter { next[$0.tableID] == nil }
        try db.insertRows(into: "ducklake_table_stats", row: "(?, ?, ?, ?)", missing.map { [$0.tableID, $0.records, $0.newIDs, $0.bytes] })
        return tables.map { t in next[t.tableID].map { $0 - t.newIDs } ?? 0 }
    }

    /// Folds each table's new files' column stats (already merged across them) into its
    /// table-level stats: one read of all the tables' rows, then one UPDATE (and an INSERT for a
    /// table's first stats) for all of them.
    private func mergeTableColumnStats(_ tables: [(table: TableInfo, new: [Int64: TableColumnStats])]) throws {
        let wanted = tables.filter { !$0.new.isEmpty }
        guard !wanted.isEmpty else { return }
        var old: [Int64: [Int64: TableColumnStats]] = [:]
        var nullUnknown = Set<[Int64]>()
        let placeholders = Array(repeating: "?", count: wanted.count).joined(separator: ", ")
        for r in try SQLRow.fetchAll(db, sql: """
            SELECT table_id, column_id, contains_null, contains_nan, min_value, max_value FROM ducklake_table_column_stats
            WHERE table_id IN (\(placeholders))
            """, arguments: SQLArguments(wanted.map { .int64($0.table.tableID) })) {
            let tableID: Int64 = try r.value("table_id"), id: Int64 = try r.value("column_id")
            let containsNull: Int64? = try r.value("contains_null")
            if containsNull == nil { nullUnknown.insert([tableID, id]) }
            old[tableID, default: [:]][id] = TableColumnStats(containsNull: containsNull ?? 1, containsNaN: try r.value("contains_nan"),
                                                              min: try r.value("min_value"), max: try r.value("max_value"))
        }
        var inserts: [SQLArguments] = []
        var updates: [SQLArguments] = []
        for (t, new) in wanted {
            let before = old[t.tableID] ?? [:]
            for c in t.columns {
                guard let these = new[c.columnID] else { continue }
                guard let was = before[c.columnID] else {
                    // A column without stats in a table that has some was added after rows were
                    // written (DuckDB's ADD COLUMN, a migration): those rows read its initial default,
                    // which these files' stats do not cover. DuckDB leaves such a column without
                    // table stats (unknown: never pruned on); so do we. Stats saying "no nulls" made
                    // DuckDB count every older row of a column added back as set.
                    if before.isEmpty { inserts.append([t.tableID, c.columnID, these.containsNull, these.containsNaN, these.min, these.max]) }
                    continue
                }
                var after = was.merged(with: these, type: c.type)
                // A NULL bound in the table's row means "no value yet" or "unknown" (DuckDB writes
                // NULL for both). Taking the new files' bounds is right only in the first case, so
                // then the bounds are folded from the live files' own (these files included).
                if was.min == nil || was.max == nil, !these.boundsUnknown, these.min != nil {
                    (after.min, after.max) = try liveBounds(table: t, column: c)
                }
                after.boundsUnknown = false  // written as the NULL bounds it already has
                // Unchanged stats need no write (a NULL contains_null is still written as 1).
                guard after != was || nullUnknown.contains([t.tableID, c.columnID]) else { continue }
                updates.append([t.tableID, c.columnID, after.containsNull, after.containsNaN, after.min, after.max])
            }
        }
        try updateTableColumnStats(updates)
        try db.insertRows(into: "ducklake_table_column_stats", row: "(?, ?, ?, ?, ?, ?, NULL)", inserts)
    }

    /// The table-level min and max of a column, folded from the stats of the table's live files
    /// at this snapshot: nil when no file has a value, or when a file with values has no bounds
    /// (unknown: a reader must not prune on a bound narrower than the data).
    func liveBounds(table t: TableInfo, column c: ColumnInfo) throws -> (min: String?, max: String?) {
        var lo: String?, hi: String?
        for r in try SQLRow.fetchAll(db, sql: """
            SELECT s.value_count, s.null_count, f.record_count, s.min_value, s.max_value
            FROM ducklake_file_column_stats s JOIN ducklake_data_file f USING (data_file_id)
            WHERE f.table_id = ? AND s.column_id = ? AND f.begin_snapshot <= ? AND (f.end_snapshot IS NULL OR f.end_snapshot > ?)
            """, arguments: [t.tableID, c.columnID, s, s]) {
            let valueCount: Int64? = try r.value("value_count"), nullCount: Int64? = try r.value("null_count")
            let records: Int64 = try r.value("record_count")
            // Without counts, the file may hold values.
            let values = valueCount ?? nullCount.map { records - $0 } ?? records
            let mn: String? = try r.value("min_value"), mx: String? = try r.value("max_value")
            guard let mn, let mx else {
                if values > 0 { return (nil, nil) }
                continue
            }
            guard let type = c.type else { continue }
            if lo.map({ (StatText.compare(mn, $0, type: type) ?? 0) < 0 }) ?? true { lo = mn }
            if hi.map({ (StatText.compare(mx, $0, type: type) ?? 0) > 0 }) ?? true { hi = mx }
        }
        return (lo, hi)
    }

    /// Sets the stats of many columns, of one or several tables, in one statement per 150
    /// columns (each row binds 6 values: 900, under the 999 of SQLite builds before 3.32 and
    /// PostgreSQL's 65,535): an UPDATE joined to a VALUES list,
    /// which both dialects name column1…column6. One UPDATE per column was a round trip each
    /// under the write lock on PostgreSQL, up to 15 per commit of an order batch.
    private func updateTableColumnStats(_ rows: [SQLArguments]) throws {
        // contains_null/contains_nan are BOOLEAN in DuckDB's PostgreSQL DDL, BIGINT in its SQLite one;
        // a VALUES list's types come from its casts, so they must name the column's.
        let flag = db.dialect == .postgres ? "BOOLEAN" : "BIGINT"
        let row = "(CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS \(flag)), CAST(? AS \(flag)), CAST(? AS VARCHAR), CAST(? AS VARCHAR))"
        var start = 0
        while start < rows.count {
            let chunk = rows[start ..< Swift.min(rows.count, start + 150)]
            var values: [SQLValue] = []
            for r in chunk { values += r.values }
            try db.execute(sql: """
                UPDATE ducklake_table_column_stats SET contains_null = v.column3, contains_nan = v.column4,
                       min_value = v.column5, max_value = v.column6
                FROM (VALUES \(Array(repeating: row, count: chunk.count).joined(separator: ", "))) AS v
                WHERE ducklake_table_column_stats.table_id = v.column1 AND ducklake_table_column_stats.column_id = v.column2
                """, arguments: SQLArguments(values))
            start += chunk.count
        }
    }

    /// Ends live data files at this snapshot (compaction's "old files" or a table rewrite).
    /// Readers at earlier snapshots still see them until vacuum expires those snapshots.
    /// A file another commit already removed is a `.conflict`: the caller's replacement was
    /// made from rows that are gone (or were rewritten), so it must re-read and redo its work.
    public mutating func removeDataFiles(_ ids: [Int64]) throws {
        for id in ids {
            guard let r = try SQLRow.fetchOne(db, sql: """
                SELECT table_id, record_count, file_size_bytes FROM ducklake_data_file
                WHERE data_file_id = ? AND \(visibleAt)
                """, arguments: [id, s, s]) else {
                // Removed by an earlier commit, not by this transaction (listing an id twice).
                if let ended = try SQLRow.fetchOne(db, sql: "SELECT table_id, end_snapshot FROM ducklake_data_file WHERE data_file_id = ? AND end_snapshot < ?",
                                                arguments: [id, s]) {
                    let tableID: Int64 = try ended.value("table_id")
                    let name = (try? table(tableID).qualifiedName) ?? "table \(tableID)"
                    throw CatalogError.conflict(table: name, snapshot: try ended.value("end_snapshot"),
                                                reason: "data file \(id) was already removed")
                }
                throw CatalogError.dataFileNotFound(id: id, snapshot: s)
            }
            let tableID: Int64 = try r.value("table_id")
            try db.execute(sql: "UPDATE ducklake_data_file SET end_snapshot = ? WHERE data_file_id = ?", arguments: [s, id])
            try db.execute(sql: "UPDATE ducklake_delete_file SET end_snapshot = ? WHERE data_file_id = ? AND end_snapshot IS NULL",
                           arguments: [s, id])
            // Table stats count live rows/bytes so a compaction (remove + add) does not double them;
            // next_row_id never goes back, so row ids stay unique.
            try db.execute(sql: """
                UPDATE ducklake_table_stats SET record_count = \(db.greatest)(0, record_count - ?),
                       file_size_bytes = \(db.greatest)(0, file_size_bytes - ?) WHERE table_id = ?
                """, arguments: [(try r.value("record_count")) ?? 0, (try r.value("file_size_bytes")) ?? 0, tableID] as SQLArguments)
            if !deletedTables.contains(tableID) { deletedTables.append(tableID) }
        }
        if !ids.isEmpty, try FileIntegrity.exists(db) {
            let foreign = try SQLRow.fetchAll(db, sql: """
                SELECT d.table_id, max(d.begin_snapshot) AS latest FROM ducklake_data_file d WHERE d.end_snapshot = ?
                  AND NOT EXISTS (SELECT 1 FROM lake_file_integrity i WHERE i.data_file_id = d.data_file_id)
                GROUP BY d.table_id
                """, arguments: [s]).map { (tableID: try $0.value("table_id") as Int64, latest: try $0.value("latest") as Int64) }
            try forgetDerivedFigures(removedForeignFiles: foreign)
        }
    }

    /// A file another engine committed (no `lake_file_integrity` row) that a rewrite (compaction,
    /// migration, erasure) now replaces with files of ours: the evidence that another engine
    /// changed the rows is about to go (`Catalog.foreignRowChanges` looks for such files), so
    /// what was derived from lake's commits alone goes with it when it was stored before that
    /// file: the table's key runs (the next ingest rebuilds them from the files) and the stored
    /// quality figures (checks then rescan the tables).
    /// One query for every file this snapshot removed, not one per file: a compaction removes
    /// hundreds, and on PostgreSQL each statement under the write lock is a round trip.
    /// `removedForeignFiles`: per table, the latest begin_snapshot of the files removed.
    mutating func forgetDerivedFigures(removedForeignFiles foreign: [(tableID: Int64, latest: Int64)]) throws {
        guard !foreign.isEmpty, try FileIntegrity.exists(db) else { return }
        // What was stored before any of the files goes (one file at a time would drop the same).
        var latest: Int64 = .min
        for (tableID, begin) in foreign {
            latest = max(latest, begin)
            if try KeyRunTable.exists(db) {
                try db.execute(sql: "DELETE FROM lake_key_run WHERE table_id = ? AND (SELECT min(snapshot_id) FROM lake_key_run WHERE table_id = ?) < ?",
                               arguments: [tableID, tableID, begin])
            }
        }
        if try QualityFigureTable.exists(db) {
            try db.execute(sql: "DELETE FROM lake_quality_figure WHERE (SELECT min(batch_snapshot_id) FROM lake_quality_figure) < ?", arguments: [latest])
        }
    }

    /// Throws `.conflict` when a commit after `base` changed the table's columns (added,
    /// dropped, renamed, retyped) or dropped it. A writer that wrote its files under the
    /// schema it read at `base` calls this before `addDataFile`, so a concurrent schema change
    /// surfaces as a conflict to retry, not as a file registered under a schema it lacks columns of.
    /// Changes made earlier in this same transaction are the caller's own and do not count.
    /// Drops the inlined-data tables DuckDB registered for the table, with their registrations,
    /// when none holds a row; returns those holding rows (and drops nothing then). DuckDB puts a
    /// small INSERT's rows into the newest registered one whatever the table's schema version,
    /// and lays out a new one from the current columns only when none is registered: a schema
    /// change that left an old layout registered had DuckDB write by position into it.
    public func dropEmptyInlinedDataTables(tableID: Int64) throws -> [String] {
        let names = try Catalog.inlinedDataTables(db, tableID: tableID)
        let holding = try Catalog.holdingRows(db, names)
        guard holding.isEmpty else { return holding }
        for name in names {
            try db.execute(sql: "DELETE FROM ducklake_inlined_data_tables WHERE table_id = ? AND table_name = ?", arguments: [tableID, name])
            try db.execute(sql: "DROP TABLE " + name)
        }
        return []
    }

    /// Whether a data file was added to `tableID` after snapshot `base`: rows another writer
    /// committed since a check that read the table at `base`.
    public func dataFilesAdded(tableID: Int64, after base: Int64) throws -> Bool {
        try (Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_data_file WHERE table_id = ? AND begin_snapshot > ?",
                            arguments: [tableID, base]) ?? 0) > 0
    }

    public func requireSchemaUnchanged(tableID: Int64, since base: Int64) throws {
        // The table's newest row: a rename (DuckDB's) ends one row and adds another under the
        // same id, and the first row found was the ended one, "dropped", so compaction, purge and
        // migration refused a renamed table for good once vacuum kept its old rows (as DuckDB does).
        let row = try SQLRow.fetchOne(db, sql: """
            SELECT s.schema_name || '.' || t.table_name AS name, t.end_snapshot FROM ducklake_table t
            JOIN ducklake_schema s ON s.schema_id = t.schema_id WHERE t.table_id = ?
            ORDER BY t.begin_snapshot DESC, s.begin_snapshot DESC LIMIT 1
            """, arguments: [tableID])
        guard let row else { throw CatalogError.tableIDNotFound(id: tableID, snapshot: s) }
        let qualified: String = try row.value("name") ?? "table \(tableID)"
        if let dropped: Int64 = try row.value("end_snapshot"), dropped < s {
            throw CatalogError.conflict(table: qualified, snapshot: dropped, reason: "the table was dropped")
        }
        let changed = try Int64.fetchOne(db, sql: """
            SELECT max(x) FROM (SELECT begin_snapshot AS x FROM ducklake_column WHERE table_id = ?
                                UNION ALL SELECT end_snapshot FROM ducklake_column WHERE table_id = ?) AS changes
            WHERE x < ?
            """, arguments: [tableID, tableID, s])
        if let changed, changed > base {
            throw CatalogError.conflict(table: qualified, snapshot: changed, reason: "its columns changed after snapshot \(base)")
        }
    }

    // MARK: Schema evolution

    /// Adds a column at the end. `defaultValue` (text in the column's stat form, e.g. "0.00") is
    /// what rows in files written before the column existed read as; without it they read NULL,
    /// so a NOT NULL column needs one.
    @discardableResult
    public mutating func addColumn(tableID: Int64, _ field: Field, default defaultValue: String? = nil) throws -> Field {
        let t = try table(tableID)
        try Self.checkName(field.name, kind: "column")
        if t.column(named: field.name) != nil { throw CatalogError.columnExists(table: t.qualifiedName, column: field.name) }
        if !field.nullable && defaultValue == nil { throw CatalogError.notNullWithoutDefault(table: t.qualifiedName, column: field.name) }
        if let d = defaultValue, !StatText.validate(d, type: field.type) {
            throw CatalogError.invalidStats(column: "\(t.qualifiedName).\(field.name)", reason: "default '\(d)' is not a valid \(DuckLakeType.name(field.type))")
        }
        // Column ids are never reused, even after a drop, so old files never map to a new column.
        let maxRow = try SQLRow.fetchOne(db, sql: "SELECT max(column_id) AS c, max(column_order) AS o FROM ducklake_column WHERE table_id = ?",
                                      arguments: [tableID])
        let cid: Int64 = ((try maxRow?.value("c")) ?? 0) + 1
        let order: Int64 = ((try maxRow?.value("o")) ?? 0) + 1
        try insertColumn(columnID: cid, tableID: tableID, order: order, name: field.name, type: DuckLakeType.name(field.type),
                         initialDefault: defaultValue, defaultValue: defaultValue, nullable: field.nullable)
        markAltered(tableID)
        var f = field
        f.fieldID = Int32(exactly: cid)
        return f
    }

    public mutating func renameColumn(tableID: Int64, from old: String, to new: String) throws {
        let t = try table(tableID)
        try Self.checkName(new, kind: "column")
        guard let c = t.column(named: old) else { throw CatalogError.columnNotFound(table: t.qualifiedName, column: old) }
        if t.column(named: new) != nil { throw CatalogError.columnExists(table: t.qualifiedName, column: new) }
        try replaceColumn(t, c) { $0.name = new }
    }

    public mutating func dropColumn(tableID: Int64, name: String) throws {
        let t = try table(tableID)
        guard let c = t.column(named: name) else { throw CatalogError.columnNotFound(table: t.qualifiedName, column: name) }
        if t.partitionColumns.contains(where: { $0.columnID == c.columnID }) {
            throw CatalogError.cannotDropPartitionColumn(table: t.qualifiedName, column: name)
        }
        guard t.columns.count > 1 else { throw CatalogError.cannotDropLastColumn(table: t.qualifiedName) }
        try endColumn(tableID: tableID, columnID: c.columnID)
        markAltered(tableID)
    }

    /// Widens a column's type. Only changes every existing file can be read as are allowed:
    /// int32 → int64 or double, int64 → double is refused (it loses precision), decimal(p,s) →
    /// decimal(p',s) with p' ≥ p.
    public mutating func changeColumnType(tableID: Int64, column name: String, to newType: ColumnType) throws {
        let t = try table(tableID)
        guard let c = t.column(named: name) else { throw CatalogError.columnNotFound(table: t.qualifiedName, column: name) }
        let allowed: Bool
        switch (c.type, newType) {
        case (.int32?, .int64), (.int32?, .double): allowed = true
        case (.decimal(let p, let s)?, .decimal(let p2, let s2)): allowed = s == s2 && p2 >= p
        default: allowed = false
        }
        guard allowed else {
            throw CatalogError.unsupportedTypeChange(table: t.qualifiedName, column: name, from: c.duckLakeType, to: DuckLakeType.name(newType))
        }
        try replaceColumn(t, c) { $0.type = newType; $0.duckLakeType = DuckLakeType.name(newType) }
    }

    /// A new version of a live column: the old row ends here and a copy with the change begins.
    /// The copy is made in SQL so what we do not model (a DuckDB expression default with its
    /// default_value_type and dialect) carries over unchanged.
    private mutating func replaceColumn(_ t: TableInfo, _ c: ColumnInfo, _ change: (inout ColumnInfo) -> Void) throws {
        var n = c
        change(&n)
        guard let rowid = try SQLValue.fetchOne(db, sql: """
            SELECT \(db.rowID) FROM ducklake_column
            WHERE table_id = ? AND column_id = ? AND parent_column IS NULL AND end_snapshot IS NULL
            """, arguments: [t.tableID, c.columnID]) else {
            throw CatalogError.columnIDNotFound(table: t.qualifiedName, columnID: c.columnID)
        }
        try db.execute(sql: """
            INSERT INTO ducklake_column (column_id, begin_snapshot, end_snapshot, table_id, column_order, column_name,
                column_type, initial_default, default_value, nulls_allowed, parent_column, default_value_type, default_value_dialect)
            SELECT column_id, ?, NULL, table_id, column_order, ?, ?, initial_default, default_value, nulls_allowed, NULL,
                   default_value_type, default_value_dialect
            FROM ducklake_column WHERE \(db.rowID) = ?
            """, arguments: [s, n.name, n.duckLakeType, rowid])
        try db.execute(sql: "UPDATE ducklake_column SET end_snapshot = ? WHERE \(db.rowID) = ?", arguments: [s, rowid])
        markAltered(t.tableID)
    }

    /// One ducklake_column row as DuckDB 1.5 writes it: defaults are literals in DuckDB's
    /// text form (default_value_type 'literal', dialect 'duckdb'); no default is NULL.
    private func insertColumn(columnID: Int64, tableID: Int64, order: Int64, name: String, type: String,
                              initialDefault: String?, defaultValue: String?, nullable: Bool) throws {
        try db.execute(sql: """
            INSERT INTO ducklake_column (column_id, begin_snapshot, end_snapshot, table_id, column_order, column_name,
                column_type, initial_default, default_value, nulls_allowed, parent_column, default_value_type, default_value_dialect)
            VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?, ?, NULL, 'literal', 'duckdb')
            """, arguments: [columnID, s, tableID, order, name, type, initialDefault, defaultValue, nullable ? 1 : 0])
    }

    private func endColumn(tableID: Int64, columnID: Int64) throws {
        try db.execute(sql: """
            UPDATE ducklake_column SET end_snapshot = ?
            WHERE table_id = ? AND column_id = ? AND parent_column IS NULL AND end_snapshot IS NULL
            """, arguments: [s, tableID, columnID])
    }

    private mutating func markAltered(_ tableID: Int64) {
        tableCache = [:]
        schemaVersionTables.insert(tableID)
        if !alteredTables.contains(tableID) { alteredTables.append(tableID) }
        schemaChanged = true
    }

    // MARK: Finish

    /// DuckLake's changes_made entries, kinds in the order DuckDB writes them.
    var changes: [SnapshotChange] {
        var parts: [SnapshotChange] = []
        parts += createdSchemas.map { SnapshotChange(.createdSchema, $0) }
        parts += createdTables.map { SnapshotChange(.createdTable, $0) }
        for id in insertedTables where !deletedTables.contains(id) { parts.append(SnapshotChange(.insertedIntoTable, table: id)) }
        for id in deletedTables where !insertedTables.contains(id) { parts.append(SnapshotChange(.deletedFromTable, table: id)) }
        // Removing and adding files of one table in one commit is how compaction rewrites them.
        // DuckDB 1.5 records its own compaction as merge_adjacent and checks a racing DELETE
        // written as a delete file against that kind (not compacted_table): under any other
        // name DuckDB committed a delete into a file we had just replaced, and the deleted rows
        // came back. A small DELETE DuckDB stores inlined (inlined_delete, by file and row
        // position) is checked against inline_flush, inserts and schema changes, but not
        // merge_adjacent: even DuckDB's own compaction loses such a delete racing it. So the
        // rewrite also records inline_flush, which makes DuckDB refuse that delete as a
        // conflict without refusing its concurrent inserts (it refuses a concurrent flush of
        // inlined rows too, retried like any conflict). inserted_into_table would also work,
        // but would tell readers of DuckDB's snapshot list that rows were inserted.
        for id in insertedTables where deletedTables.contains(id) {
            parts += [SnapshotChange(.mergeAdjacent, table: id), SnapshotChange(.inlineFlush, table: id)]
        }
        parts += alteredTables.map { SnapshotChange(.alteredTable, table: $0) }
        return parts
    }

    var changesMade: String { changes.map(\.text).joined(separator: ",") }

    func finish(author: String?, message: String?) throws -> SnapshotInfo {
        // Snapshot times never go backwards, even if the wall clock does, so "as of a time"
        // always picks a well-defined prefix of the history.
        let micros = max(Timestamps.micros(Date()), previous.timeMicros + 1)
        let schemaVersion = previous.schemaVersion + (schemaChanged ? 1 : 0)
        if snapshotClaimed {
            try db.execute(sql: "UPDATE ducklake_snapshot SET snapshot_time = ?, schema_version = ?, next_catalog_id = ?, next_file_id = ? WHERE snapshot_id = ?",
                           arguments: [Timestamps.timestampText(micros: micros), schemaVersion, nextCatalogID, nextFileID, s])
        } else {
            try db.execute(sql: "INSERT INTO ducklake_snapshot VALUES (?, ?, ?, ?, ?)",
                           arguments: [s, Timestamps.timestampText(micros: micros), schemaVersion, nextCatalogID, nextFileID])
        }
        let changes = changesMade
        try db.execute(sql: "INSERT INTO ducklake_snapshot_changes VALUES (?, ?, ?, ?, NULL)",
                       arguments: [s, changes, author, message])
        // Per table, as DuckDB 1.5 records them: which schema version a table's files from this
        // snapshot on are written under (DuckDB's compaction groups files by it).
        for tableID in schemaVersionTables.sorted() {
            try db.execute(sql: "INSERT INTO ducklake_schema_versions (begin_snapshot, schema_version, table_id) VALUES (?, ?, ?)",
                           arguments: [s, schemaVersion, tableID])
        }
        return SnapshotInfo(id: s, time: Timestamps.date(micros: micros), timeMicros: micros, schemaVersion: schemaVersion,
                            nextCatalogID: nextCatalogID, nextFileID: nextFileID, changesMade: changes,
                            author: author, message: message, extraInfo: nil)
    }

    // MARK: Validation

    static func checkName(_ name: String, kind: String) throws {
        if name.isEmpty { throw CatalogError.invalidName(kind: kind, name: name, reason: "empty") }
        // Schema and table names become directory names; column names become partition directories.
        if name.contains("/") || name.contains("\0") || name == "." || name == ".." {
            throw CatalogError.invalidName(kind: kind, name: name, reason: "must not contain '/' or NUL or be '.'/'..'")
        }
    }

    static func checkRelativePath(_ path: String) throws {
        if path.isEmpty { throw CatalogError.invalidDataFilePath(path: path, reason: "empty") }
        if path.hasPrefix("/") { throw CatalogError.invalidDataFilePath(path: path, reason: "must be relative to the table directory") }
        if StorageKey.hasEmptyOrDotComponent(path) {
            throw CatalogError.invalidDataFilePath(path: path, reason: "must not contain '..', '.' or empty components")
        }
    }

    static func checkStats(_ st: ColumnStats, column c: ColumnInfo, table t: TableInfo, recordCount: Int64) throws {
        let name = "\(t.qualifiedName).\(c.name)"
        guard st.nullCount >= 0, st.nullCount <= recordCount else {
            throw CatalogError.invalidStats(column: name, reason: "null count \(st.nullCount) outside 0...\(recordCount)")
        }
        if (st.min == nil) != (st.max == nil) { throw CatalogError.invalidStats(column: name, reason: "give both min and max or neither") }
        guard let type = c.type, let mn = st.min, let mx = st.max else { return }
        for v in [mn, mx] where !StatText.validate(v, type: type) {
            throw CatalogError.invalidStats(column: name, reason: "'\(v)' is not a valid \(c.duckLakeType)")
        }
        if let order = StatText.compare(mn, mx, type: type), order > 0 {
            throw CatalogError.invalidStats(column: name, reason: "min '\(mn)' is greater than max '\(mx)'")
        }
    }
}

/// One row of ducklake_table_column_stats, as the fold over a table's files computes it.
struct TableColumnStats: Equatable {
    var containsNull: Int64
    var containsNaN: Int64?
    var min: String?
    var max: String?
    /// Some file has values but no bounds: the table's bounds are unknown, written as NULL.
    var boundsUnknown = false

    /// Both files' rows together: nulls or NaNs if either has them, the wider bounds. A NULL
    /// bound means "no non-null value seen so far" (all-null files write no bounds), unless
    /// `boundsUnknown`, which either side passes on.
    func merged(with other: TableColumnStats, type: ColumnType?) -> TableColumnStats {
        func pick(_ a: String?, _ b: String?, wantLess: Bool) -> String? {
            guard let a else { return b }
            guard let b else { return a }
            guard let order = StatText.compare(a, b, type: type) else { return a }
            return (order <= 0) == wantLess ? a : b
        }
        let nan: Int64? = (containsNaN == nil && other.containsNaN == nil) ? nil : Swift.max(containsNaN ?? 0, other.containsNaN ?? 0)
        let containsNull = Swift.max(containsNull, other.containsNull)
        if boundsUnknown || other.boundsUnknown {
            return TableColumnStats(containsNull: containsNull, containsNaN: nan, min: nil, max: nil, boundsUnknown: true)
        }
        return TableColumnStats(containsNull: containsNull, containsNaN: nan,
                                min: pick(min, other.min, wantLess: true), max: pick(max, other.max, wantLess: false))
    }
}
