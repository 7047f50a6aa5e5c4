import Foundation
import LakeFormat

/// A data file read under its table's schema as of a snapshot. Columns are matched by Parquet
/// field id (the DuckLake column_id), so a renamed column still resolves; values an older file
/// stored in a narrower type are widened; a column the file predates reads as its initial
/// default, else null. Scans, compaction and migration all read files through this one path.
///
/// Opening verifies the file against the catalog (FileIntegrity.swift): the committed size, the
/// committed footer checksum when recorded, and that it holds every column that existed when it
/// was committed; each page read checks its CRC. A file that fails is an error naming it, never
/// data: a flipped field id must not read as a column of nulls.
public struct DataFileReader {
    public let reader: ParquetFileReader
    public let columns: [ColumnInfo]
    private let fileIndex: [Int?]
    /// For each of `columns` the file holds but cannot be decoded (a nested or UUID column
    /// DuckDB added), why; such a column is an error when read, never nulls.
    private let opaque: [OpaqueColumn?]
    /// The rows a reader at the listing's snapshot does not see: those the file's DuckLake
    /// deletes remove and, in a merged file read before its last insert, the later inserts
    /// (`DataFile.visibleThrough`); nil when it sees every row.
    public let deletes: DeleteVector?
    /// Only the deleted rows: what `readDeleted` returns (a row not inserted yet was not deleted).
    private let deleted: DeleteVector?
    /// Columns the file does not store whose value is its hive partition value (see `NameMapping`),
    /// as a column with that value for its default.
    private let fromPartition: [Int: ColumnInfo]

    public init(_ file: DataFile, columns: [ColumnInfo], files: LakeFiles) throws {
        reader = try Self.open(file, files: files)
        self.columns = columns
        let fields = reader.schema.fields
        // Files written without field ids (by other tools) are matched through the name mapping
        // DuckDB recorded when it registered them, whose names stay the file's when a column is
        // renamed later; without one, by the column's current name.
        let byName = fields.allSatisfy { $0.fieldID == nil }
        let mapping = file.nameMapping
        func holds(_ name: String, _ c: ColumnInfo) -> Bool {
            guard byName else { return false }
            if let mapping { return mapping.fieldIDs[name] == c.columnID }
            return name == c.name
        }
        fileIndex = columns.map { c in
            if let i = fields.firstIndex(where: { $0.fieldID.map(Int64.init) == c.columnID }) { return i }
            return fields.firstIndex { holds($0.name, c) }
        }
        let opaqueFields = reader.opaqueColumns
        opaque = columns.map { c in
            opaqueFields.first { $0.fieldID.map(Int64.init) == c.columnID } ?? opaqueFields.first { holds($0.name, c) }
        }
        // A hive-partitioned file DuckDB registered may not store its partition columns: their
        // value is the file's partition value, on every row.
        var fromPartition: [Int: ColumnInfo] = [:]
        for (k, c) in columns.enumerated() where fileIndex[k] == nil && opaque[k] == nil && mapping?.fromPartition.contains(c.columnID) == true {
            guard let value = file.partitionValues[c.name] else {
                throw DataFileError.unreadableColumn(column: c.name, detail: "\(file.path) does not store it and the catalog records no partition value for it")
            }
            var constant = c
            constant.initialDefault = value
            fromPartition[k] = constant
        }
        self.fromPartition = fromPartition
        // A column whose current version began at or before the file's commit existed when the
        // file was written, and every writer of this catalog (ours via requireSchemaUnchanged,
        // DuckDB's INSERT) writes all of a table's columns lake can represent: its absence is
        // corruption. Only a column added after the file (begin_snapshot later than the file's)
        // may be missing and read as its default. A rename or widening starts a new column
        // version, so such a column is not required of older files: weaker, never a false alarm.
        // A mapped file whose mapping names no source for a column was registered without it
        // (`allow_missing`): the column reads as its default there, as in DuckDB. A column in a
        // type lake cannot represent is left out of lake's files when its default is NULL
        // (`NewDataFile.omittedColumns`), so its absence proves nothing; lake never reads its
        // values, and DuckDB reads the NULL such a file stands for.
        let mapped = Set(mapping.map { Array($0.fieldIDs.values) } ?? [])
        for (k, c) in columns.enumerated() where fileIndex[k] == nil && opaque[k] == nil && fromPartition[k] == nil && c.beginSnapshot <= file.beginSnapshot
            && (mapping == nil || mapped.contains(c.columnID)) && c.type != nil {
            throw DataFileError.missingColumn(path: file.path, column: c.name, columnID: c.columnID)
        }
        deleted = try DeleteVector.load(for: file, files: files)
        let hidden = try DeleteVector.hidden(in: file, reader: reader)
        deletes = hidden.isEmpty ? deleted : (deleted ?? DeleteVector(positions: [])).union(hidden)
    }

