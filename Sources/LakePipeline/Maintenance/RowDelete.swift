import Foundation
import LakeCatalog
import LakeFormat

/// The rows one delete removes from one table at its base snapshot: per data file, the new
/// positions (rows live at the base, so none is deleted twice).
public struct TableDeletes: Sendable {
    public var table: TableInfo
    public var files: [(file: DataFile, positions: [Int64])] = []

    public init(table: TableInfo) { self.table = table }

    public var rows: Int { files.reduce(0) { $0 + $1.positions.count } }
}

/// What a delete did (or, for a dry run, would do).
public struct DeleteReport: Sendable {
    public struct Table: Sendable {
        public var table: String
        public var rows: Int
        public var files: Int
    }
    public var tables: [Table] = []
    public var snapshotID: Int64?
    public var dryRun = false
    /// Attempts that hit a concurrent change to the same files and were re-planned.
    public var retries = 0

    public var rows: Int { tables.reduce(0) { $0 + $1.rows } }
    public var files: Int { tables.reduce(0) { $0 + $1.files } }
}

public enum RowDeleteError: Error, CustomStringConvertible, Equatable {
    /// The target files kept changing under the delete (compactions, other deletes).
    case conflict(attempts: Int, detail: String)
    /// The files a purge rewrites kept changing under it. The deletes stay committed; the
    /// erasure stays pending, so a later purge (`lake vacuum`) still removes the bytes.
    case purgeConflict(attempts: Int, detail: String)

    public var description: String {
        switch self {
        case .conflict(let n, let detail):
            return "the delete's files changed under it \(n) times (\(detail)); nothing was deleted. "
                + "Run it again when the concurrent compaction or delete has finished"
        case .purgeConflict(let n, let detail):
            return "the purge's files changed under it \(n) times (\(detail)); the deleted rows stay deleted, but their bytes are still "
                + "in the lake's files. Run `lake vacuum --retain 0s` (or the erase with --purge) again when the concurrent compaction or delete has finished"
        }
    }
}

/// Writes DuckLake delete files for selected rows and commits them as one snapshot.
public enum RowDelete {
    /// How often a delete or purge plans and writes before it refuses (`RowDeleteError`).
    public static let attempts = 5

    /// The pause before attempt `attempt` (1, 2, …): 50 ms doubling, at most 800 ms, with up to
    /// half of it again at random, so two writers that collided do not collide again in step.
    static func backoff(attempt: Int) -> TimeInterval {
        let base = min(0.8, 0.05 * Double(1 << min(attempt - 1, 10)))
        return base * (1 + Double.random(in: 0 ..< 0.5))
    }

    /// Positions (in the whole data file, across row groups) of the live rows `match` selects.
    /// `match` gets a row group's live rows with `columns` and returns the offsets it deletes.
    public static func positions(in file: DataFile, columns: [ColumnInfo], files: LakeFiles, _ match: (RecordBatch) throws -> [Int]) throws -> [Int64] {
        let reader = try DataFileReader(file, columns: columns, files: files)
        var out: [Int64] = []
        for g in 0 ..< reader.reader.rowGroupCount {
            let start = reader.rowGroupStart(g)
            let rows = reader.reader.rowGroupRowCount(g)
            guard let batch = try reader.read(rowGroups: [g], parallelism: 1).first else { continue }
            // The batch holds the live rows only: map its offsets back to file positions.
            let survivors = reader.deletes?.survivors(start: start, count: rows)
            for k in try match(batch) { out.append(start + Int64(survivors?[k] ?? k)) }
        }
        return out
    }

