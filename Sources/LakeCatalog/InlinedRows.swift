import Foundation
import LakeFormat

// DuckDB's data inlining: an insert of up to DATA_INLINING_ROW_LIMIT rows (10 by default) is
// kept in the catalog instead of a Parquet file, in ducklake_inlined_data_<table_id>_<schema
// version> (row_id, begin_snapshot, end_snapshot, then the table's columns as they were at that
// schema version, by name and in column order), listed in ducklake_inlined_data_tables. A
// DELETE of such a row sets its end_snapshot. Values are stored the way DuckDB casts them for
// SQLite: integers and booleans as INTEGER, everything else (DECIMAL, DATE, TIMESTAMPTZ,
// DOUBLE, VARCHAR) as its text.
//
// Readers get a table's visible inlined rows as one in-memory batch under the table's current
// columns, so they filter and aggregate it on the same path as a file's batches. Readers that
// only know files (compaction, migration, verify) keep refusing such a table: `InlinedRowPolicy`.

/// What `Catalog.dataFiles` does when the table has inlined rows visible at the snapshot.
public enum InlinedRowPolicy: Sendable {
    /// Throw `CatalogError.inlinedData`: the caller reads only files and would miss rows.
    case refuse
    /// List the files only; the caller reads the rows through `Catalog.inlinedRows`.
    case readSeparately
}

extension Catalog {
    /// The table's inlined rows visible at the snapshot as one batch with `columns` (the table's
    /// columns at that snapshot, any subset and order); nil when there are none.
    /// The inlined-data tables DuckDB registered for the table, oldest schema version first
    /// (empty ones included: DuckDB's next small INSERT goes to the newest).
    public func inlinedDataTables(tableID: Int64) throws -> [String] {
        try read { db in try Self.inlinedDataTables(db, tableID: tableID) }
    }

    /// The table's registered inlined-data tables that hold rows (live or ended).
    public func inlinedDataTablesHoldingRows(tableID: Int64) throws -> [String] {
        try read { db in
            try Self.holdingRows(db, try Self.inlinedDataTables(db, tableID: tableID))
        }
    }

    /// Those of `names` (from `inlinedDataTables`, so only letters, digits and underscores)
    /// holding a row, live or ended.
    static func holdingRows(_ db: SQLDatabase, _ names: [String]) throws -> [String] {
        try names.filter { try (Int64.fetchOne(db, sql: "SELECT count(*) FROM " + $0) ?? 0) > 0 }
    }

    public func inlinedRows(tableID: Int64, at asOf: AsOf? = nil, columns: [ColumnInfo]) throws -> RecordBatch? {
        try read { db in
            let snap = try Self.resolve(db, asOf).id
            return try Self.fetchInlinedRows(db, tableID: tableID, snapshot: snap, columns: columns)
        }
    }

    /// How many inlined rows of the table are visible at the snapshot (0 without inlining).
    public func inlinedRowCount(tableID: Int64, at asOf: AsOf? = nil) throws -> Int64 {
        try read { db in
            let snap = try Self.resolve(db, asOf).id
            return try Self.countInlinedRows(db, tableID: tableID, snapshot: snap)
        }
    }

    /// What a read of the table at the snapshot sees: its live data files, and its rows (the
    /// files' rows minus their deletes, plus the rows DuckDB kept inlined in the catalog).
    public func tableSize(tableID: Int64, at asOf: AsOf? = nil) throws -> TableSize {
        let files = try dataFiles(tableID: tableID, at: asOf, columnStats: false, inlined: .readSeparately)
        let inlined = try inlinedRowCount(tableID: tableID, at: asOf)
        return TableSize(files: files.count, rows: files.reduce(inlined) { $0 + $1.liveRecordCount }, inlinedRows: inlined)
    }

