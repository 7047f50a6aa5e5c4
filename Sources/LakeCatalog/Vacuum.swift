import Foundation
import GRDB

/// What a vacuum removed (or, for a dry run, would remove).
public struct VacuumReport: Hashable, Sendable {
    public enum Reason: String, Hashable, Sendable {
        /// Recorded in the catalog but readable by no retained snapshot.
        case unreferenced
        /// A Parquet file under a layer directory that no catalog row mentions.
        case orphan
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
    /// Files whose snapshots expired but that vacuum keeps: the files that replaced them
    /// (compaction, rewrite) fail verification, so they may be the last good copy.
    public var keptUnverified: [URL] = []

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
    public func expireSnapshots(olderThan cutoff: Date, dryRun: Bool = false) throws -> VacuumReport {
        var report = VacuumReport(dryRun: dryRun)
        let cutoffMicros = Timestamps.micros(cutoff)
        let verified = try verifiedReplacements(cutoffMicros: cutoffMicros)
        try Self.withRetry {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    report = VacuumReport(dryRun: dryRun)
                    try expire(db, cutoffMicros: cutoffMicros, verified: verified, report: &report)
                    return dryRun ? .rollback : .commit
                }
            }
        }
        if dryRun { return report }
        // Physically delete everything scheduled, including leftovers of interrupted runs.
        let scheduled: [(Int64?, String, URL)] = try read { db in
            try Row.fetchAll(db, sql: "SELECT rowid, data_file_id, path, path_is_relative FROM ducklake_files_scheduled_for_deletion").map { r in
                let path: String = try r.value("path") ?? ""
                let rel: Int64? = try r.value("path_is_relative")
                let url = rel == 0 ? URL(fileURLWithPath: path) : dataPath.appendingPathComponent(path)
                return ((try r.value("rowid")), path, url.standardizedFileURL)
            }
        }
        var done: [Int64] = []
        let fm = FileManager.default
        for (rowid, _, url) in scheduled {
            do {
                if fm.fileExists(atPath: url.path) { try fm.removeItem(at: url) }
                if let rowid { done.append(rowid) }
            } catch {
                report.failedDeletes.append(url)
            }
        }
        if !done.isEmpty {
            try Self.withRetry {
                try pool.write { db in
                    for id in done {
                        try db.execute(sql: "DELETE FROM ducklake_files_scheduled_for_deletion WHERE rowid = ?", arguments: [id])
                    }
                }
            }
        }
        return report
    }

    private func expire(_ db: Database, cutoffMicros: Int64, verified: Set<Replacement>, report: inout VacuumReport) throws {
        let snaps = try Self.fetchSnapshots(db)
        guard let latest = snaps.last else { return }
        let expired = snaps.filter { $0.timeMicros < cutoffMicros && $0.id != latest.id }.map(\.id)
        report.expiredSnapshots = expired
        for id in expired {
            try db.execute(sql: "DELETE FROM ducklake_snapshot WHERE snapshot_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM ducklake_snapshot_changes WHERE snapshot_id = ?", arguments: [id])
        }
        // An ended row matters while some retained snapshot falls in [begin, end).
        let unseen = """
            end_snapshot IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ducklake_snapshot r
                WHERE r.snapshot_id >= begin_snapshot AND r.snapshot_id < end_snapshot)
            """
        let dead = try Row.fetchAll(db, sql: "SELECT data_file_id, table_id, path, path_is_relative, file_size_bytes, end_snapshot FROM ducklake_data_file WHERE \(unseen)")
        let dirs = try tableDirectories(db)
        let now = Timestamps.timestampText(micros: Timestamps.micros(Date()))
        for r in dead {
            let id: Int64 = try r.value("data_file_id")
            let tableID: Int64 = try r.value("table_id")
            let url = Self.fileURL(path: try r.value("path") ?? "", isRelative: try r.value("path_is_relative"), tableDir: dirs[tableID] ?? dataPath)
            if try Self.mustKeepReplaced(db, tableID: tableID, end: try r.value("end_snapshot"), verified: verified) {
                report.keptUnverified.append(url)
                continue
            }
            report.files.append(.init(url: url, bytes: try r.value("file_size_bytes") ?? 0, reason: .unreferenced))
            let (stored, rel) = storedPath(url)
            try db.execute(sql: "INSERT INTO ducklake_files_scheduled_for_deletion VALUES (?, ?, ?, ?)", arguments: [id, stored, rel, now])
            for table in ["ducklake_data_file", "ducklake_file_column_stats", "ducklake_file_partition_value"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE data_file_id = ?", arguments: [id])
            }
        }
        // Delete files (DuckDB's DELETE) go with their data file or once no retained snapshot sees them.
        let deadDeletes = try Row.fetchAll(db, sql: """
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
        // Catalog rows (old column versions, dropped tables and schemas) no retained snapshot sees.
        try db.execute(sql: "DELETE FROM ducklake_column WHERE \(unseen)")
        try db.execute(sql: """
            DELETE FROM ducklake_partition_column WHERE partition_id IN
                (SELECT partition_id FROM ducklake_partition_info WHERE \(unseen))
            """)
        try db.execute(sql: "DELETE FROM ducklake_partition_info WHERE \(unseen)")
        try db.execute(sql: "DELETE FROM ducklake_table WHERE \(unseen)")
        try db.execute(sql: "DELETE FROM ducklake_schema WHERE \(unseen)")
        for table in ["ducklake_table_stats", "ducklake_table_column_stats"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE table_id NOT IN (SELECT table_id FROM ducklake_table)")
        }
    }

    /// Deletes `*.parquet` files under the given layer directories of the data path that the
    /// catalog has no record of (not a data file, delete file or scheduled deletion) and that
    /// were last modified before `olderThan`. The age guard keeps files a writer has written but
    /// not yet committed.
    public func removeOrphanFiles(olderThan cutoff: Date, layers: [String] = ["raw", "curated"],
                                  dryRun: Bool = false) throws -> VacuumReport {
        var report = VacuumReport(dryRun: dryRun)
        let known: Set<String> = try read { db in
            var paths = Set<String>()
            let dirs = try tableDirectories(db)
            for r in try Row.fetchAll(db, sql: "SELECT table_id, path, path_is_relative FROM ducklake_data_file UNION ALL SELECT table_id, path, path_is_relative FROM ducklake_delete_file") {
                let tid: Int64 = try r.value("table_id") ?? -1
                paths.insert(Self.fileURL(path: try r.value("path") ?? "", isRelative: try r.value("path_is_relative"), tableDir: dirs[tid] ?? dataPath).path)
            }
            for r in try Row.fetchAll(db, sql: "SELECT path, path_is_relative FROM ducklake_files_scheduled_for_deletion") {
                let path: String = try r.value("path") ?? ""
                let rel: Int64? = try r.value("path_is_relative")
                paths.insert((rel == 0 ? URL(fileURLWithPath: path) : dataPath.appendingPathComponent(path)).standardizedFileURL.path)
            }
            return paths
        }
        let fm = FileManager.default
        for layer in layers {
            let dir = dataPath.appendingPathComponent(layer, isDirectory: true)
            guard let walker = fm.enumerator(at: dir, includingPropertiesForKeys: [.isRegularFileKey, .contentModificationDateKey, .fileSizeKey]) else { continue }
            for case let url as URL in walker where url.pathExtension == "parquet" {
                let values = try? url.resourceValues(forKeys: [.isRegularFileKey, .contentModificationDateKey, .fileSizeKey])
                guard values?.isRegularFile == true, let modified = values?.contentModificationDate, modified < cutoff else { continue }
                let std = url.standardizedFileURL
                guard !known.contains(std.path) else { continue }
                report.files.append(.init(url: std, bytes: Int64(values?.fileSize ?? 0), reason: .orphan))
                if !dryRun {
                    do { try fm.removeItem(at: std) } catch { report.failedDeletes.append(std) }
                }
            }
        }
        return report
    }

    /// Expires snapshots and removes orphans with one retention: the whole `lake vacuum`.
    public func vacuum(retain: TimeInterval, now: Date = Date(), dryRun: Bool = false) throws -> VacuumReport {
        let cutoff = now.addingTimeInterval(-retain)
        var report = try expireSnapshots(olderThan: cutoff, dryRun: dryRun)
        let orphans = try removeOrphanFiles(olderThan: cutoff, dryRun: dryRun)
        report.files += orphans.files
        report.failedDeletes += orphans.failedDeletes
        return report
    }

    /// Every table row's directory, live or ended, for resolving any recorded path.
    func tableDirectories(_ db: Database) throws -> [Int64: URL] {
        var out: [Int64: URL] = [:]
        for r in try Row.fetchAll(db, sql: """
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
    private func storedPath(_ url: URL) -> (String, Int64) {
        let base = dataPath.standardizedFileURL.path
        let prefix = base.hasSuffix("/") ? base : base + "/"
        return url.path.hasPrefix(prefix) ? (String(url.path.dropFirst(prefix.count)), 1) : (url.path, 0)
    }
}
