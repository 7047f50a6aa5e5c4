import Foundation
import LakeFormat

/// What a vacuum removed (or, for a dry run, would remove).
public struct VacuumReport: Hashable, Sendable {
    public enum Reason: String, Hashable, Sendable {
        /// Recorded in the catalog but readable by no retained snapshot.
        case unreferenced
        /// A Parquet file under a layer directory that no catalog row mentions.
        case orphan
        /// Scheduled for deletion by an earlier vacuum that did not finish deleting it, or by a
        /// merge (a compaction that kept history, ours or DuckDB's) or a second delete of a file.
        case scheduled
    }

    public struct File: Hashable, Sendable {
        public var url: URL
        public var bytes: Int64
        public var reason: Reason
    }

    public var dryRun: Bool
    public var expiredSnapshots: [Int64] = []
    public var files: [File] = []
    /// Files the catalog scheduled for deletion but the file system refused to delete; the next
    /// vacuum retries them.
    public var failedDeletes: [URL] = []
    /// Unreferenced files kept because they are younger than the safety window (`--force` takes them).
    public var keptYoung = 0
    /// Unreferenced files kept because a writer that may still commit them holds a lease.
    public var keptForWriters = 0
    /// Leases of writers that no longer run, dropped (or, in a dry run, that would be).
    public var staleLeases = 0
    /// Files whose snapshots expired but that vacuum keeps: the files that replaced them
    /// (compaction, rewrite) fail verification, so they may be the last good copy.
    public var keptUnverified: [URL] = []
    /// Originals whose replacement a concurrent writer committed while this vacuum ran: not yet
    /// verified, so kept for the next vacuum (not a failure).
    public var keptForNextVacuum = 0
    /// Files no retained snapshot reads that lie outside the lake root (DuckDB's
    /// `ducklake_add_data_files` registered them where they were): scheduled for deletion as
    /// DuckLake does, but lake never deletes outside its root; DuckDB's
    /// `ducklake_cleanup_old_files` does.
    public var keptOutsideRoot: [URL] = []
    /// Hold names of committed files (`Storage.pendingWrite`) that a crash right after their
    /// commit left: removed (or, in a dry run, that would be); the files keep their own names.
    public var leftoverHolds = 0
    /// Retired files forgotten without their deleted keys recorded: they failed verification
    /// (`DeletedKeys.unreadable`), so the quality check may count their deleted orders as missing.
    public var deletedKeysUnread: [String] = []

    public var bytes: Int64 { files.reduce(0) { $0 + $1.bytes } }
}

extension Catalog {
    /// Expires snapshots committed before `olderThan` (the latest snapshot is always kept), drops
    /// catalog rows no retained snapshot can see, and deletes the data files only those expired
    /// snapshots could read. A file readable at any retained snapshot is never touched.
    ///
    /// Crash safety: the catalog change (rows removed, paths put in
    /// ducklake_files_scheduled_for_deletion) commits first; files are deleted afterwards and
    /// their schedule rows removed only once gone, so an interrupted vacuum leaves at worst
    /// scheduled paths that the next vacuum finishes.
    ///
    /// `keeper` keeps the keys of rows deleted in the files it forgets (see `DeletedKeyKeeper`).
    /// `progress`: see `verifiedReplacements`; `step` names each later step as it starts, and
    /// `deleted(doneFiles, totalFiles)` counts the scheduled files deleted.
    public func expireSnapshots(olderThan cutoff: Date, dryRun: Bool = false, keeping keeper: DeletedKeyKeeper? = nil,
                                progress: ((Int64, Int64) -> Void)? = nil, step: ((VacuumStep) -> Void)? = nil,
                                deleted: ((Int64, Int64) -> Void)? = nil) throws -> VacuumReport {
        try requireWritable()
        let merges = try unverifiedMergeDirectories(progress: progress)
        var report = try scheduleExpired(olderThan: cutoff, dryRun: dryRun, keeping: keeper, progress: progress, step: step)
        if dryRun { return report }
        step?(.delete)
        try deleteScheduled(&report, looked: merges, deleted: deleted)
        return report
    }

