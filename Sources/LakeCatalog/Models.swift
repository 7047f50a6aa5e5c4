import Foundation
import LakeFormat

/// Which snapshot a read sees.
public enum AsOf: Hashable, Sendable {
    case snapshot(Int64)
    /// The last snapshot committed at or before this instant.
    case time(Date)

    /// Parses the CLI's --as-of text: all digits is a snapshot id ("12"); otherwise an ISO-8601
    /// time ("2024-02-01T00:00:00Z", "2024-02-01T10:00:00.5+01:00", "2024-02-01 10:00:00") or a
    /// date ("2024-02-01", midnight UTC). Times without an offset are UTC: the lake has no local time.
    public static func parse(_ text: String) throws(CatalogError) -> AsOf {
        let t = text.trimmingCharacters(in: .whitespaces)
        if !t.isEmpty, t.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            guard let id = Int64(t) else { throw .invalidAsOf(text: text) }
            return .snapshot(id)
        }
        guard let micros = Timestamps.parseTimestamp(t) else { throw .invalidAsOf(text: text) }
        return .time(Timestamps.date(micros: micros))
    }
}

public struct SnapshotInfo: Hashable, Sendable {
    public var id: Int64
    /// Commit time, UTC, microsecond precision.
    public var time: Date
    public var timeMicros: Int64
    public var schemaVersion: Int64
    public var nextCatalogID: Int64
    public var nextFileID: Int64
    /// DuckLake's changes_made text, e.g. `created_table:"curated"."orders",inserted_into_table:2`.
    public var changesMade: String
    public var author: String?
    public var message: String?
    public var extraInfo: String?

    /// changes_made split into entries; quoted names may contain commas, so this is not a plain split.
    public var changes: [String] { ChangeLog.split(changesMade) }
    /// The same entries, typed.
    public var entries: [SnapshotChange] { changes.map(SnapshotChange.init(parsing:)) }
}

/// A table as seen at one snapshot.
public struct TableInfo: Hashable, Sendable {
    public var schemaName: String
    public var schemaID: Int64
    public var name: String
    public var tableID: Int64
    public var uuid: String
    public var snapshot: Int64
    /// Columns in column_order.
    public var columns: [ColumnInfo]
    /// Partition keys' columns in partition_key_index order.
    public var partitionColumns: [ColumnInfo]
    public var partitionID: Int64?
    /// Absolute directory that relative data file paths are resolved against.
    public var directory: URL
    /// Each partition key's transform ("identity", or year, month, bucket… set by another engine).
    public var partitionTransforms: [String] = []

    /// The partition keys as DuckDB's SET PARTITIONED BY writes them: `channel`, `year(event_date)`.
    public var partitionKeys: [String] {
        zip(partitionColumns, partitionTransforms + Array(repeating: "identity", count: max(0, partitionColumns.count - partitionTransforms.count)))
            .map { c, t in t.lowercased() == "identity" ? c.name : "\(t)(\(c.name))" }
    }

    /// "raw.orders"
    public var qualifiedName: String { schemaName + "." + name }

    public func column(named name: String) -> ColumnInfo? { columns.first { $0.name == name } }
    public func column(id: Int64) -> ColumnInfo? { columns.first { $0.columnID == id } }

    /// The table's columns as LakeFormat fields, fieldID = DuckLake column_id (the Parquet field_id
    /// readers match on). Throws when a column has a type the lake cannot represent.
    public func schema() throws(CatalogError) -> Schema {
        var fields: [Field] = []
        for c in columns {
            guard let f = c.field else {
                throw .unsupportedColumnType(table: qualifiedName, column: c.name, duckLakeType: c.duckLakeType)
            }
            fields.append(f)
        }
        return Schema(fields)
    }
}

public struct ColumnInfo: Hashable, Sendable {
    public var columnID: Int64
    public var name: String
    /// nil when the DuckLake type has no LakeFormat equivalent (e.g. a table made by DuckDB with int8).
    public var type: ColumnType?
    /// The type text exactly as stored in ducklake_column.column_type, e.g. "decimal(12,2)".
    public var duckLakeType: String
    public var nullable: Bool
    /// Value that files written before this column existed read as (DuckLake initial_default).
    public var initialDefault: String?
    /// Value a row written now gets when the writer leaves the column out (DuckLake
    /// default_value, which DuckDB's `SET DEFAULT` changes); see `writeDefault`.
    public var defaultValue: String?

    /// The current write default: `defaultValue`, except DuckLake's text `NULL`, which means none.
    public var writeDefault: String? { defaultValue.flatMap { $0.uppercased() == "NULL" ? nil : $0 } }
    public var order: Int64
    /// Snapshot at which this version of the column (name, type) took effect.
    public var beginSnapshot: Int64

