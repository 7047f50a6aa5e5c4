import Foundation

/// What a long-lived writer would otherwise re-read from the catalog at every commit: the tables
/// (ids, columns, partition keys, directories) and which registry versions are already recorded,
/// all as of one DuckLake `schema_version`.
///
/// Why keyed on schema_version: DuckLake bumps it in every snapshot that creates, drops or alters
/// a schema or table (ours do in `CatalogTransaction.finish`, DuckDB's ducklake does the same), so
/// two snapshots with the same schema_version see the same tables and columns. Every use compares
/// the version of the snapshot it reads at (the snapshot row it reads anyway) with the cached one;
/// on a mismatch the entry is dropped and read afresh. So a writer whose cache was made stale by
/// another process's migration sees the new columns in its next transaction, never old ids.
///
/// One instance per opened `Catalog` (its copies share it), safe across threads.
final class SchemaCache: @unchecked Sendable {
    private let lock = NSLock()
    private var version: Int64?
    private var tables: [TableInfo] = []
    /// Registry versions (table, version, fingerprint) seen committed in lake_schema_registry
    /// with their lake_schema_definition row: registering them again writes nothing.
    private var registered: Set<RegisteredVersion> = []

    struct RegisteredVersion: Hashable {
        var table: String
        var version: Int
        var fingerprint: String
    }

    /// The tables of schema version `schemaVersion`, or nil when another version (or none) is cached.
    func tables(schemaVersion: Int64) -> [TableInfo]? {
        lock.withLock { version == schemaVersion ? tables : nil }
    }

    func store(tables: [TableInfo], schemaVersion: Int64) {
        lock.withLock {
            if version != schemaVersion { registered = [] }
            version = schemaVersion
            self.tables = tables
        }
    }

    func isRegistered(_ v: RegisteredVersion, schemaVersion: Int64) -> Bool {
        lock.withLock { version == schemaVersion && registered.contains(v) }
    }

    /// Only for a version whose tables are cached: a registration outlives nothing the tables do not.
    func noteRegistered(_ v: RegisteredVersion, schemaVersion: Int64) {
        lock.withLock { if version == schemaVersion { _ = registered.insert(v) } }
    }

    /// The tables visible at `snapshot`: cached when its schema_version is the cached one, else
    /// read with `Catalog.fetchTables` (three statements) and cached. `snapshot` on each returned
    /// table is set to `snapshot.id`.
    func tables(_ db: SQLDatabase, at snapshot: SnapshotInfo, dataPath: URL) throws -> [TableInfo] {
        var all: [TableInfo]
        if let cached = tables(schemaVersion: snapshot.schemaVersion) {
            all = cached
        } else {
            all = try Catalog.fetchTables(db, snapshot: snapshot.id, dataPath: dataPath)
            store(tables: all, schemaVersion: snapshot.schemaVersion)
        }
        for i in all.indices { all[i].snapshot = snapshot.id }
        return all
    }
}
