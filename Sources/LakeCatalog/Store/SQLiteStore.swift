import Foundation
import GRDB
import GRDBSQLite

/// The SQLite backend: a GRDB pool on `<lake>/manifest.sqlite` (WAL, one writer connection,
/// readers in parallel). The only file of the catalog besides Upgrade that sees GRDB.
final class SQLiteStore: CatalogStore, @unchecked Sendable {
    let pool: DatabasePool
    let path: String
    /// The schema version the writer connection's GRDB cache was last checked at; touched only
    /// on that connection's queue (`forgetStaleSchema`).
    private var writerSchemaVersion: Int64?
    var dialect: SQLDialect { .sqlite }
    var location: String { path }

    init(pool: DatabasePool, path: String) {
        self.pool = pool
        self.path = path
    }

    func read<T>(_ body: (SQLDatabase) throws -> T) throws -> T {
        try Self.translating { try pool.read { db in try body(Self.wrap(db)) } }
    }

    func write<T>(_ body: (SQLDatabase) throws -> T) throws -> T {
        try Self.translating {
            try pool.writeWithoutTransaction { db in
                var result: T?
                var committing = false
                do {
                    try db.inTransaction(.immediate) {
                        try forgetStaleSchema(db)
                        result = try body(Self.wrap(db))
                        committing = true
                        return .commit
                    }
                } catch let e as DatabaseError where committing && Self.commitMayHaveLanded(e) {
                    throw CommitOutcomeUnknown(location: path, detail: Self.shortened(e.description))
                }
                guard let result else { throw CatalogError.corrupt("a write transaction finished without a result") }
                return result
            }
        }
    }

    /// Whether COMMIT's error leaves its outcome open. An I/O error at COMMIT can come after the
    /// commit frame is in the log: the WAL's fsync failing (EIO), or growing the -shm failing
    /// (SQLITE_IOERR_SHMSIZE) once the frames are synced. The failed writer's own connection no
    /// longer sees the commit, but WAL recovery replays every complete, checksummed commit frame
    /// when the next process opens the catalog, so a writer that then deleted its files would
    /// leave a snapshot naming deleted files. CORRUPT and NOTADB at COMMIT are no better known.
    /// SQLITE_FULL is a short write of the log (SQLite maps a failed fsync to IOERR_FSYNC, never
    /// FULL): frames reach the log in order, the commit frame last, and recovery reads only whole
    /// frames whose salts and checksum chain hold, so a commit frame that was not wholly written
    /// is ignored. (The exception, a repeat of the commit frame padding the log to a sector, is
    /// written only without SQLITE_IOCAP_POWERSAFE_OVERWRITE, which the unix VFS has by default.)
    static func commitMayHaveLanded(_ e: DatabaseError) -> Bool {
        [.SQLITE_IOERR, .SQLITE_CORRUPT, .SQLITE_NOTADB].contains(e.resultCode)
    }

    func writeWithoutTransaction<T>(_ body: (SQLDatabase) throws -> T) throws -> T {
        try Self.translating {
            try pool.writeWithoutTransaction { db in
                try forgetStaleSchema(db)
                return try body(Self.wrap(db))
            }
        }
    }

    /// GRDB refreshes the schema its reader connections cache when another connection changed
    /// it, not the writer's: a table DuckDB created since (its first inlined delete makes
    /// `ducklake_inlined_delete_<table>`) stayed "missing" to every write of a long-lived catalog,
    /// which saw no inlined deletes where its reads saw them (a delete then conflicted with
    /// itself five times and failed). The schema version is read under the write lock.
    private func forgetStaleSchema(_ db: Database) throws {
        let version = try Int64.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        if writerSchemaVersion != version {
            db.clearSchemaCache()
            writerSchemaVersion = version
        }
    }

    func close() throws { try pool.close() }

    /// Opening a pool takes the write lock once: past the busy timeout, another writer holding
    /// it (a lake command, or DuckDB with the lake attached mid-transaction) is `.busy`, which
    /// says what to do, not SQLite's "database is locked".
    private static func lockedOr(_ error: Error, _ other: CatalogError) -> CatalogError {
        if let e = error as? DatabaseError, e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED {
            return .busy(attempts: 1)
        }
        return other
    }

