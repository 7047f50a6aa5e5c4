import Foundation
import GRDB
import LakeFormat
import Testing
@testable import LakeCatalog

/// DuckDB 1.4.4 (DuckLake 0.3) builds a lake with schema changes, a delete and a dropped table.
private let build03 = """
root = sys.argv[1]
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE)")
c.execute("CREATE SCHEMA l.curated")
c.execute("CREATE TABLE l.curated.orders(order_id BIGINT NOT NULL, order_date DATE, channel VARCHAR, amount DECIMAL(12,2), placed_at TIMESTAMPTZ)")
c.execute("ALTER TABLE l.curated.orders SET PARTITIONED BY (order_date, channel)")
c.execute(\"\"\"INSERT INTO l.curated.orders VALUES (1, DATE '2024-01-15', 'web', 12.50, TIMESTAMPTZ '2024-01-15 10:30:00+00'),
  (6, DATE '2024-01-15', 'web', 3.10, NULL), (2, DATE '2024-01-15', 'app', NULL, NULL), (3, DATE '2024-01-16', 'web', 2.05, TIMESTAMPTZ '2024-01-16 00:00:00+00')\"\"\")
c.execute("ALTER TABLE l.curated.orders ADD COLUMN currency VARCHAR DEFAULT 'USD'")
c.execute("INSERT INTO l.curated.orders VALUES (4, DATE '2024-01-16', 'app', 7.00, NULL, 'EUR')")
c.execute("ALTER TABLE l.curated.orders RENAME COLUMN amount TO total")
c.execute("DELETE FROM l.curated.orders WHERE order_id = 1")
c.execute("CREATE TABLE l.curated.scratch(a BIGINT)")
c.execute("INSERT INTO l.curated.scratch VALUES (1)")
c.execute("DROP TABLE l.curated.scratch")
c.execute("INSERT INTO l.curated.orders (order_id, order_date, channel, total) VALUES (5, DATE '2024-01-17', 'web', 1.00)")
print(json.dumps({"last": c.execute("SELECT max(snapshot_id) FROM l.snapshots()").fetchone()[0]}))
"""

/// Every snapshot's rows of curated.orders as DuckDB sees them (null before the table exists).
/// Attached read-only and without AUTOMATIC_MIGRATION: 1.4.4 reads 0.3, 1.5.5 reads 1.0.
private let readEverySnapshot = """
root, last = sys.argv[1], int(sys.argv[2])
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE, READ_ONLY)")
out = {}
for v in range(0, last + 1):
    try:
        cur = c.execute(f"SELECT COLUMNS(*)::VARCHAR FROM l.curated.orders AT (VERSION => {v}) ORDER BY order_id::BIGINT")
    except duckdb.Error as e:
        if "does not exist" not in str(e): raise
        out[str(v)] = None
        continue
    out[str(v)] = {"columns": [d[0] for d in cur.description],
                   "rows": [[None if x is None else str(x) for x in r] for r in cur.fetchall()]}
print(json.dumps(out))
"""

/// Every ducklake_* table's rows, sorted, so two catalogs can be compared content for content.
private let dumpCatalog = """
import sqlite3
db = sqlite3.connect(sys.argv[1])
out = {}
for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ducklake%' ORDER BY name"):
    out[name] = sorted([[None if v is None else str(v) for v in r] for r in db.execute(f'SELECT * FROM "{name}"')], key=json.dumps)
out["__ddl__"] = sorted(list(r) for r in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'ducklake%'"))
print(json.dumps(out))
"""

/// DuckDB 1.5.5 migrates a copy with its own AUTOMATIC_MIGRATION, for comparison with ours.
private let duckdbMigrate = """
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{sys.argv[1]}' AS l (AUTOMATIC_MIGRATION TRUE)")
print(json.dumps({"version": c.execute("SELECT value FROM l.options() WHERE option_name = 'version'").fetchone()[0]}))
"""

