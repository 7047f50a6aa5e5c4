import Foundation
import LakeFormat

/// Everything the catalog layer can refuse, each with enough context for a user to act on.
public enum CatalogError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `Catalog.open(create: false)` on a directory without a manifest.
    case notFound(path: String)
    /// A DuckLake 0.3 catalog (earlier builds, DuckDB 1.3/1.4): read, but written only after `lake upgrade`.
    case upgradeRequired(path: String, version: String)
    /// A catalog newer than 1.0 (DuckDB 2.0's DuckLake 1.1): read while what we read is unchanged, never written.
    case newerCatalog(path: String, version: String)
    /// A lake DuckDB created with `ATTACH … (ENCRYPTED)`: its Parquet files are encrypted, which
    /// this build neither reads nor writes.
    case encryptedLake(path: String)
    /// `lake catalog copy` moved the lake's catalog to `target` and retired this one.
    case retiredCatalog(path: String, target: String, since: String, undo: String)
    /// The catalog's data path is outside the lake directory (`--lake`): a write would add and
    /// delete files of another directory, e.g. the original's, from a copy whose catalog kept
    /// the absolute DATA_PATH DuckDB was attached with.
    case dataPathOutsideLake(path: String, dataPath: String, lake: String)
    /// A data file is missing under --lake, and so is the catalog's first live data file: the
    /// catalog (kept apart from its files, e.g. in PostgreSQL) resolves its relative data path
    /// against a --lake that is most likely not the directory the lake's files were written to.
    case filesNotUnderLake(missing: String, MisplacedFiles)
    /// No DuckLake catalog in the connection's current schema, but other schemas of the database
    /// hold one (the connection did not set the search_path the catalog was made with).
    case catalogInOtherSchema(path: String, current: String, schemas: [String])
    /// `lake upgrade` found something it cannot carry to 1.0 without changing what a snapshot reads.
    case upgradeRefused(path: String, reason: String)
    /// Rows DuckDB keeps inside the catalog (data inlining) instead of in Parquet files; we read only files.
    case inlinedData(table: String, rows: Int64, snapshot: Int64)
    /// A file DuckDB 1.4 merged from several snapshots' inserts in a DuckLake 0.3 lake, read at a
    /// snapshot inside that range: 0.3 records how many rows each snapshot added
    /// (partial_file_info), not which, so the rows cannot be filtered. (A 1.0 merged file labels
    /// each row with its snapshot and is read at any snapshot.)
    case partialFile(table: String, dataFileID: Int64, snapshot: Int64, through: Int64)
    /// The manifest exists but is not a DuckLake catalog we can read (missing tables, other version).
    case incompatibleCatalog(path: String, reason: String)
    case snapshotNotFound(id: Int64, oldest: Int64, latest: Int64)
    case noSnapshotAtTime(requested: Date, first: Date, firstID: Int64)
    case invalidAsOf(text: String)
    case schemaNotFound(name: String, snapshot: Int64)
    case schemaExists(name: String)
    case tableNotFound(name: String, snapshot: Int64)
    case tableIDNotFound(id: Int64, snapshot: Int64)
    case tableExists(name: String)
    case columnNotFound(table: String, column: String)
    case columnIDNotFound(table: String, columnID: Int64)
    case columnExists(table: String, column: String)
    case duplicateColumn(table: String, column: String)
    case invalidName(kind: String, name: String, reason: String)
    case partitionColumnNotFound(table: String, column: String)
    case partitionValuesMismatch(table: String, expected: [String], got: [String])
    case cannotDropPartitionColumn(table: String, column: String)
    case cannotDropLastColumn(table: String)
    case notNullWithoutDefault(table: String, column: String)
    case unsupportedTypeChange(table: String, column: String, from: String, to: String)
    case unsupportedColumnType(table: String, column: String, duckLakeType: String)
    case invalidDataFilePath(path: String, reason: String)
    case invalidStats(column: String, reason: String)
    case dataFileNotFound(id: Int64, snapshot: Int64)
    /// A commit after this writer's base snapshot changed what it relied on (the table's
    /// columns, a data file it meant to replace). Nothing was committed; re-read and retry.
    case conflict(table: String, snapshot: Int64, reason: String)
    /// Another writer held the catalog's write lock for longer than the busy timeout, on every retry.
    case busy(attempts: Int)
    case corrupt(String)
    /// An SQLite or file-system failure the catalog does not interpret further.
    case storage(String)
    /// The catalog's server cannot be reached: a PostgreSQL connection refused, or lost (a
    /// server restart, a failover). Nothing was committed by the statement that failed; the
    /// same work can run again once the server answers (a follower waits for it: `--reconnect-for`).
    case unreachable(String)
    /// The catalog's server answered and refused the login (a wrong password, a role or database
    /// that does not exist, pg_hba.conf). Not worth waiting out: the URL or the server's
    /// settings must change first.
    case loginRefused(String)

    /// A database failure as the catalog reports it: a lost or refused connection is
    /// `unreachable` (worth waiting out), a refused login `loginRefused`, anything else `storage`.
    init(_ error: SQLError) {
        switch error.kind {
        case .connection: self = .unreachable(error.message)
        case .loginRefused: self = .loginRefused(error.message)
        case .retryable, .other: self = .storage(error.message)
        }
    }

    public var description: String {
        switch self {
        case .notFound(let p):
            // A SQLite catalog is named by its manifest; the user named the lake root (--lake).
            if p.hasSuffix("/" + Catalog.manifestName) {
                let root = String(p.dropLast(Catalog.manifestName.count + 1))
                return "no lake at \(root) (no \(Catalog.manifestName) there; run `lake init --lake \(root)` or `lake run`, or point --lake at an existing lake)"
            }
            return "no lake catalog at \(p); run `lake init` first or point --lake at an existing lake"
        case .catalogInOtherSchema(let p, let current, let schemas):
            let first = schemas[0]
            let example = p.hasPrefix("postgres") ? "add ?options=-csearch_path%3D\(first) to the URL" : "add options='-c search_path=\(first)' to the keyword string"
            return "no lake catalog in schema \(current) (the connection's current schema) of \(p), but schema "
                + "\(schemas.joined(separator: ", ")) holds one: name its schema in the connection (\(example)); nothing was read or written"
        case .dataPathOutsideLake(let p, let data, let lake):
            return "\(p) stores the data path \(data), which is outside the lake directory \(lake): a write here would add "
                + "and delete files there (a copy of a lake whose catalog keeps an absolute data path still names the "
                + "original's directory, and a vacuum of the copy would delete files only the original reads). Nothing was "
                + "written; reads work as they are. Write through the lake that owns \(data); or, if this is a copy meant "
                + "to be a lake of its own (its files beside its catalog), point its data path at its own directory once: "
                + "UPDATE ducklake_metadata SET value = './' WHERE key = 'data_path' AND scope IS NULL (with sqlite3 on "
                + "the manifest, or psql for a PostgreSQL catalog)"
        case .filesNotUnderLake(let missing, let m):
            let dir = m.lake.hasSuffix("/") ? m.lake : m.lake + "/"
            let probe = dir + m.probe
            let stored = m.storedDataPath.isEmpty ? "it stores no data path" : "its data path as stored: '\(m.storedDataPath)'"
            return "\(missing): no such file. The catalog \(m.catalog) keeps its files in the lake directory (\(stored)), so its "
                + "files are read under --lake \(m.lake), and \(missing == probe ? "it is the catalog's first live data file: none of them is there" : "the catalog's first live data file, \(probe), is not there either")"
                + ": --lake most likely does not name the directory this lake's files were written to. Pass --lake the directory "
                + "that holds \(m.probe) (the lake's raw/ and curated/ directories); if --lake is right, the files are gone: "
                + "`lake verify` lists the missing ones"
        case .upgradeRequired(let p, let v):
            return "\(p) is a DuckLake \(v) catalog: this build reads it but writes only DuckLake 1.0 (the version DuckDB 1.5 and later attach); nothing was written. Run `lake upgrade` once (add --lake DIR for another lake): it backs the catalog up next to it and migrates it in place; `lake upgrade --dry-run` shows the plan"
        case .newerCatalog(let p, let v):
            return "\(p) is a DuckLake \(v) catalog, newer than the 1.0 this build writes: it is read as it is and never changed, so nothing was written. Write to it with the engine that migrated it (DuckDB 2.0 or later), or restore the catalog's 1.0 backup to keep writing with lake"
        case .retiredCatalog(let p, let target, let since, let undo):
            let use = CatalogLocation.parse(target).isPostgres ? "use --catalog \(target) (or LAKE_CATALOG)"
                : "use the copy, which serves once it is the lake's manifest.sqlite (move this catalog aside, then the copy there)"
            return "\(p) was copied to \(target) by `lake catalog copy` (\(since)) and retired: a write or vacuum through it would split the lake "
                + "in two (each catalog's vacuum deletes the files only the other one names); nothing was done. Write through the copy: \(use). "
                + "To make this catalog the lake's again instead, stop using the copy, then run: \(undo)"
        case .encryptedLake(let p):
            return "\(p) is an encrypted DuckLake (created by DuckDB with ATTACH … (ENCRYPTED): every data file is encrypted Parquet, its key kept in the catalog). lake reads and writes only unencrypted Parquet, so it writes nothing to this lake (a file it wrote would be stored unencrypted) and reads only its catalog (snapshots, tables, schemas); nothing was written. Use DuckDB for this lake's data"
        case .upgradeRefused(let p, let r):
            return "cannot upgrade \(p) to DuckLake 1.0: \(r); nothing was changed"
        case .inlinedData(let t, let n, let s):
            return "table \(t) has \(n) rows inlined in the catalog at snapshot \(s) (DuckDB's data inlining); every read includes them, but this command rewrites or deletes rows in Parquet files only (`lake delete`, `lake erase`, `lake schema migrate --rewrite`) and refuses such a table. Write them out with DuckDB first: CALL ducklake_flush_inlined_data('<catalog alias>'), or attach with DATA_INLINING_ROW_LIMIT 0 before inserting"
        case .partialFile(let t, let f, let s, let m):
            return "table \(t) at snapshot \(s) reads data file \(f), which DuckDB 1.4's ducklake_merge_adjacent_files merged from inserts up to snapshot \(m) in this DuckLake 0.3 lake; 0.3 does not record which row came from which snapshot, so lake cannot read it before snapshot \(m). Read at snapshot \(m) or later, or use DuckDB 1.4 for this time travel"
        case .incompatibleCatalog(let p, let r):
            return "\(p) is not a DuckLake catalog this build can use: \(r)"
        case .snapshotNotFound(let id, let oldest, let latest):
            return "snapshot \(id) does not exist (the retained snapshots run from \(oldest) to \(latest)\(id < oldest ? "; older ones were expired by a vacuum" : "")); see `lake snapshots`"
        case .noSnapshotAtTime(let t, let first, let firstID):
            return "no snapshot at or before \(Timestamps.iso(t)); the oldest retained snapshot, \(firstID), was committed at \(Timestamps.iso(first))"
        case .invalidAsOf(let t):
            return "cannot read --as-of '\(VisibleText.escape(t))': give a snapshot id (e.g. 12) or an ISO-8601 UTC time between years 0001 and 9999 (e.g. 2024-02-01T00:00:00Z or 2024-02-01)"
        case .schemaNotFound(let n, let s):
            return "schema '\(n)' does not exist at snapshot \(s)"
        case .schemaExists(let n):
            return "schema '\(n)' already exists"
        case .tableNotFound(let n, let s):
            return "table \(n) does not exist at snapshot \(s); see `lake tables`"
        case .tableIDNotFound(let id, let s):
            return "no table with id \(id) at snapshot \(s)"
        case .tableExists(let n):
            return "table \(n) already exists"
        case .columnNotFound(let t, let c):
            return "table \(t) has no column '\(c)'"
        case .columnIDNotFound(let t, let c):
            return "table \(t) has no column with id \(c)"
        case .columnExists(let t, let c):
            return "table \(t) already has a column '\(c)'"
        case .duplicateColumn(let t, let c):
            return "column '\(c)' is listed twice for table \(t)"
        case .invalidName(let k, let n, let r):
            return "invalid \(k) name '\(n)': \(r)"
        case .partitionColumnNotFound(let t, let c):
            return "cannot partition \(t) by '\(c)': no such column"
        case .partitionValuesMismatch(let t, let e, let g):
            return "data file for \(t) must give partition values for exactly [\(e.joined(separator: ", "))], got [\(g.joined(separator: ", "))]"
        case .cannotDropPartitionColumn(let t, let c):
            return "cannot drop '\(c)' from \(t): the table is partitioned by it"
        case .cannotDropLastColumn(let t):
            return "cannot drop the last column of \(t)"
        case .notNullWithoutDefault(let t, let c):
            return "cannot add NOT NULL column '\(c)' to \(t) without a default: existing files have no values for it"
        case .unsupportedTypeChange(let t, let c, let f, let to):
            return "cannot change \(t).\(c) from \(f) to \(to): only widening changes (int32 to int64 or double, decimal to a larger precision at the same scale) keep existing files readable"
        case .unsupportedColumnType(let t, let c, let d):
            return "column \(t).\(c) has DuckLake type '\(d)', which the lake's column types cannot represent"
        case .invalidDataFilePath(let p, let r):
            return "invalid data file path '\(p)': \(r)"
        case .invalidStats(let c, let r):
            return "invalid statistics for column \(c): \(r)"
        case .dataFileNotFound(let id, let s):
            return "no live data file with id \(id) at snapshot \(s)"
        case .conflict(let t, let snap, let r):
            return "conflict on \(t): another writer committed snapshot \(snap) first (\(r)); nothing was committed, re-read the table and retry"
        case .busy(let n):
            return "the catalog stayed locked by another writer (a lake command, or DuckDB with the lake attached in an open transaction) "
                + "through \(n == 1 ? "a \(Int(Catalog.busyTimeout)) s wait" : "\(n) attempts of \(Int(Catalog.busyTimeout)) s"); nothing was committed: retry when the other write finishes"
        case .corrupt(let m):
            return "catalog is inconsistent: \(m)"
        case .storage(let m):
            return "catalog storage error: \(m)"
        case .unreachable(let m):
            return "catalog unreachable: \(m)"
        case .loginRefused(let m):
            return "the catalog's server refused the login: \(m); check the user, password and database in the catalog URL "
                + "(or PGPASSWORD, ~/.pgpass) and the server's pg_hba.conf. Waiting will not help; the step that needed the "
                + "connection committed nothing, and a run again with a working login resumes after the last commit"
        }
    }
}

