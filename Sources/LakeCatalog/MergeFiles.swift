import Foundation
import LakeFormat

// Merging a partition's files without changing its history, as DuckDB 1.5's
// ducklake_merge_adjacent_files does (DuckLake 1.0).
//
// A compaction that ended its inputs and began its outputs at its own snapshot told every
// reader of DuckLake's change feed that each row was deleted and inserted again: DuckDB's
// ducklake_table_changes lists the rows of a file ended in the range as deletes (a whole-file
// delete) and the rows of a file begun in it as inserts, with new row ids. A merged file instead
// carries each row's DuckLake row id and the snapshot that inserted it
// (`_ducklake_internal_row_id`, `_ducklake_internal_snapshot_id`, DuckDB's field ids), begins at
// the earliest input's snapshot, records the last one as partial_max (a reader at an earlier
// snapshot filters the rows by their snapshot: `DataFile.visibleThrough`), and takes the inputs'
// place in the catalog: their rows are deleted, not ended, and their files scheduled for
// deletion. Every snapshot reads what it read before, and the change feed sees no change.

/// DuckDB's field ids for the lineage columns a merged file carries.
public enum LineageField {
    public static let rowID: Int32 = 2_147_483_540
    public static let snapshot: Int32 = DeleteVector.snapshotFieldID

    public static let rowIDName = "_ducklake_internal_row_id"
    public static let snapshotName = "_ducklake_internal_snapshot_id"

    /// The two columns, in the order DuckDB writes them, after the table's.
    public static var fields: [Field] { [rowIDField, Field(snapshotName, .int64, nullable: false, fieldID: snapshot)] }

    /// The row id column alone, as a rewrite writes it (its rows begin at the rewrite's snapshot).
    public static var rowIDField: Field { Field(rowIDName, .int64, nullable: false, fieldID: rowID) }
}

/// Each row's DuckLake row id and inserting snapshot, in file order.
public struct RowLineage: Sendable, Equatable {
    /// What a rewrite's new files keep of their rows' lineage.
    public enum Kept: Sendable {
        /// Nothing: the rows take new row ids at the rewrite's snapshot (a DuckLake 0.3 lake).
        case none
        /// Row ids (`_ducklake_internal_row_id`); the rows begin at the rewrite's snapshot, as
        /// DuckDB's ducklake_rewrite_data_files writes them: a file with deletes rewritten without
        /// them (compaction, purge, migrate --rewrite). The change feed reads the rewrite as an
        /// update of each row to itself, under the same row id, not a delete and a new insert.
        case rowIDs
        /// Row ids and inserting snapshots: a merge of files without deletes that changes no
        /// snapshot's rows (`mergeDataFiles`).
        case history

        /// The columns a new file carries after the table's.
        public var fields: [Field] {
            switch self {
            case .none: return []
            case .rowIDs: return [LineageField.rowIDField]
            case .history: return LineageField.fields
            }
        }
    }

    /// The lineage of each input (`read`), or nil when one of them has no row ids to keep
    /// (then none are kept: a file's rows either all keep theirs or all take new ones).
    public static func readAll(_ inputs: [DataFile], _ kept: Kept, read: (DataFile) throws -> RowLineage?) rethrows -> [RowLineage]? {
        if kept == .none { return nil }
        var all: [RowLineage] = []
        for file in inputs {
            guard let l = try read(file) else { return nil }
            all.append(l)
        }
        return all
    }

    /// The lineage columns `kept` writes for `rows` of the file.
    public func columns(_ rows: Range<Int>, _ kept: Kept) -> [Column] {
        switch kept {
        case .none: return []
        case .rowIDs: return [Column(.int64(Array(rowIDs[rows])))]
        case .history: return [Column(.int64(Array(rowIDs[rows]))), Column(.int64(Array(snapshots[rows])))]
        }
    }

    public var rowIDs: [Int64]
    public var snapshots: [Int64]

    public init(rowIDs: [Int64], snapshots: [Int64]) {
        self.rowIDs = rowIDs
        self.snapshots = snapshots
    }