/// DuckDB 1.4.4 merges adjacent files across snapshots (0.3 records their per-snapshot row counts).
private let build03Merged = """
root, step = sys.argv[1], sys.argv[2]
c = connect()
c.execute(f"ATTACH 'ducklake:sqlite:{root}/manifest.sqlite' AS l (DATA_PATH '{root}/', OVERRIDE_DATA_PATH TRUE)")
if step == "build":
    c.execute("CREATE TABLE l.t(id BIGINT)")
    for i in range(3):
        c.execute(f"INSERT INTO l.t SELECT range FROM range({i * 10}, {i * 10 + 10})")
    c.execute("CALL ducklake_merge_adjacent_files('l')")
else:
    last = c.execute("SELECT max(snapshot_id) FROM l.snapshots()").fetchone()[0]
    c.execute(f"CALL ducklake_expire_snapshots('l', versions => {list(range(1, last))})")
print(json.dumps({"last": c.execute("SELECT max(snapshot_id) FROM l.snapshots()").fetchone()[0],
                  "count": c.execute("SELECT count(*) FROM l.t").fetchone()[0]}))
"""

/// Everything our reader sees at every snapshot: tables with columns and partitioning, and each
/// table's files with stats, partition values and delete files.
private struct SnapshotView: Equatable {
    var snapshot: SnapshotInfo
    var tables: [TableInfo]
    var files: [[DataFile]]
}

private func ourView(_ catalog: Catalog) throws -> [Int64: SnapshotView] {
    var out: [Int64: SnapshotView] = [:]
    for s in try catalog.snapshots() {
        let tables = try catalog.tables(at: .snapshot(s.id))
        out[s.id] = SnapshotView(snapshot: s, tables: tables,
                                 files: try tables.map { try catalog.dataFiles(tableID: $0.tableID, at: .snapshot(s.id)) })
    }
    return out
}

@Suite(.serialized) struct Upgrade {
    @Test func duckDB14LakeUpgradesAsDuckDB15MigratesIt() throws {
        let dir = try TempDir("lake-upgrade"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake").standardizedFileURL
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let built = try #require(try Python.json(build03, args: [root.path], in: dir.url, python: Python.duckdb14) as? [String: Int])
        let last = try #require(built["last"])
        let rows14 = try #require(try Python.json(readEverySnapshot, args: [root.path, String(last)], in: dir.url, python: Python.duckdb14) as? [String: Any])

        // Read as 0.3; every write path is refused with a message naming `lake upgrade`, changing nothing.
        let old = try Catalog.open(root: root, create: false)
        #expect(old.format == .v03)
        let before = try ourView(old)
        #expect(before.count == last + 1)
        #expect(throws: CatalogError.upgradeRequired(path: old.manifestURL.path, version: "0.3")) {
            try old.commit { tx in try tx.ensureSchema("raw") }
        }
        #expect(throws: CatalogError.upgradeRequired(path: old.manifestURL.path, version: "0.3")) {
            try old.expireSnapshots(olderThan: Date())
        }
        #expect(CatalogError.upgradeRequired(path: "m", version: "0.3").description.contains("lake upgrade"))

        // DuckDB 1.5.5 refuses the 0.3 catalog unless it migrates it; it migrates a copy.
        try old.pool.close()
        let copy = dir.url.appendingPathComponent("duck-migrated.sqlite")
        try FileManager.default.copyItem(at: old.manifestURL, to: copy)

        // A dry run checks the whole migration and rolls it back: no backup, still 0.3.
        let dry = try Catalog.upgrade(root: root, dryRun: true)
        #expect(dry.dryRun && !dry.alreadyCurrent && dry.backup == nil && dry.steps.count >= 5)
        #expect(try Catalog.open(root: root, create: false).format == .v03)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.contains("backup") }.isEmpty)

        let report = try Catalog.upgrade(root: root)
        let backup = try #require(report.backup)
        #expect(backup.lastPathComponent.hasPrefix("manifest-0.3-backup-2026") && backup.pathExtension == "sqlite")
        #expect(backup.deletingLastPathComponent().path == root.path)

        // The backup is the 0.3 catalog as it was: open it as a lake of its own.
        let restored = dir.url.appendingPathComponent("restored")
        try FileManager.default.createDirectory(at: restored, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: backup, to: restored.appendingPathComponent("manifest.sqlite"))
        let fromBackup = try Catalog.open(root: restored, create: false)
        #expect(fromBackup.format == .v03)
        #expect(try fromBackup.snapshots() == before.values.map(\.snapshot).sorted { $0.id < $1.id })

