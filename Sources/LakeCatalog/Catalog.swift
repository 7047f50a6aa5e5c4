import Foundation
import LakeFormat

/// A lake's DuckLake catalog: `<root>/manifest.sqlite`.
///
/// Reads run against one SQLite read transaction each, so a read never mixes two snapshots'
/// metadata; writes go through `commit`, one `BEGIN IMMEDIATE` transaction per snapshot, so a
/// reader sees a commit entirely or not at all. The type is a value holding a connection pool;
/// copies share the pool.
public struct Catalog: Sendable {
    public static let manifestName = "manifest.sqlite"
    /// ducklake_metadata.created_by of catalogs we create. Such a catalog always sits in its lake
    /// root, so its data lives next to it wherever the directory has been moved to.
    static let createdBy = "lake (Swift)"

    public let root: URL
    /// `<root>/manifest.sqlite` for a SQLite catalog; for a PostgreSQL one, where a SQLite
    /// catalog of this lake would be (nothing reads or writes it).
    public let manifestURL: URL
    /// Where the catalog lives: the SQLite file or the PostgreSQL database.
    public let location: CatalogLocation
    /// Where relative schema paths resolve: DuckLake's data_path (ours is the lake root).
    public let dataPath: URL
    /// The lake's data and delete files: every byte of them goes through this storage.
    public let files: LakeFiles
    let store: any CatalogStore
    /// The DuckLake version of the catalog: 1.0 is read and written; 0.3 is read until `upgrade`;
    /// a newer one is read through a read-only connection and never written.
    public let format: CatalogFormat
    /// DuckLake's `encrypted` option (DuckDB's `ATTACH … (ENCRYPTED)`, set when the catalog is
    /// created): the data files are Parquet-encrypted with keys kept in the catalog. This build
    /// reads and writes only plain Parquet, so such a lake is never written (`requireWritable`:
    /// a file we wrote would sit unencrypted in a lake its owner asked to keep encrypted) and its
    /// files are refused on read (`DataFile.encrypted`), never misread as corrupt.
    public let encrypted: Bool
    /// Test instrumentation at the named points of `commit`; `.none` outside the crash tests.
    public var hooks: CommitHooks = .none
    /// Whether this `open` created the catalog (a writing command given a path with no lake):
    /// the caller says so, since a mistyped --lake would otherwise start a new lake silently.
    public private(set) var created = false
    /// Tables and registered schema versions as of one schema_version, shared by this
    /// catalog's copies (see `SchemaCache`).
    let schemaCache = SchemaCache()

    /// How long a writer waits for another process's write lock before a retry.
    static let busyTimeout: TimeInterval = 10
    static let commitAttempts = 5

    /// The catalog's location for messages (a PostgreSQL password is masked).
    public var locationText: String { location.description }

    /// Opens (and with `create`, creates) the lake's catalog: `catalog` names a PostgreSQL
    /// database or a SQLite file; nil means `<root>/manifest.sqlite`. Data files always live
    /// under `root`.
    public static func open(root: URL, catalog: CatalogLocation?, create: Bool = true, readOnly: Bool = false,
                            overExistingData: Bool = false, hooks: CommitHooks = .none, storage: (any Storage)? = nil) throws -> Catalog {
        switch catalog {
        case .postgres(let conninfo)?:
            return try openPostgres(root: root.standardizedFileURL, conninfo: conninfo, create: create, readOnly: readOnly,
                                    overExistingData: overExistingData, hooks: hooks, storage: storage)
        case .sqlite(let file)? where file.standardizedFileURL != root.standardizedFileURL.appendingPathComponent(manifestName):
            throw CatalogError.storage("a SQLite catalog lives in its lake root as \(manifestName); got \(file.path): pass that lake's root as --lake (a copy made by `lake catalog copy` becomes a lake's catalog when moved to <lake>/\(manifestName), the old one moved aside first)")
        default:
            return try open(root: root, create: create, readOnly: readOnly, overExistingData: overExistingData, hooks: hooks, storage: storage)
        }
    }

    /// Opens (and with `create`, creates) the catalog at `<root>/manifest.sqlite`. A new catalog
    /// gets every DuckLake 1.0 table, its metadata rows and snapshot 0 with schema "main", as
    /// DuckDB 1.5's ducklake extension does. An existing 0.3 catalog opens for reading (writes
    /// throw `upgradeRequired`); one newer than 1.0 opens read-only (writes throw `newerCatalog`).
    ///
    /// A catalog is only created in a directory without data files (`overExistingData` overrides
    /// that, for `lake init --force`): a lost manifest must not be silently replaced by an empty
    /// one. `readOnly` opens without ever writing (read-only mounts, users without write
    /// permission); such a catalog can read but not commit.
    ///
    /// `storage` holds the data files (nil: `LocalStorage` at `root`, every lake's today; tests
    /// pass another to prove nothing bypasses it).
    public static func open(root: URL, create: Bool = true, readOnly: Bool = false, overExistingData: Bool = false,
                            hooks: CommitHooks = .none, storage: (any Storage)? = nil) throws -> Catalog {
        let root = root.standardizedFileURL
        let files = LakeFiles(storage: storage ?? LocalStorage(root: root), root: root)
        let manifest = root.appendingPathComponent(manifestName)
        let fm = FileManager.default
        if readOnly {
            let (store, opened) = try SQLiteStore.openReadOnly(manifest: manifest, validate: { db in
                guard try db.tableExists("ducklake_metadata") else { throw CatalogError.notFound(path: manifest.path) }
                return try Self.validate(db, root: root, manifest: manifest.path)
            })
            let dataPath = resolveDataPath(opened.dataPath, root: root)
            return Catalog(root: root, manifestURL: manifest, location: .sqlite(manifest), dataPath: dataPath,
                           files: files.servingDataPath(dataPath, defaultStorage: storage == nil), store: store, format: opened.format,
                           encrypted: opened.encrypted, hooks: hooks)
        }
        if CatalogGuard.manifestIsBlank(manifest) {
            // Checked before SQLite opens (and so writes to) the file: a command that may not
            // create a catalog leaves an emptied manifest as it found it.
            // Data files without a catalog is a lost manifest, not a mistyped --lake: say that.
            guard create else { try CatalogGuard.requireNoData(files); throw CatalogError.notFound(path: manifest.path) }
            if !overExistingData { try CatalogGuard.requireNoData(files) }
        }
        if !fm.fileExists(atPath: manifest.path) {
            guard create else { try CatalogGuard.requireNoData(files); throw CatalogError.notFound(path: manifest.path) }
            do {
                try fm.createDirectory(at: root, withIntermediateDirectories: true)
            } catch {
                throw CatalogError.storage("cannot create lake directory \(root.path): \(fileErrorText(error))")
            }
        }
        // A catalog newer than the one we write must not change at all, not even its journal
        // mode (a read-write pool switches the file to WAL), so it gets a read-only pool.
        let peeked = try SQLiteStore.peekVersion(manifest.path)
        let store = try SQLiteStore.open(path: manifest.path, readOnly: peeked.map { CatalogFormat(version: $0).isNewer } ?? false)
        let opened = try prepare(store: store, files: files, location: manifest.path, create: create, overExistingData: overExistingData)
        let dataPath = resolveDataPath(opened.dataPath, root: root)
        return Catalog(root: root, manifestURL: manifest, location: .sqlite(manifest), dataPath: dataPath,
                       files: files.servingDataPath(dataPath, defaultStorage: storage == nil), store: store, format: opened.format,
                       encrypted: opened.encrypted, hooks: hooks, created: opened.created)
    }