    /// The inlined-data tables DuckDB lists for the table that exist, checked to be its own
    /// naming pattern: a table name cannot be bound, so only letters, digits and underscores
    /// after `ducklake_inlined_data_` are put into SQL.
    static func inlinedDataTables(_ db: SQLDatabase, tableID: Int64) throws -> [String] {
        guard try db.tableExists("ducklake_inlined_data_tables") else { return [] }
        let names = try String.fetchAll(db, sql: """
            SELECT table_name FROM ducklake_inlined_data_tables WHERE table_id = ? ORDER BY schema_version
            """, arguments: [tableID])
        var out: [String] = []
        for name in names where try db.tableExists(name) {
            guard name.hasPrefix("ducklake_inlined_data_"), name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x61...0x7a).contains($0) }) else {
                throw CatalogError.corrupt("ducklake_inlined_data_tables names an unexpected table '\(name)'")
            }
            let columns = try db.columns(in: name).map(\.name)
            guard columns.count >= 3, columns[0] == "row_id", columns[1] == "begin_snapshot", columns[2] == "end_snapshot" else {
                throw CatalogError.corrupt("inlined data table \(name) does not start with row_id, begin_snapshot, end_snapshot (columns: \(columns.joined(separator: ", ")))")
            }
            out.append(name)
        }
        return out
    }

    static func countInlinedRows(_ db: SQLDatabase, tableID: Int64, snapshot: Int64) throws -> Int64 {
        var rows: Int64 = 0
        for name in try inlinedDataTables(db, tableID: tableID) {
            rows += try Int64.fetchOne(db, sql: "SELECT count(*) FROM " + name + " WHERE " + visibleAt,
                                       arguments: [snapshot, snapshot]) ?? 0
        }
        return rows
    }

    static func fetchInlinedRows(_ db: SQLDatabase, tableID: Int64, snapshot: Int64, columns: [ColumnInfo]) throws -> RecordBatch? {
        let types = try columns.map { c -> ColumnType in
            guard let t = c.type else { throw DataFileError.unreadableColumn(column: c.name, detail: "type \(c.duckLakeType) is not supported") }
            return t
        }
        var builders = zip(columns, types).map { InlinedColumnBuilder(column: $0, type: $1) }
        var total = 0
        for name in try inlinedDataTables(db, tableID: tableID) {
            let rows = try SQLRow.fetchAll(db, sql: "SELECT * FROM " + name + " WHERE " + visibleAt + " ORDER BY row_id",
                                        arguments: [snapshot, snapshot])
            if rows.isEmpty { continue }
            // The inlined table holds the columns of one schema version, named and ordered as
            // they were then. Every row of it was inserted under that version, so the columns
            // at its earliest row's snapshot are the ones it holds; they give each stored
            // column its column_id, which is what a later rename or ADD COLUMN keeps.
            let first = try Int64.fetchOne(db, sql: "SELECT min(begin_snapshot) FROM " + name) ?? snapshot
            let then = try fetchColumns(db, tableID: tableID, snapshot: first)
            let stored = Array(try db.columns(in: name).map(\.name).dropFirst(3))
            guard stored == then.map(\.name) else {
                throw CatalogError.corrupt("""
                    inlined data table \(name) has columns \(stored.joined(separator: ", ")), but the table had \
                    \(then.map(\.name).joined(separator: ", ")) at snapshot \(first), when its first row was inserted
                    """)
            }
            let position = Dictionary(uniqueKeysWithValues: then.enumerated().map { ($1.columnID, $0 + 3) })
            for k in builders.indices {
                // A column added after this schema version reads as its initial default, like a
                // file that predates it.
                guard let p = position[builders[k].column.columnID] else {
                    try builders[k].appendDefault(count: rows.count)
                    continue
                }
                for row in rows { try builders[k].append(row[p] as SQLValue, table: name) }
            }
            total += rows.count
        }
        if total == 0 { return nil }
        let schema = Schema(zip(columns, types).map { Field($0.name, $1, nullable: $0.nullable, fieldID: Int32($0.columnID)) })
        return RecordBatch(schema: schema, columns: builders.map { $0.finish() })
    }
}

/// Converts the SQLite values of one inlined column to the column's type, exactly: decimals
/// from their text to scaled integers, dates and timestamps from their text to days and
/// microseconds (UTC), so an inlined row reads the same as it would from a Parquet file.
private struct InlinedColumnBuilder {
    let column: ColumnInfo
    let type: ColumnType
    var bools: [Bool] = []
    var ints32: [Int32] = []
    var ints64: [Int64] = []
    var doubles: [Double] = []
    var strings = StringColumn()
    var validity: [Bool] = []