    /// A pool on the manifest: read-write (WAL, synchronous=FULL) or read-only for a catalog
    /// newer than the one we write.
    static func open(path: String, readOnly: Bool) throws -> SQLiteStore {
        var config = Configuration()
        config.busyMode = .timeout(Catalog.busyTimeout)
        config.label = "lake.catalog"
        config.readonly = readOnly
        let pool: DatabasePool
        do {
            pool = try DatabasePool(path: path, configuration: config)
        } catch {
            let hint = readOnly ? "" : CatalogGuard.writeAccessHint(path)
            throw lockedOr(error, CatalogError.storage("cannot open \(path): \(error)" + CatalogGuard.fullDiskHint(path) + hint))
        }
        if !readOnly {
            // A returned commit must survive a power loss, not only a crash. GRDB switches a pool's
            // writer to synchronous=NORMAL when it enables WAL (after any prepareDatabase), and in
            // WAL mode NORMAL fsyncs the log only at checkpoints, so a power loss could take back
            // commits whose data files were synced. FULL syncs the log at every COMMIT. The pool
            // keeps one writer connection, so setting it once covers every commit.
            do {
                try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            } catch {
                throw lockedOr(error, CatalogError.storage("cannot configure \(path): \(error)" + CatalogGuard.fullDiskHint(path)
                    + CatalogGuard.writeAccessHint(path)))
            }
        }
        return SQLiteStore(pool: pool, path: path)
    }

    /// Opens with SQLite's read-only flag. A WAL-mode database normally needs its -shm file
    /// (created on open); in a directory this user cannot write, with no -wal/-shm left by a
    /// writer, SQLite cannot open it read-only at all, so it is opened as immutable: there is
    /// no log, the main file holds every committed snapshot. (Immutable means no locking: a
    /// writer that starts while we read is not seen, which a reader without write access to
    /// the directory accepts; see DESIGN.md.) `validate` returns the data_path and version.
    static func openReadOnly(manifest: URL, validate: @escaping (SQLDatabase) throws -> Catalog.OpenedCatalog) throws
        -> (SQLiteStore, Catalog.OpenedCatalog) {
        let fm = FileManager.default
        guard fm.fileExists(atPath: manifest.path) else { throw CatalogError.notFound(path: manifest.path) }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(Catalog.busyTimeout)
        config.label = "lake.catalog.readonly"
        func attempt(_ path: String) throws -> (SQLiteStore, Catalog.OpenedCatalog) {
            let store = SQLiteStore(pool: try DatabasePool(path: path, configuration: config), path: manifest.path)
            return (store, try Catalog.withRetry { try store.read { db in try validate(db) } })
        }
        // Not-a-catalog answers are final; only SQLite's refusal to open (no -shm possible) falls back.
        func isStorage(_ e: Error) -> Bool {
            if case CatalogError.storage = e { return true }
            return e is DatabaseError || e is SQLError
        }
        do {
            return try attempt(manifest.path)
        } catch let first where isStorage(first) {
            guard CatalogGuard.walIsEmpty(manifest) else {
                throw CatalogSafetyError.readOnlyOpenFailed(path: manifest.path, detail: "\(first); its write-ahead log "
                    + "\(manifest.lastPathComponent)-wal holds commits that need write access to the lake directory to read: "
                    + "ask its owner to run any lake command (which checkpoints the log) or grant write access")
            }
            do {
                return try attempt(CatalogGuard.immutableURI(manifest))
            } catch let second where isStorage(second) {
                throw CatalogSafetyError.readOnlyOpenFailed(path: manifest.path, detail: "\(first); opened as immutable: \(second)")
            }
        }
    }

    /// The catalog's DuckLake version, read through a short-lived read-only connection that
    /// changes nothing; nil when the file is absent or holds no DuckLake metadata yet.
    static func peekVersion(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(Catalog.busyTimeout)
        do {
            let queue = try DatabaseQueue(path: path, configuration: config)
            defer { try? queue.close() }  // closing a read-only connection can only fail on misuse; the read below reports real errors
            return try queue.read { db in
                guard try db.tableExists("ducklake_metadata") else { return nil }
                return try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'version' AND scope IS NULL")
            }
        } catch {
            // Only the read-write open (Catalog.open) peeks; readers open read-only or immutable.
            throw CatalogError.storage("cannot read \(path): \(error)" + CatalogGuard.fullDiskHint(path) + CatalogGuard.writeAccessHint(path))
        }
    }

    static func wrap(_ db: Database) -> SQLDatabase {
        SQLDatabase(dialect: .sqlite, backend: SQLiteBackend(db))
    }

    /// GRDB's errors become `SQLError`, whose kind the retry loop reads; everything else passes.
    static func translating<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as DatabaseError {
            throw sqlError(e)
        }
    }

    static func sqlError(_ e: DatabaseError) -> SQLError {
        let busy = e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED
        return SQLError(kind: busy ? .retryable : .other, code: "\(e.resultCode.rawValue)", message: shortened(e.description))
    }

    /// GRDB's description ends with the whole statement: for a multi-row insert (120 rows of
    /// placeholders) several KB of "(?, ?, …)" buried the cause, e.g. "database or disk is full"
    /// (session 13 probe). The cause and the statement's start stay.
    static func shortened(_ description: String) -> String {
        let marker = " - while executing `"
        let limit = 160
        guard let range = description.range(of: marker) else { return description }
        let sql = description[range.upperBound...].dropLast(description.hasSuffix("`") ? 1 : 0)
        guard sql.count > limit else { return description }
        return description[..<range.upperBound] + sql.prefix(limit) + "…` (\(sql.count) characters)"
    }
}