    /// Validates an opened catalog, and creates or completes it as `open` describes; returns its
    /// data_path and version. Shared by both backends.
    private static func prepare(store: any CatalogStore, files: LakeFiles, location: String, create: Bool,
                                overExistingData: Bool) throws -> OpenedCatalog {
        let root = URL(fileURLWithPath: files.root, isDirectory: true).standardizedFileURL
        // Opening an existing catalog only reads, so `lake tables` never queues behind a long commit.
        let existing: (opened: OpenedCatalog, absolute: Bool, bookkeeping: Bool)? = try withRetry {
            try store.read { db in
                guard try db.tableExists("ducklake_metadata") else { return nil }
                let opened = try Self.validate(db, root: root, manifest: location)
                if opened.format.isNewer { return (opened, false, true) }
                return (opened, try Self.hasAbsoluteDataPath(db), try Bookkeeping.complete(db))
            }
        }
        if let existing {
            // Only a lake made before data paths were relative, or without all of our lake_*
            // tables (made by DuckDB, just upgraded, or by an older build), takes the write lock
            // here, once. A 0.3 or newer catalog is not changed at all.
            if existing.opened.format == .v10 && (existing.absolute || !existing.bookkeeping) {
                try withRetry {
                    try store.write { db in
                        try Self.relativizeDataPath(db)
                        try Bookkeeping.ensure(db)
                    }
                }
            }
            return existing.opened
        }
        // A database without the DuckLake tables: creating them is creating a catalog.
        if create && !overExistingData { try CatalogGuard.requireNoData(files) }
        return try withRetry {
            try store.write { db in try Self.bootstrap(db, root: root, create: create, manifest: location) }
        }
    }

    /// Opens the catalog in a PostgreSQL database (`conninfo`: a libpq URL or keyword string).
    /// An empty database becomes a DuckLake 1.0 catalog with `create`; a database with other
    /// tables but no ducklake_metadata is refused as not a lake.
    private static func openPostgres(root: URL, conninfo: String, create: Bool, readOnly: Bool, overExistingData: Bool,
                                     hooks: CommitHooks, storage: (any Storage)?) throws -> Catalog {
        let files = LakeFiles(storage: storage ?? LocalStorage(root: root), root: root)
        let store: PostgresStore
        do {
            store = try PostgresStore(conninfo: conninfo)
        } catch let e as SQLError {
            throw CatalogError(e)
        }
        let location = store.location
        let opened: OpenedCatalog
        if readOnly {
            opened = try withRetry {
                try store.read { db in
                    guard try db.tableExists("ducklake_metadata") else { throw try Self.missingPostgresCatalog(db, location: location) }
                    return try Self.validate(db, root: root, manifest: location)
                }
            }
        } else {
            let hasCatalog = try withRetry { try store.read { db in try db.tableExists("ducklake_metadata") } }
            if !hasCatalog {
                guard create else { throw try withRetry { try store.read { db in try Self.missingPostgresCatalog(db, location: location) } } }
                let others = try withRetry {
                    try store.read { db in
                        try String.fetchAll(db, sql: """
                            SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v') ORDER BY 1 LIMIT 3
                            """)
                    }
                }
                if !others.isEmpty {
                    throw CatalogError.incompatibleCatalog(path: location, reason: "the database holds other tables (\(others.joined(separator: ", "))) and no DuckLake catalog; give an empty database")
                }
                do {
                    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
                } catch {
                    throw CatalogError.storage("cannot create lake directory \(root.path): \(fileErrorText(error))")
                }
            }
            opened = try prepare(store: store, files: files, location: location, create: create, overExistingData: overExistingData)
        }
        let dataPath = resolveDataPath(opened.dataPath, root: root)
        var served = files.servingDataPath(dataPath, defaultStorage: storage == nil)
        if !opened.created && opened.dataPathFromLake {
            served.misplaced = try firstFileMissing(store: store, files: served, dataPath: dataPath, stored: opened.storedDataPath ?? "",
                                                    location: CatalogLocation.postgres(conninfo).description, root: root)
        }
        return Catalog(root: root, manifestURL: root.appendingPathComponent(manifestName), location: .postgres(conninfo),
                       dataPath: dataPath, files: served,
                       store: store, format: opened.format, encrypted: opened.encrypted, hooks: hooks, created: opened.created)
    }

    /// A catalog kept apart from its files resolves a relative data path against --lake, which
    /// nothing ties to the catalog: given the wrong directory, every read failed with a bare
    /// "…parquet: open failed: No such file or directory". One query and one stat at open: the
    /// catalog's first live data file, looked for under the data path. When it is missing, the
    /// result marks the files so that a missing file's error says --lake does not match (a
    /// missing file is not refused here: `lake verify` and the reads of other files still run).
    /// Unless one of the newest live files is there: then --lake is right and the first file
    /// is lost, which reads report as any lost file (session 18 left that case with the advice
    /// to change --lake, and writes refused until the file came back).
    private static func firstFileMissing(store: any CatalogStore, files: LakeFiles, dataPath: URL, stored: String,
                                         location: String, root: URL) throws -> MisplacedFiles? {
        let select = """
            SELECT d.data_file_id, d.path, d.path_is_relative, t.path AS tp, t.path_is_relative AS tr, t.table_name,
                   s.path AS sp, s.path_is_relative AS sr, s.schema_name
            FROM ducklake_data_file d
            JOIN ducklake_table t ON t.table_id = d.table_id AND t.end_snapshot IS NULL
            JOIN ducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL
            WHERE d.end_snapshot IS NULL
            """
        func path(_ row: SQLRow) throws -> String {
            let schemaDir = resolveDir(base: dataPath, path: try row.value("sp"), isRelative: try row.value("sr"), fallback: try row.value("schema_name") ?? "")
            let tableDir = resolveDir(base: schemaDir, path: try row.value("tp"), isRelative: try row.value("tr"), fallback: try row.value("table_name") ?? "")
            return fileURL(path: try row.value("path") ?? "", isRelative: try row.value("path_is_relative"), tableDir: tableDir).path
        }
        func exists(_ file: String) throws -> Bool {
            do { return try files.info(file) != nil } catch { throw CatalogError.storage("cannot look for \(file): \(error)") }
        }
        // A compaction and a vacuum of another process may retire and delete the file between
        // the query and the stat: a file no longer live is looked for again, with the next one.
        for _ in 0 ..< 3 {
            let row = try withRetry { try store.read { db in try SQLRow.fetchOne(db, sql: select + " ORDER BY d.data_file_id LIMIT 1") } }
            guard let row else { return nil }
            let file = try path(row)
            // A file DuckDB registered by absolute path does not depend on --lake.
            guard !files.isOutsideRoot(file) else { return nil }
            if try exists(file) { return nil }
            let id: Int64 = try row.value("data_file_id")
            let newest = try withRetry {
                try store.read { db in
                    try SQLRow.fetchAll(db, sql: select + " AND d.data_file_id <> ? ORDER BY d.data_file_id DESC LIMIT 3", arguments: [id])
                }
            }
            for other in newest {
                let f = try path(other)
                if !files.isOutsideRoot(f), try exists(f) { return nil }
            }
            let live = try withRetry {
                try store.read { db in
                    try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_data_file WHERE data_file_id = ? AND end_snapshot IS NULL", arguments: [id]) ?? 0
                }
            }
            if live > 0 {
                let prefix = files.root.hasSuffix("/") ? files.root : files.root + "/"
                return MisplacedFiles(catalog: location, storedDataPath: stored, lake: root.path, probe: String(file.dropFirst(prefix.count)))
            }
        }
        return nil
    }