    /// Plans with `plan` at the latest snapshot and commits the deletes in one snapshot, with
    /// `record` writing bookkeeping in the same transaction. A concurrent compaction or delete
    /// of the same files makes the commit throw `.conflict`; the delete then re-plans from the
    /// new snapshot (at most `attempts` times, pausing `backoff` between), so a delete is never lost nor applied over rows
    /// that moved. Nothing matched: no snapshot, `snapshotID` nil.
    public static func run(_ catalog: Catalog, message: String, dryRun: Bool,
                           plan: (SnapshotInfo) throws -> [TableDeletes],
                           record: ((inout CatalogTransaction, [TableDeletes]) throws -> Void)? = nil,
                           beforeCommit: (() throws -> Void)? = nil) throws -> DeleteReport {
        try catalog.requireWritable()
        var report = DeleteReport(dryRun: dryRun)
        var lastConflict = ""
        for attempt in 0 ..< attempts {
            if attempt > 0 { Thread.sleep(forTimeInterval: backoff(attempt: attempt)) }
            let base = try catalog.latestSnapshot()
            let deletes = try plan(base).filter { $0.rows > 0 }
            report.tables = deletes.map { .init(table: $0.table.qualifiedName, rows: $0.rows, files: $0.files.filter { !$0.positions.isEmpty }.count) }
            if dryRun || deletes.isEmpty { return report }
            // Registered before the first delete file exists: vacuum keeps them until the commit.
            let lease = try catalog.beginWrite(operation: "delete")
            var written: [URL] = []
            do {
                var planned: [(Int64, NewDeleteFile, URL)] = []
                // A data file with deletes already gets a file whose positions carry the
                // snapshot that deleted them, this one's among them: written under the write
                // lock, where that snapshot is known.
                var merges: [(table: TableInfo, file: DataFile, positions: [Int64])] = []
                for d in deletes {
                    for (file, positions) in d.files where !positions.isEmpty {
                        try Interruption.check()
                        if file.deleteFile != nil {
                            merges.append((d.table, file, positions))
                            continue
                        }
                        let (new, url) = try writeDeleteFile(for: file, adding: positions, table: d.table, files: catalog.files)
                        written.append(url)
                        planned.append((d.table.tableID, new, url))
                    }
                }
                try Interruption.check()
                try beforeCommit?()
                let (snap, _) = try catalog.commit(message: message) { tx in
                    try tx.requireFilesPresent(planned.map { ($0.2.path, $0.1.fileSizeBytes) })
                    for (tableID, new, _) in planned { try tx.addDeleteFile(tableID: tableID, new) }
                    for m in merges {
                        let (new, url) = try writeDeleteFile(for: m.file, adding: m.positions, table: m.table, files: catalog.files,
                                                             at: tx.snapshotID)
                        written.append(url)
                        try tx.requireFilesPresent([(url.path, new.fileSizeBytes)])
                        try tx.addDeleteFile(tableID: m.table.tableID, new)
                    }
                    try record?(&tx, deletes)
                    try tx.endWrite(lease)
                }
                report.snapshotID = snap.id
                report.retries = attempt
                return report
            } catch CatalogError.conflict(let table, let snapshot, let reason) {
                // Not committed: the delete files are debris; the next attempt writes new ones.
                catalog.files.discard(written.map(\.path))
                try lease.release()
                lastConflict = "\(table) at snapshot \(snapshot): \(reason)"
            } catch {
                // A delete file of a commit that may have landed stays: without it the rows come back.
                if !Catalog.commitMayHaveLanded(error) { catalog.files.discard(written.map(\.path)) }
                throw error
            }
        }
        throw RowDeleteError.conflict(attempts: attempts, detail: lastConflict)
    }

    /// Writes the data file's delete file at this delete, as (file_path, pos) with the field
    /// ids DuckDB gives them. Without a delete file yet: `positions`. With one: its positions
    /// plus `positions`, each labelled with the snapshot that deleted it
    /// (`_ducklake_internal_snapshot_id`, `snapshot` for the new ones), as DuckDB 1.5 writes a
    /// second delete. Inlined deletions stay where they are (the reader applies them together
    /// with the file).
    static func writeDeleteFile(for file: DataFile, adding positions: [Int64], table: TableInfo, files: LakeFiles,
                                at snapshot: Int64? = nil) throws -> (NewDeleteFile, URL) {
        var deleted: [Int64: Int64] = [:]  // position -> the snapshot that deleted it
        if let old = file.deleteFile {
            guard let snapshot else { preconditionFailure("a data file with deletes gets a labelled file, written at its snapshot") }
            let carried = try DeleteVector.labelled(old, dataFile: file, files: files)
            for (p, s) in zip(carried.positions, carried.snapshots) { deleted[p] = s }
            for p in positions where deleted[p] == nil { deleted[p] = snapshot }
        }
        let merged = file.deleteFile == nil ? Array(Set(positions)).sorted() : deleted.keys.sorted()
        let relative = "ducklake-\(UUID().uuidString.lowercased())-delete.parquet"
        let url = table.directory.appendingPathComponent(relative)
        var fields = [Field("file_path", .string, nullable: false, fieldID: 2_147_483_646),
                      Field("pos", .int64, nullable: false, fieldID: 2_147_483_645)]
        var path = StringColumn()
        path.append(file.path)
        var columns = [Column(.dictionary(indices: [Int32](repeating: 0, count: merged.count), values: path)), Column(.int64(merged))]
        if file.deleteFile != nil {
            // DuckDB 1.5's name and field id for the column.
            fields.append(Field("_ducklake_internal_snapshot_id", .int64, nullable: false, fieldID: 2_147_483_539))
            columns.append(Column(.int64(merged.map { deleted[$0]! })))
        }
        let schema = Schema(fields)
        let batch = RecordBatch(schema: schema, columns: columns)
        let summary: ParquetFileSummary
        do {
            var options = ParquetWriteOptions()
            options.metadata["lake.delete_for"] = file.storedPath
            // An error before close leaves no file (an unpublished storage object).
            let writer = try files.writer(url.path, schema: schema, options: options)
            try writer.write(batch)
            summary = try writer.close()
        }
        let new = NewDeleteFile(dataFileID: file.dataFileID, relativePath: relative, deleteCount: Int64(merged.count),
                                fileSizeBytes: summary.fileSize, footerSize: summary.footerSize, basedOn: file.deleteMark,
                                labelled: file.deleteFile != nil)
        return (new, url)
    }
}