    /// The catalog half of `expireSnapshots`: one transaction that expires the snapshots and
    /// moves the files only they could read to ducklake_files_scheduled_for_deletion (rolled
    /// back for a dry run). A vacuum killed after it left exactly this state.
    func scheduleExpired(olderThan cutoff: Date, dryRun: Bool, keeping keeper: DeletedKeyKeeper? = nil,
                         progress: ((Int64, Int64) -> Void)? = nil, step: ((VacuumStep) -> Void)? = nil) throws -> VacuumReport {
        var report = VacuumReport(dryRun: dryRun)
        let cutoffMicros = Timestamps.micros(cutoff)
        let verified = try verifiedReplacements(cutoffMicros: cutoffMicros, progress: progress)
        step?(.expire)
        let kept = try keeper.flatMap { try keptDeletions($0, cutoffMicros: cutoffMicros) }
        do {
            try Self.withRetry {
                try store.write { db in
                    try requireLive(db)
                    report = VacuumReport(dryRun: dryRun)
                    // Files an interrupted vacuum scheduled but did not delete: this run deletes
                    // them, so a dry run must count them too.
                    report.files = try leftoverScheduled(db)
                    try expire(db, cutoffMicros: cutoffMicros, verified: verified, kept: kept, report: &report)
                    if dryRun { throw RollbackRequest() }
                }
            }
        } catch is RollbackRequest {}
        return report
    }

    /// The file half: deletes every scheduled file, including leftovers of interrupted runs,
    /// and forgets a schedule row only once its file is gone.
    /// `looked`: what `unverifiedMergeDirectories` found before the catalog half. A file scheduled
    /// after that look, by another writer (a merge, ours or DuckDB's, committed meanwhile), is left
    /// for the next vacuum: its merged file was never verified, so it may be the last good copy.
    private func deleteScheduled(_ report: inout VacuumReport, looked: MergeLook,
                                 deleted: ((Int64, Int64) -> Void)? = nil) throws {
        // What this vacuum's own catalog half scheduled, after `fateOfReplaced` verified its replacement.
        let ours = Set(report.files.filter { $0.reason == .unreferenced }.map(\.url.standardizedFileURL.path))
        // Physically delete everything scheduled, including leftovers of interrupted runs.
        let scheduled: [(SQLValue, String, URL)] = try read { db in
            try SQLRow.fetchAll(db, sql: "SELECT \(db.rowID) AS rowid, data_file_id, path, path_is_relative FROM ducklake_files_scheduled_for_deletion").map { r in
                let path: String = try r.value("path") ?? ""
                let rel: Int64? = try r.value("path_is_relative")
                let url = rel == 0 ? URL(fileURLWithPath: path) : dataPath.appendingPathComponent(path)
                return ((try r.value("rowid")), path, url.standardizedFileURL)
            }
        }
        var done: [SQLValue] = []
        let total = Int64(scheduled.count)
        if total > 0 { deleted?(0, total) }
        for (index, (rowid, _, url)) in scheduled.enumerated() {
            defer { deleted?(Int64(index + 1), total) }
            // A merge's inputs are the last good copy of their rows until the merged files verify.
            if looked.failed.contains(url.deletingLastPathComponent().path) {
                report.keptUnverified.append(url)
                report.files.removeAll { $0.url == url }
                continue
            }
            // Its schedule row stays, for DuckDB's cleanup (see `keptOutsideRoot`).
            if files.isOutsideRoot(url.path) {
                if !report.keptOutsideRoot.contains(url) { report.keptOutsideRoot.append(url) }
                continue
            }
            if !looked.scheduled.contains(url.path) && !ours.contains(url.path) {
                report.keptForNextVacuum += 1
                report.files.removeAll { $0.url.standardizedFileURL == url }
                continue
            }
            do {
                try files.delete(url.path)  // already gone (an interrupted vacuum): nothing to do
                if !rowid.isNull { done.append(rowid) }
            } catch {
                report.failedDeletes.append(url)
            }
        }
        if !done.isEmpty {
            try Self.withRetry {
                try store.write { db in
                    for id in done {
                        try db.execute(sql: "DELETE FROM ducklake_files_scheduled_for_deletion WHERE \(db.rowID) = ?", arguments: [id])
                    }
                }
            }
        }
    }

