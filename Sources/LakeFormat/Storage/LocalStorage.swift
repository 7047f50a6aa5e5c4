// A lake's data files in a local (or shared, NFS-style) directory: what every lake used before
// `Storage` existed, with the same durability. A published file's bytes are fsynced before its
// name appears and its directory after, so a catalog commit never outlives (in a power loss)
// the file it references; every descriptor is O_CLOEXEC; reads are pread on one descriptor
// kept open for the reader's life (no copy of the whole file, no shared file offset).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLakeSupport
import Foundation

public struct LocalStorage: Storage {
    /// The lake root: absolute, without a trailing "/".
    public let root: String
    /// Bounds the descriptors of files being written (the process-wide one; tests give their own).
    let budget: OpenFileBudget
    /// Makes new directories' names durable in the background; `publish` waits for them
    /// (the process-wide one; tests give their own).
    let syncs: DirectorySyncs

    public init(root: String) { self.init(root: root, budget: .shared) }

    init(root: String, budget: OpenFileBudget, syncs: DirectorySyncs = .shared) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
        self.budget = budget
        self.syncs = syncs
    }

    public init(root: URL) { self.init(root: root.standardizedFileURL.path) }

    public var rootDescription: String { root }

    public func location(of key: StorageKey) -> String { root == "/" ? "/" + key.path : root + "/" + key.path }

    /// Writes go to a hidden temp file beside the target (`.tmp-<uuid>-<name>.pending`), which
    /// `publish` links to the key (link(2) fails when the name exists, which is create-once)
    /// and then renames to the key's *hold* name (`.<name>.pending`). The hold name stays until
    /// the catalog commit that references the file has settled it (`release`): DuckDB's
    /// `ducklake_delete_orphaned_files` takes every `*.parquet` the catalog does not name for an
    /// orphan, including a file published and not yet committed, and with `cleanup_all` it
    /// does not wait; the hold, a second name of the same inode that sweep never matches, lets
    /// the commit bring such a file back (`restore`). Neither name ends in `.parquet`, so the
    /// sweep cannot take a write in flight either; vacuum's own sweep removes what a crash left.
    ///
    /// Directories are this storage's business, not the protocol's: as an object store's
    /// prefix, a partition directory goes with its last file (`delete`, an abandoned write), so a
    /// failed batch or a vacuum leaves no empty directory behind. Another writer (this process or
    /// another) may remove a directory between our `mkdir` and our `open` in it; creation then
    /// starts over (ENOENT). Once our temp file is in it, no one can remove it.
    public func create(_ key: StorageKey) throws(StorageError) -> any StorageWriter {
        let target = location(of: key)
        let directory = Durability.parent(of: target)
        let temp = directory + "/." + Self.tempPrefix + UUID().uuidString.lowercased() + "-" + key.name + Self.holdSuffix
        var attempt = 0
        while true {
            attempt += 1
            do throws(StorageError) {
                do { try Durability.createDirectories(directory, syncs: syncs) } catch let ParquetError.io(path, op, e) {
                    throw StorageError.io(location: path, operation: op, errno: e)
                } catch {
                    throw StorageError.io(location: directory, operation: "create directory", errno: EIO)
                }
                return try LocalStorageWriter(target: target, temp: temp, hold: directory + "/" + Self.holdName(of: key.name),
                                              budget: budget, syncs: syncs, root: root)
            } catch .io(_, _, ENOENT) where attempt < Self.createAttempts {
                continue
            }
        }
    }

    /// How often `create` starts over when a directory it made vanished before its file was in
    /// it: each time another writer emptied the directory in that instant.
    static let createAttempts = 100

    /// Removes `directory` and then each parent that is empty, up to (not including) the root;
    /// stops at the first that is not (ENOTEMPTY), is gone, or cannot be removed: never an error.
    static func removeEmptyDirectories(from directory: String, root: String) {
        let prefix = root == "/" ? "/" : root + "/"
        var dir = directory
        while dir.hasPrefix(prefix), dir.count > prefix.count {
            if rmdir(dir) != 0 { return }
            dir = Durability.parent(of: dir)
        }
    }

    /// Temp names carry `tmp-<uuid>-` before the file's name (an older build's were
    /// `.tmp-<uuid>-<name>`, still ending in `.parquet`; a crash of one can have left such a file).
    static let tempPrefix = "tmp-"
    static let holdSuffix = ".pending"

    /// The hold name of a file named `name` in the same directory.
    public static func holdName(of name: some StringProtocol) -> String { "." + name + holdSuffix }

    /// The file a hold or temp name (`.<name>.pending`, `.tmp-<uuid>-<name>.pending`) is
    /// written for, or nil when `name` is neither.
    public static func heldName(ofFile name: String) -> String? {
        guard name.hasPrefix("."), name.hasSuffix(holdSuffix), name.count > 1 + holdSuffix.count else { return nil }
        return withoutTempToken(name.dropFirst().dropLast(holdSuffix.count))
    }

    /// The name a file in a lake directory was written under: its own, or for the hold or
    /// temp name of a write the name it was meant to get.
    public static func intendedName(ofFile name: String) -> String {
        if let held = heldName(ofFile: name) { return held }
        guard name.hasPrefix("." + tempPrefix) else { return name }
        return withoutTempToken(name.dropFirst())
    }

    /// "tmp-<uuid>-<name>" → "<name>"; anything else unchanged.
    private static func withoutTempToken(_ name: Substring) -> String {
        guard name.hasPrefix(tempPrefix) else { return String(name) }
        let rest = name.dropFirst(tempPrefix.count)
        // A lowercased UUID is 36 characters, then "-".
        guard rest.count > 37, rest[rest.index(rest.startIndex, offsetBy: 36)] == "-" else { return String(name) }
        return String(rest.dropFirst(37))
    }

    /// `dir/.<name>.pending` and `dir/.tmp-<uuid>-<name>.pending` are writes of `dir/<name>`.
    public func pendingWrite(of key: StorageKey) -> StorageKey? {
        guard let held = Self.heldName(ofFile: String(key.name)) else { return nil }
        let slash = key.path.lastIndex(of: "/")
        let directory = slash.map { String(key.path[...$0]) } ?? ""
        // "...pending" names "." : no key, so no write of ours (an invalid key is the only error).
        return try? StorageKey(directory + held)
    }

    private func holdPath(of key: StorageKey) -> String {
        Durability.parent(of: location(of: key)) + "/" + Self.holdName(of: key.name)
    }

    /// Links the key back to its hold when another process removed the key's name: true when
    /// it did. Nothing held (released, or never written here) or the key present: false.
    public func restore(_ key: StorageKey) throws(StorageError) -> Bool {
        let target = location(of: key)
        if link(holdPath(of: key), target) != 0 {
            if errno == EEXIST || errno == ENOENT { return false }
            throw .io(location: target, operation: "restore from its hold name", errno: errno)
        }
        let directory = Durability.parent(of: target)
        do { try Durability.syncDirectory(directory) } catch let ParquetError.io(path, op, e) {
            throw .io(location: path, operation: op, errno: e)
        } catch {
            throw .io(location: directory, operation: "fsync directory", errno: EIO)
        }
        return true
    }

    /// Drops the key's hold name (the file keeps its own name); nothing held is a no-op.
    public func release(_ key: StorageKey) throws(StorageError) {
        let hold = holdPath(of: key)
        if unlink(hold) != 0 && errno != ENOENT && errno != ENOTDIR {
            throw .io(location: hold, operation: "remove hold name", errno: errno)
        }
    }

    public func open(_ key: StorageKey) throws(StorageError) -> any StorageReader {
        try LocalStorageReader(location(of: key))
    }

    public func info(_ key: StorageKey) throws(StorageError) -> StorageObjectInfo? {
        let path = location(of: key)
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw .io(location: path, operation: "stat", errno: errno)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return StorageObjectInfo(key: key, size: Int64(st.st_size), modifiedMicros: Self.micros(st.st_mtim))
    }

    /// Removes the file and its hold name, if it still has one (a write abandoned after publish).
    public func delete(_ key: StorageKey) throws(StorageError) {
        let path = location(of: key)
        if unlink(path) != 0 && errno != ENOENT && errno != ENOTDIR {
            throw .io(location: path, operation: "delete", errno: errno)
        }
        try release(key)
        Self.removeEmptyDirectories(from: Durability.parent(of: path), root: root)
    }

    /// Walks the directory tree under the prefix with readdir; a file or directory that
    /// vanishes during the walk (a writer dropping a failed attempt) is skipped, any other
    /// failure is an error. Only regular files are objects (no symlinks followed).
    public func list(prefix: StorageKey?) throws(StorageError) -> [StorageObjectInfo] {
        var out: [StorageObjectInfo] = []
        try walk(relative: prefix?.path, into: &out)
        return out.sorted { $0.key < $1.key }
    }

    private func walk(relative: String?, into out: inout [StorageObjectInfo]) throws(StorageError) {
        let dirPath = relative.map { root == "/" ? "/" + $0 : root + "/" + $0 } ?? root
        guard let dir = opendir(dirPath) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw .io(location: dirPath, operation: "list directory", errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw .io(location: dirPath, operation: "list directory", errno: errno) }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names {
            let rel = relative.map { $0 + "/" + name } ?? name
            let path = dirPath == "/" ? "/" + name : dirPath + "/" + name
            var st = stat()
            if lstat(path, &st) != 0 {
                if errno == ENOENT { continue }
                throw .io(location: path, operation: "stat", errno: errno)
            }
            switch st.st_mode & S_IFMT {
            case S_IFDIR:
                // A subdirectory we may not read holds no file of ours (we write every one we
                // create): `lost+found` when the lake root is a mount point must not stop
                // `lake init` or vacuum. The directory listed itself still has to be readable.
                do { try walk(relative: rel, into: &out) } catch .io(let location, _, EACCES) where location == path { continue }
            case S_IFREG:
                // Names a key cannot hold (none of ours) are not data files of this storage.
                guard let key = try? StorageKey(rel) else { continue }
                out.append(StorageObjectInfo(key: key, size: Int64(st.st_size), modifiedMicros: Self.micros(st.st_mtim)))
            default: continue
            }
        }
    }

    static func micros(_ t: timespec) -> Int64 { Int64(t.tv_sec) * 1_000_000 + Int64(t.tv_nsec) / 1000 }
}

