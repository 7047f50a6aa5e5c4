import Foundation
import LakeFormat

// DuckLake row-level deletes, read side.
//
// A DELETE (or the delete half of an UPDATE) in DuckDB's ducklake extension does not touch data
// files: per data file it writes a Parquet *delete file* of (`file_path`, `pos`), `pos` being the
// 0-based position of a deleted row in the whole data file (counted across row groups), strictly
// ascending, and registers it in `ducklake_delete_file` with its own [begin, end) snapshots and
// the data file's id. A later delete on the same data file writes a new file holding the old
// positions plus the new ones: DuckDB 1.4 ended the old file at its snapshot; DuckDB 1.5 (and
// lake since session 33) label each position with the snapshot that deleted it
// (`_ducklake_internal_snapshot_id`: it counts only at snapshots at or after it) and put the new
// file in the old one's place, from its begin_snapshot. Either way at any snapshot at most one
// delete file per data file is visible, and it alone says which rows are gone. DuckLake 1.0 also keeps small deletes
// (up to data_inlining_row_limit rows, 10 by default) in the catalog table
// ducklake_inlined_delete_<table_id> (file_id, row_id = the position, begin_snapshot); they
// apply from their snapshot on, together with the delete file.
//
// `DataFileReader` is the one place that applies a DeleteVector; everything that reads table
// rows (scans, reports, quality, compaction, migration, the ingest's dedupe set) goes through it.

/// The rows of one data file that its delete file removes, as seen at one snapshot.
public struct DeleteVector: Sendable, Equatable {
    /// Deleted row positions in the data file, strictly ascending.
    public let positions: [Int64]

    public init(positions: [Int64]) {
        precondition(zip(positions, positions.dropFirst()).allSatisfy { $0 < $1 }, "positions must be strictly ascending")
        self.positions = positions
    }

    public var count: Int { positions.count }

    /// The catalog table holding a table's inlined file deletions (DuckLake 1.0). Built from the
    /// integer id only, so it is safe to put in SQL text (SQLite cannot bind a table name).
    public static func inlinedTable(tableID: Int64) -> String { "ducklake_inlined_delete_\(tableID)" }

    /// Everything `file` has deleted at the listing's snapshot: its delete file's positions and
    /// its inlined deletions, merged; nil when it has neither.
    public static func load(for file: DataFile, files: LakeFiles) throws -> DeleteVector? {
        guard file.hasDeletes else { return nil }
        let fromFile = try file.deleteFile.map { try load($0, dataFile: file, files: files).positions } ?? []
        if file.inlinedDeletes.isEmpty { return DeleteVector(positions: fromFile) }
        let inlined = file.inlinedDeletes
        if let bad = inlined.first(where: { $0 < 0 || $0 >= file.recordCount }) {
            throw DeleteFileError.invalid(path: inlinedTable(tableID: file.tableID),
                                          reason: "position \(bad) is outside data file \(file.path) of \(file.recordCount) rows")
        }
        return DeleteVector(positions: fromFile).union(inlined)
    }

    /// These positions and `other` (ascending) as one vector; a position in both counts once.
    public func union(_ other: [Int64]) -> DeleteVector {
        var merged: [Int64] = []
        merged.reserveCapacity(positions.count + other.count)
        var i = 0, j = 0
        while i < positions.count || j < other.count {
            let next: Int64
            if j == other.count || (i < positions.count && positions[i] <= other[j]) {
                next = positions[i]; i += 1
            } else {
                next = other[j]; j += 1
            }
            if merged.last != next { merged.append(next) }
        }
        return DeleteVector(positions: merged)
    }

    /// DuckDB's field id for a merged data file's per-row snapshot column.
    public static let snapshotFieldID: Int32 = 2_147_483_539