    /// File position of each row group's first row: delete positions count across row groups.
    public func rowGroupStart(_ group: Int) -> Int64 {
        (0 ..< group).reduce(Int64(0)) { $0 + Int64(reader.rowGroupRowCount($1)) }
    }

    /// The file's Parquet reader after the size and footer checks, for readers that do their
    /// own column matching (reference tables, the order-id baseline).
    public static func open(_ file: DataFile, files: LakeFiles) throws -> ParquetFileReader {
        // Checked before any byte is read: an encrypted file's magic is "PARE", which the
        // Parquet reader would call "not a Parquet file", and `lake verify` would have advised
        // restoring a healthy file from a backup.
        if file.encrypted { throw DataFileError.encrypted(path: file.path) }
        return try files.reader(file.path, expect: FileIntegrity.expectation(file))
    }

    /// The file's own name for a table column, for row-group pruning by footer statistics;
    /// nil when the file predates the column.
    public func fileColumnName(_ c: ColumnInfo) -> String? {
        guard let f = columns.firstIndex(where: { $0.columnID == c.columnID }).flatMap({ fileIndex[$0] }) else { return nil }
        let field = reader.schema.fields[f]
        // Footer statistics are in the file's scale: a decimal the table rescaled since (DuckDB's
        // DECIMAL(20,2) -> DECIMAL(38,4)) is not pruned on them.
        if case .decimal(_, let stored) = field.type, case .decimal(_, let now)? = c.type, stored != now { return nil }
        return field.name
    }

    /// The given row groups (all when nil) as batches whose columns follow `columns`, without
    /// the rows the delete file removes (a row group with none left is not decoded and yields no batch).
    public func read(rowGroups: [Int]? = nil, parallelism: Int = ProcessInfo.processInfo.activeProcessorCount) throws -> [RecordBatch] {
        try read(rowGroups: rowGroups, parallelism: parallelism, keeping: .live)
    }

    /// The rows the file's deletes remove (a batch per row group that has any; none without
    /// deletes): what a check that tells deleted rows from missing ones needs to name them.
    public func readDeleted(parallelism: Int = 1) throws -> [RecordBatch] {
        guard deleted != nil else { return [] }
        return try read(rowGroups: nil, parallelism: parallelism, keeping: .deleted)
    }

    private enum Kept { case live, deleted }

