// Making a new file's *name* survive a power loss, not only its bytes. fsync(file) makes the
// contents durable, but the directory entry naming the file is durable only once the directory
// itself is fsynced, and a directory created on the way is named by an entry in its parent. A
// catalog commit that references a file must not outlive (in a power loss) the entry for it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum Durability {
    /// fsyncs the directory at `path`, making the entries created in it (files, subdirectories) durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw ParquetError.io(path: path, operation: "open directory", errno: errno) }
        defer { _ = close(fd) }
        if fsync(fd) != 0 { throw ParquetError.io(path: path, operation: "fsync directory", errno: errno) }
    }

    /// `mkdir -p` that also fsyncs the parent of every directory it had to create (or found
    /// created by a concurrent writer that may not have synced it yet), so the new path exists
    /// after a power loss once a file in it has been synced. Directories already present on the
    /// first check are taken as they are.
    public static func createDirectories(_ path: String) throws {
        var missing: [String] = []
        var p = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        while !p.isEmpty, p != "/", !isDirectory(p) {
            missing.append(p)
            guard let slash = p.lastIndex(of: "/") else { break }
            p = slash == p.startIndex ? "/" : String(p[..<slash])
        }
        for dir in missing.reversed() {
            if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw ParquetError.io(path: dir, operation: "create directory", errno: errno)
            }
            try syncDirectory(parent(of: dir))
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