    /// Positions, ascending, of the rows of `file` (a merged file listed before its last insert,
    /// `visibleThrough`) inserted after the listing's snapshot, by its per-row
    /// `_ducklake_internal_snapshot_id`. Not deletions: rows that did not exist yet, so
    /// `DataFileReader.readDeleted` never returns them. Empty when `visibleThrough` is nil.
    public static func hidden(in file: DataFile, reader: ParquetFileReader) throws -> [Int64] {
        guard let through = file.visibleThrough else { return [] }
        let fields = reader.schema.fields
        guard let column = fields.firstIndex(where: { $0.fieldID == snapshotFieldID })
                ?? fields.firstIndex(where: { $0.name == "_ducklake_internal_snapshot_id" }), fields[column].type == .int64 else {
            throw DataFileError.unreadableColumn(column: "_ducklake_internal_snapshot_id", detail: """
                \(file.path) is recorded as merged from several snapshots (partial_max) but has no int64 _ducklake_internal_snapshot_id \
                column saying which row came from which, so it cannot be read at snapshot \(through); read it at a later snapshot
                """)
        }
        var out: [Int64] = [], start: Int64 = 0
        for batch in try reader.readRowGroups(columns: [column], parallelism: 1) {
            let c = batch.columns[0]
            guard case .int64(let v) = c.data, c.validity == nil || c.nullCount == 0 else {
                throw DataFileError.unreadableColumn(column: "_ducklake_internal_snapshot_id", detail: "\(file.path) holds NULLs in it")
            }
            for (k, s) in v.enumerated() where s > through { out.append(start + Int64(k)) }
            start += Int64(v.count)
        }
        return out
    }

    /// Reads `file`, the delete file of `dataFile`, keeping the positions deleted at or before the
    /// snapshot the listing was made at. Refuses what DuckDB refuses too (unsorted or repeated
    /// positions, NULLs), positions beyond the data file, and a count that disagrees with the catalog.
    public static func load(_ file: DeleteFile, dataFile: DataFile, files: LakeFiles) throws -> DeleteVector {
        var positions: [Int64] = [], all = 0
        positions.reserveCapacity(Int(max(0, file.deleteCount)))
        let perPosition = try forEachPosition(file, dataFile: dataFile, files: files) { p, s in
            all += 1
            if s <= file.snapshot { positions.append(p) }
        }
        // A plain file must hold exactly the catalog's count, else the catalog and file
        // disagree; a per-position one may hold positions later than the snapshot read.
        if !perPosition, Int64(all) != file.deleteCount {
            throw DeleteFileError.invalid(path: file.url.path, reason: "it holds \(all) positions, the catalog's delete_count says \(file.deleteCount)")
        }
        return DeleteVector(positions: positions)
    }

    /// Every position of `file`, the delete file of `dataFile`, with the snapshot that deleted
    /// it: its `_ducklake_internal_snapshot_id`, or the file's begin_snapshot for a plain file
    /// (`perPosition` false). What a later delete of the data file carries over.
    public static func labelled(_ file: DeleteFile, dataFile: DataFile, files: LakeFiles) throws -> (positions: [Int64], snapshots: [Int64], perPosition: Bool) {
        var positions: [Int64] = [], labels: [Int64] = []
        let perPosition = try forEachPosition(file, dataFile: dataFile, files: files) { p, s in
            positions.append(p)
            labels.append(s)
        }
        return (positions, labels, perPosition)
    }

    /// Reads `file`'s positions in order, each with the snapshot that deleted it; true when the
    /// file labels each one (`_ducklake_internal_snapshot_id`).
    private static func forEachPosition(_ file: DeleteFile, dataFile: DataFile, files: LakeFiles,
                                        _ body: (_ position: Int64, _ snapshot: Int64) -> Void) throws -> Bool {
        let path = file.url.path
        guard file.format.lowercased() == "parquet" else {
            throw DeleteFileError.unsupportedFormat(path: path, format: file.format)
        }
        if file.encrypted { throw DataFileError.encrypted(path: path) }
        let reader = try files.reader(path)
        let fields = reader.schema.fields
        // By name, as DuckDB and Iceberg name them; the field id is Iceberg's reserved one for `pos`.
        guard let pos = fields.firstIndex(where: { $0.name == "pos" }) ?? fields.firstIndex(where: { $0.fieldID == 2_147_483_645 }),
              fields[pos].type == .int64 else {
            throw DeleteFileError.invalid(path: path, reason: "it has no int64 column pos")
        }
        let snap = fields.firstIndex { $0.name == "_ducklake_internal_snapshot_id" && $0.type == .int64 }
        var previous = Int64.min
        for batch in try reader.readRowGroups(columns: [pos] + (snap.map { [$0] } ?? []), parallelism: 1) {
            guard case .int64(let p) = batch.columns[0].data else { throw DeleteFileError.invalid(path: path, reason: "pos is not int64") }
            var snapshots: [Int64]?
            if snap != nil {
                guard case .int64(let s) = batch.columns[1].data, batch.columns[1].validity == nil || batch.columns[1].nullCount == 0 else {
                    throw DeleteFileError.invalid(path: path, reason: "_ducklake_internal_snapshot_id has NULLs")
                }
                snapshots = s
            }
            if batch.columns[0].validity != nil && batch.columns[0].nullCount > 0 {
                throw DeleteFileError.invalid(path: path, reason: "pos has NULLs")
            }
            for (i, v) in p.enumerated() {
                guard v > previous else {
                    throw DeleteFileError.invalid(path: path, reason: "positions must be strictly ascending, found \(v) after \(previous)")
                }
                guard v >= 0, v < dataFile.recordCount else {
                    throw DeleteFileError.invalid(path: path, reason: "position \(v) is outside data file \(dataFile.path) of \(dataFile.recordCount) rows")
                }
                previous = v
                body(v, snapshots?[i] ?? file.beginSnapshot)
            }
        }
        return snap != nil
    }