    public var field: Field? {
        type.map { Field(name, $0, nullable: nullable, fieldID: Int32(exactly: columnID)) }
    }
}

/// Min/max as DuckLake text (see `StatText`) plus null count for one column of one file.
public struct ColumnStats: Hashable, Sendable {
    public var min: String?
    public var max: String?
    public var nullCount: Int64
    /// Non-null values; nil means "record count minus null count".
    public var valueCount: Int64?
    /// Compressed bytes of the column chunk(s), when the writer knows it.
    public var columnSizeBytes: Int64?
    /// Only meaningful for double columns; DuckLake records it (0/1) for floating point only.
    public var containsNaN: Bool?

    public init(min: String?, max: String?, nullCount: Int64, valueCount: Int64? = nil,
                columnSizeBytes: Int64? = nil, containsNaN: Bool? = nil) {
        self.min = min
        self.max = max
        self.nullCount = nullCount
        self.valueCount = valueCount
        self.columnSizeBytes = columnSizeBytes
        self.containsNaN = containsNaN
    }
}

/// A Parquet file to register. `relativePath` is relative to the table directory
/// (`TableInfo.directory`), the way DuckLake stores paths, e.g. "event_date=2024-01-15/channel=web/part-1.parquet".
public struct NewDataFile: Hashable, Sendable {
    public var relativePath: String
    public var recordCount: Int64
    public var fileSizeBytes: Int64
    /// Length of the Parquet footer (the little-endian int32 just before the trailing "PAR1").
    public var footerSize: Int64?
    /// Partition value text by partition column name; must cover exactly the table's partition columns.
    public var partitionValues: [String: String]
    /// Per column_id.
    public var columnStats: [Int64: ColumnStats]
    /// Columns of the table the file leaves out (they have no stats): readers read them as their
    /// initial default, which must be NULL, as for a file written before a column was added.
    public var omittedColumns: Set<Int64> = []
    /// The writer's `ParquetFileSummary.footerChecksum`; recorded in `lake_file_integrity` so
    /// every later open can prove the footer is the one committed (see FileIntegrity.swift).
    public var footerChecksum: UInt32?
    /// The rows carry the DuckLake row ids they had before a rewrite (a `_ducklake_internal_row_id`
    /// column, as DuckDB's ducklake_rewrite_data_files writes): registered without row_id_start,
    /// and claiming no new row ids.
    public var keepsRowIDs = false

    public init(relativePath: String, recordCount: Int64, fileSizeBytes: Int64, footerSize: Int64? = nil, footerChecksum: UInt32? = nil,
                partitionValues: [String: String] = [:], columnStats: [Int64: ColumnStats] = [:]) {
        self.relativePath = relativePath
        self.recordCount = recordCount
        self.fileSizeBytes = fileSizeBytes
        self.footerSize = footerSize
        self.partitionValues = partitionValues
        self.columnStats = columnStats
        self.footerChecksum = footerChecksum
    }
}

/// A registered data file as seen at one snapshot.
public struct DataFile: Hashable, Sendable {
    public var dataFileID: Int64
    public var tableID: Int64
    /// The absolute file path, normalised. Kept as text because building a `URL` per file
    /// costs more than the catalog query on lakes with thousands of files.
    public var path: String
    public var url: URL { URL(fileURLWithPath: path, isDirectory: false) }
    /// The path as stored (relative to the table directory when `pathIsRelative`).
    public var storedPath: String
    public var pathIsRelative: Bool
    public var recordCount: Int64
    public var fileSizeBytes: Int64
    public var footerSize: Int64?
    public var rowIDStart: Int64?
    public var beginSnapshot: Int64
    public var endSnapshot: Int64?
    /// By partition column name (names as of the snapshot read).
    public var partitionValues: [String: String]
    /// By column_id.
    public var columnStats: [Int64: ColumnStats]
    /// The DuckLake delete file (row positions to skip) visible at the snapshot. Our writers never
    /// create them, but a lake DuckDB has run DELETE/UPDATE on has them; `DataFileReader` applies them.
    public var deleteFile: DeleteFile?
    /// Positions deleted by DuckLake 1.0's inlined file deletions (small deletes kept in the
    /// catalog table ducklake_inlined_delete_<table_id> instead of a delete file), visible at the
    /// snapshot, ascending. Applied together with the delete file.
    public var inlinedDeletes: [Int64] = []

