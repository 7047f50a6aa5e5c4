import Foundation
import GRDB
import LakeFormat
#if canImport(Glibc)
import Glibc
#endif

/// What `Catalog.upgrade` did (or, with `dryRun`, checked it would do).
public struct UpgradeReport: Sendable, Equatable {
    public var fromVersion: String
    public var toVersion: String
    public var dryRun: Bool
    /// The catalog already was DuckLake 1.0: nothing to do, no backup taken.
    public var alreadyCurrent: Bool
    /// The online backup of the 0.3 catalog, next to it (nil for a dry run or a current catalog).
    public var backup: URL?
    /// One line per change, in the order they are applied.
    public var steps: [String]
}

extension Catalog {
    /// Migrates a DuckLake 0.3 catalog (ours, or one DuckDB 1.3/1.4 wrote) to DuckLake 1.0 in
    /// place, the way DuckDB 1.5's AUTOMATIC_MIGRATION does, so either path leaves the same
    /// catalog: the 1.0 tables are added, `ducklake_column` gains its default type and dialect
    /// ('literal' for every existing default), a merged file's `partial_file_info` becomes
    /// `partial_max`, and the global `ducklake_schema_versions` rows become per-table rows.
    /// No snapshot is added and no snapshot id, file, row id or statistic changes, so every
    /// snapshot reads as before.
    ///
    /// First an online backup of the catalog (SQLite's backup API) to
    /// `manifest-0.3-backup-<UTC time>.sqlite` beside it; then one `BEGIN IMMEDIATE` transaction
    /// that checks nothing was committed since the backup, migrates, checks every DuckLake table's DDL now equals the 1.0 DDL we create, and
    /// commits. A failure at any point leaves the 0.3 catalog untouched. `dryRun` runs the same
    /// migration and rolls it back, without a backup.
    ///
    /// Refused (nothing changed) when a file DuckDB 1.4 merged across snapshots is still read by
    /// a retained snapshot inside its range: 0.3 recorded per-snapshot row counts for it, which
    /// 1.0 cannot express, so those snapshots would read more rows afterwards.
    ///
    /// Opens the lake's catalog, upgrades it and closes it again: a connection pool opened on
    /// the 0.3 catalog must not outlive the upgrade in the same process (a later commit through
    /// a second pool on the file was not visible to other processes while the first stayed open).
    public static func upgrade(root: URL, dryRun: Bool = false, now: Date = Date()) throws -> UpgradeReport {
        let catalog = try open(root: root, create: false)
        defer { try? catalog.store.close() }  // a close error cannot undo a committed upgrade; the next open reports real trouble
        return try catalog.upgrade(dryRun: dryRun, now: now)
    }