/// A file open for ranged reads: one O_CLOEXEC descriptor for the reader's life, `pread` only.
final class LocalStorageReader: StorageReader, @unchecked Sendable {
    let path: String
    let size: Int64
    private let file: FileDescriptor

    init(_ path: String) throws(StorageError) {
        self.path = path
        do { file = try FileDescriptor(opening: path, flags: O_RDONLY) } catch {
            throw error.errno == ENOENT ? .notFound(path) : .io(location: path, operation: "open", errno: error.errno)
        }
        var st = stat()
        guard fstat(file.raw, &st) == 0 else { throw .io(location: path, operation: "stat", errno: errno) }
        size = Int64(st.st_size)
    }

    func read(at offset: Int64, count: Int) throws(StorageError) -> [UInt8] {
        // Read into an uninitialized buffer (zeroing it first was a memset of every byte a scan
        // reads); only the bytes read count as initialized, and a short read throws.
        var failure: StorageError?
        let out = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            defer { initialized = done }
            while done < count {
                let n = pread(file.raw, buffer.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = .io(location: path, operation: "read", errno: errno)
                    return
                }
                if n == 0 {
                    failure = .shortRead(location: path, offset: offset, count: count, size: offset + Int64(done))
                    return
                }
                done += n
            }
        }
        if let failure { throw failure }
        return out
    }
}

