import Foundation

/// Checks on the catalog's files made before SQLite touches them: whether creating a catalog
/// here could hide existing data, and how a reader without write access can open it.
enum CatalogGuard {
    /// No manifest, or a zero-byte one (emptied, or created by a command that then failed):
    /// opening it read-write would create a fresh, empty catalog.
    static func manifestIsBlank(_ manifest: URL) -> Bool {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: manifest.path) else { return true }
        return ((attrs[.size] as? NSNumber)?.int64Value ?? 0) == 0
    }

    /// Throws when the lake's storage already holds Parquet data files: a new catalog there
    /// would reference none of them, and vacuum would see every one as an orphan.
    static func requireNoData(_ files: LakeFiles) throws {
        let data = try files.storage.list(prefix: nil).filter { $0.key.path.hasSuffix(".parquet") }
        if let first = data.first {
            throw CatalogSafetyError.catalogMissing(root: files.root, dataFiles: data.count, example: files.path(first.key))
        }
    }

    /// True when the manifest has no write-ahead log with content: its main file then holds
    /// every committed transaction and can be read as immutable.
    static func walIsEmpty(_ manifest: URL) -> Bool {
        let wal = manifest.path + "-wal"
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: wal) else {
            return !FileManager.default.fileExists(atPath: wal)
        }
        return ((attrs[.size] as? NSNumber)?.int64Value ?? 1) == 0
    }

    /// A sentence for an open that failed on a full file system: SQLite reports the -shm it
    /// cannot grow as "disk I/O error", which does not say what to do. Empty when the file
    /// system holding `path` has room (or cannot be asked).
    static func fullDiskHint(_ path: String) -> String {
        var fs = statvfs()
        let directory = (path as NSString).deletingLastPathComponent
        guard statvfs(directory.isEmpty ? "." : directory, &fs) == 0 else { return "" }
        let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
        guard free < 1 << 20 else { return "" }
        return "; the file system holding \(directory) is full (\(free) bytes free): free space there and rerun "
            + "(reads such as lake verify, query and report still work)"
    }

    /// When this user may not write the catalog (the manifest or its directory), SQLite says
    /// only "attempt to write a readonly database" while GRDB's open probe runs, a statement of
    /// its own (session 14 probe): the hint names what is not writable and what still works.
    static func writeAccessHint(_ path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let dir = directory.isEmpty ? "." : directory
        let fileLocked = FileManager.default.fileExists(atPath: path) && access(path, W_OK) != 0
        guard access(dir, W_OK) != 0 || fileLocked else { return "" }
        let what = fileLocked ? path : dir
        return "; this user (uid \(getuid())) cannot write \(what), and every command that writes needs write access to the "
            + "lake directory and its catalog files: run it as the lake's owner (reads such as lake verify, query, report and serve work without it)"
    }

    /// `file:` URI opening the manifest as immutable (SQLite is built with URI filenames on).
    static func immutableURI(_ manifest: URL) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        let path = manifest.path.addingPercentEncoding(withAllowedCharacters: allowed) ?? manifest.path
        return "file:" + path + "?mode=ro&immutable=1"
    }
}