    private func read(rowGroups: [Int]?, parallelism: Int, keeping kept: Kept) throws -> [RecordBatch] {
        let schema = Schema(try columns.enumerated().map { k, c in
            if let o = opaque[k] {
                throw DataFileError.unreadableColumn(column: c.name, detail: "\(reader.path) stores it as \(o.reason), which lake cannot read; read it with DuckDB")
            }
            guard let type = c.type else { throw DataFileError.unreadableColumn(column: c.name, detail: "type \(c.duckLakeType) is not supported") }
            return Field(c.name, type, nullable: c.nullable, fieldID: Int32(c.columnID))
        })
        let present = fileIndex.compactMap { $0 }
        var groups = rowGroups ?? Array(0 ..< reader.rowGroupCount)
        let skipped = kept == .live ? deletes : deleted
        let starts = skipped == nil ? [:] : Dictionary(uniqueKeysWithValues: groups.map { ($0, rowGroupStart($0)) })
        if let deletes = skipped {
            groups = groups.filter { g in
                let gone = deletes.deleted(start: starts[g]!, count: reader.rowGroupRowCount(g))
                return kept == .live ? gone < reader.rowGroupRowCount(g) : gone > 0
            }
        }
        return try zip(groups, reader.readRowGroups(groups, columns: present, parallelism: parallelism)).map { g, b in
            var k = 0
            // Rows from the footer: a file predating every requested column still has its rows.
            let rows = reader.rowGroupRowCount(g)
            let out = try columns.enumerated().map { ci, c -> Column in
                let type = schema.fields[ci].type
                guard let f = fileIndex[ci] else { return try Self.constant(fromPartition[ci] ?? c, type, rows: rows) }
                defer { k += 1 }
                let stored = reader.schema.fields[f].type
                guard let column = b.columns[k].widened(from: stored, to: type) else {
                    throw DataFileError.unreadableColumn(column: c.name, detail: "\(reader.path) holds \(stored) values that cannot be read as \(type)")
                }
                return column
            }
            let batch = RecordBatch(schema: schema, columns: out)
            guard let deletes = skipped else { return batch }
            switch kept {
            case .live: return deletes.apply(to: batch, start: starts[g]!)
            case .deleted: return batch.gather(deletes.removed(start: starts[g]!, count: batch.count))
            }
        }
    }

    /// A column the file predates: its initial default on every row, else nulls.
    public static func constant(_ c: ColumnInfo, _ type: ColumnType, rows: Int) throws -> Column {
        let nulls: [Bool]? = c.initialDefault == nil ? Array(repeating: false, count: rows) : nil
        let text = c.initialDefault ?? ""
        func value<T>(_ parse: (String) -> T?, _ empty: T) throws -> T {
            guard let text = c.initialDefault else { return empty }
            guard let v = parse(text) else {
                throw DataFileError.unreadableColumn(column: c.name, detail: "default '\(text)' is not a valid \(c.duckLakeType)")
            }
            return v
        }
        switch type {
        case .bool:
            return Column(.bool(Array(repeating: try value({ ["true", "1", "t"].contains($0.lowercased()) }, false), count: rows)), validity: nulls)
        case .int32:
            return Column(.int32(Array(repeating: try value({ Int32($0) }, 0), count: rows)), validity: nulls)
        case .date:
            return Column(.int32(Array(repeating: Int32(try value(Timestamps.parseDate, 0)), count: rows)), validity: nulls)
        case .int64:
            return Column(.int64(Array(repeating: try value({ Int64($0) }, 0), count: rows)), validity: nulls)
        case .timestamp:
            return Column(.int64(Array(repeating: try value(Timestamps.parseTimestamp, 0), count: rows)), validity: nulls)
        case .decimal(_, let scale):
            return Column(.int64(Array(repeating: try value({ DecimalText.parse($0, scale: scale) }, 0), count: rows)), validity: nulls)
        case .double:
            return Column(.double(Array(repeating: try value({ Double($0) }, 0), count: rows)), validity: nulls)
        case .string:
            var values = StringColumn()
            values.append(text)
            return Column(.dictionary(indices: Array(repeating: 0, count: rows), values: values), validity: nulls)
        }
    }
}

public enum DataFileError: Error, CustomStringConvertible, Equatable {
    case unreadableColumn(column: String, detail: String)
    /// The catalog says the file holds the column (it existed when the file was committed), but
    /// no field in the footer has its id.
    case missingColumn(path: String, column: String, columnID: Int64)
    /// DuckDB encrypted the file (an encrypted DuckLake, `Catalog.encrypted`): not damage, but
    /// nothing lake can read.
    case encrypted(path: String)

    public var description: String {
        switch self {
        case .unreadableColumn(let column, let detail): return "column \(column): \(detail)"
        case .missingColumn(let path, let column, let id):
            return "\(path): the footer has no field with id \(id) (column \(column)), which the file held when it was committed: the file is corrupt; restore it from a backup"
        case .encrypted(let path):
            return "\(path) is encrypted Parquet (the lake was created by DuckDB with ATTACH … (ENCRYPTED)), which lake cannot decrypt; the file is not damaged. Read this lake with DuckDB"
        }
    }
}
