// Where a lake's data files live. Every byte of a data or delete file goes through `Storage`,
// keyed by its path relative to the lake root, so the medium under the lake (a local or shared
// file system today, an object store next) is one implementation of this protocol.
//
// The operations are the ones every object store offers (Apache Arrow's `FileSystem` and the
// object_store crate's `ObjectStore` have the same core), and no more: no rename (object stores
// copy + delete; our commit protocol never needs it: files are written under fresh names and the
// catalog commit publishes them), no directories (a key's "/" is only a separator), no append.
//  - create: write a whole new object; it appears complete or not at all, and only if no object
//    has the key (S3's conditional `PUT If-None-Match: *`). Streamed, so a large file is never
//    held whole in memory (a multipart upload on an object store).
//  - open: size plus ranged reads (S3's ranged GET): a scan reads the footer and the column
//    chunks it needs, never the whole file.
//  - delete, info (HEAD), list under a prefix with size and modification time (vacuum's
//    orphan sweep and its grace period).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A data file's name in a `Storage`: its path relative to the lake root, "/"-separated, e.g.
/// `curated/orders/event_date=2024-01-15/channel=web/<uuid>.parquet`. Never absolute, never with an
/// empty, "." or ".." component, so no key can name anything outside the storage's root.
public struct StorageKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let path: String

    public init(_ path: String) throws(StorageError) {
        guard !Self.hasEmptyOrDotComponent(path), !path.utf8.contains(0) else { throw .invalidKey(path) }
        self.path = path
    }

    /// Whether `path` split at "/" has an empty, "." or ".." component (so an empty or absolute
    /// path has), judged on the UTF-8 bytes the file system sees. Splitting the String into
    /// Characters and comparing each with "." cost 40,000 instructions a path, 1.5 % of a
    /// 100,000-order `lake run` (a commit checks every file it registers).
    public static func hasEmptyOrDotComponent(_ path: String) -> Bool {
        var length = 0, dots = 0
        for b in path.utf8 {
            if b == UInt8(ascii: "/") {
                if length == 0 || (dots == length && length <= 2) { return true }
                length = 0
                dots = 0
            } else {
                length += 1
                if b == UInt8(ascii: ".") { dots += 1 }
            }
        }
        return length == 0 || (dots == length && length <= 2)
    }

    /// The key of `absolutePath` in a storage rooted at `root` (both absolute, normalised); a
    /// path outside the root has none.
    public init(absolutePath: String, root: String) throws(StorageError) {
        let prefix = root.hasSuffix("/") ? root : root + "/"
        guard absolutePath.hasPrefix(prefix) else { throw .outsideRoot(path: absolutePath, root: root) }
        try self.init(String(absolutePath.dropFirst(prefix.count)))
    }

    /// The last component ("<uuid>.parquet").
    public var name: Substring { path.split(separator: "/").last ?? Substring(path) }

    public var description: String { path }
    public static func < (a: StorageKey, b: StorageKey) -> Bool { a.path < b.path }
}

/// One stored object, as `list` and `info` describe it.
public struct StorageObjectInfo: Hashable, Sendable {
    public var key: StorageKey
    public var size: Int64
    /// Last modification, microseconds since the Unix epoch (an object store's `LastModified`):
    /// vacuum keeps unreferenced files younger than its grace period and live writers' leases.
    public var modifiedMicros: Int64

    public init(key: StorageKey, size: Int64, modifiedMicros: Int64) {
        self.key = key
        self.size = size
        self.modifiedMicros = modifiedMicros
    }
}

/// Every failure of a storage operation, naming the object (as `Storage.location(of:)`, e.g. the
/// absolute path) and what failed.
public enum StorageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Not a valid key (absolute, empty, or with an empty, "." or ".." component).
    case invalidKey(String)
    /// An absolute path that does not lie under the storage's root.
    case outsideRoot(path: String, root: String)
    /// No object has the key.
    case notFound(String)
    /// `create` of a key that already names an object: the first object is left as it was.
    case alreadyExists(String)
    /// A ranged read past the end of the object.
    case shortRead(location: String, offset: Int64, count: Int, size: Int64)
    /// The operating system (or the store) refused `operation`; `errno` when it came from one.
    case io(location: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .invalidKey(let k):
            return "\"\(k)\" is not a data file key (a path relative to the lake root without empty, \".\" or \"..\" components)"
        case .outsideRoot(let p, let root):
            return "\(p): lies outside the lake root \(root); data files must live under --lake"
        case .notFound(let l): return "\(l): no such file"
        case .alreadyExists(let l): return "\(l): already exists; data files are written once under fresh names, so another writer chose the same name"
        case .shortRead(let l, let offset, let count, let size):
            return "\(l): cannot read \(count) bytes at offset \(offset): the file has \(size) bytes"
        case .io(let l, let op, let e): return "\(l): \(op) failed: \(errnoText(e))"
        }
    }

    /// The errno of an OS failure (ENOENT for `notFound`), for callers that classify failures.
    public var errno: Int32? {
        switch self {
        case .notFound: return ENOENT
        case .alreadyExists: return EEXIST
        case .io(_, _, let e): return e
        default: return nil
        }
    }
}

