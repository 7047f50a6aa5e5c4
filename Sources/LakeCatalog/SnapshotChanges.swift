import Foundation

// DuckLake's changes_made names tables by id (`inserted_into_table:8`); people read names.

extension Catalog {
    /// A snapshot's changes with table ids replaced by the table's qualified name as of that
    /// snapshot (`inserted_into_table:curated.orders`); entries without a table id are kept as
    /// they are. Table ids are never reused, so the name is the one the id had when the
    /// snapshot was written (for a table dropped by it, the name it had just before).
    public func readableChanges(_ snapshot: SnapshotInfo) throws -> [String] {
        let entries = snapshot.changes
        guard entries.contains(where: { Self.tableIDEntry($0) != nil }) else { return entries }
        return try read { db in
            try entries.map { entry in
                guard let (verb, id) = Self.tableIDEntry(entry) else { return entry }
                let row = try SQLRow.fetchOne(db, sql: """
                    SELECT s.schema_name, t.table_name FROM ducklake_table t
                    JOIN ducklake_schema s ON s.schema_id = t.schema_id
                    WHERE t.table_id = ? AND t.begin_snapshot <= ?
                    ORDER BY t.begin_snapshot DESC LIMIT 1
                    """, arguments: [id, snapshot.id])
                guard let row, let schema: String = row["schema_name"], let table: String = row["table_name"] else {
                    return entry  // the table's catalog rows are gone (vacuumed): keep the id
                }
                return "\(verb):\(schema).\(table)"
            }
        }
    }

    /// ("inserted_into_table", 8) for "inserted_into_table:8"; nil for entries that name no table id.
    static func tableIDEntry(_ entry: String) -> (String, Int64)? {
        guard let colon = entry.lastIndex(of: ":"), entry[..<colon].hasSuffix("_table"),
              let id = Int64(entry[entry.index(after: colon)...]) else { return nil }
        return (String(entry[..<colon]), id)
    }
}