    /// Of the directories holding files scheduled for deletion, those where a live merged file
    /// (partial_max set: a compaction that kept history, ours or DuckDB's) fails verification.
    /// A merge deletes its inputs' catalog rows and schedules their files at once
    /// (MergeFiles.swift), so no end_snapshot ties them to their replacement; they lie in its
    /// directory, and are kept while a merged file there fails, as an ended file is kept while
    /// the files that replaced it fail (`fateOfReplaced`). A file scheduled after this look is
    /// left for the next vacuum (`deleteScheduled`). `progress(doneFiles, totalFiles)` counts the files verified.
    private func unverifiedMergeDirectories(progress: ((Int64, Int64) -> Void)?) throws -> MergeLook {
        let (scheduled, merged): (Set<String>, [(String, ParquetFileReader.Expectation)]) = try read { db in
            let scheduled = Set(try SQLRow.fetchAll(db, sql: "SELECT path, path_is_relative FROM ducklake_files_scheduled_for_deletion").map { r in
                let rel: Int64? = try r.value("path_is_relative")
                let path: String = try r.value("path") ?? ""
                return (rel == 0 ? URL(fileURLWithPath: path) : dataPath.appendingPathComponent(path)).standardizedFileURL.path
            })
            let directories = Set(scheduled.map { ($0 as NSString).deletingLastPathComponent })
            if directories.isEmpty || format != .v10 { return (scheduled, []) }
            let merged = try expectations(db, filter: "d.partial_max IS NOT NULL AND d.end_snapshot IS NULL", arguments: [],
                                          directories: try tableDirectories(db), integrity: try FileIntegrity.exists(db))
            return (scheduled, merged.filter { directories.contains(($0.0 as NSString).deletingLastPathComponent) })
        }
        var failed = Set<String>()
        let total = Int64(merged.count)
        if total > 0 { progress?(0, total) }
        for (done, (path, expect)) in merged.enumerated() {
            let directory = (path as NSString).deletingLastPathComponent
            if !failed.contains(directory), !Self.verifies(path: path, expect: expect, files: files) {
                failed.insert(directory)
            }
            progress?(Int64(done + 1), total)
        }
        return MergeLook(scheduled: scheduled, failed: failed)
    }

    /// The files scheduled for deletion when vacuum looked, and the directories among theirs
    /// where a merged file failed verification.
    private struct MergeLook {
        var scheduled: Set<String>
        var failed: Set<String>
    }

    /// Paths in ducklake_files_scheduled_for_deletion whose files still exist.
    private func leftoverScheduled(_ db: SQLDatabase) throws -> [VacuumReport.File] {
        var out: [VacuumReport.File] = []
        for r in try SQLRow.fetchAll(db, sql: "SELECT path, path_is_relative FROM ducklake_files_scheduled_for_deletion") {
            let path: String = try r.value("path") ?? ""
            let rel: Int64? = try r.value("path_is_relative")
            let url = (rel == 0 ? URL(fileURLWithPath: path) : dataPath.appendingPathComponent(path)).standardizedFileURL
            // Left where it is (`keptOutsideRoot`); asking the lake's storage about it would fail
            // every vacuum once DuckDB scheduled such a file (its merge does).
            if files.isOutsideRoot(url.path) { continue }
            guard let info = try files.info(url.path) else { continue }  // already gone: nothing to free
            out.append(.init(url: url, bytes: info.size, reason: .scheduled))
        }
        return out
    }