    /// The lineage of the rows of `file` a reader at its listing's snapshot sees (those
    /// `DataFileReader.read` returns, in the same order): from its lineage columns when it has
    /// them (a merged or rewritten file), else its row_id_start and begin_snapshot. nil when
    /// neither gives row ids (a file registered without row_id_start and without the column):
    /// its rows cannot keep them.
    public static func read(_ file: DataFile, files: LakeFiles) throws -> RowLineage? {
        let live = try DataFileReader(file, columns: [], files: files)
        guard var lineage = try read(file, reader: live.reader) else { return nil }
        if let kept = live.deletes?.survivors(start: 0, count: lineage.rowIDs.count) {
            lineage = RowLineage(rowIDs: kept.map { lineage.rowIDs[$0] }, snapshots: kept.map { lineage.snapshots[$0] })
        }
        return lineage
    }

    /// Every row's lineage, deleted or not.
    private static func read(_ file: DataFile, reader: ParquetFileReader) throws -> RowLineage? {
        let fields = reader.schema.fields
        func index(_ id: Int32, _ name: String) -> Int? {
            (fields.firstIndex { $0.fieldID == id } ?? fields.firstIndex { $0.name == name }).flatMap { fields[$0].type == .int64 ? $0 : nil }
        }
        let rowColumn = index(LineageField.rowID, LineageField.rowIDName)
        let snapColumn = index(LineageField.snapshot, LineageField.snapshotName)
        if rowColumn == nil && file.rowIDStart == nil { return nil }
        let rows = Int(reader.rowCount)
        var lineage = RowLineage(rowIDs: file.rowIDStart.map { start in (0 ..< Int64(rows)).map { start + $0 } } ?? [],
                                 snapshots: snapColumn == nil ? Array(repeating: file.beginSnapshot, count: rows) : [])
        let wanted = [rowColumn, snapColumn].compactMap { $0 }
        if wanted.isEmpty { return lineage }
        if rowColumn != nil { lineage.rowIDs = [] }
        for batch in try reader.readRowGroups(columns: wanted, parallelism: 1) {
            for (k, column) in wanted.enumerated() {
                guard case .int64(let v) = batch.columns[k].data, batch.columns[k].validity == nil || batch.columns[k].nullCount == 0 else {
                    throw DataFileError.unreadableColumn(column: fields[column].name, detail: "\(file.path) holds NULLs in it")
                }
                if column == rowColumn { lineage.rowIDs += v } else { lineage.snapshots += v }
            }
        }
        guard lineage.rowIDs.count == rows, lineage.snapshots.count == rows else {
            throw DataFileError.unreadableColumn(column: LineageField.rowIDName, detail: "\(file.path) holds \(rows) rows but lineage for a different number")
        }
        return lineage
    }
}