/// An object open for ranged reads. Immutable once open (objects are never changed in place),
/// so several threads may read one at once.
public protocol StorageReader: AnyObject, Sendable {
    /// The object's size when it was opened.
    var size: Int64 { get }
    /// Exactly `count` bytes from `offset`; past the end is `StorageError.shortRead`.
    func read(at offset: Int64, count: Int) throws(StorageError) -> [UInt8]
}

/// A new object being written: bytes are appended in order, then `publish` makes the whole
/// object appear under its key at once (or throws, leaving no object under the key). A writer
/// dropped without `publish` leaves nothing under the key (the storage may leave debris vacuum
/// removes: a local temp file, an object store's incomplete multipart upload).
public protocol StorageWriter: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError)
    /// Publishes the object durably: once this returns, the object survives a crash or power
    /// loss and a catalog commit may reference it. Throws `alreadyExists` when another object
    /// took the key meanwhile (that object is left as it was).
    func publish() throws(StorageError)
}

/// The data files of one lake. See the file comment for why exactly these operations.
public protocol Storage: Sendable {
    /// Where the storage is, for messages ("/data/lake", "s3://bucket/prefix").
    var rootDescription: String { get }
    /// How messages and the catalog name one object (the absolute path, for a local storage).
    func location(of key: StorageKey) -> String
    /// Starts a new object under `key`. The key is claimed at `publish`, which throws
    /// `alreadyExists` if an object has it by then (conditional put): create-once.
    func create(_ key: StorageKey) throws(StorageError) -> any StorageWriter
    /// Opens the object for ranged reads; `notFound` when there is none.
    func open(_ key: StorageKey) throws(StorageError) -> any StorageReader
    /// The object's size and modification time; nil when there is none.
    func info(_ key: StorageKey) throws(StorageError) -> StorageObjectInfo?
    /// Removes the object. Removing a key that names nothing is a no-op, as on every object
    /// store (S3's DeleteObject answers 204 either way): the callers (vacuum after a crash,
    /// cleanup of a failed write) only need "gone afterwards".
    func delete(_ key: StorageKey) throws(StorageError)
    /// Every object whose key starts with `prefix` followed by "/" (all objects for nil), in
    /// key order. Objects deleted while the listing runs may or may not appear.
    func list(prefix: StorageKey?) throws(StorageError) -> [StorageObjectInfo]
    /// After `publish`, a storage may keep the object reachable under a second, private name
    /// until the commit that references it calls `release`, so an object another process
    /// deleted by its key in between (DuckDB's orphan sweep) can be brought back: `restore`
    /// re-creates the key from that name and answers whether it did. A storage without such
    /// names answers false and releases nothing (the defaults).
    func restore(_ key: StorageKey) throws(StorageError) -> Bool
    func release(_ key: StorageKey) throws(StorageError)
    /// When `key` is one of this storage's private names of a write (a temp or hold name), the
    /// key the write is for; nil for an ordinary object. Vacuum uses it to tell a crashed
    /// write's debris, and the hold of a committed file, from a foreign object.
    func pendingWrite(of key: StorageKey) -> StorageKey?
}

extension Storage {
    public func restore(_ key: StorageKey) throws(StorageError) -> Bool { false }
    public func release(_ key: StorageKey) throws(StorageError) {}
    public func pendingWrite(of key: StorageKey) -> StorageKey? { nil }

    public func exists(_ key: StorageKey) throws(StorageError) -> Bool { try info(key) != nil }

    /// Writes `bytes` as the whole new object `key` (create + write + publish + release: no
    /// commit follows to protect it for).
    public func put(_ key: StorageKey, _ bytes: [UInt8]) throws(StorageError) {
        let w = try create(key)
        var failure: StorageError?
        bytes.withUnsafeBytes { raw in
            do throws(StorageError) { try w.write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
        try w.publish()
        try release(key)
    }

    /// The whole object (small objects only: tests and tools; scans use ranged reads).
    public func get(_ key: StorageKey) throws(StorageError) -> [UInt8] {
        let r = try open(key)
        return try r.read(at: 0, count: Int(r.size))
    }
}