    /// See `upgrade(root:)`; the receiver keeps its 0.3 view, so callers go through that one.
    func upgrade(dryRun: Bool = false, now: Date = Date()) throws -> UpgradeReport {
        // Partial copies of upgrades killed mid-backup: nothing else removes them, and the rerun
        // the kill calls for is this command, whether the killed run got to migrate or not.
        let swept = dryRun ? [] : try Self.removeInterruptedBackups(root: root)
        let sweptSteps = swept.map { "removed \($0), the partial backup copy of an interrupted upgrade" }
        switch format {
        case .v10:
            return UpgradeReport(fromVersion: format.version, toVersion: DuckLakeSchema.version, dryRun: dryRun,
                                 alreadyCurrent: true, backup: nil, steps: sweptSteps)
        case .newer(let v):
            throw CatalogError.newerCatalog(path: manifestURL.path, version: v)
        case .older(let v):
            throw CatalogError.incompatibleCatalog(path: manifestURL.path, reason: CatalogFormat.olderReason(v))
        case .v03:
            break
        }
        let stamp = Timestamps.iso(now).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
        let backupURL = root.appendingPathComponent("manifest-0.3-backup-\(stamp).sqlite")
        if !dryRun && FileManager.default.fileExists(atPath: backupURL.path) {
            throw CatalogError.upgradeRefused(path: manifestURL.path, reason: "the backup file \(backupURL.path) already exists; move it away and retry")
        }
        let manifest = manifestURL.path
        var report = UpgradeReport(fromVersion: DuckLakeSchema.legacyVersion, toVersion: DuckLakeSchema.version,
                                   dryRun: dryRun, alreadyCurrent: false, backup: nil, steps: [])
        guard let sqlite = store as? SQLiteStore else {
            throw CatalogError.upgradeRefused(path: locationText, reason: "a DuckLake 0.3 catalog on PostgreSQL is upgraded by DuckDB 1.5 (ATTACH with AUTOMATIC_MIGRATION TRUE), not by lake")
        }
        try Self.withRetry { try SQLiteStore.translating {
            try sqlite.pool.writeWithoutTransaction { db in
                report.steps = sweptSteps
                report.backup = nil
                // SQLite's backup API cannot copy from a connection inside a write transaction, so
                // the backup is taken just before BEGIN IMMEDIATE on the same connection, and
                // data_version (which moves when another connection commits) proves no commit
                // slipped in between: the backup is exactly the catalog being migrated.
                let before = try Int64.fetchOne(db, sql: "PRAGMA data_version")
                // Refusals come before the backup, so a refused upgrade leaves nothing behind
                // (checked again under the lock below).
                _ = try Self.checkMergedFiles(db, manifest: manifest)
                if !dryRun {
                    try Self.backup(db, to: backupURL)
                    report.backup = backupURL
                    report.steps.append("backed up the 0.3 catalog to \(backupURL.path)")
                }
                try db.inTransaction(.immediate) {
                    if !dryRun, try Int64.fetchOne(db, sql: "PRAGMA data_version") != before {
                        throw CatalogError.upgradeRefused(path: manifest, reason: "another process committed while the backup was taken; run lake upgrade again (the backup \(backupURL.path) is stale, delete it)")
                    }
                    // Another process may have upgraded it since we opened it.
                    let version = try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'version' AND scope IS NULL")
                    if version == DuckLakeSchema.version {
                        report.alreadyCurrent = true
                        return .rollback
                    }
                    guard version == DuckLakeSchema.legacyVersion else {
                        throw CatalogError.incompatibleCatalog(path: manifest, reason: "catalog version \(version ?? "missing")")
                    }
                    let partials = try Self.checkMergedFiles(db, manifest: manifest)
                    report.steps += try Self.migrate03to10(db, partials: partials, manifest: manifest)
                    return dryRun ? .rollback : .commit
                }
            }
        } }
        return report
    }

    /// Online copy of the open catalog into a new SQLite file (SQLite's backup API), synced.
    /// The copy is made under a hidden partial name and renamed to `url` once complete: an
    /// upgrade killed or failing mid-copy (session 14 probe: SIGKILL, or a full disk) left an
    /// empty or half-written file under the backup's own name, which the documented undo ("copy
    /// the backup over manifest.sqlite") would restore as an empty catalog. A failed copy is
    /// removed; one a kill interrupted keeps the partial name.
    static func backup(_ db: Database, to url: URL) throws {
        let fm = FileManager.default
        let partial = partialBackupURL(url)
        func removePartial() throws {
            for path in [partial.path, partial.path + "-journal"] where fm.fileExists(atPath: path) {
                try fm.removeItem(atPath: path)
            }
        }
        do {
            try removePartial()
            let target = try DatabaseQueue(path: partial.path)
            do {
                try target.writeWithoutTransaction { dest in try db.backup(to: dest) }
                try target.close()
            } catch {
                try? target.close()  // the copy's error is the one reported; the partial file is removed below
                throw error
            }
            // rename(2) replaces: a retry after a busy lock (withRetry) copies again over its own backup.
            guard rename(partial.path, url.path) == 0 else {
                throw CatalogError.storage("cannot rename \(partial.path) to \(url.lastPathComponent): \(errnoText(errno))")
            }
            try Durability.syncDirectory(url.deletingLastPathComponent().path)
        } catch {
            let cleanup: String
            do { try removePartial(); cleanup = "" } catch let e { cleanup = " (and the partial copy \(partial.path) could not be removed: \(e))" }
            throw CatalogError.storage("cannot back up the catalog to \(url.path): \(error)\(cleanup); the catalog was not changed")
        }
    }