extension CatalogTransaction {
    /// Puts `outputs`, the rows of the live files `inputs` merged with their lineage columns,
    /// in the inputs' place: begun at `beginSnapshot` (the earliest input's), partial_max
    /// `lastSnapshot` (the latest inserting snapshot of a row), no row_id_start (the rows keep
    /// theirs). The inputs' catalog rows are deleted and their files scheduled for deletion.
    /// An input another commit already removed is a `.conflict`, as for `removeDataFiles`.
    /// Table stats keep their row count and next_row_id: no row was added or removed.
    public mutating func mergeDataFiles(tableID: Int64, replacing inputs: [Int64], with outputs: [NewDataFile],
                                        beginSnapshot: Int64, lastSnapshot: Int64) throws {
        let t = try table(tableID)
        try Self.checkNewFiles(outputs, of: t)
        let now = Timestamps.timestampText(micros: Timestamps.micros(Date()))
        var removedBytes: Int64 = 0, removedRows: Int64 = 0
        var foreignLatest: Int64?
        let integrity = try FileIntegrity.exists(database)
        // A statement per 500 inputs, not per input: a compaction of many small batches merges
        // thousands of files, and on PostgreSQL each statement under the write lock is a round trip.
        for start in stride(from: 0, to: inputs.count, by: 500) {
            let ids = Array(inputs[start ..< min(inputs.count, start + 500)])
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            let idArguments = ids.map(SQLValue.int64)
            let live = try SQLRow.fetchAll(database, sql: """
                SELECT data_file_id, table_id, record_count, file_size_bytes, path, path_is_relative, begin_snapshot FROM ducklake_data_file
                WHERE data_file_id IN (\(placeholders)) AND \(visibleAt)
                """, arguments: SQLArguments(idArguments + [.int64(snapshotID), .int64(snapshotID)]))
            var found = Set<Int64>()
            for r in live where (try r.value("table_id") as Int64) == tableID { found.insert(try r.value("data_file_id")) }
            if let gone = ids.first(where: { !found.contains($0) }) {
                throw CatalogError.conflict(table: t.qualifiedName, snapshot: previous.id, reason: "data file \(gone) was already removed or replaced")
            }
            let ours = integrity ? Set(try Int64.fetchAll(database, sql: "SELECT data_file_id FROM lake_file_integrity WHERE data_file_id IN (\(placeholders))",
                                                           arguments: SQLArguments(idArguments))) : []
            var scheduled: [SQLArguments] = []
            for r in live {
                let id: Int64 = try r.value("data_file_id")
                removedRows += try r.value("record_count") ?? 0
                removedBytes += try r.value("file_size_bytes") ?? 0
                if integrity, !ours.contains(id) { foreignLatest = max(foreignLatest ?? .min, try r.value("begin_snapshot") ?? 0) }
                let stored: String = try r.value("path") ?? ""
                let relative: Int64? = try r.value("path_is_relative")
                let url = relative == 0 ? URL(fileURLWithPath: stored) : t.directory.appendingPathComponent(stored)
                let path = Catalog.scheduledPath(url.standardizedFileURL, dataPath: dataPath)
                scheduled.append([id, path.path, path.isRelative, now])
            }
            try database.insertRows(into: "ducklake_files_scheduled_for_deletion", row: "(?, ?, ?, ?)", scheduled)
            for table in ["ducklake_data_file", "ducklake_file_column_stats", "ducklake_file_partition_value"] {
                try database.execute(sql: "DELETE FROM \(table) WHERE data_file_id IN (\(placeholders))", arguments: SQLArguments(idArguments))
            }
        }
        let outputRows = outputs.reduce(Int64(0)) { $0 + $1.recordCount }
        guard outputRows == removedRows else {
            throw CatalogError.invalidDataFilePath(path: outputs.first?.relativePath ?? "",
                                                   reason: "a merge must keep every row: its files hold \(outputRows), the files it replaces \(removedRows)")
        }
        try database.execute(sql: """
            UPDATE ducklake_table_stats SET file_size_bytes = \(database.greatest)(0, file_size_bytes - ? + ?) WHERE table_id = ?
            """, arguments: [removedBytes, outputs.reduce(Int64(0)) { $0 + $1.fileSizeBytes }, tableID])
        let first = nextFileID
        nextFileID += Int64(outputs.count)
        var fileRows: [SQLArguments] = [], partitionRows: [SQLArguments] = [], statRows: [SQLArguments] = []
        for (i, file) in outputs.enumerated() {
            let fileID = first + Int64(i)
            fileRows.append([fileID, tableID, beginSnapshot, file.relativePath, file.recordCount, file.fileSizeBytes,
                             file.footerSize, t.partitionID, lastSnapshot])
            for (k, c) in t.partitionColumns.enumerated() { partitionRows.append([fileID, tableID, k, file.partitionValues[c.name]]) }
            for c in t.columns {
                guard let st = file.columnStats[c.columnID] else { continue }
                statRows.append(Self.statRow(fileID: fileID, tableID: tableID, column: c, stats: st, recordCount: file.recordCount))
            }
        }
        try database.insertRows(into: """
            ducklake_data_file (data_file_id, table_id, begin_snapshot, end_snapshot, file_order, path,
                path_is_relative, file_format, record_count, file_size_bytes, footer_size, row_id_start, partition_id,
                encryption_key, mapping_id, partial_max)
            """, row: "(?, ?, ?, NULL, NULL, ?, TRUE, 'parquet', ?, ?, ?, NULL, ?, NULL, NULL, ?)", fileRows)
        try FileIntegrity.record(database, [(first, tableID, outputs)])
        try database.insertRows(into: "ducklake_file_partition_value", row: "(?, ?, ?, ?)", partitionRows)
        try database.insertRows(into: "ducklake_file_column_stats", row: "(?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)", statRows)
        if let foreignLatest { try forgetDerivedFigures(removedForeignFiles: [(tableID, foreignLatest)]) }
        // Recorded as DuckDB records its merge (see `changes`).
        if !insertedTables.contains(tableID) { insertedTables.append(tableID) }
        if !deletedTables.contains(tableID) { deletedTables.append(tableID) }
        for _ in outputs { hooks(.dataFileAdded) }
    }
}
