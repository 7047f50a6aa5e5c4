import Foundation

/// One entry of DuckLake's changes_made: `inserted_into_table:8`, `created_table:"curated"."orders"`.
/// DuckDB reads these entries to decide whether a commit conflicts with the snapshots committed
/// since its transaction began, so what a commit records matters as much as what it does.
public struct SnapshotChange: Hashable, Sendable, CustomStringConvertible {
    /// The kinds DuckDB 1.5 (DuckLake 1.0) writes and parses.
    public enum Kind: String, Sendable, CaseIterable {
        case createdSchema = "created_schema", createdTable = "created_table", createdView = "created_view"
        case createdScalarMacro = "created_scalar_macro", createdTableMacro = "created_table_macro"
        case droppedSchema = "dropped_schema", droppedTable = "dropped_table", droppedView = "dropped_view"
        case droppedScalarMacro = "dropped_scalar_macro", droppedTableMacro = "dropped_table_macro"
        case insertedIntoTable = "inserted_into_table", deletedFromTable = "deleted_from_table"
        case alteredTable = "altered_table", alteredView = "altered_view"
        /// A rewrite of a table's files into fewer ones (DuckDB's ducklake_merge_adjacent_files, our compaction).
        case mergeAdjacent = "merge_adjacent"
        /// A rewrite of files with deletes into files without them (DuckDB's ducklake_rewrite_data_files).
        case rewriteDelete = "rewrite_delete"
        /// DuckLake 0.3's name for a compaction (DuckDB 1.4, and our builds before DuckLake 1.0).
        case compactedTable = "compacted_table"
        case inlinedInsert = "inlined_insert", inlinedDelete = "inlined_delete"
        /// Rows moved from the catalog's inlined tables into Parquet. DuckDB 1.5 writes
        /// inline_flush and parses flushed_inlined as the same change.
        case inlineFlush = "inline_flush", flushedInlined = "flushed_inlined"

        /// Whether the entry's value is a table id (others name a schema, a view or a macro by
        /// id, or a schema or table by quoted name).
        public var valueIsTableID: Bool {
            switch self {
            case .droppedTable, .insertedIntoTable, .deletedFromTable, .alteredTable, .mergeAdjacent, .rewriteDelete,
                 .compactedTable, .inlinedInsert, .inlinedDelete, .inlineFlush, .flushedInlined:
                return true
            default:
                return false
            }
        }

        /// A merge of a table's files, under DuckLake 1.0's name or 0.3's (a file written by one
        /// of these holds rows of several earlier files).
        public var isFileMerge: Bool { self == .mergeAdjacent || self == .compactedTable }
    }

    /// nil for a kind this build does not know: kept, shown as written, never interpreted.
    public let kind: Kind?
    /// The entry as DuckLake stores it.
    public let text: String

    public init(parsing text: String) {
        self.text = text
        kind = text.firstIndex(of: ":").flatMap { Kind(rawValue: String(text[..<$0])) }
    }

    init(_ kind: Kind, _ value: String) {
        self.kind = kind
        text = kind.rawValue + ":" + value
    }

    init(_ kind: Kind, table tableID: Int64) { self.init(kind, String(tableID)) }

    /// What follows the kind: a table id, or a quoted name.
    public var value: Substring { text.firstIndex(of: ":").map { text[text.index(after: $0)...] } ?? "" }

    /// The table the entry names by id, if its kind names one.
    public var tableID: Int64? { kind?.valueIsTableID == true ? Int64(value) : nil }

    public var description: String { text }
}

// DuckLake's changes_made names tables by id (`inserted_into_table:8`); people read names.

extension Catalog {
    /// A snapshot's changes with table ids replaced by the table's qualified name as of that
    /// snapshot (`inserted_into_table:curated.orders`); entries without a table id are kept as
    /// they are. Table ids are never reused, so the name is the one the id had when the
    /// snapshot was written (for a table dropped by it, the name it had just before).
    public func readableChanges(_ snapshot: SnapshotInfo) throws -> [String] {
        let entries = snapshot.entries
        guard entries.contains(where: { $0.tableID != nil }) else { return entries.map(\.text) }
        return try read { db in
            try entries.map { entry in
                guard let kind = entry.kind, let id = entry.tableID else { return entry.text }
                let row = try SQLRow.fetchOne(db, sql: """
                    SELECT s.schema_name, t.table_name FROM ducklake_table t
                    JOIN ducklake_schema s ON s.schema_id = t.schema_id
                    WHERE t.table_id = ? AND t.begin_snapshot <= ?
                    ORDER BY t.begin_snapshot DESC LIMIT 1
                    """, arguments: [id, snapshot.id])
                guard let row, let schema: String = row["schema_name"], let table: String = row["table_name"] else {
                    return entry.text  // the table's catalog rows are gone (vacuumed): keep the id
                }
                return "\(kind.rawValue):\(schema).\(table)"
            }
        }
    }
}