    /// The error for a PostgreSQL database whose current schema holds no catalog: `notFound`,
    /// or, when other schemas hold a `ducklake_metadata`, the schemas to name in the connection.
    /// Before, "run `lake init` first" was the advice for a connection that only lacked the
    /// catalog's search_path, and `lake init` would have made a second, empty catalog.
    private static func missingPostgresCatalog(_ db: SQLDatabase, location: String) throws -> CatalogError {
        let current = try String.fetchOne(db, sql: "SELECT current_schema()") ?? "public"
        let others = try String.fetchAll(db, sql: """
            SELECT DISTINCT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relname = 'ducklake_metadata' AND c.relkind IN ('r', 'p') AND n.nspname <> ? ORDER BY 1 LIMIT 5
            """, arguments: [current])
        return others.isEmpty ? .notFound(path: location) : .catalogInOtherSchema(path: location, current: current, schemas: others)
    }

    /// What opening a catalog learns from its metadata.
    struct OpenedCatalog {
        /// ducklake_metadata's data_path as stored (ours: the lake root).
        var dataPath: String
        var format: CatalogFormat
        var encrypted: Bool
        /// Created by this open (`bootstrap`), not found.
        var created = false
        /// ducklake_metadata's data_path exactly as stored (nil: none).
        var storedDataPath: String? = nil
        /// Whether the data path is the lake directory or relative to it: --lake decides where
        /// the files are read (ours always; another engine's with a relative data_path).
        var dataPathFromLake = true
    }

    private static func resolveDataPath(_ text: String, root: URL) -> URL {
        if text.hasPrefix("/") { return URL(fileURLWithPath: text, isDirectory: true) }
        // A relative data_path is relative to the directory holding the manifest. The base must
        // be a directory URL: relative to ".../lake" (no trailing slash), "./" would be ".../".
        let base = URL(fileURLWithPath: root.path, isDirectory: true)
        return URL(fileURLWithPath: text, isDirectory: true, relativeTo: base).standardizedFileURL
    }

    /// Writes go only to DuckLake 1.0 catalogs that `lake catalog copy` has not retired; every
    /// write path (vacuum included) calls this before touching anything (data files included),
    /// so a refused write leaves no trace.
    public func requireWritable() throws {
        try requireCurrentFormat()
        if let r = try retirement() { throw retiredError(r) }
    }

    /// The format checks of `requireWritable` alone: what copying the catalog needs (a copy
    /// only reads its source, so a retired catalog can still be copied).
    func requireCurrentFormat() throws {
        if encrypted { throw CatalogError.encryptedLake(path: locationText) }
        // A wrong --lake for a catalog kept apart from its files: a write would put this
        // batch's files in the wrong directory (a lake split in two) or, for a vacuum, judge
        // every file there an orphan.
        if let m = files.misplaced {
            throw CatalogError.filesNotUnderLake(missing: (files.root.hasSuffix("/") ? files.root : files.root + "/") + m.probe, m)
        }
        switch format {
        case .v10: try requireDataPathInLake()
        case .v03: throw CatalogError.upgradeRequired(path: locationText, version: format.version)
        case .newer(let v): throw CatalogError.newerCatalog(path: locationText, version: v)
        case .older(let v): throw CatalogError.incompatibleCatalog(path: locationText, reason: CatalogFormat.olderReason(v))
        }
    }

    /// A catalog DuckDB created keeps the data path it was attached with, which we read as
    /// stored (`validate`). When that is not the lake directory or below it, the catalog is most
    /// likely a copy still naming the original's directory: writing would put files there, and a
    /// vacuum would delete every file there that this catalog does not reference, the original's
    /// newer files and the inputs of this copy's compactions included (found by the session 17
    /// probe: a vacuum of a copied DuckDB 1.4 lake after `lake upgrade` and `lake compact` broke
    /// the original). Symlinks resolved, so a lake reached through one is still inside itself.
    private func requireDataPathInLake() throws {
        func directory(_ url: URL) -> String {
            let p = url.resolvingSymlinksInPath().standardizedFileURL.path
            return p.hasSuffix("/") ? p : p + "/"
        }
        let lake = directory(root), data = directory(dataPath)
        guard data.hasPrefix(lake) else {
            throw CatalogError.dataPathOutsideLake(path: locationText, dataPath: data, lake: lake)
        }
    }

