import Foundation

/// What `Catalog.copy(to:)` carried over.
public struct CatalogCopyReport: Sendable, Equatable {
    public var target: String
    public var tables: Int
    public var rows: Int
    public var snapshots: Int
}

extension Catalog {
    /// Every lake_* table a catalog may hold, with the DDL that creates it (each is created
    /// lazily by the feature that owns it, so a catalog may lack some).
    static var lakeTableDDL: [(name: String, ddl: String)] {
        let all = Bookkeeping.allDDL + ["CREATE TABLE IF NOT EXISTS lake_catalog_origin (created_micros BIGINT NOT NULL)"]
        return all.map { ddl in
            let name = ddl.components(separatedBy: "EXISTS ")[1].prefix { $0 != " " && $0 != "(" && $0 != "\n" }
            return (String(name), ddl)
        }
    }

    /// Copies this lake's whole catalog (every retained snapshot, so time travel is kept, and
    /// every lake_* table) into an empty catalog at `target`: a PostgreSQL database or a new
    /// SQLite file. Read in one transaction, written in one: the target has all of it or
    /// nothing. Data files are not copied; the copy names them relative to the same lake root.
    /// Refused when DuckDB keeps inlined rows in the catalog (flush them to files first).
    /// DuckDB's inlined deletions (`ducklake_inlined_delete_<table>`) are copied: without them
    /// the rows DuckDB deleted read as live again in the copy.
    ///
    /// `retireSource`: the copy is where the lake's catalog moves to, so this one is retired in
    /// the same step (`retire(copiedTo:)`): two live catalogs over one lake root each record
    /// only their own new files, and each one's vacuum deletes the other's as orphans (a vacuum
    /// through the old SQLite catalog made a PostgreSQL copy unreadable). Off for a copy kept as
    /// a backup, whose source stays the lake's catalog.
    public func copy(to target: CatalogLocation, retireSource: Bool = true) throws -> CatalogCopyReport {
        try requireCurrentFormat()
        let targetStore: any CatalogStore
        switch target {
        case .postgres(let conninfo):
            do { targetStore = try PostgresStore(conninfo: conninfo) } catch let e as SQLError { throw CatalogError(e) }
        case .sqlite(let url):
            if FileManager.default.fileExists(atPath: url.path) {
                throw CatalogError.storage("\(url.path) already exists; copy into a new file")
            }
            targetStore = try SQLiteStore.open(path: url.path, readOnly: false)
        }
        defer { try? targetStore.close() }  // a close failure after the committed copy changes nothing
        let targetText = target.description
        guard retireSource else {
            return try read { db in try Self.copyTables(db, to: targetStore, targetText: targetText, sourceText: locationText) }
        }
        // The whole copy runs under the source's write lock, the marker written in the same
        // transaction: a commit through the source lands either before the copy reads (and is
        // copied) or after the marker (and is refused). Read first and marked after, a commit in
        // between stayed in the retired catalog alone, its files orphans to the copy's vacuum.
        // If the copy fails, the source's rollback takes the marker back.
        return try Self.withRetry {
            try store.write { db in
                try Self.markRetired(db, copiedTo: targetText)
                let report = try Self.copyTables(db, to: targetStore, targetText: targetText, sourceText: locationText)
                hooks(.copyWritten)
                return report
            }
        }
    }

