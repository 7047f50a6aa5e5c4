import Foundation

// The keys of a table's unique column (curated.orders.order_id), kept beside the catalog so a
// writer can check "was this key committed before?" without opening every data file: one run
// of keys per commit, in `lake_key_run`, written in the same transaction as the files whose
// rows they describe. The pipeline encodes the runs; this layer only stores them and says
// whether they still cover the table (their key count equals the table's row count).

/// One stored run: the keys one commit added (or, for a baseline, every key up to it).
public struct KeyRun: Sendable {
    public var snapshotID: Int64
    public var keyCount: Int64
    /// Encoded by the pipeline; opaque here.
    public var payload: [UInt8]

    public init(snapshotID: Int64, keyCount: Int64, payload: [UInt8]) {
        self.snapshotID = snapshotID
        self.keyCount = keyCount
        self.payload = payload
    }
}

/// The runs of a table at one snapshot, with the row count they must add up to.
public struct KeyRuns: Sendable {
    /// Rows in the table's data files visible at the snapshot, minus their deleted rows.
    public var tableRows: Int64
    public var runs: [KeyRun]
    /// Another engine changed the table's rows after the oldest run (`Catalog.foreignRowChanges`):
    /// an UPDATE keeps the row count but changes keys, so the count alone cannot tell.
    public var foreignChanges = false
    /// True when the runs hold exactly one key per row: safe to use instead of the data files.
    /// Anything else (a lake written before runs existed, rows added or changed by another
    /// tool) means the caller must read the files and write a new baseline.
    public var coverTable: Bool { !foreignChanges && runs.reduce(0) { $0 + $1.keyCount } == tableRows }
}

enum KeyRunTable {
    static let ddl = """
        CREATE TABLE IF NOT EXISTS lake_key_run (
            table_id BIGINT NOT NULL, column_name VARCHAR NOT NULL, snapshot_id BIGINT NOT NULL,
            key_count BIGINT NOT NULL, payload BLOB NOT NULL)
        """
    static let index = "CREATE INDEX IF NOT EXISTS lake_key_run_table ON lake_key_run (table_id, column_name, snapshot_id)"

    static func payload(_ db: SQLDatabase, tableID: Int64, column: String, snapshot: Int64) throws -> [UInt8] {
        let row = try SQLRow.fetchOne(db, sql: """
            SELECT payload FROM lake_key_run WHERE table_id = ? AND column_name = ? AND snapshot_id = ?
            """, arguments: [tableID, column, snapshot])
        guard let row else { throw CatalogError.corrupt("key run of table \(tableID) at snapshot \(snapshot) vanished") }
        return row.withUnsafeData(atIndex: 0) { data in data.map { [UInt8]($0) } ?? [] }
    }

    static func exists(_ db: SQLDatabase) throws -> Bool {
        try db.tableExists("lake_key_run")
    }

    static func insert(_ db: SQLDatabase, tableID: Int64, column: String, snapshot: Int64, keyCount: Int64, payload: [UInt8]) throws {
        try db.execute(sql: "INSERT INTO lake_key_run VALUES (?, ?, ?, ?, ?)", arguments: [tableID, column, snapshot, keyCount, Data(payload)])
    }
}

extension Catalog {
    /// The key runs of `column` in table `tableID` committed at or before `snapshot`, read in
    /// the same transaction as the table's row count at that snapshot.
    /// Runs whose snapshot id is in `skippingPayloadOf` come back with an empty payload: a
    /// caller that still holds them (a follower) reads only the runs it has not seen.
    public func keyRuns(tableID: Int64, column: String, at snapshot: Int64, skippingPayloadOf known: Set<Int64> = []) throws -> KeyRuns {
        try read { db in
            // Live rows: a delete file's rows are gone for readers, so runs that still hold their
            // keys no longer cover the table and the caller rebuilds the set from the files.
            let rows = try Self.liveFileRows(db, tableID: tableID, snapshot: snapshot)
            guard try KeyRunTable.exists(db) else { return KeyRuns(tableRows: rows, runs: []) }
            var runs: [KeyRun] = []
            let cursor = try SQLRow.fetchCursor(db, sql: """
                SELECT snapshot_id, key_count FROM lake_key_run
                WHERE table_id = ? AND column_name = ? AND snapshot_id <= ? ORDER BY snapshot_id
                """, arguments: [tableID, column, snapshot])
            while let r = try cursor.next() {
                runs.append(KeyRun(snapshotID: try r.value(at: 0, "snapshot_id"), keyCount: try r.value(at: 1, "key_count"), payload: []))
            }
            var out = KeyRuns(tableRows: rows, runs: runs)
            if let oldest = runs.first?.snapshotID {
                out.foreignChanges = try Self.foreignRowChanges(db, tableID: tableID, after: oldest, through: snapshot)
            }
            guard out.coverTable else { return out }  // the caller reads the files: no payload needed
            for i in out.runs.indices where !known.contains(out.runs[i].snapshotID) {
                out.runs[i].payload = try KeyRunTable.payload(db, tableID: tableID, column: column, snapshot: out.runs[i].snapshotID)
            }
            return out
        }
    }
}