    private func expire(_ db: SQLDatabase, cutoffMicros: Int64, verified: ReplacementCheck, kept: KeptDeletions?, report: inout VacuumReport) throws {
        let snaps = try Self.fetchSnapshots(db)
        guard let latest = snaps.last else { return }
        let expired = snaps.filter { $0.timeMicros < cutoffMicros && $0.id != latest.id }.map(\.id)
        report.expiredSnapshots = expired
        // Orphan removal compares file ages with the catalog's creation (snapshot 0's time):
        // keep that time when snapshot 0 goes.
        if expired.contains(0), let created = try Self.catalogCreatedMicros(db) {
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS lake_catalog_origin (created_micros BIGINT NOT NULL)")
            try db.execute(sql: "DELETE FROM lake_catalog_origin")
            try db.execute(sql: "INSERT INTO lake_catalog_origin VALUES (?)", arguments: [created])
        }
        for id in expired {
            try db.execute(sql: "DELETE FROM ducklake_snapshot WHERE snapshot_id = ?", arguments: [id])
        }
        try keepChangesForOpenTransactions(db, snaps)
        // An ended row matters while some retained snapshot falls in [begin, end).
        let unseen = """
            end_snapshot IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ducklake_snapshot r
                WHERE r.snapshot_id >= begin_snapshot AND r.snapshot_id < end_snapshot)
            """
        let dead = try SQLRow.fetchAll(db, sql: "SELECT data_file_id, table_id, path, path_is_relative, file_size_bytes, end_snapshot FROM ducklake_data_file WHERE \(unseen)")
        let dirs = try tableDirectories(db)
        let now = Timestamps.timestampText(micros: Timestamps.micros(Date()))
        var forgottenEnds = Set<Int64>()
        var forgotten: [Int64] = []
        for r in dead {
            let id: Int64 = try r.value("data_file_id")
            let tableID: Int64 = try r.value("table_id")
            let end: Int64? = try r.value("end_snapshot")
            let url = Self.fileURL(path: try r.value("path") ?? "", isRelative: try r.value("path_is_relative"), tableDir: dirs[tableID] ?? dataPath)
            if let kept, tableID == kept.tableID, let end {
                // Retired after the look: its deleted keys are not in a run yet.
                guard kept.examined.contains(end) else {
                    report.keptForNextVacuum += 1
                    continue
                }
            }
            switch try Self.fateOfReplaced(db, tableID: tableID, end: end, check: verified) {
            case .delete: break
            case .keepUnverified:
                report.keptUnverified.append(url)
                continue
            case .keepForNextVacuum:
                report.keptForNextVacuum += 1
                continue
            }
            if files.isOutsideRoot(url.path) {
                report.keptOutsideRoot.append(url)
            } else {
                report.files.append(.init(url: url, bytes: try r.value("file_size_bytes") ?? 0, reason: .unreferenced))
            }
            let (stored, rel) = storedPath(url)
            try db.execute(sql: "INSERT INTO ducklake_files_scheduled_for_deletion VALUES (?, ?, ?, ?)", arguments: [id, stored, rel, now])
            try db.execute(sql: "DELETE FROM ducklake_data_file WHERE data_file_id = ?", arguments: [id])
            forgotten.append(id)
            if tableID == kept?.tableID, let end { forgottenEnds.insert(end) }
        }
        // The files' statistics and partition values, 1,000 files a statement: DuckLake's DDL
        // indexes neither table by data_file_id, so a statement per file scanned the table each
        // time, and a vacuum after compacting 400 small batches (88 k files, 1.2 M statistics
        // rows) ran for more than 15 minutes in those scans (session 22).
        for start in stride(from: 0, to: forgotten.count, by: 1000) {
            let ids = forgotten[start ..< min(forgotten.count, start + 1000)]
            for table in ["ducklake_file_column_stats", "ducklake_file_partition_value"] {
                try db.execute(sql: """
                    DELETE FROM \(table) WHERE data_file_id IN (\(Array(repeating: "?", count: ids.count).joined(separator: ", ")))
                    """, arguments: SQLArguments(ids.map(SQLValue.int64)))
            }
        }
        // The deleted keys of the forgotten files, as the record of the snapshot that retired them.
        if let kept {
            for end in forgottenEnds.sorted() {
                guard let keys = kept.keys[end] else { continue }
                report.deletedKeysUnread += keys.unreadable
                guard let run = keys.run else { continue }
                try KeyRunTable.insert(db, tableID: kept.tableID, column: kept.column, snapshot: end, keyCount: run.keyCount, payload: run.payload)
            }
        }
        // Delete files (DuckDB's DELETE) go with their data file or once no retained snapshot sees them.
        let deadDeletes = try SQLRow.fetchAll(db, sql: """
            SELECT delete_file_id, data_file_id, table_id, path, path_is_relative, file_size_bytes FROM ducklake_delete_file
            WHERE (\(unseen)) OR data_file_id NOT IN (SELECT data_file_id FROM ducklake_data_file)
            """)
        for r in deadDeletes {
            let tableID: Int64 = try r.value("table_id")
            let url = Self.fileURL(path: try r.value("path") ?? "", isRelative: try r.value("path_is_relative"), tableDir: dirs[tableID] ?? dataPath)
            report.files.append(.init(url: url, bytes: try r.value("file_size_bytes") ?? 0, reason: .unreferenced))
            let (stored, rel) = storedPath(url)
            try db.execute(sql: "INSERT INTO ducklake_files_scheduled_for_deletion VALUES (?, ?, ?, ?)",
                           arguments: [(try r.value("data_file_id")) as Int64?, stored, rel, now])
            try db.execute(sql: "DELETE FROM ducklake_delete_file WHERE delete_file_id = ?", arguments: [(try r.value("delete_file_id")) as Int64])
        }
        try FileIntegrity.forgetRemoved(db)
        try forgetInlinedRows(db, unseen: unseen)
        // Catalog rows of dropped tables no retained snapshot sees (every version of the table
        // ended and unseen) go with the table, as DuckDB's expire forgets them: the table's rows,
        // its columns and its partition specs. A live table keeps all of its column rows and
        // partition specs, however old, as DuckDB does: a dropped column's id must never be
        // handed out again (files written before the drop still hold it, and the next added
        // column, numbered past the highest id left, read its values as data), and files written
        // under an older partition spec still name it (without it they had no partition values,
        // and compaction could not commit). Except the columns of a dropped table with inlined
        // data tables: lake leaves those tables (and so the column rows that map their rows to
        // column ids, InlinedRows.swift) to DuckDB's own cleanup, which drops them together.
        let droppedTables = """
            SELECT t.table_id FROM ducklake_table t WHERE NOT EXISTS (SELECT 1 FROM ducklake_table v WHERE v.table_id = t.table_id
                AND (v.end_snapshot IS NULL OR EXISTS (SELECT 1 FROM ducklake_snapshot r
                    WHERE r.snapshot_id >= v.begin_snapshot AND r.snapshot_id < v.end_snapshot)))
            """
        let inlinedTables = try db.tableExists("ducklake_inlined_data_tables")
        let keepInlined = inlinedTables ? " AND table_id NOT IN (SELECT table_id FROM ducklake_inlined_data_tables)" : ""
        let forgetColumns = "DELETE FROM ducklake_column WHERE table_id IN (\(droppedTables))" + keepInlined
        try db.execute(sql: forgetColumns)
        let forgetSpecColumns = """
            DELETE FROM ducklake_partition_column WHERE partition_id IN
                (SELECT partition_id FROM ducklake_partition_info WHERE table_id IN (\(droppedTables)))
            """
        try db.execute(sql: forgetSpecColumns)
        let forgetSpecs = "DELETE FROM ducklake_partition_info WHERE table_id IN (\(droppedTables))"
        try db.execute(sql: forgetSpecs)
        let forgetTables = "DELETE FROM ducklake_table WHERE table_id IN (\(droppedTables))"
        try db.execute(sql: forgetTables)
        let forgetSchemas = "DELETE FROM ducklake_schema WHERE \(unseen)"
        try db.execute(sql: forgetSchemas)
        for table in ["ducklake_table_stats", "ducklake_table_column_stats"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE table_id NOT IN (SELECT table_id FROM ducklake_table)")
        }
    }