    /// First index in `positions` whose value is at least `row`.
    private func lowerBound(_ row: Int64) -> Int {
        var lo = 0, hi = positions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if positions[mid] < row { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Deleted rows among the `count` rows starting at file position `start`.
    public func deleted(start: Int64, count: Int) -> Int {
        lowerBound(start + Int64(count)) - lowerBound(start)
    }

    /// The surviving rows among the `count` rows starting at file position `start`, as offsets
    /// from `start` (a row selection for that row group's batch); nil when none is deleted.
    public func survivors(start: Int64, count: Int) -> [Int]? {
        let lo = lowerBound(start), hi = lowerBound(start + Int64(count))
        if lo == hi { return nil }
        var rows: [Int] = []
        rows.reserveCapacity(count - (hi - lo))
        var next = 0
        for k in lo ..< hi {
            let gone = Int(positions[k] - start)
            rows.append(contentsOf: next ..< gone)
            next = gone + 1
        }
        rows.append(contentsOf: next ..< count)
        return rows
    }

    /// The deleted rows among the `count` rows starting at file position `start`, as offsets
    /// from `start`, in order.
    public func removed(start: Int64, count: Int) -> [Int] {
        (lowerBound(start) ..< lowerBound(start + Int64(count))).map { Int(positions[$0] - start) }
    }

    /// `batch` (the rows of the row group starting at file position `start`) without its deleted rows.
    public func apply(to batch: RecordBatch, start: Int64) -> RecordBatch {
        guard let rows = survivors(start: start, count: batch.count) else { return batch }
        return batch.gather(rows)
    }
}

public enum DeleteFileError: Error, CustomStringConvertible, Equatable {
    case unsupportedFormat(path: String, format: String)
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case .unsupportedFormat(let path, let format):
            return "delete file \(path) has format \(format); lake reads Parquet delete files only (DuckLake 1.0). "
                + "Rewrite the table's deletes in DuckDB with ducklake_rewrite_data_files, or attach without WRITE_DELETION_VECTORS"
        case .invalid(let path, let reason):
            return "delete file \(path) cannot be applied: \(reason). Restore it from a backup, or rewrite the data file "
                + "in DuckDB (CALL ducklake_rewrite_data_files) so no reader depends on it"
        }
    }
}

extension CatalogTransaction {
    /// The deletes each live data file of the table has now (its delete file, its inlined
    /// deletions). A rewrite that read a file's deletes at its base checks them here, under the
    /// write lock: a delete committed meanwhile would otherwise be lost when the rewrite
    /// replaces the file.
    public func currentDeleteMarks(tableID: Int64) throws -> [Int64: DeleteMark] {
        var out: [Int64: DeleteMark] = [:]
        for r in try SQLRow.fetchAll(database, sql: """
            SELECT data_file_id, delete_file_id FROM ducklake_delete_file WHERE table_id = ? AND end_snapshot IS NULL
            """, arguments: [tableID]) {
            out[try r.value("data_file_id"), default: .none].deleteFileID = try r.value("delete_file_id")
        }
        let inlined = DeleteVector.inlinedTable(tableID: tableID)
        if try database.tableExists(inlined) {
            // A table name cannot be bound; this one is built from an integer id, never from text.
            for r in try SQLRow.fetchAll(database, sql: """
                SELECT file_id, count(*) AS n FROM \(inlined) GROUP BY file_id
                """) {
                out[try r.value("file_id"), default: .none].inlined = try r.value("n")
            }
        }
        return out
    }
}