/// Bytes go to the temp file; `publish` fsyncs it, closes it (a failed close can mean lost
/// bytes: an error), links it to the target name (EEXIST: create-once), renames it to the
/// hold name and fsyncs the directory so the new names survive a power loss too, and waits
/// for the background fsyncs that make the new directories above it durable. The hold
/// name stays until the commit releases it (see `LocalStorage.create`).
final class LocalStorageWriter: StorageWriter {
    let target: String
    let temp: String
    let hold: String
    private let file: ParkableFile
    private var published = false
    /// The storage's root: an abandoned file's emptied directories are removed up to it (nil: none).
    private let root: String?
    private let syncs: DirectorySyncs

    init(target: String, temp: String, hold: String, budget: OpenFileBudget = .shared, syncs: DirectorySyncs = .shared,
         root: String? = nil) throws(StorageError) {
        self.target = target
        self.temp = temp
        self.hold = hold
        self.root = root
        self.syncs = syncs
        file = try ParkableFile(creating: temp, budget: budget)
    }

    deinit {
        // Abandoned (an error before publish): no object, and no temp file left to sweep.
        if !published { abandon() }
    }

    private func abandon() {
        file.abandon()
        if let root { LocalStorage.removeEmptyDirectories(from: Durability.parent(of: temp), root: root) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        precondition(!published, "write after publish")
        try file.write(bytes, location: target)
    }

    func publish() throws(StorageError) {
        precondition(!published, "publish twice")
        published = true
        do { try file.syncAndClose(location: target) } catch {
            abandon()
            throw error
        }
        if link(temp, target) != 0 {
            let e = errno
            abandon()
            throw e == EEXIST ? .alreadyExists(target) : .io(location: target, operation: "link", errno: e)
        }
        // Only the writer that took the key gets here, so the hold name is its own.
        if rename(temp, hold) != 0 { throw .io(location: temp, operation: "rename to its hold name", errno: errno) }
        let directory = Durability.parent(of: target)
        do { try Durability.syncDirectory(directory) } catch let ParquetError.io(path, op, e) {
            throw .io(location: path, operation: op, errno: e)
        } catch {
            throw .io(location: directory, operation: "fsync directory", errno: EIO)
        }
        try syncs.waitDurable(forFilesIn: directory)
    }
}

/// A file being written that holds its descriptor only while `OpenFileBudget` lets it. An
/// ingest keeps one file open per partition and table until it commits, so a batch of orders
/// spanning years (thousands of date x channel partitions) needed a descriptor for each at once
/// and failed with EMFILE under an ordinary `ulimit -n` of 1024 (session 15 probe: 4,735
/// partitions needed more than 4,096). Past the budget the least recently written files are
/// parked: fsynced, so a write-back error is reported on the descriptor that wrote the bytes and
/// never lost with it, then closed; the next write, or the publish, opens the file again.
final class ParkableFile: @unchecked Sendable {
    let path: String
    /// Guards `fd`, `parked`, `written` and `failure`: the budget parks a file from another thread.
    fileprivate let lock = NSLock()
    private var fd: Int32 = -1
    private var parked = false
    /// Bytes written so far: where the next write lands (files are only appended to).
    private var written: Int64 = 0
    /// A failed park (its fsync or close): every later write and the publish throw it.
    private var failure: StorageError?
    private let budget: OpenFileBudget