    /// A file DuckDB's ducklake_merge_adjacent_files merged from several snapshots' inserts
    /// (its partial_max), listed at a snapshot before the last of them: only rows whose
    /// `_ducklake_internal_snapshot_id` is at or before this snapshot are visible. nil: all are.
    public var visibleThrough: Int64? = nil
    /// A merged file's last inserting snapshot (partial_max), whatever the listing's snapshot.
    public var mergedThrough: Int64? = nil
    /// The rows `visibleThrough` hides, counted by `Catalog.dataFiles` from the file's column.
    public var hiddenCount: Int64 = 0

    public var hasDeletes: Bool { deleteFile != nil || !inlinedDeletes.isEmpty }

    /// Rows a reader of this snapshot sees: the file's rows minus its deleted ones and the later
    /// inserts a merged file hides. Counts, listings and sizing use this, never `recordCount` alone.
    public var liveRecordCount: Int64 { recordCount - deletedCount - hiddenCount }

    /// Rows the delete file and inlined deletions remove (DuckLake never deletes a row twice).
    public var deletedCount: Int64 { (deleteFile?.deleteCount ?? 0) + Int64(inlinedDeletes.count) }

    /// What a rewrite of this file relied on about its deletes; compared under the write lock.
    public var deleteMark: DeleteMark { DeleteMark(deleteFileID: deleteFile?.deleteFileID, inlined: inlinedDeletes.count) }

    /// True when `current` (from `CatalogTransaction.currentDeleteMarks`) still gives this file
    /// the deletes it was listed with, i.e. no rows were deleted from it since.
    public func deletesUnchanged(in current: [Int64: DeleteMark]) -> Bool { (current[dataFileID] ?? .none) == deleteMark }

    /// The footer checksum recorded at commit (`lake_file_integrity`); nil for files another
    /// tool committed, which are checked by size only.
    public var footerChecksum: UInt32? = nil
    /// Encrypted by DuckDB (DuckLake's encryption_key is set): refused on open, never decoded.
    public var encrypted = false
    /// How the file's columns are named, for a file without field ids that DuckDB registered
    /// (`ducklake_add_data_files` records a name mapping: its `mapping_id`); nil otherwise.
    public var nameMapping: NameMapping? = nil
}

/// DuckLake's name mapping of one file (`ducklake_name_mapping`, top-level columns): which
/// table column (field id = column_id) each of the file's column names holds, and which
/// columns the file does not store because their value is the file's hive partition value.
public struct NameMapping: Hashable, Sendable {
    public var fieldIDs: [String: Int64]
    public var fromPartition: Set<Int64>

    public init(fieldIDs: [String: Int64], fromPartition: Set<Int64>) {
        self.fieldIDs = fieldIDs
        self.fromPartition = fromPartition
    }
}

/// A data file's deletes as a writer saw them: its delete file and how many inlined deletions.
/// Both only change by a commit that deletes rows from the file.
public struct DeleteMark: Hashable, Sendable {
    public var deleteFileID: Int64?
    public var inlined: Int

    public static let none = DeleteMark(deleteFileID: nil, inlined: 0)

    public init(deleteFileID: Int64?, inlined: Int) {
        self.deleteFileID = deleteFileID
        self.inlined = inlined
    }
}

public struct DeleteFile: Hashable, Sendable {
    public var deleteFileID: Int64
    public var url: URL
    /// Positions in the file (DuckLake's delete_count).
    public var deleteCount: Int64
    /// DuckLake's `format` column: "parquet" (the only one we read) or, from DuckLake 1.1 on, "puffin".
    public var format: String
    /// The snapshot the listing was made at: a delete file that carries a snapshot id per
    /// position applies only the positions deleted at or before it.
    public var snapshot: Int64
    public var beginSnapshot: Int64
    /// Encrypted by DuckDB, as its data file: refused on open.
    public var encrypted = false
}

/// Returned by `createTable`: ids to stamp into Parquet files.
public struct CreatedTable: Hashable, Sendable {
    public var tableID: Int64
    /// The requested fields with fieldID set to the assigned DuckLake column_id.
    public var fields: [Field]
}

/// Parses and builds DuckLake's changes_made text.
enum ChangeLog {
    static func quote(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Splits on commas outside double quotes.
    static func split(_ text: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var quoted = false
        for ch in text {
            if ch == "\"" { quoted.toggle() }
            if ch == "," && !quoted {
                out.append(cur)
                cur = ""
            } else {
                cur.append(ch)
            }
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }
}

extension ColumnInfo {
    /// A decimal column whose scale is not 2: lake adds money up in cents, so a money column
    /// another engine rescaled (DuckDB's ALTER … TYPE DECIMAL(38,4)) must be refused, not read as cents.
    public var isDecimalNotInCents: Bool {
        if case .decimal(_, let scale)? = type { return scale != 2 }
        return false
    }
}