        // Now 1.0, readable and writable; every snapshot reads exactly as before.
        let upgraded = try Catalog.open(root: root, create: false)
        #expect(upgraded.format == .v10)
        let afterView = try ourView(upgraded)
        #expect(afterView == before)
        #expect(before.values.contains { $0.files.flatMap { $0 }.contains { $0.deleteFile != nil } }, "the delete is part of the history")
        #expect(try Catalog.upgrade(root: root).alreadyCurrent)

        // The same catalog DuckDB 1.5.5's AUTOMATIC_MIGRATION makes, table for table and row for row,
        // with the DDL of a catalog created at 1.0 (ours and DuckDB's, checked in DuckDBInterop).
        #expect(try Python.json(duckdbMigrate, args: [copy.path], in: dir.url) as? [String: String] == ["version": "1.0"])
        let ours = try #require(try Python.json(dumpCatalog, args: [upgraded.manifestURL.path], in: dir.url) as? [String: Any])
        let theirs = try #require(try Python.json(dumpCatalog, args: [copy.path], in: dir.url) as? [String: Any])
        #expect(Set(ours.keys) == Set(theirs.keys))
        for key in ours.keys.sorted() {
            #expect(String(describing: ours[key]!) == String(describing: theirs[key] ?? "missing"), "\(key) differs from DuckDB's migration")
        }
        let fresh = try Catalog.open(root: dir.url.appendingPathComponent("fresh"))
        let freshDDL = try fresh.read { db in try SQLRow.fetchAll(db, sql: "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'ducklake%' ORDER BY name").map { [$0["name"] as String, $0["sql"] as String] } }
        #expect((ours["__ddl__"] as? [[String]])?.sorted { $0[0] < $1[0] } == freshDDL)

        // DuckDB 1.5.5 attaches the upgraded lake as it is and reads every snapshot as 1.4.4 did.
        let rows15 = try #require(try Python.json(readEverySnapshot, args: [root.path, String(last)], in: dir.url) as? [String: Any])
        #expect(NSDictionary(dictionary: rows15).isEqual(to: rows14))