    /// Rows DuckDB inlined in the catalog that an UPDATE or DELETE ended and no retained
    /// snapshot sees, and the inlined deletions of files the catalog forgot. DuckDB's expire
    /// leaves them (until a flush), and so did ours: an erasure's purge left the erased
    /// customer's inlined rows, deleted by DuckDB earlier, in the catalog's files for good.
    private func forgetInlinedRows(_ db: SQLDatabase, unseen: String) throws {
        let tableIDs = try Int64.fetchAll(db, sql: "SELECT DISTINCT table_id FROM ducklake_table ORDER BY table_id")
        for id in tableIDs {
            // Names checked by `inlinedDataTables` (DuckDB's pattern: letters, digits, underscores).
            for name in try Catalog.inlinedDataTables(db, tableID: id) {
                try db.execute(sql: "DELETE FROM " + name + " WHERE " + unseen)
            }
            let deletions = DeleteVector.inlinedTable(tableID: id)
            if try db.tableExists(deletions) {
                try db.execute(sql: "DELETE FROM " + deletions + " WHERE file_id NOT IN (SELECT data_file_id FROM ducklake_data_file)")
            }
        }
    }

    /// An expired snapshot's changes_made entry outlives its snapshot row for
    /// `orphanSafetyWindow`. DuckDB decides whether its commit conflicts by reading the
    /// changes_made of every snapshot after the one its transaction began at, straight from
    /// ducklake_snapshot_changes: with a compaction's entry gone, a DuckDB DELETE open across
    /// `lake compact` and a vacuum committed positions into files that no longer exist, and
    /// the deleted rows stayed. Listings (ours, DuckDB's) start from ducklake_snapshot and do
    /// not see the kept entries. Their free text (author, message) goes with the snapshot: it
    /// may name a person an erasure purges. A transaction older than the window is not
    /// protected, as its files are not (orphans of that age are deleted too).
    private func keepChangesForOpenTransactions(_ db: SQLDatabase, _ snapshotsBefore: [SnapshotInfo]) throws {
        try db.execute(sql: """
            UPDATE ducklake_snapshot_changes SET author = NULL, commit_message = NULL, commit_extra_info = NULL
            WHERE snapshot_id NOT IN (SELECT snapshot_id FROM ducklake_snapshot)
            """)
        // Snapshot ids grow with time: an entry at or below a snapshot older than the window
        // is older than the window too, whatever vacuum expired its snapshot.
        let windowStart = Timestamps.micros(Date()) - Int64(Self.orphanSafetyWindow * 1_000_000)
        if let old = snapshotsBefore.last(where: { $0.timeMicros < windowStart }) {
            try db.execute(sql: """
                DELETE FROM ducklake_snapshot_changes
                WHERE snapshot_id <= ? AND snapshot_id NOT IN (SELECT snapshot_id FROM ducklake_snapshot)
                """, arguments: [old.id])
        }
    }