extension Catalog {
    /// Every run of `column` in `tableID` committed at or before `snapshot`, payloads included,
    /// oldest first: for a record kept as runs beside the data that is not the table's key set
    /// (no coverage rule), such as the order ids lake's deletes removed.
    public func keyRunRecords(tableID: Int64, column: String, through snapshot: Int64) throws -> [KeyRun] {
        try read { db in
            guard try KeyRunTable.exists(db) else { return [] }
            return try SQLRow.fetchAll(db, sql: """
                SELECT snapshot_id, key_count, payload FROM lake_key_run
                WHERE table_id = ? AND column_name = ? AND snapshot_id <= ? ORDER BY snapshot_id
                """, arguments: [tableID, column, snapshot]).map { r in
                KeyRun(snapshotID: try r.value(at: 0, "snapshot_id"), keyCount: try r.value(at: 1, "key_count"),
                       payload: r.withUnsafeData(atIndex: 2) { data in data.map { [UInt8]($0) } ?? [] })
            }
        }
    }
}

extension CatalogTransaction {
    /// Stores the keys this commit adds to `column` of `tableID`. A baseline (every key of the
    /// table) replaces the runs before it.
    public mutating func addKeyRun(tableID: Int64, column: String, keyCount: Int64, payload: [UInt8], baseline: Bool) throws {
        if baseline {
            try database.execute(sql: "DELETE FROM lake_key_run WHERE table_id = ? AND column_name = ?", arguments: [tableID, column])
        }
        try KeyRunTable.insert(database, tableID: tableID, column: column, snapshot: snapshotID, keyCount: keyCount, payload: payload)
    }
}

extension CatalogTransaction {
    /// Inside a commit: the key runs committed after `snapshot`, and whether the runs still
    /// cover the table now (keys of all runs == rows of its live files). When they cover it,
    /// the keys added after `snapshot` are exactly those in the returned runs; a compaction or
    /// rewrite adds files but no keys, so it neither adds runs nor breaks the cover.
    public func keyRunsAdded(tableID: Int64, column: String, after snapshot: Int64) throws -> (runs: [KeyRun], coverTable: Bool) {
        // Live rows, as `Catalog.keyRuns(at:)` counts them: a baseline run written after a
        // delete holds the live ids only, and against the files' whole record counts it never
        // covered the table again until a compaction (every overtaken ingest was a conflict).
        let rows = try Catalog.liveFileRows(database, tableID: tableID, snapshot: previous.id)
        guard try KeyRunTable.exists(database) else { return ([], rows == 0) }
        let keys = try Int64.fetchOne(database, sql: """
            SELECT coalesce(sum(key_count), 0) FROM lake_key_run WHERE table_id = ? AND column_name = ?
            """, arguments: [tableID, column]) ?? 0
        var runs: [KeyRun] = []
        let cursor = try SQLRow.fetchCursor(database, sql: """
            SELECT snapshot_id, key_count, payload FROM lake_key_run
            WHERE table_id = ? AND column_name = ? AND snapshot_id > ? ORDER BY snapshot_id
            """, arguments: [tableID, column, snapshot])
        while let r = try cursor.next() {
            let payload: [UInt8] = r.withUnsafeData(atIndex: 2) { data in data.map { [UInt8]($0) } ?? [] }
            runs.append(KeyRun(snapshotID: try r.value(at: 0, "snapshot_id"), keyCount: try r.value(at: 1, "key_count"), payload: payload))
        }
        let oldest = try Int64.fetchOne(database, sql: "SELECT min(snapshot_id) FROM lake_key_run WHERE table_id = ? AND column_name = ?",
                                        arguments: [tableID, column])
        let foreign = try oldest.map { try Catalog.foreignRowChanges(database, tableID: tableID, after: $0, through: Int64.max) } ?? false
        return (runs, keys == rows && !foreign)
    }
}