    init(creating path: String, budget: OpenFileBudget) throws(StorageError) {
        self.path = path
        self.budget = budget
        budget.makeRoom(except: nil)
        let opened = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if opened < 0 {
            let e = errno
            budget.cancelRoom()
            throw .io(location: path, operation: "create", errno: e)
        }
        fd = opened
        budget.hold(self)
    }

    func write(_ bytes: UnsafeRawBufferPointer, location: String) throws(StorageError) {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        precondition(fd >= 0 || parked, "write after close")
        if parked { try reopen() } else { budget.touch(self) }
        try writeFully(fd, bytes, location: location)
        // The device starts on these bytes now, while the ingest goes on, instead of all of a
        // batch's files at once in their closing fsyncs, on which the commit waits. A hint: its
        // failure (a write-back error included) is the fsync's to report.
        _ = lake_start_writeback(fd, written, Int64(bytes.count))
        written += Int64(bytes.count)
    }

    /// With the lock held: opens the parked file again, room made first.
    private func reopen() throws(StorageError) {
        budget.makeRoom(except: self)
        let opened = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        if opened < 0 {
            let e = errno
            budget.cancelRoom()
            throw .io(location: path, operation: "open again (it was closed to stay within the open-file budget)", errno: e)
        }
        fd = opened
        parked = false
        budget.hold(self)
    }

    /// Called by the budget with the lock held.
    fileprivate func park() {
        guard fd >= 0 else { return }
        let fault = budget.parkFault
        if fsync(fd) != 0 {
            failure = .io(location: path, operation: "fsync", errno: errno)
        } else if let e = fault?(.fsync, path) {
            failure = .io(location: path, operation: "fsync", errno: e)
        }
        if Glibc.close(fd) != 0 {
            if failure == nil { failure = .io(location: path, operation: "close", errno: errno) }
        } else if failure == nil, let e = fault?(.close, path) {
            failure = .io(location: path, operation: "close", errno: e)
        }
        fd = -1
        parked = true
    }

    /// Makes the bytes durable and closes the file for good (before its publish).
    func syncAndClose(location: String) throws(StorageError) {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        // A parked file's bytes are synced already; the fsync below then costs nothing.
        if parked { try reopen() }
        budget.release(self)
        if fsync(fd) != 0 {
            let e = errno
            _ = Glibc.close(fd)
            fd = -1
            throw .io(location: location, operation: "fsync", errno: e)
        }
        let closed = Glibc.close(fd)
        let closeErrno = errno
        fd = -1
        if closed != 0 { throw .io(location: location, operation: "close", errno: closeErrno) }
    }