    /// Creates the DuckLake 1.0 tables and snapshot 0 when absent; returns the stored data_path.
    private static func bootstrap(_ db: SQLDatabase, root: URL, create: Bool, manifest: String) throws -> OpenedCatalog {
        // Another process may have created it between our read and this write transaction.
        if try db.tableExists("ducklake_metadata") { return try validate(db, root: root, manifest: manifest) }
        guard create else { throw CatalogError.notFound(path: manifest) }
        for ddl in db.dialect == .postgres ? DuckLakeSchema.postgresTables : DuckLakeSchema.tables { try db.execute(sql: ddl) }
        let meta: [(String, String)] = [
            ("version", DuckLakeSchema.version), ("created_by", createdBy),
            ("data_path", relativeDataPath), ("encrypted", "false"),
        ]
        for (k, v) in meta {
            try db.execute(sql: "INSERT INTO ducklake_metadata (key, value, scope, scope_id) VALUES (?, ?, NULL, NULL)", arguments: [k, v])
        }
        let now = Timestamps.timestampText(micros: Timestamps.micros(Date()))
        try db.execute(sql: "INSERT INTO ducklake_snapshot VALUES (0, ?, 0, 1, 0)", arguments: [now])
        try db.execute(sql: "INSERT INTO ducklake_snapshot_changes VALUES (0, ?, NULL, NULL, NULL)", arguments: [#"created_schema:"main""#])
        try db.execute(sql: "INSERT INTO ducklake_schema VALUES (0, ?, 0, NULL, 'main', 'main/', TRUE)", arguments: [UUID().uuidString.lowercased()])
        try Bookkeeping.ensure(db)
        // No ducklake_schema_versions row: in 1.0 its rows are per table, and there is none yet.
        return OpenedCatalog(dataPath: relativeDataPath, format: .v10, encrypted: false, created: true)
    }

    /// The data_path we store: relative, so the catalog names no absolute location and a moved
    /// or copied lake stays whole. We resolve it against the manifest's directory; DuckDB 1.5.5
    /// resolves a relative data_path against its working directory (tested in
    /// RelocationTests), so DuckDB started in the lake directory attaches any copy of the lake
    /// without DATA_PATH. DuckDB compares a DATA_PATH option with this text, so an attach from
    /// elsewhere passes `DATA_PATH '<lake>/', OVERRIDE_DATA_PATH TRUE`.
    static let relativeDataPath = "./"

    /// Rewrites an absolute data_path of a 1.0 catalog we created (lakes made before data paths
    /// were relative) to `relativeDataPath`. Metadata only, no snapshot: what any snapshot reads
    /// is unchanged, since we always read our lakes' files beside the manifest.
    private static func hasAbsoluteDataPath(_ db: SQLDatabase) throws -> Bool {
        let creator = try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'created_by' AND scope IS NULL")
        let path = try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'data_path' AND scope IS NULL")
        return creator == createdBy && path != relativeDataPath
    }

    private static func relativizeDataPath(_ db: SQLDatabase) throws {
        try db.execute(sql: """
            UPDATE ducklake_metadata SET value = ?
            WHERE key = 'data_path' AND scope IS NULL AND value <> ?
              AND EXISTS (SELECT 1 FROM ducklake_metadata WHERE key = 'created_by' AND scope IS NULL AND value = ?)
              AND EXISTS (SELECT 1 FROM ducklake_metadata WHERE key = 'version' AND scope IS NULL AND value = ?)
            """, arguments: [relativeDataPath, relativeDataPath, createdBy, DuckLakeSchema.version])
    }

    /// Checks an existing manifest is a complete DuckLake catalog we can read (1.0, 0.3, or a
    /// newer one whose columns we read are all still there); returns its data_path and version.
    static func validate(_ db: SQLDatabase, root: URL, manifest: String) throws -> OpenedCatalog {
        guard let version = try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'version' AND scope IS NULL") else {
            throw CatalogError.incompatibleCatalog(path: manifest, reason: "ducklake_metadata has no version")
        }
        let format = CatalogFormat(version: version)
        switch format {
        case .v10, .v03:
            for name in DuckLakeSchema.requiredTables(version: format.version) where try !db.tableExists(name) {
                throw CatalogError.incompatibleCatalog(path: manifest, reason: "table \(name) of DuckLake \(version) is missing")
            }
        case .newer:
            // Read a newer catalog only while every column we read is still where we read it.
            for (table, columns) in DuckLakeSchema.readColumns.sorted(by: { $0.key < $1.key }) {
                guard try db.tableExists(table) else {
                    throw CatalogError.incompatibleCatalog(path: manifest, reason: "DuckLake \(version) has no table \(table), which this build reads")
                }
                let present = Set(try db.columns(in: table).map(\.name))
                if let missing = columns.first(where: { !present.contains($0) }) {
                    throw CatalogError.incompatibleCatalog(path: manifest, reason: "DuckLake \(version) changed \(table) (no column \(missing)), which this build reads")
                }
            }
        case .older(let v):
            throw CatalogError.incompatibleCatalog(path: manifest, reason: CatalogFormat.olderReason(v))
        }
        guard try Int64.fetchOne(db, sql: "SELECT count(*) FROM ducklake_snapshot") ?? 0 > 0 else {
            throw CatalogError.incompatibleCatalog(path: manifest, reason: "no snapshots")
        }
        let creator = try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'created_by' AND scope IS NULL")
        let path = try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'data_path' AND scope IS NULL")
        // Our lakes keep data beside the manifest, so a moved or copied lake still finds its files,
        // whatever data_path an older build stored. Other catalogs' data path is taken as stored
        // (a relative one against the manifest's directory, see resolveDataPath).
        // DuckDB's ENCRYPTED option, fixed when the catalog is created: every data and delete
        // file is Parquet-encrypted with a key kept in the catalog.
        let encrypted = try String.fetchOne(db, sql: "SELECT value FROM ducklake_metadata WHERE key = 'encrypted' AND scope IS NULL") == "true"
        let fromLake = creator == createdBy || path == nil || !(path ?? "").hasPrefix("/")
        if creator == createdBy || path == nil {
            return OpenedCatalog(dataPath: root.path.hasSuffix("/") ? root.path : root.path + "/", format: format, encrypted: encrypted,
                                 storedDataPath: path, dataPathFromLake: fromLake)
        }
        return OpenedCatalog(dataPath: path ?? root.path + "/", format: format, encrypted: encrypted, storedDataPath: path, dataPathFromLake: fromLake)
    }

    // MARK: Reads

    /// All retained snapshots, oldest first.
    public func snapshots() throws -> [SnapshotInfo] {
        try read { db in try Self.fetchSnapshots(db) }
    }

    public func latestSnapshot() throws -> SnapshotInfo {
        try read { db in try Self.latest(db) }
    }

    /// The snapshot a read as of `asOf` sees; nil means the latest.
    public func resolve(_ asOf: AsOf?) throws -> SnapshotInfo {
        try read { db in try Self.resolve(db, asOf) }
    }

    /// Schema (layer) names visible at the snapshot, sorted.
    public func schemas(at asOf: AsOf? = nil) throws -> [String] {
        try read { db in
            let snap = try Self.resolve(db, asOf).id
            return try String.fetchAll(db, sql: "SELECT schema_name FROM ducklake_schema WHERE \(visibleAt) ORDER BY schema_name",
                                       arguments: [snap, snap])
        }
    }

    /// Tables visible at the snapshot, ordered by schema then table name.
    public func tables(at asOf: AsOf? = nil) throws -> [TableInfo] {
        try read { db in try schemaCache.tables(db, at: try Self.resolve(db, asOf), dataPath: dataPath) }
    }

    /// One table by schema and name (e.g. "curated", "orders") at the snapshot.
    public func table(schema: String, name: String, at asOf: AsOf? = nil) throws -> TableInfo {
        try read { db in
            let snap = try Self.resolve(db, asOf)
            guard let t = try schemaCache.tables(db, at: snap, dataPath: dataPath).first(where: { $0.schemaName == schema && $0.name == name }) else {
                throw CatalogError.tableNotFound(name: schema + "." + name, snapshot: snap.id)
            }
            return t
        }
    }

    /// The table, or nil when the snapshot has none of that name. Unlike `try? table(...)`,
    /// a storage error or a damaged catalog is thrown, not taken for "no such table".
    public func tableIfPresent(schema: String, name: String, at asOf: AsOf? = nil) throws -> TableInfo? {
        try read { db in
            try schemaCache.tables(db, at: try Self.resolve(db, asOf), dataPath: dataPath).first { $0.schemaName == schema && $0.name == name }
        }
    }

    public func tableIfPresent(_ table: TableName, at asOf: AsOf? = nil) throws -> TableInfo? {
        try tableIfPresent(schema: table.schema, name: table.name, at: asOf)
    }

    public func table(id: Int64, at asOf: AsOf? = nil) throws -> TableInfo {
        try read { db in
            let snap = try Self.resolve(db, asOf)
            guard let t = try schemaCache.tables(db, at: snap, dataPath: dataPath).first(where: { $0.tableID == id }) else {
                throw CatalogError.tableIDNotFound(id: id, snapshot: snap.id)
            }
            return t
        }
    }

    /// The data files a reader of the table at the snapshot must scan, ordered by data_file_id.
    /// `columnStats: false` skips the per-column statistics (a file list for paths and counts).
    /// A table with inlined rows visible is refused unless the caller reads them itself
    /// (`inlined: .readSeparately`, then `inlinedRows`).
    public func dataFiles(tableID: Int64, at asOf: AsOf? = nil, columnStats: Bool = true,
                          inlined: InlinedRowPolicy = .refuse) throws -> [DataFile] {
        var listed = try read { db in
            let snap = try Self.resolve(db, asOf).id
            guard let t = try Self.fetchTables(db, snapshot: snap, dataPath: dataPath, tableID: tableID).first else {
                throw CatalogError.tableIDNotFound(id: tableID, snapshot: snap)
            }
            return try Self.fetchDataFiles(db, table: t, snapshot: snap, columnStats: columnStats, format: format, inlined: inlined)
        }
        // Only time travel into a merged file's range reads anything here: its snapshot column.
        for i in listed.indices where listed[i].visibleThrough != nil { listed[i].hiddenCount = try hiddenRows(listed[i]) }
        return listed
    }

    /// The rows of a merged file listed before its last insert that the listing hides.
    func hiddenRows(_ file: DataFile) throws -> Int64 {
        Int64(try DeleteVector.hidden(in: file, reader: DataFileReader.open(file, files: files)).count)
    }

    /// The rows merged files visible at `snapshot` hold that were inserted after it, which
    /// the catalog's record counts include: 0 unless the snapshot lies inside a merge's range.
    func hiddenMergedRows(_ db: SQLDatabase, tableID: Int64, snapshot: Int64) throws -> Int64 {
        guard format == .v10, try Int64.fetchOne(db, sql: """
            SELECT count(*) FROM ducklake_data_file WHERE table_id = ? AND partial_max > ? AND \(visibleAt)
            """, arguments: [tableID, snapshot, snapshot, snapshot]) ?? 0 > 0,
              let t = try Self.fetchTables(db, snapshot: snapshot, dataPath: dataPath, tableID: tableID).first else { return 0 }
        return try Self.fetchDataFiles(db, table: t, snapshot: snapshot, columnStats: false, format: format, inlined: .readSeparately)
            .filter { $0.visibleThrough != nil }.reduce(0) { $0 + (try hiddenRows($1)) }
    }

    /// Runs `body` against one consistent read of the catalog (e.g. to read `lake_*` tables at
    /// the same moment as the DuckLake tables).
    public func read<T>(_ body: (SQLDatabase) throws -> T) throws -> T {
        // Database failures become CatalogError; the caller's own errors pass through untouched.
        do {
            return try store.read { db in try body(db) }
        } catch let e as SQLError {
            throw CatalogError(e)
        }
    }

    // MARK: Writes

    /// Runs `body` in one SQLite `BEGIN IMMEDIATE` transaction and records one new snapshot with
    /// what it did. Either everything `body` wrote (including the caller's own `lake_*` rows via
    /// `tx.database`) becomes visible together with the snapshot, or nothing does.
    ///
    /// Concurrent writers, in this or other processes, queue on SQLite's write lock; when the lock
    /// stays taken past the busy timeout the whole attempt is retried a few times before `.busy`.
    /// `body` runs once per attempt that got the lock, so it should only touch the database.
    ///
    /// Commits are serialised, never merged: `body` sees every commit before it, so appends
    /// never conflict. A writer whose files were prepared from an older snapshot checks what
    /// it relied on with `tx.requireSchemaUnchanged` / `removeDataFiles`, which throw
    /// `CatalogError.conflict` for the caller to redo its work and retry.
    @discardableResult
    public func commit<T>(author: String? = nil, message: String? = nil,
                          _ body: (inout CatalogTransaction) throws -> T) throws -> (SnapshotInfo, T) {
        try requireWritable()
        let (snap, value, written, leases): (SnapshotInfo, T, [String], [WriteLease]) = try Self.withRetry {
            try store.write { db in
                try requireLive(db)
                hooks(.locked)
                var tx = try CatalogTransaction(db: db, dataPath: dataPath, files: files, hooks: hooks, schemaCache: schemaCache)
                let value = try body(&tx)
                let snap = try tx.finish(author: author, message: message)
                hooks(.beforeCommit)
                return (snap, value, tx.filesToSettle, tx.leasesEnded)
            }
        }
        for lease in leases { lease.markEnded() }
        hooks(.committed)
        try settle(written, snapshot: snap.id)
        return (snap, value)
    }

    /// Releases the hold names of a committed snapshot's new files. A file deleted by name
    /// after the presence check (an orphan sweep that read the catalog before this commit) is
    /// restored first. From here on the catalog names the files, so another engine's sweep
    /// keeps them. Throws only after trying every file: the commit stands either way.
    private func settle(_ paths: [String], snapshot: Int64) throws {
        var lost: [String] = [], problems: [String] = []
        for path in paths {
            do throws(StorageError) {
                if try files.info(path) == nil, try !files.restore(path) { lost.append(path) }
                try files.release(path)
            } catch {
                problems.append(error.description)
            }
        }
        if !lost.isEmpty || !problems.isEmpty {
            throw CatalogSafetyError.committedFilesUnsettled(snapshot: snapshot, lost: lost, problems: problems)
        }
    }

    static func withRetry<T>(_ attempt: () throws -> T) throws -> T {
        var tries = 0
        while true {
            tries += 1
            do {
                return try attempt()
            } catch let e as SQLError where e.kind == .retryable {
                if tries >= commitAttempts { throw CatalogError.busy(attempts: tries) }
                Thread.sleep(forTimeInterval: 0.05 * Double(tries) + Double.random(in: 0 ..< 0.05))
            } catch let e as CatalogError {
                throw e
            } catch let e as SQLError {
                throw CatalogError(e)
            }
        }
    }
}

// MARK: - Shared queries (used by reads and inside transactions)

/// "Row visible at snapshot ?": DuckLake's [begin_snapshot, end_snapshot) interval rule.
let visibleAt = "begin_snapshot <= ? AND (end_snapshot IS NULL OR end_snapshot > ?)"

extension Catalog {
    static func snapshot(from row: SQLRow) throws -> SnapshotInfo {
        let id: Int64 = try row.value("snapshot_id")
        let timeText: String? = try row.value("snapshot_time")
        guard let timeText, let micros = Timestamps.parseTimestamp(timeText) else {
            throw CatalogError.corrupt("snapshot \(id) has unreadable snapshot_time '\(timeText ?? "NULL")'")
        }
        return SnapshotInfo(
            id: id, time: Timestamps.date(micros: micros), timeMicros: micros,
            schemaVersion: try row.value("schema_version") ?? 0, nextCatalogID: try row.value("next_catalog_id") ?? 0,
            nextFileID: try row.value("next_file_id") ?? 0, changesMade: try row.value("changes_made") ?? "",
            author: try row.value("author"), message: try row.value("commit_message"), extraInfo: try row.value("commit_extra_info"))
    }