extension CatalogTransaction {
    /// Every run of `column` in `tableID` as (snapshot id, key count), oldest first: what a
    /// tier merge decides on before reading any payload.
    public func keyRunSizes(tableID: Int64, column: String) throws -> [(snapshotID: Int64, keyCount: Int64)] {
        guard try KeyRunTable.exists(database) else { return [] }
        return try SQLRow.fetchAll(database, sql: """
            SELECT snapshot_id, key_count FROM lake_key_run WHERE table_id = ? AND column_name = ? ORDER BY snapshot_id
            """, arguments: [tableID, column]).map { (try $0.value(at: 0, "snapshot_id"), try $0.value(at: 1, "key_count")) }
    }

    /// The payloads of the runs at `snapshots`, in that order, read in one statement (a merge
    /// runs under the write lock, where each statement is a round trip on PostgreSQL).
    public func keyRunPayloads(tableID: Int64, column: String, snapshots: [Int64]) throws -> [[UInt8]] {
        guard !snapshots.isEmpty else { return [] }
        var byRun: [Int64: [UInt8]] = [:]
        for row in try SQLRow.fetchAll(database, sql: """
            SELECT snapshot_id, payload FROM lake_key_run WHERE table_id = ? AND column_name = ?
              AND snapshot_id IN (\(Array(repeating: "?", count: snapshots.count).joined(separator: ", ")))
            """, arguments: SQLArguments([.int64(tableID), .string(column)] + snapshots.map(SQLValue.int64))) {
            byRun[try row.value(at: 0, "snapshot_id")] = row.withUnsafeData(atIndex: 1) { data in data.map { [UInt8]($0) } ?? [] }
        }
        return try snapshots.map { s in
            guard let payload = byRun[s] else { throw CatalogError.corrupt("key run of table \(tableID) at snapshot \(s) vanished") }
            return payload
        }
    }

    /// Replaces the runs at `snapshots` by one run holding their keys, stored at this commit's
    /// snapshot. In the commit's transaction: readers see the old runs or the merged one.
    public mutating func replaceKeyRuns(tableID: Int64, column: String, snapshots: [Int64], keyCount: Int64, payload: [UInt8]) throws {
        if !snapshots.isEmpty {
            try database.execute(sql: """
                DELETE FROM lake_key_run WHERE table_id = ? AND column_name = ?
                  AND snapshot_id IN (\(Array(repeating: "?", count: snapshots.count).joined(separator: ", ")))
                """, arguments: SQLArguments([.int64(tableID), .string(column)] + snapshots.map(SQLValue.int64)))
        }
        try KeyRunTable.insert(database, tableID: tableID, column: column, snapshot: snapshotID, keyCount: keyCount, payload: payload)
    }
}