    /// Deletes `*.parquet` files under the given layer directories of the data path that the
    /// catalog has no record of (not a data file, delete file or scheduled deletion) and that
    /// were last modified before `olderThan`.
    ///
    /// Files of writers in flight are never taken: the scan runs under the catalog's write lock
    /// (no commit can land meanwhile) and keeps every file modified since the oldest live write
    /// lease started (`WriteLease`); leases of writers that no longer run are dropped. Files the
    /// catalog cannot have written make it refuse and delete nothing (`foreignFileRule`).
    /// `keepYoungerThan` is vacuum's safety window: files modified after it are kept and counted.
    public func removeOrphanFiles(olderThan cutoff: Date, layers: [String] = ["raw", "curated"],
                                  dryRun: Bool = false, keepYoungerThan safety: Date? = nil) throws -> VacuumReport {
        try requireWritable()
        if dryRun { return try read { db in try orphanPass(db, cutoff: cutoff, layers: layers, dryRun: true, safety: safety) } }
        return try Self.withRetry {
            try store.write { db in
                try requireLive(db)
                return try orphanPass(db, cutoff: cutoff, layers: layers, dryRun: false, safety: safety)
            }
        }
    }

    private func orphanPass(_ db: SQLDatabase, cutoff: Date, layers: [String], dryRun: Bool, safety: Date?) throws -> VacuumReport {
        var report = VacuumReport(dryRun: dryRun)
        var known = Set<String>()
        let dirs = try tableDirectories(db)
        for r in try SQLRow.fetchAll(db, sql: "SELECT table_id, path, path_is_relative FROM ducklake_data_file UNION ALL SELECT table_id, path, path_is_relative FROM ducklake_delete_file") {
            let tid: Int64 = try r.value("table_id") ?? -1
            known.insert(Self.fileURL(path: try r.value("path") ?? "", isRelative: try r.value("path_is_relative"), tableDir: dirs[tid] ?? dataPath).path)
        }
        for r in try SQLRow.fetchAll(db, sql: "SELECT path, path_is_relative FROM ducklake_files_scheduled_for_deletion") {
            let path: String = try r.value("path") ?? ""
            let rel: Int64? = try r.value("path_is_relative")
            known.insert(rel == 0 ? LakeFiles.standardized(path) : dataPath.appendingPathComponent(path).standardizedFileURL.path)
        }
        // Writers in flight: everything modified since the oldest live lease may be theirs.
        let nowMicros = Timestamps.micros(Date())
        var protectedSince: Date?
        for lease in try WriteLeaseTable.all(db) {
            if ProcessIdentity.isLive(lease, nowMicros: nowMicros) {
                let start = Timestamps.date(micros: lease.startedMicros).addingTimeInterval(-WriteLease.clockSlack)
                protectedSince = min(protectedSince ?? start, start)
            } else {
                report.staleLeases += 1
                if !dryRun { try db.execute(sql: "DELETE FROM lake_write_lease WHERE lease_id = ?", arguments: [lease.leaseID]) }
            }
        }
        var candidates: [(url: URL, bytes: Int64, modified: Date)] = []
        var leftoverHolds: [URL] = []
        for layer in layers {
            // The storage lists objects (files) with size and modification time; one deleted
            // while it lists (a writer dropping a failed attempt's files) may or may not appear.
            let objects = try files.list(layer: layer)
            let listed = Set(objects.map { files.path($0.key) })
            for object in objects {
                let path = files.path(object.key)
                // The storage's private name (temp or hold) of a write that crashed: a second
                // name of the file (bytes counted once) or, before its publish, the only one.
                var heldPath: String?
                if let owner = files.storage.pendingWrite(of: object.key) {
                    heldPath = files.path(owner)
                } else if !object.key.path.hasSuffix(".parquet") {
                    continue
                }
                guard !known.contains(path) else { continue }
                let modified = Timestamps.date(micros: object.modifiedMicros)
                guard modified < cutoff else { continue }
                if let protectedSince, modified >= protectedSince { report.keptForWriters += 1; continue }
                if let safety, modified >= safety { report.keptYoung += 1; continue }
                if let heldPath, known.contains(heldPath) {
                    // Its file was committed; only the release after the commit did not happen.
                    leftoverHolds.append(URL(fileURLWithPath: path))
                    continue
                }
                let bytes = heldPath.map { listed.contains($0) } == true ? 0 : object.size
                candidates.append((URL(fileURLWithPath: path), bytes, modified))
            }
        }
        if !candidates.isEmpty { try foreignFileRule(db, candidates.map { ($0.url, $0.modified) }) }
        for c in candidates.sorted(by: { $0.url.path < $1.url.path }) {
            report.files.append(.init(url: c.url, bytes: c.bytes, reason: .orphan))
            if !dryRun {
                do { try files.delete(c.url.path) } catch { report.failedDeletes.append(c.url) }
            }
        }
        report.leftoverHolds = leftoverHolds.count
        if !dryRun {
            for hold in leftoverHolds {
                do { try files.delete(hold.path) } catch { report.failedDeletes.append(hold) }
            }
        }
        return report
    }