extension CatalogError: LocalizedError {
    public var errorDescription: String? { description }
}

/// COMMIT was sent and its outcome is unknown: the connection to a PostgreSQL catalog dropped
/// while it was in flight, or a SQLite catalog's COMMIT failed with an I/O error after its
/// commit frame may have reached the log (`SQLiteStore.commitMayHaveLanded`). Whoever wrote
/// files for the commit must keep them, as a committed snapshot may reference them; vacuum
/// removes them once it sees that none does. Not a `CatalogError` case, so no retry loop
/// repeats such a commit.
public struct CommitOutcomeUnknown: Error, CustomStringConvertible, LocalizedError, Sendable {
    public let location: String
    public let detail: String
    /// The connection to the catalog's server was lost (PostgreSQL), not a local I/O error
    /// (SQLite): waiting for the server and starting again from the latest snapshot is safe.
    public var connectionLost = false

    public var description: String {
        "the catalog \(location) could not confirm COMMIT (\(detail)): the commit may or may not have happened, so its files were kept. "
            + "Once the catalog answers again, run `lake verify`, then the same command again: it starts from the latest committed snapshot, "
            + "so nothing is applied twice (an ingest skips a source already committed, a delete or compaction finds what is left, "
            + "a migration that landed refuses as not forward); `lake report snapshots` shows whether it landed, "
            + "and `lake vacuum` removes the kept files of a commit that did not once they are older than its retention"
    }

    public var errorDescription: String? { description }
}

extension Catalog {
    /// Whether the files written for a commit that threw `error` must stay: its COMMIT went
    /// unanswered (`CommitOutcomeUnknown`), or it landed and only settling its files failed
    /// (`committedFilesUnsettled`, thrown by `commit` after COMMIT: deleting them then would take
    /// a committed snapshot's rows). Any other error, from `commit` or before it, left no
    /// snapshot that names them, so the writer deletes them rather than leave them to vacuum.
    public static func commitMayHaveLanded(_ error: any Error) -> Bool {
        if error is CommitOutcomeUnknown { return true }
        if case CatalogSafetyError.committedFilesUnsettled? = error as? CatalogSafetyError { return true }
        return false
    }
}
