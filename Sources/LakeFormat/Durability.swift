// Making a new file's *name* survive a power loss, not only its bytes. fsync(file) makes the
// contents durable, but the directory entry naming the file is durable only once the directory
// itself is fsynced, and a directory created on the way is named by an entry in its parent. A
// catalog commit that references a file must not outlive (in a power loss) the entry for it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

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
    /// first check are taken as they are. With `syncs`, the parents are fsynced in the
    /// background instead, and `syncs.waitDurable(forFilesIn:)` waits for them: the caller
    /// must call it before anything durable names a file below `path`.
    public static func createDirectories(_ path: String, syncs: DirectorySyncs? = nil) throws {
        var missing: [String] = []
        var p = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        while !p.isEmpty, p != "/", !isDirectory(p) {
            missing.append(p)
            guard let slash = p.lastIndex(of: "/") else { break }
            p = slash == p.startIndex ? "/" : String(p[..<slash])
        }
        for dir in missing.reversed() {
            let parent = parent(of: dir)
            guard let syncs else {
                if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                    throw ParquetError.io(path: dir, operation: "create directory", errno: errno)
                }
                try syncDirectory(parent)
                continue
            }
            // Announced before the mkdir: another thread that finds the new directory and
            // publishes a file below it then waits for this parent's fsync too.
            syncs.entryWillBeAdded(in: parent)
            let failed = mkdir(dir, 0o755) != 0 && errno != EEXIST ? errno : 0
            syncs.entryAdded(in: parent)
            if failed != 0 { throw ParquetError.io(path: dir, operation: "create directory", errno: failed) }
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

/// The fsyncs that make new directories' names durable, run in the background. An ingest
/// creates a file in every new partition directory (`event_date=…/channel=…`) as rows for it first
/// arrive, on the thread that hands rows to the writers; fsyncing each new directory's parent
/// there made that thread wait on the device about 500 times per million orders. Here the
/// creating thread announces the new entry, makes the directory and goes on; the parent is
/// fsynced by one of a few threads of this type's own, and a file is published
/// (`LocalStorage`'s writer) only once every directory above it that this process made is
/// durable, so a catalog commit still never names a file whose path a power loss could lose.
/// Syncs of one directory are coalesced: one fsync covers every entry announced before it
/// started. Plain threads, not Dispatch: publishers waiting here may occupy Dispatch's few
/// workers, and libdispatch traps when it cannot get a descriptor, which an ingest at its
/// open-file limit leaves none of.
public final class DirectorySyncs: @unchecked Sendable {
    /// The process's one set: any writer may publish below a directory another one created.
    public static let shared = DirectorySyncs()

    /// What failed: the operation ("open directory", "fsync directory") and its errno.
    public struct Failure: Sendable, Equatable {
        public var operation: String
        public var errno: Int32
        public init(operation: String, errno: Int32) {
            self.operation = operation
            self.errno = errno
        }
    }

    /// Makes a directory's entries durable; nil, or what failed (tests inject failures).
    public typealias Sync = @Sendable (_ directory: String) -> Failure?

    private struct State {
        /// Entries announced (the generation a sync must reach to cover them all).
        var announced = 0
        /// mkdirs announced and not yet made: a sync started now could miss them.
        var making = 0
        /// Queued or being synced.
        var scheduled = false
        /// Generations covered by a finished fsync.
        var durable = 0
        /// A failed fsync, for good: after one, a later fsync may report success without the
        /// entries the failed one was to cover having reached the device, so nothing below
        /// this directory is published again by this process (a new process starts afresh).
        var failure: Failure?
    }

    private let sync: Sync
    private let condition = NSCondition()
    private var states: [String: State] = [:]
    /// Directories to sync, with the generation each sync covers, oldest first.
    private var queue: [(directory: String, covering: Int)] = []
    private var threads = 0, idle = 0
    private let maxThreads: Int

    public init(threads: Int = 4, sync: @escaping Sync = DirectorySyncs.fsyncDirectory) {
        self.sync = sync
        maxThreads = max(1, threads)
    }

    /// fsync(2) of the directory; a directory removed meanwhile (an abandoned write emptied
    /// it: rmdir takes only empty ones, so nothing waits on it) holds nothing to make durable.
    public static let fsyncDirectory: Sync = { path in
        do {
            try Durability.syncDirectory(path)
            return nil
        } catch let ParquetError.io(_, operation, code) {
            return operation == "open directory" && code == ENOENT ? nil : Failure(operation: operation, errno: code)
        } catch {
            return Failure(operation: "fsync directory", errno: EIO)
        }
    }

    /// A subdirectory is about to be made in `directory` (call `entryAdded` after the mkdir).
    func entryWillBeAdded(in directory: String) {
        condition.lock()
        states[directory, default: State()].announced += 1
        states[directory, default: State()].making += 1
        condition.unlock()
    }

    /// The mkdir announced by `entryWillBeAdded` is done (or failed): schedules the parent's
    /// fsync unless one is scheduled, which schedules the next when it ends.
    func entryAdded(in directory: String) {
        condition.lock()
        defer { condition.unlock() }
        states[directory, default: State()].making -= 1
        scheduleIfDue(directory)
    }

    /// With the lock held.
    private func scheduleIfDue(_ directory: String) {
        guard var s = states[directory], !s.scheduled, s.making == 0, s.failure == nil, s.durable < s.announced else { return }
        s.scheduled = true
        states[directory] = s
        queue.append((directory, s.announced))
        if idle > 0 {
            condition.broadcast()
        } else if threads < maxThreads {
            threads += 1
            let t = Thread { [self] in work() }
            t.name = "lake.directory-syncs"
            t.start()
        }
    }

    private func work() {
        condition.lock()
        defer { condition.unlock() }
        while true {
            guard !queue.isEmpty else {
                idle += 1
                condition.wait()
                idle -= 1
                continue
            }
            let (directory, covering) = queue.removeFirst()
            condition.unlock()
            let failure = sync(directory)
            condition.lock()
            if var s = states[directory] {
                s.scheduled = false
                if let failure {
                    s.failure = failure
                } else {
                    s.durable = max(s.durable, covering)
                }
                states[directory] = s
            }
            scheduleIfDue(directory)
            condition.broadcast()
        }
    }

    /// Waits until the names of the directories above `directory` that this process made are
    /// durable (their parents fsynced), so a file published in `directory` is reachable after
    /// a power loss. The file's own entry in `directory` is its publisher's fsync. Throws the
    /// failure when one of their fsyncs failed: the file must not be committed.
    public func waitDurable(forFilesIn directory: String) throws(StorageError) {
        var ancestors: [String] = []
        var p = directory
        while p != "/" && p.contains("/") {
            p = Durability.parent(of: p)
            ancestors.append(p)
        }
        condition.lock()
        defer { condition.unlock() }
        for a in ancestors {
            // Entries stay (one per directory this process made something in): generations
            // never restart, so a target stays reachable.
            guard let target = states[a]?.announced else { continue }
            while let s = states[a] {
                if let f = s.failure { throw .io(location: a, operation: f.operation, errno: f.errno) }
                if s.durable >= target { break }
                condition.wait()
            }
        }
    }
}
