import Foundation

/// `lake_erasure`: one row per erasure with when, how many rows per table, by which snapshot,
/// and when it was purged. It holds no customer id, not even hashed: customer ids are short
/// and patterned (CUST-00042), so any hash of one is reversed by trying them all.
public enum ErasureLog {
    static let ddl = """
        CREATE TABLE IF NOT EXISTS lake_erasure (erasure_id TEXT PRIMARY KEY, snapshot_id BIGINT NOT NULL,
            erased_at TEXT NOT NULL, rows_json TEXT NOT NULL, purge_snapshot_id BIGINT)
        """

    public struct Entry: Sendable, Equatable {
        public var erasureID: String
        public var snapshotID: Int64
        public var erasedAt: String
        public var rows: [String: Int]
        public var purgeSnapshotID: Int64?
    }

    public static func record(_ tx: inout CatalogTransaction, rows: [(String, Int)]) throws {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: Dictionary(rows, uniquingKeysWith: +), options: [.sortedKeys]), as: UTF8.self)
        try tx.database.execute(sql: "INSERT INTO lake_erasure VALUES (?, ?, ?, ?, NULL)",
                                arguments: [UUID().uuidString.lowercased(), tx.snapshotID, Timestamps.isoSeconds(Date()), json])
    }

    public static func markPurged(_ tx: inout CatalogTransaction) throws {
        try tx.database.execute(sql: "UPDATE lake_erasure SET purge_snapshot_id = ? WHERE purge_snapshot_id IS NULL", arguments: [tx.snapshotID])
    }

    /// Marks the pending erasures purged as of `snapshot`, outside a commit: for a purge that
    /// had no file to rewrite (a compaction already did), so it adds no snapshot.
    public static func markPurged(_ catalog: Catalog, snapshot: Int64) throws {
        try catalog.requireWritable()
        try Catalog.withRetry {
            try catalog.store.write { db in
                try catalog.requireLive(db)
                try db.execute(sql: "UPDATE lake_erasure SET purge_snapshot_id = ? WHERE purge_snapshot_id IS NULL", arguments: [snapshot])
            }
        }
    }

    public static func entries(_ catalog: Catalog) throws -> [Entry] {
        try catalog.read { db in
            guard try db.tableExists("lake_erasure") else { return [] }
            return try SQLRow.fetchAll(db, sql: "SELECT * FROM lake_erasure ORDER BY snapshot_id").map { r in
                let json: String = r["rows_json"]
                let rows = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Int] ?? [:]
                return Entry(erasureID: r["erasure_id"], snapshotID: r["snapshot_id"], erasedAt: r["erased_at"], rows: rows,
                             purgeSnapshotID: r["purge_snapshot_id"])
            }
        }
    }

    /// Erasures not purged yet whose snapshot was committed before `cutoff` (vacuum's retention).
    public static func pending(_ catalog: Catalog, before cutoff: Date) throws -> [Entry] {
        let snaps = Dictionary(try catalog.snapshots().map { ($0.id, $0.time) }, uniquingKeysWith: { a, _ in a })
        return try entries(catalog).filter { $0.purgeSnapshotID == nil && (snaps[$0.snapshotID].map { $0 < cutoff } ?? true) }
    }
}