    /// Removes every partial backup copy (and its journal) in `root`, which only a killed
    /// upgrade leaves (a failed copy removes its own); returns their names. A second upgrade
    /// running at this moment loses its copy in progress: its rename then fails and it stops
    /// with the catalog unchanged, to be run again.
    static func removeInterruptedBackups(root: URL) throws -> [String] {
        let fm = FileManager.default
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: root.path) } catch {
            throw CatalogError.storage("cannot list \(root.path) for partial backup copies: \(error)")
        }
        let partial = names.filter { $0.hasPrefix(".manifest-0.3-backup-") && ($0.hasSuffix(".sqlite.partial") || $0.hasSuffix(".sqlite.partial-journal")) }
        for name in partial.sorted() {
            do { try fm.removeItem(at: root.appendingPathComponent(name)) } catch {
                throw CatalogError.storage("cannot remove \(root.appendingPathComponent(name).path), the partial backup copy of an interrupted upgrade: \(error); remove it by hand")
            }
        }
        return partial.sorted()
    }

    /// Where `backup(_:to:)` copies before the rename: hidden, and not the backup's name.
    static func partialBackupURL(_ url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent("." + url.lastPathComponent + ".partial")
    }

    /// Files DuckDB 1.4's merge recorded with partial_file_info, mapped to the partial_max 1.0
    /// gives them (nil: no retained snapshot needs their per-snapshot counts). Throws when a
    /// retained snapshot still reads such a file partially.
    private static func checkMergedFiles(_ db: Database, manifest: String) throws -> [Int64: Int64?] {
        var out: [Int64: Int64?] = [:]
        let rows = try Row.fetchAll(db, sql: """
            SELECT data_file_id, table_id, begin_snapshot, partial_file_info FROM ducklake_data_file
            WHERE partial_file_info IS NOT NULL AND partial_file_info != ''
            """)
        for r in rows {
            let id: Int64 = try r.value("data_file_id")
            let text: String = try r.value("partial_file_info")
            guard let through = try partialThrough(.string(text)) else { continue }
            if text.hasPrefix("partial_max:") {
                // A 0.4 development build's form; 1.0 keeps the number (DuckDB's migration does too).
                out[id] = through
                continue
            }
            let begin: Int64 = try r.value("begin_snapshot") ?? 0
            if let inside = try Int64.fetchOne(db, sql: """
                SELECT min(snapshot_id) FROM ducklake_snapshot WHERE snapshot_id >= ? AND snapshot_id < ?
                """, arguments: [begin, through]) {
                let tableID: Int64 = try r.value("table_id") ?? -1
                throw CatalogError.upgradeRefused(path: manifest, reason: """
                    data file \(id) (table id \(tableID)) holds rows DuckDB 1.4's ducklake_merge_adjacent_files merged from \
                    snapshots \(begin) to \(through), with per-snapshot row counts '\(text)' that DuckLake 1.0 cannot record, \
                    so snapshot \(inside) would read more rows after the upgrade. Expire snapshots \(begin) to \(through - 1) \
                    first (DuckDB 1.4: CALL ducklake_expire_snapshots('<alias>', versions => [...])), or migrate with DuckDB 1.5's \
                    AUTOMATIC_MIGRATION if that history may change
                    """)
            }
            out[id] = .some(nil)
        }
        return out
    }

    private static func migrate03to10(_ db: Database, partials: [Int64: Int64?], manifest: String) throws -> [String] {
        var steps: [String] = []
        let added = DuckLakeSchema.tables.filter { DuckLakeSchema.addedIn10.contains(DuckLakeSchema.name(ofDDL: $0)) }
        for ddl in added { try db.execute(sql: ddl) }
        steps.append("created the tables 1.0 adds: " + added.map(DuckLakeSchema.name(ofDDL:)).joined(separator: ", "))

        // Column text is appended exactly as the 1.0 DDL spells it, so sqlite_master ends up
        // byte-identical to a catalog created at 1.0 (checked below).
        try db.execute(sql: "ALTER TABLE ducklake_column ADD COLUMN default_value_type VARCHAR")
        try db.execute(sql: "ALTER TABLE ducklake_column ADD COLUMN default_value_dialect VARCHAR")
        try db.execute(sql: "UPDATE ducklake_column SET default_value_type = 'literal'")
        steps.append("ducklake_column: added default_value_type ('literal' for its \(db.changesCount) rows: 0.3 defaults are literals) and default_value_dialect")

        try db.execute(sql: "ALTER TABLE ducklake_data_file ADD COLUMN partial_max BIGINT")
        for (id, max) in partials.sorted(by: { $0.key < $1.key }) {
            try db.execute(sql: "UPDATE ducklake_data_file SET partial_max = ? WHERE data_file_id = ?", arguments: [max, id])
        }
        try db.execute(sql: "ALTER TABLE ducklake_data_file DROP COLUMN partial_file_info")
        steps.append("ducklake_data_file: partial_file_info replaced by partial_max (\(partials.count) merged files)")
        try db.execute(sql: "ALTER TABLE ducklake_delete_file ADD COLUMN partial_max BIGINT")
        steps.append("ducklake_delete_file: added partial_max")

        // 0.3 recorded each schema change once per snapshot; 1.0 per table. Every table alive at
        // a change gets that row (DuckDB's own migration does the same).
        let global = try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_schema_versions") ?? 0
        try db.execute(sql: "ALTER TABLE ducklake_schema_versions ADD COLUMN table_id BIGINT")
        try db.execute(sql: """
            INSERT INTO ducklake_schema_versions (table_id, begin_snapshot, schema_version)
            SELECT t.table_id, sv.begin_snapshot, sv.schema_version
            FROM ducklake_schema_versions sv JOIN ducklake_table t
              ON sv.begin_snapshot BETWEEN t.begin_snapshot AND COALESCE(t.end_snapshot, sv.begin_snapshot)
            WHERE sv.table_id IS NULL
            """)
        let perTable = db.changesCount
        try db.execute(sql: "DELETE FROM ducklake_schema_versions WHERE table_id IS NULL")
        steps.append("ducklake_schema_versions: \(global) rows per snapshot became \(perTable) rows per table")

        try db.execute(sql: "UPDATE ducklake_metadata SET value = ? WHERE key = 'version' AND scope IS NULL",
                       arguments: [DuckLakeSchema.version])
        steps.append("ducklake_metadata: version 0.3 -> 1.0")

        // The result must be the 1.0 layout exactly, or DuckDB and we would disagree on it.
        let ddl = Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: """
            SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'ducklake%'
            """).map { (($0["name"] as String?) ?? "", ($0["sql"] as String?) ?? "") })
        for expected in DuckLakeSchema.tables {
            let name = DuckLakeSchema.name(ofDDL: expected)
            guard ddl[name] == expected else {
                throw CatalogError.upgradeRefused(path: manifest, reason: "after migration \(name) is `\(ddl[name] ?? "missing")`, not the 1.0 layout `\(expected)`")
            }
        }
        return steps
    }
}

extension Row {
    /// Decodes a catalog column, reporting NULLs or wrong types in required columns as a
    /// corrupt catalog instead of trapping (GRDB's subscripts trap on failed conversions).
    fileprivate func value<T: DatabaseValueConvertible>(_ column: String) throws -> T {
        do {
            return try decode(T.self, forColumn: column)
        } catch {
            throw CatalogError.corrupt("unreadable catalog column \(column): \(error)")
        }
    }
}