    static let snapshotSelect = """
        SELECT s.snapshot_id, s.snapshot_time, s.schema_version, s.next_catalog_id, s.next_file_id,
               c.changes_made, c.author, c.commit_message, c.commit_extra_info
        FROM ducklake_snapshot s LEFT JOIN ducklake_snapshot_changes c ON c.snapshot_id = s.snapshot_id
        """

    static func fetchSnapshots(_ db: SQLDatabase) throws -> [SnapshotInfo] {
        try SQLRow.fetchAll(db, sql: snapshotSelect + " ORDER BY s.snapshot_id").map(snapshot(from:))
    }

    static func latest(_ db: SQLDatabase) throws -> SnapshotInfo {
        guard let row = try SQLRow.fetchOne(db, sql: snapshotSelect + " ORDER BY s.snapshot_id DESC LIMIT 1") else {
            throw CatalogError.corrupt("the catalog has no snapshots")
        }
        return try snapshot(from: row)
    }

    static func resolve(_ db: SQLDatabase, _ asOf: AsOf?) throws -> SnapshotInfo {
        switch asOf {
        case nil:
            return try latest(db)
        case .snapshot(let id)?:
            guard let row = try SQLRow.fetchOne(db, sql: snapshotSelect + " WHERE s.snapshot_id = ?", arguments: [id]) else {
                let oldest = try Int64.fetchOne(db, sql: "SELECT min(snapshot_id) FROM ducklake_snapshot") ?? 0
                throw CatalogError.snapshotNotFound(id: id, oldest: oldest, latest: try latest(db).id)
            }
            return try snapshot(from: row)
        case .time(let date)?:
            // Times are compared as parsed microseconds, not as text: the text drops trailing
            // fractional zeros and may carry another offset when DuckDB wrote it.
            let target = Timestamps.micros(date)
            let all = try fetchSnapshots(db)
            guard let first = all.first else { throw CatalogError.corrupt("the catalog has no snapshots") }
            guard let hit = all.last(where: { $0.timeMicros <= target }) else {
                throw CatalogError.noSnapshotAtTime(requested: date, first: first.time, firstID: first.id)
            }
            return hit
        }
    }

