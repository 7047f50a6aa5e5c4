import Foundation
import LakeFormat

// DuckLake row-level deletes, write side (`lake delete`, `lake erase`).
//
// One delete file per data file, as DuckDB 1.5 keeps them: the first delete of a data file
// writes (file_path, pos); a later one writes a new file holding the old positions plus the new
// ones, each with the snapshot that deleted it (`_ducklake_internal_snapshot_id`), registers it
// from the old file's begin_snapshot and forgets the old file (scheduled for deletion), so time
// travel reads every snapshot from the one file. Ending the old file and starting a plain merged
// one at the new snapshot (DuckDB 1.4's way, ours until session 33) broke DuckDB 1.5's flush of
// inlined deletions: it replaced the live file and left the ended one overlapping it, and older
// snapshots read wrong in DuckDB and not at all in lake. Table stats are left as DuckDB leaves
// them on DELETE: record_count counts the rows of the live data files, deleted or not
// (compaction, which removes the files, subtracts them).

/// A delete file written for one data file, ready to register.
public struct NewDeleteFile: Hashable, Sendable {
    public var dataFileID: Int64
    /// Relative to the table directory, as DuckDB writes them (`ducklake-<uuid>-delete.parquet`).
    public var relativePath: String
    /// Every position the file holds (the data file's earlier delete file's and the new ones).
    public var deleteCount: Int64
    public var fileSizeBytes: Int64
    public var footerSize: Int64?
    /// The data file's deletes the positions were computed against; checked under the write
    /// lock, so a delete committed meanwhile is never dropped from the merged file.
    public var basedOn: DeleteMark
    /// Every position carries the snapshot that deleted it: the file replaces the data file's
    /// delete file over its whole life (from its begin_snapshot), not from this snapshot on.
    public var labelled: Bool

    public init(dataFileID: Int64, relativePath: String, deleteCount: Int64, fileSizeBytes: Int64, footerSize: Int64?, basedOn: DeleteMark,
                labelled: Bool = false) {
        self.dataFileID = dataFileID
        self.relativePath = relativePath
        self.deleteCount = deleteCount
        self.fileSizeBytes = fileSizeBytes
        self.footerSize = footerSize
        self.basedOn = basedOn
        self.labelled = labelled
    }
}

extension CatalogTransaction {
    /// Registers `file` as the delete file of its data file: a plain one from this snapshot on
    /// (ending a previous one here), a labelled one in place of the previous one, from its
    /// begin_snapshot (the previous file is scheduled for deletion). Throws `.conflict` when the data file is no longer
    /// live (a compaction or rewrite replaced it: the positions point into rows that moved) or
    /// its deletes changed since `file.basedOn` (another delete landed: merging over it would
    /// undo that delete). The caller re-plans from the new snapshot.
    @discardableResult
    public mutating func addDeleteFile(tableID: Int64, _ file: NewDeleteFile) throws -> Int64 {
        let t = try table(tableID)
        try Self.checkRelativePath(file.relativePath)
        guard let live = try SQLRow.fetchOne(database, sql: """
            SELECT record_count FROM ducklake_data_file WHERE data_file_id = ? AND table_id = ? AND \(visibleAt)
            """, arguments: [file.dataFileID, tableID, snapshotID, snapshotID]) else {
            let ended = try Int64.fetchOne(database, sql: "SELECT end_snapshot FROM ducklake_data_file WHERE data_file_id = ?",
                                           arguments: [file.dataFileID])
            throw CatalogError.conflict(table: t.qualifiedName, snapshot: ended ?? previous.id,
                                        reason: "data file \(file.dataFileID) was replaced after the delete read it")
        }
        let records: Int64 = try live.value("record_count")
        guard file.deleteCount > 0, file.deleteCount <= records else {
            throw CatalogError.invalidDataFilePath(path: file.relativePath,
                                                   reason: "delete count \(file.deleteCount) is outside 1...\(records) rows of data file \(file.dataFileID)")
        }
        let current = try currentDeleteMarks(tableID: tableID)[file.dataFileID] ?? .none
        guard current == file.basedOn else {
            throw CatalogError.conflict(table: t.qualifiedName, snapshot: previous.id,
                                        reason: "rows of data file \(file.dataFileID) were deleted after the delete read it")
        }
        var begin = snapshotID
        let previousFile = try SQLRow.fetchOne(database, sql: """
            SELECT delete_file_id, begin_snapshot, path, path_is_relative FROM ducklake_delete_file WHERE data_file_id = ? AND end_snapshot IS NULL
            """, arguments: [file.dataFileID])
        if let old = previousFile, file.labelled {
            begin = try old.value("begin_snapshot")
            let stored: String = try old.value("path") ?? ""
            let isRelative: Int64? = try old.value("path_is_relative")
            let url = isRelative == 0 ? URL(fileURLWithPath: stored) : t.directory.appendingPathComponent(stored)
            let scheduled = Catalog.scheduledPath(url.standardizedFileURL, dataPath: dataPath)
            try database.execute(sql: "INSERT INTO ducklake_files_scheduled_for_deletion VALUES (?, ?, ?, ?)",
                                 arguments: [(try old.value("delete_file_id")) as Int64, scheduled.path, scheduled.isRelative,
                                             Timestamps.timestampText(micros: Timestamps.micros(Date()))])
            try database.execute(sql: "DELETE FROM ducklake_delete_file WHERE delete_file_id = ?", arguments: [(try old.value("delete_file_id")) as Int64])
        } else if previousFile != nil {
            try database.execute(sql: "UPDATE ducklake_delete_file SET end_snapshot = ? WHERE data_file_id = ? AND end_snapshot IS NULL",
                                 arguments: [snapshotID, file.dataFileID])
        }
        let id = nextFileID
        nextFileID += 1
        try database.execute(sql: """
            INSERT INTO ducklake_delete_file (delete_file_id, table_id, begin_snapshot, end_snapshot, data_file_id, path,
                path_is_relative, format, delete_count, file_size_bytes, footer_size, encryption_key, partial_max)
            VALUES (?, ?, ?, NULL, ?, ?, TRUE, 'parquet', ?, ?, ?, NULL, NULL)
            """, arguments: [id, tableID, begin, file.dataFileID, file.relativePath, file.deleteCount,
                             file.fileSizeBytes, file.footerSize])
        // DuckDB records a DELETE as deleted_from_table:<id>.
        if !deletedTables.contains(tableID) { deletedTables.append(tableID) }
        hooks(.dataFileAdded)
        return id
    }

