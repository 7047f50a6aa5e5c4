import Foundation
import LakeFormat

/// A lake's data and delete files, as the catalog names them: every open, write, delete,
/// listing and size check of one goes through the lake's `Storage` here. The catalog records
/// absolute paths under the lake root (DuckLake's data_path plus the file's relative path);
/// this maps them to storage keys, so no layer above builds a path to hand to the file system.
public struct LakeFiles: Sendable {
    public let storage: any Storage
    /// The lake root the catalog's absolute paths are under: absolute, without a trailing "/".
    public let root: String
    /// Whether a file the catalog names outside the root is read where it is: DuckDB's
    /// `ducklake_add_data_files` registers existing Parquet files by absolute path, and DuckDB
    /// reads them there. True for the local file system only (another storage's keys are
    /// relative to the root by contract); such a file is never written or deleted by lake.
    public let readsOutsideRoot: Bool
    /// Set by `Catalog.open` when the catalog lives apart from its files (PostgreSQL), resolves
    /// its data path against --lake, and its first live data file is not under it: a data file
    /// found missing is then most likely a wrong --lake, and the error says so (it was
    /// "…parquet: open failed: No such file or directory").
    public var misplaced: MisplacedFiles?

    public init(storage: any Storage, root: URL) {
        self.storage = storage
        var r = root.standardizedFileURL.path
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
        readsOutsideRoot = storage is LocalStorage
    }

    /// The files of a catalog whose DuckLake data_path is `dataPath`. Ours is the lake root; a
    /// catalog DuckDB created may name another directory (`ATTACH … (DATA_PATH '/elsewhere/')`),
    /// whose files the default local storage then serves from there. A storage the caller chose
    /// stays as given: its keys are relative to the lake root by contract.
    public func servingDataPath(_ dataPath: URL, defaultStorage: Bool) -> LakeFiles {
        let base = LakeFiles(storage: storage, root: dataPath)
        guard defaultStorage, base.root != root else { return self }
        return LakeFiles(storage: LocalStorage(root: base.root), root: dataPath)
    }

    /// The storage key of a data file path the catalog recorded (absolute, under the root).
    public func key(_ path: String) throws(StorageError) -> StorageKey {
        try StorageKey(absolutePath: Self.standardized(path), root: root)
    }

    /// `URL(fileURLWithPath: path).standardizedFileURL.path`, without the URL for a path that is
    /// standard already: absolute, with no empty, "." or ".." component and no trailing "/"
    /// (every path lake writes). Foundation's URL normalisation cost about 40,000 instructions
    /// a path; a commit checks and settles every new file's path (four a file), and vacuum
    /// every file the catalog names.
    public static func standardized(_ path: String) -> String {
        var plain = path.utf8.first == UInt8(ascii: "/") && path.utf8.count > 1 && path.utf8.last != UInt8(ascii: "/")
        // The bytes since the last "/": a component is checked at the next "/" or the end.
        var componentLength = 0, dots = 0
        for b in path.utf8.dropFirst() where plain {
            if b == UInt8(ascii: "/") {
                if componentLength == 0 || componentLength == dots && dots <= 2 { plain = false }
                componentLength = 0
                dots = 0
            } else {
                componentLength += 1
                if b == UInt8(ascii: ".") { dots += 1 }
            }
        }
        if plain && componentLength == dots && dots <= 2 { plain = false }
        return plain ? path : URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// The absolute path the catalog records for `key`.
    public func path(_ key: StorageKey) -> String { root == "/" ? "/" + key.path : root + "/" + key.path }

    /// Whether `path` (absolute) lies outside the lake root: a file DuckDB's
    /// `ducklake_add_data_files` registered where it was, which lake reads but never deletes.
    public func isOutsideRoot(_ path: String) -> Bool {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        return !Self.standardized(path).hasPrefix(prefix)
    }

    /// Opens a data or delete file for reading, checked against what the catalog recorded.
    public func reader(_ path: String, expect: ParquetFileReader.Expectation? = nil) throws -> ParquetFileReader {
        let k: StorageKey
        do throws(StorageError) {
            k = try key(path)
        } catch .outsideRoot where readsOutsideRoot {
            // Resolved only for such a file: each key already costs one path normalisation,
            // and a scan opens thousands of files.
            let url = URL(fileURLWithPath: path).standardizedFileURL
            let name: StorageKey
            do { name = try StorageKey(url.lastPathComponent) } catch { throw ParquetError(error) }
            return try ParquetFileReader(storage: LocalStorage(root: url.deletingLastPathComponent()), key: name, expect: expect)
        } catch {
            throw ParquetError(error)
        }
        do {
            return try ParquetFileReader(storage: storage, key: k, expect: expect)
        } catch ParquetError.io(_, let op, ENOENT) where misplaced != nil && (op == "open" || op == "stat") {
            throw CatalogError.filesNotUnderLake(missing: path, misplaced!)
        }
    }

    /// Starts a new data or delete file at `path` (a fresh name: create-once).
    public func writer(_ path: String, schema: Schema, options: ParquetWriteOptions = ParquetWriteOptions()) throws -> ParquetFileWriter {
        let k: StorageKey
        do { k = try key(path) } catch { throw ParquetError(error) }
        return try ParquetFileWriter(storage: storage, key: k, schema: schema, options: options)
    }

    /// Size and modification time of the file at `path`; nil when there is none.
    public func info(_ path: String) throws(StorageError) -> StorageObjectInfo? { try storage.info(try key(path)) }

    /// Brings back the file at `path` from its hold name when another process deleted it
    /// between its publish and its commit's release; true when it did (see `Storage.restore`).
    public func restore(_ path: String) throws(StorageError) -> Bool { try storage.restore(try key(path)) }

    /// Drops the hold name of the file at `path` once its commit is durable.
    public func release(_ path: String) throws(StorageError) { try storage.release(try key(path)) }

    /// Removes the file at `path`; a missing file is a no-op (see `Storage.delete`).
    public func delete(_ path: String) throws(StorageError) { try storage.delete(try key(path)) }

    /// Removes files this writer created but never committed (a failed or skipped attempt).
    /// A file that cannot be removed is an unreferenced orphan, which vacuum removes later, so
    /// the cleanup is best effort; the failures are returned for callers that report them.
    @discardableResult
    public func discard(_ paths: [String]) -> [StorageError] {
        var failures: [StorageError] = []
        for p in paths {
            do { try delete(p) } catch { failures.append(error) }
        }
        return failures
    }

    /// Every file under the layer directory `layer` ("raw", "curated") of the lake.
    public func list(layer: String) throws(StorageError) -> [StorageObjectInfo] { try storage.list(prefix: try StorageKey(layer)) }
}

/// What `CatalogError.filesNotUnderLake` names: the catalog, its data path as stored and as
/// resolved against --lake, and its first live data file, which is not there.
public struct MisplacedFiles: Sendable, Equatable {
    public var catalog: String
    /// ducklake_metadata's data_path as stored ("" when none): relative, or ours (read as the lake directory).
    public var storedDataPath: String
    /// --lake, as given.
    public var lake: String
    /// The catalog's first live data file, relative to the data path.
    public var probe: String
}