    /// The tables visible at the snapshot (optionally one schema / name / id) in three statements
    /// however many tables match: the tables, then all their columns, then all their partition
    /// keys. On PostgreSQL each statement is a round trip, so a per-table (or per-column) query
    /// made listing a lake cost a multiple of its table count.
    static func fetchTables(_ db: SQLDatabase, snapshot: Int64, dataPath: URL, schema: String? = nil,
                            name: String? = nil, tableID: Int64? = nil) throws -> [TableInfo] {
        var sql = """
            SELECT s.schema_id, s.schema_name, s.path AS schema_path, s.path_is_relative AS schema_rel,
                   t.table_id, t.table_uuid, t.table_name, t.path AS table_path, t.path_is_relative AS table_rel
            FROM ducklake_table t JOIN ducklake_schema s ON s.schema_id = t.schema_id
            WHERE t.begin_snapshot <= ? AND (t.end_snapshot IS NULL OR t.end_snapshot > ?)
              AND s.begin_snapshot <= ? AND (s.end_snapshot IS NULL OR s.end_snapshot > ?)
            """
        var args: SQLArguments = [snapshot, snapshot, snapshot, snapshot]
        if let schema { sql += " AND s.schema_name = ?"; _ = args.append(contentsOf: [schema]) }
        if let name { sql += " AND t.table_name = ?"; _ = args.append(contentsOf: [name]) }
        if let tableID { sql += " AND t.table_id = ?"; _ = args.append(contentsOf: [tableID]) }
        sql += " ORDER BY s.schema_name, t.table_name"
        let rows = try SQLRow.fetchAll(db, sql: sql, arguments: args)
        guard !rows.isEmpty else { return [] }
        let ids: [Int64] = try rows.map { try $0.value("table_id") }
        // The tables' ids as a filter: a single table is the common case and binds one value;
        // a whole listing reads every visible column and keeps those of listed tables.
        let filter = ids.count == 1 ? "table_id = ?" : "table_id IN (SELECT table_id FROM ducklake_table WHERE begin_snapshot <= ? AND (end_snapshot IS NULL OR end_snapshot > ?))"
        let filterArgs: [Int64] = ids.count == 1 ? ids : [snapshot, snapshot]
        var columns: [Int64: [ColumnInfo]] = [:]
        var columnArgs = SQLArguments(filterArgs.map(SQLValue.int64))
        _ = columnArgs.append(contentsOf: [snapshot, snapshot])
        for r in try SQLRow.fetchAll(db, sql: """
            SELECT table_id, column_id, begin_snapshot, column_order, column_name, column_type, initial_default,
                   default_value, nulls_allowed
            FROM ducklake_column
            WHERE \(filter) AND parent_column IS NULL AND \(visibleAt)
            ORDER BY table_id, column_order, column_id
            """, arguments: columnArgs) {
            columns[try r.value("table_id"), default: []].append(try column(from: r))
        }
        // Partition keys: the visible partition_info row of each table (the first, as before)
        // with its key columns in partition_key_index order.
        var partitions: [Int64: (id: Int64, keys: [Int64], transforms: [String])] = [:]
        var partitionArgs = SQLArguments(filterArgs.map(SQLValue.int64))
        _ = partitionArgs.append(contentsOf: [snapshot, snapshot])
        for r in try SQLRow.fetchAll(db, sql: """
            SELECT p.table_id, p.partition_id, k.column_id, k."transform" FROM ducklake_partition_info p
            LEFT JOIN ducklake_partition_column k ON k.partition_id = p.partition_id AND k.table_id = p.table_id
            WHERE p.\(filter) AND p.begin_snapshot <= ? AND (p.end_snapshot IS NULL OR p.end_snapshot > ?)
            ORDER BY p.table_id, p.partition_id, k.partition_key_index
            """, arguments: partitionArgs) {
            let tid: Int64 = try r.value("table_id"), pid: Int64 = try r.value("partition_id")
            if let seen = partitions[tid], seen.id != pid { continue }
            var entry = partitions[tid] ?? (id: pid, keys: [], transforms: [])
            if let cid: Int64 = try r.value("column_id") {
                entry.keys.append(cid)
                entry.transforms.append(try r.value("transform") ?? "identity")
            }
            partitions[tid] = entry
        }
        return try rows.map { row in
            let schemaName: String = try row.value("schema_name") ?? ""
            let tableName: String = try row.value("table_name") ?? ""
            let tid: Int64 = try row.value("table_id")
            let schemaDir = resolveDir(base: dataPath, path: try row.value("schema_path"), isRelative: try row.value("schema_rel"), fallback: schemaName)
            let tableDir = resolveDir(base: schemaDir, path: try row.value("table_path"), isRelative: try row.value("table_rel"), fallback: tableName)
            let tableColumns = columns[tid] ?? []
            var partitionColumns: [ColumnInfo] = []
            for cid in partitions[tid]?.keys ?? [] {
                guard let c = tableColumns.first(where: { $0.columnID == cid }) else {
                    throw CatalogError.corrupt("table \(schemaName).\(tableName) is partitioned by column id \(cid), which is not visible at snapshot \(snapshot)")
                }
                partitionColumns.append(c)
            }
            return TableInfo(schemaName: schemaName, schemaID: try row.value("schema_id"), name: tableName, tableID: tid,
                             uuid: try row.value("table_uuid") ?? "", snapshot: snapshot, columns: tableColumns,
                             partitionColumns: partitionColumns, partitionID: partitions[tid]?.id, directory: tableDir,
                             partitionTransforms: partitions[tid]?.transforms ?? [])
        }
    }

    static func resolveDir(base: URL, path: String?, isRelative: Int64?, fallback: String) -> URL {
        // Catalogs from before DuckLake stored paths use the object's name as its directory.
        let p = path ?? fallback + "/"
        if isRelative == 0 || (isRelative == nil && p.hasPrefix("/")) {
            return URL(fileURLWithPath: p, isDirectory: true).standardizedFileURL
        }
        return URL(fileURLWithPath: p, isDirectory: true, relativeTo: base).standardizedFileURL.absoluteURL
    }