        // And we write to it: a 1.0 column row and a per-table schema version, which DuckDB reads.
        let table = try upgraded.table(schema: "curated", name: "orders")
        let (snap, _) = try upgraded.commit { tx in try tx.addColumn(tableID: table.tableID, Field("note", .string, nullable: true)) }
        let sv = try upgraded.read { db in try SQLRow.fetchAll(db, sql: "SELECT table_id, schema_version FROM ducklake_schema_versions WHERE begin_snapshot = ?", arguments: [snap.id]).map { [$0[0] as Int64, $0[1] as Int64] } }
        #expect(sv == [[table.tableID, snap.schemaVersion]])
        let after = try #require(try Python.json(readEverySnapshot, args: [root.path, String(snap.id)], in: dir.url) as? [String: Any])
        #expect(((after[String(snap.id)] as? [String: Any])?["columns"] as? [String])?.last == "note")
    }

    @Test func mergedHistoryDuckDB14CannotCarryIsRefusedUntilExpired() throws {
        let dir = try TempDir("lake-upgrade"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake").standardizedFileURL
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let built = try #require(try Python.json(build03Merged, args: [root.path, "build"], in: dir.url, python: Python.duckdb14) as? [String: Int])
        #expect(built["count"] == 30)
        let catalog = try Catalog.open(root: root, create: false)
        let table = try catalog.table(schema: "main", name: "t")
        // The merged file holds snapshots 2-4; reading inside that range would need row filtering.
        #expect(throws: CatalogError.self) { try catalog.dataFiles(tableID: table.tableID, at: .snapshot(2)) }
        #expect(try catalog.dataFiles(tableID: table.tableID).reduce(0) { $0 + $1.recordCount } == 30)
        let bytes = try Data(contentsOf: catalog.manifestURL)
        do {
            _ = try Catalog.upgrade(root: root)
            Issue.record("upgrade of a catalog with partially readable merged files must be refused")
        } catch let error as CatalogError {
            guard case .upgradeRefused(_, let reason) = error else { throw error }
            #expect(reason.contains("ducklake_merge_adjacent_files") && reason.contains("ducklake_expire_snapshots"))
        }
        #expect(try Data(contentsOf: catalog.manifestURL) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.contains("backup") }.isEmpty,
                "a refused upgrade takes no backup")

        // Once no retained snapshot reads inside the merge, the upgrade goes through.
        _ = try Python.json(build03Merged, args: [root.path, "expire"], in: dir.url, python: Python.duckdb14)
        try catalog.pool.close()
        _ = try Catalog.upgrade(root: root)
        let upgraded = try Catalog.open(root: root, create: false)
        #expect(upgraded.format == .v10)
        #expect(try upgraded.dataFiles(tableID: table.tableID).reduce(0) { $0 + $1.recordCount } == 30)
        let count = try Python.json("""
            c = connect()
            c.execute(f"ATTACH 'ducklake:sqlite:{sys.argv[1]}/manifest.sqlite' AS l (READ_ONLY)")
            print(json.dumps(c.execute("SELECT count(*), sum(id) FROM l.t").fetchone()))
            """, args: [root.path], in: dir.url) as? [Int]
        #expect(count == [30, 435])
    }

    /// A catalog newer than 1.0 (DuckDB 2.0's 1.1 adds columns and a table) is read while what we
    /// read is unchanged, and never written or altered; one that changed what we read is refused.
    @Test func newerCatalogIsReadOnlyAndUntouched() throws {
        let dir = try TempDir("lake-upgrade"); defer { dir.cleanup() }
        let root = dir.url.appendingPathComponent("lake")
        let catalog = try Catalog.open(root: root)
        let tid = try makeOrders(catalog)
        let t = try catalog.table(id: tid)
        try catalog.commit { tx in try tx.addDataFile(tableID: tid, orderFile(t, "a", date: "2024-01-15", channel: "web", rows: 3)) }
        let view = try ourView(catalog)
        // What DuckLake 1.1's migration adds (from the specification and DuckDB's 1.1 DDL).
        try catalog.pool.write { db in
            try db.execute(sql: "ALTER TABLE ducklake_data_file ADD COLUMN row_group_count BIGINT")
            try db.execute(sql: "ALTER TABLE ducklake_delete_file ADD COLUMN row_group_count BIGINT")
            try db.execute(sql: "CREATE TABLE ducklake_view_column_tag(view_id BIGINT, column_name VARCHAR, begin_snapshot BIGINT, end_snapshot BIGINT, key VARCHAR, value VARCHAR)")
            try db.execute(sql: "UPDATE ducklake_metadata SET value = '1.1' WHERE key = 'version'")
        }
        try catalog.pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try catalog.pool.close()
        let bytes = try Data(contentsOf: catalog.manifestURL)
        let newer = try Catalog.open(root: root, create: false)
        #expect(newer.format == .newer("1.1"))
        #expect(try ourView(newer) == view)
        #expect(throws: CatalogError.newerCatalog(path: newer.manifestURL.path, version: "1.1")) {
            try newer.commit { tx in try tx.ensureSchema("raw") }
        }
        #expect(throws: CatalogError.newerCatalog(path: newer.manifestURL.path, version: "1.1")) { try Catalog.upgrade(root: root) }
        #expect(try Data(contentsOf: newer.manifestURL) == bytes)

        // A newer version that moved a column we read is refused outright.
        let moved = try DatabaseQueue(path: newer.manifestURL.path)
        try moved.write { db in try db.execute(sql: "ALTER TABLE ducklake_data_file RENAME COLUMN footer_size TO footer_bytes") }
        try moved.close()
        do {
            _ = try Catalog.open(root: root, create: false)
            Issue.record("a catalog without a column we read must be refused")
        } catch let error as CatalogError {
            guard case .incompatibleCatalog(_, let reason) = error else { throw error }
            #expect(reason.contains("footer_size"))
        }
    }
}