    /// Orphan removal must never turn a lost or replaced catalog into `rm -rf`. Every file a
    /// writer of this catalog left behind was written after the catalog existed and by a
    /// catalog that has allocated file ids. So vacuum refuses (deleting nothing) when
    ///  (a) the catalog never recorded a data file (`next_file_id` is 0) yet files are
    ///      unreferenced: a fresh catalog over old data, or
    ///  (b) an unreferenced file is older than the catalog itself (snapshot 0's time, or the
    ///      time vacuum recorded before expiring snapshot 0), beyond `foreignSlack` for clocks.
    /// A count or ratio rule ("more orphans than files") would refuse legitimate debris of a
    /// big crashed ingest into a small lake and still allow a lost catalog once it has enough
    /// new files; these two rules follow from how debris arises.
    private func foreignFileRule(_ db: SQLDatabase, _ candidates: [(URL, Date)]) throws {
        let nextFileID = try Int64.fetchOne(db, sql: "SELECT next_file_id FROM ducklake_snapshot ORDER BY snapshot_id DESC LIMIT 1") ?? 0
        let example = candidates[0].0.path
        if nextFileID == 0 {
            throw CatalogSafetyError.foreignFiles(count: candidates.count, example: example,
                                                  reason: "the catalog has never recorded a single data file")
        }
        guard let created = try Self.catalogCreatedMicros(db) else { return }
        let limit = Timestamps.date(micros: created).addingTimeInterval(-Self.foreignSlack)
        let older = candidates.filter { $0.1 < limit }
        if let first = older.first {
            throw CatalogSafetyError.foreignFiles(count: older.count, example: first.0.path,
                                                  reason: "they are older than the catalog (created \(Timestamps.iso(Timestamps.date(micros: created))))")
        }
    }

    /// Clock differences tolerated between file modification times and snapshot times.
    static let foreignSlack: TimeInterval = 60
    /// `lake vacuum` never deletes an unreferenced file younger than this, whatever `--retain`
    /// says, unless forced: the margin for writers that register no lease (older builds, other tools).
    public static let orphanSafetyWindow: TimeInterval = 3600

    /// When the catalog was created: snapshot 0's time, or what vacuum recorded before expiring it.
    static func catalogCreatedMicros(_ db: SQLDatabase) throws -> Int64? {
        if let text = try String.fetchOne(db, sql: "SELECT snapshot_time FROM ducklake_snapshot WHERE snapshot_id = 0"),
           let micros = Timestamps.parseTimestamp(text) {
            return micros
        }
        guard try db.tableExists("lake_catalog_origin") else { return nil }
        return try Int64.fetchOne(db, sql: "SELECT created_micros FROM lake_catalog_origin")
    }