    static func fetchColumns(_ db: SQLDatabase, tableID: Int64, snapshot: Int64) throws -> [ColumnInfo] {
        try SQLRow.fetchAll(db, sql: """
            SELECT column_id, begin_snapshot, column_order, column_name, column_type, initial_default,
                   default_value, nulls_allowed
            FROM ducklake_column
            WHERE table_id = ? AND parent_column IS NULL AND \(visibleAt)
            ORDER BY column_order, column_id
            """, arguments: [tableID, snapshot, snapshot]).map { try column(from: $0) }
    }

    static func column(from row: SQLRow) throws -> ColumnInfo {
        let typeName: String = try row.value("column_type") ?? ""
        let nullsAllowed: Int64? = try row.value("nulls_allowed")
        return ColumnInfo(columnID: try row.value("column_id"), name: try row.value("column_name") ?? "",
                          type: DuckLakeType.columnType(typeName), duckLakeType: typeName,
                          nullable: nullsAllowed != 0, initialDefault: try row.value("initial_default"),
                          defaultValue: try row.value("default_value"), order: try row.value("column_order") ?? 0,
                          beginSnapshot: try row.value("begin_snapshot") ?? 0)
    }

    /// The last snapshot whose rows a merged file holds, from 1.0's partial_max (an integer) or
    /// 0.3's partial_file_info ("4:20|5:40|6:60", or "partial_max:6" from 0.4 development builds).
    static func partialThrough(_ value: SQLValue) throws -> Int64? {
        switch value.storage {
        case .null: return nil
        case .int64(let v): return v
        case .string(let text):
            if text.isEmpty { return nil }
            if text.hasPrefix("partial_max:"), let v = Int64(text.dropFirst("partial_max:".count)) { return v }
            var last: Int64?
            for pair in text.split(separator: "|") {
                let parts = pair.split(separator: ":")
                guard parts.count == 2, let s = Int64(parts[0]), Int64(parts[1]) != nil else {
                    throw CatalogError.corrupt("unreadable partial_file_info '\(text)'")
                }
                last = max(last ?? s, s)
            }
            return last
        default:
            throw CatalogError.corrupt("unreadable partial file marker \(value)")
        }
    }

    /// Every partition spec the table has had: partition_id -> key index -> the key column's
    /// name at the listing's snapshot when the key is an identity transform, else nil.
    static func partitionKeyColumns(_ db: SQLDatabase, table: TableInfo) throws -> [Int64: [Int64: String?]] {
        let names = Dictionary(table.columns.map { ($0.columnID, $0.name) }, uniquingKeysWith: { a, _ in a })
        var specs: [Int64: [Int64: String?]] = [:]
        for r in try SQLRow.fetchAll(db, sql: """
            SELECT partition_id, partition_key_index, column_id, "transform" FROM ducklake_partition_column WHERE table_id = ?
            """, arguments: [table.tableID]) {
            let transform: String = try r.value("transform") ?? ""
            let column: Int64 = try r.value("column_id")
            let name: String? = transform.lowercased() == "identity" ? names[column] : nil
            specs[try r.value("partition_id"), default: [:]][try r.value("partition_key_index")] = .some(name)
        }
        return specs
    }

    /// DuckDB 1.5 keeps small inserts (up to 10 rows by default) in catalog tables instead of
    /// Parquet files (InlinedRows.swift). A reader that reads only files refuses a table with
    /// such rows visible rather than read it short.
    static func refuseInlinedRows(_ db: SQLDatabase, table: TableInfo, snapshot: Int64) throws {
        let rows = try countInlinedRows(db, tableID: table.tableID, snapshot: snapshot)
        if rows > 0 { throw CatalogError.inlinedData(table: table.qualifiedName, rows: rows, snapshot: snapshot) }
    }

    /// `stored` resolved against the table directory when relative; only paths with "." or ".."
    /// components or doubled slashes pay for URL normalisation (ours never have them).
    static func absolutePath(_ stored: String, relative: Bool, directory: String) -> String {
        LakeFiles.standardized(relative ? (directory.hasSuffix("/") ? directory + stored : directory + "/" + stored) : stored)
    }