    init(column: ColumnInfo, type: ColumnType) {
        self.column = column
        self.type = type
    }

    mutating func append(_ value: SQLValue, table: String) throws {
        func bad() -> CatalogError {
            .corrupt("inlined data table \(table): value \(value) of column \(column.name) is not a valid \(column.duckLakeType)")
        }
        func text() -> String? {
            switch value.storage {
            case .string(let s): return s
            case .int64(let v): return String(v)
            case .double(let v): return String(v)
            // DuckDB's ducklake on PostgreSQL stores inlined VARCHARs as BYTEA (their UTF-8 bytes).
            case .blob(let d): return String(validatingUTF8Bytes: d)
            default: return nil
            }
        }
        if value.isNull {
            validity.append(false)
            appendPlaceholder()
            return
        }
        validity.append(true)
        switch type {
        case .bool:
            if case .int64(let v) = value.storage { bools.append(v != 0); return }
            switch text()?.lowercased() {
            case "true", "t", "1": bools.append(true)
            case "false", "f", "0": bools.append(false)
            default: throw bad()
            }
        case .int32:
            guard let t = text(), let v = Int32(t) else { throw bad() }
            ints32.append(v)
        case .date:
            guard let t = text(), let days = Timestamps.parseDate(t), let v = Int32(exactly: days) else { throw bad() }
            ints32.append(v)
        case .int64:
            guard let t = text(), let v = Int64(t) else { throw bad() }
            ints64.append(v)
        case .timestamp:
            guard let t = text(), let v = Timestamps.parseTimestamp(t) else { throw bad() }
            ints64.append(v)
        case .decimal(_, let scale):
            guard let t = text(), let v = DecimalText.parse(t, scale: scale) else { throw bad() }
            ints64.append(v)
        case .double:
            if case .double(let v) = value.storage { doubles.append(v); return }
            guard let t = text(), let v = Double(t) else { throw bad() }
            doubles.append(v)
        case .string:
            guard let t = text() else { throw bad() }
            strings.append(t)
        }
    }

    /// The dense placeholder under a null (0, false, empty string).
    mutating func appendPlaceholder() {
        switch type {
        case .bool: bools.append(false)
        case .int32, .date: ints32.append(0)
        case .int64, .timestamp, .decimal: ints64.append(0)
        case .double: doubles.append(0)
        case .string: strings.appendEmpty()
        }
    }

    mutating func appendDefault(count: Int) throws {
        let c = try DataFileReader.constant(column, type, rows: count).materialized()
        for row in 0 ..< count {
            validity.append(!c.isNull(row))
            switch c.data {
            case .bool(let v): bools.append(v[row])
            case .int32(let v): ints32.append(v[row])
            case .int64(let v): ints64.append(v[row])
            case .double(let v): doubles.append(v[row])
            case .string(let s): strings.append(s[row])
            case .dictionary: preconditionFailure("materialized() expands dictionaries")
            }
        }
    }

    func finish() -> LakeFormat.Column {
        let data: ColumnData
        switch type {
        case .bool: data = .bool(bools)
        case .int32, .date: data = .int32(ints32)
        case .int64, .timestamp, .decimal: data = .int64(ints64)
        case .double: data = .double(doubles)
        case .string: data = .string(strings)
        }
        return LakeFormat.Column(data, validity: validity.allSatisfy { $0 } ? nil : validity)
    }
}

private extension String {
    /// The bytes as text when they are valid UTF-8; nil otherwise (never repaired).
    init?(validatingUTF8Bytes data: Data) {
        guard let s = String(data: data, encoding: .utf8) else { return nil }
        self = s
    }
}

/// A table's live data files and rows at a snapshot (`Catalog.tableSize`).
public struct TableSize: Hashable, Sendable {
    public var files: Int
    /// Rows a reader sees, inlined ones included.
    public var rows: Int64
    /// Of `rows`, those DuckDB kept inlined in the catalog (in no file).
    public var inlinedRows: Int64
}