extension Catalog {
    /// Whether a writer other than lake changed the table's rows in a snapshot after `after`
    /// (up to `through`): a data file lake did not commit (every file lake commits has a
    /// `lake_file_integrity` row), a delete file, or an inlined insertion or deletion. Key runs
    /// and stored quality figures describe only lake's own commits; a DuckDB UPDATE keeps the
    /// row count but changes the rows, so a count check alone trusted them (an order id
    /// updated in DuckDB was accepted again, its revenue counted twice). A lake delete also
    /// writes delete files: it changes the count, so the runs were rebuilt anyway.
    static func foreignRowChanges(_ db: SQLDatabase, tableID: Int64, after: Int64, through: Int64) throws -> Bool {
        let integrity = try FileIntegrity.exists(db)
        let files = try Int64.fetchOne(db, sql: """
            SELECT count(*) FROM ducklake_data_file d WHERE d.table_id = ? AND d.begin_snapshot > ? AND d.begin_snapshot <= ?
            """ + (integrity ? " AND NOT EXISTS (SELECT 1 FROM lake_file_integrity i WHERE i.data_file_id = d.data_file_id)" : ""),
            arguments: [tableID, after, through]) ?? 0
        if files > 0 { return true }
        let deletes = try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_delete_file WHERE table_id = ? AND begin_snapshot > ? AND begin_snapshot <= ?",
                                         arguments: [tableID, after, through]) ?? 0
        if deletes > 0 { return true }
        // Inlined deletions and inlined rows: table names made from the integer table id and
        // checked by `inlinedDataTables`, never from text.
        let inlined = try [DeleteVector.inlinedTable(tableID: tableID)].filter { try db.tableExists($0) } + inlinedDataTables(db, tableID: tableID)
        for table in inlined {
            if try Int64.fetchOne(db, sql: "SELECT count(*) FROM \(table) WHERE begin_snapshot > ? AND begin_snapshot <= ?", arguments: [after, through]) ?? 0 > 0 {
                return true
            }
        }
        return false
    }

    /// Rows of the table's data files a reader sees at the snapshot: their record counts minus
    /// the rows their delete files and DuckLake's inlined file deletions remove. Key runs and
    /// stored quality figures are trusted only when they account for exactly these rows.
    static func liveFileRows(_ db: SQLDatabase, tableID: Int64, snapshot: Int64) throws -> Int64 {
        var rows = try Int64.fetchOne(db, sql: """
            SELECT coalesce(sum(record_count), 0) - (SELECT coalesce(sum(x.delete_count), 0) FROM ducklake_delete_file x
                JOIN ducklake_data_file f ON f.data_file_id = x.data_file_id
                WHERE x.table_id = ? AND x.begin_snapshot <= ? AND (x.end_snapshot IS NULL OR x.end_snapshot > ?)
                  AND f.begin_snapshot <= ? AND (f.end_snapshot IS NULL OR f.end_snapshot > ?))
            FROM ducklake_data_file WHERE table_id = ? AND \(visibleAt)
            """, arguments: [tableID, snapshot, snapshot, snapshot, snapshot, tableID, snapshot, snapshot]) ?? 0
        let inlined = DeleteVector.inlinedTable(tableID: tableID)
        if try db.tableExists(inlined) {
            rows -= try Int64.fetchOne(db, sql: """
                SELECT count(*) FROM \(inlined) x JOIN ducklake_data_file f ON f.data_file_id = x.file_id
                WHERE x.begin_snapshot <= ? AND f.begin_snapshot <= ? AND (f.end_snapshot IS NULL OR f.end_snapshot > ?)
                """, arguments: [snapshot, snapshot, snapshot]) ?? 0
        }
        return rows
    }
}

extension Catalog {
    /// Rewrites every stored run of `column` in `tableID` through `transform` (nil drops the
    /// run; the same run keeps it as it is), in one transaction that makes no snapshot: for a
    /// record kept as runs that is not the table's key set, such as the deleted order ids an
    /// erasure's purge prunes.
    public func rewriteKeyRunRecords(tableID: Int64, column: String, _ transform: (KeyRun) throws -> KeyRun?) throws {
        try requireWritable()
        try Self.withRetry {
            try store.write { db in
                try requireLive(db)
                guard try KeyRunTable.exists(db) else { return }
                let rows = try SQLRow.fetchAll(db, sql: """
                    SELECT snapshot_id, key_count, payload FROM lake_key_run WHERE table_id = ? AND column_name = ? ORDER BY snapshot_id
                    """, arguments: [tableID, column])
                for r in rows {
                    let run = KeyRun(snapshotID: try r.value(at: 0, "snapshot_id"), keyCount: try r.value(at: 1, "key_count"),
                                     payload: r.withUnsafeData(atIndex: 2) { data in data.map { [UInt8]($0) } ?? [] })
                    let new = try transform(run)
                    if let new, new.keyCount == run.keyCount, new.payload == run.payload { continue }
                    try db.execute(sql: "DELETE FROM lake_key_run WHERE table_id = ? AND column_name = ? AND snapshot_id = ?",
                                   arguments: [tableID, column, run.snapshotID])
                    if let new {
                        try KeyRunTable.insert(db, tableID: tableID, column: column, snapshot: new.snapshotID, keyCount: new.keyCount, payload: new.payload)
                    }
                }
            }
        }
    }
}