    /// Columns are read by index from cursors: this runs on every scan plan and every ingest,
    /// over one row per file and one per file and column, so name lookups would dominate.
    static func fetchDataFiles(_ db: SQLDatabase, table: TableInfo, snapshot: Int64, columnStats: Bool = true,
                               format: CatalogFormat = .v10, inlined: InlinedRowPolicy = .refuse) throws -> [DataFile] {
        if inlined == .refuse { try refuseInlinedRows(db, table: table, snapshot: snapshot) }
        struct FileRow { var id: Int64, begin: Int64, end: Int64?, path: String, relative: Bool, records: Int64, bytes: Int64,
                         footer: Int64?, rowIDStart: Int64?, partitionID: Int64?, encrypted: Bool, mappingID: Int64?, through: Int64? }
        var files: [FileRow] = []
        // Which snapshots' rows a merged file holds: 1.0 records the last one (partial_max), 0.3
        // listed "snapshot:row count" pairs (partial_file_info).
        let partialColumn = format == .v03 ? "partial_file_info" : "partial_max"
        let cursor = try SQLRow.fetchCursor(db, sql: """
            SELECT data_file_id, begin_snapshot, end_snapshot, path, path_is_relative, record_count,
                   file_size_bytes, footer_size, row_id_start, \(partialColumn), partition_id, \(encryptedColumn(format)),
                   \(format == .v03 ? "NULL" : "mapping_id")
            FROM ducklake_data_file WHERE table_id = ? AND \(visibleAt) ORDER BY data_file_id
            """, arguments: [table.tableID, snapshot, snapshot])
        while let r = try cursor.next() {
            // A merged file read inside its range of snapshots: a 1.0 file's rows are filtered by
            // their `_ducklake_internal_snapshot_id`; 0.3 records only row counts per snapshot.
            let through = try partialThrough(r[9] as SQLValue)
            if format == .v03, let through, snapshot < through {
                throw CatalogError.partialFile(table: table.qualifiedName, dataFileID: try r.value(at: 0, "data_file_id"),
                                               snapshot: snapshot, through: through)
            }
            let rel: Int64? = try r.value(at: 4, "path_is_relative")
            files.append(FileRow(id: try r.value(at: 0, "data_file_id"), begin: try r.value(at: 1, "begin_snapshot") ?? 0,
                                 end: try r.value(at: 2, "end_snapshot"), path: try r.value(at: 3, "path") ?? "", relative: rel != 0,
                                 records: try r.value(at: 5, "record_count") ?? 0, bytes: try r.value(at: 6, "file_size_bytes") ?? 0,
                                 footer: try r.value(at: 7, "footer_size"), rowIDStart: try r.value(at: 8, "row_id_start"),
                                 partitionID: try r.value(at: 10, "partition_id"), encrypted: try r.value(at: 11, "encrypted") ?? 0 != 0,
                                 mappingID: try r.value(at: 12, "mapping_id"), through: through))
        }
        guard !files.isEmpty else { return [] }
        let lo = files.first!.id, hi = files.last!.id

        // Partition values, by the partition column's name at this snapshot. A key index means
        // something only in the spec the file was written under (its partition_id): another
        // engine may have re-partitioned the table since (DuckDB's SET PARTITIONED BY), and
        // reading an old file's index 0 under the new spec once pruned every file of a channel
        // filter. Only identity keys are values of their column; a year(), month() or bucket()
        // key is not, and is left out (pruning then uses the column statistics).
        let keyColumns = try partitionKeyColumns(db, table: table)
        let fileSpec = Dictionary(uniqueKeysWithValues: files.map { ($0.id, $0.partitionID) })
        var partitions: [Int64: [String: String]] = [:]
        let partitionRows = try SQLRow.fetchCursor(db, sql: """
            SELECT data_file_id, partition_key_index, partition_value FROM ducklake_file_partition_value
            WHERE table_id = ? AND data_file_id BETWEEN ? AND ?
            """, arguments: [table.tableID, lo, hi])
        while let r = try partitionRows.next() {
            let fileID: Int64 = try r.value(at: 0, "data_file_id")
            guard let spec = fileSpec[fileID] else { continue }  // not visible at this snapshot
            let idx: Int64 = try r.value(at: 1, "partition_key_index")
            // A file without a partition_id (written before specs were recorded) reads under the
            // table's spec, as before.
            let name: String? = spec.map { keyColumns[$0]?[idx] ?? nil }
                ?? (idx >= 0 && idx < table.partitionColumns.count ? table.partitionColumns[Int(idx)].name : nil)
            guard let name else { continue }
            partitions[fileID, default: [:]][name] = try r.value(at: 2, "partition_value")
        }
        var stats: [Int64: [Int64: ColumnStats]] = [:]
        if columnStats {
            let statRows = try SQLRow.fetchCursor(db, sql: """
                SELECT data_file_id, column_id, column_size_bytes, value_count, null_count, min_value, max_value, contains_nan
                FROM ducklake_file_column_stats WHERE table_id = ? AND data_file_id BETWEEN ? AND ?
                """, arguments: [table.tableID, lo, hi])
            while let r = try statRows.next() {
                let nan: Int64? = try r.value(at: 7, "contains_nan")
                stats[try r.value(at: 0, "data_file_id"), default: [:]][try r.value(at: 1, "column_id")] = ColumnStats(
                    min: try r.value(at: 5, "min_value"), max: try r.value(at: 6, "max_value"),
                    nullCount: try r.value(at: 4, "null_count") ?? 0, valueCount: try r.value(at: 3, "value_count"),
                    columnSizeBytes: try r.value(at: 2, "column_size_bytes"), containsNaN: nan.map { $0 != 0 })
            }
        }
        // DuckLake keeps at most one delete file per data file visible at a snapshot (a second
        // DELETE writes a merged file and ends the old one), so time travel takes that file alone.
        var deletes: [Int64: DeleteFile] = [:]
        for r in try SQLRow.fetchAll(db, sql: """
            SELECT delete_file_id, data_file_id, path, path_is_relative, delete_count, format, begin_snapshot,
                   \(encryptedColumn(format)) AS encrypted FROM ducklake_delete_file
            WHERE table_id = ? AND \(visibleAt)
            """, arguments: [table.tableID, snapshot, snapshot]) {
            let rel: Int64? = try r.value("path_is_relative")
            let path: String = try r.value("path") ?? ""
            let dataFileID: Int64 = try r.value("data_file_id")
            let file = DeleteFile(deleteFileID: try r.value("delete_file_id"),
                                  url: fileURL(path: path, isRelative: rel, tableDir: table.directory),
                                  deleteCount: try r.value("delete_count") ?? 0, format: try r.value("format") ?? "parquet",
                                  snapshot: snapshot, beginSnapshot: try r.value("begin_snapshot") ?? 0,
                                  encrypted: try r.value("encrypted") ?? 0 != 0)
            if let other = deletes[dataFileID] {
                throw CatalogError.corrupt("""
                    data file \(dataFileID) of \(table.qualifiedName) has two delete files visible at snapshot \(snapshot) \
                    (ids \(other.deleteFileID) and \(file.deleteFileID)); DuckLake allows one
                    """)
            }
            deletes[dataFileID] = file
        }
        // DuckLake 1.0 keeps deletes of up to data_inlining_row_limit rows (10 by default) in the
        // catalog: (file_id, row_id = position in the file, begin_snapshot), never ended.
        var inlined: [Int64: [Int64]] = [:]
        let inlinedTable = DeleteVector.inlinedTable(tableID: table.tableID)
        if try db.tableExists(inlinedTable) {
            let rows = try SQLRow.fetchCursor(db, sql: """
                SELECT file_id, row_id FROM \(inlinedTable) WHERE begin_snapshot <= ? AND file_id BETWEEN ? AND ?
                ORDER BY file_id, row_id
                """, arguments: [snapshot, lo, hi])
            while let r = try rows.next() {
                inlined[try r.value(at: 0, "file_id"), default: []].append(try r.value(at: 1, "row_id"))
            }
        }
        let mappings = try nameMappings(db, ids: Set(files.compactMap(\.mappingID)))
        let checksums = try FileIntegrity.footerChecksums(db, tableID: table.tableID, from: lo, to: hi)
        let directory = table.directory.path
        return files.map { f in
            return DataFile(dataFileID: f.id, tableID: table.tableID, path: absolutePath(f.path, relative: f.relative, directory: directory),
                            storedPath: f.path, pathIsRelative: f.relative,
                            recordCount: f.records, fileSizeBytes: f.bytes, footerSize: f.footer, rowIDStart: f.rowIDStart,
                            beginSnapshot: f.begin, endSnapshot: f.end,
                            partitionValues: partitions[f.id] ?? [:], columnStats: stats[f.id] ?? [:], deleteFile: deletes[f.id],
                            inlinedDeletes: inlined[f.id] ?? [], visibleThrough: f.through.flatMap { snapshot < $0 ? snapshot : nil },
                            mergedThrough: f.through, footerChecksum: checksums[f.id], encrypted: f.encrypted,
                            nameMapping: f.mappingID.flatMap { mappings[$0] })
        }
    }

    /// The top-level entries of the given name mappings (nested ones map fields inside a
    /// column, which lake does not read).
    private static func nameMappings(_ db: SQLDatabase, ids: Set<Int64>) throws -> [Int64: NameMapping] {
        guard !ids.isEmpty, try db.tableExists("ducklake_name_mapping") else { return [:] }
        var out: [Int64: NameMapping] = [:]
        for id in ids.sorted() {
            var mapping = NameMapping(fieldIDs: [:], fromPartition: [])
            for r in try SQLRow.fetchAll(db, sql: """
                SELECT source_name, target_field_id, is_partition FROM ducklake_name_mapping WHERE mapping_id = ? AND parent_column IS NULL
                """, arguments: [id]) {
                let target: Int64 = try r.value("target_field_id")
                mapping.fieldIDs[try r.value("source_name") ?? ""] = target
                let partition: Int64? = try r.value("is_partition")
                if partition ?? 0 != 0 { mapping.fromPartition.insert(target) }
            }
            out[id] = mapping
        }
        return out
    }

    /// 1 for a file DuckDB encrypted: DuckLake sets its encryption_key. A 0.3 catalog made by an
    /// older build of ours may lack the column, so there the lake's `encrypted` option decides.
    /// An integer on both backends (PostgreSQL's comparisons are booleans).
    private static func encryptedColumn(_ format: CatalogFormat) -> String {
        format == .v03
            ? "CASE WHEN (SELECT value FROM ducklake_metadata WHERE key = 'encrypted' AND scope IS NULL) = 'true' THEN 1 ELSE 0 END"
            : "CASE WHEN encryption_key IS NOT NULL THEN 1 ELSE 0 END"
    }
}