    /// Recomputes a table's column min/max from its live files' stats. A purge calls it after
    /// replacing the files that held an erased customer: the table-level bounds were folded in
    /// from those files and may be that customer's id itself.
    public func recomputeTableColumnStats(tableID: Int64) throws {
        let t = try table(tableID)
        for c in t.columns {
            let (lo, hi) = try liveBounds(table: t, column: c)
            try database.execute(sql: "UPDATE ducklake_table_column_stats SET min_value = ?, max_value = ? WHERE table_id = ? AND column_id = ?",
                                 arguments: [lo, hi, tableID, c.columnID])
        }
    }
}

extension Catalog {
    /// How long a PostgreSQL scrub waits for other sessions' older transactions to end, and
    /// then for a lock on a catalog table: `LAKE_SCRUB_WAIT` seconds, else 30.
    static var scrubWaitSeconds: TimeInterval {
        ProcessInfo.processInfo.environment["LAKE_SCRUB_WAIT"].flatMap(TimeInterval.init).map { max(0, $0) } ?? 30
    }

    /// Overwrites freed pages and drops the WAL, so bytes of rows a purge deleted from the
    /// catalog (column stats, expired snapshots' rows) are not left in free pages or in the
    /// write-ahead log: `secure_delete` zeroes what is deleted from here on, VACUUM rebuilds the
    /// file without free pages, and the TRUNCATE checkpoint copies the WAL back and empties it.
    /// Returns false when, on PostgreSQL, another session held a snapshot older than the
    /// scrub's ANALYZE, or a lock on a catalog table, for longer than `scrubWaitSeconds`: old
    /// row versions (an erased id among them) may then stay in the catalog's files until
    /// autovacuum rewrites them, or the next scrub. `stopWaiting` is asked during that wait: true
    /// (a signal asked the command to stop) ends it, and the scrub, at once, cut short.
    @discardableResult
    public func scrubStorage(stopWaiting: () -> Bool = { false }) throws -> Bool {
        try requireWritable()
        do {
            if store.dialect == .postgres {
                // ANALYZE first: pg_statistic keeps sampled column values (most common values,
                // histogram bounds) of ducklake_*_column_stats, where an erased id can be a
                // min/max, and VACUUM FULL does not recompute them (a purged id stayed readable
                // in pg_stats). ANALYZE replaces them from the live rows; VACUUM FULL then
                // rewrites every table, pg_statistic included, without the dead row versions.
                // Both run outside a transaction. VACUUM FULL still copies a dead row version
                // that a snapshot of a session of this database may see, and a snapshot's xmin
                // is the oldest transaction running in the whole cluster: an autovacuum worker's
                // ANALYZE started here while another database had a transaction open from before
                // the ANALYZE kept the old statistics and column stats, with the id, in the new
                // files (tests: about every other run with the PostgreSQL suites in parallel).
                // So it waits, up to `scrubWaitSeconds`, until no session of the cluster holds a
                // snapshot or a transaction older than the ANALYZE.
                return try store.writeWithoutTransaction { db in
                    try db.execute(sql: "ANALYZE")
                    let after = try Int64.fetchOne(db, sql: "SELECT txid_current()") ?? 0
                    let deadline = Date().addingTimeInterval(Self.scrubWaitSeconds)
                    var waitedOut = true
                    while Date() < deadline {
                        let older = try Int64.fetchOne(db, sql: """
                            SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()
                              AND (age(backend_xmin) > age((? % 4294967296)::text::xid) OR age(backend_xid) > age((? % 4294967296)::text::xid))
                            """, arguments: [after, after]) ?? 0
                        if older == 0 {
                            waitedOut = false
                            break
                        }
                        if stopWaiting() { return false }
                        Thread.sleep(forTimeInterval: 0.05)
                    }
                    // A session holding a lock on a catalog table (an open transaction that
                    // read it) would make VACUUM FULL wait for it without end: it waits as
                    // long as the wait above, then the scrub is reported cut short.
                    let lockTimeout = String(max(1, Int(Self.scrubWaitSeconds * 1000))) + "ms"
                    _ = try SQLRow.fetchOne(db, sql: "SELECT set_config('lock_timeout', ?, false)", arguments: [lockTimeout])
                    var locked = false
                    do {
                        try db.execute(sql: "VACUUM FULL")
                    } catch let e as SQLError where e.code == "55P03" {
                        locked = true
                    }
                    try db.execute(sql: "RESET lock_timeout")
                    return !waitedOut && !locked
                }
            }
            try store.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA secure_delete = ON")
                try db.execute(sql: "VACUUM")
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
            // Readers of the pool may have held the WAL's old frames; a second checkpoint after
            // they released it truncates what the first could not.
            try store.writeWithoutTransaction { db in
                let r = try SQLRow.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)")
                let busy: Int64 = try r?.value(at: 0, "busy") ?? 0
                if busy != 0 { throw CatalogError.busy(attempts: 1) }
            }
            return true
        } catch let e as SQLError {
            throw CatalogError(e)
        }
    }
}