final class SQLiteBackend: SQLBackend {
    let db: Database
    init(_ db: Database) { self.db = db }

    static func arguments(_ values: [SQLValue]) -> StatementArguments {
        // Optional existentials, not [DatabaseValue]: GRDB converts a sequence of a concrete
        // type through the key path `\.databaseValue`, and these through a closure, about 15 %
        // cheaper (callgrind); either costs ~1,000 instructions a value, so the many rows of a
        // commit bypass GRDB's binding (`executePrepared`).
        StatementArguments(values.map { v -> (any DatabaseValueConvertible)? in
            switch v {
            case .null: return nil
            case .int64(let i): return i
            case .double(let d): return d
            case .string(let s): return s
            case .blob(let b): return b
            }
        })
    }

    static func value(_ v: DatabaseValue) -> SQLValue {
        switch v.storage {
        case .null: return .null
        case .int64(let i): return .int64(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .blob(let b): return .blob(b)
        }
    }

    func execute(sql: String, arguments: [SQLValue]) throws {
        try SQLiteStore.translating { try db.execute(sql: sql, arguments: Self.arguments(arguments)) }
    }

    /// The statement is GRDB's cached one, but its values are bound and it is stepped through
    /// SQLite's C API: GRDB's conversion of the arguments (an unspecialised generic map) and its
    /// binding cost about 20,000 instructions per row, ten times SQLite's insert, on the
    /// thousands of catalog rows of a commit (one per file and column) inserted while nothing
    /// else runs.
    func executePrepared(sql: String, arguments: [SQLValue]) throws {
        try SQLiteStore.translating {
            let statement = try db.cachedStatement(sql: sql)
            let s = statement.sqliteStatement
            func fail(_ rc: Int32) -> DatabaseError {
                DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(s))), sql: sql)
            }
            sqlite3_reset(s)
            defer {
                sqlite3_reset(s)
                sqlite3_clear_bindings(s)
            }
            let parameters = Int(sqlite3_bind_parameter_count(s))
            guard parameters == arguments.count else {
                let message = "\(arguments.count) values for \(parameters) parameters"
                throw DatabaseError(resultCode: .SQLITE_MISUSE, message: message, sql: sql)
            }
            for (k, v) in arguments.enumerated() {
                let i = Int32(k + 1)
                let rc: Int32
                switch v {
                case .null: rc = sqlite3_bind_null(s, i)
                case .int64(let n): rc = sqlite3_bind_int64(s, i, n)
                case .double(let d): rc = sqlite3_bind_double(s, i, d)
                case .string(let text):
                    // As GRDB binds a String (a C string: the text ends at a NUL, if any), so the
                    // catalog holds what it held before.
                    rc = text.withCString { sqlite3_bind_text(s, i, $0, -1, Self.transient) }
                case .blob(let b):
                    // As GRDB binds Data (an empty one may have no address, which binds NULL).
                    rc = b.withUnsafeBytes { sqlite3_bind_blob(s, i, $0.baseAddress, Int32($0.count), Self.transient) }
                }
                if rc != SQLITE_OK { throw fail(rc) }
            }
            let rc = sqlite3_step(s)
            if rc != SQLITE_DONE && rc != SQLITE_ROW { throw fail(rc) }
        }
    }

    /// SQLite's SQLITE_TRANSIENT (copy the value now), a C macro Swift does not import.
    private static let transient = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

    func fetch(sql: String, arguments: [SQLValue]) throws -> [SQLRow] {
        try SQLiteStore.translating {
            let statement = try db.cachedStatement(sql: sql)
            let names = SQLRow.Names(statement.columnNames)
            let width = statement.columnCount
            var out: [SQLRow] = []
            let cursor = try Row.fetchCursor(statement, arguments: Self.arguments(arguments))
            while let row = try cursor.next() {
                var values: [SQLValue] = []
                values.reserveCapacity(width)
                for i in 0 ..< width { values.append(Self.value(row[i] as DatabaseValue)) }
                out.append(SQLRow(names: names, values: values))
            }
            return out
        }
    }

    func tableExists(_ name: String) throws -> Bool {
        try SQLiteStore.translating { try db.tableExists(name) }
    }

    func columns(in table: String) throws -> [String] {
        try SQLiteStore.translating { try db.columns(in: table).map(\.name) }
    }

    var changesCount: Int { db.changesCount }
}

extension Catalog {
    /// The GRDB pool of a SQLite catalog, for tests that inspect or damage the file directly.
    var pool: DatabasePool {
        guard let sqlite = store as? SQLiteStore else { preconditionFailure("not a SQLite catalog: \(locationText)") }
        return sqlite.pool
    }
}