    /// Reads every catalog table of `db` and writes them into the empty catalog `store`, in one
    /// transaction there.
    private static func copyTables(_ db: SQLDatabase, to store: any CatalogStore, targetText: String,
                                   sourceText: String) throws -> CatalogCopyReport {
        // The source, in one consistent read: table name -> (columns, rows).
        var tables: [(name: String, columns: [String], rows: [[SQLValue]])] = []
        // DuckDB registers an inlined-data table at every ALTER and keeps it once flushed:
        // only rows are a reason to refuse. Empty ones are left behind with their
        // registrations (DuckDB lays out a new one when it next inlines rows).
        let tableIDs = try Int64.fetchAll(db, sql: "SELECT DISTINCT table_id FROM ducklake_table ORDER BY table_id")
        var holding: [String] = []
        for id in tableIDs {
            for name in try Self.inlinedDataTables(db, tableID: id) where try Int64.fetchOne(db, sql: "SELECT count(*) FROM " + name) ?? 0 > 0 {
                holding.append(name)
            }
        }
        if !holding.isEmpty {
            throw CatalogError.incompatibleCatalog(path: sourceText, reason: "rows DuckDB inlined in the catalog are in \(holding.joined(separator: ", ")), "
                + "which this copy does not carry; run CALL ducklake_flush_inlined_data(...) in DuckDB first, then copy")
        }
        let inlinedDeletes = Set(try tableIDs.map(DeleteVector.inlinedTable(tableID:)).filter { try db.tableExists($0) })
        let names = DuckLakeSchema.tableNames.filter { $0 != "ducklake_inlined_data_tables" } + Self.lakeTableDDL.map(\.name) + inlinedDeletes.sorted()
        for name in names where try db.tableExists(name) {
            let columns = try db.columns(in: name).map(\.name).filter { $0 != "lake_seq" }
            // Identifiers only, from our own table lists and the table's own columns, quoted.
            let select = "SELECT " + columns.map { "\"\($0)\"" }.joined(separator: ", ") + " FROM " + name
                + (name.hasPrefix("lake_") ? " ORDER BY " + db.insertionOrder : "")
            let rows = try SQLRow.fetchAll(db, sql: select).map(\.values)
            tables.append((name, columns, rows))
        }
        var rows = 0
        try Self.withRetry {
            try store.write { db in
                if try db.tableExists("ducklake_metadata") {
                    throw CatalogError.storage("\(targetText) already holds a DuckLake catalog; copy into an empty database")
                }
                for ddl in db.dialect == .postgres ? DuckLakeSchema.postgresTables : DuckLakeSchema.tables { try db.execute(sql: ddl) }
                for (name, ddl) in Self.lakeTableDDL where tables.contains(where: { $0.name == name }) { try db.execute(sql: ddl) }
                // As DuckDB creates them, in either dialect.
                for name in inlinedDeletes.sorted() {
                    try db.execute(sql: "CREATE TABLE " + name + " (file_id BIGINT, row_id BIGINT, begin_snapshot BIGINT)")
                }
                if tables.contains(where: { $0.name == "lake_key_run" }) { try db.execute(sql: KeyRunTable.index) }
                if tables.contains(where: { $0.name == "lake_quality_figure" }) { try db.execute(sql: QualityFigureTable.index) }
                rows = 0
                for t in tables {
                    let list = t.columns.map { "\"\($0)\"" }.joined(separator: ", ")
                    let marks = Array(repeating: "?", count: t.columns.count).joined(separator: ", ")
                    let sql = "INSERT INTO \(t.name) (\(list)) VALUES (\(marks))"
                    for r in t.rows { try db.execute(sql: sql, arguments: SQLArguments(r)) }
                    rows += t.rows.count
                }
            }
        }
        let snapshots = tables.first { $0.name == "ducklake_snapshot" }?.rows.count ?? 0
        return CatalogCopyReport(target: targetText, tables: tables.count, rows: rows, snapshots: snapshots)
    }

    /// The lake table that marks a catalog `lake catalog copy` moved away from. Not a lake_*
    /// table a copy carries (`lakeTableDDL`), so the copy itself is live.
    static let retiredTable = "lake_catalog_retired"

    /// Marks the catalog `db` belongs to as moved to `target`: from now on `requireWritable`
    /// and `requireLive` refuse every write and vacuum through it, naming the catalog to use.
    /// Reads (time travel, reports) still work, as long as the new catalog's vacuum leaves the
    /// files they name.
    static func markRetired(_ db: SQLDatabase, copiedTo target: String) throws {
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS " + retiredTable + " (target TEXT NOT NULL, retired_micros BIGINT NOT NULL)")
        try db.execute(sql: "INSERT INTO " + retiredTable + " (target, retired_micros) VALUES (?, ?)",
                       arguments: [target, Timestamps.micros(Date())])
    }

    /// Where this catalog was copied to when `lake catalog copy` retired it, and when; nil for a live one.
    func retirement() throws -> (target: String, micros: Int64)? {
        try read { db in try Self.retirement(db) }
    }

    static func retirement(_ db: SQLDatabase) throws -> (target: String, micros: Int64)? {
        guard try db.tableExists(retiredTable) else { return nil }
        guard let row = try SQLRow.fetchOne(db, sql: "SELECT target, retired_micros FROM " + retiredTable + " ORDER BY retired_micros DESC") else { return nil }
        return (row[0] as String, row[1] as Int64)
    }

    /// `requireWritable`'s retirement check inside a write transaction, under the write lock:
    /// a writer that passed `requireWritable` before a copy retired the catalog must not
    /// commit after it (the copy has not seen the commit).
    func requireLive(_ db: SQLDatabase) throws {
        if let r = try Self.retirement(db) { throw retiredError(r) }
    }

    func retiredError(_ r: (target: String, micros: Int64)) -> CatalogError {
        .retiredCatalog(path: locationText, target: r.target, since: Timestamps.timestampText(micros: r.micros),
                        undo: location.isPostgres ? "psql '\(locationText)' -c 'DROP TABLE \(Self.retiredTable)'"
                            : "sqlite3 \(locationText) 'DROP TABLE \(Self.retiredTable)'")
    }
}