    /// Drops the file: closed if open, and its name removed.
    func abandon() {
        lock.lock()
        budget.release(self)
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        parked = false
        lock.unlock()
        unlink(path)
    }
}

/// How many `ParkableFile`s of this process hold a descriptor at once: half the soft open-file
/// limit (`ulimit -n`) less a reserve for the catalog, the source, readers and the directories
/// a publish fsyncs. Past it, `makeRoom` parks the least recently written files, an eighth of
/// the budget at a time (one sort of the holders serves many new files); a file busy in a write
/// of its own is skipped, never waited for, so two threads making room never wait on each other.
final class OpenFileBudget: @unchecked Sendable {
    static let shared = OpenFileBudget(limit: defaultLimit())

    static func defaultLimit() -> Int {
        var r = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) == 0 else { return 96 }
        // RLIM_INFINITY is the largest value: capped like any large limit.
        let soft = Int(min(r.rlim_cur, rlim_t(1 << 20)))
        return max(8, (soft - 64) / 2)
    }

    let limit: Int
    private let lock = NSLock()
    /// Files holding a descriptor, with the tick of their last write.
    private var holding: [ObjectIdentifier: (file: ParkableFile, tick: UInt64)] = [:]
    /// Descriptors being opened (`makeRoom` without `hold` or `cancelRoom` yet).
    private var opening = 0
    private var tick: UInt64 = 0
    /// Files parked so far, and the most descriptors held at once (tests).
    private(set) var parked = 0
    private(set) var peak = 0

    /// A park's fsync and close succeeding on every file system tests run on, tests make them
    /// fail through this: the errno a step on a path fails with after it ran, or nil. Nil in
    /// the shared budget, so a real park pays one nil check.
    enum ParkStep: Sendable { case fsync, close }
    let parkFault: (@Sendable (ParkStep, String) -> Int32?)?

    init(limit: Int, parkFault: (@Sendable (ParkStep, String) -> Int32?)? = nil) {
        self.limit = limit
        self.parkFault = parkFault
    }

    /// Room for one more descriptor: while the budget is full, parks the least recently
    /// written files (never `own`).
    func makeRoom(except own: ParkableFile?) {
        var victims: [ParkableFile] = []
        lock.lock()
        opening += 1
        if holding.count + opening > limit {
            let keep = limit - max(1, limit / 8)
            var excess = holding.count + opening - keep
            let skip = own.map(ObjectIdentifier.init)
            for (key, entry) in holding.sorted(by: { $0.value.tick < $1.value.tick }) where excess > 0 && key != skip {
                // Busy in a write or publish of its own: skipped (a later call parks it).
                guard entry.file.lock.try() else { continue }
                holding[key] = nil
                victims.append(entry.file)
                excess -= 1
            }
            parked += victims.count
        }
        lock.unlock()
        // Parked outside the budget's lock: each fsync waits on the device.
        for f in victims {
            f.park()
            f.lock.unlock()
        }
    }

    /// A `makeRoom` whose open failed.
    func cancelRoom() {
        lock.lock()
        opening -= 1
        lock.unlock()
    }

    /// `file` holds the descriptor it made room for.
    func hold(_ file: ParkableFile) {
        lock.lock()
        opening -= 1
        tick += 1
        holding[ObjectIdentifier(file)] = (file, tick)
        peak = max(peak, holding.count)
        lock.unlock()
    }

    /// `file` wrote: it becomes the most recently used.
    func touch(_ file: ParkableFile) {
        lock.lock()
        tick += 1
        holding[ObjectIdentifier(file)]?.tick = tick
        lock.unlock()
    }

    /// `file` gives up its descriptor for good (synced and closed, or abandoned).
    func release(_ file: ParkableFile) {
        lock.lock()
        holding[ObjectIdentifier(file)] = nil
        lock.unlock()
    }

    /// Files holding a descriptor now.
    var holdingCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return holding.count
    }
}

/// Writes every byte to `fd`, through short writes and EINTR; an error names `location`.
func writeFully(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, location: String) throws(StorageError) {
    var written = 0
    while written < bytes.count {
        let n = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
        if n < 0 {
            if errno == EINTR { continue }
            throw .io(location: location, operation: "write", errno: errno)
        }
        written += n
    }
}