    /// The steps of a vacuum after its check of replacement files, for a progress display. On a
    /// lake of 400 small batches compacted (87,880 files to delete; debug build, shared machine):
    /// the catalog's expiry ~27 s, the deletes ~23 s and their bookkeeping ~7 s, the look for
    /// orphans ~1.3 s (session 22).
    public enum VacuumStep: Sendable, Equatable {
        /// The catalog transaction that expires snapshots and schedules their files.
        case expire
        /// The scheduled files deleted (`deleted` counts them).
        case delete
        /// The lake root listed for files no snapshot ever recorded.
        case orphans
    }

    /// Expires snapshots and removes orphans with one retention: the whole `lake vacuum`.
    /// Orphans younger than `orphanSafetyWindow` stay unless `force` (snapshots still expire
    /// at `retain`); files of live writers and files the catalog never wrote stay even then.
    /// `progress(doneFiles, totalFiles)`: the replacement files checked before expiring (see
    /// `verifiedReplacements`); `step` and `deleted`: see `expireSnapshots`, and `.orphans` the
    /// look for files the catalog never recorded.
    public func vacuum(retain: TimeInterval, now: Date = Date(), dryRun: Bool = false, force: Bool = false,
                       keeping keeper: DeletedKeyKeeper? = nil, progress: ((Int64, Int64) -> Void)? = nil,
                       step: ((VacuumStep) -> Void)? = nil, deleted: ((Int64, Int64) -> Void)? = nil) throws -> VacuumReport {
        let cutoff = now.addingTimeInterval(-retain)
        let safety = force ? nil : now.addingTimeInterval(-Self.orphanSafetyWindow)
        // Refuse before expiring anything: a refused vacuum changes nothing.
        _ = try removeOrphanFiles(olderThan: cutoff, dryRun: true, keepYoungerThan: safety)
        var report = try expireSnapshots(olderThan: cutoff, dryRun: dryRun, keeping: keeper, progress: progress, step: step, deleted: deleted)
        step?(.orphans)
        let orphans = try removeOrphanFiles(olderThan: cutoff, dryRun: dryRun, keepYoungerThan: safety)
        report.files += orphans.files
        report.failedDeletes += orphans.failedDeletes
        report.keptYoung = orphans.keptYoung
        report.keptForWriters = orphans.keptForWriters
        report.staleLeases = orphans.staleLeases
        return report
    }

    /// Every table row's directory, live or ended, for resolving any recorded path.
    func tableDirectories(_ db: SQLDatabase) throws -> [Int64: URL] {
        var out: [Int64: URL] = [:]
        for r in try SQLRow.fetchAll(db, sql: """
            SELECT t.table_id, t.table_name, t.path AS tp, t.path_is_relative AS tr,
                   s.schema_name, s.path AS sp, s.path_is_relative AS sr
            FROM ducklake_table t LEFT JOIN ducklake_schema s ON s.schema_id = t.schema_id
            """) {
            let schemaDir = Self.resolveDir(base: dataPath, path: try r.value("sp"), isRelative: try r.value("sr"), fallback: try r.value("schema_name") ?? "")
            out[(try r.value("table_id"))] = Self.resolveDir(base: schemaDir, path: try r.value("tp"), isRelative: try r.value("tr"), fallback: try r.value("table_name") ?? "")
        }
        return out
    }

    static func fileURL(path: String, isRelative: Int64?, tableDir: URL) -> URL {
        (isRelative == 0 ? URL(fileURLWithPath: path) : tableDir.appendingPathComponent(path)).standardizedFileURL
    }

    /// DuckLake schedules paths relative to the data path when they lie under it.
    private func storedPath(_ url: URL) -> (String, Int64) { Self.scheduledPath(url, dataPath: dataPath) }

    /// A file's path as ducklake_files_scheduled_for_deletion stores it: relative to the data
    /// path (path_is_relative 1) when under it, else absolute.
    static func scheduledPath(_ url: URL, dataPath: URL) -> (path: String, isRelative: Int64) {
        let base = dataPath.standardizedFileURL.path
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return url.path.hasPrefix(prefix) ? (String(url.path.dropFirst(prefix.count)), 1) : (url.path, 0)
    }
}
